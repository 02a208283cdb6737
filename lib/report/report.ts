import fs from 'node:fs';
import path from 'node:path';
import { UsageError } from '../errors.js';
import { UNRANKED_METRICS } from '../metric_goal.js';
import { tailLines } from '../run/log_tail.js';
import { bestOf, defaultGoal, isObject, isRunFolder, type Goal, type RunRecord } from '../scan/read_run.js';
import { scanRuns, type Row, type ScanError } from '../scan/scan.js';
import { varyingParameters, type Parameter } from './parameters.js';
import { reportHtml } from './report_html.js';
import { choosePlots, renderPlots, type ReportMetric, type ReportPlot } from './report_plots.js';

/**
 * `dlphys report`: what one page about a sweep's run folders holds (this file), how it reads
 * (report_html.ts) and which plots it draws (report_plots.ts).
 */

export interface ReportOptions {
  /** Rank runs by this metric (a bare name, `val_loss`); default: the sweep file's, else a val_ metric, else the first. */
  readonly metric?: string;
  /** What "best" means for the metric; default: the sweep file's goal for its metric, else defaultGoal. */
  readonly goal?: Goal;
  /** The page's heading; default: the sweep's name, else the folder's. */
  readonly title?: string;
}

export interface ReportResult {
  /** One self-contained page: inline CSS, script and SVG plots, nothing fetched. */
  readonly html: string;
  readonly runs: number;
  readonly plots: number;
}

/** A run that went wrong, with what it left behind. */
export interface ReportFailure {
  readonly run: string;
  readonly status: string;
  /** summary.json's error (or the reason it stopped), when it has one. */
  readonly error: string | null;
  /** The last lines of its train.log; [] when there is none. */
  readonly log: readonly string[];
}

/** Everything the page shows, gathered; report_html.ts only lays it out. */
export interface ReportData {
  readonly title: string;
  readonly dir: string;
  readonly generatedAt: string;
  /** DIR/sweep.json as the coordinator wrote it, when there is one. */
  readonly sweep: Record<string, unknown> | null;
  readonly metric: (ReportMetric & { readonly source: 'flag' | 'sweep' | 'default'; readonly column: string }) | null;
  readonly parameters: readonly Parameter[];
  readonly statusCounts: ReadonlyArray<readonly [status: string, count: number]>;
  /** Scan's table: config values that vary, status, final./best. metrics; best run first. */
  readonly columns: readonly string[];
  readonly rows: readonly Row[];
  /** The best run's row in `rows` (always 0 when there is one), null when no run has a value of the metric. */
  readonly bestRow: number | null;
  readonly plots: readonly ReportPlot[];
  readonly failures: readonly ReportFailure[];
  readonly skipped: readonly ScanError[];
}

/** Statuses whose runs are listed with their error and log. */
const FAILED = new Set(['failed', 'crashed', 'diverged']);
/** Lines of train.log shown for each failed run. */
const LOG_LINES = 20;

/**
 * The report page for the run folders under `dir` (searched as scan searches). A missing dir, a
 * dir without run folders, an unreadable sweep.json or a `metric` no run logged is a UsageError.
 */
export async function buildReport(dir: string, options: ReportOptions = {}): Promise<ReportResult> {
  const data = await gatherReport(dir, options);
  return { html: reportHtml(data), runs: data.rows.length, plots: data.plots.length };
}

/** What buildReport lays out; see ReportData. */
export async function gatherReport(dir: string, options: ReportOptions = {}): Promise<ReportData> {
  if (options.goal !== undefined && options.goal !== 'min' && options.goal !== 'max') {
    throw new UsageError(`goal must be min or max (got "${String(options.goal)}")`);
  }
  const table = scanRuns(dir);
  const runs = table.runs;
  if (runs.length === 0) throw new UsageError(`no run folders under ${dir} to report on (a run folder holds config.json or metrics.jsonl)`);
  const sweep = readSweepFile(dir);
  const parameters = inSweepOrder(varyingParameters(runs), sweep);
  const metric = chooseMetric(runs, table.columns, sweep, options);

  // Scan's table, with only the parameters that truly vary, and the metric's best by its goal.
  const varying = new Set(parameters.map((p) => p.key));
  const isConfigColumn = (c: string) => !['run', 'status', 'steps', 'why'].includes(c) && !c.startsWith('final.') && !c.startsWith('best.');
  const columns = table.columns.filter((c) => !isConfigColumn(c) || varying.has(c));
  const rows = table.rows.map((row) => ({ ...row }));
  if (metric !== null) {
    const metricColumns = metric.ranked ? [`final.${metric.name}`, metric.column] : [metric.column];
    // A per-layer probe metric asked for by name is not among scan's default columns.
    for (const c of metricColumns) if (!columns.includes(c)) columns.splice(columns.includes('why') ? columns.length - 1 : columns.length, 0, c);
    rows.forEach((row, i) => {
      row[`final.${metric.name}`] = runs[i]!.final[metric.name] ?? null;
      if (metric.ranked) row[metric.column] = bestOf(runs[i]!, metric.name, metric.goal) ?? null;
    });
  }
  const order = rows.map((_, i) => i);
  if (metric !== null) order.sort((a, b) => byGoal(rows[a]![metric.column], rows[b]![metric.column], metric.goal));
  const sortedRows = order.map((i) => rows[i]!);
  const sortedRuns = order.map((i) => runs[i]!);
  const bestRow = metric !== null && finite(sortedRows[0]?.[metric.column]) ? 0 : null;

  const counts = new Map<string, number>();
  for (const run of runs) counts.set(run.status, (counts.get(run.status) ?? 0) + 1);

  const plots = await renderPlots(dir, runs, choosePlots(runs, parameters, metric));
  const failures = await Promise.all(
    sortedRuns
      .filter((run) => FAILED.has(run.status))
      .map(async (run) => ({ run: run.path, status: run.status, error: run.error ?? run.reason, log: await tailLines(path.join(runDir(dir, run), 'train.log'), LOG_LINES).catch(() => []) })),
  );
  const name = typeof sweep?.name === 'string' ? sweep.name : path.basename(path.resolve(dir));
  return {
    title: options.title ?? name,
    dir,
    generatedAt: new Date().toISOString(),
    sweep,
    metric,
    parameters,
    statusCounts: [...counts.entries()].sort((a, b) => b[1] - a[1]),
    columns,
    rows: sortedRows,
    bestRow,
    plots,
    failures,
    skipped: table.errors,
  };
}

