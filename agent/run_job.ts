import { isProgramJob } from '../lib/sweep/program_sweep.js';
import { ProgramSetupError, type ProgramHost } from './program_host.js';
import type { RunJob } from './runner/protocol.js';

/**
 * What a runner is given for a leased run: its config for dlphys's trainer, or its program with
 * where and how it runs on this host (code fetched, interpreter, wandb); a string, the reason,
 * when the program cannot run here.
 */
export async function runJob(
  programs: ProgramHost,
  config: Record<string, unknown>,
  where: { runsDir: string; name: string; sweep: string; runId: string },
): Promise<RunJob | string> {
  if (!isProgramJob(config)) return trainerJob(config, where);
  try {
    const setup = await programs.prepare(config);
    return { type: 'program', job: config, ...where, ...setup };
  } catch (err) {
    if (err instanceof ProgramSetupError) return err.message;
    throw err;
  }
}

/** The job of a dlphys run (not a program run): its config, for dlphys's trainer. */
export function trainerJob(config: Record<string, unknown>, where: { runsDir: string; name: string }): RunJob {
  return { type: 'run', config, runsDir: where.runsDir, name: where.name };
}

/** `json` parsed, when it is a JSON object; else null. */
export function parseObject(json: string): Record<string, unknown> | null {
  try {
    const value: unknown = JSON.parse(json);
    return value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : null;
  } catch {
    return null;
  }
}
