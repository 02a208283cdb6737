import type { TopLevelSpec } from 'vega-lite';
import { UsageError } from '../errors.js';
import { curvesSpec, type CurvePoint } from '../scan/plot.js';
import { plotSpec, type PlotRequest } from '../scan/plot_data.js';
import { renderSvg } from '../scan/plot_render.js';
import type { Goal, RunRecord } from '../scan/read_run.js';
import { flattenConfig, type Cell } from '../scan/scan.js';
import { groupCount, runConfigs, type Parameter } from './parameters.js';

/**
 * Which of scan's plots a report shows for a sweep, from the parameters that vary, and rendering
 * them to SVG for inlining. The plots are scan's own (lib/scan/plot_data.ts); a plot that does not
 * apply to these runs (plotSpec's UsageError) is left out.
 */

/** Grouped curves only up to this many groups: more bands than this are a blur. */
export const MAX_GROUPS = 12;
/** Per-layer probe families drawn at most. */
export const MAX_LAYER_PLOTS = 3;
/** Lines of a plot drawn one per run at most: more are picked evenly from best to worst run. */
export const MAX_LINES = 200;
/** Points of one line (a run's, or a group's centre and band) at most: longer ones are thinned. */
export const MAX_LINE_POINTS = 300;
/** A layers plot's y axis is logarithmic when its values are all positive and span this factor. */
const LOG_Y_SPAN = 100;
/** A heatmap's numeric axis is logarithmic when its values are all positive and span this factor. */
const LOG_AXIS_SPAN = 10;
/** The families drawn first when present, in this order (mean-field theory's q, chi1, c). */
const LEADING_FAMILIES = ['q', 'chi1', 'c'];

/** The metric a report ranks runs by. */
export interface ReportMetric {
  readonly name: string;
  readonly goal: Goal;
  /** False for a probe metric, which has no best: its final value counts. */
  readonly ranked: boolean;
  /** The column that ranks: `best.M` or `final.M`; default best.M when ranked, else final.M. */
  readonly column?: string;
}

/**
 * How a curves or layers plot draws its runs. plotSpec is asked for one line per run; the report
 * then groups them itself: `groupBy` keys (a mean line and ±1 std band per combination of their
 * values; [] is one group of all runs), or null for a line per run, at most MAX_LINES of them.
 */
export interface PlannedLines {
  readonly groupBy: readonly string[] | null;
  /** How the lines are drawn, for the caption ("one line per run"). */
  readonly words: string;
  /** A colour legend: not for one group, nor for more runs than can be told apart. */
  readonly legend: boolean;
}

/** A plot to try, with the words under it in the page. */
export interface PlannedPlot {
  readonly request: PlotRequest;
  /** What the plot shows; curves and layers add how the lines are drawn (and at which probe step) when drawn. */
  readonly caption: string;
  /** Ask for the mean-field chi1 = 1 line first; without it when plotSpec says it does not apply. */
  readonly theory?: 'chi1';
  /** curves and layers: how their runs' lines are drawn. */
  readonly lines?: PlannedLines;
  /** Heatmap cells per axis, to size the cells (vega's default 20 px makes a 2x2 grid a stamp). */
  readonly cells?: { readonly x: number; readonly y: number };
}

/** A plot as the page shows it. */
export interface ReportPlot {
  readonly caption: string;
  /** One <svg> element, its ids prefixed so that several can share a page. */
  readonly svg: string;
}

/**
 * The plots that fit the sweep: curves of the metric over step; a heatmap when exactly two
 * non-seed parameters vary; a scatter when exactly one numeric non-seed parameter varies; a
 * layers plot per per-layer probe family (`q_l3`), at most MAX_LAYER_PLOTS.
 */