/**
 * The metric the report ranks by: `options.metric`, else the sweep file's, else a `val_` metric,
 * else the first scan shows (probe and bookkeeping metrics such as lr are passed over).
 */
function chooseMetric(runs: readonly RunRecord[], columns: readonly string[], sweep: Record<string, unknown> | null, options: ReportOptions): ReportData['metric'] {
  const probe = new Set(runs.flatMap((run) => [...run.probeMetrics]));
  const logged = new Set(runs.flatMap((run) => [...Object.keys(run.final), ...Object.keys(run.best)]));
  const sweepMetric = isObject(sweep?.metric) && typeof sweep.metric.name === 'string' ? sweep.metric : undefined;
  let name: string | undefined;
  let goal: Goal | undefined;
  let source: 'flag' | 'sweep' | 'default';
  if (options.metric !== undefined) {
    if (!logged.has(options.metric)) {
      throw new UsageError(`--metric ${options.metric}: no run logged this metric; use one of: ${metricList(logged) || '(none logged)'}`);
    }
    [name, source] = [options.metric, 'flag'];
    if (options.metric === sweepMetric?.name) goal = sweepGoal(sweepMetric.goal);
  } else if (sweepMetric !== undefined) {
    [name, goal, source] = [sweepMetric.name as string, sweepGoal(sweepMetric.goal), 'sweep'];
  } else {
    const candidates = columns.filter((c) => c.startsWith('final.')).map((c) => c.slice('final.'.length)).filter((m) => !probe.has(m) && !UNRANKED_METRICS.has(m));
    name = candidates.find((m) => m.startsWith('val_')) ?? candidates[0];
    source = 'default';
  }
  if (name === undefined) return null;
  const ranked = !probe.has(name);
  const finalGoal = options.goal ?? goal ?? defaultGoal(name);
  return { name, goal: finalGoal, ranked, source, column: `${ranked ? 'best' : 'final'}.${name}` };
}

/** The parameters in the order the sweep file lists them (its axes as the author thinks of them); others after, as they were. */
function inSweepOrder(parameters: Parameter[], sweep: Record<string, unknown> | null): Parameter[] {
  const listed = isObject(sweep?.parameters) ? Object.keys(sweep.parameters) : [];
  const rank = (p: Parameter) => (listed.includes(p.key) ? listed.indexOf(p.key) : listed.length);
  return parameters.map((p, i) => ({ p, i })).sort((a, b) => rank(a.p) - rank(b.p) || a.i - b.i).map(({ p }) => p);
}

/** Metric names for a message, a per-layer family once (`q_l1 ... q_l16`: `q_l<N>`). */
function metricList(names: ReadonlySet<string>): string {
  const shown = new Set([...names].map((m) => m.replace(/_l\d+$/, '_l<N>')));
  return [...shown].sort(new Intl.Collator('en', { numeric: true }).compare).join(', ');
}

/** W&B's words or scan's; W&B's default is minimize. */
function sweepGoal(goal: unknown): Goal {
  return goal === 'maximize' || goal === 'max' ? 'max' : 'min';
}

/** DIR/sweep.json as written by the coordinator; null when there is none. */
function readSweepFile(dir: string): Record<string, unknown> | null {
  const file = path.join(dir, 'sweep.json');
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT' || (err as NodeJS.ErrnoException).code === 'ENOTDIR') return null;
    throw new UsageError(`cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message} (check its permissions)`);
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new UsageError(`${file} is not valid JSON (${(err as Error).message}); fix it or move it away`);
  }
  if (!isObject(value)) throw new UsageError(`${file} is not a JSON object (a sweep file); fix it or move it away`);
  return value;
}

/** The run's folder: scan names runs by their path under dir, or by their own name when dir is the run folder. */
function runDir(dir: string, run: RunRecord): string {
  return isRunFolder(dir) ? dir : path.join(dir, run.path);
}

function finite(value: unknown): value is number {
  return typeof value === 'number' && Number.isFinite(value);
}

/** Best first; missing values and NaN last, whatever the goal. */
function byGoal(a: unknown, b: unknown, goal: Goal): number {
  const x = typeof a === 'number' && !Number.isNaN(a) ? a : undefined;
  const y = typeof b === 'number' && !Number.isNaN(b) ? b : undefined;
  if (x === undefined || y === undefined) return x === undefined ? (y === undefined ? 0 : 1) : -1;
  if (x === y) return 0;
  return goal === 'min' ? (x < y ? -1 : 1) : x > y ? -1 : 1;
}
