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
  /**
   * Rank runs by this metric: a bare name (`val_loss`: its best value ranks, or a probe metric's
   * final value), or `best.M` / `final.M` to say which; default: the sweep file's, else a val_
   * metric, else the first.
   */
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
  /** The last lines of its train.log; [] when there is none (or it could not be read). */
  readonly log: readonly string[];
  /** Why train.log could not be read (`EACCES`), when it exists but could not be; null otherwise. */
  readonly logError: string | null;
}

/** Failed runs beyond the first MAX_FAILURES_SHOWN, counted by their error's first line. */
export interface ReportFailureGroup {
  /** The first line of the runs' error; null for runs without one. */
  readonly error: string | null;
  readonly count: number;
  /** The runs, in the table's order. */
  readonly runs: readonly string[];
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
  /** The first MAX_FAILURES_SHOWN failed runs in the table's order, each with its log. */
  readonly failures: readonly ReportFailure[];
  /** The failed runs after those, grouped by error line, most common first; [] when all are shown. */
  readonly moreFailures: readonly ReportFailureGroup[];
  readonly skipped: readonly ScanError[];
}

/** Statuses whose runs are listed with their error and log. */
const FAILED = new Set(['failed', 'crashed', 'diverged']);
/** Lines of train.log shown for each failed run. */
const LOG_LINES = 20;
/** Failed runs shown each with its error and log; the rest are counted by error line. */
export const MAX_FAILURES_SHOWN = 50;
/** train.log files open at once: a sweep of 600 failed runs would otherwise run out of file descriptors. */
const LOG_READS_AT_ONCE = 16;

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
  const columns = tableColumns(table.columns, parameters, metric);
  const rows = table.rows.map((row) => ({ ...row }));
  if (metric !== null) {
    rows.forEach((row, i) => {
      row[`final.${metric.name}`] = runs[i]!.final[metric.name] ?? null;
      if (metric.ranked) row[`best.${metric.name}`] = bestOf(runs[i]!, metric.name, metric.goal) ?? null;
    });
  }
  const order = rows.map((_, i) => i);
  if (metric !== null) order.sort((a, b) => byGoal(rows[a]![metric.column], rows[b]![metric.column], metric.goal));
  const sortedRows = order.map((i) => rows[i]!);
  const sortedRuns = order.map((i) => runs[i]!);
  const best = metric === null ? -1 : sortedRows.findIndex((row) => finite(row[metric.column]));
  const bestRow = best < 0 ? null : best;

  const counts = new Map<string, number>();
  for (const run of runs) counts.set(run.status, (counts.get(run.status) ?? 0) + 1);

  const plots = await renderPlots(dir, sortedRuns, choosePlots(runs, parameters, metric));
  const failed = sortedRuns.filter((run) => FAILED.has(run.status));
  const failures = await mapLimit(failed.slice(0, MAX_FAILURES_SHOWN), LOG_READS_AT_ONCE, async (run): Promise<ReportFailure> => {
    const error = run.error ?? run.reason;
    try {
      return { run: run.path, status: run.status, error, log: await tailLines(path.join(runDir(dir, run), 'train.log'), LOG_LINES), logError: null };
    } catch (err) {
      return { run: run.path, status: run.status, error, log: [], logError: (err as NodeJS.ErrnoException).code ?? (err as Error).message };
    }
  });
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
    moreFailures: failureGroups(failed.slice(MAX_FAILURES_SHOWN)),
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
  /** `best.` or `final.` given with --metric: which of the metric's columns ranks. */
  let prefix: 'best' | 'final' | undefined;
  if (options.metric !== undefined) {
    const asked = /^(best|final)\.(.+)$/.exec(options.metric);
    const bare = asked?.[2] ?? options.metric;
    prefix = asked?.[1] as 'best' | 'final' | undefined;
    if (!logged.has(bare)) {
      throw new UsageError(`--metric ${options.metric}: no run logged this metric; use one of: ${metricList(logged) || '(none logged)'}`);
    }
    if (prefix === 'best' && probe.has(bare)) {
      throw new UsageError(`--metric ${options.metric}: ${bare} is a probe measurement, which has no best; use --metric final.${bare} (or ${bare})`);
    }
    [name, source] = [bare, 'flag'];
    if (bare === sweepMetric?.name) goal = sweepGoal(sweepMetric.goal);
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
  return { name, goal: finalGoal, ranked, source, column: `${prefix ?? (ranked ? 'best' : 'final')}.${name}` };
}

/**
 * Scan's columns with only the parameters that truly vary, in the sweep's order, and the column
 * that ranks right after them (visible without scrolling a wide table); final.M and best.M of a
 * metric scan does not show by default (a per-layer probe metric) are added.
 */
function tableColumns(scanColumns: readonly string[], parameters: readonly Parameter[], metric: ReportData['metric']): string[] {
  const isMetric = (c: string) => c.startsWith('final.') || c.startsWith('best.');
  const lead = scanColumns.filter((c) => c === 'run' || c === 'status' || c === 'steps');
  const metrics = scanColumns.filter(isMetric);
  if (metric !== null) {
    for (const c of metric.ranked ? [`final.${metric.name}`, `best.${metric.name}`] : [`final.${metric.name}`]) if (!metrics.includes(c)) metrics.push(c);
  }
  const ranking = metric === null ? [] : [metric.column];
  const rest = [...metrics.filter((c) => !ranking.includes(c)), ...scanColumns.filter((c) => c === 'why')];
  return [...lead, ...parameters.map((p) => p.key).filter((k) => scanColumns.includes(k)), ...ranking, ...rest];
}

/** Failed runs counted by their error's first line, most common first (then as they come). */
function failureGroups(runs: readonly RunRecord[]): ReportFailureGroup[] {
  const groups = new Map<string, { error: string | null; runs: string[] }>();
  for (const run of runs) {
    const error = (run.error ?? run.reason)?.split('\n')[0]?.trim() ?? null;
    const key = JSON.stringify(error);
    let group = groups.get(key);
    if (group === undefined) groups.set(key, (group = { error, runs: [] }));
    group.runs.push(run.path);
  }
  return [...groups.values()].map((g) => ({ error: g.error, count: g.runs.length, runs: g.runs })).sort((a, b) => b.count - a.count);
}

/** `fn` over `items`, at most `limit` at a time, results in order. */
async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
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

/** Best first; missing values, NaN and ±Infinity (a diverged run's) last, whatever the goal. */
export function byGoal(a: unknown, b: unknown, goal: Goal): number {
  const x = finite(a) ? a : undefined;
  const y = finite(b) ? b : undefined;
  if (x === undefined || y === undefined) return x === undefined ? (y === undefined ? 0 : 1) : -1;
  if (x === y) return 0;
  return goal === 'min' ? (x < y ? -1 : 1) : x > y ? -1 : 1;
}
