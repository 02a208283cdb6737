/**
 * How a number reads to a person, the same in scan tables, train.log and the progress line: 4
 * significant digits; integers below a million exactly (a step count is never 1.235e+4); tiny
 * and huge values in exponent form without padding zeros; NaN and ±inf spelled out. Machine
 * outputs (metrics.jsonl, CSV, JSON) keep full precision and never go through here.
 */
export function formatNumber(x: number): string {
  if (Number.isNaN(x)) return 'NaN';
  if (!Number.isFinite(x)) return x > 0 ? 'inf' : '-inf';
  const abs = Math.abs(x);
  if (Number.isInteger(x) && abs < 1e6) return String(x);
  if (abs >= 1e-3 && abs < 1e6) return String(Number(x.toPrecision(4)));
  // 1.230e-5 -> 1.23e-5, 1.000e-4 -> 1e-4
  return x.toExponential(3).replace(/\.?0+e/, 'e');
}
