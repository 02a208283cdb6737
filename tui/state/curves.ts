/**
 * A run's metrics.jsonl lines (RunDetail's metric_lines) as curves over steps, and which curves
 * share a chart: a metric and its validation twin (loss and val_loss) are drawn together.
 */
import { BOOKKEEPING_KEYS } from '../../lib/metric_goal.js';
import type { RunDetail } from '../source.js';
import type { DashData } from './dash_data.js';
import { parseObject } from './parse.js';

/** A curve: [step, value] pairs, in the order logged. */
export type Points = readonly (readonly [number, number])[];
/** Metric name → [step, value] in the order logged. */
export type Curves = ReadonlyMap<string, Points>;

/** Every numeric field of the lines, by name, over `step` (the line's index where it has none); a torn line is skipped. */
export function curvesFromLines(lines: readonly string[]): Curves {
  const out = new Map<string, [number, number][]>();
  lines.forEach((line, i) => {
    const o = parseObject(line);
    const step = typeof o.step === 'number' ? o.step : i;
    for (const [k, v] of Object.entries(o)) {
      if (BOOKKEEPING_KEYS.has(k) || typeof v !== 'number') continue;
      let points = out.get(k);
      if (!points) out.set(k, (points = []));
      points.push([step, v]);
    }
  });
  return out;
}

/** The name a metric shares with its validation twin: val_loss → loss. */
export function baseName(metric: string): string {
  return metric.startsWith('val_') ? metric.slice(4) : metric;
}

/** The metrics grouped one chart each: [loss, val_loss], [acc, val_acc], [lr]; in first-logged order, training first. */
export function chartGroups(metrics: Iterable<string>): string[][] {
  const groups = new Map<string, string[]>();
  for (const m of metrics) {
    const base = baseName(m);
    const g = groups.get(base) ?? [];
    g.push(m);
    groups.set(base, g);
  }
  return [...groups.values()].map((g) => g.sort((a, b) => Number(a.startsWith('val_')) - Number(b.startsWith('val_'))));
}

/** A run's curves as the events carried them (bounded samples, tui/state/series.ts), for when its lines are not at hand. */
export function sampledCurves(data: DashData, runId: string): Curves {
  const series = data.runs.get(runId)?.series ?? {};
  return new Map(Object.entries(series).map(([k, s]): [string, Points] => [k, s.points]));
}

/**
 * A detail's curves, parsed once per reply: the views redraw many times a second, and a long
 * run has tens of thousands of lines.
 */
const ofDetail = new WeakMap<RunDetail, Curves>();

/** curvesFromLines of the detail's metric lines, remembered for that reply. */
export function detailCurves(detail: RunDetail): Curves {
  let c = ofDetail.get(detail);
  if (!c) ofDetail.set(detail, (c = curvesFromLines(detail.metric_lines)));
  return c;
}
