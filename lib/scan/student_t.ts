import { normalPpf } from '../theory/special.js';

/**
 * t_{0.975, ν} for ν = 1 … 30: the exact quantiles (the root of the regularized incomplete beta
 * in 40-digit arithmetic, rounded to double). A table, because below ν = 31 the expansion used
 * beyond it loses accuracy fast (ν = 1 is the Cauchy distribution, far from normal).
 */
const T975 = [
  12.706204736174705, 4.302652729749464, 3.1824463052837095, 2.7764451051977943, 2.5705818356363155, 2.44691185114497,
  2.3646242515927853, 2.3060041352041667, 2.2621571627982053, 2.228138851986275, 2.2009851600916397, 2.178812829667229,
  2.1603686564627926, 2.144786687917804, 2.1314495455597755, 2.1199052992212546, 2.109815577833317, 2.1009220402410387,
  2.0930240544083096, 2.085963447265865, 2.0796138447276804, 2.0738730679040263, 2.0686576104190486, 2.063898561628026,
  2.0595385527532977, 2.055529438642873, 2.0518305164802855, 2.048407141795245, 2.0452296421327043, 2.042272456301238,
];

/** z = Φ⁻¹(0.975), where the expansion starts. */
const Z = normalPpf(0.975);

/**
 * The Student t quantile t_{0.975, ν}: the half-width factor of a two-sided 95% confidence
 * interval of a mean from n = ν + 1 values, mean ± t·s/√n.
 *
 * ν = 1 … 30 come from a table of exact values. Beyond, the Cornish-Fisher expansion of t about
 * the normal quantile z (Abramowitz & Stegun 26.7.5, terms to ν⁻⁵), whose error is below 1e-9 at
 * ν = 31 and shrinks as ν⁻⁶; ν = Infinity gives z. Non-integer ν is not needed here and is
 * refused (NaN), as is ν < 1.
 */
export function tQuantile975(df: number): number {
  if (df === Infinity) return Z;
  if (!Number.isInteger(df) || df < 1) return NaN;
  if (df <= T975.length) return T975[df - 1]!;
  const z = Z;
  const z2 = z * z;
  // Each g_k is an odd polynomial in z; written as z·P(z²) in Horner form.
  const g1 = (z * (z2 + 1)) / 4;
  const g2 = (z * ((5 * z2 + 16) * z2 + 3)) / 96;
  const g3 = (z * (((3 * z2 + 19) * z2 + 17) * z2 - 15)) / 384;
  const g4 = (z * ((((79 * z2 + 776) * z2 + 1482) * z2 - 1920) * z2 - 945)) / 92160;
  const g5 = (z * (((((27 * z2 + 339) * z2 + 930) * z2 - 1782) * z2 - 765) * z2 + 17955)) / 368640;
  const v = 1 / df;
  return z + v * (g1 + v * (g2 + v * (g3 + v * (g4 + v * g5))));
}
