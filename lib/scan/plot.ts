import type { TopLevelSpec } from 'vega-lite';

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
  readonly logY?: boolean;
  readonly title?: string;
}

/**
 * Lines of `metric` against x: one per run, or with `groupBy` one mean line per group and a band
 * of ±1 standard deviation across the group's runs at each x.
 */
export function curvesSpec(points: readonly CurvePoint[], options: CurvesOptions): TopLevelSpec {
  const x = { field: 'x', type: 'quantitative' as const, title: options.xTitle };
  const yScale = options.logY ? { type: 'log' as const } : { zero: false };
  const base = {
    $schema: SCHEMA,
    title: options.title ?? `${options.metric} by ${options.xTitle}`,
    width: WIDTH,
    height: HEIGHT,
    data: { values: points.map((p) => ({ ...p })) },
  };
  if (options.groupBy === undefined) {
    return {
      ...base,
      mark: { type: 'line', point: false },
      encoding: {
        x,
        y: { field: 'y', type: 'quantitative', title: options.metric, scale: yScale },
        color: { field: 'run', type: 'nominal', title: 'run' },
        tooltip: [{ field: 'run' }, { field: 'x', title: options.xTitle }, { field: 'y', title: options.metric }],
      },
    };
  }
  const color = { field: 'group', type: 'nominal' as const, title: options.groupBy };
  return {
    ...base,
    encoding: { x, color },
    layer: [
      {
        mark: { type: 'errorband', extent: 'stdev', opacity: 0.25 },
        encoding: { y: { field: 'y', type: 'quantitative', title: options.metric, scale: yScale } },
      },
      {
        mark: 'line',
        encoding: {
          y: { field: 'y', aggregate: 'mean', type: 'quantitative', title: options.metric },
          tooltip: [
            { field: 'group', title: options.groupBy },
            { field: 'x', title: options.xTitle },
            { field: 'y', aggregate: 'mean', title: `mean ${options.metric}` },
            { field: 'y', aggregate: 'stdev', title: 'std' },
            { field: 'y', aggregate: 'count', title: 'runs' },
          ],
        },
      },
    ],
  };
}

export interface ScatterOptions {
  readonly x: string;
  readonly metric: string;
  readonly logX?: boolean;
  readonly logY?: boolean;
}

/** One point per run: its config value `x` against its metric value. */
export function scatterSpec(points: readonly RunPoint[], options: ScatterOptions): TopLevelSpec {
  const numeric = points.every((p) => typeof p.x === 'number');
  return {
    $schema: SCHEMA,
    title: `${options.metric} by ${options.x}`,
    width: WIDTH,
    height: HEIGHT,
    data: { values: points.map((p) => ({ run: p.run, x: p.x, value: p.value })) },
    mark: { type: 'point', filled: true, size: 60 },
    encoding: {
      x: numeric
        ? { field: 'x', type: 'quantitative', title: options.x, scale: options.logX ? { type: 'log' } : { zero: false } }
        : { field: 'x', type: 'ordinal', title: options.x },
      y: { field: 'value', type: 'quantitative', title: options.metric, scale: options.logY ? { type: 'log' } : { zero: false } },
      tooltip: [{ field: 'run' }, { field: 'x', title: options.x }, { field: 'value', title: options.metric }],
    },
  };
}

export interface HeatmapOptions {
  readonly x: string;
  readonly y: string;
  readonly metric: string;
}

/** One cell per (x, y) pair of config values, coloured by the mean of the metric over its runs. */
export function heatmapSpec(points: readonly RunPoint[], options: HeatmapOptions): TopLevelSpec {
  return {
    $schema: SCHEMA,
    title: `mean ${options.metric}`,
    data: { values: points.map((p) => ({ run: p.run, x: p.x, y: p.y ?? null, value: p.value })) },
    mark: 'rect',
    encoding: {
      x: { field: 'x', type: 'ordinal', title: options.x, sort: 'ascending' },
      y: { field: 'y', type: 'ordinal', title: options.y, sort: 'descending' },
      color: { field: 'value', aggregate: 'mean', type: 'quantitative', title: `mean ${options.metric}` },
      tooltip: [
        { field: 'x', title: options.x },
        { field: 'y', title: options.y },
        { field: 'value', aggregate: 'mean', title: `mean ${options.metric}` },
        { field: 'value', aggregate: 'count', title: 'runs' },
      ],
    },
  };
}
