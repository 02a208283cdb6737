import type { CurvePoint } from './plot.js';

/** One group's curve at one x: the centre line and the band drawn around it, over `runs` runs. */
export interface BandPoint {
  readonly group: string;
  readonly x: number;
  readonly mean: number;
  readonly lo: number;
  readonly hi: number;
  readonly runs: number;
}

/**
 * The centre and ±1 std band of each group's runs at each x. On a linear axis: the mean and
 * mean ± sample std (n − 1; a lone run has no band). On a log axis the band is taken in log
 * space, geometric mean ×/÷ geometric std (exp of the mean and std of ln y), which stays positive
 * where mean − std would not and is symmetric on that axis; points ≤ 0 cannot be drawn there and
 * are left out. Groups and x in ascending order.
 */
export function curveBands(points: readonly CurvePoint[], log: boolean): BandPoint[] {
  const cells = new Map<string, { group: string; x: number; ys: number[] }>();
  for (const p of points) {
    if (log && !(p.y > 0)) continue;
    const group = p.group ?? '';
    const key = JSON.stringify([group, p.x]);
    let cell = cells.get(key);
    if (!cell) cells.set(key, (cell = { group, x: p.x, ys: [] }));
    cell.ys.push(log ? Math.log(p.y) : p.y);
  }
  const out: BandPoint[] = [];
  for (const { group, x, ys } of cells.values()) {
    const n = ys.length;
    const mean = ys.reduce((a, b) => a + b, 0) / n;
    const std = n > 1 ? Math.sqrt(ys.reduce((a, y) => a + (y - mean) ** 2, 0) / (n - 1)) : 0;
    out.push(log ? { group, x, mean: Math.exp(mean), lo: Math.exp(mean - std), hi: Math.exp(mean + std), runs: n } : { group, x, mean, lo: mean - std, hi: mean + std, runs: n });
  }
  return out.sort((a, b) => (a.group === b.group ? a.x - b.x : a.group < b.group ? -1 : 1));
}
