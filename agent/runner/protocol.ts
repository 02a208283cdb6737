import type { RunSummary } from '../../lib/run/run_folder.js';
import type { ProgramRunMessage } from './program_run.js';

/** A run for the runner: dlphys's trainer on a config, or a program sweep's program. */
export type RunJob = { type: 'run'; config: Record<string, unknown>; runsDir: string; name: string } | ProgramRunMessage;

/** Agent -> runner child, over the fork IPC channel. */
export type ToRunner = RunJob | { type: 'stop'; reason: string };

/** Runner child -> agent. */
export type FromRunner =
  | { type: 'ready'; backend: string }
  | { type: 'metrics'; line: string }
  /** A program run's program started: its pid is its process group's id, which the agent kills if this process dies. */
  | { type: 'program_pid'; pid: number }
  | { type: 'done'; summary: RunSummary | null; error: string | null };
