import type { SlurmJobRow } from './slurm.js';
/**
 * What the store takes and gives: plain domain types, no wire format. The gRPC server maps the
 * status rows to its proto messages (coordinator/status_wire.ts).
 */
import type { RunRef } from '../../lib/run/run_ref.js';
import type { GpuHealthData, HostHealthData } from '../../proto/host_health.js';
import type { RunState } from '../schema.js';

export type { GpuHealthData, HostHealthData, RunRef, RunState };

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
  /** The SLURM job it runs in ("<array job>_<task>"), '' or absent outside SLURM. */
  slurmJob?: string;
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
  /** Set when early termination asked the run to stop (why: rule, band, value, cut); its end is then early_stopped. */
  stop_reason: string | null;
}

// -----------------------------------------------------------------------------------------------
// Status rows (Store.status). Times are ISO 8601 strings, '' for none; missing text is ''.

/** What a sweep's runs execute: dlphys's trainer, or the sweep's own program. */
export type SweepKind = 'native' | 'program';

/** A sweep and how many of its runs are in each state. */
export interface SweepRow {
  name: string;
  created_at: string;
  total: number;
  /** Every run state, with 0 for those no run is in. */
  states: Record<string, number>;
  metric: string;
  goal: string;
  /** Why the sweep metric may never get a value (no run that ended logged it), or ''. */
  warning: string;
  /** Why the sweep hands out no more runs though it had some left (its metric.target was reached), or ''. */
  finished_reason: string;
}

export type AgentState = 'alive' | 'lost' | 'left' | 'quarantined';

/** An agent as status shows it. */
export interface AgentRow {
  id: string;
  host: string;
  gpus: string[];
  slots: number;
  last_heartbeat: string;
  /** Heard from within 2 lease TTLs and not gone. */
  alive: boolean;
  /** Its leased or running runs. */
  running: number;
  state: AgentState;
  /** '' unless quarantined. */
  quarantined_until: string;
  /** Attempts of this agent whose lease expired. */
  lost_runs: number;
  /** The latest host health its heartbeats carried; null until one did. */
  health: HostHealthData | null;
  /** "<array job>_<task>" when SLURM started it, else ''. */
  slurm_job: string;
}

/** A run as status shows it. */
export interface RunStatusRow {
  id: string;
  sweep: string;
  name: string;
  state: RunState;
  attempt: number;
  agent_id: string;
  params_json: string;
  summary_json: string;
  error: string;
  updated_at: string;
  /** Attempts of this run whose agent vanished (lease expired), since the run was created. */
  lost_attempts: number;
  /** The latest metrics.jsonl line stored for the current attempt of a run in progress; '' otherwise. */
  last_metrics_json: string;
}

/** One run in full (Store.runDetail). */
export interface RunDetail {
  run: RunStatusRow;
  /** The run's full resolved ExperimentConfig, as JSON (what its config.json holds). */
  configJson: string;
  /** The current attempt's stored metrics.jsonl lines, oldest first (the newest ones when capped). */
  metricLines: string[];
}

export interface StatusReport {
  sweeps: SweepRow[];
  agents: AgentRow[];
  runs: RunStatusRow[];
  /** SLURM job arrays of agents (coordinator/store/slurm.ts). */
  slurmJobs: SlurmJobRow[];
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
