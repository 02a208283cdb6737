import type { Activation } from '../models/layers.js';
import { ACTIVATION_THEORY, isActivation, type ActivationTheory } from './activations.js';

/**
 * Mean-field theory of deep fully connected networks at initialisation, weights N(0, σ_w²/fanIn)
 * and biases N(0, σ_b²), in the infinite-width limit: Poole et al. 2016 ("Exponential
 * expressivity in deep neural networks through transient chaos", NeurIPS) and Schoenholz et al.
 * 2017 ("Deep Information Propagation", ICLR). q is the variance of a pre-activation, c the
 * correlation of two inputs' pre-activations; all quantities are dimensionless.
 */
export interface MeanField {
  activation: Activation;
  sigma_w2: number;
  sigma_b2: number;
}

function theoryOf(mf: MeanField): ActivationTheory {
  if (!isActivation(mf.activation)) throw new Error(`unknown activation "${String(mf.activation)}"`);
  if (!(mf.sigma_w2 >= 0 && Number.isFinite(mf.sigma_w2)) || !(mf.sigma_b2 >= 0 && Number.isFinite(mf.sigma_b2))) {
    throw new Error(`variances must be finite and >= 0, got sigma_w2=${mf.sigma_w2}, sigma_b2=${mf.sigma_b2}`);
  }
  return ACTIVATION_THEORY[mf.activation];
}

/**
 * The variance map q_{l+1} = σ_w² E[φ(√q z)²] + σ_b² (Poole et al. 2016, eq. 3).
 * @throws Error for an unknown activation, negative variances, or q < 0.
 */
export function qMap(mf: MeanField, q: number): number {
  const t = theoryOf(mf);
  if (!(q >= 0)) throw new Error(`q must be >= 0, got ${q}`);
  if (q === Infinity) return Infinity;
  return mf.sigma_w2 * t.secondMoment(q) + mf.sigma_b2;
}

const Q_INFINITE = 1e15;

/**
 * q*: the fixed point of qMap reached by iterating from q0 (Poole et al. 2016, fig. 1). Infinity
 * when q grows without bound (relu with σ_w² > 2, or σ_w² = 2 and σ_b² > 0), and also when the fixed
 * point lies beyond ~1e12 (there q and qMap(q) differ by less than rounding can tell). A marginal map (relu
 * with σ_w² = 2, σ_b² = 0, or linear with σ_w² = 1, σ_b² = 0) fixes every q: q0 is returned.
 * Slow approaches (rate near 1, e.g. near criticality) are finished by bisection between the last
 * iterate and a point past the fixed point, so the result is accurate to ~1e-13 relative
 * (or is 0 to ~1e-13 absolute when the iteration goes to 0: σ_b² = 0 and φ(0) = 0).
 * @throws Error for bad parameters or q0 < 0.
 */
export function qStar(mf: MeanField, q0 = 1): number {
  theoryOf(mf);
  if (!(q0 >= 0 && Number.isFinite(q0))) throw new Error(`q0 must be finite and >= 0, got ${q0}`);
  const F = (q: number) => qMap(mf, q) - q;
  let q = q0;
  let prevStep = NaN;
  for (let k = 0; k < 200; k++) {
    const next = qMap(mf, q);
    if (!(next < Q_INFINITE)) return Infinity;
    const stepK = next - q;
    if (stepK === 0) return next;
    const rate = Number.isNaN(prevStep) ? 0 : Math.min(Math.abs(stepK / prevStep), 0.999999);
    if (Math.abs(stepK) * (1 / (1 - rate)) <= 1e-14 * next) return next;
    q = next;
    prevStep = stepK;
    if (k >= 20 && rate > 0.9) break;
  }
  // Monotone iteration: the fixed point reached is the first root of F beyond q in its direction.
  if (F(q) > 0) {
    let lo = q;
    let hi = 2 * q + 1;
    // F(hi) within rounding of 0 at huge q (relu at σ_w² = 2: F = σ_b² below the spacing of
    // doubles there) is not a crossing: keep doubling.
    while (F(hi) > -1e-12 * hi) {
      lo = hi;
      hi *= 2;
      if (hi > Q_INFINITE) return Infinity;
    }
    return bisect(F, lo, hi);
  }
  return bisect(F, 0, q);
}

