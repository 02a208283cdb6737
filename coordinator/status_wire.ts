/**
 * The store's status rows (coordinator/store/types.ts) as the proto's StatusReply: the one place
 * where the store's answer to Status meets the wire format. Fields are named alike on both sides
 * and copied one by one (Required<>: a field added to the proto is a compile error here until mapped).
 */
import type { AgentStatus } from '../proto/generated/dlphys/AgentStatus.js';
import type { CoordinatorHealth } from '../proto/generated/dlphys/CoordinatorHealth.js';
import type { GpuHealth } from '../proto/generated/dlphys/GpuHealth.js';
import type { HostHealth } from '../proto/generated/dlphys/HostHealth.js';
import type { RunStatus } from '../proto/generated/dlphys/RunStatus.js';
import type { StatusReply } from '../proto/generated/dlphys/StatusReply.js';
import type { SweepStatus } from '../proto/generated/dlphys/SweepStatus.js';
import type { AgentRow, HostHealthData, RunStatusRow, SlurmJobRow, StatusReport, SweepRow } from './store/index.js';
import type { SlurmJob__Output } from '../proto/generated/dlphys/SlurmJob.js';

export function sweepToWire(s: SweepRow): Required<SweepStatus> {
  return { name: s.name, created_at: s.created_at, total: s.total, states: { ...s.states }, metric: s.metric, goal: s.goal, warning: s.warning, finished_reason: s.finished_reason };
}

export function agentToWire(a: AgentRow): Required<AgentStatus> {
  return {
    id: a.id,
    host: a.host,
    gpus: [...a.gpus],
    slots: a.slots,
    last_heartbeat: a.last_heartbeat,
    alive: a.alive,
    running: a.running,
    state: a.state,
    quarantined_until: a.quarantined_until,
    lost_runs: a.lost_runs,
    health: a.health ? healthToWire(a.health) : null,
    slurm_job: a.slurm_job,
  };
}

/** An agent's latest health as the proto's HostHealth (byte counts go out as int64). */
export function healthToWire(h: HostHealthData): Required<HostHealth> {
  return {
    cpu_percent: h.cpu_percent,
    ram_used_bytes: h.ram_used_bytes,
    ram_total_bytes: h.ram_total_bytes,
    gpus: h.gpus.map(
      (g): Required<GpuHealth> => ({
        index: g.index,
        name: g.name,
        util_percent: g.util_percent,
        mem_used_bytes: g.mem_used_bytes,
        mem_total_bytes: g.mem_total_bytes,
      }),
    ),
    collected_at: h.collected_at,
  };
}

export function runToWire(r: RunStatusRow): Required<RunStatus> {
  return {
    id: r.id,
    sweep: r.sweep,
    name: r.name,
    state: r.state,
    attempt: r.attempt,
    agent_id: r.agent_id,
    params_json: r.params_json,
    summary_json: r.summary_json,
    error: r.error,
    updated_at: r.updated_at,
    lost_attempts: r.lost_attempts,
    last_metrics_json: r.last_metrics_json,
  };
}

/** Store.status's report plus the coordinator's health, as Status replies it. */
export function statusToWire(report: StatusReport, coordinator: CoordinatorHealth): StatusReply {
  return {
    sweeps: report.sweeps.map(sweepToWire),
    agents: report.agents.map(agentToWire),
    runs: report.runs.map(runToWire),
    coordinator,
    slurm_jobs: report.slurmJobs.map(slurmJobToWire),
  };
}

/** A submitted SLURM job array as Status replies it. */
export function slurmJobToWire(j: SlurmJobRow): SlurmJob__Output {
  return {
    job_id: j.job_id,
    sweep: j.sweep,
    array_size: j.array_size,
    script: j.script,
    submitted_at: new Date(j.submitted_at).toISOString(),
    tasks: j.tasks,
    error: j.error,
  };
}
