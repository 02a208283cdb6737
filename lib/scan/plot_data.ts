import fs from 'node:fs';
import path from 'node:path';
import { UsageError } from '../errors.js';
import { cellEdges, curvesSpec, heatmapSpec, scatterSpec, type CurvePoint, type CurveX, type PlotType, type PlotValue, type RunPoint } from './plot.js';
import { chi1Boundary, type Theory } from './plot_theory.js';
import { mergeProbeRows, readProbeRows, type ProbeRow } from './probe_rows.js';
import { unknownMetric } from './metric_names.js';
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
  /** layers: the probe step drawn, 'first' (default: at initialisation, where mean-field theory speaks) or 'last'. */
  readonly step?: number | 'first' | 'last';
}

/** The flags each plot type reads beyond --metric: any other is refused, never silently ignored. */
const USES: Record<PlotType, readonly (keyof PlotRequest)[]> = {
  curves: ['x', 'groupBy', 'logX', 'logY'],
  layers: ['groupBy', 'logX', 'logY', 'step'],
  scatter: ['x', 'groupBy', 'logX', 'logY', 'goal'],
  heatmap: ['x', 'y', 'logX', 'logY', 'theory', 'goal'],
};
const FLAG: Partial<Record<keyof PlotRequest, string>> = { x: '--x', y: '--y', groupBy: '--group-by', logX: '--log-x', logY: '--log-y', theory: '--theory', step: '--step', goal: '--goal' };

/**
 * The spec for `request` over `runs` (scan's runs, their `path` relative to `dir`). A flag the
 * type needs, a metric no run has or a config key no run has is a UsageError naming the fix.
 */
