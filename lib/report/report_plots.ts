import type { TopLevelSpec } from 'vega-lite';
import { UsageError } from '../errors.js';
import { plotSpec, type PlotRequest } from '../scan/plot_data.js';
import { renderSvg } from '../scan/plot_render.js';
import type { Goal, RunRecord } from '../scan/read_run.js';
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
/** The families drawn first when present, in this order (mean-field theory's q, chi1, c). */
const LEADING_FAMILIES = ['q', 'chi1', 'c'];

/** The metric a report ranks runs by. */
export interface ReportMetric {
  readonly name: string;
  readonly goal: Goal;
  /** False for a probe metric, which has no best: its final value counts. */
  readonly ranked: boolean;
}

/** A plot to try, with the words under it in the page. */
export interface PlannedPlot {
  readonly request: PlotRequest;
  readonly caption: string;
  /** Ask for the mean-field chi1 = 1 line first; without it when plotSpec says it does not apply. */
  readonly theory?: 'chi1';
  /** Hide the colour legend: one entry per run would be taller than the plot. */
  readonly noLegend?: boolean;
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
  const keys = swept.map((p) => p.key);
  const seeds = parameters.some((p) => p.seed);
  const groups = keys.length > 0 ? groupCount(runConfigs(runs), keys) : runs.length;
  // Grouped when some group holds several runs (seeds), and the groups are few enough to tell apart.
  const grouped = keys.length > 0 && groups < runs.length && groups <= MAX_GROUPS;
  const over = seeds ? 'seeds' : 'repeats';
  const groupWords = grouped ? `mean over ${over} per ${keys.join(' × ')} with a ±1 std band` : 'one line per run';
  const groupBy = grouped ? keys : undefined;
  const noLegend = !grouped && runs.length > MAX_GROUPS;
  const plots: PlannedPlot[] = [];

  if (metric !== null) {
    plots.push({ request: { type: 'curves', metric: metric.name, groupBy }, caption: `${metric.name} over training steps, ${groupWords}.`, noLegend });
    const column = `${metric.ranked ? 'best' : 'final'}.${metric.name}`;
    const which = metric.ranked ? `best ${metric.name} (${metric.goal})` : `final ${metric.name}`;
    if (swept.length === 2) {
      // sigma_w2 across, so that the chi1 = 1 line of mean-field theory can be drawn over it.
      const [x, y] = swept[1]!.key.endsWith('sigma_w2') && !swept[0]!.key.endsWith('sigma_w2') ? [swept[1]!, swept[0]!] : [swept[0]!, swept[1]!];
      const theory = x.key.endsWith('sigma_w2') && (y.key.endsWith('depth') || y.key.endsWith('sigma_b2')) ? ('chi1' as const) : undefined;
      plots.push({
        request: { type: 'heatmap', x: x.key, y: y.key, metric: column, goal: metric.goal },
        caption: `${which} over ${x.key} × ${y.key}, each cell the mean of its runs.`,
        theory,
        cells: { x: x.values.length, y: y.values.length },
      });
    }
    if (swept.length === 1 && swept[0]!.numeric) {
      const x = swept[0]!;
      const numbers = x.values as number[];
      const logX = numbers.every((v) => v > 0) && numbers.at(-1)! / numbers[0]! >= 10;
      plots.push({ request: { type: 'scatter', x: x.key, metric: column, goal: metric.goal, logX }, caption: `${which} of each run against ${x.key}${logX ? ' (log scale)' : ''}.` });
    }
  }

  for (const family of layerFamilies(runs).slice(0, MAX_LAYER_PLOTS)) {
    plots.push({ request: { type: 'layers', metric: family, groupBy }, caption: `${family}_l over the layers at the last probe step, ${groupWords}.`, noLegend });
  }
  return plots;
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

/** Renders the plots that apply, in order, as SVG; those plotSpec refuses are skipped. */
export async function renderPlots(dir: string, runs: readonly RunRecord[], planned: readonly PlannedPlot[]): Promise<ReportPlot[]> {
  const out: ReportPlot[] = [];
  for (const plot of planned) {
    const spec = specOf(dir, runs, plot);
    if (spec === undefined) continue;
    const svg = await renderSvg(adjusted(spec, plot));
    out.push({ caption: plot.caption, svg: prefixIds(svg, `plot${out.length + 1}-`) });
  }
  return out;
}

function specOf(dir: string, runs: readonly RunRecord[], plot: PlannedPlot): TopLevelSpec | undefined {
  const attempt = (request: PlotRequest): TopLevelSpec | undefined => {
    try {
      return plotSpec(dir, runs, request);
    } catch (err) {
      if (err instanceof UsageError) return undefined;
      throw err;
    }
  };
  if (plot.theory !== undefined) {
    const spec = attempt({ ...plot.request, theory: plot.theory });
    if (spec !== undefined) return spec;
  }
  return attempt(plot.request);
}

/** Sizes heatmap cells and hides an over-long legend; the spec is otherwise scan's. */
function adjusted(spec: TopLevelSpec, plot: PlannedPlot): TopLevelSpec {
  const out = { ...spec } as Record<string, unknown>;
  if (plot.cells !== undefined && out.width === undefined) {
    // About 320 x 240 whatever the grid, cells no smaller than vega's default 20 px.
    out.width = { step: Math.max(20, Math.min(80, Math.round(320 / plot.cells.x))) };
    out.height = { step: Math.max(20, Math.min(60, Math.round(240 / plot.cells.y))) };
  }
  if (plot.noLegend) {
    const encoding = out.encoding as Record<string, unknown> | undefined;
    const color = encoding?.color as Record<string, unknown> | undefined;
    if (encoding !== undefined && color !== undefined) out.encoding = { ...encoding, color: { ...color, legend: null } };
  }
  return out as unknown as TopLevelSpec;
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
