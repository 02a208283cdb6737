import fs from 'node:fs';
import path from 'node:path';
import { UsageError } from '../errors.js';
import { bestOf, defaultGoal, isObject, isRunFolder, localLiveness, readRun, type Goal, type Liveness, type RunRecord } from './read_run.js';
import { UNRANKED_METRICS } from '../metric_goal.js';

export type Cell = string | number | boolean | null;
export type Row = Record<string, Cell>;

export interface ScanError {
  /** The folder, relative to the scanned dir. */
  readonly path: string;
  readonly message: string;
}

/**
 * Rows are runs (or groups). Columns, in order: `run`, `status`, `steps`, the flattened config
 * values (`optimizer.kwargs.lr`), then for each metric M `final.M` and `best.M`. Grouped:
 * the group keys, `count`, then `<metric column>.mean` and `<metric column>.std`.
 */
export interface ScanTable {
  readonly columns: string[];
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
  /** Config keys (dotted) or `status`: one row per group, with count, mean and std of each metric column. */
  readonly groupBy?: readonly string[];
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
  if (!isDirectory(dir)) {
    throw new UsageError(fs.existsSync(dir) ? `runs dir is not a directory: ${dir}` : `runs dir not found: ${dir}`);
  }
  const errors: ScanError[] = [];
  const warnings: string[] = [];
  const label = (folder: string) => path.relative(dir, folder).split(path.sep).join('/') || path.basename(path.resolve(folder));

  const runs: RunRecord[] = [];
  for (const folder of findRunFolders(dir, label, errors)) {
    const read = readRun(folder, options.liveness ?? localLiveness);
    if (read.kind === 'error') errors.push({ path: label(folder), message: read.message });
    else {
      runs.push({ ...read, path: label(folder) });
      warnings.push(...read.warnings);
    }
  }

  const configs = runs.map((run) => flattenConfig(run.config));
  const configKeys = unionKeys(configs);
  const shownKeys = shownConfigKeys(configs, options.all);
  const probeMetrics = new Set(runs.flatMap((run) => [...run.probeMetrics]));
  // Per-layer probe numbers (q_l1 ... q_l40) would bury the table: shown with --all or --metric.
  const perLayer = (m: string) => probeMetrics.has(m) && /_l\d+$/.test(m);
  const metrics = options.metric !== undefined ? [options.metric] : metricNames(runs).filter((m) => options.all || !perLayer(m));
  if (options.metric !== undefined && runs.length > 0 && !runs.some((run) => options.metric! in run.final || options.metric! in run.best)) {
    const present = metricNames(runs);
    warnings.push(`no run has metric "${options.metric}" (present: ${present.length > 0 ? present.join(', ') : 'none'})`);
  }
  const goalOf = (m: string): Goal => (m === options.metric && options.goal) || defaultGoal(m);
  // A probe metric has a best only for a goal the user gives; its column would be empty otherwise.
  const ranked = (m: string) => !probeMetrics.has(m) || (m === options.metric && options.goal !== undefined);
  const metricColumns = metrics.flatMap((m) => (ranked(m) ? [finalColumn(m), bestColumn(m)] : [finalColumn(m)]));

  // Full rows carry every config key, so that grouping can use keys the table does not show.
  const full: Row[] = runs.map((run, i) => {
    const row: Row = { run: run.path, status: run.status, steps: run.steps, ...configs[i], why: run.status === 'early_stopped' ? run.reason : null };
    for (const m of metrics) {
      row[finalColumn(m)] = run.final[m] ?? null;
      if (ranked(m)) row[bestColumn(m)] = bestOf(run, m, goalOf(m)) ?? null;
    }
    return row;
  });
  const order = full.map((_, i) => i).sort((a, b) => natural.compare(runs[a]!.path, runs[b]!.path));
  if (options.metric !== undefined) {
    const key = ranked(options.metric) ? bestColumn(options.metric) : finalColumn(options.metric);
    order.sort((a, b) => compareByGoal(full[a]![key], full[b]![key], goalOf(options.metric!)));
  }
  const sortedRuns = order.map((i) => runs[i]!);
  const sortedRows = order.map((i) => full[i]!);

