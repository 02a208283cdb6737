/**
 * Sorting and filtering the runs table. Sorting is stable and ties fall back to the sweep's own
 * order, so a finished run (whose values no longer change) keeps its place: only running rows
 * move, and nothing flickers. A filter is words that must all match: `key=value` compares one
 * field (a parameter by its full dotted path or its last part, `state`, `agent`, `run`), and any
 * other word is a substring of the run's name, state, agent or one of its `key=value` pairs.
 */
import type { RunView } from './runs.js';

/** A column to sort by: `run` (the sweep's order), a parameter (`param:<path>`), or a value column. */
export type SortKey = 'run' | 'state' | 'step' | 'latest' | 'best' | 'time' | 'agent' | `param:${string}`;

/** How the runs table is sorted. */
export interface Sort {
  readonly key: SortKey;
  readonly reverse: boolean;
}

/** The columns `s` cycles through, in the table's order. */
export function sortKeys(varying: readonly string[]): SortKey[] {
  return ['run', 'state', ...varying.map((k): SortKey => `param:${k}`), 'step', 'latest', 'best', 'time', 'agent'];
}

/** The key after `key` in the cycle (back to `run` after the last, or when `key` is gone). */
export function nextSortKey(key: SortKey, varying: readonly string[]): SortKey {
  const keys = sortKeys(varying);
  return keys[(keys.indexOf(key) + 1) % keys.length]!;
}

/** Live runs first, then how runs ended, best to worst. */
const STATE_RANK: Readonly<Record<string, number>> = { running: 0, leased: 1, queued: 2, completed: 3, diverged: 4, failed: 5, cancelled: 6, early_stopped: 7 };

type Cell = number | string | null;

function cell(row: RunView, key: SortKey, maximize: boolean): Cell {
  switch (key) {
    case 'run':
      return row.index;
    case 'state':
      return STATE_RANK[row.state] ?? 9;
    case 'step':
      return row.step;
    // The better value first: a maximised metric sorts descending.
    case 'latest':
      return row.latest === null || Number.isNaN(row.latest) ? null : maximize ? -row.latest : row.latest;
    case 'best':
      return row.best === null || Number.isNaN(row.best) ? null : maximize ? -row.best : row.best;
    case 'time':
      return row.durationMs;
    case 'agent':
      return row.agent || null;
    default: {
      const v = row.params[key.slice('param:'.length)];
      if (v === undefined) return null;
      const n = Number(v);
      return v.trim() !== '' && Number.isFinite(n) ? n : v;
    }
  }
}

function compareCells(a: Cell, b: Cell): number {
  if (typeof a === 'number' && typeof b === 'number') return a - b;
  return String(a).localeCompare(String(b), undefined, { numeric: true });
}

/** The rows sorted by `sort`; empty cells last either way, ties in the sweep's order. */
export function sortRows(rows: readonly RunView[], sort: Sort, maximize: boolean): RunView[] {
  const keyed = rows.map((row) => ({ row, c: cell(row, sort.key, maximize) }));
  keyed.sort((x, y) => {
    if (x.c === null || y.c === null) return x.c === y.c ? x.row.index - y.row.index : x.c === null ? 1 : -1;
    const d = compareCells(x.c, y.c);
    return (sort.reverse ? -d : d) || x.row.index - y.row.index;
  });
  return keyed.map((k) => k.row);
}

function valueMatches(shown: string, wanted: string): boolean {
  if (shown === wanted) return true;
  const a = Number(shown);
  const b = Number(wanted);
  return shown.trim() !== '' && wanted.trim() !== '' && Number.isFinite(a) && a === b;
}

function wordMatches(row: RunView, word: string): boolean {
  const eq = word.indexOf('=');
  if (eq > 0) {
    const key = word.slice(0, eq);
    const wanted = word.slice(eq + 1);
    if (key === 'state') return row.state === wanted;
    if (key === 'agent') return row.agent === wanted;
    if (key === 'run' || key === 'name') return row.name === wanted;
    return Object.entries(row.params).some(([k, v]) => (k === key || k.endsWith(`.${key}`)) && valueMatches(v, wanted));
  }
  const w = word.toLowerCase();
  const fields = [row.name, row.state, row.agent, ...Object.entries(row.params).map(([k, v]) => `${k}=${v}`)];
  return fields.some((f) => f.toLowerCase().includes(w));
}

/** The rows every word of `filter` matches (all of them for an empty filter). */
export function filterRows(rows: readonly RunView[], filter: string): RunView[] {
  const words = filter.trim().split(/\s+/).filter(Boolean);
  return words.length === 0 ? [...rows] : rows.filter((r) => words.every((w) => wordMatches(r, w)));
}
