import fs from 'node:fs';
import path from 'node:path';
import { UsageError } from '../errors.js';
import { cellEdges, curvesSpec, heatmapSpec, scatterSpec, type CurvePoint, type CurveX, type PlotType, type PlotValue, type RunPoint } from './plot.js';
import { chi1Boundary, type Theory } from './plot_theory.js';
import { mergeProbeRows, readProbeRows } from './probe_rows.js';
import { bestOf, isObject, isRunFolder, type Goal, type RunRecord } from './read_run.js';
import { flattenConfig, type Row } from './scan.js';
import type { TopLevelSpec } from 'vega-lite';

/** What `dlphys scan --plot` asks for; which fields a type needs is checked by plotSpec. */
export interface PlotRequest {
  readonly type: PlotType;
  readonly metric?: string;
  readonly x?: string;
  readonly y?: string;
  readonly groupBy?: readonly string[];
  readonly goal?: Goal;
  readonly logX?: boolean;
  readonly logY?: boolean;
  /** A theory line over a heatmap (see plot_theory.ts); other plot types refuse it. */
  readonly theory?: Theory;
}

/**
 * The spec for `request` over `runs` (scan's runs, their `path` relative to `dir`). A flag the
 * type needs, a metric no run has or a config key no run has is a UsageError naming the fix.
 */
export function plotSpec(dir: string, runs: readonly RunRecord[], request: PlotRequest): TopLevelSpec {
  const need = (flag: string, value: string | undefined, example: string): string => {
    if (value === undefined) throw new UsageError(`--plot-type ${request.type} needs ${flag} (e.g. ${flag} ${example})`);
    return value;
  };
  if (runs.length === 0) throw new UsageError(`no run folders under ${dir} to plot (a run folder holds config.json or metrics.jsonl)`);
  const configs = runs.map((run) => flattenConfig(run.config));
  const configKeys = [...new Set(configs.flatMap((c) => Object.keys(c)))].sort();
  const checkKey = (flag: string, key: string) => {
    if (key !== 'status' && !configKeys.includes(key)) throw new UsageError(`${flag} ${key}: no run has this config key; use one of: ${configKeys.join(', ')}`);
  };
  for (const key of request.groupBy ?? []) checkKey('--group-by', key);
  const groupOf = (i: number): string | undefined =>
    request.groupBy?.length ? request.groupBy.map((k) => cellText(k === 'status' ? runs[i]!.status : configs[i]![k])).join(', ') : undefined;
  const groupTitle = request.groupBy?.length ? request.groupBy.join(', ') : undefined;
  if (request.theory !== undefined && request.type !== 'heatmap') {
    throw new UsageError(`--theory ${request.theory} draws over a heatmap: add --plot-type heatmap --x init.kwargs.sigma_w2 --y model.kwargs.depth`);
  }

  switch (request.type) {
    case 'curves': {
      const metric = need('--metric', request.metric, 'val_loss');
      const x = (request.x ?? 'step') as CurveX;
      if (x !== 'step' && x !== 'epoch' && x !== 'time') throw new UsageError(`--x ${x}: curves run along step, epoch or time`);
      checkMetric(runs, metric);
      const points: CurvePoint[] = [];
      runs.forEach((run, i) => {
        for (const row of readMetricRows(runDir(dir, run))) {
          const xv = row[x];
          const yv = row[metric];
          if (typeof xv === 'number' && typeof yv === 'number' && Number.isFinite(yv)) points.push(withGroup({ run: run.path, x: xv, y: yv }, groupOf(i)));
        }
      });
      if (points.length === 0) throw new UsageError(`no metrics.jsonl row has both ${x} and ${metric}; try --x step`);
      return curvesSpec(points, { metric, xTitle: x, groupBy: groupTitle, logY: request.logY });
    }
    case 'layers': {
      const metric = need('--metric', request.metric, 'q');
      const pattern = new RegExp(`^${metric.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}_l(\\d+)$`);
      const points: CurvePoint[] = [];
      runs.forEach((run, i) => {
        const rows = readProbeRows(runDir(dir, run));
        const last = rows.at(-1);
        const merged = last ? mergeProbeRows(rows, last.step) : null;
        for (const [key, value] of Object.entries(merged ?? {})) {
          const layer = pattern.exec(key)?.[1];
          if (layer !== undefined && Number.isFinite(value)) points.push(withGroup({ run: run.path, x: Number(layer), y: value }, groupOf(i)));
        }
      });
      if (points.length === 0) {
        const families = [...new Set(runs.flatMap((run) => [...run.probeMetrics].map((k) => /^(.+)_l\d+$/.exec(k)?.[1]).filter((k) => k !== undefined)))].sort();
        throw new UsageError(`--metric ${metric}: no run's probe rows have ${metric}_l1, ${metric}_l2, ...; use one of: ${families.join(', ') || '(no per-layer probe metrics)'}`);
      }
      return curvesSpec(points, { metric, xTitle: 'layer', groupBy: groupTitle, logY: request.logY, title: `${metric} by layer (last probe step)` });
    }
    case 'scatter': {
      const x = need('--x', request.x, 'optimizer.kwargs.lr');
      const metric = need('--metric', request.metric, 'val_acc');
      checkKey('--x', x);
      const points = runPoints(runs, configs, metric, request.goal, (c) => ({ x: c[x] }));
      return scatterSpec(points, { x, metric: columnOf(metric), logX: request.logX, logY: request.logY });
    }
    case 'heatmap': {
      const x = need('--x', request.x, 'init.kwargs.sigma_w2');
      const y = need('--y', request.y, 'model.kwargs.depth');
      const metric = need('--metric', request.metric, 'final.val_acc');
      checkKey('--x', x);
      checkKey('--y', y);
      const points = runPoints(runs, configs, metric, request.goal, (c) => ({ x: c[x], y: c[y] }));
      const options = { x, y, metric: columnOf(metric), logX: request.logX, logY: request.logY };
      if (request.theory === undefined) return heatmapSpec(points, options);
      const xs = points.map((p) => p.x);
      const ys = points.map((p) => p.y);
      if (!xs.every((v) => typeof v === 'number') || !ys.every((v) => typeof v === 'number')) {
        throw new UsageError(`--theory ${request.theory} needs numeric --x and --y values; ${x} or ${y} has other values`);
      }
      const extent = (values: number[], log: boolean): [number, number] => {
        const all = [...cellEdges(values, log).values()].flat();
        return [Math.min(...all), Math.max(...all)];
      };
      const line = chi1Boundary(configs, x, y, extent(xs, request.logX ?? false), extent(ys as number[], request.logY ?? false));
      return heatmapSpec(points, { ...options, lines: [line] });
    }
  }
}

