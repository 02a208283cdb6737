/**
 * Gaussian-process regression for bayes search (lib/sweep/bayes.ts): a Matérn 5/2 kernel with one
 * length scale per input dimension (ARD) and a signal variance, both fitted by maximising the log
 * marginal likelihood (Rasmussen & Williams, "Gaussian Processes for Machine Learning", 2006,
 * eq. 2.30 and 4.17), on targets standardised to mean 0 and variance 1 as wandb/sweeps does
 * (bayes_search.py fit_normalized_gaussian_process). Linear algebra is ml-matrix's Cholesky.
 */
import { CholeskyDecomposition, Matrix } from 'ml-matrix';
import type { Rng } from '../rng.js';
import { nelderMead } from './nelder_mead.js';

/** Added to the kernel's diagonal: the observations are taken as (nearly) noise-free, as W&B's nugget. */
const NUGGET = 1e-6;
/** Bounds of the fitted log length scales and log signal variance (inputs live in [0, 1]). */
const LOG_LENGTH = [Math.log(0.02), Math.log(10)] as const;
const LOG_SIGNAL = [Math.log(0.05), Math.log(20)] as const;

/** Matérn 5/2 as a function of the scaled distance r: (1 + √5 r + 5r²/3) e^{−√5 r}. */
function matern52(r: number): number {
  const s = Math.sqrt(5) * r;
  return (1 + s + (s * s) / 3) * Math.exp(-s);
}

/** A fitted GP: predictions in the targets' own units. */
export interface GaussianProcess {
  /** Posterior mean and standard deviation of the target at each point (rows of `points`). */
  predict(points: number[][]): { mean: number[]; std: number[] };
  /** The fitted hyperparameters: length scales (one per dimension) and signal variance, for the standardised targets. */
  readonly lengthScales: number[];
  readonly signalVariance: number;
}

/**
 * Fits a GP to observations `x` (n points of d coordinates, n >= 1) and targets `y` (n finite
 * numbers). Hyperparameters: Nelder–Mead on the log marginal likelihood from a default start and
 * two random ones drawn from `rng` (sklearn's n_restarts_optimizer=2, as W&B uses).
 */
export function fitGaussianProcess(x: number[][], y: number[], rng: Rng, options: { hyperparameters?: { lengthScales: number[]; signalVariance: number } } = {}): GaussianProcess {
  const n = y.length;
  const d = x[0]?.length ?? 0;
  const mean = y.reduce((a, b) => a + b, 0) / n;
  const sd = n > 1 ? Math.sqrt(y.reduce((a, b) => a + (b - mean) ** 2, 0) / n) + 1e-12 : 1;
  const z = y.map((v) => (v - mean) / sd);
  const clamp = (t: number[]) => t.map((v, i) => Math.min((i < d ? LOG_LENGTH : LOG_SIGNAL)[1], Math.max((i < d ? LOG_LENGTH : LOG_SIGNAL)[0], v)));
  const negLogLikelihood = (theta: number[]) => {
    const fit = factor(x, z, clamp(theta));
    return fit ? -fit.logLikelihood : Infinity;
  };
  let theta: number[];
  if (options.hyperparameters) {
    // Given (refitting with fantasised pending points): only the factorisation is new.
    theta = [...options.hyperparameters.lengthScales.map(Math.log), Math.log(options.hyperparameters.signalVariance)];
  } else {
    const starts = [[...new Array<number>(d).fill(Math.log(0.3)), 0]];
    for (let k = 0; k < 2; k++) {
      starts.push([...Array.from({ length: d }, () => LOG_LENGTH[0] + (LOG_LENGTH[1] - LOG_LENGTH[0]) * rng.uniform()), LOG_SIGNAL[0] + (LOG_SIGNAL[1] - LOG_SIGNAL[0]) * rng.uniform()]);
    }
    let best = { x: starts[0]!, value: negLogLikelihood(starts[0]!) };
    for (const start of starts) {
      const found = nelderMead(negLogLikelihood, start, { maxEvals: 40 * (d + 1), step: 0.7 });
      if (found.value < best.value) best = found;
    }
    theta = clamp(best.x);
  }
  // A kernel that is not positive definite at the fitted point (duplicate inputs): more nugget-like room from shorter scales.
  const fit = factor(x, z, theta) ?? factor(x, z, theta.map((t, i) => (i < d ? LOG_LENGTH[0] : t)))!;
  const lengthScales = theta.slice(0, d).map(Math.exp);
  const signalVariance = Math.exp(theta[d]!);
  return {
    lengthScales,
    signalVariance,
    predict(points) {
      const k = new Matrix(points.map((p) => x.map((xi) => signalVariance * matern52(distance(p, xi, lengthScales)))));
      const mu = k.mmul(fit.alpha).to1DArray();
      // v = L⁻¹ k*ᵀ; var = σ² − |v|².
      const solved = forwardSubstitute(fit.lower, k.transpose());
      const std = points.map((_, j) => {
        let s = 0;
        for (let i = 0; i < n; i++) s += solved.get(i, j) ** 2;
        return Math.sqrt(Math.max(1e-12, signalVariance - s)) * sd;
      });
      return { mean: mu.map((m) => m * sd + mean), std };
    },
  };
}

function distance(a: number[], b: number[], lengthScales: number[]): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += ((a[i]! - b[i]!) / lengthScales[i]!) ** 2;
  return Math.sqrt(s);
}

/** K = σ² k(x, x) + nugget, its Cholesky factor, K⁻¹z and the log marginal likelihood; null when K is not positive definite. */
function factor(x: number[][], z: number[], theta: number[]) {
  const n = z.length;
  const d = theta.length - 1;
  const lengthScales = theta.slice(0, d).map(Math.exp);
  const signal = Math.exp(theta[d]!);
  const kernel = new Matrix(n, n);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j <= i; j++) {
      const kij = signal * matern52(distance(x[i]!, x[j]!, lengthScales)) + (i === j ? NUGGET : 0);
      kernel.set(i, j, kij);
      kernel.set(j, i, kij);
    }
  }
  const chol = new CholeskyDecomposition(kernel);
  if (!chol.isPositiveDefinite()) return null;
  const alpha = chol.solve(Matrix.columnVector(z));
  const lower = chol.lowerTriangularMatrix;
  let logDet = 0;
  for (let i = 0; i < n; i++) logDet += Math.log(lower.get(i, i));
  let fit = 0;
  for (let i = 0; i < n; i++) fit += z[i]! * alpha.get(i, 0);
  return { lower, alpha, logLikelihood: -0.5 * fit - logDet - 0.5 * n * Math.log(2 * Math.PI) };
}

/** L⁻¹B for lower-triangular L (n×n) and B (n×m). */
function forwardSubstitute(lower: Matrix, b: Matrix): Matrix {
  const n = lower.rows;
  const out = new Matrix(n, b.columns);
  for (let c = 0; c < b.columns; c++) {
    for (let i = 0; i < n; i++) {
      let s = b.get(i, c);
      for (let k = 0; k < i; k++) s -= lower.get(i, k) * out.get(k, c);
      out.set(i, c, s / lower.get(i, i));
    }
  }
  return out;
}
