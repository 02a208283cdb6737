/** Agents: register (with the secret each later call must carry), authenticate, goodbye. */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { UsageError } from '../../lib/errors.js';
import { AlreadyExistsError, NotFoundError, PermissionDeniedError } from '../errors.js';
import type { StoreCore } from './core.js';
import { MIN_SECRET_LENGTH, type AgentInfo } from './types.js';

function sha256(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

/** Constant-time comparison of two hex digests of equal length. */
function sameDigest(a: string, b: string): boolean {
  const x = Buffer.from(a, 'hex');
  const y = Buffer.from(b, 'hex');
  return x.length === y.length && x.length > 0 && timingSafeEqual(x, y);
}

/** See Store.registerAgent. */
export function registerAgent(core: StoreCore, a: AgentInfo, secret: string, leaseTtlMs: number): string {
  if (typeof a?.id !== 'string' || a.id === '') throw new UsageError('an agent needs a non-empty id');
  const { s } = core;
  return core.tx(() => {
    const now = core.now();
    const old = s.getAgent.get(a.id);
    const own = old?.secret_hash != null && secret !== '' && sameDigest(sha256(secret), old.secret_hash);
    const live = old && old.left_at === null && now - old.last_heartbeat <= 2 * leaseTtlMs;
    if (old && !own && (live || s.heldBy.get(a.id)! > 0)) {
      throw new AlreadyExistsError(`agent id ${a.id} belongs to a live agent; an agent registers under an id of its own`);
    }
    const granted = own || secret.length >= MIN_SECRET_LENGTH ? secret : randomBytes(24).toString('base64url');
    s.upsertAgent.run({
      id: a.id,
      host: a.host ?? '',
      gpus_json: JSON.stringify(a.gpus ?? []),
      slots: a.slots ?? 1,
      version: a.version ?? '',
      backend: a.backend ?? '',
      slurm_job: a.slurmJob || null,
      now,
    });
    s.setSecret.run(sha256(granted), a.id);
    // An array task whose agent registers is running, whatever the last squeue poll said.
    const task = /^(\d+)_(\d+)$/.exec(a.slurmJob ?? '');
    if (task) core.db.prepare("UPDATE slurm_tasks SET state = 'RUNNING', reason = '', updated_at = ? WHERE job_id = ? AND task_id = ? AND state = 'PENDING'").run(now, task[1], task[2]);
    core.event('agent_registered', { agentId: a.id, data: { host: a.host, gpus: a.gpus ?? [], slots: a.slots, version: a.version, backend: a.backend, ...(a.slurmJob ? { slurm_job: a.slurmJob } : {}) } });
    return granted;
  });
}

/** See Store.authenticateAgent. */
export function authenticateAgent(core: StoreCore, agentId: string, secret: string): void {
  const agent = core.s.getAgent.get(agentId);
  if (!agent) throw new NotFoundError(`no agent ${agentId}: register first`);
  if (agent.secret_hash === null || !secret || !sameDigest(sha256(secret), agent.secret_hash)) {
    throw new PermissionDeniedError(`this call is not from agent ${agentId}: it lacks the secret that agent was given at Register`);
  }
}

/** See Store.goodbye. */
export function goodbye(core: StoreCore, agentId: string): void {
  core.tx(() => {
    if (core.s.leaveAgent.run(core.now(), agentId).changes === 0) throw new NotFoundError(`no agent ${agentId}`);
    core.event('agent_left', { agentId });
  });
}

/** Inside a transaction: counts as a heartbeat of the agent; NotFoundError for an unknown one. */
export function touchAgent(core: StoreCore, agentId: string): void {
  const info = core.s.touchAgent.run(core.now(), agentId);
  if (info.changes === 0) throw new NotFoundError(`no agent ${agentId}: register first`);
}
