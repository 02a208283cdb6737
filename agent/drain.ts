import type { RunTask } from './run_task.js';

/**
 * What an agent does with its runs when it drains (Ctrl-C, or SIGTERM: under SLURM,
 * `sbatch --signal=B:TERM@N` sends it N seconds before the job's time limit, for the job script
 * to pass on). No run is leased from then on, and runs leased ahead go back to the queue.
 *
 * Without a grace (--drain-grace 0, the default) every running run is stopped at once and handed
 * back: the coordinator queues it again, and a handback is not a lost attempt.
 *
 * With a grace of S seconds, a run whose own pace (RunProgress.endsWithin) says its training ends
 * within GRACE_SHARE·S keeps training, then lands and is reported as usual; every other run is
 * stopped and handed back at once, as is a program run (its length is unknown). A kept run still
 * training GRACE_SHARE·S after the drain began (its pace misled: the host slowed down) is stopped
 * then and handed back. The rest of the grace is the margin for what comes after training: the
 * kept runs' uploads and reports, and the late-stopped runs' last step, stop and handback.
 */

/**
 * The share of the grace that training may use: 0.75, leaving a quarter for the rest. A pace read
 * from the run's own steps is a prediction (a host that gets busy stretches it by tens of percent),
 * and the final upload of a run folder and its report take seconds; a quarter of a grace of a
 * minute or more (what one gives a SLURM job) covers both, and a run stopped at the deadline still
 * has that quarter to stop and be handed back before the scheduler's kill.
 */
export const GRACE_SHARE = 0.75;

export interface DrainOptions {
  /** What began the drain (SIGINT, SIGTERM), for the log line. */
  signal: string;
  /** --drain-grace, in seconds (0: every run stops at once). */
  graceSec: number;
  /** The runs training now. */
  training: RunTask[];
  /** The run is still training (its slot has not freed). */
  stillTraining: (task: RunTask) => boolean;
  log: (line: string) => void;
}

/** Splits the training runs into those that finish within the grace and those stopped now. */
export function planDrain(training: RunTask[], graceSec: number): { keep: RunTask[]; stop: RunTask[] } {
  const withinMs = GRACE_SHARE * graceSec * 1000;
  const finishes = (task: RunTask) => graceSec > 0 && !task.isProgram && task.progress.endsWithin(withinMs);
  return { keep: training.filter(finishes), stop: training.filter((task) => !finishes(task)) };
}

/**
 * Drains the training runs: stops those that will not finish within the grace (handed back when
 * they have stopped, run_task.ts), logs one line saying what the drain does, and stops the kept
 * ones still training when their share of the grace runs out. Returns a function that clears that
 * timer (when the agent is done).
 */
export function drainRuns(opts: DrainOptions): () => void {
  const { keep, stop } = planDrain(opts.training, opts.graceSec);
  for (const task of stop) task.stopForDrain();
  const hint = '(again to exit at once)';
  if (opts.graceSec <= 0) {
    opts.log(`${opts.signal}: draining: ${stop.length ? `stopping ${stop.length} run(s) and handing them back` : 'no run in progress'} ${hint}`);
    return () => {};
  }
  const parts = opts.training.length === 0 ? ['no run in progress'] : [`${keep.length} run(s) finish first${keep.length ? ` (${keep.map((t) => t.ref.runId).join(', ')})` : ''}`, `${stop.length} stopped and handed back`];
  opts.log(`${opts.signal}: draining with a grace of ${opts.graceSec} s: ${parts.join(', ')} ${hint}`);
  if (keep.length === 0) return () => {};
  const deadlineSec = GRACE_SHARE * opts.graceSec;
  const timer = setTimeout(() => {
    for (const task of keep.filter(opts.stillTraining)) {
      opts.log(`grace ran out for ${task.ref.runId} (still training ${+deadlineSec.toFixed(1)} s after the drain began): stopping it and handing it back`);
      task.stopForDrain();
    }
  }, deadlineSec * 1000);
  // The agent exits as soon as its runs are done: the timer keeps nothing alive.
  timer.unref();
  return () => clearTimeout(timer);
}
