/**
 * The coordinator's truth: sweeps, runs, attempts, agents, metric rows and events in one SQLite
 * file (see schema.ts). Every public method that changes anything is one IMMEDIATE transaction,
 * committed with synchronous=FULL before it returns: a coordinator killed at any moment and
 * reopened on the same file continues where it was and has lost nothing it acknowledged.
 *
 * Runs go queued -> leased -> running -> completed | diverged | failed | cancelled. Every call
 * about a run from an agent carries {runId, attempt} and is fenced (checkCurrent): it is honoured
 * only when that attempt is the run's current one, held by the calling agent, and still leased or
 * running; anything else throws StaleAttemptError, so a run is recorded once even when its lease
 * expired and another agent took it over.
 */
import type Database from 'better-sqlite3';
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { UsageError } from '../lib/errors.js';
import { ACTIVE_STATES, RUN_STATES, TERMINAL_STATES, openDatabase, schemaVersion, type RunState } from './schema.js';
import { AlreadyExistsError, NotFoundError, NotLandedError, PermissionDeniedError, StaleAttemptError } from './store_errors.js';
import { MAX_METRIC_LINE_BYTES, MAX_SEQ, checkName } from './bounds.js';
import { EventLog, compactMetrics, type EventRow } from './events.js';
import type { AgentStatus__Output as AgentStatus } from '../proto/generated/dlphys/AgentStatus.js';
import type { RunStatus__Output as RunStatus } from '../proto/generated/dlphys/RunStatus.js';
import type { SweepStatus__Output as SweepStatus } from '../proto/generated/dlphys/SweepStatus.js';
import type { ExpandedRun, ExpandedSweep } from '../lib/sweep/index.js';

export { AlreadyExistsError, NotFoundError, NotLandedError, PermissionDeniedError, StaleAttemptError } from './store_errors.js';
export type { AgentStatus, RunStatus, SweepStatus, RunState };

export type { ExpandedRun, ExpandedSweep };

/** One attempt of one run; runId is "<sweep>/<run name>". */
export interface RunRef {
  runId: string;
  attempt: number;
}

export interface LeasedRun extends RunRef {
  sweep: string;
  name: string;
  /** The run's full resolved ExperimentConfig, as JSON. */
  configJson: string;
}

export interface AgentInfo {
  id: string;
  host: string;
  gpus: string[];
  slots: number;
  version: string;
  backend: string;
}

export type ReportStatus = 'completed' | 'diverged' | 'stopped' | 'failed' | 'handback';
export const REPORT_STATUSES: readonly ReportStatus[] = ['completed', 'diverged', 'stopped', 'failed', 'handback'];

/** One metrics.jsonl line; seq numbers an attempt's lines from 1 (a string is accepted: proto int64). */
export interface MetricRowIn {
  seq: number | string;
  line: string;
}

export interface MetricBatchIn {
  ref: RunRef;
  agentId: string;
  rows: MetricRowIn[];
}

export type MetricBatchResult = { ok: true; acked: number } | { ok: false; error: Error };

export interface RunReportIn {
  status: ReportStatus;
  summaryJson: string;
  error: string;
}

/** A row of the runs table. */
export interface RunRow {
  id: string;
  sweep: string;
  idx: number;
  name: string;
  params_json: string;
  config_json: string;
  state: RunState;
  attempt: number;
  agent_id: string | null;
  lease_expires_at: number | null;
  cancel_requested: number;
  retry_base: number;
  summary_json: string | null;
  error: string | null;
  created_at: number;
  updated_at: number;
  started_at: number | null;
  ended_at: number | null;
}

export type { EventRow };

export interface StatusReport {
  sweeps: SweepStatus[];
  agents: AgentStatus[];
  runs: RunStatus[];
}

export interface ExpireResult {
  /** Lost attempts whose run went back to the queue (the next lease is a new attempt). */
  requeued: RunRef[];
  /** Lost attempts whose run had been lost max_attempts times since its last retry: now failed. */
  failed: RunRef[];
  /** Lost attempts of runs a user had asked to cancel: now cancelled, not requeued. */
  cancelled: RunRef[];
  /** Agents newly recorded as lost (only when expireLeases was given the lease TTL). */
  agentsLost: string[];
}

export interface StoreOptions {
  /** Lost attempts (since the last retry) after which a run fails instead of being requeued. Default 3. */
  maxAttempts?: number;
  /** The clock, ms since the epoch (tests inject one). */
  now?: () => number;
}

export const DEFAULT_MAX_ATTEMPTS = 3;
/** Shortest secret an agent may propose at Register (proto/wire.ts newAgentSecret makes 32). */
export const MIN_SECRET_LENGTH = 32;
/**
 * Quarantine: an agent whose leases expired at QUARANTINE_LOSSES separate moments within
 * QUARANTINE_WINDOW_MS gets no lease for QUARANTINE_BASE_MS (or 2 lease TTLs, if longer), doubled
 * at each further quarantine up to QUARANTINE_MAX_MS. A host that flaps (stops, resumes) would
 * otherwise take every requeued run again and use up its attempts.
 */
export const QUARANTINE_LOSSES = 2;
export const QUARANTINE_WINDOW_MS = 10 * 60_000;
export const QUARANTINE_BASE_MS = 30_000;
export const QUARANTINE_MAX_MS = 30 * 60_000;
/** A run lost by an agent is not leased to that agent again for this long, while another live agent could take it. */
export const AVOID_LOSER_MS = 10 * 60_000;
/** Used by status() when no TTL is given: an agent is alive when it heartbeated within 2 TTL. */
export const DEFAULT_LEASE_TTL_MS = 30_000;

const TERMINAL = new Set<string>(TERMINAL_STATES);

