import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { BOOKKEEPING_KEYS, higherIsBetter } from '../metric_goal.js';

/**
 * A summary.json status, or what scan infers without one: `running` (its process is alive on
 * this host), `crashed` (its process on this host is gone), `incomplete` (another host, or no
 * provenance: it may still be running there).
 */
export type ScanStatus = 'completed' | 'diverged' | 'stopped' | 'failed' | 'running' | 'crashed' | 'incomplete' | (string & {});

export type Goal = 'min' | 'max';

/** One run folder, read tolerantly. Metric values may be NaN or ±Infinity (a diverged run). */
export interface RunRecord {
  readonly kind: 'run';
  readonly path: string;
  readonly name: string;
  readonly status: ScanStatus;
  /** Why the run stopped early, from summary.json. */
  readonly reason: string | null;
  /** The error of a failed run, from summary.json. */
  readonly error: string | null;
  /** config.json without its `provenance`. */
  readonly config: Record<string, unknown>;
  readonly provenance: Record<string, unknown> | null;
  /** Last value of every metric. */
  readonly final: Record<string, number>;
  /** Best value of every metric, by defaultGoal (summary.json first, then metrics.jsonl). */
  readonly best: Record<string, number>;
  /** Smallest and largest finite value of every metric in metrics.jsonl, for a goal other than the default. */
  readonly extremes: Record<string, { min: number; max: number }>;
  readonly steps: number | null;
  /** The largest `step` in metrics.jsonl (W&B's `_step`: a program's steps count from 0). */
  readonly lastStep: number | null;
  /** Seconds, from summary.json, else the last `time` in metrics.jsonl. */
  readonly wallTime: number | null;
  /** When the run started (ISO 8601): provenance.started_at, else summary.json's. */
  readonly startedAt: string | null;
  /** Problems that did not stop the folder from being read (a malformed metrics line). */
  readonly warnings: string[];
  /** Metrics logged on probe rows (split "probe"): they have no default best. */
  readonly probeMetrics: ReadonlySet<string>;
}

/** A folder that could not be read; scan reports it and goes on. */
export interface RunReadError {
  readonly kind: 'error';
  readonly path: string;
  readonly message: string;
}

/** How to tell whether a run without summary.json is still alive; tests may supply their own. */
export interface Liveness {
  readonly hostname: string;
  isAlive(pid: number): boolean;
}

export const localLiveness: Liveness = {
  hostname: os.hostname(),
  isAlive(pid) {
    try {
      process.kill(pid, 0);
      return true;
    } catch (err) {
      // EPERM: the process exists but belongs to someone else.
      return (err as NodeJS.ErrnoException).code === 'EPERM';
    }
  },
};

export { BOOKKEEPING_KEYS };

export function defaultGoal(metric: string): Goal {
  return higherIsBetter(metric) ? 'max' : 'min';
}

export function isRunFolder(dir: string): boolean {
  return fs.existsSync(path.join(dir, 'config.json')) || fs.existsSync(path.join(dir, 'metrics.jsonl'));
}

/**
 * The best value of `metric` for `goal`: with the default goal, the recorded best (the trainer's
 * own, when it wrote a summary); with the other goal, the opposite extreme of metrics.jsonl.
 */
export function bestOf(run: RunRecord, metric: string, goal: Goal = defaultGoal(metric)): number | undefined {
  if (goal === defaultGoal(metric)) return run.best[metric];
  return run.extremes[metric]?.[goal];
}

/** Reads one run folder; never throws for a broken folder, returns an error entry instead. */
export function readRun(dir: string, liveness: Liveness = localLiveness): RunRecord | RunReadError {
  try {
    return readRunOrThrow(dir, liveness);
  } catch (err) {
    return { kind: 'error', path: dir, message: oneLine(err instanceof Error ? err.message : String(err)) };
  }
}

function readRunOrThrow(dir: string, liveness: Liveness): RunRecord {
  const warnings: string[] = [];
  const rawConfig = readJsonObject(path.join(dir, 'config.json'));
  const summary = readJsonObject(path.join(dir, 'summary.json'));
  const series = readMetrics(path.join(dir, 'metrics.jsonl'), warnings);
  // A run that has just started may have opened metrics.jsonl before writing config.json.
  if (rawConfig === undefined && series.lastStep !== null) warnings.push(`${path.join(dir, 'config.json')}: missing (no config columns for this run)`);

  const { provenance, ...config }: Record<string, unknown> = rawConfig ?? {};
  const prov = isObject(provenance) ? provenance : null;

  const final = { ...series.final, ...numbers(summary?.final) };
  const best = { ...series.best, ...numbers(summary?.best) };
  const name = stringOr(summary?.name) ?? stringOr(config.name) ?? path.basename(path.resolve(dir));

  return {
    kind: 'run',
    path: dir,
    name,
    status: summary ? (stringOr(summary.status) ?? 'unknown') : inferStatus(prov, liveness),
    reason: stringOr(summary?.reason) ?? null,
    error: stringOr(summary?.error) ?? null,
    config,
    provenance: prov,
    final,
    best,
    extremes: series.extremes,
    steps: finiteOr(summary?.steps) ?? series.lastStep,
    lastStep: series.lastStep,
    wallTime: finiteOr(summary?.wall_time) ?? series.lastTime,
    startedAt: stringOr(prov?.started_at) ?? stringOr(summary?.started_at) ?? null,
    warnings,
    probeMetrics: series.probeKeys,
  };
}

