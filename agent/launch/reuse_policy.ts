import type { RunSummary } from '../../lib/run/run_folder.js';
import type { RunnerHeld } from '../runner/protocol.js';

/**
 * When a runner process that has just trained a run may train the next one. Reuse is the default
 * (tfjs, the backend and the compiled kernels load once per process, ~1 s of CPU, not once per
 * run, as Ray Tune reuses its actors); isolation is kept by retiring a process whenever its last
 * run could have left something behind for the next one.
 */
export interface ReusePolicy {
  /** dlphys runs one process trains before it is replaced; 1: a fresh process for every run. */
  maxRuns: number;
  /** A process this old (ms since it was spawned) takes no further run. */
  maxAgeMs: number;
  /**
   * Resident memory may grow this much (MiB) over what the process held after its first run: the
   * first run sizes tfjs's pools and the wasm heap (which never shrinks), later ones should not.
   */
  rssGrowthMb: number;
}

export const DEFAULT_REUSE: ReusePolicy = { maxRuns: 50, maxAgeMs: 60 * 60_000, rssGrowthMb: 1024 };

/** What the policy looks at: the process's history and its last run. */
export interface RunnerRecord {
  /** dlphys runs it has trained, the last one included. */
  runs: number;
  ageMs: number;
  /** What it held when it became ready, before any run. */
  atReady: RunnerHeld;
  /** What it held after its first run (the memory baseline). */
  afterFirst: RunnerHeld | null;
  /** The last run: its summary, its error, what the process held after it (absent: a program run). */
  last: { summary: RunSummary | null; error: string | null; held?: RunnerHeld };
}

/**
 * Why the process must not take another run, in words for the agent's log ("the run failed"), or
 * null when it may. A run that failed or diverged, a tensor count above the one at ready (tfjs
 * tensors outlive a run only through a leak: trainRun disposes the model, optimizer and data), or
 * memory grown past the policy retire it, as do its run count and age.
 */
export function retireReason(record: RunnerRecord, policy: ReusePolicy): string | null {
  const { last } = record;
  if (last.error !== null) return 'its last run failed';
  const status = last.summary?.status;
  if (status === 'failed' || status === 'diverged') return `its last run ${status}`;
  if (last.held) {
    if (last.held.tensors > record.atReady.tensors) {
      return `its last run left ${last.held.tensors - record.atReady.tensors} tensor(s) allocated`;
    }
    const base = record.afterFirst?.rssMb;
    if (base !== undefined && last.held.rssMb - base > policy.rssGrowthMb) {
      return `its memory grew from ${Math.round(base)} MiB to ${Math.round(last.held.rssMb)} MiB`;
    }
  }
  if (record.runs >= policy.maxRuns) return `it has trained ${record.runs} run(s) (--runs-per-process ${policy.maxRuns})`;
  if (record.ageMs >= policy.maxAgeMs) return `it is ${Math.round(record.ageMs / 60_000)} minute(s) old (--runner-max-minutes ${Math.round(policy.maxAgeMs / 60_000)})`;
  return null;
}
