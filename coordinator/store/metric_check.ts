/**
 * The sweep metric checked against what runs log. A native sweep's is checked when it is
 * expanded (lib/sweep/expand.ts); a program logs whatever it logs, so a program sweep's (and any
 * sweep's, as a second look) is checked when a run ends: the first run that ended having logged
 * metrics but not the sweep's records one warning on the sweep, with the nearest name it did log.
 */
import { closestName } from '../../lib/closest_name.js';
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
