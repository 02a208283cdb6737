/**
 * What the user has chosen (view, pane, cursors, sort, filter, marked runs) and the pure function
 * from a key press to the next choice. Cursors are held by name (a sweep's, a run's id), not by
 * row number, so rows that move or appear never move the cursor to another run. The list of keys
 * (KEY_HELP) sits beside the function that implements them, so the help overlay cannot drift.
 */
import { nextSortKey, type Sort } from './run_table.js';

/** The panes of the main view, in tab order. */
export type Pane = 'sweeps' | 'runs' | 'agents';
/** What fills the screen: the panes, one run in detail, or marked runs compared. */
export type View = 'main' | 'detail' | 'compare';

/** The user's choices. */
export interface UiState {
  readonly view: View;
  readonly help: boolean;
  readonly pane: Pane;
  /** The selected sweep's name; null: the default (see KeyContext.sweep). */
  readonly sweep: string | null;
  /** The run at the cursor (an id); null: the first row. */
  readonly run: string | null;
  readonly agent: number;
  readonly sort: Sort;
  readonly filter: string;
  /** While `/` is being typed: the filter before it (esc restores it). */
  readonly editing: { readonly before: string } | null;
  readonly marked: ReadonlySet<string>;
  /** The run the detail view shows. */
  readonly detailRun: string | null;
  /** Lines the detail view is scrolled down. */
  readonly scroll: number;
  /** The metric the compare view overlays; null: the sweep's. */
  readonly compareMetric: string | null;
}

/** Where a dashboard starts: the runs pane, sorted by the sweep's order, nothing filtered or marked. */
export const INITIAL_UI: UiState = {
  view: 'main',
  help: false,
  pane: 'runs',
  sweep: null,
  run: null,
  agent: 0,
  sort: { key: 'run', reverse: false },
  filter: '',
  editing: null,
  marked: new Set(),
  detailRun: null,
  scroll: 0,
  compareMetric: null,
};

/** A key press, as Ink reports it, without depending on Ink. */
export interface KeyPress {
  readonly input: string;
  readonly up?: boolean;
  readonly down?: boolean;
  readonly left?: boolean;
  readonly right?: boolean;
  readonly pageUp?: boolean;
  readonly pageDown?: boolean;
  readonly enter?: boolean;
  readonly escape?: boolean;
  readonly tab?: boolean;
  readonly shift?: boolean;
  readonly backspace?: boolean;
  readonly ctrl?: boolean;
}

/** What the keys act on, as currently shown. */
export interface KeyContext {
  readonly sweeps: readonly string[];
  /** The sweep shown (the selected one, else the default). */
  readonly sweep: string | null;
  /** Run ids in the table's order, after the filter. */
  readonly runs: readonly string[];
  readonly agents: readonly string[];
  /** Parameter paths that vary (the sort cycle's columns). */
  readonly varying: readonly string[];
  /** Metrics the compare view can overlay. */
  readonly compareMetrics: readonly string[];
}

/** Every key, for the help overlay: [keys, what they do]. */
export const KEY_HELP: readonly (readonly [string, string])[] = [
  ['↑ ↓  j k', 'move in the pane; scroll the detail view'],
  ['PgUp PgDn', 'move ten rows'],
  ['tab  shift-tab', 'next / previous pane: sweeps, runs, agents'],
  ['enter', 'open: a sweep its runs, a run its detail, an agent its runs'],
  ['esc', 'back: close detail, compare or help; clear the filter'],
  ['/', 'filter runs: text or key=value (lr=0.1 state=running)'],
  ['s', 'sort runs by the next column'],
  ['S', 'reverse the sort'],
  ['space', 'mark / unmark the run at the cursor'],
  ['c', 'compare the marked runs (or the cursor\'s): one metric'],
  ['← →  h l', 'compare: previous / next metric'],
  ['?', 'this help'],
  ['q', 'quit'],
];

const PANES: readonly Pane[] = ['sweeps', 'runs', 'agents'];

function moved<T>(list: readonly T[], current: T | null, by: number): T | null {
  if (list.length === 0) return current;
  const i = current === null ? -1 : list.indexOf(current);
  const from = i < 0 ? (by > 0 ? -1 : 0) : i;
  return list[Math.max(0, Math.min(list.length - 1, from + by))]!;
}

/** The run at the cursor: the chosen one while it is shown, else the first row. */
export function cursorRun(ui: UiState, runs: readonly string[]): string | null {
  return ui.run !== null && runs.includes(ui.run) ? ui.run : (runs[0] ?? null);
}

