/**
 * The agents pane's rows, derived from DashData at a given time: each agent with the runs it
 * holds, its latest health, and how long since it was last heard from. An agent is stale once
 * two of its heartbeats are overdue (the coordinator calls it lost only after two lease TTLs, so
 * a stale mark is the early warning); its period is learnt from the heartbeats seen.
 */
import type { HostHealth__Output } from '../../proto/generated/dlphys/HostHealth.js';
import { coordinatorNow, type AgentTrack, type DashData } from './dash_data.js';
import { timeMs } from './parse.js';

/** The heartbeat period assumed until two heartbeats have been seen (the coordinator's default lease TTL / 3). */
export const DEFAULT_HEARTBEAT_MS = 10_000;

/** An agent as the agents pane shows it. */
export interface AgentView {
  readonly id: string;
  readonly host: string;
  readonly gpus: readonly string[];
  readonly slots: number;
  /** Runs it holds (leased or running), by run name. */
  readonly runs: readonly string[];
  /** alive | lost | left | quarantined, as the coordinator says. */
  readonly state: string;
  readonly quarantinedUntil: string;
  readonly lostRuns: number;
  /** Since its last heartbeat (ms); null when it never sent one. */
  readonly heartbeatAgeMs: number | null;
  /** Alive by the coordinator's word, but more than two heartbeats overdue. */
  readonly stale: boolean;
  readonly health: HostHealth__Output | null;
  /** The SLURM array task it runs in ("1234_5"), '' outside SLURM. */
  readonly slurmJob: string;
}

/** Gaps shorter than this are one heartbeat seen twice (its Status time and its agent_health event's), not a period. */
const SAME_BEAT_MS = 500;

/**
 * The period between an agent's heartbeats: the median gap between the beats seen, leaving out
 * gaps too short to be two beats. The median, not the shortest: an extra beat (an agent beats
 * again when a run ends) or a missed one would make the shortest or longest gap lie.
 */
export function heartbeatPeriod(track: AgentTrack | undefined): number {
  const beats = track?.beats ?? [];
  const gaps: number[] = [];
  for (let i = 1; i < beats.length; i++) if (beats[i]! - beats[i - 1]! >= SAME_BEAT_MS) gaps.push(beats[i]! - beats[i - 1]!);
  if (gaps.length === 0) return DEFAULT_HEARTBEAT_MS;
  gaps.sort((x, y) => x - y);
  return gaps[Math.floor(gaps.length / 2)]!;
}

/** The newer of two healths by collected_at (an event's may be fresher than the last Status). */
function newer(a: HostHealth__Output | null, b: HostHealth__Output | null): HostHealth__Output | null {
  if (!a || !b) return a ?? b;
  return (timeMs(b.collected_at) ?? 0) > (timeMs(a.collected_at) ?? 0) ? b : a;
}

/** Every agent of the snapshot, in its order; `now` is local epoch ms. */
export function agentViews(data: DashData, now: number): AgentView[] {
  const coordNow = coordinatorNow(data, now);
  const held = new Map<string, string[]>();
  for (const r of data.status?.runs ?? []) {
    if (!r.agent_id || (r.state !== 'leased' && r.state !== 'running')) continue;
    held.set(r.agent_id, [...(held.get(r.agent_id) ?? []), r.name]);
  }
  return (data.status?.agents ?? []).map((a) => {
    const track = data.agents.get(a.id);
    const last = Math.max(timeMs(a.last_heartbeat) ?? -Infinity, ...(track?.beats ?? []));
    const age = Number.isFinite(last) ? Math.max(0, coordNow - last) : null;
    const live = a.state === 'alive' || a.state === 'quarantined';
    return {
      id: a.id,
      host: a.host,
      gpus: a.gpus,
      slots: a.slots,
      runs: held.get(a.id) ?? [],
      state: a.state,
      quarantinedUntil: a.quarantined_until,
      lostRuns: a.lost_runs,
      heartbeatAgeMs: age,
      stale: live && age !== null && age > 2 * heartbeatPeriod(track),
      health: newer(a.health ?? null, track?.health ?? null),
      slurmJob: a.slurm_job ?? '',
    };
  });
}

/**
 * One line per SLURM job array still in the queue: its tasks counted by state, pending ones first
 * with SLURM's reason (`slurm 1234 grid: 3 pending (Resources), 2 running`) — agents to come, beside
 * the agents at work above them. Jobs whose tasks have all ended are left out.
 */
export function slurmLines(data: DashData): string[] {
  const order = ['PENDING', 'RUNNING', 'COMPLETING'];
  return (data.status?.slurm_jobs ?? []).flatMap((j) => {
    const counts = new Map<string, number>();
    for (const t of j.tasks) counts.set(t.state, (counts.get(t.state) ?? 0) + 1);
    if (!order.some((s) => counts.has(s))) return [];
    const reasons = [...new Set(j.tasks.filter((t) => t.state === 'PENDING' && t.reason).map((t) => t.reason))];
    const parts = [...counts]
      .sort(([a], [b]) => (order.indexOf(a) + 1 || 9) - (order.indexOf(b) + 1 || 9))
      .map(([state, n]) => `${n} ${state.toLowerCase()}${state === 'PENDING' && reasons.length ? ` (${reasons.join(', ')})` : ''}`);
    return [`slurm ${j.job_id} ${j.sweep}: ${parts.join(', ')}${j.error ? `  error: ${j.error}` : ''}`];
  });
}
