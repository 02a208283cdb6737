import path from 'node:path';
import { isRunFolder, type RunRecord } from './read_run.js';
import { flattenConfig, shownConfigKeys, type Cell } from './scan.js';

/**
 * The runs as W&B's runs-table export has them ("Export as CSV" in a project's or sweep's runs
 * table, `wandb_export_<date>.csv`). Rows are arrays, not objects: a config key and a metric may
 * share a name (`lr`), and W&B gives each its own column.
 */
export interface WandbTable {
  readonly columns: readonly string[];
  readonly rows: readonly (readonly Cell[])[];
}

/** How wandbTable builds the table: the scanned folder (for Sweep) and whether every config leaf is a column. */
export interface WandbOptions {
  /** The scanned folder, whose name is the sweep of runs directly inside it. */
  readonly dir: string;
  /** Every config value, not only those that differ across the runs. */
  readonly all?: boolean;
}

/** The columns W&B's export starts with, in its order. */
export const WANDB_LEADING_COLUMNS = ['Name', 'State', 'Notes', 'User', 'Tags', 'Created', 'Runtime', 'Sweep'] as const;

/**
 * W&B's own summary keys: `run.summary` has them, its CSV export leaves them out. Last, so that
 * every other column stands where W&B's export puts it (notebooks index columns by position too).
 */
export const WANDB_SYSTEM_COLUMNS = ['_runtime', '_step'] as const;

const STATES: Readonly<Record<string, string>> = {
  completed: 'finished',
  failed: 'failed',
  // W&B has no word for a NaN loss; its nearest is a run that ended without finishing.
  diverged: 'crashed',
  stopped: 'killed',
  early_stopped: 'killed',
  cancelled: 'killed',
  running: 'running',
  // No summary.json, started on another host: W&B calls a run running until its heartbeats stop.
  incomplete: 'running',
  // No summary.json and its process here is gone: W&B's crashed is a run whose heartbeats stopped.
  crashed: 'crashed',
};

/** W&B's run state (as its export writes it, lower case) for a scan status; an unknown status is kept as it is. */
export function wandbState(status: string): string {
  return STATES[status] ?? status;
}

/**
 * One row per run, in the order given. Columns: WANDB_LEADING_COLUMNS, the config values (dotted
 * keys, as the sweep file names its parameters), the last value of each metric, then
 * WANDB_SYSTEM_COLUMNS. Config keys and metrics are each in code-unit order, as W&B's export.
 */
export function wandbTable(runs: readonly RunRecord[], options: WandbOptions): WandbTable {
  const configs = runs.map((run) => flattenConfig(run.config));
  const configKeys = shownConfigKeys(configs, options.all).sort(byCodeUnit);
  const system = new Set<string>(WANDB_SYSTEM_COLUMNS);
  const metrics = [...new Set(runs.flatMap((run) => Object.keys(run.final)))].filter((m) => !system.has(m)).sort(byCodeUnit);
  const rootSweep = sweepOfRoot(options.dir);

  const rows = runs.map((run, i): Cell[] => [
    run.name,
    wandbState(run.status),
    '-',
    '',
    '',
    created(run.startedAt),
    run.wallTime === null ? null : Math.round(run.wallTime),
    sweepOf(run, rootSweep),
    ...configKeys.map((key) => configs[i]![key] ?? null),
    ...metrics.map((m) => run.final[m] ?? null),
    run.wallTime,
    run.lastStep ?? run.steps,
  ]);
  return { columns: [...WANDB_LEADING_COLUMNS, ...configKeys, ...metrics, ...WANDB_SYSTEM_COLUMNS], rows };
}

/**
 * RFC 4180 with every field quoted, as W&B's export writes it (numbers and the header too); CRLF
 * line ends; empty for a missing value; numbers full precision (`String(x)`), NaN as `NaN`.
 */
export function formatWandbCsv(table: WandbTable): string {
  const line = (fields: readonly string[]) => fields.map((f) => `"${f.replace(/"/g, '""')}"`).join(',') + '\r\n';
  return line(table.columns) + table.rows.map((row) => line(row.map((cell) => (cell === null ? '' : String(cell))))).join('');
}

/** W&B writes whole seconds: `2026-11-29T18:50:52.000Z`. A time it cannot be is kept as written. */
function created(iso: string | null): string | null {
  if (iso === null) return null;
  const ms = Date.parse(iso);
  return Number.isNaN(ms) ? iso : new Date(Math.floor(ms / 1000) * 1000).toISOString();
}

/** A program run names its sweep; any other run is in its sweep's folder. */
function sweepOf(run: RunRecord, rootSweep: string): string {
  const named = run.provenance?.sweep;
  if (typeof named === 'string' && named !== '') return named;
  const parent = path.posix.dirname(run.path);
  return parent === '.' ? rootSweep : path.posix.basename(parent);
}

/** The sweep of a run directly in the scanned folder: that folder, or its parent when it is the run itself. */
function sweepOfRoot(dir: string): string {
  const abs = path.resolve(dir);
  return path.basename(isRunFolder(dir) ? path.dirname(abs) : abs);
}

function byCodeUnit(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
