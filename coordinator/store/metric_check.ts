/**
 * The sweep metric checked against what runs log, and against its target. A native sweep's is checked when it is
 * expanded (lib/sweep/expand.ts); a program logs whatever it logs, so a program sweep's (and any
 * sweep's, as a second look) is checked when a run ends: the first run that ended having logged
 * metrics but not the sweep's records one warning on the sweep, with the nearest name it did log.
 */
import { closestName } from '../../lib/closest_name.js';
import { summaryMetric } from '../../lib/metric_goal.js';
import type { StoreCore } from './core.js';

/** Inside the transaction that records the run's end; `summaryJson` is its summary.json. */
export function checkSweepMetric(core: StoreCore, sweep: string, run: string, summaryJson: string): void {
  const row = core.s.sweepMetricOf.get(sweep);
  if (!row?.metric_name || row.warning !== null || !summaryJson) return;
  let logged: string[];
  try {
    const summary = JSON.parse(summaryJson) as { final?: Record<string, unknown>; best?: Record<string, unknown> };
    logged = [...new Set([...Object.keys(summary.final ?? {}), ...Object.keys(summary.best ?? {})])];
  } catch {
    return;
  }
  // A run that logged nothing says nothing about the metric's name (it failed first, say).
  if (logged.length === 0 || logged.includes(row.metric_name)) return;
  const metric = row.metric_name;
  const hint = closestName(metric, logged) ?? logged.find((k) => k.startsWith(metric) || metric.startsWith(k));
  const warning =
    `metric "${row.metric_name}" was not logged by run ${run}, which logged ${logged.slice(0, 8).join(', ')}${logged.length > 8 ? ', ...' : ''}` +
    `${hint ? `; did you mean "${hint}"?` : ''} (runs cannot be ranked by it: fix metric.name in the sweep file)`;
  if (core.s.setWarning.run(warning, sweep).changes > 0) core.event('sweep_warning', { sweep, data: { warning } });
}

/**
 * W&B's metric.target: the first run that ends having reached it (its best value of the sweep
 * metric at or below a minimised target, at or above a maximised one) finishes the sweep: its
 * queued runs are cancelled and no more are made; running ones finish. Inside the transaction that
 * records the run's end.
 */
export function checkSweepTarget(core: StoreCore, sweep: string, run: string, summaryJson: string): void {
  const row = core.s.sweepMetricOf.get(sweep);
  if (!row?.metric_name || row.finished_reason !== null || !summaryJson) return;
  const target = (JSON.parse(row.spec_json) as { metric?: { target?: unknown } }).metric?.target;
  if (typeof target !== 'number') return;
  const max = row.metric_goal === 'max';
  let value: number | null;
  try {
    value = summaryMetric(JSON.parse(summaryJson) as Parameters<typeof summaryMetric>[0], row.metric_name, max ? 'max' : 'min');
  } catch {
    return;
  }
  if (value === null) return;
  if (max ? value < target : value > target) return;
  const reason = `run ${run} reached ${row.metric_name} ${value} ${max ? '>=' : '<='} target ${target}`;
  core.s.finishSweep.run(reason, sweep);
  const now = core.now();
  for (const id of core.s.queuedIdsOf.all(sweep)) {
    core.s.cancelNow.run(now, now, id);
    core.event('run_cancelled', { sweep, runId: id, data: { pending: false, reason: 'metric target reached' } });
  }
  core.event('sweep_finished', { sweep, data: { reason } });
}
