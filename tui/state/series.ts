/**
 * A run's metric over steps, kept in bounded memory however long the run trains: at most
 * {@link SERIES_MAX} points, each standing for `stride` consecutive samples (its last one). When
 * the points fill up, neighbours merge and the stride doubles, so the series always spans the
 * whole run at an even spacing, and the newest sample is always the last point. Immutable: each
 * push returns a new series (the reducer's state is compared by reference).
 */

/** Points kept per series: a sparkline needs a few dozen, a bounded series keeps memory flat. */
export const SERIES_MAX = 64;

/** A bounded, evenly sampled curve. */
export interface Series {
  /** [step, value], oldest first. */
  readonly points: readonly (readonly [number, number])[];
  /** Samples each point stands for. */
  readonly stride: number;
  /** Samples the last point stands for so far (it takes the newest until it holds `stride`). */
  readonly fill: number;
}

/** A series with no point yet. */
export const EMPTY_SERIES: Series = { points: [], stride: 1, fill: 0 };

/** Merges neighbouring points, keeping the later of each pair (a sample of the curve, not a mean). */
function halve(s: Series): Series {
  const points: (readonly [number, number])[] = [];
  for (let i = 1; i < s.points.length; i += 2) points.push(s.points[i]!);
  let fill = s.stride * 2;
  if (s.points.length % 2 === 1) {
    // The odd last point stays alone, standing for what it stood for.
    points.push(s.points[s.points.length - 1]!);
    fill = s.fill;
  } else {
    fill = s.stride + s.fill;
  }
  return { points, stride: s.stride * 2, fill };
}

/** The series with one more sample at `step`. */
export function pushPoint(s: Series, step: number, value: number, max = SERIES_MAX): Series {
  const n = s.points.length;
  if (n > 0 && s.fill < s.stride) {
    // The last point's bucket is not full: the newest sample stands for it.
    const points = s.points.slice(0, n - 1);
    points.push([step, value]);
    return { points, stride: s.stride, fill: s.fill + 1 };
  }
  const next: Series = { points: [...s.points, [step, value]], stride: s.stride, fill: 1 };
  return next.points.length > max ? halve(next) : next;
}

/** The values alone, oldest first (what a sparkline draws). */
export function seriesValues(s: Series): number[] {
  return s.points.map((p) => p[1]);
}
