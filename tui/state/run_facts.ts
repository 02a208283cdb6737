/**
 * Facts about one run that several views need, said once: the metric a sweep is judged by, how
 * long a run took (or has taken), and its latest and best value of a metric, from what the events
 * said while it ran and from its summary once it ended.
 */
import { higherIsBetter } from '../../lib/metric_goal.js';
import type { RunStatus__Output } from '../../proto/generated/dlphys/RunStatus.js';
import type { SweepStatus__Output } from '../../proto/generated/dlphys/SweepStatus.js';
import type { RunTrack } from './dash_data.js';
import { num, parseCached, type SummaryView } from './parse.js';

/** States of a run that has ended by itself (a cancelled run says nothing about how long runs take). */
export const ENDED_STATES: ReadonlySet<string> = new Set(['completed', 'diverged', 'failed']);
/** States of a run that is not over. */
export const ACTIVE_STATES: ReadonlySet<string> = new Set(['queued', 'leased', 'running']);

/** The metric a sweep is judged by and its direction (a sweep without one: loss, minimised). */
export interface SweepMetric {
  readonly name: string;
  readonly maximize: boolean;
}

/** The sweep's metric; its goal as the store keeps it ('max' | 'min') or as a sweep file says it ('maximize' | 'minimize'). */
export function sweepMetric(s: Pick<SweepStatus__Output, 'metric' | 'goal'> | undefined): SweepMetric {
  const name = s?.metric || 'loss';
  return { name, maximize: s?.goal ? s.goal === 'max' || s.goal === 'maximize' : higherIsBetter(name) };
}

/** The better of two values (null loses; NaN loses to any number). */
export function better(a: number | null, b: number | null, maximize: boolean): number | null {
  if (a === null || Number.isNaN(a)) return b ?? a;
  if (b === null || Number.isNaN(b)) return a;
  return maximize ? Math.max(a, b) : Math.min(a, b);
}

/**
 * How long the run has trained: run_started to run_finished (or to `coordNow` while it runs), else
 * its summary's wall time; null for a run that has not started.
 */
export function runDurationMs(run: RunStatus__Output, track: RunTrack | undefined, summary: SummaryView | null, coordNow: number): number | null {
  if (track?.startedAt != null) {
    if (track.finishedAt != null) return Math.max(0, track.finishedAt - track.startedAt);
    if (run.state === 'running' || run.state === 'leased') return Math.max(0, coordNow - track.startedAt);
  }
  return summary?.wallTime != null ? summary.wallTime * 1000 : null;
}

/** The run's best value of `metric` so far: the best the events showed, or its summary's best. */
export function runBest(track: RunTrack | undefined, summary: SummaryView | null, metric: SweepMetric): number | null {
  const seen = track ? (metric.maximize ? track.max[metric.name] : track.min[metric.name]) : undefined;
  return better(seen ?? null, summary?.best[metric.name] ?? null, metric.maximize);
}

/** The run's latest value of `metric`: the last the events showed, else its summary's final value. */
export function runLatest(track: RunTrack | undefined, summary: SummaryView | null, metric: string): number | null {
  return track?.latest[metric] ?? summary?.final[metric] ?? null;
}

/** Steps each sweep's runs train for (its base config's train.steps), where known: sweep name → steps. */
export type SweepSteps = Readonly<Record<string, number>>;

/**
 * How many steps the run trains for: its own swept `train.steps`, else its sweep's, else what its
 * summary says it ran (a finished run); null when nothing says (a program run logs no total).
 */
export function runTotalSteps(run: RunStatus__Output, summary: SummaryView | null, sweepSteps: number | undefined): number | null {
  return num(parseCached(run.params_json)['train.steps']) ?? sweepSteps ?? (run.state === 'completed' ? summary?.steps ?? null : null);
}