/** A root of F between lo (F ≥ 0) and hi (F ≤ 0), to ~1e-15 relative. */
function bisect(F: (x: number) => number, lo: number, hi: number): number {
  for (let i = 0; i < 2000 && hi - lo > 1e-15 * Math.abs(hi) && hi - lo > 1e-300; i++) {
    const mid = (lo + hi) / 2;
    if (F(mid) > 0) lo = mid;
    else hi = mid;
  }
  const root = (lo + hi) / 2;
  return root < 1e-13 ? (F(0) === 0 ? 0 : root) : root;
}

/** The covariances of two inputs' pre-activations at one layer. */
export interface PairState {
  q11: number;
  q22: number;
  q12: number;
}

/**
 * The covariance map of two inputs (Poole et al. 2016, eqs. 3 and 5): q_aa ← σ_w² E[φ(u_a)²] + σ_b²,
 * q12 ← σ_w² E[φ(u1)φ(u2)] + σ_b², u1 = √q11 z1, u2 = √q22 (c z1 + √(1−c²) z2), c = q12/√(q11 q22).
 * @throws Error for bad parameters, negative variances or |c| > 1.
 */
export function pairMap(mf: MeanField, q11: number, q22: number, q12: number): PairState {
  const t = theoryOf(mf);
  return {
    q11: qMap(mf, q11),
    q22: qMap(mf, q22),
    q12: mf.sigma_w2 * t.crossMoment(q11, q22, q12) + mf.sigma_b2,
  };
}

/**
 * The correlation map at equal lengths q (default q*): c ← (σ_w² E[φ(u1)φ(u2)] + σ_b²)/(σ_w² E[φ(u)²] + σ_b²)
 * (Poole et al. 2016, eq. 5; at q = q* the denominator is q*). At q = ∞ (relu past σ_w² = 2) the
 * limit kernel of ActivationTheory.atInfinity; at q = 0 with σ_b² = 0 the limit of small q: relu's
 * (scale-free) map, or c itself when φ'(0) ≠ 0 (the network is linear there).
 * @throws Error for bad parameters or |c| > 1.
 */
export function cMap(mf: MeanField, c: number, q: number = qStar(mf)): number {
  const t = theoryOf(mf);
  if (!(Math.abs(c) <= 1)) throw new Error(`c must be in [-1, 1], got ${c}`);
  if (q === Infinity) return t.atInfinity.correlation(c);
  // relu and linear: at σ_b² = 0 the map is the same at every q, including the limit q → 0.
  if (q === 0 && t.homogeneous) q = 1;
  const denom = qMap(mf, q);
  if (denom === 0) return c;
  return Math.max(-1, Math.min(1, (mf.sigma_w2 * t.crossMoment(q, q, c * q) + mf.sigma_b2) / denom));
}

/**
 * χ1 = σ_w² E[φ'(√q z)²] (Poole et al. 2016, eq. 7; Schoenholz et al. 2017, eq. 5): the mean
 * squared singular value of the layer Jacobian; < 1 ordered, > 1 chaotic. q defaults to q*.
 * @throws Error for bad parameters.
 */
export function chi1(mf: MeanField, q: number = qStar(mf)): number {
  const t = theoryOf(mf);
  return mf.sigma_w2 * (q === Infinity ? t.atInfinity.derivSecondMoment : t.derivSecondMoment(q));
}

/**
 * χ_c = σ_w² E[φ'(u1)φ'(u2)] at equal lengths q and correlation c (Schoenholz et al. 2017, eq. 9):
 * the slope of the correlation map at c. χ_c(c = 1) = χ1.
 * @throws Error for bad parameters or |c| > 1.
 */
