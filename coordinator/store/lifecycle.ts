/**
 * The run lifecycle: leases, heartbeats, start, landing, reports, expired leases (and the
 * quarantine of agents that keep losing them), and the users' cancel and retry. Every move of a
 * run's state is looked up in TRANSITIONS (states.ts). Calls from agents carry {runId, attempt}
 * and are fenced (current): honoured only for the run's current attempt, held by the caller.
 */
import { UsageError } from '../../lib/errors.js';
import { NotFoundError, NotLandedError, StaleAttemptError } from '../errors.js';
import type { HostHealthData } from '../../proto/host_health.js';
import { touchAgent } from './agents.js';
import { recordHealth } from './health.js';
import { checkSweepMetric, checkSweepTarget } from './metric_check.js';
import { proposeRuns } from './proposals.js';
import { iso, requireRef, requireTtl, type StoreCore } from './core.js';
import { isHeld, nextState } from './states.js';
import {
  AVOID_LOSER_MS,
  DEFAULT_LEASE_TTL_MS,
  QUARANTINE_BASE_MS,
  QUARANTINE_LOSSES,
  QUARANTINE_MAX_MS,
  QUARANTINE_WINDOW_MS,
  REPORT_STATUSES,
  type ExpireResult,
  type LeasedRun,
  type RunRef,
  type RunReportIn,
  type RunRow,
  type RunState,
  type SweepKind,
} from './types.js';

/** See Store.lease. */
export function lease(core: StoreCore, agentId: string, max: number, leaseTtlMs: number, requestId: string, only: SweepKind | null = null): LeasedRun[] {
  requireTtl(leaseTtlMs);
  const { s } = core;
  return core.tx(() => {
    touchAgent(core, agentId);
    const out: LeasedRun[] = [];
    if (requestId) {
      const earlier = s.attemptsOfRequest.all(agentId, requestId);
      if (earlier.length > 0) {
        for (const a of earlier) {
          const r = s.getRun.get(a.run_id);
          if (r && r.attempt === a.attempt && r.agent_id === agentId && isHeld(r.state)) {
            out.push({ runId: r.id, attempt: r.attempt, sweep: r.sweep, name: r.name, configJson: r.config_json });
          }
        }
        return out;
      }
    }
    if (!(max >= 1)) return out;
    const now = core.now();
    const agent = s.getAgent.get(agentId)!;
    if (agent.quarantined_until !== null && agent.quarantined_until > now) return out;
    let othersCanTake: boolean | undefined;
    const avoid = (r: { id: string; attempt: number }): boolean => {
      if (r.attempt === 0) return false;
      const last = s.attemptOf.get(r.id, r.attempt);
      if (!last || last.outcome !== 'lost' || last.agent_id !== agentId || (last.ended_at ?? 0) < now - AVOID_LOSER_MS) return false;
      othersCanTake ??= s.otherLiveAgents.get(agentId, now - 2 * leaseTtlMs, now)! > 0;
      return othersCanTake;
    };
    // queuedOf selects the runs that nextState('lease', ...) moves: the queued ones.
    const take = () => {
      for (const sweep of s.sweepsWithQueued.all(only ?? '', only ?? '')) {
        const want = Math.floor(max) - out.length;
        if (want <= 0) break;
        for (const r of s.queuedOf.all(sweep, want + 64)) {
          if (out.length >= Math.floor(max)) break;
          if (avoid(r)) continue;
          const attempt = r.attempt + 1;
          s.leaseRun.run(attempt, agentId, now + leaseTtlMs, now, r.id);
          s.insertAttempt.run(r.id, attempt, agentId, now, requestId || null);
          core.event('run_leased', { sweep: r.sweep, runId: r.id, agentId, data: { attempt } });
          out.push({ runId: r.id, attempt, sweep: r.sweep, name: r.name, configJson: r.config_json });
        }
      }
    };
    take();
    // Open-ended sweeps fill what the others leave: their runs are made now, in this transaction
    // (proposals.ts), so a sweep submitted after one still gets its agents.
    if (out.length < Math.floor(max) && proposeRuns(core, Math.floor(max) - out.length, only) > 0) take();
    return out;
  });
}

