import { UsageError } from '../errors.js';
import { isActivation } from '../theory/activations.js';
import { criticalSigmaW2 } from '../theory/mean_field.js';
import type { Row } from './scan.js';

/** Theory lines `scan --plot-type heatmap --theory NAME` draws over a phase diagram. */
export const THEORIES = ['chi1'] as const;
export type Theory = (typeof THEORIES)[number];

/** A line in the heatmap's own coordinates (x along --x, y along --y), drawn in order. */
export interface TheoryLine {
  readonly label: string;
  readonly points: readonly { readonly x: number; readonly y: number }[];
}

/** Points along a σ_b² axis: enough for the boundary's curvature to read smooth at plot size. */
const CURVE_POINTS = 48;

/**
 * The mean-field order-to-chaos boundary χ1(q*) = 1 over a heatmap whose axes are σ_w² and either
 * depth or σ_b² (Schoenholz et al. 2017, fig. 1 and eq. 5; Poole et al. 2016): against depth it is
 * the vertical line σ_w² = σ_w²*(σ_b²), as χ1 does not depend on depth; against σ_b² it is the curve
 * σ_w²*(σ_b²). σ_w²* comes from lib/theory's criticalSigmaW2, the number `dlphys theory` prints.
 * The activation (model.kwargs.activation) and, off the axes, σ_b² (the init's sigma_b2 beside the
 * σ_w² key, 0 when absent) must each have one value across `configs` (flattened run configs).
 * `xRange`/`yRange` are the axes' extents, in data units, the line is drawn across.
 * @throws UsageError naming the fix when the axes are not σ_w² and depth/σ_b², the activation is
 *   missing, mixed or not one the theory covers, or σ_b² varies while not an axis.
 */
export function chi1Boundary(configs: readonly Row[], xKey: string, yKey: string, xRange: readonly [number, number], yRange: readonly [number, number]): TheoryLine {
  const isW = (key: string) => key.endsWith('sigma_w2');
  const other = (key: string) => (key.endsWith('sigma_b2') ? 'sigma_b2' : /(^|\.)depth$/.test(key) ? 'depth' : null);
  const wOnX = isW(xKey) && other(yKey) !== null;
  const wOnY = isW(yKey) && other(xKey) !== null;
  if (!wOnX && !wOnY) {
    throw new UsageError(
      `--theory chi1 draws the chi1 = 1 boundary over sigma_w2 and depth or sigma_b2: make one of --x/--y the sigma_w2 key (e.g. init.kwargs.sigma_w2) and the other model.kwargs.depth or init.kwargs.sigma_b2 (got --x ${xKey} --y ${yKey})`,
    );
  }
  const wKey = wOnX ? xKey : yKey;
  const otherKey = wOnX ? yKey : xKey;
  const activation = oneValue(configs, 'model.kwargs.activation', undefined);
  if (typeof activation !== 'string' || !isActivation(activation)) {
    throw new UsageError(`--theory chi1 needs the runs' model.kwargs.activation to be one the theory covers (dlphys theory --help lists them); got ${JSON.stringify(activation ?? null)}`);
  }
  const critical = (sigma_b2: number): number => {
    try {
      return criticalSigmaW2(activation, sigma_b2);
    } catch (err) {
      throw new UsageError(`--theory chi1: ${(err as Error).message}`);
    }
  };
  const otherRange = wOnX ? yRange : xRange;
  let points: { w: number; o: number }[];
  if (other(otherKey) === 'depth') {
    const bKey = wKey.replace(/sigma_w2$/, 'sigma_b2');
    const sigma_b2 = oneValue(configs, bKey, 0);
    if (typeof sigma_b2 !== 'number' || sigma_b2 < 0) throw new UsageError(`--theory chi1: ${bKey} must be a number >= 0 in every run; got ${JSON.stringify(sigma_b2)}`);
    const w = critical(sigma_b2);
    points = [{ w, o: otherRange[0] }, { w, o: otherRange[1] }];
  } else {
    const lo = Math.max(0, otherRange[0]);
    const hi = Math.max(lo, otherRange[1]);
    points = Array.from({ length: CURVE_POINTS }, (_, i) => lo + ((hi - lo) * i) / (CURVE_POINTS - 1)).map((b) => ({ w: critical(b), o: b }));
  }
  const where = other(otherKey) === 'depth' ? `, sigma_w2 = ${points[0]!.w.toFixed(4)}` : '';
  return {
    label: `chi1 = 1 (mean-field theory, ${activation}${where})`,
    points: points.map(({ w, o }) => (wOnX ? { x: w, y: o } : { x: o, y: w })),
  };
}

/** The one value `key` has across configs (`fallback` where no config has it); mixed values are a UsageError. */
function oneValue(configs: readonly Row[], key: string, fallback: Row[string] | undefined): Row[string] | undefined {
  const values = [...new Set(configs.map((c) => (key in c ? JSON.stringify(c[key]) : undefined)).filter((v) => v !== undefined))];
  if (values.length === 0) return fallback;
  if (values.length > 1) throw new UsageError(`--theory chi1 needs one ${key} across the runs, but they have ${values.join(', ')}; narrow them with --where ${key}=VALUE`);
  return JSON.parse(values[0]!) as Row[string];
}
