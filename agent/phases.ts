import fs from 'node:fs';
import type { RunnerMarks } from './runner/protocol.js';

/**
 * Where a run's time goes on an agent, from asking for its lease to its report, for benchmarks
 * (bench/sweep.ts, bench/orchestrator.ts): with DLPHYS_PHASES_FILE set, the agent appends one JSON
 * line per reported run holding these marks (Date.now(), ms; the runner's are on the same clock).
 */
export interface RunPhases {
  run: string;
  attempt: number;
  agent: string;
  slot: number;
  /** The Lease call that brought the run: sent, and answered. */
  lease_sent: number;
  leased: number;
  /** The job handed to the runner (after it was ready). */
  job_sent?: number;
  /** The runner's marks: received, data, model, trained (a dlphys run that ended normally). */
  runner?: RunnerMarks;
  /** The runner said the run was done; its folder had landed; the coordinator took the report. */
  done?: number;
  uploaded?: number;
  reported?: number;
}

/** Appends `phases` to DLPHYS_PHASES_FILE when it is set; a failure to write is not the run's. */
export function recordPhases(phases: RunPhases, file: string | undefined = process.env.DLPHYS_PHASES_FILE): void {
  if (!file) return;
  try {
    fs.appendFileSync(file, JSON.stringify(phases) + '\n');
  } catch {
    // A benchmark's bookkeeping never fails a run.
  }
}
