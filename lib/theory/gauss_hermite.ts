import { EigenvalueDecomposition, Matrix } from 'ml-matrix';

/**
 * Gaussian expectations by probabilists' Gauss–Hermite quadrature: nodes x_i and weights w_i with
 * Σ w_i f(x_i) = E_{z~N(0,1)}[f(z)] exactly when f is a polynomial of degree ≤ 2n−1.
 *
 * Nodes and weights come from the Golub–Welsch algorithm (Golub & Welsch 1969, Math. Comp. 23):
 * the monic probabilists' Hermite polynomials satisfy He_{k+1} = x He_k − k He_{k−1}, so the
 * Jacobi matrix is symmetric tridiagonal with zero diagonal and off-diagonal √k; its eigenvalues
 * are the nodes and the squared first components of its unit eigenvectors are the weights (the
 * weight function N(0,1) has total mass 1). Why Golub–Welsch rather than Newton on He_n: the
 * eigen-solver (ml-matrix's symmetric tred2/tql2) gives every node to ~1e-15 absolute with no
 * starting guesses to get wrong at large n, and the weights are accurate to ~1e-16 *absolute*,
 * which is all a weighted sum needs; Newton would give the far-tail weights (< 1e-30) to better
 * relative precision, but they contribute nothing to an expectation of a function of polynomial
 * growth. The nodes are then polished by one Newton step on the orthonormal recurrence (it costs
 * O(n²) and removes the eigen-solver's rounding), and the weights are recomputed from the
 * Christoffel function so that they stay positive and sum to 1.
 */

export interface GaussHermiteRule {
  /** Nodes, ascending, symmetric about 0. */
  readonly nodes: Float64Array;
  /** Weights, positive, summing to 1 (the N(0,1) measure). */
  readonly weights: Float64Array;
}

const cache = new Map<number, GaussHermiteRule>();

/**
 * The probabilists' Gauss–Hermite rule of order `n` (n nodes), cached per order.
 * Exact for E_{z~N(0,1)}[p(z)] when deg p ≤ 2n−1.
 * @throws Error if n is not a whole number from 1 to 2000 (beyond that the O(n³) eigen-solve is slow
 *   and the far nodes no longer matter).
 */
export function gaussHermite(n: number): GaussHermiteRule {
  if (!Number.isInteger(n) || n < 1 || n > 2000) throw new Error(`Gauss–Hermite order must be a whole number from 1 to 2000, got ${n}`);
  const hit = cache.get(n);
  if (hit) return hit;
  const rule = build(n);
  cache.set(n, rule);
  return rule;
}

function build(n: number): GaussHermiteRule {
  if (n === 1) return { nodes: Float64Array.of(0), weights: Float64Array.of(1) };
  const jacobi = Matrix.zeros(n, n);
  for (let k = 1; k < n; k++) {
    const b = Math.sqrt(k);
    jacobi.set(k - 1, k, b);
    jacobi.set(k, k - 1, b);
  }
  const evd = new EigenvalueDecomposition(jacobi, { assumeSymmetric: true });
  const raw = evd.realEigenvalues;
  const order = raw.map((_, i) => i).sort((a, b) => raw[a]! - raw[b]!);
  const nodes = new Float64Array(n);
  const weights = new Float64Array(n);
  for (let j = 0; j < n; j++) {
    const i = order[j]!;
    const x = polish(raw[i]!, n);
    const v0 = evd.eigenvectorMatrix.get(0, i);
    const w = christoffelWeight(x, n);
    nodes[j] = x;
    // The Christoffel sum overflows far out (x ≳ 35): there the eigenvector's weight is as good.
    weights[j] = Number.isFinite(w) && w > 0 ? w : v0 * v0;
  }
  // Exact symmetry: average mirrored pairs, so odd moments vanish to rounding.
  for (let j = 0; j < n >> 1; j++) {
    const x = (nodes[n - 1 - j]! - nodes[j]!) / 2;
    const w = (weights[j]! + weights[n - 1 - j]!) / 2;
    nodes[j] = -x;
    nodes[n - 1 - j] = x;
    weights[j] = w;
    weights[n - 1 - j] = w;
  }
  if (n % 2 === 1) nodes[n >> 1] = 0;
  let total = 0;
  for (const w of weights) total += w;
  for (let j = 0; j < n; j++) weights[j]! /= total;
  return { nodes, weights };
}

