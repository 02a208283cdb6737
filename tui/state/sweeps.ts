/**
 * The sweeps pane's numbers, derived from DashData at a given time: runs per state, runs finished
 * per minute, the time left, and the best run so far by the sweep's metric.
 */
import { coordinatorNow, type DashData } from './dash_data.js';
import { parseSummary } from './parse.js';
import { better, ENDED_STATES, runBest, runDurationMs, runTotalSteps, sweepMetric, type SweepMetric, type SweepSteps } from './run_facts.js';

/** Runs finished in this window make the rate. */
export const RATE_WINDOW_MS = 5 * 60_000;
/** A rate over less time than this would jump about (the first run to finish would read as 60/min). */
const MIN_RATE_SPAN_MS = 30_000;

/** A sweep as the sweeps pane shows it. */
export interface SweepView {
  readonly name: string;
  readonly total: number;
  /** Runs per state (every state of coordinator/run_states.ts, 0 where none). */
  readonly counts: Readonly<Record<string, number>>;
  readonly metric: SweepMetric;
  /** Runs that ended in the last few minutes, per minute; null before any started. */
  readonly runsPerMin: number | null;
  /** Time left at the current concurrency, in ms; null when it cannot be told (nothing runs, no duration known). */
  readonly etaMs: number | null;
  readonly best: { readonly value: number; readonly runId: string; readonly name: string } | null;
  /** No run queued, leased or running. */
  readonly done: boolean;
  /** The coordinator's word on the sweep metric (no run logged it), or ''. */
  readonly warning: string;
}

function rate(data: DashData, sweep: string, now: number): number | null {
  const start = data.sweepStart[sweep];
  if (start === undefined) return null;
  const span = Math.max(MIN_RATE_SPAN_MS, Math.min(RATE_WINDOW_MS, now - start));
  const from = now - span;
  let n = 0;
  for (let i = data.finishes.length - 1; i >= 0; i--) {
    const f = data.finishes[i]!;
    if (f.time <= from) break;
    if (f.sweep === sweep) n++;
  }
  return n / (span / 60_000);
}

/** One sweep's view; `now` is local epoch ms. */
function sweepView(data: DashData, s: StatusSweep, now: number, steps: SweepSteps): SweepView {
  const coordNow = coordinatorNow(data, now);
  const metric = sweepMetric(s);
  const counts = { ...s.states };
  const active = (counts.queued ?? 0) + (counts.leased ?? 0) + (counts.running ?? 0);
  const runs = (data.status?.runs ?? []).filter((r) => r.sweep === s.name);
  let best: SweepView['best'] = null;
  const durations: number[] = [];
  const elapsed: number[] = [];
  const projected: number[] = [];
  for (const r of runs) {
    const track = data.runs.get(r.id);
    const summary = parseSummary(r.summary_json);
    const b = runBest(track, summary, metric);
    if (b !== null && Number.isFinite(b) && (best === null || better(b, best.value, metric.maximize) !== best.value)) {
      best = { value: b, runId: r.id, name: r.name };
    }
    const d = runDurationMs(r, track, summary, coordNow);
    if (d === null) continue;
    if (ENDED_STATES.has(r.state)) durations.push(d);
    else if (r.state === 'running') {
      elapsed.push(d);
      // A running run's own pace, for when none has finished yet: elapsed × total / step.
      const total = runTotalSteps(r, summary, steps[s.name]);
      if (track?.step && total) projected.push((d * total) / track.step);
    }
  }
  const mean = (xs: number[]) => (xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : null);
  const perRun = mean(durations) ?? mean(projected);
  const concurrency = (counts.leased ?? 0) + (counts.running ?? 0);
  let etaMs: number | null = null;
  if (active === 0) etaMs = 0;
  else if (perRun !== null && concurrency > 0) {
    const left = elapsed.map((e) => Math.max(0, perRun - e));
    const work = (counts.queued ?? 0) * perRun + left.reduce((a, b) => a + b, 0) + ((counts.leased ?? 0) * perRun);
    // The last wave cannot end before the slowest running run does.
    etaMs = Math.max(work / concurrency, ...left);
  }
  return {
    name: s.name,
    total: s.total,
    counts,
    metric,
    runsPerMin: rate(data, s.name, coordNow),
    etaMs,
    best,
    done: active === 0,
    warning: s.warning ?? '',
  };
}

type StatusSweep = NonNullable<DashData['status']>['sweeps'][number];

/** Every sweep of the snapshot, in its order (oldest first); `now` is local epoch ms. */
export function sweepViews(data: DashData, now: number, steps: SweepSteps = {}): SweepView[] {
  return (data.status?.sweeps ?? []).map((s) => sweepView(data, s, now, steps));
}
