/**
 * The coordinator's truth: sweeps, runs, attempts, agents, metric rows and events in one SQLite
 * file (see schema.ts). Every public method that changes anything is one IMMEDIATE transaction,
 * committed with synchronous=FULL before it returns: a coordinator killed at any moment and
 * reopened on the same file continues where it was and has lost nothing it acknowledged.
 *
 * Store is the one entry the rest of the coordinator uses; its concerns live beside it:
 * states.ts (the run states and the TRANSITIONS table), lifecycle.ts (leases, reports, expiry,
 * cancel, retry), agents.ts, metrics.ts, sweeps.ts and queries.ts (status as domain rows; the
 * store knows nothing of the wire format).
 *
 * Every call about a run from an agent carries {runId, attempt} and is fenced (checkCurrent): it
 * is honoured only when that attempt is the run's current one, held by the calling agent, and
 * still leased or running; anything else throws StaleAttemptError, so a run is recorded once even
 * when its lease expired and another agent took it over.
 */
import { UsageError } from '../../lib/errors.js';
import type { HostHealthData } from '../../proto/host_health.js';
import type { EventRow } from '../events.js';
import { schemaVersion } from '../schema.js';
import * as agents from './agents.js';
import { StoreCore, type Listener } from './core.js';
import * as lifecycle from './lifecycle.js';
import * as metrics from './metrics.js';
import * as queries from './queries.js';
import * as slurm from './slurm.js';
import { isTerminal } from './states.js';
import { addSweep, codeArchive } from './sweeps.js';
import { isHeld as isHeldState } from './states.js';
import type { ExpandedSweep } from '../../lib/sweep/index.js';
import {
  DEFAULT_LEASE_TTL_MS,
  DEFAULT_MAX_ATTEMPTS,
  type AgentInfo,
  type ExpireResult,
  type LeasedRun,
  type MetricBatchIn,
  type MetricBatchResult,
  type MetricRowIn,
  type RunRef,
  type RunDetail,
  type RunReportIn,
  type RunRow,
  type RunState,
  type StatusReport,
  type StoreOptions,
  type SweepKind,
} from './types.js';

export { AlreadyExistsError, NotFoundError, NotLandedError, PermissionDeniedError, StaleAttemptError } from '../errors.js';
export * from './types.js';
export type { SlurmJobRow, SlurmTaskRow } from './slurm.js';
export { HELD_STATES, TRANSITIONS, nextState, type RunEvent, type Target, type Transition } from './states.js';
export type { EventRow };
export type { ExpandedRun, ExpandedSweep } from '../../lib/sweep/index.js';

export class Store {
  readonly file: string;
  readonly maxAttempts: number;
  private readonly core: StoreCore;

  static open(file: string, options: StoreOptions = {}): Store {
    return new Store(file, options);
  }

  constructor(file: string, options: StoreOptions = {}) {
    const maxAttempts = options.maxAttempts ?? DEFAULT_MAX_ATTEMPTS;
    if (!Number.isSafeInteger(maxAttempts) || maxAttempts < 1) throw new UsageError(`max_attempts must be an integer >= 1, got ${maxAttempts}`);
    this.file = file;
    this.maxAttempts = maxAttempts;
    this.core = new StoreCore(file, maxAttempts, options.now ?? Date.now);
  }

  // ---------------------------------------------------------------------------------------------
  // Events

  /** `fn` (calls of this store) in the next group commit (core.ts grouped): settles once it is durable. */
  grouped<T>(fn: () => T): Promise<T> {
    return this.core.grouped(fn);
  }

  /** Calls listener with the events of each committed transaction that added some. Returns the unsubscribe function. */
  onEvent(listener: Listener): () => void {
    return this.core.onEvent(listener);
  }

  /** Events with an id above `id`, oldest first, at most `limit`. */
  eventsSince(id: number, limit = 1000): EventRow[] {
    return this.core.eventsSince(id, limit);
  }

  // ---------------------------------------------------------------------------------------------
  // Sweeps and agents

  /**
   * Records a sweep and its runs (queued, attempt 0). The same name with the same specHash is
   * already there: nothing is written and existed is true (re-running a sweep file resumes it).
   * A program sweep's code snapshot (`codeArchive`, whose content must hash to sweep.code.hash)
   * is stored in the same transaction; it may be left out when the store already has that hash.
   * UsageError: a name taken by other content, a corrupt or missing snapshot.
   */
  addSweep(sweep: ExpandedSweep, codeArchive?: Buffer): { existed: boolean; runs: number } {
    return addSweep(this.core, sweep, codeArchive);
  }

