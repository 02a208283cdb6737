/**
 * Minimises a function of a few variables without its gradient: the Nelder–Mead simplex method
 * with the standard coefficients (reflection 1, expansion 2, contraction 1/2, shrink 1/2), as in
 * Nelder & Mead, "A simplex method for function minimization", Comput. J. 7 (1965), and
 * scipy.optimize.fmin. Used to fit a Gaussian process's hyperparameters (lib/sweep/gp.ts), where
 * there are 2 to ~10 of them and each evaluation is a Cholesky factorisation.
 */

/**
 * The minimum of `f` found from `x0` (length n) with an initial simplex of side `step`, within
 * `maxEvals` evaluations or once the simplex's values differ by less than `tolerance`. A NaN or
 * infinite value counts as +∞ (a point to move away from). Returns the best point and its value.
 */
export function nelderMead(f: (x: number[]) => number, x0: number[], options: { step?: number; maxEvals?: number; tolerance?: number } = {}): { x: number[]; value: number } {
  const n = x0.length;
  const step = options.step ?? 0.5;
  const maxEvals = options.maxEvals ?? 200 * n;
  const tolerance = options.tolerance ?? 1e-6;
  let evals = 0;
  const value = (x: number[]) => {
    evals++;
    const v = f(x);
    return Number.isFinite(v) ? v : Infinity;
  };
  let simplex = [x0, ...x0.map((_, i) => x0.map((xj, j) => (j === i ? xj + step : xj)))].map((x) => ({ x, v: value(x) }));
  const along = (a: number[], b: number[], t: number) => a.map((ai, i) => ai + t * (b[i]! - ai));
  while (evals < maxEvals) {
    simplex.sort((p, q) => p.v - q.v);
    const best = simplex[0]!;
    const worst = simplex[n]!;
    if (Math.abs(worst.v - best.v) <= tolerance * (Math.abs(best.v) + tolerance)) break;
    // The centroid of all but the worst point.
    const centroid = new Array<number>(n).fill(0);
    for (const p of simplex.slice(0, n)) p.x.forEach((xi, i) => (centroid[i]! += xi / n));
    const reflected = along(worst.x, centroid, 2);
    const vr = value(reflected);
    if (vr < best.v) {
      const expanded = along(worst.x, centroid, 3);
      const ve = value(expanded);
      simplex[n] = ve < vr ? { x: expanded, v: ve } : { x: reflected, v: vr };
    } else if (vr < simplex[n - 1]!.v) {
      simplex[n] = { x: reflected, v: vr };
    } else {
      // Contract toward the better of the worst point and its reflection.
      const outside = vr < worst.v;
      const contracted = outside ? along(worst.x, centroid, 1.5) : along(worst.x, centroid, 0.5);
      const vc = value(contracted);
      if (vc < (outside ? vr : worst.v)) simplex[n] = { x: contracted, v: vc };
      else simplex = simplex.map((p, i) => (i === 0 ? p : { x: along(best.x, p.x, 0.5), v: value(along(best.x, p.x, 0.5)) }));
    }
  }
  simplex.sort((p, q) => p.v - q.v);
  return { x: simplex[0]!.x, value: simplex[0]!.v };
}