function editFilter(ui: UiState, k: KeyPress): UiState {
  if (k.escape) return { ...ui, filter: ui.editing!.before, editing: null };
  if (k.enter) return { ...ui, editing: null };
  if (k.backspace) return { ...ui, filter: ui.filter.slice(0, -1) };
  if (k.ctrl || k.tab || k.up || k.down || k.left || k.right) return ui;
  // The table filters as the user types.
  return k.input ? { ...ui, filter: ui.filter + k.input } : ui;
}

function step(k: KeyPress): number {
  if (k.up || k.input === 'k') return -1;
  if (k.down || k.input === 'j') return 1;
  if (k.pageUp) return -10;
  if (k.pageDown) return 10;
  return 0;
}

function onMain(ui: UiState, k: KeyPress, ctx: KeyContext): UiState {
  const cursor = cursorRun(ui, ctx.runs);
  const by = step(k);
  if (by !== 0) {
    if (ui.pane === 'sweeps') return { ...ui, sweep: moved(ctx.sweeps, ctx.sweep, Math.sign(by)), run: null };
    if (ui.pane === 'agents') return { ...ui, agent: Math.max(0, Math.min(ctx.agents.length - 1, ui.agent + Math.sign(by))) };
    return { ...ui, run: moved(ctx.runs, cursor, by) };
  }
  if (k.tab) {
    const i = PANES.indexOf(ui.pane);
    return { ...ui, pane: PANES[(i + (k.shift ? PANES.length - 1 : 1)) % PANES.length]! };
  }
  if (k.enter) {
    if (ui.pane === 'sweeps') return { ...ui, pane: 'runs' };
    if (ui.pane === 'agents') {
      const agent = ctx.agents[ui.agent];
      return agent ? { ...ui, pane: 'runs', filter: `agent=${agent}`, run: null } : ui;
    }
    return cursor ? { ...ui, view: 'detail', detailRun: cursor, scroll: 0 } : ui;
  }
  if (k.escape) return ui.filter ? { ...ui, filter: '' } : ui;
  switch (k.input) {
    case '/':
      return { ...ui, pane: 'runs', editing: { before: ui.filter } };
    case 's':
      return { ...ui, sort: { ...ui.sort, key: nextSortKey(ui.sort.key, ctx.varying) } };
    case 'S':
      return { ...ui, sort: { ...ui.sort, reverse: !ui.sort.reverse } };
    case ' ': {
      if (!cursor) return ui;
      const marked = new Set(ui.marked);
      if (!marked.delete(cursor)) marked.add(cursor);
      return { ...ui, marked };
    }
    case 'c':
      return ui.marked.size > 0 || cursor ? { ...ui, view: 'compare' } : ui;
  }
  return ui;
}

function onCompare(ui: UiState, k: KeyPress, ctx: KeyContext): UiState {
  const by = k.left || k.input === 'h' ? -1 : k.right || k.input === 'l' ? 1 : 0;
  if (by === 0 || ctx.compareMetrics.length === 0) return ui;
  const i = ui.compareMetric === null ? 0 : Math.max(0, ctx.compareMetrics.indexOf(ui.compareMetric));
  const n = ctx.compareMetrics.length;
  return { ...ui, compareMetric: ctx.compareMetrics[(i + by + n) % n]! };
}

/** The state after key `k`, or 'quit'. */
export function onKey(ui: UiState, k: KeyPress, ctx: KeyContext): UiState | 'quit' {
  if (ui.editing) return editFilter(ui, k);
  if (k.input === 'q' && !k.ctrl) return 'quit';
  if (ui.help) return k.escape || k.input === '?' ? { ...ui, help: false } : ui;
  if (k.input === '?') return { ...ui, help: true };
  if (ui.view !== 'main' && k.escape) return { ...ui, view: 'main' };
  if (ui.view === 'detail') {
    const by = step(k);
    return by ? { ...ui, scroll: Math.max(0, ui.scroll + by) } : ui;
  }
  if (ui.view === 'compare') return onCompare(ui, k, ctx);
  return onMain(ui, k, ctx);
}

/** The sweep shown: the chosen one while it exists, else the newest unfinished one, else the newest. */
export function shownSweep(ui: UiState, sweeps: readonly { readonly name: string; readonly done: boolean }[]): string | null {
  if (ui.sweep !== null && sweeps.some((s) => s.name === ui.sweep)) return ui.sweep;
  const active = sweeps.filter((s) => !s.done);
  return (active.at(-1) ?? sweeps.at(-1))?.name ?? null;
}