  /** Why early termination stopped the run's attempt `ref`, or null (not stopped, or another attempt). */
  stopReason(ref: RunRef): string | null {
    const row = this.core.s.getRun.get(ref.runId);
    return row && row.attempt === ref.attempt && isHeldState(row.state) ? row.stop_reason : null;
  }

  /** A program sweep's code snapshot archive by its content hash; null when none is stored. */
  codeArchive(hash: string): Buffer | null {
    return codeArchive(this.core, hash);
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
    return agents.registerAgent(this.core, a, secret, leaseTtlMs);
  }

  /**
   * Checks that `secret` is the one Register handed `agentId` (constant-time). Throws
   * NotFoundError for an unknown agent and PermissionDeniedError for a wrong or missing secret.
   */
  authenticateAgent(agentId: string, secret: string): void {
    agents.authenticateAgent(this.core, agentId, secret);
  }

  /** The agent is exiting: shown as left at once, not after 2 lease TTLs of silence. */
  goodbye(agentId: string): void {
    agents.goodbye(this.core, agentId);
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
   * `only`: the kind of sweep the agent can run ('program': it has no tensor backend; 'native': no
   * Python), or null for any.
   */
  lease(agentId: string, max: number, leaseTtlMs: number, requestId = '', only: SweepKind | null = null): LeasedRun[] {
    return lifecycle.lease(this.core, agentId, max, leaseTtlMs, requestId, only);
  }

  /**
   * The run row when `ref` is the run's current attempt, held by agentId, leased or running;
   * otherwise StaleAttemptError (NotFoundError for an unknown run).
   */
  checkCurrent(ref: RunRef, agentId: string): RunRow {
    return lifecycle.current(this.core, ref, agentId);
  }

  /**
   * Records that the attempt's whole run folder (with its summary.json) landed under the runs
   * dir. Fenced. A report of a finished run is accepted only after this.
   */
  recordLanded(ref: RunRef, agentId: string, files: number, bytes: number): void {
    lifecycle.recordLanded(this.core, ref, agentId, files, bytes);
  }

  /** leased -> running (a repeat while running is a no-op). Fenced. */
  markStarted(ref: RunRef, agentId: string): void {
    lifecycle.markStarted(this.core, ref, agentId);
  }

  /**
   * Records the agent's heartbeat and renews the leases of the attempts it names that it still
   * holds; `cancel` lists those a user asked to stop, `lost` the ones it no longer holds.
   * `health`, when given, becomes the agent's latest (status shows it), with an agent_health
   * event when it moved meaningfully (store/health.ts says when).
   */
  heartbeat(
    agentId: string,
    refs: RunRef[],
    leaseTtlMs: number,
    health: HostHealthData | null = null,
  ): { cancel: RunRef[]; lost: RunRef[]; earlyStop: { ref: RunRef; reason: string }[] } {
    return lifecycle.heartbeat(this.core, agentId, refs, leaseTtlMs, health);
  }

  /**
   * Stores metric rows of an attempt (fenced). Rows already stored are ignored, so a resend is
   * harmless. Returns the ack: the highest s such that every seq 1..s of this attempt is stored.
   */
  addMetrics(ref: RunRef, agentId: string, rows: MetricRowIn[]): number {
    return metrics.addMetrics(this.core, ref, agentId, rows);
  }

  /**
   * Several metric batches (of any runs and agents) in one transaction, so one disk sync covers
   * them all: the server can gather the batches that arrive together and commit them at once
   * (group commit). A batch that fails its fencing or validation is refused alone, and writes
   * nothing; the others are stored. Results are in the order of `batches`.
   */
  addMetricsMany(batches: MetricBatchIn[]): MetricBatchResult[] {
    return metrics.addMetricsMany(this.core, batches);
  }

  /**
   * Records an attempt's outcome (fenced: an attempt finishes once); where each report status
   * takes the run is in TRANSITIONS (states.ts): completed -> completed; stopped -> cancelled
   * when a cancel was requested, else completed (a callback stopped it); diverged -> diverged;
   * failed -> failed (not retried: its own error); handback -> queued again (attempt outcome
   * 'handback', not counted as lost), or cancelled when a cancel was requested.
   * completed, diverged and stopped need the attempt's folder to have landed (recordLanded):
   * NotLandedError otherwise. Returns the run's new state.
   */
  finishRun(ref: RunRef, agentId: string, report: RunReportIn): RunState {
    return lifecycle.finishRun(this.core, ref, agentId, report);
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
    return lifecycle.expireLeases(this.core, leaseTtlMs, heard);
  }

  // ---------------------------------------------------------------------------------------------
  // Users: cancel, retry, status

  /**
   * Cancels a sweep's runs or one run: queued runs become cancelled at once; leased or running
   * ones get cancel_requested (their agent learns it at its next heartbeat, stops the run and
   * reports it). Returns how many runs were affected.
   */
  cancel(target: string): number {
    return lifecycle.cancel(this.core, target);
  }

  /**
   * Puts a target's failed and cancelled runs back in the queue (error and summary cleared). The
   * attempt number keeps counting up (the next lease is attempt + 1, so fencing stays right);
   * retry_base is set to the current attempt, so only attempts lost after this retry count
   * toward maxAttempts. Returns how many runs were requeued.
   */
  retry(target: string): number {
    return lifecycle.retry(this.core, target);
  }

  /**
   * Domain rows (the server maps them to its StatusReply). With a sweep: that sweep and all its
   * runs; without: all sweeps, every agent, and the runs of sweeps that have unfinished runs. An
   * agent is alive when it was heard from within 2 leaseTtlMs.
   */
  status(sweep?: string, leaseTtlMs: number = DEFAULT_LEASE_TTL_MS): StatusReport {
    return queries.status(this.core, sweep, leaseTtlMs);
  }

  /** Runs not finished across all sweeps: queued, leased or running. */
  unfinished(): number {
    return queries.unfinished(this.core);
  }

  /** Every run of the sweep (of all sweeps, without a name) is in a terminal state. */
  sweepDone(name?: string): boolean {
    if (name === undefined) return this.allDone();
    return queries.sweepDone(this.core, name);
  }

  /** The latest ended_at (ms) of the sweep's runs, null while none has ended: it changes whenever a run of it ends. */
  sweepLastEnded(name: string): number | null {
    return this.core.db.prepare<[string], { t: number | null }>('SELECT max(ended_at) AS t FROM runs WHERE sweep = ?').get(name)?.t ?? null;
  }

  allDone(): boolean {
    return this.unfinished() === 0;
  }

  /** The run's row; NotFoundError when there is no such run. */
  run(runId: string): RunRow {
    return queries.runRow(this.core, runId);
  }

  /** The stored metrics.jsonl lines of the run's current attempt, in seq order. */
  metricsOf(runId: string): string[] {
    return queries.metricsOf(this.core, runId);
  }

  /**
   * One run in full for RunDetail: its status row, its resolved config (JSON), and the stored
   * metrics.jsonl lines of its current attempt in seq order — the last `maxLines` of them, fewer
   * when those would pass `maxBytes` (UTF-8) together. NotFoundError for an unknown run.
   */
  runDetail(runId: string, maxLines: number, maxBytes: number): RunDetail {
    return queries.runDetail(this.core, runId, maxLines, maxBytes);
  }

  /** Records a SLURM job array submitted for `sweep` (coordinator/slurm/); NotFoundError for an unknown sweep. */
  recordSlurmJob(job: { jobId: string; sweep: string; arraySize: number; script: string }): void {
    slurm.recordSlurmJob(this.core, job);
  }

  /** What one squeue/sacct poll found of a job's tasks (slurm.ts updateSlurmTasks). */
  updateSlurmTasks(jobId: string, seen: slurm.SlurmTaskRow[], opts: { gone: boolean; error: string }): void {
    slurm.updateSlurmTasks(this.core, jobId, seen, opts);
  }

  /** The tasks of a job array not known to have ended. */
  openSlurmTasks(jobId: string): string[] {
    return slurm.openSlurmTasks(this.core, jobId);
  }

  /** The sweep makes its runs as agents ask (open-ended: bayes, or random without run_cap). */
  sweepIsOpen(name: string): boolean {
    return this.core.db.prepare<[string], { open: number }>('SELECT open FROM sweeps WHERE name = ?').get(name)?.open === 1;
  }

  /** Job arrays some task of which may still be in SLURM's queue; of one sweep when given. */
  activeSlurmJobs(sweep?: string): { job_id: string; sweep: string; array_size: number }[] {
    return slurm.activeSlurmJobs(this.core, sweep);
  }

  /** The schema version recorded in the file (PRAGMA user_version). */
  schemaVersion(): number {
    return schemaVersion(this.core.db);
  }

  /** True for a state a run does not leave by itself. */
  static isTerminal(state: string): boolean {
    return isTerminal(state);
  }

  close(): void {
    this.core.close();
  }
}
