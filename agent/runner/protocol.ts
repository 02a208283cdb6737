import type { RunSummary } from '../../lib/run/run_folder.js';

/** Agent -> runner child, over the fork IPC channel. */
export type ToRunner =
  | { type: 'run'; config: Record<string, unknown>; runsDir: string; name: string }
  | { type: 'stop'; reason: string };

/** Runner child -> agent. */
export type FromRunner =
  | { type: 'ready'; backend: string }
  | { type: 'metrics'; line: string }
  | { type: 'done'; summary: RunSummary | null; error: string | null };
