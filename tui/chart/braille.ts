/**
 * Line charts in braille characters: each character cell is a 2×4 grid of dots, so a chart of
 * W×H cells plots at 2W×4H, enough to see a loss curve's shape in an 80-column terminal. Pure:
 * series in, lines of text out, plus which series owns each cell so that a component may colour
 * the curves (the last series drawn in a cell owns it). No colour, no terminal, no React here.
 */
import { formatNumber } from '../../lib/format_number.js';

/** One curve: points (x, y) in x order; a non-finite y breaks the line (a diverged stretch). */
export interface ChartSeries {
  readonly label: string;
  readonly points: readonly (readonly [number, number])[];
}

/** The size of a chart, in terminal cells, labels and axes included. */
export interface ChartOptions {
  /** Columns of the whole chart, y labels and axis included. */
  readonly width: number;
  /** Rows of the plot area; the x axis and its labels add two more. */
  readonly height: number;
  /** Plot y on a log10 scale (only when every finite y is positive). @default false */
  readonly logY?: boolean;
}

/** A drawn chart: its lines, and for each plot cell the index of the series that owns it (-1: none). */
export interface BrailleChart {
  /** height plot rows, then the axis row, then the x labels row. */
  readonly lines: string[];
  /** owners[row][col] for the plot rows; col counts from the first plot column. */
  readonly owners: number[][];
  /** Where the plot columns start in each line (after the y labels and the axis). */
  readonly plotStart: number;
  /** The y range drawn (after padding a flat series); null when nothing was finite. */
  readonly yRange: readonly [number, number] | null;
  readonly xRange: readonly [number, number] | null;
}

const BRAILLE_BASE = 0x2800;
/** Bit of the dot at (dx, dy) inside a cell: the Unicode braille layout (dots 1-8). */
const DOT = [
  [0x01, 0x02, 0x04, 0x40],
  [0x08, 0x10, 0x20, 0x80],
] as const;

/** The braille character with exactly these dots set (0: blank braille, shown as a space). */
export function brailleChar(bits: number): string {
  return bits === 0 ? ' ' : String.fromCharCode(BRAILLE_BASE + bits);
}

function range(values: Iterable<number>): [number, number] | null {
  let lo = Infinity;
  let hi = -Infinity;
  for (const v of values) {
    if (!Number.isFinite(v)) continue;
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  return lo <= hi ? [lo, hi] : null;
}

/** A flat range gets room around it, so a constant curve is drawn across the middle. */
function padded([lo, hi]: [number, number]): [number, number] {
  if (hi > lo) return [lo, hi];
  const pad = lo === 0 ? 1 : Math.abs(lo) * 0.1;
  return [lo - pad, hi + pad];
}

/** Dots of the segment from (x0, y0) to (x1, y1) (Bresenham), so a curve stays connected. */
function* segment(x0: number, y0: number, x1: number, y1: number): Generator<[number, number]> {
  const dx = Math.abs(x1 - x0);
  const dy = -Math.abs(y1 - y0);
  const sx = x0 < x1 ? 1 : -1;
  const sy = y0 < y1 ? 1 : -1;
  let err = dx + dy;
  for (;;) {
    yield [x0, y0];
    if (x0 === x1 && y0 === y1) return;
    const e2 = 2 * err;
    if (e2 >= dy) {
      err += dy;
      x0 += sx;
    }
    if (e2 <= dx) {
      err += dx;
      y0 += sy;
    }
  }
}

/** An axis label: three significant digits are enough to read a chart by. */
function short(v: number): string {
  return formatNumber(Number.isFinite(v) && v !== 0 ? Number(v.toPrecision(3)) : v);
}

/** A y label, cut to `width` characters. */
function label(v: number, width: number): string {
  return short(v).slice(0, width).padStart(width);
}

/**
 * Draws `series` as one braille chart of `width` columns and `height + 2` lines: y labels (top,
 * middle, bottom) and an axis on the left, the x range under the plot. Series are drawn in order;
 * where curves cross, the later one owns the cell.
 */
export function brailleChart(series: readonly ChartSeries[], options: ChartOptions): BrailleChart {
  const height = Math.max(1, Math.floor(options.height));
  const allY = series.flatMap((s) => s.points.map((p) => p[1]));
  const logY = options.logY === true && allY.every((y) => !Number.isFinite(y) || y > 0);
  const ty = (y: number) => (logY ? Math.log10(y) : y);
  const yr = range(allY.map(ty));
  const xr = range(series.flatMap((s) => s.points.filter((p) => Number.isFinite(p[1])).map((p) => p[0])));
  const yPad = yr ? padded(yr) : null;
  const shown = (v: number) => (logY ? 10 ** v : v);
  const labels = yPad ? [shown(yPad[1]), shown((yPad[0] + yPad[1]) / 2), shown(yPad[0])] : [];
  const labelWidth = Math.min(9, Math.max(1, ...labels.map((v) => short(v).length)));
  const plotStart = labelWidth + 1;
  const cols = Math.max(1, Math.floor(options.width) - plotStart);
  const bits: number[][] = Array.from({ length: height }, () => new Array<number>(cols).fill(0));
  const owners: number[][] = Array.from({ length: height }, () => new Array<number>(cols).fill(-1));

  if (yPad && xr) {
    const dotsX = cols * 2;
    const dotsY = height * 4;
    const px = (x: number) => (xr[1] === xr[0] ? Math.floor((dotsX - 1) / 2) : Math.round(((x - xr[0]) / (xr[1] - xr[0])) * (dotsX - 1)));
    // Dot row 0 is the top of the chart.
    const py = (y: number) => Math.round(((yPad[1] - ty(y)) / (yPad[1] - yPad[0])) * (dotsY - 1));
    const plot = (i: number, x: number, y: number) => {
      const cx = x >> 1;
      const cy = y >> 2;
      bits[cy]![cx]! |= DOT[x & 1]![y & 3]!;
      owners[cy]![cx] = i;
    };
    series.forEach((s, i) => {
      let prev: [number, number] | null = null;
      for (const [x, y] of s.points) {
        if (!Number.isFinite(y) || !Number.isFinite(x)) {
          prev = null;
          continue;
        }
        const p: [number, number] = [px(x), py(y)];
        if (prev) for (const [dx, dy] of segment(prev[0], prev[1], p[0], p[1])) plot(i, dx, dy);
        else plot(i, p[0], p[1]);
        prev = p;
      }
    });
  }

  const mid = Math.floor((height - 1) / 2);
  const lines = bits.map((row, r) => {
    const v = r === 0 ? labels[0] : r === height - 1 ? labels[2] : r === mid ? labels[1] : undefined;
    const left = v === undefined ? ' '.repeat(labelWidth) : label(v, labelWidth);
    return `${left}${v === undefined ? '│' : '┤'}${row.map(brailleChar).join('')}`;
  });
  lines.push(`${' '.repeat(labelWidth)}└${'─'.repeat(cols)}`);
  const xl = xr ? short(xr[0]) : '';
  const xh = xr && xr[1] !== xr[0] ? short(xr[1]) : '';
  const gap = Math.max(1, cols + 1 - xl.length - xh.length);
  lines.push(`${' '.repeat(labelWidth)}${xl}${' '.repeat(gap)}${xh}`.trimEnd());
  return { lines, owners, plotStart, yRange: yPad ? [shown(yPad[0]), shown(yPad[1])] : null, xRange: xr };
}
