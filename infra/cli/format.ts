/** Plain-text output for a terminal: aligned columns, numbers right-aligned, no colours (pipes stay clean). */

export interface Column<T> {
  header: string;
  value: (row: T) => string | number | null | undefined;
  align?: 'left' | 'right';
}

export function table<T>(rows: readonly T[], columns: readonly Column<T>[]): string {
  const cells = rows.map((row) => columns.map((c) => String(c.value(row) ?? '—')));
  const widths = columns.map((c, i) => Math.max(c.header.length, ...cells.map((r) => r[i]?.length ?? 0)));
  const line = (values: string[]) =>
    values
      .map((v, i) => (columns[i]?.align === 'right' ? v.padStart(widths[i] ?? 0) : v.padEnd(widths[i] ?? 0)))
      .join('  ')
      .trimEnd();
  return [line(columns.map((c) => c.header)), ...cells.map(line)].join('\n');
}

/** Label / value pairs, labels padded to one width. */
export function fields(pairs: readonly [string, string][]): string {
  const width = Math.max(...pairs.map(([label]) => label.length));
  return pairs.map(([label, value]) => `${label.padEnd(width)}  ${value}`).join('\n');
}

/**
 * RFC 4180: quote a field holding a comma, quote or line break; double the quotes inside. Text that
 * a spreadsheet would run as a formula (=, +, -, @ and not a number) gets a leading apostrophe:
 * alert fields such as the strategy name come from outside.
 */
export function csvField(value: string): string {
  const safe = /^[=+\-@\t\r]/.test(value) && !/^[-+]?\d+(\.\d+)?$/.test(value) ? `'${value}` : value;
  return /[",\r\n]/.test(safe) ? `"${safe.replaceAll('"', '""')}"` : safe;
}

export function csv<T extends { [K in keyof T]: string }>(
  rows: readonly T[],
  columns: readonly (keyof T & string)[],
) {
  return [columns.join(','), ...rows.map((row) => columns.map((c) => csvField(row[c] ?? '')).join(','))]
    .map((l) => `${l}\r\n`)
    .join('');
}
