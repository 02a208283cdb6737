import type { Cell, Row } from './scan.js';
import { tQuantile975 } from './student_t.js';

/**
 * The statistics of each metric column in a grouped table, in column order: `COLUMN.mean`,
 * `COLUMN.std`, ... The names are stable (scripts and notebooks read them); `mean` and `std`
 * were the only two before and keep their names and places.
 */
export const GROUP_STATS = ['mean', 'std', 'count', 'min', 'max', 'ci95_low', 'ci95_high'] as const;
export type GroupStat = (typeof GROUP_STATS)[number];

/** The statistics a terminal table shows unless asked for all of them. */
export const BRIEF_GROUP_STATS: readonly GroupStat[] = ['mean', 'std', 'count'];

export const statColumn = (column: string, stat: GroupStat): string => `${column}.${stat}`;

export interface GroupedTable {
  /** The keys, `count`, then every statistic of each metric column. */
  readonly columns: string[];
  /** The keys, `count`, then mean, std and count of each metric column: what fits a terminal. */
  readonly briefColumns: string[];
  readonly rows: Row[];
  /** The rows that went into each group, in the order of `rows`. */
  readonly members: Row[][];
}

const natural = new Intl.Collator('en', { numeric: true });

/**
 * One row per distinct value of `keys`, ordered by those values: `count` (members), and for each
 * metric column C the statistics of its finite values (NaN and ±Infinity, as left by a diverged
 * run, are left out; `C.count` says how many values remained):
 * - `C.mean`, `C.min`, `C.max`: null without a value;
 * - `C.std`: the sample standard deviation (divisor n − 1), null for fewer than two values;
 * - `C.ci95_low`, `C.ci95_high`: the 95% confidence interval of the mean, mean ∓ t_{0.975, n−1}·std/√n
 *   (Student t, values taken as independent draws), null where std is.
 */
export function groupRows(rows: readonly Row[], keys: readonly string[], metricColumns: readonly string[]): GroupedTable {
  const groups = new Map<string, Row[]>();
  for (const row of rows) {
    const id = JSON.stringify(keys.map((k) => row[k] ?? null));
    const members = groups.get(id);
    if (members) members.push(row);
    else groups.set(id, [row]);
  }
  const statColumns = (stats: readonly GroupStat[]) => metricColumns.flatMap((c) => stats.map((s) => statColumn(c, s)));
  const out: { row: Row; members: Row[] }[] = [];
  for (const members of groups.values()) {
    const row: Row = {};
    for (const k of keys) row[k] = members[0]![k] ?? null;
    row.count = members.length;
    for (const c of metricColumns) {
      const values = members.map((m) => m[c]).filter((v): v is number => typeof v === 'number' && Number.isFinite(v));
      const stats = summarize(values);
      for (const s of GROUP_STATS) row[statColumn(c, s)] = stats[s];
    }
    out.push({ row, members });
  }
  out.sort((a, b) => {
    for (const k of keys) {
      const c = compareCells(a.row[k] ?? null, b.row[k] ?? null);
      if (c !== 0) return c;
    }
    return 0;
  });
  return {
    columns: [...keys, 'count', ...statColumns(GROUP_STATS)],
    briefColumns: [...keys, 'count', ...statColumns(BRIEF_GROUP_STATS)],
    rows: out.map((g) => g.row),
    members: out.map((g) => g.members),
  };
}

/** The statistics of finite `values`, as documented at groupRows. */
export function summarize(values: readonly number[]): Record<GroupStat, number | null> {
  const n = values.length;
  if (n === 0) return { mean: null, std: null, count: 0, min: null, max: null, ci95_low: null, ci95_high: null };
  const mean = values.reduce((s, v) => s + v, 0) / n;
  const std = n > 1 ? Math.sqrt(values.reduce((s, v) => s + (v - mean) ** 2, 0) / (n - 1)) : null;
  const half = std === null ? null : (tQuantile975(n - 1) * std) / Math.sqrt(n);
  return {
    mean,
    std,
    count: n,
    min: values.reduce((a, v) => Math.min(a, v)),
    max: values.reduce((a, v) => Math.max(a, v)),
    ci95_low: half === null ? null : mean - half,
    ci95_high: half === null ? null : mean + half,
  };
}

/** Nulls last, numbers by value, the rest in natural string order. */
function compareCells(a: Cell, b: Cell): number {
  if (a === null || b === null) return a === null ? (b === null ? 0 : 1) : -1;
  if (typeof a === 'number' && typeof b === 'number') return a - b;
  return natural.compare(String(a), String(b));
}
