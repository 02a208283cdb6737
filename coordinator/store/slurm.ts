/**
 * SLURM job arrays of agents the coordinator submitted (coordinator/slurm/), and what squeue or
 * sacct last said of their tasks: the rows `status` and the dashboard show (pending in the queue
 * vs an agent running), and the job ids `cancel` and `--exit-when-done` hand to scancel.
 */
import type Database from 'better-sqlite3';
import { NotFoundError } from '../errors.js';
import type { StoreCore } from './core.js';

/** One array task as squeue or sacct reports it. */
export interface SlurmTaskRow {
  task_id: string;
  /** SLURM's state name (PENDING, RUNNING, COMPLETED, TIMEOUT, CANCELLED, ...), or ENDED. */
  state: string;
  /** Why it is pending (squeue %r), '' otherwise. */
  reason: string;
  node: string;
}

/** One submitted job array as status shows it. */
export interface SlurmJobRow {
  job_id: string;
  sweep: string;
  array_size: number;
  script: string;
  submitted_at: number;
  /** Still polled: some task may be in the queue. */
  active: boolean;
  error: string;
  tasks: SlurmTaskRow[];
}

/** SLURM states in which a task has left the queue for good (squeue stops listing it soon after). */
export const ENDED_STATES = new Set([
  'COMPLETED', 'CANCELLED', 'FAILED', 'TIMEOUT', 'NODE_FAIL', 'PREEMPTED', 'BOOT_FAIL', 'DEADLINE', 'OUT_OF_MEMORY', 'ENDED',
]);

/** Records a submitted job array; its tasks are PENDING until the first poll says otherwise. */
export function recordSlurmJob(core: StoreCore, job: { jobId: string; sweep: string; arraySize: number; script: string }): void {
  core.tx(() => {
    if (core.db.prepare('SELECT 1 FROM sweeps WHERE name = ?').get(job.sweep) === undefined) throw new NotFoundError(`no sweep ${job.sweep}`);
    const now = core.now();
    core.db
      .prepare('INSERT INTO slurm_jobs (job_id, sweep, array_size, script, submitted_at) VALUES (?, ?, ?, ?, ?)')
      .run(job.jobId, job.sweep, job.arraySize, job.script, now);
    const task = core.db.prepare("INSERT INTO slurm_tasks (job_id, task_id, state, updated_at) VALUES (?, ?, 'PENDING', ?)");
    for (let i = 0; i < job.arraySize; i++) task.run(job.jobId, String(i), now);
    core.event('slurm_submitted', { sweep: job.sweep, data: { job_id: job.jobId, array_size: job.arraySize, script: job.script } });
  });
}

/**
 * What one poll found of `jobId`'s tasks: `seen` the tasks squeue (or sacct) listed; tasks it did
 * not list and that were not over are marked `ENDED` when `gone` (squeue no longer knows the job
 * and there is no accounting to ask). The job stops being polled once every task is over.
 * An event is recorded only when something changed (the dashboard redraws on it).
 */
export function updateSlurmTasks(core: StoreCore, jobId: string, seen: SlurmTaskRow[], opts: { gone: boolean; error: string }): void {
  core.tx(() => {
    const job = core.db.prepare<[string], { sweep: string; error: string | null }>('SELECT sweep, error FROM slurm_jobs WHERE job_id = ?').get(jobId);
    if (!job) return;
    const now = core.now();
    const old = new Map(
      core.db
        .prepare<[string], SlurmTaskRow>('SELECT task_id, state, reason, node FROM slurm_tasks WHERE job_id = ?')
        .all(jobId)
        .map((t) => [t.task_id, t]),
    );
    const upsert = core.db.prepare(
      `INSERT INTO slurm_tasks (job_id, task_id, state, reason, node, updated_at) VALUES (?, ?, ?, ?, ?, ?)
       ON CONFLICT (job_id, task_id) DO UPDATE SET state = excluded.state, reason = excluded.reason, node = excluded.node, updated_at = excluded.updated_at`,
    );
    let changed = (job.error ?? '') !== opts.error;
    const listed = new Set<string>();
    for (const t of seen) {
      listed.add(t.task_id);
      const before = old.get(t.task_id);
      if (before && before.state === t.state && before.reason === t.reason && before.node === t.node) continue;
      upsert.run(jobId, t.task_id, t.state, t.reason, t.node, now);
      changed = true;
    }
    if (opts.gone) {
      for (const [id, t] of old) {
        if (listed.has(id) || ENDED_STATES.has(t.state)) continue;
        upsert.run(jobId, id, 'ENDED', '', t.node, now);
        changed = true;
      }
    }
    const states = core.db.prepare<[string], string>('SELECT state FROM slurm_tasks WHERE job_id = ?').pluck().all(jobId);
    const over = states.length > 0 && states.every((s) => ENDED_STATES.has(s));
    core.db.prepare('UPDATE slurm_jobs SET error = ?, active = ? WHERE job_id = ?').run(opts.error || null, over ? 0 : 1, jobId);
    if (changed) core.event('slurm_tasks', { sweep: job.sweep, data: { job_id: jobId, over } });
  });
}

/** The task ids of `jobId` not known to have ended. */
export function openSlurmTasks(core: StoreCore, jobId: string): string[] {
  return core.db
    .prepare<[string], { task_id: string; state: string }>('SELECT task_id, state FROM slurm_tasks WHERE job_id = ?')
    .all(jobId)
    .filter((t) => !ENDED_STATES.has(t.state))
    .map((t) => t.task_id);
}

/** The jobs still polled, oldest first; of one sweep when `sweep` is given. */
export function activeSlurmJobs(core: StoreCore, sweep?: string): { job_id: string; sweep: string; array_size: number }[] {
  const sql = `SELECT job_id, sweep, array_size FROM slurm_jobs WHERE active = 1 ${sweep === undefined ? '' : 'AND sweep = ?'} ORDER BY submitted_at, job_id`;
  return core.db.prepare<unknown[], { job_id: string; sweep: string; array_size: number }>(sql).all(...(sweep === undefined ? [] : [sweep]));
}

/**
 * Every job array with its tasks, oldest first (status shows them); of one sweep when given.
 * `core` may be a read-only view of the file (the dashboard's): a database from before SLURM
 * support has none.
 */
export function slurmJobs(core: { db: Database.Database }, sweep?: string): SlurmJobRow[] {
  if (core.db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'slurm_jobs'").get() === undefined) return [];
  const sql = `SELECT job_id, sweep, array_size, script, submitted_at, active, error FROM slurm_jobs ${sweep === undefined ? '' : 'WHERE sweep = ?'} ORDER BY submitted_at, job_id`;
  const tasks = core.db.prepare<[string], SlurmTaskRow>('SELECT task_id, state, reason, node FROM slurm_tasks WHERE job_id = ? ORDER BY CAST(task_id AS INTEGER), task_id');
  return core.db
    .prepare<unknown[], Omit<SlurmJobRow, 'active' | 'error' | 'tasks'> & { active: number; error: string | null }>(sql)
    .all(...(sweep === undefined ? [] : [sweep]))
    .map((j) => ({ ...j, active: j.active === 1, error: j.error ?? '', tasks: tasks.all(j.job_id) }));
}
