/**
 * The agent's per-run phase marks (agent/phases.ts, written where DLPHYS_PHASES_FILE points) as
 * the benches print them: each phase's distribution over the runs, and the gap on a slot between
 * one run's training and the next one's.
 */
import fs from 'node:fs';
import { textTable } from '../lib/text_table.js';
import type { RunPhases } from '../agent/phases.js';

export function readPhases(file: string): RunPhases[] {
  if (!fs.existsSync(file)) return [];
  return fs
    .readFileSync(file, 'utf8')
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => JSON.parse(line) as RunPhases);
}

/** ms between two marks of a run; undefined when either is missing. */
type Span = (p: RunPhases) => number | undefined;
const between = (from: (p: RunPhases) => number | undefined, to: (p: RunPhases) => number | undefined): Span => (p) => {
  const a = from(p);
  const b = to(p);
  return a === undefined || b === undefined ? undefined : b - a;
};

/** The phases a run goes through on an agent, in order, each from the end of the one before. */
export const PHASES: readonly [string, string, Span][] = [
  ['lease', 'Lease call, sent to answered', between((p) => p.lease_sent, (p) => p.leased)],
  ['start', 'lease answered to the runner holding the job', between((p) => p.leased, (p) => p.runner?.received)],
  ['data', 'data loaded (the cache) in the runner', between((p) => p.runner?.received, (p) => p.runner?.data)],
  ['build', 'model, init, optimizer and callbacks built', between((p) => p.runner?.data, (p) => p.runner?.model)],
  ['wait', 'folder written; a run built ahead waits for the one before', between((p) => p.runner?.model, (p) => p.runner?.started)],
  ['train', 'training and its final evaluation', between((p) => p.runner?.started, (p) => p.runner?.trained)],
  ['finish', 'summary written, the runner says done', between((p) => p.runner?.trained, (p) => p.done)],
  ['upload', 'metrics flushed, run folder landed', between((p) => p.done, (p) => p.uploaded)],
  ['report', 'Report call, taken by the coordinator', between((p) => p.uploaded, (p) => p.reported)],
];

export function quantile(xs: readonly number[], q: number): number {
  const s = [...xs].sort((a, b) => a - b);
  if (s.length === 0) return NaN;
  const i = (s.length - 1) * q;
  const lo = Math.floor(i);
  const hi = Math.ceil(i);
  return s[lo]! + (s[hi]! - s[lo]!) * (i - lo);
}

/**
 * Gaps (ms) on each slot of each agent between a run's training end (the runner's `trained`) and
 * the next run's training start (its `model` mark): everything a slot does between two runs,
 * lease, hand-over, data and build included.
 */
export function slotGaps(phases: readonly RunPhases[]): number[] {
  const gaps: number[] = [];
  for (const runs of slotRuns(phases)) {
    for (let i = 1; i < runs.length; i++) gaps.push(trainingStart(runs[i]!) - runs[i - 1]!.runner!.trained!);
  }
  return gaps;
}

/** When a run's training began (the runner's `started` mark; its model built, from runners that did not mark it). */
const trainingStart = (p: RunPhases): number => p.runner!.started ?? p.runner!.model!;

/** Each slot's dlphys runs in the order they trained. */
function slotRuns(phases: readonly RunPhases[]): RunPhases[][] {
  const bySlot = new Map<string, RunPhases[]>();
  for (const p of phases) {
    if (p.runner?.model === undefined || p.runner.trained === undefined) continue;
    const key = `${p.agent}/${p.slot}`;
    bySlot.set(key, [...(bySlot.get(key) ?? []), p]);
  }
  return [...bySlot.values()].map((runs) => runs.sort((a, b) => trainingStart(a) - trainingStart(b)));
}

/** Runs leased before the run before them on their slot had finished training (agent/slot.ts), of the runs that followed another. */
export function leasedAhead(phases: readonly RunPhases[]): { ahead: number; of: number } {
  let ahead = 0;
  let of = 0;
  for (const runs of slotRuns(phases)) {
    for (let i = 1; i < runs.length; i++) {
      of += 1;
      if (runs[i]!.leased < runs[i - 1]!.runner!.trained!) ahead += 1;
    }
  }
  return { ahead, of };
}

/**
 * The gap on a slot split at its hand-overs (ms, one row per gap): the runner finishing the run
 * before (trained to done), the agent handing the next job over (done to job sent, or 0 when the
 * runner held it already), the job reaching the runner (sent to received), and the runner preparing
 * it (received to training begun; after the hand-over for a run prepared ahead).
 */
export function gapParts(phases: readonly RunPhases[]): { finish: number; agent: number; ipc: number; prepare: number }[] {
  const out: { finish: number; agent: number; ipc: number; prepare: number }[] = [];
  for (const runs of slotRuns(phases)) {
    for (let i = 1; i < runs.length; i++) {
      const prev = runs[i - 1]!;
      const next = runs[i]!;
      if (prev.done === undefined || next.job_sent === undefined || next.runner?.received === undefined) continue;
      const handed = Math.max(prev.done, next.job_sent);
      // A run prepared ahead was received before the run before it ended: what counts is when it
      // was told to go, and only what was left of its preparation then.
      const received = Math.max(next.runner.go ?? next.runner.received, handed);
      out.push({ finish: prev.done - prev.runner!.trained!, agent: handed - prev.done, ipc: Math.max(0, received - handed), prepare: Math.max(0, trainingStart(next) - received) });
    }
  }
  return out;
}

const fmt = (ms: number) => (Number.isNaN(ms) ? '-' : ms >= 100 ? ms.toFixed(0) : ms.toFixed(1));

/** The phase table (median, p90, mean per phase, ms) and the gap line, ready to print. */
export function phaseReport(phases: readonly RunPhases[], gaps: readonly number[]): string[] {
  const rows = PHASES.map(([name, what, span]) => {
    const xs = phases.map(span).filter((x): x is number => x !== undefined);
    const mean = xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : NaN;
    return [name, fmt(quantile(xs, 0.5)), fmt(quantile(xs, 0.9)), fmt(mean), what];
  });
  return [
    ...textTable([['phase', 'median ms', 'p90 ms', 'mean ms', 'from the end of the phase before'], ...rows], { right: [false, true, true, true, false] }),
    `gap on a slot, training end to the next training start: median ${fmt(quantile(gaps, 0.5))} ms, p90 ${fmt(quantile(gaps, 0.9))} ms, max ${fmt(Math.max(...gaps))} ms (${gaps.length} gaps)`,
    `the gap's parts, median ms: ${(['finish', 'agent', 'ipc', 'prepare'] as const).map((k) => `${k} ${fmt(quantile(gapParts(phases).map((g) => g[k]), 0.5))}`).join(', ')}`,
    `leased ahead (before the slot's run before it had trained): ${leasedAhead(phases).ahead} of ${leasedAhead(phases).of} runs`,
  ];
}

/** { phase: median ms } and the gap figures, for a bench's JSON line. */
export function phaseFigures(phases: readonly RunPhases[], gaps: readonly number[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [name, , span] of PHASES) out[`${name}_median_ms`] = quantile(phases.map(span).filter((x): x is number => x !== undefined), 0.5);
  out.gap_median_ms = quantile(gaps, 0.5);
  out.gap_p90_ms = quantile(gaps, 0.9);
  return out;
}