/** `best.M` stays, `final.M` stays, a bare M means `final.M`. */
function columnOf(metric: string): string {
  return metric.startsWith('best.') || metric.startsWith('final.') ? metric : `final.${metric}`;
}

/** The runs having a finite value of `metric` (final.M, best.M or M) and the config values `pick` names. */
function runPoints(
  runs: readonly RunRecord[],
  configs: readonly Row[],
  metric: string,
  goal: Goal | undefined,
  pick: (config: Row) => { x: Row[string]; y?: Row[string] },
): RunPoint[] {
  const best = metric.startsWith('best.');
  const name = metric.replace(/^(best|final)\./, '');
  checkMetric(runs, name);
  const points: RunPoint[] = [];
  runs.forEach((run, i) => {
    const value = best ? bestOf(run, name, goal) : run.final[name];
    const { x, y } = pick(configs[i]!);
    if (value === undefined || !Number.isFinite(value) || x === undefined || x === null) return;
    const point: RunPoint = { run: run.path, x: plotValue(x), value };
    points.push(y === undefined ? point : { ...point, y: y === null ? 'null' : plotValue(y) });
  });
  if (points.length === 0) throw new UsageError(`no run has both a finite ${columnOf(metric)} and the config values asked for`);
  return points;
}

function checkMetric(runs: readonly RunRecord[], metric: string): void {
  if (runs.some((run) => metric in run.final)) return;
  const known = [...new Set(runs.flatMap((run) => Object.keys(run.final)))].sort();
  throw new UsageError(`--metric ${metric}: no run has this metric; use one of: ${known.join(', ') || '(none logged)'}`);
}

function withGroup(point: CurvePoint, group: string | undefined): CurvePoint {
  return group === undefined ? point : { ...point, group };
}

function plotValue(value: Row[string]): PlotValue {
  return typeof value === 'number' ? value : cellText(value);
}

function cellText(value: Row[string] | undefined): string {
  return value === undefined || value === null ? 'null' : String(value);
}

/** The run's folder: scan names runs by their path under dir, or by their own name when dir is the run folder. */
function runDir(dir: string, run: RunRecord): string {
  return isRunFolder(dir) ? dir : path.join(dir, run.path);
}

/** The rows of a run's metrics.jsonl, tolerantly: unparsable lines (a torn last line) are skipped. */
function readMetricRows(runDir: string): Record<string, unknown>[] {
  let text: string;
  try {
    text = fs.readFileSync(path.join(runDir, 'metrics.jsonl'), 'utf8');
  } catch {
    return [];
  }
  const rows: Record<string, unknown>[] = [];
  for (const line of text.split('\n')) {
    if (line.trim() === '') continue;
    try {
      const entry: unknown = JSON.parse(line);
      if (isObject(entry)) rows.push(entry);
    } catch {
      // scan's own reader already warned about it.
    }
  }
  return rows;
}