export function choosePlots(runs: readonly RunRecord[], parameters: readonly Parameter[], metric: ReportMetric | null): PlannedPlot[] {
  const swept = parameters.filter((p) => !p.seed);
  const lines = planLines(runs, swept, parameters.some((p) => p.seed));
  const plots: PlannedPlot[] = [];

  if (metric !== null) {
    plots.push({ request: { type: 'curves', metric: metric.name }, caption: `${metric.name} over training steps`, lines });
    const column = metric.column ?? `${metric.ranked ? 'best' : 'final'}.${metric.name}`;
    const which = column.startsWith('best.') ? `best ${metric.name} (${metric.goal})` : `final ${metric.name}`;
    if (swept.length === 2) {
      // sigma_w2 across, so that the chi1 = 1 line of mean-field theory can be drawn over it.
      const [x, y] = swept[1]!.key.endsWith('sigma_w2') && !swept[0]!.key.endsWith('sigma_w2') ? [swept[1]!, swept[0]!] : [swept[0]!, swept[1]!];
      const theory = x.key.endsWith('sigma_w2') && (y.key.endsWith('depth') || y.key.endsWith('sigma_b2')) ? ('chi1' as const) : undefined;
      const [logX, logY] = [logAxis(x, LOG_AXIS_SPAN), logAxis(y, LOG_AXIS_SPAN)];
      const logWords = [logX ? x.key : null, logY ? y.key : null].filter((k) => k !== null);
      plots.push({
        request: { type: 'heatmap', x: x.key, y: y.key, metric: column, goal: metric.goal, ...(logX ? { logX } : {}), ...(logY ? { logY } : {}) },
        caption: `${which} over ${x.key} × ${y.key}, each cell the mean of its runs${logWords.length ? ` (${logWords.join(' and ')} on a log scale)` : ''}.`,
        theory,
        cells: { x: x.values.length, y: y.values.length },
      });
    }
    if (swept.length === 1 && swept[0]!.numeric) {
      const x = swept[0]!;
      const logX = logAxis(x, LOG_AXIS_SPAN);
      plots.push({ request: { type: 'scatter', x: x.key, metric: column, goal: metric.goal, logX }, caption: `${which} of each run against ${x.key}${logX ? ' (log scale)' : ''}.` });
    }
  }

  for (const family of layerFamilies(runs).slice(0, MAX_LAYER_PLOTS)) {
    plots.push({ request: { type: 'layers', metric: family }, caption: `${family}_l over the layers`, lines });
  }
  return plots;
}

/**
 * How curves draw the runs: grouped by the non-seed parameters when some group holds several
 * runs (seeds) and the groups are at most MAX_GROUPS; one group when nothing but seeds varies; a
 * line per run when there are few runs; else, rather than more lines than anyone can tell apart,
 * grouped by the first non-seed parameter if that makes at most MAX_GROUPS groups, or a line per
 * run without a legend (at most MAX_LINES of them).
 */
function planLines(runs: readonly RunRecord[], swept: readonly Parameter[], seeds: boolean): PlannedLines {
  const keys = swept.map((p) => p.key);
  const over = seeds ? 'seeds' : 'repeats';
  const perRun: PlannedLines = { groupBy: null, words: 'one line per run', legend: runs.length <= MAX_GROUPS };
  if (keys.length === 0) {
    return runs.length > 1 ? { groupBy: [], words: `the mean over all ${runs.length} runs (${over}) with a ±1 std band`, legend: false } : perRun;
  }
  const configs = runConfigs(runs);
  const groups = groupCount(configs, keys);
  if (groups < runs.length && groups <= MAX_GROUPS) return { groupBy: keys, words: `the mean over ${over} per ${keys.join(' × ')} with a ±1 std band`, legend: true };
  if (runs.length <= MAX_GROUPS) return perRun;
  if (keys.length > 1 && groupCount(configs, keys.slice(0, 1)) <= MAX_GROUPS) {
    return { groupBy: keys.slice(0, 1), words: `the mean per ${keys[0]} over its runs (${keys.slice(1).join(', ')} pooled) with a ±1 std band`, legend: true };
  }
  return perRun;
}

/** A numeric parameter whose values are all positive and span at least `span` times. */
function logAxis(p: Parameter, span: number): boolean {
  if (!p.numeric) return false;
  const numbers = p.values as number[];
  return numbers.length > 1 && numbers.every((v) => v > 0) && numbers.at(-1)! / numbers[0]! >= span;
}

/** Per-layer probe families the runs logged (`q` for q_l1, q_l2, ...): q, chi1, c first, then by name. */
export function layerFamilies(runs: readonly RunRecord[]): string[] {
  const families = new Set<string>();
  for (const run of runs) for (const key of run.probeMetrics) {
    const family = /^(.+)_l\d+$/.exec(key)?.[1];
    if (family !== undefined) families.add(family);
  }
  const rest = [...families].filter((f) => !LEADING_FAMILIES.includes(f)).sort();
  return [...LEADING_FAMILIES.filter((f) => families.has(f)), ...rest];
}

