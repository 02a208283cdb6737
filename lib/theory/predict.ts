import type { Activation } from '../models/layers.js';
import { ACTIVATION_THEORY, isActivation } from './activations.js';

/** One dense layer as the theory sees it: weights N(0, σ_w²/fanIn), biases N(0, σ_b²). */
export interface LayerSpec {
  sigma_w2: number;
  sigma_b2: number;
  fanIn: number;
  fanOut: number;
}

/** A network (layers 1..L, the last one the linear readout) and the inputs it is fed. */
export interface PredictSpec {
  activation: Activation;
  layers: LayerSpec[];
  /** n inputs, each of dimension layers[0].fanIn. */
  inputs: number[][];
}

/** The mean-field prediction for layer k's pre-activations h_k, beside what a probe measures. */
export interface LayerPrediction {
  /** Layer number, 1..L. */
  layer: number;
  /** Mean over inputs of q_k(x_i), the variance of a unit of h_k (the probe's q_l<k>: mean of h² over units and inputs). */
  q: number;
  /** Mean over distinct pairs i < j of q12/√(q11 q22) (the probe's c_l<k>: mean cosine of distinct inputs' h_k). NaN for fewer than 2 inputs. */
  c: number;
  /**
   * σ_w²(k+1) · mean_i E[φ'(√q_k(x_i) z)²], the per-unit gain of the Jacobian of h_k → h_{k+1}
   * (the probe's chi1_l<k>); absent for the last layer.
   */
  chi1?: number;
}

/**
 * The layer-by-layer mean-field prediction for a given network and inputs (Poole et al. 2016, eqs.
 * 3 and 5, with each layer's own σ's). Layer 1: q(x) = σ_w²(1)·‖x‖²/fanIn + σ_b²(1) and
 * q12(x, x') = σ_w²(1)·x·x'/fanIn + σ_b²(1); layer k > 1: q ← σ_w²(k) E[φ(h_{k−1})²] + σ_b²(k) and
 * q12 ← σ_w²(k) E[φ(h_{k−1})φ(h'_{k−1})] + σ_b²(k), the readout included. Costs L·n(n−1)/2 pair
 * expectations: closed forms for relu, erf and linear; one quadrature sum per pair for gelu; a
 * tensor-product quadrature per pair for tanh (64 inputs, 50 layers: 1.7–2.9 s measured on this
 * project's machines, most of it ~10⁸ Math.tanh calls; relu, erf, linear: < 0.1 s; gelu ~0.6 s).
 * @throws Error for an unknown activation, no layers, negative or non-finite variances, a fanIn or
 *   fanOut that is not a positive integer, consecutive layers whose fanOut and fanIn differ, or an
 *   input whose length is not layers[0].fanIn.
 */
export function predictLayers(spec: PredictSpec): LayerPrediction[] {
  const { activation, layers, inputs } = spec;
  if (!isActivation(activation)) throw new Error(`unknown activation "${String(activation)}"`);
  if (layers.length === 0) throw new Error('predictLayers needs at least one layer');
  layers.forEach((l, i) => {
    if (!(l.sigma_w2 >= 0 && Number.isFinite(l.sigma_w2) && l.sigma_b2 >= 0 && Number.isFinite(l.sigma_b2))) {
      throw new Error(`layer ${i + 1}: variances must be finite and >= 0, got sigma_w2=${l.sigma_w2}, sigma_b2=${l.sigma_b2}`);
    }
    if (!Number.isInteger(l.fanIn) || l.fanIn < 1 || !Number.isInteger(l.fanOut) || l.fanOut < 1) {
      throw new Error(`layer ${i + 1}: fanIn and fanOut must be positive integers, got ${l.fanIn} and ${l.fanOut}`);
    }
    if (i > 0 && layers[i - 1]!.fanOut !== l.fanIn) throw new Error(`layer ${i + 1}: fanIn ${l.fanIn} differs from layer ${i}'s fanOut ${layers[i - 1]!.fanOut}`);
  });
  const d = layers[0]!.fanIn;
  inputs.forEach((x, i) => {
    if (x.length !== d) throw new Error(`input ${i} has dimension ${x.length}, layer 1 has fanIn ${d}`);
  });
  const theory = ACTIVATION_THEORY[activation];
  const n = inputs.length;
  const first = layers[0]!;
  // q[i] and the pair covariances cov[i][j] (j < i) of the current layer.
  let q = inputs.map((x) => (first.sigma_w2 * dot(x, x)) / d + first.sigma_b2);
  let cov = inputs.map((x, i) => inputs.slice(0, i).map((y) => (first.sigma_w2 * dot(x, y)) / d + first.sigma_b2));
  const out: LayerPrediction[] = [];
  for (let k = 1; k <= layers.length; k++) {
    if (k > 1) {
      const { sigma_w2: w, sigma_b2: b } = layers[k - 1]!;
      const prevQ = q;
      const prevCov = cov;
      q = prevQ.map((qi) => w * theory.secondMoment(qi) + b);
      cov = prevCov.map((row, i) => row.map((qij, j) => w * theory.crossMoment(prevQ[i]!, prevQ[j]!, qij) + b));
    }
    const prediction: LayerPrediction = { layer: k, q: mean(q), c: n < 2 ? NaN : meanCorrelation(q, cov) };
    if (k < layers.length) prediction.chi1 = layers[k]!.sigma_w2 * mean(q.map((qi) => theory.derivSecondMoment(qi)));
    out.push(prediction);
  }
  return out;
}

function dot(x: readonly number[], y: readonly number[]): number {
  let s = 0;
  for (let i = 0; i < x.length; i++) s += x[i]! * y[i]!;
  return s;
}

function mean(xs: readonly number[]): number {
  let s = 0;
  for (const x of xs) s += x;
  return s / xs.length;
}

function meanCorrelation(q: readonly number[], cov: readonly (readonly number[])[]): number {
  let s = 0;
  let count = 0;
  cov.forEach((row, i) =>
    row.forEach((qij, j) => {
      s += qij / Math.sqrt(q[i]! * q[j]!);
      count++;
    }),
  );
  return s / count;
}