export function plotSpec(dir: string, runs: readonly RunRecord[], request: PlotRequest): TopLevelSpec {
  const need = (flag: string, value: string | undefined, example: string): string => {
    if (value === undefined) throw new UsageError(`--plot-type ${request.type} needs ${flag} (e.g. ${flag} ${example})`);
    return value;
  };
  if (request.theory !== undefined && request.type !== 'heatmap') {
    throw new UsageError(`--theory ${request.theory} draws over a heatmap: add --plot-type heatmap --x init.kwargs.sigma_w2 --y model.kwargs.depth`);
  }
  for (const [key, flag] of Object.entries(FLAG) as [keyof PlotRequest, string][]) {
    const given = request[key];
    if (given !== undefined && given !== false && !(Array.isArray(given) && given.length === 0) && !USES[request.type].includes(key)) {
      throw new UsageError(`${flag} does not apply to --plot-type ${request.type} (it reads ${['--metric', ...USES[request.type].map((k) => FLAG[k])].join(', ')}); leave it out`);
    }
  }
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

  switch (request.type) {
    case 'curves': {
      // A curve is the metric's logged values: final.M and best.M name the same curve as M.
      const metric = need('--metric', request.metric, 'val_loss').replace(/^(final|best)\./, '');
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
      const { kept, note } = positiveOnLogAxes(points, request, (p) => p.x, (p) => p.y);
      return curvesSpec(kept, { metric, xTitle: x, groupBy: groupTitle, logX: request.logX, logY: request.logY, note });
    }
    case 'layers': {
      const metric = need('--metric', request.metric, 'q');
      const pattern = new RegExp(`^${metric.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}_l(\\d+)$`);
      const which = request.step ?? 'first';
      const points: CurvePoint[] = [];
      const steps = new Set<number>();
      runs.forEach((run, i) => {
        const rows = readProbeRows(runDir(dir, run));
        const step = probeStep(rows, which);
        const merged = step === undefined ? null : mergeProbeRows(rows, step);
        for (const [key, value] of Object.entries(merged ?? {})) {
          const layer = pattern.exec(key)?.[1];
          if (layer !== undefined && Number.isFinite(value)) {
            points.push(withGroup({ run: run.path, x: Number(layer), y: value }, groupOf(i)));
            steps.add(step!);
          }
        }
      });
      if (points.length === 0) {
        const families = [...new Set(runs.flatMap((run) => [...run.probeMetrics].map((k) => /^(.+)_l\d+$/.exec(k)?.[1]).filter((k) => k !== undefined)))].sort();
        if (typeof which === 'number' && families.includes(metric)) throw new UsageError(`--step ${which}: no run has probe rows at that step; leave --step out for the first probe step, or --step last`);
        throw new UsageError(`--metric ${metric}: no run's probe rows have ${metric}_l1, ${metric}_l2, ...; use one of: ${families.join(', ') || '(no per-layer probe metrics)'}`);
      }
      const at = steps.size === 1 ? `step ${[...steps][0]}` : `the ${which} probe step`;
      const { kept, note } = positiveOnLogAxes(points, request, (p) => p.x, (p) => p.y);
      return curvesSpec(kept, { note, metric, xTitle: 'layer', groupBy: groupTitle, logX: request.logX, logY: request.logY, title: `${metric} by layer at ${at}` });
    }
    case 'scatter': {
      const x = need('--x', request.x, 'optimizer.kwargs.lr');
      const metric = need('--metric', request.metric, 'val_acc');
      checkKey('--x', x);
      const points = runPoints(runs, configs, metric, request.goal, (c) => ({ x: c[x] })).map((p) => ({ ...p, ...groupField(groupOf(runs.findIndex((r) => r.path === p.run))) }));
      const { kept, note } = positiveOnLogAxes(points, request, (p) => (typeof p.x === 'number' ? p.x : 1), (p) => p.value);
      return scatterSpec(kept, { x, metric: columnOf(metric), logX: request.logX, logY: request.logY, groupBy: groupTitle, note });
    }
    case 'heatmap': {
      const x = need('--x', request.x, 'init.kwargs.sigma_w2');
      const y = need('--y', request.y, 'model.kwargs.depth');
      const metric = need('--metric', request.metric, 'final.val_acc');
      checkKey('--x', x);
      checkKey('--y', y);
      const points = runPoints(runs, configs, metric, request.goal, (c) => ({ x: c[x], y: c[y] }));
      const options = { x, y, metric: columnOf(metric), logX: request.logX, logY: request.logY };
      for (const [flag, log, key, values] of [['--log-x', request.logX, x, points.map((p) => p.x)], ['--log-y', request.logY, y, points.map((p) => p.y)]] as const) {
        if (log && !values.every((v) => typeof v === 'number' && v > 0)) throw new UsageError(`${flag}: ${key} has values a log axis cannot show (text, zero or negative); leave ${flag} out`);
      }
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
  if (points.length === 0) {
    if (best && runs.some((run) => run.probeMetrics.has(name))) throw new UsageError(`--metric ${metric}: ${name} is a probe measurement, which has no best; use final.${name}`);
    throw new UsageError(`no run has both a finite ${columnOf(metric)} and the config values asked for`);
  }
  return points;
}

function checkMetric(runs: readonly RunRecord[], metric: string): void {
  if (runs.some((run) => metric in run.final)) return;
  throw unknownMetric('--metric', metric, [...new Set(runs.flatMap((run) => Object.keys(run.final)))]);
}

/**
 * The points a log axis can show (x > 0 under --log-x, y > 0 under --log-y) and, when some were
 * left out, a note saying how many; none left is a UsageError naming the flag to drop.
 */
function positiveOnLogAxes<P>(points: readonly P[], request: PlotRequest, x: (p: P) => number, y: (p: P) => number): { kept: P[]; note?: string } {
  const kept = points.filter((p) => (!request.logX || x(p) > 0) && (!request.logY || y(p) > 0));
  if (kept.length === points.length) return { kept };
  const flags = [request.logX ? '--log-x' : '', request.logY ? '--log-y' : ''].filter(Boolean).join(' and ');
  if (kept.length === 0) throw new UsageError(`${flags}: every point is at or below zero, which a log axis cannot show; leave ${flags} out`);
  return { kept, note: `${points.length - kept.length} of ${points.length} points at or below zero left out (${flags})` };
}

/** The probe step of `rows` that `which` names: the first, the last, or that step if a row has it. */
function probeStep(rows: readonly ProbeRow[], which: number | 'first' | 'last'): number | undefined {
  if (rows.length === 0) return undefined;
  const steps = rows.map((r) => r.step);
  if (which === 'first') return Math.min(...steps);
  if (which === 'last') return Math.max(...steps);
  return steps.includes(which) ? which : undefined;
}

function groupField(group: string | undefined): { group?: string } {
  return group === undefined ? {} : { group };
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
