import type { Activation } from '../models/layers.js';
import { expectPairConditional, expectPairProduct, expectScaled } from './gaussian_trapezoid.js';
import { normalCdf, normalPdf, erf } from './special.js';

/**
 * What the mean-field theory needs to know about an activation φ: φ, φ', φ'' as functions of a
 * number, and the Gaussian expectations of the variance and correlation maps (Poole et al. 2016,
 * eqs. 3 and 5; Schoenholz et al. 2017, eqs. 3–9). u ~ N(0, q) for the one-input moments and
 * (u1, u2) centred Gaussian with covariance [[q11, q12], [q12, q22]] for the two-input ones.
 * Closed forms where they exist (relu: the arc-cosine kernel, Cho & Saul 2009; erf: Williams
 * 1997; linear), quadrature otherwise (tanh, gelu: gaussian_trapezoid.ts, ~1e-11 relative).
 */
export interface ActivationTheory {
  /** φ(x). */
  readonly phi: (x: number) => number;
  /** φ'(x) (relu: the step, 0 at x = 0). */
  readonly dphi: (x: number) => number;
  /** φ''(x) (relu: 0; its delta at 0 meets φ(0) = 0 and contributes nothing to E[φ''φ]). */
  readonly d2phi: (x: number) => number;
  /** E[φ(u)²], u ~ N(0, q): the variance map's integral. q ≥ 0, finite. */
  secondMoment(q: number): number;
  /** E[φ'(u)²]: χ1 / σ_w² (Poole et al. 2016, eq. 7). */
  derivSecondMoment(q: number): number;
  /** E[φ''(u)φ(u)]: with the above, the slope of the variance map (Schoenholz et al. 2017, eq. 7). */
  curvatureMoment(q: number): number;
  /** E[φ(u1)φ(u2)]: the covariance map's integral. */
  crossMoment(q11: number, q22: number, q12: number): number;
  /** E[φ'(u1)φ'(u2)]: χ_c / σ_w² (Schoenholz et al. 2017, eq. 9). */
  derivCrossMoment(q11: number, q22: number, q12: number): number;
  /**
   * φ(λx) = λφ(x) for λ > 0 (relu, linear): then E[φ'(u1)φ'(u2)] and, at σ_b² = 0, the correlation
   * map do not depend on q, and their values at q = 0 are their values at any q.
   */
  readonly homogeneous: boolean;
  /**
   * The limits q → ∞ at correlation c, used when the variance grows without bound (relu with
   * σ_w² > 2): E[φ(u1)φ(u2)] / E[φ(u)²], E[φ'(u1)φ'(u2)] and E[φ'(u)²]. For bounded φ (tanh, erf)
   * these are the sign function's: (2/π) arcsin c, 0, 0.
   */
  readonly atInfinity: {
    correlation(c: number): number;
    derivCross(c: number): number;
    readonly derivSecondMoment: number;
  };
}

/** Correlation from a covariance, clamped to [−1, 1] against rounding; 0 when a variance is 0. */
function correlation(q11: number, q22: number, q12: number): number {
  const d = Math.sqrt(q11 * q22);
  return d === 0 ? 0 : Math.max(-1, Math.min(1, q12 / d));
}

/** (sin θ + (π − θ) cos θ)/π with cos θ = c: the normalised relu kernel (Cho & Saul 2009, n = 1). */
function arcCos1(c: number): number {
  const theta = Math.acos(c);
  return (Math.sqrt(Math.max(0, 1 - c * c)) + (Math.PI - theta) * c) / Math.PI;
}

/** (π − θ)/π with cos θ = c: the normalised step kernel (Cho & Saul 2009, n = 0). */
function arcCos0(c: number): number {
  return (Math.PI - Math.acos(c)) / Math.PI;
}

const signKernel = {
  correlation: (c: number) => (2 / Math.PI) * Math.asin(c),
  derivCross: () => 0,
  derivSecondMoment: 0,
};

const reluLike = {
  correlation: arcCos1,
  derivCross: (c: number) => arcCos0(c) / 2,
  derivSecondMoment: 0.5,
};

const relu: ActivationTheory = {
  phi: (x) => (x > 0 ? x : 0),
  dphi: (x) => (x > 0 ? 1 : 0),
  d2phi: () => 0,
  secondMoment: (q) => q / 2,
  derivSecondMoment: () => 0.5,
  curvatureMoment: () => 0,
  homogeneous: true,
  // E[φ(u1)φ(u2)] = √(q11 q22)/(2π) (sin θ + (π − θ) cos θ), cos θ = c.
  crossMoment: (q11, q22, q12) => (Math.sqrt(q11 * q22) / 2) * arcCos1(correlation(q11, q22, q12)),
  // E[φ'φ'] = P(u1 > 0, u2 > 0) = (π − θ)/(2π).
  derivCrossMoment: (q11, q22, q12) => arcCos0(correlation(q11, q22, q12)) / 2,
  atInfinity: reluLike,
};

const TWO_OVER_PI = 2 / Math.PI;
const TWO_OVER_SQRT_PI = 2 / Math.sqrt(Math.PI);