function sha256(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

/** Constant-time comparison of two hex digests of equal length. */
function sameDigest(a: string, b: string): boolean {
  const x = Buffer.from(a, 'hex');
  const y = Buffer.from(b, 'hex');
  return x.length === y.length && x.length > 0 && timingSafeEqual(x, y);
}

function iso(ms: number | null): string {
  return ms === null ? '' : new Date(ms).toISOString();
}

function requireRef(ref: RunRef): void {
  if (typeof ref?.runId !== 'string' || ref.runId === '') throw new UsageError('a run reference needs a run id');
  if (!Number.isSafeInteger(ref.attempt) || ref.attempt < 1) {
    throw new UsageError(`run ${ref.runId}: attempt must be an integer >= 1, got ${String(ref.attempt)}`);
  }
}

function requireTtl(ttl: number, what = 'lease TTL'): void {
  if (!Number.isFinite(ttl) || ttl <= 0) throw new UsageError(`${what} must be a positive number of milliseconds, got ${String(ttl)}`);
}

/** step and split of a metrics.jsonl line; nulls (and no error) when the line does not parse. */
function parseLine(line: string): { step: number | null; split: string | null; value: unknown } {
  try {
    const value: unknown = JSON.parse(line);
    if (value === null || typeof value !== 'object' || Array.isArray(value)) return { step: null, split: null, value: null };
    const o = value as Record<string, unknown>;
    const step = typeof o.step === 'number' && Number.isFinite(o.step) ? o.step : null;
    const split = typeof o.split === 'string' ? o.split : null;
    return { step, split, value };
  } catch {
    return { step: null, split: null, value: null };
  }
}

type Listener = (events: EventRow[]) => void;

export class Store {
  readonly file: string;
  readonly maxAttempts: number;
  private readonly db: Database.Database;
  private readonly now: () => number;
  private readonly listeners = new Set<Listener>();
  private pending: EventRow[] = [];
  private inTx = false;
  private readonly s;
  private readonly events: EventLog;

  static open(file: string, options: StoreOptions = {}): Store {
    return new Store(file, options);
  }

  constructor(file: string, options: StoreOptions = {}) {
    const maxAttempts = options.maxAttempts ?? DEFAULT_MAX_ATTEMPTS;
    if (!Number.isSafeInteger(maxAttempts) || maxAttempts < 1) throw new UsageError(`max_attempts must be an integer >= 1, got ${maxAttempts}`);
    this.file = file;
    this.maxAttempts = maxAttempts;
    this.now = options.now ?? Date.now;
    this.db = openDatabase(file);
    const db = this.db;
    this.events = new EventLog(db);
    this.s = {
      getSweep: db.prepare<[string], { name: string; spec_hash: string }>('SELECT name, spec_hash FROM sweeps WHERE name = ?'),
      insertSweep: db.prepare(
        'INSERT INTO sweeps (name, spec_json, spec_hash, method, metric_name, metric_goal, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)',
      ),
      insertRun: db.prepare(
        `INSERT INTO runs (id, sweep, idx, name, params_json, config_json, state, attempt, created_at, updated_at)
         VALUES (?, ?, ?, ?, ?, ?, 'queued', 0, ?, ?)`,
      ),
      countRuns: db.prepare<[string], number>('SELECT count(*) FROM runs WHERE sweep = ?').pluck(),
      getRun: db.prepare<[string], RunRow>('SELECT * FROM runs WHERE id = ?'),
      upsertAgent: db.prepare(
        `INSERT INTO agents (id, host, gpus_json, slots, version, backend, registered_at, last_heartbeat, lost_at)
         VALUES (@id, @host, @gpus_json, @slots, @version, @backend, @now, @now, NULL)
         ON CONFLICT (id) DO UPDATE SET host = excluded.host, gpus_json = excluded.gpus_json, slots = excluded.slots,
           version = excluded.version, backend = excluded.backend, registered_at = excluded.registered_at,
           last_heartbeat = excluded.last_heartbeat, lost_at = NULL, left_at = NULL`,
      ),
      leaveAgent: db.prepare('UPDATE agents SET left_at = ? WHERE id = ? AND left_at IS NULL'),
      getAgent: db.prepare<
        [string],
        { id: string; secret_hash: string | null; last_heartbeat: number; left_at: number | null; quarantined_until: number | null; quarantine_level: number }
      >('SELECT id, secret_hash, last_heartbeat, left_at, quarantined_until, quarantine_level FROM agents WHERE id = ?'),
      setSecret: db.prepare('UPDATE agents SET secret_hash = ? WHERE id = ?'),
      heldBy: db.prepare<[string], number>(`SELECT count(*) FROM runs WHERE agent_id = ? AND state IN ('leased', 'running')`).pluck(),
      quarantine: db.prepare('UPDATE agents SET quarantined_until = ?, quarantine_level = ? WHERE id = ?'),
      lossTimes: db
        .prepare<[string, number], number>(`SELECT ended_at FROM attempts WHERE agent_id = ? AND outcome = 'lost' AND ended_at > ? ORDER BY ended_at`)
        .pluck(),
      otherLiveAgents: db
        .prepare<[string, number, number], number>(
          `SELECT count(*) FROM agents WHERE id != ? AND left_at IS NULL AND last_heartbeat >= ?
             AND (quarantined_until IS NULL OR quarantined_until <= ?)`,
        )
        .pluck(),
      attemptOf: db.prepare<[string, number], { agent_id: string; outcome: string | null; ended_at: number | null; landed_at: number | null }>(
        'SELECT agent_id, outcome, ended_at, landed_at FROM attempts WHERE run_id = ? AND attempt = ?',
      ),
      attemptsOfRequest: db.prepare<[string, string], { run_id: string; attempt: number }>(
        'SELECT run_id, attempt FROM attempts WHERE agent_id = ? AND lease_request = ? ORDER BY rowid',
      ),
      setLanded: db.prepare('UPDATE attempts SET landed_at = ?, landed_files = ?, landed_bytes = ? WHERE run_id = ? AND attempt = ?'),
      touchAgent: db.prepare('UPDATE agents SET last_heartbeat = ?, lost_at = NULL WHERE id = ?'),
      sweepsWithQueued: db
        .prepare<[], string>(
          `SELECT s.name FROM sweeps s WHERE EXISTS (SELECT 1 FROM runs r WHERE r.state = 'queued' AND r.sweep = s.name)
           ORDER BY s.created_at, s.rowid`,
        )
        .pluck(),
      queuedOf: db.prepare<[string, number], Pick<RunRow, 'id' | 'attempt' | 'sweep' | 'name' | 'config_json'>>(
        `SELECT id, attempt, sweep, name, config_json FROM runs WHERE state = 'queued' AND sweep = ? ORDER BY idx LIMIT ?`,
      ),
      leaseRun: db.prepare(
        `UPDATE runs SET state = 'leased', attempt = ?, agent_id = ?, lease_expires_at = ?, cancel_requested = 0,
           summary_json = NULL, error = NULL, started_at = NULL, ended_at = NULL, updated_at = ? WHERE id = ?`,
      ),
      insertAttempt: db.prepare('INSERT INTO attempts (run_id, attempt, agent_id, leased_at, lease_request) VALUES (?, ?, ?, ?, ?)'),
      startRun: db.prepare(`UPDATE runs SET state = 'running', started_at = ?, updated_at = ? WHERE id = ?`),
      startAttempt: db.prepare('UPDATE attempts SET started_at = ? WHERE run_id = ? AND attempt = ?'),
      extendLease: db.prepare('UPDATE runs SET lease_expires_at = ? WHERE id = ?'),
      insertMetric: db.prepare('INSERT OR IGNORE INTO metrics (run_id, attempt, seq, step, split, line) VALUES (?, ?, ?, ?, ?, ?)'),
      ackedSeq: db.prepare<[string, number], number>('SELECT acked_seq FROM attempts WHERE run_id = ? AND attempt = ?').pluck(),
      seqsAfter: db
        .prepare<[string, number, number], number>('SELECT seq FROM metrics WHERE run_id = ? AND attempt = ? AND seq > ? ORDER BY seq')
        .pluck(),
      setAcked: db.prepare('UPDATE attempts SET acked_seq = ? WHERE run_id = ? AND attempt = ?'),
      endAttempt: db.prepare('UPDATE attempts SET ended_at = ?, outcome = ?, error = ? WHERE run_id = ? AND attempt = ?'),
      finish: db.prepare(
        `UPDATE runs SET state = ?, summary_json = ?, error = ?, ended_at = ?, lease_expires_at = NULL, updated_at = ? WHERE id = ?`,
      ),
      requeue: db.prepare(
        `UPDATE runs SET state = 'queued', agent_id = NULL, lease_expires_at = NULL, started_at = NULL, updated_at = ? WHERE id = ?`,
      ),
      expired: db.prepare<[number], RunRow>(`SELECT * FROM runs WHERE state IN ('leased', 'running') AND lease_expires_at < ? ORDER BY id`),
      lostSinceRetry: db
        .prepare<[string, number], number>(`SELECT count(*) FROM attempts WHERE run_id = ? AND outcome = 'lost' AND attempt > ?`)
        .pluck(),
      silentAgents: db
        .prepare<[number], string>('SELECT id FROM agents WHERE lost_at IS NULL AND left_at IS NULL AND last_heartbeat < ? ORDER BY id')
        .pluck(),
      markAgentLost: db.prepare('UPDATE agents SET lost_at = ? WHERE id = ?'),
      runsOfSweep: db.prepare<[string], RunRow>('SELECT * FROM runs WHERE sweep = ? ORDER BY idx'),
      cancelNow: db.prepare(`UPDATE runs SET state = 'cancelled', ended_at = ?, updated_at = ? WHERE id = ?`),
      requestCancel: db.prepare('UPDATE runs SET cancel_requested = 1, updated_at = ? WHERE id = ?'),
      retryRun: db.prepare(
        `UPDATE runs SET state = 'queued', error = NULL, summary_json = NULL, cancel_requested = 0, retry_base = attempt,
           agent_id = NULL, lease_expires_at = NULL, started_at = NULL, ended_at = NULL, updated_at = ? WHERE id = ?`,
      ),
      unfinished: db.prepare<[], number>(`SELECT count(*) FROM runs WHERE state IN ('queued', 'leased', 'running')`).pluck(),
      unfinishedOf: db.prepare<[string], number>(`SELECT count(*) FROM runs WHERE sweep = ? AND state IN ('queued', 'leased', 'running')`).pluck(),
      metricLines: db.prepare<[string, number], string>('SELECT line FROM metrics WHERE run_id = ? AND attempt = ? ORDER BY seq').pluck(),
    };
  }

  // ---------------------------------------------------------------------------------------------
  // Transactions and events

  /** Runs fn in one IMMEDIATE transaction; after it commits, hands the events it added to listeners. */
  private tx<T>(fn: () => T): T {
    if (this.inTx) throw new Error('Store: nested transaction');
    this.inTx = true;
    this.pending = [];
    let result: T;
    try {
      result = this.db.transaction(fn).immediate();
    } catch (err) {
      this.pending = [];
      throw err;
    } finally {
      this.inTx = false;
    }
    const events = this.pending;
    this.pending = [];
    if (events.length > 0) this.emit(events);
    return result;
  }

  private emit(events: EventRow[]): void {
    for (const listener of [...this.listeners]) {
      try {
        listener(events);
      } catch (err) {
        // The transaction is committed: a listener's bug must not look like the call failed.
        process.emitWarning(`dlphys store: an event listener threw: ${err instanceof Error ? err.message : String(err)}`);
      }
    }
  }

  private event(type: string, f: { sweep?: string | null; runId?: string | null; agentId?: string | null; data?: unknown }): void {
    const dataJson = f.data === undefined ? null : JSON.stringify(f.data);
    this.pending.push(this.events.append(this.now(), type, { ...f, dataJson }));
  }

  /** Calls listener with the events of each committed transaction that added some. Returns the unsubscribe function. */
  onEvent(listener: Listener): () => void {
    this.listeners.add(listener);
    return () => {
      this.listeners.delete(listener);
    };
  }

  /** Events with an id above `id`, oldest first, at most `limit`. */
  eventsSince(id: number, limit = 1000): EventRow[] {
    return this.events.since(id, limit);
  }

  // ---------------------------------------------------------------------------------------------
  // Sweeps and agents

  /**
   * Records a sweep and its runs (queued, attempt 0). The same name with the same specHash is
   * already there: nothing is written and existed is true (re-running a sweep file resumes it).
   */
  addSweep(sweep: ExpandedSweep): { existed: boolean; runs: number } {
    const name = checkName(sweep?.name, 'sweep name');
    if (typeof sweep.specHash !== 'string' || sweep.specHash === '') throw new UsageError(`sweep ${name}: missing specHash`);
    return this.tx(() => {
      const existing = this.s.getSweep.get(name);
      if (existing) {
        if (existing.spec_hash === sweep.specHash) return { existed: true, runs: this.s.countRuns.get(name)! };
        throw new UsageError(`sweep ${name} already exists with different content; pass --name to record this one under another name`);
      }
      const now = this.now();
      this.s.insertSweep.run(
        name,
        JSON.stringify(sweep.spec ?? {}),
        sweep.specHash,
        sweep.method,
        sweep.metric?.name ?? null,
        sweep.metric?.goal ?? null,
        now,
      );
      const seen = new Set<string>();
      for (const run of sweep.runs) {
        const runName = checkName(run.name, `sweep ${name}: run name`);
        if (seen.has(runName)) throw new UsageError(`sweep ${name}: two runs are named ${runName}; run names must be unique`);
        seen.add(runName);
        this.s.insertRun.run(`${name}/${runName}`, name, run.index, runName, JSON.stringify(run.params ?? {}), JSON.stringify(run.config), now, now);
      }
      this.event('sweep_submitted', { sweep: name, data: { runs: sweep.runs.length, method: sweep.method, spec_hash: sweep.specHash } });
      return { existed: false, runs: sweep.runs.length };
    });
  }

  /**
   * Records an agent (or updates it when it registers again); its heartbeat clock starts now.
   * Returns the agent's secret, which every later call of that agent must present
   * (authenticateAgent). An agent proposes its own (`secret`, at least MIN_SECRET_LENGTH
   * characters), so a Register repeated because its reply was lost is answered alike; without
   * one, a random secret is made. An id held by an agent that is alive (heard from within 2
   * leaseTtlMs, not gone) or that holds leased or running runs (say, after a coordinator
   * restart, before its agents are heard from) cannot be taken without its secret:
   * AlreadyExistsError.
   */
  registerAgent(a: AgentInfo, secret = '', leaseTtlMs: number = DEFAULT_LEASE_TTL_MS): string {
    if (typeof a?.id !== 'string' || a.id === '') throw new UsageError('an agent needs a non-empty id');
    return this.tx(() => {
      const now = this.now();
      const old = this.s.getAgent.get(a.id);
      const own = old?.secret_hash != null && secret !== '' && sameDigest(sha256(secret), old.secret_hash);
      const live = old && old.left_at === null && now - old.last_heartbeat <= 2 * leaseTtlMs;
      if (old && !own && (live || this.s.heldBy.get(a.id)! > 0)) {
        throw new AlreadyExistsError(`agent id ${a.id} belongs to a live agent; an agent registers under an id of its own`);
      }
      const granted = own || secret.length >= MIN_SECRET_LENGTH ? secret : randomBytes(24).toString('base64url');
      this.s.upsertAgent.run({
        id: a.id,
        host: a.host ?? '',
        gpus_json: JSON.stringify(a.gpus ?? []),
        slots: a.slots ?? 1,
        version: a.version ?? '',
        backend: a.backend ?? '',
        now,
      });
      this.s.setSecret.run(sha256(granted), a.id);
      this.event('agent_registered', { agentId: a.id, data: { host: a.host, gpus: a.gpus ?? [], slots: a.slots, version: a.version, backend: a.backend } });
      return granted;
    });
  }

  /**
   * Checks that `secret` is the one Register handed `agentId` (constant-time). Throws
   * NotFoundError for an unknown agent and PermissionDeniedError for a wrong or missing secret.
   */
  authenticateAgent(agentId: string, secret: string): void {
    const agent = this.s.getAgent.get(agentId);
    if (!agent) throw new NotFoundError(`no agent ${agentId}: register first`);
    if (agent.secret_hash === null || !secret || !sameDigest(sha256(secret), agent.secret_hash)) {
      throw new PermissionDeniedError(`this call is not from agent ${agentId}: it lacks the secret that agent was given at Register`);
    }
  }

  /** The agent is exiting: shown as left at once, not after 2 lease TTLs of silence. */
  goodbye(agentId: string): void {
    this.tx(() => {
      if (this.s.leaveAgent.run(this.now(), agentId).changes === 0) throw new NotFoundError(`no agent ${agentId}`);
      this.event('agent_left', { agentId });
    });
  }

  private requireAgent(agentId: string): void {
    const info = this.s.touchAgent.run(this.now(), agentId);
    if (info.changes === 0) throw new NotFoundError(`no agent ${agentId}: register first`);
  }

  // ---------------------------------------------------------------------------------------------
  // The run lifecycle (agents)

  /**
   * Leases up to `max` queued runs to an agent: oldest sweep first, then by index. Each gets a
   * new attempt (attempt + 1), an attempts row and a lease expiring in leaseTtlMs. Counts as a
   * heartbeat of the agent. Metric rows of earlier attempts are kept.
   *
   * `requestId` makes a retried call idempotent: when this agent already leased under that id
   * (the reply was lost on the way), the same runs are answered again, as long as they are still
   * its current attempts, and nothing new is leased. A quarantined agent gets nothing. A run
   * whose last attempt this agent lost (within AVOID_LOSER_MS) is left for another live agent.
   */
  lease(agentId: string, max: number, leaseTtlMs: number, requestId = ''): LeasedRun[] {
    requireTtl(leaseTtlMs);
    return this.tx(() => {
      this.requireAgent(agentId);
      const out: LeasedRun[] = [];
      if (requestId) {
        const earlier = this.s.attemptsOfRequest.all(agentId, requestId);
        if (earlier.length > 0) {
          for (const a of earlier) {
            const r = this.s.getRun.get(a.run_id);
            if (r && r.attempt === a.attempt && r.agent_id === agentId && (r.state === 'leased' || r.state === 'running')) {
              out.push({ runId: r.id, attempt: r.attempt, sweep: r.sweep, name: r.name, configJson: r.config_json });
            }
          }
          return out;
        }
      }
      if (!(max >= 1)) return out;
      const now = this.now();
      const agent = this.s.getAgent.get(agentId)!;
      if (agent.quarantined_until !== null && agent.quarantined_until > now) return out;
      let othersCanTake: boolean | undefined;
      const avoid = (r: { id: string; attempt: number }): boolean => {
        if (r.attempt === 0) return false;
        const last = this.s.attemptOf.get(r.id, r.attempt);
        if (!last || last.outcome !== 'lost' || last.agent_id !== agentId || (last.ended_at ?? 0) < now - AVOID_LOSER_MS) return false;
        othersCanTake ??= this.s.otherLiveAgents.get(agentId, now - 2 * leaseTtlMs, now)! > 0;
        return othersCanTake;
      };
      for (const sweep of this.s.sweepsWithQueued.all()) {
        const want = Math.floor(max) - out.length;
        if (want <= 0) break;
        for (const r of this.s.queuedOf.all(sweep, want + 64)) {
          if (out.length >= Math.floor(max)) break;
          if (avoid(r)) continue;
          const attempt = r.attempt + 1;
          this.s.leaseRun.run(attempt, agentId, now + leaseTtlMs, now, r.id);
          this.s.insertAttempt.run(r.id, attempt, agentId, now, requestId || null);
          this.event('run_leased', { sweep: r.sweep, runId: r.id, agentId, data: { attempt } });
          out.push({ runId: r.id, attempt, sweep: r.sweep, name: r.name, configJson: r.config_json });
        }
      }
      return out;
    });
  }

  /** The fencing check without a transaction of its own. */
  private current(ref: RunRef, agentId: string): RunRow {
    requireRef(ref);
    const row = this.s.getRun.get(ref.runId);
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
    if (row.state !== 'leased' && row.state !== 'running') {
      throw new StaleAttemptError(
        `stale attempt: run ${row.id} attempt ${ref.attempt} is over: the run is ${row.state}`,
        row.id, ref.attempt, row.attempt, row.state,
      );
    }
    return row;
  }

  /**
   * The run row when `ref` is the run's current attempt, held by agentId, leased or running;
   * otherwise StaleAttemptError (NotFoundError for an unknown run).
   */
  checkCurrent(ref: RunRef, agentId: string): RunRow {
    return this.current(ref, agentId);
  }

  /**
   * Records that the attempt's whole run folder (with its summary.json) landed under the runs
   * dir. Fenced. A report of a finished run is accepted only after this.
   */
  recordLanded(ref: RunRef, agentId: string, files: number, bytes: number): void {
    this.tx(() => {
      const row = this.current(ref, agentId);
      this.s.setLanded.run(this.now(), files, bytes, row.id, row.attempt);
      this.event('run_landed', { sweep: row.sweep, runId: row.id, agentId, data: { attempt: row.attempt, files, bytes } });
    });
  }

  /** leased -> running (a repeat while running is a no-op). Fenced. */
  markStarted(ref: RunRef, agentId: string): void {
    this.tx(() => {
      const row = this.current(ref, agentId);
      if (row.state !== 'leased') return;
      const now = this.now();
      this.s.startRun.run(now, now, row.id);
      this.s.startAttempt.run(now, row.id, row.attempt);
      this.event('run_started', { sweep: row.sweep, runId: row.id, agentId, data: { attempt: row.attempt } });
    });
  }

  /**
   * Records the agent's heartbeat and renews the leases of the attempts it names that it still
   * holds; `cancel` lists those a user asked to stop, `lost` the ones it no longer holds.
   */
  heartbeat(agentId: string, refs: RunRef[], leaseTtlMs: number): { cancel: RunRef[]; lost: RunRef[] } {
    requireTtl(leaseTtlMs);
    return this.tx(() => {
      this.requireAgent(agentId);
      const now = this.now();
      const cancel: RunRef[] = [];
      const lost: RunRef[] = [];
      for (const ref of refs) {
        const row = typeof ref?.runId === 'string' ? this.s.getRun.get(ref.runId) : undefined;
        const ok = row && row.attempt === ref.attempt && row.agent_id === agentId && (row.state === 'leased' || row.state === 'running');
        if (!ok) {
          lost.push({ runId: ref.runId, attempt: ref.attempt });
          continue;
        }
        this.s.extendLease.run(now + leaseTtlMs, row.id);
        if (row.cancel_requested) cancel.push({ runId: row.id, attempt: row.attempt });
      }
      return { cancel, lost };
    });
  }

  /**
   * Stores metric rows of an attempt (fenced). Rows already stored are ignored, so a resend is
   * harmless. Returns the ack: the highest s such that every seq 1..s of this attempt is stored.
   */
  addMetrics(ref: RunRef, agentId: string, rows: MetricRowIn[]): number {
    return this.tx(() => this.ingest(ref, agentId, rows));
  }

  /**
   * Several metric batches (of any runs and agents) in one transaction, so one disk sync covers
   * them all: the server can gather the batches that arrive together and commit them at once
   * (group commit). A batch that fails its fencing or validation is refused alone, and writes
   * nothing; the others are stored. Results are in the order of `batches`.
   */
  addMetricsMany(batches: MetricBatchIn[]): MetricBatchResult[] {
    return this.tx(() =>
      batches.map((b): MetricBatchResult => {
        try {
          return { ok: true, acked: this.ingest(b.ref, b.agentId, b.rows) };
        } catch (err) {
          // These are all thrown before the batch writes anything; anything else aborts the transaction.
          if (err instanceof StaleAttemptError || err instanceof NotFoundError || err instanceof UsageError) return { ok: false, error: err };
          throw err;
        }
      }),
    );
  }

  private ingest(ref: RunRef, agentId: string, rows: MetricRowIn[]): number {
    const run = this.current(ref, agentId);
    if (!Array.isArray(rows)) throw new UsageError(`run ${run.id}: metric rows must be a list`);
    // Every row is checked before any is written: a batch is stored whole or refused whole.
    const seqs = new Array<number>(rows.length);
    const parsed = new Array<ReturnType<typeof parseLine>>(rows.length);
    for (let i = 0; i < rows.length; i++) {
      const r = rows[i]!;
      const seq = typeof r?.seq === 'number' ? r.seq : Number(r?.seq);
      if (!Number.isSafeInteger(seq) || seq < 1 || seq > MAX_SEQ) {
        throw new UsageError(`run ${run.id}: rows[${i}].seq must be an integer from 1 to ${MAX_SEQ}, got ${String(r?.seq).slice(0, 30)}`);
      }
      if (typeof r.line !== 'string') throw new UsageError(`run ${run.id}: rows[${i}].line (seq ${seq}) is missing`);
      if (r.line.length > MAX_METRIC_LINE_BYTES || Buffer.byteLength(r.line) > MAX_METRIC_LINE_BYTES) {
        throw new UsageError(`run ${run.id}: rows[${i}].line (seq ${seq}) is above the limit of ${MAX_METRIC_LINE_BYTES} bytes`);
      }
      parsed[i] = parseLine(r.line);
      if (parsed[i]!.value === null) {
        throw new UsageError(`run ${run.id}: rows[${i}].line (seq ${seq}) is not a JSON object: ${JSON.stringify(r.line.slice(0, 100))}`);
      }
      seqs[i] = seq;
    }
    const { insertMetric } = this.s;
    let inserted = 0;
    let lastSeq = 0;
    let lastValue: unknown = null;
    for (let i = 0; i < rows.length; i++) {
      const seq = seqs[i]!;
      const line = rows[i]!.line;
      const p = parsed[i]!;
      if (insertMetric.run(run.id, run.attempt, seq, p.step, p.split, line).changes > 0) {
        inserted++;
        if (seq > lastSeq) {
          lastSeq = seq;
          lastValue = p.value;
        }
      }
    }
    const before = this.s.ackedSeq.get(run.id, run.attempt) ?? 0;
    let acked = before;
    if (inserted > 0) {
      for (const seq of this.s.seqsAfter.iterate(run.id, run.attempt, acked)) {
        if (seq !== acked + 1) break;
        acked = seq;
      }
      if (acked !== before) this.s.setAcked.run(acked, run.id, run.attempt);
      this.event('metrics', {
        sweep: run.sweep,
        runId: run.id,
        agentId,
        // The last row's numbers, not the line itself: every watcher is sent this event.
        data: { attempt: run.attempt, rows: inserted, acked_seq: acked, last_seq: lastSeq, last: compactMetrics(lastValue) },
      });
    }
    return acked;
  }

  /**
   * Records an attempt's outcome (fenced: an attempt finishes once). completed -> completed;
   * stopped -> cancelled when a cancel was requested, else completed (a callback stopped it);
   * diverged -> diverged; failed -> failed (not retried: its own error); handback -> queued again
   * (attempt outcome 'handback', not counted as lost), or cancelled when a cancel was requested.
   * completed, diverged and stopped need the attempt's folder to have landed (recordLanded):
   * NotLandedError otherwise. Returns the run's new state.
   */
  finishRun(ref: RunRef, agentId: string, report: RunReportIn): RunState {
    if (!REPORT_STATUSES.includes(report?.status)) {
      throw new UsageError(`run ${ref?.runId}: unknown report status ${JSON.stringify(report?.status)} (expected ${REPORT_STATUSES.join(' | ')})`);
    }
    return this.tx(() => {
      // The same report again (its reply was lost on the way): answered alike, nothing changes.
      const done = typeof ref?.runId === 'string' && Number.isSafeInteger(ref?.attempt) ? this.s.attemptOf.get(ref.runId, ref.attempt) : undefined;
      if (done && done.agent_id === agentId && done.outcome === report.status) {
        const run = this.s.getRun.get(ref.runId)!;
        // A handed-back run may be at a later attempt already; the first answer said queued.
        return run.attempt === ref.attempt ? run.state : 'queued';
      }
      const row = this.current(ref, agentId);
      if (report.status === 'completed' || report.status === 'diverged' || report.status === 'stopped') {
        if (this.s.attemptOf.get(row.id, row.attempt)?.landed_at == null) {
          throw new NotLandedError(`run ${row.id} attempt ${row.attempt}: its run folder has not landed; upload it, then report`);
        }
      }
      const now = this.now();
      const error = report.error ? report.error : null;
      const cancelled = row.cancel_requested === 1;
      this.s.endAttempt.run(now, report.status, error, row.id, row.attempt);
      if (report.status === 'handback' && !cancelled) {
        this.s.requeue.run(now, row.id);
        this.event('run_requeued', { sweep: row.sweep, runId: row.id, agentId, data: { attempt: row.attempt, reason: 'handback' } });
        return 'queued';
      }
      let state: RunState;
      switch (report.status) {
        case 'completed':
          state = 'completed';
          break;
        case 'stopped':
          state = cancelled ? 'cancelled' : 'completed';
          break;
        case 'diverged':
          state = 'diverged';
          break;
        case 'failed':
          state = 'failed';
          break;
        case 'handback':
          state = 'cancelled';
          break;
      }
      this.s.finish.run(state, report.summaryJson ? report.summaryJson : null, error, now, now, row.id);
      this.event('run_finished', { sweep: row.sweep, runId: row.id, agentId, data: { attempt: row.attempt, state, status: report.status } });
      return state;
    });
  }

  /**
   * Takes back every leased or running attempt whose lease expired before now: the attempt's
   * outcome becomes 'lost'; the run is queued again (agent cleared; the next lease is a new
   * attempt), or failed when it has been lost maxAttempts times since its last retry, or
   * cancelled when a user had asked to cancel it. Given the lease TTL, it also records an
   * agent_lost event (once) for each agent that has not been heard from for 2 TTL.
   *
   * `heard(agentId)` says the agent was heard from recently though its heartbeat could not be
   * recorded (the database's disk was full, say): its leases are renewed instead of taken.
   */
  expireLeases(leaseTtlMs?: number, heard: (agentId: string) => boolean = () => false): ExpireResult {
    if (leaseTtlMs !== undefined) requireTtl(leaseTtlMs);
    return this.tx(() => {
      const now = this.now();
      const result: ExpireResult = { requeued: [], failed: [], cancelled: [], agentsLost: [] };
      for (const row of this.s.expired.all(now)) {
        if (row.agent_id !== null && heard(row.agent_id)) {
          this.s.extendLease.run(now + (leaseTtlMs ?? DEFAULT_LEASE_TTL_MS), row.id);
          continue;
        }
        const ref = { runId: row.id, attempt: row.attempt };
        this.s.endAttempt.run(now, 'lost', 'lease expired: the agent stopped heartbeating', row.id, row.attempt);
        const lost = this.s.lostSinceRetry.get(row.id, row.retry_base)!;
        const base = { sweep: row.sweep, runId: row.id, agentId: row.agent_id };
        if (row.cancel_requested) {
          this.s.finish.run('cancelled', null, null, now, now, row.id);
          this.event('run_finished', { ...base, data: { attempt: row.attempt, state: 'cancelled', status: 'lost' } });
          result.cancelled.push(ref);
        } else if (lost >= this.maxAttempts) {
          const error = `lost ${lost} times: its agent stopped heartbeating (max_attempts ${this.maxAttempts})`;
          this.s.finish.run('failed', null, error, now, now, row.id);
          this.event('run_finished', { ...base, data: { attempt: row.attempt, state: 'failed', status: 'lost', lost } });
          result.failed.push(ref);
        } else {
          this.s.requeue.run(now, row.id);
          this.event('run_requeued', { ...base, data: { attempt: row.attempt, reason: 'lost', lost } });
          result.requeued.push(ref);
        }
      }
      const losers = new Set([...result.requeued, ...result.failed, ...result.cancelled].map((r) => this.s.attemptOf.get(r.runId, r.attempt)!.agent_id));
      for (const id of losers) this.maybeQuarantine(id, now, leaseTtlMs ?? DEFAULT_LEASE_TTL_MS);
      if (leaseTtlMs !== undefined) {
        for (const id of this.s.silentAgents.all(now - 2 * leaseTtlMs)) {
          this.s.markAgentLost.run(now, id);
          this.event('agent_lost', { agentId: id });
          result.agentsLost.push(id);
        }
      }
      return result;
    });
  }

  /** Quarantines an agent whose leases expired at QUARANTINE_LOSSES moments within the window (see there). */
  private maybeQuarantine(agentId: string, now: number, leaseTtlMs: number): void {
    const agent = this.s.getAgent.get(agentId);
    if (!agent || (agent.quarantined_until !== null && agent.quarantined_until > now)) return;
    const since = Math.max(now - QUARANTINE_WINDOW_MS, agent.quarantined_until ?? 0);
    // Losses less than a lease TTL after the previous one are the same moment (one stop of the host).
    let moments = 0;
    let previous = -Infinity;
    for (const t of this.s.lossTimes.all(agentId, since)) {
      if (t - previous > leaseTtlMs) moments++;
      previous = t;
    }
    if (moments < QUARANTINE_LOSSES) return;
    const level = agent.quarantine_level + 1;
    const period = Math.min(QUARANTINE_MAX_MS, Math.max(QUARANTINE_BASE_MS, 2 * leaseTtlMs) * 2 ** (level - 1));
    this.s.quarantine.run(now + period, level, agentId);
    this.event('agent_quarantined', { agentId, data: { until: iso(now + period), level, seconds: period / 1000 } });
  }

  // ---------------------------------------------------------------------------------------------
  // Users: cancel, retry, status

  /** The runs a target names: a sweep's (by idx) or one run's. */
  private resolve(target: string): RunRow[] {
    if (typeof target !== 'string' || target === '') throw new UsageError('name a sweep or a run ("<sweep>/<run>")');
    if (this.s.getSweep.get(target)) return this.s.runsOfSweep.all(target);
    const run = this.s.getRun.get(target);
    if (run) return [run];
    throw new NotFoundError(`no sweep or run named ${target}`);
  }

  /**
   * Cancels a sweep's runs or one run: queued runs become cancelled at once; leased or running
   * ones get cancel_requested (their agent learns it at its next heartbeat, stops the run and
   * reports it). Returns how many runs were affected.
   */
  cancel(target: string): number {
    return this.tx(() => {
      const now = this.now();
      let n = 0;
      for (const row of this.resolve(target)) {
        const base = { sweep: row.sweep, runId: row.id, agentId: row.agent_id };
        if (row.state === 'queued') {
          this.s.cancelNow.run(now, now, row.id);
          this.event('run_cancelled', { ...base, data: { attempt: row.attempt, pending: false } });
          n++;
        } else if ((row.state === 'leased' || row.state === 'running') && !row.cancel_requested) {
          this.s.requestCancel.run(now, row.id);
          this.event('run_cancelled', { ...base, data: { attempt: row.attempt, pending: true } });
          n++;
        }
      }
      return n;
    });
  }

  /**
   * Puts a target's failed and cancelled runs back in the queue (error and summary cleared). The
   * attempt number keeps counting up (the next lease is attempt + 1, so fencing stays right);
   * retry_base is set to the current attempt, so only attempts lost after this retry count
   * toward maxAttempts. Returns how many runs were requeued.
   */
  retry(target: string): number {
    return this.tx(() => {
      const now = this.now();
      let n = 0;
      for (const row of this.resolve(target)) {
        if (row.state !== 'failed' && row.state !== 'cancelled') continue;
        this.s.retryRun.run(now, row.id);
        this.event('run_requeued', { sweep: row.sweep, runId: row.id, data: { attempt: row.attempt, reason: 'retry', was: row.state } });
        n++;
      }
      return n;
    });
  }

  /**
   * Shaped like the proto's StatusReply. With a sweep: that sweep and all its runs; without: all
   * sweeps, every agent, and the runs of sweeps that have unfinished runs. An agent is alive
   * when it was heard from within 2 leaseTtlMs.
   */
  status(sweep?: string, leaseTtlMs: number = DEFAULT_LEASE_TTL_MS): StatusReport {
    const db = this.db;
    const read = db.transaction(() => {
      if (sweep && !this.s.getSweep.get(sweep)) throw new NotFoundError(`no sweep named ${sweep}`);
      const args: unknown[] = sweep ? [sweep] : [];
      const sweepRows = db
        .prepare<unknown[], { name: string; created_at: number; metric_name: string | null; metric_goal: string | null }>(
          `SELECT name, created_at, metric_name, metric_goal FROM sweeps ${sweep ? 'WHERE name = ?' : ''} ORDER BY created_at, rowid`,
        )
        .all(...args);
      const counts = db
        .prepare<unknown[], { sweep: string; state: string; n: number }>(
          `SELECT sweep, state, count(*) AS n FROM runs ${sweep ? 'WHERE sweep = ?' : ''} GROUP BY sweep, state`,
        )
        .all(...args);
      const bySweep = new Map<string, Record<string, number>>();
      for (const c of counts) {
        let m = bySweep.get(c.sweep);
        if (!m) bySweep.set(c.sweep, (m = Object.fromEntries(RUN_STATES.map((s) => [s, 0]))));
        m[c.state] = c.n;
      }
      const sweeps: SweepStatus[] = sweepRows.map((s) => {
        const states = bySweep.get(s.name) ?? Object.fromEntries(RUN_STATES.map((st) => [st, 0]));
        return {
          name: s.name,
          created_at: iso(s.created_at),
          total: Object.values(states).reduce((a, b) => a + b, 0),
          states,
          metric: s.metric_name ?? '',
          goal: s.metric_goal ?? '',
        };
      });
      const now = this.now();
      const running = new Map(
        db
          .prepare<[], { agent_id: string; n: number }>(
            `SELECT agent_id, count(*) AS n FROM runs WHERE state IN ('leased', 'running') AND agent_id IS NOT NULL GROUP BY agent_id`,
          )
          .all()
          .map((r) => [r.agent_id, r.n]),
      );
      const agents: AgentStatus[] = db
        .prepare<
          [],
          { id: string; host: string; gpus_json: string; slots: number; last_heartbeat: number; left_at: number | null; quarantined_until: number | null; lost_runs: number }
        >(
          `SELECT a.id, a.host, a.gpus_json, a.slots, a.last_heartbeat, a.left_at, a.quarantined_until,
             (SELECT count(*) FROM attempts t WHERE t.agent_id = a.id AND t.outcome = 'lost') AS lost_runs
           FROM agents a ORDER BY a.registered_at, a.id`,
        )
        .all()
        .map((a) => {
          const alive = a.left_at === null && now - a.last_heartbeat <= 2 * leaseTtlMs;
          const quarantined = alive && a.quarantined_until !== null && a.quarantined_until > now;
          return {
            id: a.id,
            host: a.host,
            gpus: JSON.parse(a.gpus_json) as string[],
            slots: a.slots,
            last_heartbeat: iso(a.last_heartbeat),
            alive,
            running: running.get(a.id) ?? 0,
            state: a.left_at !== null ? 'left' : !alive ? 'lost' : quarantined ? 'quarantined' : 'alive',
            quarantined_until: quarantined ? iso(a.quarantined_until) : '',
            lost_runs: a.lost_runs,
          };
        });
      const active = ACTIVE_STATES.map((s) => `'${s}'`).join(', ');
      const runRows = sweep
        ? this.s.runsOfSweep.all(sweep)
        : db
            .prepare<[], RunRow>(
              `SELECT r.* FROM runs r JOIN sweeps s ON s.name = r.sweep
               WHERE EXISTS (SELECT 1 FROM runs u WHERE u.sweep = r.sweep AND u.state IN (${active}))
               ORDER BY s.created_at, s.rowid, r.idx`,
            )
            .all();
      const lostOf = db.prepare<[string], number>(`SELECT count(*) FROM attempts WHERE run_id = ? AND outcome = 'lost'`).pluck();
      const runs: RunStatus[] = runRows.map((r) => ({
        id: r.id,
        sweep: r.sweep,
        name: r.name,
        state: r.state,
        attempt: r.attempt,
        agent_id: r.agent_id ?? '',
        params_json: r.params_json,
        summary_json: r.summary_json ?? '',
        error: r.error ?? '',
        updated_at: iso(r.updated_at),
        lost_attempts: lostOf.get(r.id)!,
      }));
      return { sweeps, agents, runs };
    });
    return read.deferred();
  }

  /** Runs not finished across all sweeps: queued, leased or running. */
  unfinished(): number {
    return this.s.unfinished.get()!;
  }

  /** Every run of the sweep (of all sweeps, without a name) is in a terminal state. */
  sweepDone(name?: string): boolean {
    if (name === undefined) return this.allDone();
    if (!this.s.getSweep.get(name)) throw new NotFoundError(`no sweep named ${name}`);
    return this.s.unfinishedOf.get(name) === 0;
  }

  allDone(): boolean {
    return this.unfinished() === 0;
  }

  /** The run's row; NotFoundError when there is no such run. */
  run(runId: string): RunRow {
    const row = this.s.getRun.get(runId);
    if (!row) throw new NotFoundError(`no run ${runId}`);
    return row;
  }

  /** The stored metrics.jsonl lines of the run's current attempt, in seq order. */
  metricsOf(runId: string): string[] {
    const row = this.run(runId);
    return this.s.metricLines.all(row.id, row.attempt);
  }

  /** The schema version recorded in the file (PRAGMA user_version). */
  schemaVersion(): number {
    return schemaVersion(this.db);
  }

  /** True for a state a run does not leave by itself. */
  static isTerminal(state: string): boolean {
    return TERMINAL.has(state);
  }

  close(): void {
    this.listeners.clear();
    if (this.db.open) this.db.close();
  }
}