function inferStatus(prov: Record<string, unknown> | null, liveness: Liveness): ScanStatus {
  const pid = prov?.pid;
  if (prov?.host !== liveness.hostname || typeof pid !== 'number' || !Number.isInteger(pid) || pid <= 0) return 'incomplete';
  return liveness.isAlive(pid) ? 'running' : 'crashed';
}

interface Series {
  final: Record<string, number>;
  best: Record<string, number>;
  extremes: Record<string, { min: number; max: number }>;
  lastStep: number | null;
  lastTime: number | null;
  probeKeys: Set<string>;
}

/** Folds metrics.jsonl line by line; a torn last line is skipped silently, a bad line elsewhere warned about. */
function readMetrics(file: string, warnings: string[]): Series {
  // Probe numbers (split "probe") describe the network, not how well it does: no default "best",
  // as the trainer gives none in summary.json (an explicit goal still reads their extremes).
  const probeKeys = new Set<string>();
  const series: Series = { final: {}, best: {}, extremes: {}, lastStep: null, lastTime: null, probeKeys };
  const text = readText(file);
  if (text === undefined) return series;
  const lines = text.split('\n');
  let last = lines.length - 1;
  while (last >= 0 && lines[last]!.trim() === '') last--;
  for (let i = 0; i <= last; i++) {
    const line = lines[i]!.trim();
    if (line === '') continue;
    let entry: unknown;
    try {
      entry = JSON.parse(line);
    } catch {
      // The writer appends whole lines, so only the last one can be half-written by a crash.
      if (i !== last) warnings.push(`${file}:${i + 1}: not valid JSON (line skipped)`);
      continue;
    }
    if (!isObject(entry)) {
      warnings.push(`${file}:${i + 1}: not a JSON object (line skipped)`);
      continue;
    }
    const step = finiteOr(entry.step);
    if (step !== undefined) series.lastStep = Math.max(series.lastStep ?? step, step);
    const time = finiteOr(entry.time);
    if (time !== undefined) series.lastTime = time;
    for (const [key, raw] of Object.entries(entry)) {
      if (BOOKKEEPING_KEYS.has(key)) continue;
      const value = toNumber(raw);
      if (value === undefined) continue;
      if (entry.split === 'probe') probeKeys.add(key);
      series.final[key] = value;
      if (!Number.isFinite(value)) continue;
      const ext = series.extremes[key];
      if (ext) {
        ext.min = Math.min(ext.min, value);
        ext.max = Math.max(ext.max, value);
      } else {
        series.extremes[key] = { min: value, max: value };
      }
    }
  }
  for (const [key, ext] of Object.entries(series.extremes)) if (!probeKeys.has(key)) series.best[key] = ext[defaultGoal(key)];
  return series;
}

/** Parses a JSON object file; undefined when the file does not exist, an Error naming it otherwise. */
function readJsonObject(file: string): Record<string, unknown> | undefined {
  const text = readText(file);
  if (text === undefined) return undefined;
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new Error(`${path.basename(file)} is not valid JSON: ${(err as Error).message}`);
  }
  if (!isObject(value)) throw new Error(`${path.basename(file)} is not a JSON object`);
  return value;
}

function readText(file: string): string | undefined {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return undefined;
    throw new Error(`cannot read ${path.basename(file)}: ${code ?? (err as Error).message}`);
  }
}

/** The run folder writes NaN and ±Infinity as strings, since JSON has no such numbers. */
function toNumber(value: unknown): number | undefined {
  if (typeof value === 'number') return value;
  if (value === 'NaN') return NaN;
  if (value === 'Infinity') return Infinity;
  if (value === '-Infinity') return -Infinity;
  return undefined;
}

function numbers(value: unknown): Record<string, number> {
  const out: Record<string, number> = {};
  if (!isObject(value)) return out;
  for (const [key, raw] of Object.entries(value)) {
    const n = toNumber(raw);
    if (n !== undefined) out[key] = n;
  }
  return out;
}

function finiteOr(value: unknown): number | undefined {
  return typeof value === 'number' && Number.isFinite(value) ? value : undefined;
}

function stringOr(value: unknown): string | undefined {
  return typeof value === 'string' ? value : undefined;
}

export function isObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

export function oneLine(text: string): string {
  return text.replace(/\s*\n\s*/g, ' ').trim();
}
