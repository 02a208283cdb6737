/**
 * Agents' host health: the latest reading a heartbeat carried is kept on the agent's row (no
 * history), and an `agent_health` event tells watchers — but not at every heartbeat. Heartbeats
 * come every lease TTL / 3 from every agent (every second in tests, a few seconds in practice,
 * times dozens of agents), and most readings differ from the last one by noise. So an event is
 * recorded only when the reading moved meaningfully since the agent's last event
 * ({@link healthMovedMeaningfully}) and at least {@link HEALTH_EVENT_MIN_MS} after it, or when
 * {@link HEALTH_EVENT_MAX_MS} have passed (a watcher then sees that the host still reports, its
 * collected_at moving, though its load is steady). The log keeps only each agent's latest
 * health event (events.ts), so the log stays one event per agent however long the agents run.
 */
import type { GpuHealthData, HostHealthData } from '../../proto/host_health.js';
import type { StoreCore } from './core.js';

/**
 * At most one agent_health event per agent this often: a dashboard's bars need no more than a
 * glance's worth of updates, and 100 agents then add at most 20 events a second to the log.
 */
export const HEALTH_EVENT_MIN_MS = 5_000;
/** An agent's health event at least this often while it heartbeats, changed or not. */
export const HEALTH_EVENT_MAX_MS = 60_000;
/** A change of CPU or GPU utilisation this large (percentage points) is worth an event. */
export const HEALTH_PERCENT_STEP = 5;
/** A change of used memory this large (a fraction of the total) is worth an event. */
export const HEALTH_MEMORY_STEP = 0.02;

function memoryMoved(before: number, after: number, total: number): boolean {
  return Math.abs(after - before) >= HEALTH_MEMORY_STEP * Math.max(total, 1);
}

function gpuMoved(a: GpuHealthData, b: GpuHealthData): boolean {
  return (
    a.index !== b.index ||
    a.name !== b.name ||
    a.mem_total_bytes !== b.mem_total_bytes ||
    Math.abs(a.util_percent - b.util_percent) >= HEALTH_PERCENT_STEP ||
    memoryMoved(a.mem_used_bytes, b.mem_used_bytes, b.mem_total_bytes)
  );
}

/**
 * True when `next` differs from `prev` by more than noise: CPU or a GPU's utilisation by
 * {@link HEALTH_PERCENT_STEP} points or more, used RAM or GPU memory by {@link HEALTH_MEMORY_STEP}
 * of its total or more, or another set of GPUs (count, index, name, total memory).
 */
export function healthMovedMeaningfully(prev: HostHealthData, next: HostHealthData): boolean {
  if (Math.abs(next.cpu_percent - prev.cpu_percent) >= HEALTH_PERCENT_STEP) return true;
  if (next.ram_total_bytes !== prev.ram_total_bytes || memoryMoved(prev.ram_used_bytes, next.ram_used_bytes, next.ram_total_bytes)) return true;
  if (next.gpus.length !== prev.gpus.length) return true;
  return next.gpus.some((g, i) => gpuMoved(prev.gpus[i]!, g));
}

/** The agent's last health event's reading, or null when it has none (or it does not parse). */
function lastEventHealth(dataJson: string): HostHealthData | null {
  try {
    const h = JSON.parse(dataJson) as HostHealthData;
    return h && typeof h === 'object' && Array.isArray(h.gpus) ? h : null;
  } catch {
    return null;
  }
}

/**
 * Inside the caller's transaction (a heartbeat): stores `health` as the agent's latest, and
 * records an agent_health event (data: the reading) when the rule above says so.
 */
export function recordHealth(core: StoreCore, agentId: string, health: HostHealthData): void {
  const json = JSON.stringify(health);
  core.s.setHealth.run(json, agentId);
  const last = core.latestEvent('agent_health', agentId);
  const now = core.now();
  if (last) {
    const since = now - last.timeMs;
    const prev = lastEventHealth(last.dataJson);
    const due = since >= HEALTH_EVENT_MAX_MS || (since >= HEALTH_EVENT_MIN_MS && (prev === null || healthMovedMeaningfully(prev, health)));
    if (!due) return;
  }
  core.event('agent_health', { agentId, data: health });
}
