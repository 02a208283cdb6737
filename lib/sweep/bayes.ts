/**
 * Bayes search with W&B's meaning (wandb/sweeps, bayes_search.py): a Gaussian-process surrogate
 * of the sweep metric over the parameters on the unit cube (lib/sweep/unit_cube.ts, lib/sweep/gp.ts),
 * the next point the one of largest expected improvement among random candidates, random points
 * until two runs have finished, and runs still going (or proposed in the same batch) standing in
 * with the worst value seen (a constant liar; W&B passes them as current_X with the surrogate's
 * prediction, which sends parallel agents to near-identical points), so parallel agents spread
 * out. Deterministic for a given history and `rng`.
 */
import type { Rng } from '../rng.js';
import { normalCdf, normalPdf } from '../theory/special.js';
import { canonicalJson } from './canonical_json.js';
import { sample, type Parameter } from './distributions.js';
import { fitGaussianProcess } from './gp.js';
import { cubeDims, cubeWidth, decode, encode } from './unit_cube.js';

/** One run of the sweep as the search sees it. */
export interface SearchRun {
  /** One value per parameter, in the sweep's order. */
  values: unknown[];
  /**
   * finished (an early-stopped run too: what it logged is an observation): its metric counts;
   * failed: the worst metric seen stands for it (W&B's impute worst); pending: queued or running.
   */
  state: 'finished' | 'failed' | 'pending';
  /** The sweep metric's value (its best), or null when the run logged none. */
  metric: number | null;
}

/** Random candidates the expected improvement is evaluated on (W&B: num_points_to_try = 1000). */
const CANDIDATES = 1000;
/** More candidates near the best point so far: where improvement is likeliest once the surrogate is good. */
const LOCAL_CANDIDATES = 200;
/** The surrogate is fitted on at most this many runs (the most recent): its cost is cubic in them, and it runs in the lease's transaction. */
const MAX_FIT = 40;
/** Pending points the surrogate is conditioned on, at most (W&B: max_samples − 5). */
const MAX_PENDING = 30;

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
  const pendingRuns = runs.filter((r) => r.state === 'pending').slice(-MAX_PENDING);
  const pending = pendingRuns.map((r) => encode(params, r.values));
  // Configurations not to propose again: those running, and this batch's.
  const taken = new Set(pendingRuns.map((r) => canonicalJson(r.values)));
  const out: unknown[][] = [];
  // Too little to fit a surface (W&B: fewer than 2 samples): random points, as random search draws them.
  const gp = observed.length >= 2 && dims > 0 ? fitGaussianProcess(x, y, rng) : null;
  // The incumbent over every run observed, not only those the surface was fitted on.
  const bestY = Math.min(...ys);
  const worstY = Math.max(...y);
  const bestX = x[y.indexOf(Math.min(...y))]!;
  for (let k = 0; k < count; k++) {
    if (!gp) {
      out.push(params.map((p) => sample(p, rng)));
      continue;
    }
    // Pending points stand in with the worst value seen (the "constant liar" CL-max of Ginsbourger
    // et al. 2010): the surface is pushed up around them, so the next proposal goes elsewhere.
    const surrogate = pending.length ? fitGaussianProcess([...x, ...pending], [...y, ...pending.map(() => worstY)], rng, { hyperparameters: gp }) : gp;
    const candidates = [
      ...Array.from({ length: CANDIDATES }, () => randomPoint(params, rng)),
      ...Array.from({ length: LOCAL_CANDIDATES }, () => nearby(params, bestX, rng)),
    ];
    const { mean, std } = surrogate.predict(candidates);
    const ei = candidates.map((_, i) => expectedImprovement(mean[i]!, std[i]!, bestY));
    // The best candidate whose configuration is not running already (on a discrete space distinct
    // points of the cube round to the same one); a random draw when every candidate is taken.
    const order = ei.map((_, i) => i).sort((a, b) => ei[b]! - ei[a]! || a - b);
    let values: unknown[] | undefined;
    for (const i of order) {
      const v = decode(params, candidates[i]!);
      if (!taken.has(canonicalJson(v))) {
        values = v;
        break;
      }
    }
    values ??= params.map((p) => sample(p, rng));
    out.push(values);
    taken.add(canonicalJson(values));
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