  if (options.groupBy && options.groupBy.length > 0) {
    const known = new Set(['status', ...configKeys]);
    for (const key of options.groupBy) {
      if (!known.has(key)) {
        throw new UsageError(`unknown group-by key "${key}"; use status or a config key: ${configKeys.join(', ') || '(no runs)'}`);
      }
    }
    const grouped = groupRows(sortedRows, options.groupBy, metricColumns);
    if (options.metric !== undefined) {
      const key = `${ranked(options.metric) ? bestColumn(options.metric) : finalColumn(options.metric)}.mean`;
      grouped.rows.sort((a, b) => compareByGoal(a[key], b[key], goalOf(options.metric!)));
    }
    return { ...grouped, errors, warnings, runs: sortedRuns };
  }

  // Why a sweep's early termination stopped a run (rule, band, value, cut): only when one was.
  const why = runs.some((run) => run.status === 'early_stopped') ? ['why'] : [];
  const columns = ['run', 'status', 'steps', ...shownKeys, ...metricColumns, ...why];
  const rows = sortedRows.map((row) => Object.fromEntries(columns.map((c) => [c, row[c] ?? null])));
  return { columns, rows, errors, warnings, runs: sortedRuns };
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

/** Best first; missing values (and NaN) last, whatever the goal. */
function compareByGoal(a: Cell | undefined, b: Cell | undefined, goal: Goal): number {
  const x = typeof a === 'number' && !Number.isNaN(a) ? a : undefined;
  const y = typeof b === 'number' && !Number.isNaN(b) ? b : undefined;
  if (x === undefined || y === undefined) return x === undefined ? (y === undefined ? 0 : 1) : -1;
  if (x === y) return 0;
  return goal === 'min' ? (x < y ? -1 : 1) : x > y ? -1 : 1;
}

/** Nulls last, numbers by value, the rest in natural string order. */
function compareCells(a: Cell, b: Cell): number {
  if (a === null || b === null) return a === null ? (b === null ? 0 : 1) : -1;
  if (typeof a === 'number' && typeof b === 'number') return a - b;
  return natural.compare(String(a), String(b));
}

/** One row per distinct value of `keys`: count, and mean and sample std of the finite values of each metric column. */
function groupRows(rows: readonly Row[], keys: readonly string[], metricColumns: readonly string[]): { columns: string[]; rows: Row[] } {
  const groups = new Map<string, Row[]>();
  for (const row of rows) {
    const id = JSON.stringify(keys.map((k) => row[k] ?? null));
    const members = groups.get(id);
    if (members) members.push(row);
    else groups.set(id, [row]);
  }
  const columns = [...keys, 'count', ...metricColumns.flatMap((c) => [`${c}.mean`, `${c}.std`])];
  const out: Row[] = [];
  for (const members of groups.values()) {
    const row: Row = {};
    for (const k of keys) row[k] = members[0]![k] ?? null;
    row.count = members.length;
    for (const c of metricColumns) {
      const values = members.map((m) => m[c]).filter((v): v is number => typeof v === 'number' && Number.isFinite(v));
      const mean = values.length > 0 ? values.reduce((s, v) => s + v, 0) / values.length : null;
      row[`${c}.mean`] = mean;
      row[`${c}.std`] =
        mean !== null && values.length > 1 ? Math.sqrt(values.reduce((s, v) => s + (v - mean) ** 2, 0) / (values.length - 1)) : null;
    }
    out.push(row);
  }
  out.sort((a, b) => {
    for (const k of keys) {
      const c = compareCells(a[k] ?? null, b[k] ?? null);
      if (c !== 0) return c;
    }
    return 0;
  });
  return { columns, rows: out };
}

function isDirectory(p: string): boolean {
  try {
    return fs.statSync(p).isDirectory();
  } catch {
    return false;
  }
}
