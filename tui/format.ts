/**
 * Short forms for cells of a narrow terminal: durations (4m10s), byte sizes (12.1G), metric
 * values (formatNumber, "-" for none), and text cut to a width with an ellipsis.
 */
import { formatNumber } from '../lib/format_number.js';

/** A duration as its two largest units: 12s, 4m10s, 1h02m, 2d03h; "-" for null. */
export function duration(ms: number | null): string {
  if (ms === null || !Number.isFinite(ms)) return '-';
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m${String(s % 60).padStart(2, '0')}s`;
  const h = Math.floor(m / 60);
  if (h < 24) return `${h}h${String(m % 60).padStart(2, '0')}m`;
  return `${Math.floor(h / 24)}d${String(h % 24).padStart(2, '0')}h`;
}

/** Bytes in binary units with one decimal below 10: 512B, 3.2K, 12G, 1.5T. */
export function bytes(n: number | string | null | undefined): string {
  const v = Number(n);
  if (n === null || n === undefined || !Number.isFinite(v)) return '-';
  const units = ['B', 'K', 'M', 'G', 'T', 'P'];
  let x = v;
  let u = 0;
  while (x >= 1024 && u < units.length - 1) {
    x /= 1024;
    u++;
  }
  return `${x < 10 && u > 0 ? x.toFixed(1) : Math.round(x)}${units[u]}`;
}

/** A metric value as scan tables show it; "-" for none. */
export function value(v: number | null | undefined): string {
  return v === null || v === undefined ? '-' : formatNumber(v);
}

/** `text` cut to `width` columns (an ellipsis marks the cut). */
export function cut(text: string, width: number): string {
  if (width <= 0) return '';
  return text.length <= width ? text : width === 1 ? '…' : `${text.slice(0, width - 1)}…`;
}

/** `text` cut or padded to exactly `width` columns; `right` aligns numbers. */
export function fit(text: string, width: number, right = false): string {
  const t = cut(text, width);
  return right ? t.padStart(width) : t.padEnd(width);
}