export function chiC(mf: MeanField, q: number, c: number): number {
  const t = theoryOf(mf);
  if (!(Math.abs(c) <= 1)) throw new Error(`c must be in [-1, 1], got ${c}`);
  // relu's E[φ'φ'] depends on c alone; at q = 0 the covariance would hide c.
  if (q === 0 && t.homogeneous) q = 1;
  return mf.sigma_w2 * (q === Infinity ? t.atInfinity.derivCross(c) : t.derivCrossMoment(q, q, c * q));
}

/**
 * c*: the stable fixed point of the correlation map at q*, reached from c0 (default 0; Poole et al.
 * 2016, fig. 2; Schoenholz et al. 2017, §3). c* = 1 whenever χ1 ≤ 1 (ordered phase and critical
 * point: the map is convex with slope χ1 at 1, so 1 attracts); in the chaotic phase the root
 * below 1. For relu the map at q = ∞ still has 1 as its only fixed point, so c* = 1 there too. When
 * q* = 0 (σ_b² = 0 in the ordered phase): relu's correlation map does not depend on q and c* = 1;
 * for a smooth φ with φ'(0) ≠ 0 (tanh, erf, gelu) and for linear the network is linear in the limit,
 * every c is fixed and no c* is singled out: NaN. A c* within 1e-12 of 0 is 0 (an odd φ at σ_b² =
 * 0 has c* = 0 by symmetry; the quadrature leaves only rounding).
 * @throws Error for bad parameters.
 */
export function cStar(mf: MeanField, c0 = 0): number {
  theoryOf(mf);
  const q = qStar(mf);
  if (q === 0 && !ACTIVATION_THEORY[mf.activation].homogeneous) return NaN;
  if (mf.activation === 'linear' && mf.sigma_b2 === 0) return NaN;
  if (chi1(mf, q) <= 1) return 1;
  const c = chaoticFixedPoint(mf, q, c0);
  return Math.abs(c) < 1e-12 ? 0 : c;
}

/** The fixed point of the correlation map below 1 at q (chaotic phase), from c0: iteration, then bisection. */
function chaoticFixedPoint(mf: MeanField, q: number, c0: number): number {
  const F = (c: number) => cMap(mf, c, q) - c;
  let c = c0;
  for (let k = 0; k < 60; k++) {
    const next = cMap(mf, c, q);
    if (Math.abs(next - c) <= 1e-15) return next;
    c = next;
  }
  // F > 0 below c*, F < 0 between c* and 1 (chaotic phase), and F(1) = 0: bisect on [c, 1].
  if (F(c) <= 0) return c;
  let lo = c;
  let hi = 1;
  for (let i = 0; i < 200 && hi - lo > 1e-15; i++) {
    const mid = (lo + hi) / 2;
    if (F(mid) > 0) lo = mid;
    else hi = mid;
  }
  return (lo + hi) / 2;
}

/**
 * The depth scales over which the length and the correlation of signals approach their fixed points
 * (Schoenholz et al. 2017, eqs. 7–9): ξ_q⁻¹ = −log(χ1 + σ_w² E[φ''(u)φ(u)]), u ~ N(0, q*) (the slope
 * of the variance map at q*), and ξ_c⁻¹ = −log χ_c(c*). In layers. Infinity where the slope is ≥ 1
 * (criticality, a marginal or divergent variance map: no exponential approach); ξ_c diverges at
 * the order-to-chaos transition.
 * @throws Error for bad parameters.
 */
export function depthScales(mf: MeanField): { xi_q: number; xi_c: number } {
  const t = theoryOf(mf);
  const q = qStar(mf);
  const slopeQ = q === Infinity ? Infinity : chi1(mf, q) + mf.sigma_w2 * t.curvatureMoment(q);
  const c = cStar(mf);
  // No single c* (a network linear in the limit): the correlation map is linear, its slope the same
  // at every c, the one at c = 1 (= χ1).
  const slopeC = chiC(mf, q, Number.isNaN(c) ? 1 : c);
  return { xi_q: depth(slopeQ), xi_c: depth(slopeC) };
}

function depth(slope: number): number {
  if (!(slope < 1)) return Infinity;
  if (slope <= 0) return 0;
  return -1 / Math.log(slope);
}

