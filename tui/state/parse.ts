/**
 * Reading the JSON strings the contract carries (an event's data_json, a run's params_json and
 * summary_json, an agent_health event's HostHealth) into plain values, tolerantly: a field that
 * is missing or malformed reads as absent, never as an exception inside a render.
 */
import type { GpuHealth__Output } from '../../proto/generated/dlphys/GpuHealth.js';
import type { HostHealth__Output } from '../../proto/generated/dlphys/HostHealth.js';

/** A JSON object, or {} for anything else (empty string, malformed, an array). */
export function parseObject(text: string | undefined | null): Record<string, unknown> {
  if (!text) return {};
  try {
    const v: unknown = JSON.parse(text);
    return v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : {};
  } catch {
    return {};
  }
}

/**
 * The same params_json and summary_json strings are read at every redraw (10 a second, a thousand
 * runs): each is parsed once. Bounded, and cleared whole when full. Only for strings that repeat
 * (an event's data is read once: parseObject).
 */
const parsed = new Map<string, Readonly<Record<string, unknown>>>();
const MAX_PARSED = 20_000;

/** parseObject, remembered by text. Shared between callers: never modify what it returns. */
export function parseCached(text: string | undefined | null): Readonly<Record<string, unknown>> {
  if (!text) return {};
  let o = parsed.get(text);
  if (o === undefined) {
    o = parseObject(text);
    if (parsed.size >= MAX_PARSED) parsed.clear();
    parsed.set(text, o);
  }
  return o;
}

/** A finite number, from a number or a numeric string (int64 fields arrive as strings); else null. */
export function num(v: unknown): number | null {
  const n = typeof v === 'number' ? v : typeof v === 'string' && v.trim() !== '' ? Number(v) : NaN;
  return Number.isFinite(n) ? n : null;
}

/** An ISO time as epoch ms; null for '' or a malformed time. */
export function timeMs(iso: string | undefined): number | null {
  if (!iso) return null;
  const t = Date.parse(iso);
  return Number.isFinite(t) ? t : null;
}

/** What the dashboard reads of summary.json (lib/run/run_folder.ts RunSummary). */
export interface SummaryView {
  status: string;
  steps: number | null;
  wallTime: number | null;
  best: Record<string, number>;
  final: Record<string, number>;
  error: string;
}

function numbers(v: unknown): Record<string, number> {
  const out: Record<string, number> = {};
  if (v && typeof v === 'object') {
    for (const [k, x] of Object.entries(v as Record<string, unknown>)) if (typeof x === 'number') out[k] = x;
  }
  return out;
}

/** A run's summary_json, or null before the run has one. */
export function parseSummary(text: string | undefined): SummaryView | null {
  const o = parseCached(text);
  if (Object.keys(o).length === 0) return null;
  return {
    status: typeof o.status === 'string' ? o.status : '',
    steps: num(o.steps),
    wallTime: num(o.wall_time),
    best: numbers(o.best),
    final: numbers(o.final),
    error: typeof o.error === 'string' ? o.error : '',
  };
}

/** A parameter value as a table cell: numbers short (1e-3, 0.1), strings bare, the rest as JSON. */
export function showValue(v: unknown): string {
  if (typeof v === 'number') return Number.isInteger(v) || Math.abs(v) >= 1e-3 ? String(Number(v.toPrecision(4))) : v.toExponential(1).replace(/\.0e/, 'e');
  if (typeof v === 'string') return v;
  return JSON.stringify(v) ?? String(v);
}

function gpu(v: unknown): GpuHealth__Output | null {
  if (!v || typeof v !== 'object') return null;
  const g = v as Record<string, unknown>;
  return {
    index: num(g.index) ?? 0,
    name: typeof g.name === 'string' ? g.name : '',
    util_percent: num(g.util_percent) ?? 0,
    mem_used_bytes: String(num(g.mem_used_bytes) ?? 0),
    mem_total_bytes: String(num(g.mem_total_bytes) ?? 0),
  };
}

/** An agent_health event's data (a HostHealth as JSON) in the shape Status carries; null when it is not one. */
export function parseHealth(text: string): HostHealth__Output | null {
  const o = parseObject(text);
  if (num(o.cpu_percent) === null && num(o.ram_total_bytes) === null && !Array.isArray(o.gpus)) return null;
  return {
    cpu_percent: num(o.cpu_percent) ?? 0,
    ram_used_bytes: String(num(o.ram_used_bytes) ?? 0),
    ram_total_bytes: String(num(o.ram_total_bytes) ?? 0),
    gpus: Array.isArray(o.gpus) ? o.gpus.map(gpu).filter((g): g is GpuHealth__Output => g !== null) : [],
    collected_at: typeof o.collected_at === 'string' ? o.collected_at : '',
  };
}
