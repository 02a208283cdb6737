/**
 * Sweep parameters on the unit cube, where bayes search works (lib/sweep/bayes.ts): a continuous
 * parameter is one coordinate, its value's quantile under its distribution (so log distributions
 * are log-scaled and a normal is spread by its CDF), mapped back by the inverse CDF and then
 * rounded (int_uniform, q_*); a categorical is one coordinate per value (one-hot), mapped back to
 * the value with the largest coordinate; a constant has none. As wandb/sweeps does with
 * `HyperParameter.cdf`/`ppf` (params.py), except that categoricals are one-hot, not an index.
 */
import { normalCdf, normalPpf } from '../theory/special.js';
import { canonicalJson } from './canonical_json.js';
import { quantize, type Parameter } from './distributions.js';

/** Unbounded distributions are kept off the cube's faces: their quantile 0 or 1 is ±∞. */
const EDGE = 1e-9;

/** How many coordinates a parameter takes on the cube. */
export function cubeWidth(p: Parameter): number {
  if (p.distribution === 'constant') return 0;
  if (p.distribution === 'categorical') return p.values!.length;
  return 1;
}

/** Total coordinates of `params`. */
export function cubeDims(params: Parameter[]): number {
  return params.reduce((n, p) => n + cubeWidth(p), 0);
}

/** A run's values (one per parameter, in order) as a point of [0, 1]^cubeDims. A categorical value not among its values is all zeros. */
export function encode(params: Parameter[], values: unknown[]): number[] {
  const out: number[] = [];
  params.forEach((p, i) => {
    const v = values[i];
    if (p.distribution === 'constant') return;
    if (p.distribution === 'categorical') {
      const key = canonicalJson(v);
      for (const c of p.values!) out.push(canonicalJson(c) === key ? 1 : 0);
      return;
    }
    out.push(Math.min(1, Math.max(0, cdf(p, Number(v)))));
  });
  return out;
}

/** A point of the cube as one value per parameter: inverse CDF, then rounded as the distribution is; the largest one-hot coordinate. */
export function decode(params: Parameter[], point: number[]): unknown[] {
  let k = 0;
  return params.map((p) => {
    if (p.distribution === 'constant') return structuredClone(p.value);
    if (p.distribution === 'categorical') {
      const n = p.values!.length;
      let best = 0;
      for (let j = 1; j < n; j++) if (point[k + j]! > point[k + best]!) best = j;
      k += n;
      return structuredClone(p.values![best]);
    }
    return ppf(p, point[k++]!);
  });
}

/** The quantile of `x` under the parameter's distribution (a continuous one). */
function cdf(p: Parameter, x: number): number {
  const { min = 0, max = 1, mu = 0, sigma = 1 } = p;
  const lin = (lo: number, hi: number, t: number) => (hi === lo ? 0.5 : (t - lo) / (hi - lo));
  switch (p.distribution) {
    case 'int_uniform':
      return lin(min - 0.5, max + 0.5, x);
    case 'uniform':
    case 'q_uniform':
      return lin(min, max, x);
    case 'log_uniform':
    case 'q_log_uniform':
      return lin(min, max, Math.log(x));
    case 'log_uniform_values':
    case 'q_log_uniform_values':
      return lin(Math.log(min), Math.log(max), Math.log(x));
    case 'inv_log_uniform':
      return 1 - lin(min, max, -Math.log(x));
    case 'inv_log_uniform_values':
      return 1 - lin(-Math.log(max), -Math.log(min), -Math.log(x));
    case 'normal':
    case 'q_normal':
      return normalCdf((x - mu) / sigma);
    case 'log_normal':
    case 'q_log_normal':
      return normalCdf((Math.log(x) - mu) / sigma);
    default:
      throw new Error(`unit_cube: ${p.distribution} has no CDF`);
  }
}

/** The value at quantile `u` (the inverse of cdf), rounded as the distribution is. */
function ppf(p: Parameter, u: number): number {
  const { min = 0, max = 1, mu = 0, sigma = 1, q = 1 } = p;
  // Only the normals are unbounded; the others reach their bounds at 0 and 1.
  const edge = p.distribution.includes('normal') ? EDGE : 0;
  const t = Math.min(1 - edge, Math.max(edge, u));
  const lerp = (lo: number, hi: number) => lo + (hi - lo) * t;
  switch (p.distribution) {
    case 'int_uniform':
      return Math.min(max, Math.max(min, Math.round(lerp(min - 0.5, max + 0.5))));
    case 'uniform':
      return lerp(min, max);
    case 'q_uniform':
      return quantize(lerp(min, max), q);
    case 'log_uniform':
      return Math.exp(lerp(min, max));
    case 'q_log_uniform':
      return quantize(Math.exp(lerp(min, max)), q);
    case 'log_uniform_values':
      return Math.exp(lerp(Math.log(min), Math.log(max)));
    case 'q_log_uniform_values':
      return quantize(Math.exp(lerp(Math.log(min), Math.log(max))), q);
    case 'inv_log_uniform':
      return Math.exp(-(min + (max - min) * (1 - t)));
    case 'inv_log_uniform_values':
      return Math.exp(-(-Math.log(max) + (Math.log(max) - Math.log(min)) * (1 - t)));
    case 'normal':
      return mu + sigma * normalPpf(t);
    case 'q_normal':
      return quantize(mu + sigma * normalPpf(t), q);
    case 'log_normal':
      return Math.exp(mu + sigma * normalPpf(t));
    case 'q_log_normal':
      return quantize(Math.exp(mu + sigma * normalPpf(t)), q);
    default:
      throw new Error(`unit_cube: ${p.distribution} has no inverse CDF`);
  }
}
