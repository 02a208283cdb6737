import fs from 'node:fs';
import path from 'node:path';
import { UsageError } from '../errors.js';
import { bestOf, defaultGoal, isObject, isRunFolder, localLiveness, readRun, type Goal, type Liveness, type RunRecord } from './read_run.js';
import { UNRANKED_METRICS } from '../metric_goal.js';
import { checkWhereKeys, matchesAll, parseWhere } from './filter.js';
import { groupRows } from './group.js';

export type Cell = string | number | boolean | null;
export type Row = Record<string, Cell>;

export interface ScanError {
  /** The folder, relative to the scanned dir. */
  readonly path: string;
  readonly message: string;
}

/**
 * Rows are runs (or groups). Columns, in order: `run`, `status`, `steps`, the flattened config
 * values (`optimizer.kwargs.lr`), then for each metric M `final.M` and `best.M`, then `why` when
 * a run was stopped early. Grouped: the group keys, `count`, then for each metric column C
 * `C.mean`, `C.std`, `C.count`, `C.min`, `C.max`, `C.ci95_low`, `C.ci95_high` (see groupRows).
 */
export interface ScanTable {
  readonly columns: string[];
  /**
   * The columns a terminal table shows: `columns`, except that a grouped table without `all`
   * shows only mean, std and count of each metric column.
   */
  readonly textColumns: string[];
  readonly rows: Row[];
  readonly errors: ScanError[];
  readonly warnings: string[];
  /** The runs behind the rows, in row order (before grouping), for callers that want more than the table. */
  readonly runs: RunRecord[];
}

export interface ScanOptions {
  /** Show only this metric, and sort by its best value. */
  readonly metric?: string;
  /** Direction for `metric`; default: defaultGoal(metric). */
  readonly goal?: Goal;
  /** Every config value, not only those that differ across runs. */
  readonly all?: boolean;
  /** Config keys (dotted) or `status`: one row per group, with count and statistics of each metric column. */
  readonly groupBy?: readonly string[];
  /**
   * Conditions every run must meet (`status=completed`, `optimizer.kwargs.lr<0.1`; see
   * parseWhere and matches), applied before grouping and `top`. A key may be any column (also
   * `final.M` or `best.M` of a metric not shown) or any config key; one in no run is a UsageError.
   */
  readonly where?: readonly string[];
  /** Keep the `top` best rows (groups, when grouped) by `metric`, which it needs; rows without a value of it are not kept. */
  readonly top?: number;
  readonly liveness?: Liveness;
}

/** Logged every step but not worth a column unless asked for with `metric`. */
const BOOKKEEPING_METRICS = UNRANKED_METRICS;
/** Shown first, in this order; the other metrics follow alphabetically. */
const LEADING_METRICS = ['loss', 'acc', 'val_loss', 'val_acc'];

export const finalColumn = (metric: string): string => `final.${metric}`;
export const bestColumn = (metric: string): string => `best.${metric}`;

const natural = new Intl.Collator('en', { numeric: true });

