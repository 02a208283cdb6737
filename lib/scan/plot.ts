import type { TopLevelSpec } from 'vega-lite';
import type { TheoryLine } from './plot_theory.js';
import { curveBands } from './plot_bands.js';

/**
 * Vega-Lite specs for `dlphys scan --plot`: pure functions, data rows in, a spec out (rendering
 * is plot_render.ts, reading run folders plot_data.ts). Every spec carries its rows inline, so a
 * spec written with --vega opens as it is in the Vega editor.
 */

export const PLOT_TYPES = ['curves', 'scatter', 'heatmap', 'layers'] as const;
export type PlotType = (typeof PLOT_TYPES)[number];

export const CURVE_XS = ['step', 'epoch', 'time'] as const;
export type CurveX = (typeof CURVE_XS)[number];

export type PlotValue = number | string;

/** One point of a curve: a run's value of the metric at x (step, epoch, time or layer index). */
export interface CurvePoint {
  readonly run: string;
  /** The run's --group-by values joined, when grouped. */
  readonly group?: string;
  readonly x: number;
  readonly y: number;
}

/** One run in a scatter plot or a heatmap: its config value(s) and its metric value. */
export interface RunPoint {
  readonly run: string;
  /** The run's --group-by values joined, when grouped (scatter colours by it). */
  readonly group?: string;
  readonly x: PlotValue;
  readonly y?: PlotValue;
  readonly value: number;
}

const SCHEMA = 'https://vega.github.io/schema/vega-lite/v6.json';
const WIDTH = 480;
const HEIGHT = 300;

export interface CurvesOptions {
  readonly metric: string;
  /** Axis title of x: step, epoch, time, or "layer". */
  readonly xTitle: string;
  /** The --group-by title; set when the points carry a group. */
  readonly groupBy?: string;
  readonly logX?: boolean;
  readonly logY?: boolean;
  readonly title?: string;
  /** A line under the title (what was left out, say). */
  readonly note?: string;
}

/**
 * Lines of `metric` against x: one per run, or with `groupBy` one line per group through the
 * centre of its runs at each x, in a band of ±1 std (plot_bands.ts: arithmetic, or geometric on
 * a log y axis).
 */
export function curvesSpec(points: readonly CurvePoint[], options: CurvesOptions): TopLevelSpec {
  const x = { field: 'x', type: 'quantitative' as const, title: options.xTitle, ...(options.logX ? { scale: { type: 'log' as const, nice: false } } : {}) };
  // A log axis ends where the data do: nice decades would leave most of the plot empty.
  const yScale = options.logY ? { type: 'log' as const, nice: false } : { zero: false };
  const base = { $schema: SCHEMA, width: WIDTH, height: HEIGHT };
  if (options.groupBy === undefined) {
    return {
      ...base,
      title: withNote(options.title ?? `${options.metric} by ${options.xTitle}`, options.note),
      data: { values: points.filter((p) => !options.logY || p.y > 0).map((p) => ({ ...p })) },
      mark: { type: 'line', point: false },
      encoding: {
        x,
        y: { field: 'y', type: 'quantitative', title: options.metric, scale: yScale },
        color: { field: 'run', type: 'nominal', title: 'run' },
        tooltip: [{ field: 'run' }, { field: 'x', title: options.xTitle }, { field: 'y', title: options.metric }],
      },
    };
  }
  const bands = curveBands(points, options.logY ?? false);
  // Groups in natural order (64 before 128), not as strings; numbers on an ordered palette.
  const groups = [...new Set(bands.map((p) => p.group))].sort(naturalCompare);
  const ordered = groups.every((g) => g.trim() !== '' && Number.isFinite(Number(g)));
  const color = {
    field: 'group',
    type: 'nominal' as const,
    title: options.groupBy,
    sort: groups,
    // A stroke swatch per group, as the lines are drawn (not the faded band).
    legend: { symbolType: 'stroke', symbolStrokeWidth: 3, symbolOpacity: 1 },
    ...(ordered && groups.length > 2 ? { scale: { scheme: { name: 'viridis', extent: [0, 0.85] } } } : {}),
  };
  const centre = options.logY ? 'geometric mean' : 'mean';
  const spread = options.logY ? '×/÷ geometric std' : '±1 std';
  return {
    ...base,
    title: { text: options.title ?? `${options.metric} by ${options.xTitle}`, subtitle: [`${centre} over each group's runs, band ${spread}`, ...(options.note ? [options.note] : [])] },
    data: { values: bands.map((p) => ({ ...p })) },
    encoding: { x },
    layer: [
      {
        mark: { type: 'area', opacity: 0.25 },
        encoding: {
          y: { field: 'lo', type: 'quantitative', title: options.metric, scale: yScale },
          y2: { field: 'hi' },
          color,
        },
      },
      {
        mark: 'line',
        encoding: {
          y: { field: 'mean', type: 'quantitative', title: options.metric },
          color,
          tooltip: [
            { field: 'group', title: options.groupBy },
            { field: 'x', title: options.xTitle },
            { field: 'mean', title: `${centre} ${options.metric}`, format: '.4~g' },
            { field: 'lo', title: 'band from', format: '.4~g' },
            { field: 'hi', title: 'band to', format: '.4~g' },
            { field: 'runs', title: 'runs' },
          ],
        },
      },
    ],
  };
}

