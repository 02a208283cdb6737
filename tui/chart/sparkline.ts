/**
 * One-line charts of eight block heights (▁..█), for a run's metric in a table cell. Pure: values
 * in, a string of exactly `width` characters out (padded with spaces on the left while the series
 * is short, so the newest value is always in the last column).
 */

const BLOCKS = '▁▂▃▄▅▆▇█';

/**
 * Means of `values` over `width` equal buckets (a series longer than the cell is squeezed, not
 * cut: the whole run stays visible); a bucket with no finite value is NaN.
 */
export function bucketMeans(values: readonly number[], width: number): number[] {
  if (values.length <= width) return [...values];
  const out: number[] = [];
  for (let b = 0; b < width; b++) {
    const from = Math.floor((b * values.length) / width);
    const to = Math.floor(((b + 1) * values.length) / width);
    let sum = 0;
    let n = 0;
    for (let i = from; i < to; i++) {
      if (Number.isFinite(values[i])) {
        sum += values[i]!;
        n++;
      }
    }
    out.push(n ? sum / n : NaN);
  }
  return out;
}

/**
 * `values` as a sparkline `width` characters wide, scaled between their own min and max (a
 * flat series sits at the middle height); a non-finite value (NaN after a divergence) is a space.
 */
export function sparkline(values: readonly number[], width: number): string {
  const w = Math.max(0, Math.floor(width));
  if (w === 0) return '';
  const shown = bucketMeans(values, w);
  const finite = shown.filter(Number.isFinite);
  const lo = Math.min(...finite);
  const hi = Math.max(...finite);
  const chars = shown.map((v) => {
    if (!Number.isFinite(v)) return ' ';
    if (hi === lo) return BLOCKS[3]!;
    return BLOCKS[Math.min(BLOCKS.length - 1, Math.floor(((v - lo) / (hi - lo)) * BLOCKS.length))]!;
  });
  return chars.join('').padStart(w);
}
