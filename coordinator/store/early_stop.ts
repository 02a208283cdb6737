/**
 * Early termination as a sweep's metric rows arrive: each attempt's values of the sweep metric are
 * kept in order (metric_values), and a run in progress whose rows just arrived is judged by the
 * sweep's rule (lib/sweep/early_terminate.ts) against every run's values at the same iteration. A
 * run the rule stops is asked to stop, with why (rule, band, value, cut) in stop_reason: its agent
 * hears it at its next heartbeat, and the run ends early_stopped (states.ts), never to run again.
 * All inside the transaction that stores the rows, so a restarted coordinator decides alike.
 */
import { earlyStop, describeStop, parseEarlyTerminate, type EarlyTerminate } from '../../lib/sweep/early_terminate.js';
import type { StoreCore } from './core.js';
import { isHeld } from './states.js';
import type { RunRow } from './types.js';

interface Rule {
  config: EarlyTerminate;
  metric: string;
  goal: 'min' | 'max';
}

/** Each store's sweeps' rules (a sweep never changes once recorded); null: none. */
const rules = new WeakMap<StoreCore, Map<string, Rule | null>>();

function ruleOf(core: StoreCore, sweep: string): Rule | null {
  let bySweep = rules.get(core);
  if (!bySweep) rules.set(core, (bySweep = new Map()));
  if (!bySweep.has(sweep)) {
    const row = core.s.sweepMetricOf.get(sweep);
    const spec = row ? (JSON.parse(row.spec_json) as { early_terminate?: unknown }) : {};
    let rule: Rule | null = null;
    if (row?.metric_name && spec.early_terminate !== undefined) {
      try {
        rule = { config: parseEarlyTerminate(spec.early_terminate, `sweep ${sweep}`), metric: row.metric_name, goal: row.metric_goal === 'max' ? 'max' : 'min' };
      } catch {
        // Checked when the sweep was expanded; one recorded by an older dlphys is left alone.
      }
    }
    bySweep.set(sweep, rule);
  }
  return bySweep.get(sweep)!;
}

/**
 * Records the sweep-metric values of rows just stored for `run`'s current attempt (the parsed
 * rows, in the order logged) and, if the run is in progress, applies the sweep's rule to it.
 */
export function checkEarlyStop(core: StoreCore, run: RunRow, rows: unknown[]): void {
  const rule = ruleOf(core, run.sweep);
  if (!rule) return;
  const { s } = core;
  let n = s.metricValueCount.get(run.id, run.attempt)!;
  let added = 0;
  for (const row of rows) {
    const v = (row as Record<string, unknown>)[rule.metric];
    // W&B's metric_history(filter_invalid=True): NaN and non-numbers are not iterations.
    if (typeof v !== 'number' || !Number.isFinite(v)) continue;
    s.insertMetricValue.run(run.id, run.attempt, n++, v);
    added++;
  }
  if (added === 0 || !isHeld(run.state) || run.stop_reason !== null || run.cancel_requested) return;
  const history = s.metricValuesOf.all(run.id, run.attempt);
  const decision = earlyStop(rule.config, rule.goal, history, (i) => s.metricValuesAt.all(run.sweep, i - 1), history.length - added);
  if (!decision) return;
  const reason = describeStop(decision, rule.metric);
  s.setStopReason.run(reason, core.now(), run.id);
  core.event('run_early_stopping', { sweep: run.sweep, runId: run.id, agentId: run.agent_id, data: { attempt: run.attempt, ...decision, reason } });
}
