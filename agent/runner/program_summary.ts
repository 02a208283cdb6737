import fs from 'node:fs';
import path from 'node:path';
import { BOOKKEEPING_KEYS, UNRANKED_METRICS, higherIsBetter } from '../../lib/metric_goal.js';
import type { RunSummary } from '../../lib/run/run_folder.js';

/**
 * The numbers of a program run's summary.json, gathered from its metrics rows as they arrive:
 * `final` is the last value of each metric (W&B's default summary), overridden by what the program
 * set in its W&B summary (`wandb-summary.json`, which the wandb shim writes); `best` the best value
 * by the rule scan and the trainer share (accuracies up, everything else down), except the sweep
 * metric, which goes the sweep's way.
 */
export class ProgramSummary {
  readonly final: Record<string, number> = {};
  readonly best: Record<string, number> = {};
  private maxStep: number | null = null;
  private minStep: number | null = null;

  constructor(private readonly metric: { name: string; goal: 'min' | 'max' } | null) {}

  /** Takes one metrics row (a parsed metrics.jsonl line): its step and its finite numbers. */
  add(row: Record<string, unknown>): void {
    if (typeof row.step === 'number' && Number.isFinite(row.step)) {
      this.maxStep = Math.max(this.maxStep ?? row.step, row.step);
      this.minStep = Math.min(this.minStep ?? row.step, row.step);
    }
    for (const [key, value] of Object.entries(row)) {
      if (BOOKKEEPING_KEYS.has(key) || typeof value !== 'number' || !Number.isFinite(value)) continue;
      this.final[key] = value;
      if (UNRANKED_METRICS.has(key)) continue;
      const up = this.metric?.name === key ? this.metric.goal === 'max' : higherIsBetter(key);
      const prev = this.best[key];
      if (prev === undefined || (up ? value > prev : value < prev)) this.best[key] = value;
    }
  }

  /**
   * The summary.json of the run, with the program's W&B summary merged into `final`: from the
   * shim's file only the keys it marks as set by the program (the rest of that file can be up to a
   * second older than the rows: a run killed mid-way would report a stale final), and keys it
   * never logged; from the real wandb's offline file (written at finish) every key.
   */
  summary(dir: string, fields: Omit<RunSummary, 'steps' | 'final' | 'best' | 'callback_time'>): RunSummary {
    const { values, explicit } = readWandbSummary(dir);
    const merged: Record<string, number> = { ...this.final };
    for (const [k, v] of Object.entries(values)) if (explicit === null || explicit.has(k) || !(k in this.final)) merged[k] = v;
    return { ...fields, steps: this.steps, final: merged, best: { ...this.best }, callback_time: {} };
  }

  /** Steps the program logged: W&B counts from 0, so a last step of 299 after a first of 0 is 300 steps. */
  get steps(): number {
    if (this.maxStep === null) return 0;
    return this.maxStep + (this.minStep === 0 ? 1 : 0);
  }
}

/**
 * The finite numbers of the run's W&B summary (nested objects by dotted keys), and the keys the
 * program set itself when the shim wrote it (null for the real wandb's file): `wandb-summary.json`
 * in the run folder (the shim's), else the newest `wandb/<run>/files/wandb-summary.json` (the real
 * wandb's, offline); nothing when there is none.
 */
function readWandbSummary(dir: string): { values: Record<string, number>; explicit: Set<string> | null } {
  let raw: unknown;
  try {
    raw = JSON.parse(fs.readFileSync(summaryFile(dir) ?? '', 'utf8'));
  } catch {
    return { values: {}, explicit: null };
  }
  const marks = (raw as { _dlphys_explicit?: unknown })._dlphys_explicit;
  const explicit = Array.isArray(marks) ? new Set(marks.map(String)) : null;
  const out: Record<string, number> = {};
  const visit = (value: unknown, prefix: string) => {
    if (typeof value === 'number' && Number.isFinite(value) && prefix && !BOOKKEEPING_KEYS.has(prefix) && !prefix.startsWith('_')) out[prefix] = value;
    else if (value !== null && typeof value === 'object' && !Array.isArray(value)) {
      for (const [k, v] of Object.entries(value)) visit(v, prefix ? `${prefix}.${k}` : k);
    }
  };
  visit(raw, '');
  return { values: out, explicit };
}

function summaryFile(dir: string): string | null {
  const own = path.join(dir, 'wandb-summary.json');
  if (fs.existsSync(own)) return own;
  let newest: { file: string; mtime: number } | null = null;
  try {
    for (const run of fs.readdirSync(path.join(dir, 'wandb'))) {
      const file = path.join(dir, 'wandb', run, 'files', 'wandb-summary.json');
      const mtime = fs.statSync(file, { throwIfNoEntry: false })?.mtimeMs;
      if (mtime !== undefined && (!newest || mtime > newest.mtime)) newest = { file, mtime };
    }
  } catch {
    // no wandb/ folder
  }
  return newest?.file ?? null;
}