/** Reads every run folder under `dir` into one table; unreadable folders become `errors`, never exceptions. */
export function scanRuns(dir: string, options: ScanOptions = {}): ScanTable {
  if (options.goal !== undefined && options.goal !== 'min' && options.goal !== 'max') {
    throw new UsageError(`goal must be min or max (got "${String(options.goal)}")`);
  }
  if (options.top !== undefined) {
    if (!Number.isInteger(options.top) || options.top < 1) throw new UsageError(`--top must be a positive integer (got ${String(options.top)})`);
    if (options.metric === undefined) throw new UsageError('--top needs --metric (the metric whose best value ranks the runs)');
  }
  const where = (options.where ?? []).map(parseWhere);
  if (!isDirectory(dir)) {
    throw new UsageError(fs.existsSync(dir) ? `runs dir is not a directory: ${dir}` : `runs dir not found: ${dir}`);
  }
  const errors: ScanError[] = [];
  const warnings: string[] = [];
  const label = (folder: string) => path.relative(dir, folder).split(path.sep).join('/') || path.basename(path.resolve(folder));

  const allRuns: RunRecord[] = [];
  for (const folder of findRunFolders(dir, label, errors)) {
    const read = readRun(folder, options.liveness ?? localLiveness);
    if (read.kind === 'error') errors.push({ path: label(folder), message: read.message });
    else {
      allRuns.push({ ...read, path: label(folder) });
      warnings.push(...read.warnings);
    }
  }

  const allConfigs = allRuns.map((run) => flattenConfig(run.config));
  const configKeys = unionKeys(allConfigs);
  if (options.groupBy && options.groupBy.length > 0) {
    const known = new Set(['status', ...configKeys]);
    for (const key of options.groupBy) {
      if (!known.has(key)) {
        throw new UsageError(`unknown group-by key "${key}"; use status or a config key: ${configKeys.join(', ') || '(no runs)'}`);
      }
    }
  }

  const probeMetrics = new Set(allRuns.flatMap((run) => [...run.probeMetrics]));
  const goalOf = (m: string): Goal => (m === options.metric && options.goal) || defaultGoal(m);
  // A probe metric has a best only for a goal the user gives; its column would be empty otherwise.
  const ranked = (m: string) => !probeMetrics.has(m) || (m === options.metric && options.goal !== undefined);
  // A row carries every config key, so that grouping and filtering can use keys the table does not show.
  const rowOf = (run: RunRecord, config: Row, metrics: Iterable<string>): Row => {
    const row: Row = { run: run.path, status: run.status, steps: run.steps, ...config, why: run.status === 'early_stopped' ? run.reason : null };
    for (const m of metrics) {
      row[finalColumn(m)] = run.final[m] ?? null;
      if (ranked(m)) row[bestColumn(m)] = bestOf(run, m, goalOf(m)) ?? null;
    }
    return row;
  };

  // Filtering first, so that the columns shown (config values that differ, metrics) are those of the runs kept.
  let keep = allRuns.map((_, i) => i);
  if (where.length > 0 && allRuns.length > 0) {
    // Every metric a run logged, shown or not (`--metric val_acc --where final.val_loss<1`).
    const filterRows = allRuns.map((run, i) => rowOf(run, allConfigs[i]!, new Set([...Object.keys(run.final), ...Object.keys(run.best)])));
    checkWhereKeys(where, new Set(filterRows.flatMap((row) => Object.keys(row))));
    keep = keep.filter((i) => matchesAll(filterRows[i]!, where));
  }
  const runs = keep.map((i) => allRuns[i]!);
  const configs = keep.map((i) => allConfigs[i]!);

  const shownKeys = shownConfigKeys(configs, options.all);
  // Per-layer probe numbers (q_l1 ... q_l40) would bury the table: shown with --all or --metric.
  const perLayer = (m: string) => probeMetrics.has(m) && /_l\d+$/.test(m);
  const metrics = options.metric !== undefined ? [options.metric] : metricNames(runs).filter((m) => options.all || !perLayer(m));
  if (options.metric !== undefined && allRuns.length > 0 && !allRuns.some((run) => options.metric! in run.final || options.metric! in run.best)) {
    const present = metricNames(allRuns);
    warnings.push(`no run has metric "${options.metric}" (present: ${present.length > 0 ? present.join(', ') : 'none'})`);
  }
  const metricColumns = metrics.flatMap((m) => (ranked(m) ? [finalColumn(m), bestColumn(m)] : [finalColumn(m)]));

  const full: Row[] = runs.map((run, i) => rowOf(run, configs[i]!, metrics));
  // The column that ranks runs: best.M, or final.M for a probe metric without a goal.
  const rankKey = options.metric === undefined ? undefined : ranked(options.metric) ? bestColumn(options.metric) : finalColumn(options.metric);
  const order = full.map((_, i) => i).sort((a, b) => natural.compare(runs[a]!.path, runs[b]!.path));
  if (rankKey !== undefined) order.sort((a, b) => compareByGoal(full[a]![rankKey], full[b]![rankKey], goalOf(options.metric!)));
  const sortedRuns = order.map((i) => runs[i]!);
  const sortedRows = order.map((i) => full[i]!);

  // A run (or group) without a finite value of the metric, a diverged run's NaN or Infinity included, is not among the best.
  const top = <T>(items: T[], value: (item: T) => Cell | undefined): T[] =>
    options.top === undefined ? items : items.filter((item) => { const v = value(item); return typeof v === 'number' && Number.isFinite(v); }).slice(0, options.top);

  if (options.groupBy && options.groupBy.length > 0) {
    const grouped = groupRows(sortedRows, options.groupBy, metricColumns);
    let groups = grouped.rows.map((row, i) => ({ row, members: grouped.members[i]! }));
    if (rankKey !== undefined) {
      const key = `${rankKey}.mean`;
      groups.sort((a, b) => compareByGoal(a.row[key], b.row[key], goalOf(options.metric!)));
      groups = top(groups, (g) => g.row[key]);
    }
    const kept = new Set(groups.flatMap((g) => g.members));
    return {
      columns: grouped.columns,
      textColumns: options.all ? grouped.columns : grouped.briefColumns,
      rows: groups.map((g) => g.row),
      errors,
      warnings,
      runs: sortedRuns.filter((_, i) => kept.has(sortedRows[i]!)),
    };
  }

  // Why a sweep's early termination stopped a run (rule, band, value, cut): only when one was.
  const why = runs.some((run) => run.status === 'early_stopped') ? ['why'] : [];
  const columns = ['run', 'status', 'steps', ...shownKeys, ...metricColumns, ...why];
  const kept = rankKey === undefined ? order.map((_, i) => i) : top(order.map((_, i) => i), (i) => sortedRows[i]![rankKey]);
  const rows = kept.map((i) => Object.fromEntries(columns.map((c) => [c, sortedRows[i]![c] ?? null])));
  return { columns, textColumns: columns, rows, errors, warnings, runs: kept.map((i) => sortedRuns[i]!) };
}