/** The fencing check (see Store.checkCurrent), without a transaction of its own. */
export function current(core: StoreCore, ref: RunRef, agentId: string): RunRow {
  requireRef(ref);
  const row = core.s.getRun.get(ref.runId);
  if (!row) throw new NotFoundError(`no run ${ref.runId}`);
  const where = `${row.state}${row.agent_id ? ` on agent ${row.agent_id}` : ''}`;
  if (row.attempt !== ref.attempt) {
    throw new StaleAttemptError(
      `stale attempt: run ${row.id} attempt ${ref.attempt} was sent, but the run is at attempt ${row.attempt} (${where})`,
      row.id, ref.attempt, row.attempt, row.state,
    );
  }
  if (row.agent_id !== agentId) {
    throw new StaleAttemptError(
      `stale attempt: run ${row.id} attempt ${ref.attempt} is held by agent ${row.agent_id ?? '(none)'}, not ${agentId} (${row.state})`,
      row.id, ref.attempt, row.attempt, row.state,
    );
  }
  if (!isHeld(row.state)) {
    throw new StaleAttemptError(
      `stale attempt: run ${row.id} attempt ${ref.attempt} is over: the run is ${row.state}`,
      row.id, ref.attempt, row.attempt, row.state,
    );
  }
  return row;
}

/** See Store.recordLanded. */
export function recordLanded(core: StoreCore, ref: RunRef, agentId: string, files: number, bytes: number): void {
  core.tx(() => {
    const row = current(core, ref, agentId);
    core.s.setLanded.run(core.now(), files, bytes, row.id, row.attempt);
    core.event('run_landed', { sweep: row.sweep, runId: row.id, agentId, data: { attempt: row.attempt, files, bytes } });
  });
}

/** See Store.markStarted. */
export function markStarted(core: StoreCore, ref: RunRef, agentId: string): void {
  core.tx(() => {
    const row = current(core, ref, agentId);
    if (nextState('start', row.state) !== 'running') return; // running already: a repeat
    const now = core.now();
    core.s.startRun.run(now, now, row.id);
    core.s.startAttempt.run(now, row.id, row.attempt);
    core.event('run_started', { sweep: row.sweep, runId: row.id, agentId, data: { attempt: row.attempt } });
  });
}

/** See Store.heartbeat. */
export function heartbeat(
  core: StoreCore,
  agentId: string,
  refs: RunRef[],
  leaseTtlMs: number,
  health: HostHealthData | null,
): { cancel: RunRef[]; lost: RunRef[]; earlyStop: { ref: RunRef; reason: string }[] } {
  requireTtl(leaseTtlMs);
  return core.tx(() => {
    touchAgent(core, agentId);
    if (health) recordHealth(core, agentId, health);
    const now = core.now();
    const cancel: RunRef[] = [];
    const lost: RunRef[] = [];
    const earlyStop: { ref: RunRef; reason: string }[] = [];
    for (const ref of refs) {
      const row = typeof ref?.runId === 'string' ? core.s.getRun.get(ref.runId) : undefined;
      const ok = row && row.attempt === ref.attempt && row.agent_id === agentId && isHeld(row.state);
      if (!ok) {
        lost.push({ runId: ref.runId, attempt: ref.attempt });
        continue;
      }
      core.s.extendLease.run(now + leaseTtlMs, row.id);
      if (row.stop_reason !== null) earlyStop.push({ ref: { runId: row.id, attempt: row.attempt }, reason: row.stop_reason });
      else if (row.cancel_requested) cancel.push({ runId: row.id, attempt: row.attempt });
    }
    return { cancel, lost, earlyStop };
  });
}