export interface ScatterOptions {
  readonly x: string;
  readonly metric: string;
  /** The --group-by title; the points are coloured by their group. */
  readonly groupBy?: string;
  readonly note?: string;
  readonly logX?: boolean;
  readonly logY?: boolean;
}

/** One point per run: its config value `x` against its metric value. */
export function scatterSpec(points: readonly RunPoint[], options: ScatterOptions): TopLevelSpec {
  const numeric = points.every((p) => typeof p.x === 'number');
  return {
    $schema: SCHEMA,
    title: withNote(`${options.metric} by ${options.x}`, options.note),
    width: WIDTH,
    height: HEIGHT,
    data: { values: points.map((p) => ({ run: p.run, x: p.x, value: p.value, ...(p.group !== undefined ? { group: p.group } : {}) })) },
    mark: { type: 'point', filled: true, size: 60 },
    encoding: {
      x: numeric
        ? { field: 'x', type: 'quantitative', title: options.x, scale: options.logX ? { type: 'log' } : { zero: false } }
        : { field: 'x', type: 'ordinal', title: options.x },
      y: { field: 'value', type: 'quantitative', title: options.metric, scale: options.logY ? { type: 'log' } : { zero: false } },
      tooltip: [{ field: 'run' }, { field: 'x', title: options.x }, { field: 'value', title: options.metric }, ...(options.groupBy ? [{ field: 'group', title: options.groupBy }] : [])],
      ...(options.groupBy
        ? { color: { field: 'group', type: 'nominal' as const, title: options.groupBy, sort: [...new Set(points.map((p) => p.group ?? ''))].sort(naturalCompare) } }
        : {}),
    },
  };
}

export interface HeatmapOptions {
  readonly x: string;
  readonly y: string;
  readonly metric: string;
  readonly logX?: boolean;
  readonly logY?: boolean;
  /** Lines drawn over the cells (a theory boundary), in data units; numeric axes only. */
  readonly lines?: readonly TheoryLine[];
}

/**
 * One cell per (x, y) pair of config values, coloured by the mean of the metric over its runs,
 * with the run count in the tooltip. Numeric axes are true scales: each value's cell spans from
 * midway to its neighbours (geometric midway on a log axis), ticks sit on the grid's values, and
 * a line in data units (lines[]) lands where it belongs between them. Other axes are ordinal.
 */
