/**
 * A progress bar's segments: how many cells each run state gets out of `width`, in proportion
 * (largest remainders, so the cells add up exactly), finished states first, then running, then
 * queued. A state with any run gets at least one cell while there are cells to give.
 */

/** The bar's order; `running` includes leased runs (held by an agent, about to start). */
export const BAR_STATES = ['completed', 'diverged', 'failed', 'cancelled', 'running', 'queued'] as const;
/** A state the bar has a segment for. */
export type BarState = (typeof BAR_STATES)[number];

/** Each state's glyph without colour; with colour every finished or running cell is a full block. */
export const BAR_GLYPH: Readonly<Record<BarState, string>> = {
  completed: '#',
  diverged: '!',
  failed: 'x',
  cancelled: '-',
  running: '>',
  queued: '.',
};

/** Cells per state (every BAR_STATES key), adding up to `width` when any run is counted. */
export function barCells(counts: Readonly<Record<string, number>>, width: number): Record<BarState, number> {
  const n: Record<BarState, number> = {
    completed: counts.completed ?? 0,
    diverged: counts.diverged ?? 0,
    failed: counts.failed ?? 0,
    // An early-stopped run ended as the search meant it to: counted with the cancelled ones' cells.
    cancelled: (counts.cancelled ?? 0) + (counts.early_stopped ?? 0),
    running: (counts.running ?? 0) + (counts.leased ?? 0),
    queued: counts.queued ?? 0,
  };
  const total = BAR_STATES.reduce((a, s) => a + n[s], 0);
  const cells = Object.fromEntries(BAR_STATES.map((s) => [s, 0])) as Record<BarState, number>;
  if (total === 0 || width <= 0) return cells;
  const present = BAR_STATES.filter((s) => n[s] > 0);
  const exact = (s: BarState) => (n[s] / total) * width;
  for (const s of present) cells[s] = Math.floor(exact(s));
  // A single failed run out of a thousand must still show: one cell at least, while there are enough.
  if (present.length <= width) for (const s of present) cells[s] = Math.max(1, cells[s]);
  let sum = present.reduce((a, s) => a + cells[s], 0);
  for (; sum < width; sum++) {
    const s = present.reduce((a, b) => (exact(b) - cells[b] > exact(a) - cells[a] ? b : a));
    cells[s]++;
  }
  for (; sum > width; sum--) {
    const s = present.reduce((a, b) => (cells[b] - exact(b) > cells[a] - exact(a) && cells[b] > 1 ? b : a));
    cells[s]--;
  }
  return cells;
}
