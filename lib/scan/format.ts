import type { Cell, Row } from './scan.js';
import { formatNumber } from '../format_number.js';
import { textTable } from '../text_table.js';

export const FORMATS = ['table', 'csv', 'json'] as const;
export type Format = (typeof FORMATS)[number];

export interface TableLike {
  readonly columns: readonly string[];
  readonly rows: readonly Row[];
}

export interface TextOptions {
  /** Longest string cell before it is cut with `…`; the first column (the run) is never cut. @default 32 */
  readonly maxWidth?: number;
}

export function formatTable(table: TableLike, format: Format, options: TextOptions = {}): string {
  switch (format) {
    case 'table':
      return formatText(table, options);
    case 'csv':
      return formatCsv(table);
    case 'json':
      return formatJson(table);
  }
}

/** Aligned columns for a terminal: numbers to 4 significant digits and right-aligned, `-` for missing. */
export function formatText(table: TableLike, options: TextOptions = {}): string {
  const maxWidth = Math.max(options.maxWidth ?? 32, 4);
  const { columns, rows } = table;
  const cells = rows.map((row) =>
    columns.map((column, i) => {
      const text = textCell(row[column]);
      return i > 0 && text.length > maxWidth ? `${text.slice(0, maxWidth - 1)}…` : text;
    }),
  );
  const numeric = columns.map((column) => rows.some((row) => typeof row[column] === 'number') && rows.every((row) => row[column] == null || typeof row[column] === 'number'));
  return textTable([columns, ...cells], { right: numeric, rule: true }).join('\n') + '\n';
}

function textCell(value: Cell | undefined): string {
  if (value === null || value === undefined) return '-';
  if (typeof value === 'number') return formatNumber(value);
  return String(value);
}

/** RFC 4180: CRLF line ends, fields with a comma, quote or line break quoted, quotes doubled. Full precision. */
export function formatCsv(table: TableLike): string {
  const line = (fields: readonly string[]) => fields.map(csvField).join(',') + '\r\n';
  return line(table.columns) + table.rows.map((row) => line(table.columns.map((c) => csvCell(row[c])))).join('');
}

function csvCell(value: Cell | undefined): string {
  if (value === null || value === undefined) return '';
  return String(value);
}

function csvField(text: string): string {
  return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

/**
 * An array of row objects, keys in column order, full precision; missing values are null, and
 * NaN and ±Infinity are the strings "NaN" and "Infinity" as in the run folder itself.
 */
export function formatJson(table: TableLike): string {
  const rows = table.rows.map((row) => Object.fromEntries(table.columns.map((c) => [c, jsonCell(row[c])])));
  return JSON.stringify(rows, null, 2) + '\n';
}

function jsonCell(value: Cell | undefined): Cell {
  if (value === undefined) return null;
  return typeof value === 'number' && !Number.isFinite(value) ? String(value) : value;
}
