/**
 * SLURM's own commands (sbatch, squeue, sacct, scancel), run as child processes without blocking
 * the coordinator's event loop, their output parsed. SLURM has no stable library interface; these
 * commands and their --parsable / -o formats are what every SLURM tool relies on.
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { UsageError } from '../../lib/errors.js';
import type { SlurmTaskRow } from '../store/slurm.js';

/** A SLURM command longer than this is given up (a slurmctld that does not answer). */
const TIMEOUT_MS = 30_000;
/** sbatch waits on a busy slurmctld (it retries itself): longer, since giving up does not mean nothing was submitted. */
const SBATCH_TIMEOUT_MS = 120_000;

/** A SLURM command failed: `missing` when it is not installed here. */
export class SlurmCommandError extends Error {
  constructor(
    message: string,
    readonly missing: boolean,
  ) {
    super(message);
  }
}

/**
 * Checked before a sweep is recorded for --slurm, so that a host without SLURM's commands gets
 * one line and no half-made sweep. UsageError naming the fix.
 */
export function requireSbatch(env: NodeJS.ProcessEnv = process.env): void {
  const found = (env.PATH ?? '').split(path.delimiter).some((dir) => {
    try {
      fs.accessSync(path.join(dir || '.', 'sbatch'), fs.constants.X_OK);
      return true;
    } catch {
      return false;
    }
  });
  if (!found) throw new UsageError('sbatch is not on PATH: run dlphys-coord on a SLURM login or head node (or install slurm-client), or drop --slurm and start agents by hand');
}

/** The coordinator's environment without its token: sbatch exports the environment to the job (--export=ALL). */
function slurmEnv(): NodeJS.ProcessEnv {
  const env = { ...process.env };
  delete env.DLPHYS_TOKEN;
  return env;
}

function run(cmd: string, args: string[], timeoutMs = TIMEOUT_MS): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(cmd, args, { timeout: timeoutMs, maxBuffer: 16 * 1024 * 1024, encoding: 'utf8', env: slurmEnv() }, (err, stdout, stderr) => {
      if (!err) return resolve(stdout);
      const e = err as NodeJS.ErrnoException & { killed?: boolean };
      if (e.code === 'ENOENT') return reject(new SlurmCommandError(`${cmd} is not on PATH: run dlphys-coord on a SLURM login or head node (or install slurm-client)`, true));
      const said = (stderr || stdout).trim().split('\n').slice(-2).join(' | ');
      reject(new SlurmCommandError(`${cmd} ${e.killed ? `did not answer within ${timeoutMs / 1000} s` : `failed${said ? `: ${said}` : ''}`}`, false));
    });
  });
}

/** `sbatch --parsable FILE`: the job id. A missing sbatch is a UsageError (the user's fix is where they run). */
export async function sbatch(file: string): Promise<string> {
  let out: string;
  try {
    out = await run('sbatch', ['--parsable', file], SBATCH_TIMEOUT_MS);
  } catch (err) {
    // sbatch killed while waiting may still have submitted: say so, with how to find it.
    if (err instanceof SlurmCommandError && /did not answer/.test(err.message)) throw new UsageError(`${err.message}; the job may have been submitted all the same: squeue --me --name=<dlphys-SWEEP> shows it`);
    if (err instanceof SlurmCommandError) throw new UsageError(err.message);
    throw err;
  }
  // "<id>" or "<id>;<cluster>".
  const id = out.trim().split(';')[0]!;
  if (!/^\d+$/.test(id)) throw new UsageError(`sbatch answered ${JSON.stringify(out.trim())}, not a job id`);
  return id;
}

/**
 * `sbatch --test-only SCRIPT`: SLURM checks the job (partition, account, limits, the script's
 * #SBATCH lines) and submits nothing. UsageError with sbatch's words when it refuses.
 */
export async function sbatchTestOnly(script: string): Promise<void> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dlphys-sbatch-'));
  const file = path.join(dir, 'check.sbatch');
  try {
    fs.writeFileSync(file, script);
    await run('sbatch', ['--test-only', file]);
  } catch (err) {
    if (err instanceof SlurmCommandError) throw new UsageError(`sbatch refused the job: ${err.message.replace(/^sbatch failed: /, '')}`);
    throw err;
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** scancel of the given jobs (all their tasks); `pendingOnly`: only the tasks still waiting in the queue. */
export async function scancel(jobIds: string[], pendingOnly = false): Promise<void> {
  if (jobIds.length === 0) return;
  await run('scancel', [...(pendingOnly ? ['--state=PENDING'] : []), ...jobIds]);
}

/**
 * The tasks of `jobId` that squeue lists (array tasks one per line); `gone` when squeue no longer
 * knows the job (it left the queue more than MinJobAge ago).
 */
export async function squeueTasks(jobId: string): Promise<{ tasks: SlurmTaskRow[]; gone: boolean }> {
  let out: string;
  try {
    // %i is "<array job>_<task>" (a pending task too, with -r). Not %A/%a: squeue 22.05 prints a
    // task's own job id and "(null)" for them in this format.
    out = await run('squeue', ['-h', '-r', '-j', jobId, '-o', '%i|%T|%r|%N']);
  } catch (err) {
    if (err instanceof SlurmCommandError && /Invalid job id/i.test(err.message)) return { tasks: [], gone: true };
    throw err;
  }
  const tasks = parseRows(out).map(([id, state, reason, node]) => ({
    task_id: id!.includes('_') ? id!.split('_')[1]!.replace(/[[\]]/g, '') : '0',
    state: state!,
    // squeue says "None" for a running task's reason.
    reason: state === 'PENDING' && reason !== 'None' ? reason! : '',
    node: node ?? '',
  }));
  return { tasks, gone: tasks.length === 0 };
}

/**
 * The final states sacct recorded for `jobId`'s tasks; null where there is no accounting (sacct
 * then says so), in which case a task that left the queue is only known to have ended.
 */
export async function sacctTasks(jobId: string): Promise<SlurmTaskRow[] | null> {
  let out: string;
  try {
    out = await run('sacct', ['-n', '-P', '-X', '-j', jobId, '-o', 'JobID,State,NodeList']);
  } catch (err) {
    if (err instanceof SlurmCommandError) return null;
    throw err;
  }
  return parseRows(out)
    .filter(([id]) => /^\d+_\d+$/.test(id!) || /^\d+$/.test(id!))
    .map(([id, state, node]) => ({ task_id: id!.includes('_') ? id!.split('_')[1]! : '0', state: state!.split(' ')[0]!, reason: '', node: node ?? '' }));
}

function parseRows(out: string): string[][] {
  return out
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '')
    .map((l) => l.split('|'));
}