/**
 * Renders the plots that apply, in order, as SVG; those plotSpec refuses are skipped, and so are
 * curves no run has two points of. `runs` in the table's order (best first): a plot that cannot
 * draw every run's line picks them evenly along it.
 */
export async function renderPlots(dir: string, runs: readonly RunRecord[], planned: readonly PlannedPlot[]): Promise<ReportPlot[]> {
  const out: ReportPlot[] = [];
  for (const plot of planned) {
    const drawn = plot.lines !== undefined ? linesSpec(dir, runs, plot, plot.lines) : heatmapOrScatter(dir, runs, plot);
    if (drawn === undefined) continue;
    const svg = await renderSvg(drawn.spec);
    out.push({ caption: drawn.caption, svg: prefixIds(svg, `plot${out.length + 1}-`) });
  }
  return out;
}

interface Drawn {
  readonly spec: TopLevelSpec;
  readonly caption: string;
}

/** plotSpec's spec for `request`, or undefined when it refuses (the plot does not apply). */
function attempt(dir: string, runs: readonly RunRecord[], request: PlotRequest): TopLevelSpec | undefined {
  try {
    return plotSpec(dir, runs, request);
  } catch (err) {
    if (err instanceof UsageError) return undefined;
    throw err;
  }
}

function heatmapOrScatter(dir: string, runs: readonly RunRecord[], plot: PlannedPlot): Drawn | undefined {
  const spec = (plot.theory !== undefined ? attempt(dir, runs, { ...plot.request, theory: plot.theory }) : undefined) ?? attempt(dir, runs, plot.request);
  if (spec === undefined) return undefined;
  const out = { ...spec } as Record<string, unknown>;
  if (plot.cells !== undefined && out.width === undefined) {
    // About 320 x 240 whatever the grid, cells no smaller than vega's default 20 px.
    out.width = { step: Math.max(20, Math.min(80, Math.round(320 / plot.cells.x))) };
    out.height = { step: Math.max(20, Math.min(60, Math.round(240 / plot.cells.y))) };
  }
  return { spec: out as unknown as TopLevelSpec, caption: plot.caption };
}

/**
 * A curves or layers plot: plotSpec's points, one line per run, regrouped as `lines` says (the
 * bands are scan's, plot.ts curvesSpec), each line thinned to MAX_LINE_POINTS. Layers get a log
 * y axis when their values are all positive and span LOG_Y_SPAN times (q grows or shrinks
 * geometrically with depth away from the edge of chaos).
 */
function linesSpec(dir: string, runs: readonly RunRecord[], plot: PlannedPlot, lines: PlannedLines): Drawn | undefined {
  const perRun = attempt(dir, runs, plot.request);
  if (perRun === undefined) return undefined;
  const points = ((perRun as { data?: { values?: unknown } }).data?.values ?? []) as CurvePoint[];
  const byRun = new Map<string, CurvePoint[]>();
  for (const p of points) {
    let list = byRun.get(p.run);
    if (list === undefined) byRun.set(p.run, (list = []));
    list.push({ run: p.run, x: p.x, y: p.y });
  }
  const layers = plot.request.type === 'layers';
  // A curve needs two points; one point per run is no curve.
  if (!layers && ![...byRun.values()].some((list) => list.length >= 2)) return undefined;

  // The runs drawn, in the table's order; a line per run is capped at MAX_LINES, picked evenly.
  let drawnRuns = runs.filter((run) => byRun.has(run.path));
  const total = drawnRuns.length;
  if (lines.groupBy === null && total > MAX_LINES) drawnRuns = Array.from({ length: MAX_LINES }, (_, i) => drawnRuns[Math.round((i * (total - 1)) / (MAX_LINES - 1))]!);

  const ys = points.map((p) => p.y);
  const logY = layers && ys.length > 0 && ys.every((y) => y > 0) && Math.max(...ys) / Math.min(...ys) >= LOG_Y_SPAN;
  const groupOf = (run: RunRecord): string | undefined => {
    if (lines.groupBy === null) return undefined;
    if (lines.groupBy.length === 0) return `all ${total} runs`;
    const config = flattenConfig(run.config);
    return lines.groupBy.map((k) => cellText(config[k])).join(', ');
  };
  const drawnPoints = drawnRuns.flatMap((run) => {
    const group = groupOf(run);
    return byRun.get(run.path)!.map((p) => (group === undefined ? p : { ...p, group }));
  });
  const metric = layers ? plot.request.metric! : plot.request.metric!.replace(/^(final|best)\./, '');
  const title = typeof (perRun as { title?: unknown }).title === 'string' ? ((perRun as { title: string }).title) : undefined;
  const groupTitle = lines.groupBy === null ? undefined : lines.groupBy.length === 0 ? 'runs' : lines.groupBy.join(', ');
  const spec = curvesSpec(drawnPoints, { metric, xTitle: layers ? 'layer' : 'step', groupBy: groupTitle, logY, title });
  const out = thinLines(lines.legend ? spec : withoutLegend(spec));

  const at = layers ? ` ${probeStepWords(title)}` : '';
  const capped = drawnRuns.length < total ? ` (${drawnRuns.length} of the ${total} runs, picked evenly from best to worst, no legend)` : '';
  const log = logY ? `, on a log y axis (the values span ${LOG_Y_SPAN}× or more)` : '';
  return { spec: out, caption: `${plot.caption}${at}${log}, ${lines.words}${capped}.` };
}