/** Where χ1(q*(σ_w²)) crosses 1 at a given σ_b², and whether it crosses continuously. */
export interface CriticalPoint {
  /** The crossing, to ~1e-15 relative. */
  sigma_w2: number;
  /** q* at the crossing itself (for relu at σ_b² = 0 the marginal map keeps q0 = 1). */
  q_star: number;
  /** q* at σ_w²·(1 ∓ 1e-9), just below and just above the crossing (nearly equal when continuous). */
  q_star_below: number;
  q_star_above: number;
  /** χ1(q*) there (both 1 to ~1e-8 when continuous). */
  chi1_below: number;
  chi1_above: number;
  /**
   * false when q* jumps there rather than χ1 passing through 1: gelu, whose variance map has an
   * unstable fixed point between q = 0 (or a small q*) and q = ∞, so that the q* reached from
   * q0 = 1 leaps to ∞ when that point crosses q0, and χ1 leaps over 1 with it.
   */
  continuous: boolean;
}

/**
 * The σ_w² at which χ1(q*(σ_w²)) = 1: the order-to-chaos transition for this σ_b² (Schoenholz et al.
 * 2017, fig. 1; ≈ 1.76 for tanh at σ_b² = 0.05), q* reached from q0 = 1. Bisection on
 * χ1(q*(σ_w²)) − 1 from a bracket found by doubling or halving from σ_w² = 1 (χ1(q*) increases with
 * σ_w² for these activations: σ_w² enters χ1 linearly and q* grows with it). Where q* jumps (gelu)
 * the bisection ends at the jump: see CriticalPoint.continuous.
 * @throws Error for an unknown activation, σ_b² < 0, or no crossing for σ_w² in [1e-6, 1e6].
 */
export function criticalPoint(activation: Activation, sigma_b2: number): CriticalPoint {
  const at = (w: number) => {
    const mf = { activation, sigma_w2: w, sigma_b2 };
    const q = qStar(mf);
    return { q, chi: chi1(mf, q) };
  };
  const g = (w: number) => at(w).chi - 1;
  theoryOf({ activation, sigma_w2: 1, sigma_b2 });
  let lo = 1;
  let hi = 1;
  if (g(1) < 0) {
    while (g(hi) < 0) {
      lo = hi;
      hi *= 2;
      if (hi > 1e6) throw new Error(`${activation}: chi1 stays below 1 up to sigma_w2 = 1e6 at sigma_b2 = ${sigma_b2}`);
    }
  } else {
    while (g(lo) >= 0) {
      hi = lo;
      lo /= 2;
      if (lo < 1e-6) throw new Error(`${activation}: chi1 stays above 1 down to sigma_w2 = 1e-6 at sigma_b2 = ${sigma_b2}`);
    }
  }
  for (let i = 0; i < 200 && hi - lo > 2e-16 * hi; i++) {
    const mid = (lo + hi) / 2;
    if (g(mid) < 0) lo = mid;
    else hi = mid;
  }
  // A hair away from the crossing on each side: exactly at it, q0 = 1 may itself be the unstable
  // fixed point (gelu) and q* would read 1 on both sides.
  const below = at(lo * (1 - 1e-9));
  const above = at(hi * (1 + 1e-9));
  const sigma_w2 = (lo + hi) / 2;
  return {
    sigma_w2,
    q_star: at(sigma_w2).q,
    q_star_below: below.q,
    q_star_above: above.q,
    chi1_below: below.chi,
    chi1_above: above.chi,
    continuous: Math.abs(below.chi - 1) < 1e-6 && Math.abs(above.chi - 1) < 1e-6,
  };
}

/**
 * The σ_w² at which χ1(q*(σ_w²)) = 1 (criticalPoint(...).sigma_w2): tanh σ_b² = 0.05 → 1.7610,
 * relu → 2 (any σ_b²), linear → 1, erf σ_b² = 0 → π/4. For gelu it is where q* jumps, not a point
 * with χ1 = 1 (see CriticalPoint.continuous).
 * @throws as criticalPoint.
 */
export function criticalSigmaW2(activation: Activation, sigma_b2: number): number {
  return criticalPoint(activation, sigma_b2).sigma_w2;
}