/** See Store.finishRun. */
export function finishRun(core: StoreCore, ref: RunRef, agentId: string, report: RunReportIn): RunState {
  if (!REPORT_STATUSES.includes(report?.status)) {
    throw new UsageError(`run ${ref?.runId}: unknown report status ${JSON.stringify(report?.status)} (expected ${REPORT_STATUSES.join(' | ')})`);
  }
  const { s } = core;
  return core.tx(() => {
    // The same report again (its reply was lost on the way): answered alike, nothing changes.
    const done = typeof ref?.runId === 'string' && Number.isSafeInteger(ref?.attempt) ? s.attemptOf.get(ref.runId, ref.attempt) : undefined;
    if (done && done.agent_id === agentId && done.outcome === report.status) {
      const run = s.getRun.get(ref.runId)!;
      // A handed-back run may be at a later attempt already; the first answer said queued.
      return run.attempt === ref.attempt ? run.state : 'queued';
    }
    const row = current(core, ref, agentId);
    if (report.status === 'completed' || report.status === 'diverged' || report.status === 'stopped') {
      if (s.attemptOf.get(row.id, row.attempt)?.landed_at == null) {
        throw new NotLandedError(`run ${row.id} attempt ${row.attempt}: its run folder has not landed; upload it, then report`);
      }
    }
    const state = nextState(report.status, row.state, { cancelRequested: row.cancel_requested === 1, earlyStop: row.stop_reason !== null });
    if (state === null || state === 'cancel_requested') throw new Error(`store bug: no transition for ${report.status} from ${row.state}`);
    const now = core.now();
    // An early-stopped run's error column says why it was stopped (status shows it).
    const error = report.error ? report.error : state === 'early_stopped' ? row.stop_reason : null;
    s.endAttempt.run(now, report.status, error, row.id, row.attempt);
    if (state === 'queued') {
      s.requeue.run(now, row.id);
      core.event('run_requeued', { sweep: row.sweep, runId: row.id, agentId, data: { attempt: row.attempt, reason: 'handback' } });
      return 'queued';
    }
    s.finish.run(state, report.summaryJson ? report.summaryJson : null, error, now, now, row.id);
    // It ended on its own before the stop reached it (completed, failed): it was not stopped early.
    if (row.stop_reason !== null && state !== 'early_stopped') s.clearStopReason.run(row.id);
    core.event('run_finished', { sweep: row.sweep, runId: row.id, agentId, data: { attempt: row.attempt, state, status: report.status } });
    checkSweepMetric(core, row.sweep, row.name, report.summaryJson);
    if (state === 'completed' || state === 'diverged') checkSweepTarget(core, row.sweep, row.name, report.summaryJson);
    return state;
  });
}

/** See Store.expireLeases. */
export function expireLeases(core: StoreCore, leaseTtlMs: number | undefined, heard: (agentId: string) => boolean): ExpireResult {
  if (leaseTtlMs !== undefined) requireTtl(leaseTtlMs);
  const { s } = core;
  return core.tx(() => {
    const now = core.now();
    const result: ExpireResult = { requeued: [], failed: [], cancelled: [], agentsLost: [] };
    for (const row of s.expired.all(now)) {
      if (row.agent_id !== null && heard(row.agent_id)) {
        s.extendLease.run(now + (leaseTtlMs ?? DEFAULT_LEASE_TTL_MS), row.id);
        continue;
      }
      const ref = { runId: row.id, attempt: row.attempt };
      s.endAttempt.run(now, 'lost', 'lease expired: the agent stopped heartbeating', row.id, row.attempt);
      const lost = s.lostSinceRetry.get(row.id, row.retry_base)!;
      const base = { sweep: row.sweep, runId: row.id, agentId: row.agent_id };
      const state = nextState('lost', row.state, { cancelRequested: row.cancel_requested === 1, outOfAttempts: lost >= core.maxAttempts, earlyStop: row.stop_reason !== null });
      if (state === 'early_stopped') {
        // Asked to stop, then its agent vanished: stopped all the same, never run again.
        s.finish.run('early_stopped', null, row.stop_reason, now, now, row.id);
        core.event('run_finished', { ...base, data: { attempt: row.attempt, state: 'early_stopped', status: 'lost' } });
        result.cancelled.push(ref);
      } else if (state === 'cancelled') {
        s.finish.run('cancelled', null, null, now, now, row.id);
        core.event('run_finished', { ...base, data: { attempt: row.attempt, state: 'cancelled', status: 'lost' } });
        result.cancelled.push(ref);
      } else if (state === 'failed') {
        const error = `lost ${lost} times: its agent stopped heartbeating (max_attempts ${core.maxAttempts})`;
        s.finish.run('failed', null, error, now, now, row.id);
        core.event('run_finished', { ...base, data: { attempt: row.attempt, state: 'failed', status: 'lost', lost } });
        result.failed.push(ref);
      } else if (state === 'queued') {
        s.requeue.run(now, row.id);
        core.event('run_requeued', { ...base, data: { attempt: row.attempt, reason: 'lost', lost } });
        result.requeued.push(ref);
      } else {
        throw new Error(`store bug: no transition for a lost attempt from ${row.state}`);
      }
    }
    const losers = new Set([...result.requeued, ...result.failed, ...result.cancelled].map((r) => s.attemptOf.get(r.runId, r.attempt)!.agent_id));
    for (const id of losers) maybeQuarantine(core, id, now, leaseTtlMs ?? DEFAULT_LEASE_TTL_MS);
    if (leaseTtlMs !== undefined) {
      for (const id of s.silentAgents.all(now - 2 * leaseTtlMs)) {
        s.markAgentLost.run(now, id);
        core.event('agent_lost', { agentId: id });
        result.agentsLost.push(id);
      }
    }
    return result;
  });
}

