/**
 * Lines of an aligned text table: the first row is the header, columns are two spaces apart and
 * as wide as their widest cell, trailing spaces are trimmed. `right[i]` right-aligns column i
 * (numbers); `rule` puts a line of dashes under the header.
 */
export function textTable(rows: readonly (readonly string[])[], options: { right?: readonly boolean[]; rule?: boolean } = {}): string[] {
  const [header = [], ...body] = rows;
  const widths = header.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]) =>
    cells
      .map((c, i) => (options.right?.[i] ? c.padStart(widths[i]!) : c.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd();
  return [line(header), ...(options.rule ? [line(widths.map((w) => '-'.repeat(w)))] : []), ...body.map(line)];
}
