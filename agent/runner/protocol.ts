import type { RunSummary } from '../../lib/run/run_folder.js';
import type { RunMarks } from '../../lib/run/train_run.js';
import type { ProgramRunMessage } from './program_run.js';

/** A run for the runner: dlphys's trainer on a config, or a program sweep's program. */
export type RunJob = { type: 'run'; config: Record<string, unknown>; runsDir: string; name: string } | ProgramRunMessage;

/** Agent -> runner child, over the fork IPC channel. */
/** A stop names its run: one that arrives after that run ended (a late cancel) must not stop the next. */
export type ToRunner =
  | RunJob
  | { type: 'stop'; reason: string; run: string }
  /**
   * A dlphys run leased while another trains here: built now (data, model, folder), so that it
   * starts training the moment it is sent as a run. Unprepared when it will not run here.
   */
  | PrepareJob
  | { type: 'unprepare'; runsDir: string; name: string };

/** A dlphys run's job, to be prepared ahead. */
export type PrepareJob = Omit<Extract<RunJob, { type: 'run' }>, 'type'> & { type: 'prepare' };

/**
 * What a runner holds between runs, read when it is ready and after each run: the agent replaces
 * a runner whose run left tensors allocated or grew its memory (agent/launch/reuse_policy.ts).
 */
export interface RunnerHeld {
  /** tf.memory().numTensors (0 without a backend). */
  tensors: number;
  /** process.memoryUsage().rss, in MiB. */
  rssMb: number;
}

/** Runner child -> agent. */
export type FromRunner =
  | { type: 'ready'; backend: string; held: RunnerHeld }
  | { type: 'metrics'; line: string }
  /** A program run's program started: its pid is its process group's id, which the agent kills if this process dies. */
  | { type: 'program_pid'; pid: number }
  /** `held` is read after a dlphys run (not after a program run, whose program is a process of its own). */
  | { type: 'done'; summary: RunSummary | null; error: string | null; held?: RunnerHeld; marks?: RunnerMarks };

/**
 * When (Date.now(), ms) the runner received a dlphys run (to prepare ahead, or to train), was told
 * to train it (`go`: the same moment unless it was prepared ahead), and when each phase ended.
 */
export interface RunnerMarks extends RunMarks {
  received: number;
  go?: number;
}
