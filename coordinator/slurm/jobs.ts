/**
 * The coordinator's side of SLURM: writes a sweep's job array script under
 * `<runs-dir>/<sweep>/slurm/`, submits it, records the job, polls squeue (and sacct, where
 * accounting exists) for its tasks' states, and scancels the jobs of a cancelled sweep, and the
 * tasks still pending once every sweep has finished. A job's agents serve any sweep of this
 * coordinator, as hand-started agents do; the job belongs to the sweep it was submitted for.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { UsageError } from '../../lib/errors.js';
import { packagePath } from '../../lib/package_dir.js';
import { version } from '../../lib/version.js';
import { writeFileAtomic } from '../../lib/write_file_atomic.js';
import { readTokenFile } from '../../lib/cli/token_file.js';
import { isLoopback } from '../listen_options.js';
import type { Store } from '../store/index.js';
import { sacctTasks, sbatch, scancel, squeueTasks } from './commands.js';
import { MAX_DEFAULT_ARRAY, type SlurmOptions } from './options.js';
import { sbatchScript } from './script.js';

export interface SlurmJobsOptions {
  store: Store;
  runsDir: string;
  log: (line: string) => void;
  /** Where this coordinator listens (the port once it is known). */
  host: string;
  /** The coordinator's token and the file it came from, if any: the agents read that file (slurmTokenFile). */
  token?: string;
  tokenFile?: string;
  /** How often squeue is asked about active jobs (ms). */
  pollMs?: number;
}

export interface Submitted {
  jobId: string;
  scriptPath: string;
  script: string;
  warnings: string[];
}

/** squeue every 10 s: states change on SLURM's own scheduling cycle, and slurmctld serves many users. */
const DEFAULT_POLL_MS = 10_000;

/**
 * The SLURM job arrays of one coordinator: submits them (submit), polls their tasks while any may
 * be queued or running (one squeue per active job every pollMs; sacct only for tasks that have
 * just left the queue), and scancels them (cancelSweep, cancelPending). One per coordinator
 * process; it resumes polling the jobs a previous process left active.
 */
export class SlurmJobs {
  private port = 0;
  private timer: NodeJS.Timeout | null = null;
  private polling: Promise<void> | null = null;
  private stopped = false;
  private readonly pollMs: number;

  constructor(private readonly opts: SlurmJobsOptions) {
    this.pollMs = opts.pollMs ?? (Number(process.env.DLPHYS_SLURM_POLL_MS) || DEFAULT_POLL_MS);
  }

  /** The coordinator listens on `port`: jobs may be submitted, and polling starts. */
  listening(port: number): void {
    this.port = port;
    this.schedule(0);
  }

  /**
   * Writes and (unless `dryRun`) submits a job array of agents for `sweep`. UsageError for a sweep
   * with no runs left, options that cannot work, or a missing sbatch (nothing is left behind then).
   */
  async submit(sweep: string, options: SlurmOptions, dryRun = false): Promise<Submitted> {
    const status = this.opts.store.status(sweep);
    const row = status.sweeps[0];
    if (!row) throw new UsageError(`no sweep ${sweep} in this coordinator; dlphys-coord status lists its sweeps`);
    // An open-ended sweep makes its runs as agents ask: as many agents as the default allows.
    const open = this.opts.store.sweepIsOpen(sweep);
    const left = open ? Infinity : (row.states.queued ?? 0) + (row.states.leased ?? 0) + (row.states.running ?? 0);
    if (left === 0 && !dryRun) throw new UsageError(`sweep ${sweep} has no runs left to run; dlphys-coord retry ${sweep} queues its failed runs again`);
    const tokenFile = slurmTokenFile(this.opts.token, this.opts.tokenFile);
    const plan = planJob(options, { sweep, runsLeft: left, host: this.opts.host, port: this.port, runsDir: this.opts.runsDir, tokenFile });
    const { script, scriptPath, arraySize, warnings } = plan;
    if (dryRun) return { jobId: '', scriptPath, script, warnings };
    fs.mkdirSync(plan.dir, { recursive: true });
    writeFileAtomic(scriptPath, script, 'check the runs dir is writable');
    let jobId: string;
    try {
      jobId = await sbatch(scriptPath);
    } catch (err) {
      // Not submitted: no script pretends it was.
      fs.rmSync(scriptPath, { force: true });
      throw err;
    }
    this.opts.store.recordSlurmJob({ jobId, sweep, arraySize, script: scriptPath });
    this.opts.log(`sweep ${sweep}: SLURM job ${jobId} submitted (${arraySize} agent(s); ${scriptPath})`);
    for (const w of warnings) this.opts.log(`warning: ${w}`);
    this.schedule(0);
    return { jobId, scriptPath, script, warnings };
  }

  /** Job arrays submitted for `sweep` that may still be queued or running. */
  activeJobs(sweep: string): string[] {
    return this.opts.store.activeSlurmJobs(sweep).map((j) => j.job_id);
  }

  /**
   * scancel of every job submitted for `sweep` that may still be queued or running; the number of
   * jobs. Pending tasks go at once; running agents get TERM and drain (hand back their runs, of
   * this sweep and any other they serve) before SLURM's KillWait ends them.
   */
  async cancelSweep(sweep: string): Promise<number> {
    const jobs = this.opts.store.activeSlurmJobs(sweep).map((j) => j.job_id);
    if (jobs.length === 0) return 0;
    try {
      await scancel(jobs);
      this.opts.log(`sweep ${sweep}: scancel ${jobs.join(' ')}`);
    } catch (err) {
      this.opts.log(`sweep ${sweep}: could not cancel SLURM job(s) ${jobs.join(' ')}: ${(err as Error).message}`);
    }
    this.schedule(0);
    return jobs.length;
  }

