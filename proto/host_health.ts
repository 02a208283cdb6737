/**
 * A host's health as both ends of the contract agree on it beyond proto/dlphys.proto: its bounds
 * (the coordinator refuses a Heartbeat over them, so the agent keeps to them before sending: a
 * heartbeat refused for a GPU name would let the agent's leases lapse), its plain form with
 * numbers (what the coordinator stores and what an `agent_health` event's data_json holds), and
 * the conversion from the wire message, whose int64 fields arrive as decimal strings.
 */
import type { HostHealth__Output } from './generated/dlphys/HostHealth.js';

/** GPUs one health reading lists at most (an 8-GPU host is common, 64 is generous). */
export const MAX_HEALTH_GPUS = 64;
/** A GPU's name, in UTF-8 bytes ("NVIDIA A100-SXM4-80GB" is 21). */
export const MAX_GPU_NAME_BYTES = 128;
/** collected_at, an ISO 8601 time. */
export const MAX_COLLECTED_AT_BYTES = 64;

/** One GPU as nvidia-smi reads it: utilisation 0..100, memory in bytes. */
export interface GpuHealthData {
  index: number;
  name: string;
  util_percent: number;
  mem_used_bytes: number;
  mem_total_bytes: number;
}

/**
 * A host's health with plain numbers, named as the proto's HostHealth: cpu_percent 0..100 (busy
 * share of all cores since the previous reading), RAM in bytes, one entry per GPU (none on a host
 * without GPUs), collected_at ISO 8601 on the agent's clock.
 */
export interface HostHealthData {
  cpu_percent: number;
  ram_used_bytes: number;
  ram_total_bytes: number;
  gpus: GpuHealthData[];
  collected_at: string;
}

/** `n` when it is a finite number within [min, max], else clamped into it (NaN: min). */
function within(n: number, min: number, max: number): number {
  if (!Number.isFinite(n)) return n === Infinity ? max : min;
  return Math.min(max, Math.max(min, n));
}

/** A whole non-negative byte count (NaN, negative: 0). */
function bytes(n: number): number {
  return Math.round(within(n, 0, Number.MAX_SAFE_INTEGER));
}

/** `text` without control characters, cut to at most `max` UTF-8 bytes (never inside a character). */
function boundedText(text: string, max: number): string {
  const clean = text.replace(/[\x00-\x1f\x7f]/g, ' ');
  if (Buffer.byteLength(clean) <= max) return clean;
  return Buffer.from(clean).subarray(0, max).toString('utf8').replace(/\uFFFD+$/, '');
}

/**
 * `h` brought within the bounds the coordinator checks (coordinator/bounds.ts): percentages
 * clamped to 0..100, byte counts whole and non-negative, at most {@link MAX_HEALTH_GPUS} GPUs,
 * names without control characters and at most {@link MAX_GPU_NAME_BYTES} bytes. Never throws.
 */
export function boundHealth(h: HostHealthData): HostHealthData {
  return {
    cpu_percent: within(h.cpu_percent, 0, 100),
    ram_used_bytes: bytes(h.ram_used_bytes),
    ram_total_bytes: bytes(h.ram_total_bytes),
    gpus: h.gpus.slice(0, MAX_HEALTH_GPUS).map((g) => ({
      index: Math.round(within(g.index, 0, 2 ** 31 - 1)),
      name: boundedText(g.name, MAX_GPU_NAME_BYTES),
      util_percent: within(g.util_percent, 0, 100),
      mem_used_bytes: bytes(g.mem_used_bytes),
      mem_total_bytes: bytes(g.mem_total_bytes),
    })),
    collected_at: boundedText(h.collected_at, MAX_COLLECTED_AT_BYTES),
  };
}

/** The wire message (int64 as decimal strings, after the request's bounds were checked) with plain numbers. */
export function healthFromWire(h: HostHealth__Output): HostHealthData {
  return {
    cpu_percent: h.cpu_percent,
    ram_used_bytes: Number(h.ram_used_bytes),
    ram_total_bytes: Number(h.ram_total_bytes),
    gpus: h.gpus.map((g) => ({
      index: g.index,
      name: g.name,
      util_percent: g.util_percent,
      mem_used_bytes: Number(g.mem_used_bytes),
      mem_total_bytes: Number(g.mem_total_bytes),
    })),
    collected_at: h.collected_at,
  };
}