/** Orthonormal Hermite values p̃_{n−1}(x), p̃_n(x) and the Christoffel sum Σ_{k<n} p̃_k(x)². */
function orthonormal(x: number, n: number): { pPrev: number; p: number; sum: number } {
  // p̃_{k+1} = (x p̃_k − √k p̃_{k−1}) / √(k+1), p̃_0 = 1.
  let prev = 0;
  let p = 1;
  let sum = 0;
  for (let k = 0; k < n; k++) {
    sum += p * p;
    const next = (x * p - Math.sqrt(k) * prev) / Math.sqrt(k + 1);
    prev = p;
    p = next;
  }
  return { pPrev: prev, p, sum };
}

/** One Newton step on p̃_n, whose derivative is √n p̃_{n−1}. */
function polish(x: number, n: number): number {
  const { pPrev, p } = orthonormal(x, n);
  const d = Math.sqrt(n) * pPrev;
  if (!Number.isFinite(p) || !Number.isFinite(d) || d === 0) return x;
  const step = p / d;
  return Math.abs(step) < 1e-8 * Math.max(1, Math.abs(x)) ? x - step : x;
}

/** The Gauss weight at node x: 1 / Σ_{k<n} p̃_k(x)². */
function christoffelWeight(x: number, n: number): number {
  return 1 / orthonormal(x, n).sum;
}

/**
 * E_{z~N(0,1)}[f(z)] by the order-`n` rule. Exact for polynomials of degree ≤ 2n−1.
 * @throws Error for a bad order (see gaussHermite).
 */
export function expect1d(f: (z: number) => number, n: number): number {
  const { nodes, weights } = gaussHermite(n);
  let s = 0;
  for (let i = 0; i < nodes.length; i++) s += weights[i]! * f(nodes[i]!);
  return s;
}

/**
 * E[f(u1, u2)] over the centred bivariate Gaussian with covariance [[q11, q12], [q12, q22]], by the
 * tensor product of two order-`n` rules: u1 = √q11 z1, u2 = √q22 (c z1 + √(1−c²) z2), c = q12/√(q11 q22)
 * (the parametrisation of Poole et al. 2016, eq. 5). Exact when f is a polynomial of degree ≤ 2n−1
 * in each of z1, z2.
 * @throws Error if q11 or q22 is negative or |c| > 1 + 1e-12 (not a covariance matrix), or for a bad order.
 */
export function expect2d(f: (u1: number, u2: number) => number, q11: number, q22: number, q12: number, n: number): number {
  if (!(q11 >= 0 && q22 >= 0)) throw new Error(`variances must be >= 0, got q11=${q11}, q22=${q22}`);
  const denom = Math.sqrt(q11 * q22);
  const c = denom === 0 ? 0 : q12 / denom;
  if (!(Math.abs(c) <= 1 + 1e-12)) throw new Error(`not a covariance matrix: correlation ${c}`);
  const cc = Math.max(-1, Math.min(1, c));
  const s1 = Math.sqrt(q11);
  const s2 = Math.sqrt(q22);
  const a = s2 * cc;
  const b = s2 * Math.sqrt(Math.max(0, 1 - cc * cc));
  const { nodes, weights } = gaussHermite(n);
  let s = 0;
  for (let i = 0; i < nodes.length; i++) {
    const z1 = nodes[i]!;
    const u1 = s1 * z1;
    const base = a * z1;
    let inner = 0;
    for (let j = 0; j < nodes.length; j++) inner += weights[j]! * f(u1, base + b * nodes[j]!);
    s += weights[i]! * inner;
  }
  return s;
}