  /** Every run of every sweep has finished: the array tasks still waiting in the queue would start agents with nothing to do. */
  async cancelPending(): Promise<void> {
    const jobs = this.opts.store.activeSlurmJobs().map((j) => j.job_id);
    if (jobs.length === 0) return;
    try {
      await scancel(jobs, true);
      this.opts.log(`every run has finished: pending tasks of SLURM job(s) ${jobs.join(' ')} cancelled`);
    } catch (err) {
      this.opts.log(`could not cancel the pending tasks of SLURM job(s) ${jobs.join(' ')}: ${(err as Error).message}`);
    }
  }

  /** Stops polling (after the poll in progress, if any). */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    await this.polling;
  }

  private schedule(ms: number): void {
    if (this.stopped || this.port === 0) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => void this.poll(), ms);
    this.timer.unref();
  }

  /** One round of squeue (then sacct for tasks that left the queue) over the active jobs. */
  private async poll(): Promise<void> {
    if (this.polling) return void this.polling.then(() => this.schedule(0));
    this.polling = (async () => {
      for (const { job_id: jobId, array_size: size } of this.opts.store.activeSlurmJobs()) {
        if (this.stopped) return;
        try {
          // squeue lists every task from submission (pending ones too, with -r) until it has
          // ended: one it does not list has left the queue, and sacct (where accounting exists)
          // says how; without accounting it is only known to have ended.
          const q = await squeueTasks(jobId);
          const listed = new Set(q.tasks.map((t) => t.task_id));
          const missing = this.opts.store.openSlurmTasks(jobId).filter((id) => !listed.has(id));
          const ended = missing.length > 0 && listed.size < size ? await this.finalStates(jobId, listed) : [];
          this.opts.store.updateSlurmTasks(jobId, [...q.tasks, ...ended], { gone: true, error: '' });
        } catch (err) {
          this.opts.store.updateSlurmTasks(jobId, [], { gone: false, error: (err as Error).message });
        }
      }
    })().finally(() => {
      this.polling = null;
    });
    await this.polling;
    this.schedule(this.pollMs);
  }

  /** sacct's final states of `jobId`'s tasks not in `listed`; [] without accounting. */
  private async finalStates(jobId: string, listed: Set<string>): Promise<{ task_id: string; state: string; reason: string; node: string }[]> {
    const done = await sacctTasks(jobId);
    return (done ?? []).filter((t) => !listed.has(t.task_id) && t.state !== 'PENDING' && t.state !== 'RUNNING');
  }
}

/**
 * The script for a job array of `ctx.runsLeft` runs' agents and where it goes: with the token file
 * its agents read (the coordinator's own, or `writeToken`, one to write beside the script), and
 * what the user should know (an address compute nodes cannot reach).
 */
export function planJob(
  o: SlurmOptions,
  ctx: { sweep: string; runsLeft: number; host: string; port: number; runsDir: string; tokenFile?: string | undefined },
): { script: string; scriptPath: string; dir: string; arraySize: number; warnings: string[] } {
  const warnings: string[] = [];
  let coord = o.advertise;
  if (isLoopback(ctx.host)) {
    warnings.push(
      `this coordinator listens on ${ctx.host}: only agents on this host can reach it; for compute nodes, start it with --host 0.0.0.0 --token-file FILE (and --advertise HOST:PORT if they know it by another name)`,
    );
    coord ??= `127.0.0.1:${ctx.port}`;
  }
  // A wildcard listener is reached by this host's name; a given address by itself.
  coord ??= `${ctx.host === '0.0.0.0' || ctx.host === '::' ? os.hostname() : ctx.host}:${ctx.port}`;
  const dir = path.resolve(ctx.runsDir, ctx.sweep, 'slurm');
  const tokenFile = ctx.tokenFile !== undefined ? path.resolve(ctx.tokenFile) : undefined;
  const arraySize = o.arraySize ?? Math.max(1, Math.min(ctx.runsLeft, MAX_DEFAULT_ARRAY));
  const script = sbatchScript(o, {
    sweep: ctx.sweep,
    arraySize,
    coord,
    ...(tokenFile !== undefined ? { tokenFile } : {}),
    dir,
    node: process.execPath,
    agentBin: packagePath('bin', 'dlphys-agent.js'),
    version,
  });
  return { script, scriptPath: path.join(dir, `agents-${nextIndex(dir)}.sbatch`), dir, arraySize, warnings };
}

/** 1 + the highest N of the agents-N.sbatch scripts in `dir`. */
function nextIndex(dir: string): number {
  let max = 0;
  try {
    for (const f of fs.readdirSync(dir)) {
      const m = /^agents-(\d+)\.sbatch$/.exec(f);
      if (m) max = Math.max(max, Number(m[1]));
    }
  } catch {
    // no folder yet
  }
  return max + 1;
}

/**
 * The token file a job's agents read: the one the coordinator's token came from. UsageError when
 * the coordinator has a token that is not in a file (given by --token or DLPHYS_TOKEN): a job
 * script must not carry the secret, and the agents must read the same one.
 */
export function slurmTokenFile(token: string | undefined, tokenFile: string | undefined): string | undefined {
  if (token === undefined) return undefined;
  if (tokenFile !== undefined && readTokenFile(tokenFile) === token) return path.resolve(tokenFile);
  throw new UsageError('--slurm needs the coordinator\'s token in a file the agents read too: give it as --token-file FILE (not --token or DLPHYS_TOKEN)');
}
