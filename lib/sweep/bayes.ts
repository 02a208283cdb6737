/**
 * Bayes search with W&B's meaning (wandb/sweeps, bayes_search.py): a Gaussian-process surrogate
 * of the sweep metric over the parameters on the unit cube (lib/sweep/unit_cube.ts, lib/sweep/gp.ts),
 * the next point the one of largest expected improvement among random candidates, random points
 * until two runs have finished, and runs still going (or proposed in the same batch) standing in
 * with the surrogate's own prediction (the "kriging believer"; W&B's current_X), so parallel
 * agents are not all sent to the same place. Deterministic for a given history and `rng`.
 */
import type { Rng } from '../rng.js';
import { normalCdf, normalPdf } from '../theory/special.js';
import { sample, type Parameter } from './distributions.js';
import { fitGaussianProcess } from './gp.js';
import { cubeDims, cubeWidth, decode, encode } from './unit_cube.js';

/** One run of the sweep as the search sees it. */
export interface SearchRun {
  /** One value per parameter, in the sweep's order. */
  values: unknown[];
  /** finished: its metric counts; failed: the worst metric seen stands for it (W&B's impute worst); pending: queued or running. */
  state: 'finished' | 'failed' | 'pending';
  /** The sweep metric's value (its best), or null when the run logged none. */
  metric: number | null;
}

/** Random candidates the expected improvement is evaluated on (W&B: num_points_to_try = 1000). */
const CANDIDATES = 1000;
/** More candidates near the best point so far: where improvement is likeliest once the surrogate is good. */
const LOCAL_CANDIDATES = 200;
/** The surrogate is fitted on at most this many runs (the most recent): its cost is cubic in them. */
const MAX_FIT = 80;

/**
 * The values of the next `count` runs (one array per run, one value per parameter). `goal`: the
 * sweep metric's direction. Throws nothing for an empty history (random points).
 */
export function bayesNext(params: Parameter[], runs: SearchRun[], count: number, goal: 'min' | 'max', rng: Rng): unknown[][] {
  const dims = cubeDims(params);
  const sign = goal === 'max' ? -1 : 1; // the surrogate minimises
  const observed = runs.filter((r) => r.state === 'finished' && r.metric !== null && Number.isFinite(r.metric));
  const ys = observed.map((r) => sign * r.metric!);
  const worst = ys.length ? Math.max(...ys) : null;
  const x: number[][] = [];
  const y: number[] = [];
  for (const r of runs.slice().reverse()) {
    if (x.length >= MAX_FIT) break;
    const value = r.state === 'finished' && r.metric !== null && Number.isFinite(r.metric) ? sign * r.metric : r.state !== 'pending' ? worst : null;
    if (value === null) continue;
    x.push(encode(params, r.values));
    y.push(value);
  }
  const pending = runs.filter((r) => r.state === 'pending').map((r) => encode(params, r.values));
  const out: unknown[][] = [];
  for (let k = 0; k < count; k++) {
    // Too little to fit a surface (W&B: fewer than 2 samples): a random point, as random search draws it.
    if (observed.length < 2 || dims === 0) {
      out.push(params.map((p) => sample(p, rng)));
      continue;
    }
    const gp = fitGaussianProcess(x, y, rng);
    // Pending points take the surrogate's prediction, then the surface is conditioned on them too.
    const believed = pending.length ? gp.predict(pending).mean : [];
    const surrogate = pending.length ? fitGaussianProcess([...x, ...pending], [...y, ...believed], rng, { hyperparameters: gp }) : gp;
    const bestY = Math.min(...y);
    const bestX = x[y.indexOf(bestY)]!;
    const candidates = [
      ...Array.from({ length: CANDIDATES }, () => randomPoint(params, rng)),
      ...Array.from({ length: LOCAL_CANDIDATES }, () => nearby(params, bestX, rng)),
    ];
    const { mean, std } = surrogate.predict(candidates);
    let pick = 0;
    let bestEi = -Infinity;
    candidates.forEach((_, i) => {
      const ei = expectedImprovement(mean[i]!, std[i]!, bestY);
      if (ei > bestEi) {
        bestEi = ei;
        pick = i;
      }
    });
    const values = decode(params, candidates[pick]!);
    out.push(values);
    // The next proposal of this batch sees this one as running.
    pending.push(encode(params, values));
  }
  return out;
}

/** E[max(best − f, 0)] for f ~ N(mean, std²): (best − μ)Φ(z) + σφ(z), z = (best − μ)/σ (Jones et al. 1998). */
export function expectedImprovement(mean: number, std: number, best: number): number {
  if (!(std > 1e-12)) return Math.max(0, best - mean);
  const z = (best - mean) / std;
  return (best - mean) * normalCdf(z) + std * normalPdf(z);
}

/** A uniform point of the cube: each continuous coordinate uniform, each categorical block one-hot at random. */
function randomPoint(params: Parameter[], rng: Rng): number[] {
  const out: number[] = [];
  for (const p of params) {
    const w = cubeWidth(p);
    if (p.distribution === 'categorical') {
      const hot = rng.int(w);
      for (let j = 0; j < w; j++) out.push(j === hot ? 1 : 0);
    } else for (let j = 0; j < w; j++) out.push(rng.uniform());
  }
  return out;
}

/** A point near `center`: continuous coordinates moved by N(0, 0.1²) and clamped; a categorical changed with probability 0.2. */
function nearby(params: Parameter[], center: number[], rng: Rng): number[] {
  const out = center.slice();
  let k = 0;
  for (const p of params) {
    const w = cubeWidth(p);
    if (p.distribution === 'categorical') {
      if (rng.uniform() < 0.2) {
        const hot = rng.int(w);
        for (let j = 0; j < w; j++) out[k + j] = j === hot ? 1 : 0;
      }
    } else for (let j = 0; j < w; j++) out[k + j] = Math.min(1, Math.max(0, center[k + j]! + 0.1 * rng.normal()));
    k += w;
  }
  return out;
}