export function heatmapSpec(points: readonly RunPoint[], options: HeatmapOptions): TopLevelSpec {
  const numeric = points.every((p) => typeof p.x === 'number' && typeof p.y === 'number');
  // Cells are aggregated explicitly so that each carries one description (its hover text and
  // aria-label) naming the cell's values, mean and run count, whatever the encodings.
  const str = (text: string) => JSON.stringify(text);
  const cellTransform = (groupby: string[]) => [
    { aggregate: [{ op: 'mean' as const, field: 'value', as: 'mean' }, { op: 'count' as const, as: 'runs' }], groupby },
    {
      calculate: `${str(`${options.x}: `)} + datum.x + ${str(`; ${options.y}: `)} + datum.y + ${str(`; mean ${options.metric}: `)} + format(datum.mean, '.4~g') + '; runs: ' + datum.runs`,
      as: 'description',
    },
  ];
  const tooltip = [
    { field: 'x', title: options.x },
    { field: 'y', title: options.y },
    { field: 'mean', type: 'quantitative' as const, title: `mean ${options.metric}`, format: '.4~g' },
    { field: 'runs', title: 'runs' },
  ];
  const cellEncoding = {
    color: { field: 'mean', type: 'quantitative' as const, title: `mean ${options.metric}` },
    tooltip,
    description: { field: 'description' },
  };
  const base = { $schema: SCHEMA, title: `mean ${options.metric}` };
  if (!numeric) {
    return {
      ...base,
      data: { values: points.map((p) => ({ run: p.run, x: p.x, y: p.y ?? null, value: p.value })) },
      transform: cellTransform(['x', 'y']),
      mark: 'rect',
      encoding: {
        x: { field: 'x', type: 'ordinal', title: options.x, sort: 'ascending' },
        y: { field: 'y', type: 'ordinal', title: options.y, sort: 'descending' },
        ...cellEncoding,
      },
    };
  }
  const xEdges = cellEdges(points.map((p) => p.x as number), options.logX ?? false);
  const yEdges = cellEdges(points.map((p) => p.y as number), options.logY ?? false);
  const axis = (edges: Map<number, readonly [number, number]>, title: string, log: boolean) => {
    const all = [...edges.values()].flat();
    return {
      type: 'quantitative' as const,
      title,
      scale: log
        ? { type: 'log' as const, domain: [Math.min(...all), Math.max(...all)], nice: false }
        : { type: 'linear' as const, domain: [Math.min(...all), Math.max(...all)], nice: false, zero: false },
      axis: { values: [...edges.keys()], grid: false, format: '.4~g' },
    };
  };
  const xAxis = axis(xEdges, options.x, options.logX ?? false);
  const yAxis = axis(yEdges, options.y, options.logY ?? false);
  const cells = {
    data: {
      values: points.map((p) => {
        const [x0, x1] = xEdges.get(p.x as number)!;
        const [y0, y1] = yEdges.get(p.y as number)!;
        return { run: p.run, x: p.x, y: p.y, x0, x1, y0, y1, value: p.value };
      }),
    },
    transform: cellTransform(['x', 'y', 'x0', 'x1', 'y0', 'y1']),
    mark: 'rect' as const,
    encoding: {
      x: { field: 'x0', ...xAxis },
      x2: { field: 'x1' },
      y: { field: 'y0', ...yAxis },
      y2: { field: 'y1' },
      ...cellEncoding,
    },
  };
  // The layer's name is the Vega mark's name, by which tests find the line in the scenegraph.
  const lines = (options.lines ?? []).map((line, i) => ({
    name: `theory${i}`,
    data: { values: line.points.map((p, order) => ({ ...p, order, label: line.label })) },
    mark: { type: 'line' as const, color: 'black', strokeWidth: 2.5, strokeDash: [6, 4], clip: true },
    encoding: {
      x: { field: 'x', ...xAxis },
      y: { field: 'y', ...yAxis },
      order: { field: 'order', type: 'quantitative' as const },
      tooltip: [{ field: 'label', title: 'theory' }],
      description: { field: 'label' },
    },
  }));
  if (lines.length === 0) return { ...base, width: WIDTH, height: HEIGHT, ...cells };
  const title = { text: base.title, subtitle: (options.lines ?? []).map((line) => `dashed: ${line.label}`).join('; ') };
  return { ...base, title, width: WIDTH, height: HEIGHT, layer: [cells, ...lines] };
}

/**
 * Each distinct value's cell [lo, hi]: from midway to the previous value to midway to the next
 * (geometric midway when log), the end cells as wide on their outer side as on their inner one; a
 * lone value spans ±0.5 (×/÷ √2 when log).
 */
export function cellEdges(values: readonly number[], log: boolean): Map<number, readonly [number, number]> {
  const sorted = [...new Set(values)].sort((a, b) => a - b);
  const to = (v: number) => (log ? Math.log(v) : v);
  const from = (t: number) => (log ? Math.exp(t) : t);
  const t = sorted.map(to);
  const edges = new Map<number, readonly [number, number]>();
  sorted.forEach((v, i) => {
    const below = i > 0 ? (t[i]! - t[i - 1]!) / 2 : i + 1 < t.length ? (t[i + 1]! - t[i]!) / 2 : log ? Math.log(2) / 2 : 0.5;
    const above = i + 1 < t.length ? (t[i + 1]! - t[i]!) / 2 : below;
    edges.set(v, [from(t[i]! - below), from(t[i]! + above)]);
  });
  return edges;
}

/** Numbers by value, then anything else as text: the order of a legend of config values. */
export function naturalCompare(a: string, b: string): number {
  const x = Number(a);
  const y = Number(b);
  const xn = a.trim() !== '' && Number.isFinite(x);
  const yn = b.trim() !== '' && Number.isFinite(y);
  if (xn && yn) return x - y;
  if (xn !== yn) return xn ? -1 : 1;
  return a.localeCompare(b);
}

function withNote(text: string, note: string | undefined): string | { text: string; subtitle: string } {
  return note === undefined ? text : { text, subtitle: note };
}