function isNumber(value: Cell | undefined): boolean {
  return typeof value === 'number' && !Number.isNaN(value);
}

/**
 * Run folders under `root`, in natural name order. A run folder is not searched further;
 * node_modules and dot-directories (temp folders of an upload in progress) are skipped. A folder
 * that cannot be listed is added to `errors` (named by `label`) and skipped.
 */
export function findRunFolders(root: string, label: (dir: string) => string, errors: ScanError[]): string[] {
  const found: string[] = [];
  const seen = new Set<string>();
  const visit = (dir: string): void => {
    // Symlinked folders are followed, once each, so a link back up cannot loop.
    let real: string;
    try {
      real = fs.realpathSync(dir);
    } catch {
      return;
    }
    if (seen.has(real)) return;
    seen.add(real);
    if (isRunFolder(dir)) {
      found.push(dir);
      return;
    }
    let entries: fs.Dirent[];
    try {
      entries = fs.readdirSync(dir, { withFileTypes: true });
    } catch (err) {
      errors.push({ path: label(dir), message: `cannot list folder: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}` });
      return;
    }
    entries.sort((a, b) => natural.compare(a.name, b.name));
    for (const entry of entries) {
      if (entry.name.startsWith('.') || entry.name === 'node_modules') continue;
      const child = path.join(dir, entry.name);
      if (entry.isDirectory() || (entry.isSymbolicLink() && isDirectory(child))) visit(child);
    }
  };
  visit(root);
  return found;
}

/** `{optimizer: {kwargs: {lr: 0.1}}}` -> `{"optimizer.kwargs.lr": 0.1}`; arrays (and empty objects) as JSON. */
export function flattenConfig(value: Record<string, unknown>, prefix = '', out: Row = {}): Row {
  for (const [key, v] of Object.entries(value)) {
    const dotted = prefix ? `${prefix}.${key}` : key;
    if (isObject(v) && Object.keys(v).length > 0) flattenConfig(v, dotted, out);
    else out[dotted] = toCell(v);
  }
  return out;
}

function toCell(value: unknown): Cell {
  if (value === null || value === undefined) return null;
  if (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean') return value;
  return JSON.stringify(value);
}

/**
 * The config keys a table shows, in order of first appearance: with `all` every one, else those
 * whose value differs across the runs, except `name` (the row names its run already).
 */
export function shownConfigKeys(configs: readonly Row[], all = false): string[] {
  const keys = unionKeys(configs);
  return all ? keys : keys.filter((key) => key !== 'name' && differs(configs, key));
}

/** Keys in order of first appearance (the order config.json was written in). */
function unionKeys(rows: readonly Row[]): string[] {
  const keys = new Set<string>();
  for (const row of rows) for (const key of Object.keys(row)) keys.add(key);
  return [...keys];
}

function differs(rows: readonly Row[], key: string): boolean {
  const values = new Set(rows.map((row) => (key in row ? JSON.stringify(row[key]) : 'absent')));
  return values.size > 1;
}

function metricNames(runs: readonly RunRecord[]): string[] {
  const names = new Set<string>();
  for (const run of runs) for (const m of [...Object.keys(run.final), ...Object.keys(run.best)]) names.add(m);
  const rest = [...names].filter((m) => !BOOKKEEPING_METRICS.has(m) && !LEADING_METRICS.includes(m)).sort(natural.compare);
  return [...LEADING_METRICS.filter((m) => names.has(m)), ...rest];
}

/** Best first; missing values, NaN and ±Infinity (a diverged run's, never a best) last, whatever the goal. */
function compareByGoal(a: Cell | undefined, b: Cell | undefined, goal: Goal): number {
  const x = typeof a === 'number' && Number.isFinite(a) ? a : undefined;
  const y = typeof b === 'number' && Number.isFinite(b) ? b : undefined;
  if (x === undefined || y === undefined) return x === undefined ? (y === undefined ? 0 : 1) : -1;
  if (x === y) return 0;
  return goal === 'min' ? (x < y ? -1 : 1) : x > y ? -1 : 1;
}

function isDirectory(p: string): boolean {
  try {
    return fs.statSync(p).isDirectory();
  } catch {
    return false;
  }
}