const erfTheory: ActivationTheory = {
  phi: erf,
  dphi: (x) => TWO_OVER_SQRT_PI * Math.exp(-x * x),
  d2phi: (x) => -2 * x * TWO_OVER_SQRT_PI * Math.exp(-x * x),
  // Williams 1997: E[erf(u1) erf(u2)] = (2/π) arcsin(2 q12 / √((1 + 2 q11)(1 + 2 q22))).
  secondMoment: (q) => TWO_OVER_PI * Math.asin((2 * q) / (1 + 2 * q)),
  // E[φ'(u1)φ'(u2)] = (4/π) E[e^{−u1²−u2²}] = (4/π) / √det(I + 2Σ) = (4/π)/√((1+2q11)(1+2q22) − 4q12²).
  derivSecondMoment: (q) => (2 * TWO_OVER_PI) / Math.sqrt(1 + 4 * q),
  // φ'' = −2uφ' and Stein's lemma E[u g(u)] = q E[g'(u)] give E[φ''φ] = −2q (E[φ''φ] + E[φ'²]),
  // so E[φ''φ] = −2q E[φ'²] / (1 + 2q) = −8q / (π (1 + 2q) √(1 + 4q)).
  homogeneous: false,
  curvatureMoment: (q) => (-8 * q) / (Math.PI * (1 + 2 * q) * Math.sqrt(1 + 4 * q)),
  crossMoment: (q11, q22, q12) => {
    const r = (2 * q12) / Math.sqrt((1 + 2 * q11) * (1 + 2 * q22));
    return TWO_OVER_PI * Math.asin(Math.max(-1, Math.min(1, r)));
  },
  derivCrossMoment: (q11, q22, q12) => (2 * TWO_OVER_PI) / Math.sqrt(Math.max(0, (1 + 2 * q11) * (1 + 2 * q22) - 4 * q12 * q12)),
  atInfinity: signKernel,
};

const linear: ActivationTheory = {
  phi: (x) => x,
  dphi: () => 1,
  d2phi: () => 0,
  secondMoment: (q) => q,
  derivSecondMoment: () => 1,
  curvatureMoment: () => 0,
  homogeneous: true,
  crossMoment: (_q11, _q22, q12) => q12,
  derivCrossMoment: () => 1,
  atInfinity: { correlation: (c) => c, derivCross: () => 1, derivSecondMoment: 1 },
};

/** A theory whose moments are all computed by quadrature from φ, φ', φ''. */
function byQuadrature(
  phi: (x: number) => number,
  dphi: (x: number) => number,
  d2phi: (x: number) => number,
  atInfinity: ActivationTheory['atInfinity'],
  odd: boolean,
): ActivationTheory {
  return {
    phi,
    dphi,
    d2phi,
    atInfinity,
    homogeneous: false,
    secondMoment: (q) => expectScaled((u) => phi(u) ** 2, q),
    derivSecondMoment: (q) => expectScaled((u) => dphi(u) ** 2, q),
    curvatureMoment: (q) => expectScaled((u) => d2phi(u) * phi(u), q),
    // φφ and φ'φ' are both symmetric under (u1, u2) → (−u1, −u2) when φ is odd.
    crossMoment: (q11, q22, q12) => expectPairProduct(phi, phi, q11, q22, q12, odd),
    derivCrossMoment: (q11, q22, q12) => expectPairProduct(dphi, dphi, q11, q22, q12, odd),
  };
}

const tanh = byQuadrature(
  Math.tanh,
  (x) => {
    const t = Math.tanh(x);
    return 1 - t * t;
  },
  (x) => {
    const t = Math.tanh(x);
    return -2 * t * (1 - t * t);
  },
  signKernel,
  true,
);

// gelu(x) = x Φ(x), the exact form of lib/models/layers.ts.
const geluPhi = (x: number) => x * normalCdf(x);
const gelu: ActivationTheory = {
  ...byQuadrature(geluPhi, (x) => normalCdf(x) + x * normalPdf(x), (x) => normalPdf(x) * (2 - x * x), reluLike, false),
  // For x ~ N(m, s²): E[Φ(x)] = Φ(m/√(1+s²)) and E[ϕ(x)] = ϕ(m/√(1+s²))/√(1+s²), so by Stein's
  // lemma E[x Φ(x)] = m Φ(r) + s² ϕ(r)/√(1+s²), r = m/√(1+s²): the inner expectation over z2 is
  // closed, and the pair expectation (the costly part of predictLayers) is one sum, not n².
  crossMoment: (q11, q22, q12) =>
    expectPairConditional(
      (u1, m, s) => {
        const k = Math.sqrt(1 + s * s);
        const r = m / k;
        return geluPhi(u1) * (m * normalCdf(r) + ((s * s) / k) * normalPdf(r));
      },
      q11,
      q22,
      q12,
    ),
};

/**
 * The theory of every activation of lib/models/layers.ts. Keyed by Record<Activation, …> on
 * purpose: adding a name to ACTIVATIONS without adding its theory here does not compile.
 */
export const ACTIVATION_THEORY: Readonly<Record<Activation, ActivationTheory>> = {
  relu,
  tanh,
  linear,
  gelu,
  erf: erfTheory,
};

/** The activation names the theory knows (the same as ACTIVATIONS), without loading tfjs. */
export const THEORY_ACTIVATIONS = Object.keys(ACTIVATION_THEORY) as Activation[];

/** Whether `name` is an activation the theory knows. */
export function isActivation(name: string): name is Activation {
  return Object.prototype.hasOwnProperty.call(ACTIVATION_THEORY, name);
}