/** Where plotSpec's layers plot was taken, from its title (`q by layer at step 0`): step 0 is at initialisation. */
function probeStepWords(title: string | undefined): string {
  const step = / at step (\d+)$/.exec(title ?? '')?.[1];
  if (step === undefined) return "at each run's first probe step";
  return step === '0' ? 'at initialisation (step 0)' : `at the first probe step (step ${step})`;
}

/**
 * Each line's points (a run's, or a group's band, in the spec's data) thinned to at most
 * MAX_LINE_POINTS by a stride, keeping its last point: a 1000-step run draws as well in 300.
 */
export function thinLines(spec: TopLevelSpec): TopLevelSpec {
  const data = (spec as { data?: { values?: unknown } }).data;
  if (!Array.isArray(data?.values)) return spec;
  const rows = data.values as Record<string, unknown>[];
  const lineOf = (row: Record<string, unknown>) => String(row.group ?? row.run ?? '');
  const byLine = new Map<string, number[]>();
  rows.forEach((row, i) => {
    let list = byLine.get(lineOf(row));
    if (list === undefined) byLine.set(lineOf(row), (list = []));
    list.push(i);
  });
  const keep = new Set<number>();
  for (const indices of byLine.values()) {
    const stride = Math.ceil(indices.length / MAX_LINE_POINTS);
    // Every stride-th point from the last one back: the last is always kept.
    for (let j = indices.length - 1; j >= 0; j -= stride) keep.add(indices[j]!);
  }
  if (keep.size === rows.length) return spec;
  return { ...spec, data: { ...data, values: rows.filter((_, i) => keep.has(i)) } } as TopLevelSpec;
}

/** The spec with its colour legend hidden, in a single view or in each layer. */
function withoutLegend(spec: TopLevelSpec): TopLevelSpec {
  const hide = (unit: Record<string, unknown>): Record<string, unknown> => {
    const encoding = unit.encoding as Record<string, unknown> | undefined;
    const color = encoding?.color as Record<string, unknown> | undefined;
    const out = { ...unit };
    if (encoding !== undefined && color !== undefined) out.encoding = { ...encoding, color: { ...color, legend: null } };
    if (Array.isArray(unit.layer)) out.layer = (unit.layer as Record<string, unknown>[]).map(hide);
    return out;
  };
  return hide(spec as unknown as Record<string, unknown>) as unknown as TopLevelSpec;
}

function cellText(value: Cell | undefined): string {
  return value === undefined || value === null ? 'null' : String(value);
}

/**
 * Vega names gradients and clip paths `gradient_0`, `clip1`, ... in every SVG it writes; inlined
 * side by side, a later plot's `url(#gradient_0)` would find the first plot's. Each gets its own.
 */
export function prefixIds(svg: string, prefix: string): string {
  return svg
    .replace(/\sid="([^"]+)"/g, (_, id: string) => ` id="${prefix}${id}"`)
    .replace(/url\(#([^)]+)\)/g, (_, id: string) => `url(#${prefix}${id})`)
    .replace(/href="#([^"]+)"/g, (_, id: string) => `href="#${prefix}${id}"`);
}