/** Quarantines an agent whose leases expired at QUARANTINE_LOSSES moments within the window (see there). */
function maybeQuarantine(core: StoreCore, agentId: string, now: number, leaseTtlMs: number): void {
  const agent = core.s.getAgent.get(agentId);
  if (!agent || (agent.quarantined_until !== null && agent.quarantined_until > now)) return;
  const since = Math.max(now - QUARANTINE_WINDOW_MS, agent.quarantined_until ?? 0);
  // Losses less than a lease TTL after the previous one are the same moment (one stop of the host).
  let moments = 0;
  let previous = -Infinity;
  for (const t of core.s.lossTimes.all(agentId, since)) {
    if (t - previous > leaseTtlMs) moments++;
    previous = t;
  }
  if (moments < QUARANTINE_LOSSES) return;
  const level = agent.quarantine_level + 1;
  const period = Math.min(QUARANTINE_MAX_MS, Math.max(QUARANTINE_BASE_MS, 2 * leaseTtlMs) * 2 ** (level - 1));
  core.s.quarantine.run(now + period, level, agentId);
  core.event('agent_quarantined', { agentId, data: { until: iso(now + period), level, seconds: period / 1000 } });
}

// -----------------------------------------------------------------------------------------------
// Users: cancel, retry

/** The runs a target names: a sweep's (by idx) or one run's. */
function resolve(core: StoreCore, target: string): RunRow[] {
  if (typeof target !== 'string' || target === '') throw new UsageError('name a sweep or a run ("<sweep>/<run>")');
  if (core.s.getSweep.get(target)) return core.s.runsOfSweep.all(target);
  const run = core.s.getRun.get(target);
  if (run) return [run];
  throw new NotFoundError(`no sweep or run named ${target}`);
}

/** See Store.cancel. */
export function cancel(core: StoreCore, target: string): number {
  return core.tx(() => {
    const now = core.now();
    let n = 0;
    // A cancelled open-ended sweep makes no more runs.
    if (core.s.closeSweep.run(target).changes > 0) core.event('sweep_closed', { sweep: target, data: { reason: 'cancelled' } });
    for (const row of resolve(core, target)) {
      const base = { sweep: row.sweep, runId: row.id, agentId: row.agent_id };
      const to = nextState('cancel', row.state, { cancelRequested: row.cancel_requested === 1 });
      if (to === 'cancelled') {
        core.s.cancelNow.run(now, now, row.id);
        core.event('run_cancelled', { ...base, data: { attempt: row.attempt, pending: false } });
        n++;
      } else if (to === 'cancel_requested') {
        core.s.requestCancel.run(now, row.id);
        core.event('run_cancelled', { ...base, data: { attempt: row.attempt, pending: true } });
        n++;
      }
    }
    return n;
  });
}

/** See Store.retry. */
export function retry(core: StoreCore, target: string): number {
  return core.tx(() => {
    const now = core.now();
    let n = 0;
    for (const row of resolve(core, target)) {
      if (nextState('retry', row.state) !== 'queued') continue;
      core.s.retryRun.run(now, row.id);
      core.event('run_requeued', { sweep: row.sweep, runId: row.id, data: { attempt: row.attempt, reason: 'retry', was: row.state } });
      n++;
    }
    return n;
  });
}
