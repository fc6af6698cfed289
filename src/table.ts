// The one plain-text table: `failoverd status` and the lab's summary both print these.

/**
 * Left-aligned columns, two spaces apart, no trailing spaces; with `rule`, a line of
 * dashes under the header. No box drawing, so every row stays grep-friendly.
 */
export function formatTable(header: readonly string[], rows: readonly (readonly string[])[], options: { rule?: boolean } = {}): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]): string =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd();
  return [line(header), ...(options.rule ? [line(widths.map((w) => '-'.repeat(w)))] : []), ...rows.map(line)].join('\n');
}
