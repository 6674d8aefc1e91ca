/** Latency statistics and the markdown the benchmark writes. No dependency on the runtime. */

export interface Summary {
  count: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
  mean: number;
}

/** Nearest-rank percentile of an ascending array (p in 0–100). */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.max(1, Math.ceil((p / 100) * sorted.length));
  return sorted[Math.min(rank, sorted.length) - 1] ?? Number.NaN;
}

export function summarize(samples: readonly number[]): Summary {
  const sorted = [...samples].sort((a, b) => a - b);
  const total = sorted.reduce((sum, v) => sum + v, 0);
  return {
    count: sorted.length,
    p50: percentile(sorted, 50),
    p90: percentile(sorted, 90),
    p99: percentile(sorted, 99),
    max: sorted.at(-1) ?? Number.NaN,
    mean: sorted.length > 0 ? total / sorted.length : Number.NaN,
  };
}

export const ms = (value: number): string => (Number.isFinite(value) ? value.toFixed(2) : '–');
export const mib = (bytes: number): string => `${(bytes / 1024 / 1024).toFixed(1)} MiB`;

/** A GitHub-flavoured markdown table; also readable as plain text on stdout. */
export function table(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]) =>
    `| ${cells.map((c, i) => c.padEnd(widths[i] ?? 0)).join(' | ')} |`;
  return [line(header), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...rows.map(line)].join('\n');
}

export const LATEST_RUN_HEADING = '## Latest run';

/**
 * Replaces the "Latest run" section of `existing` (from its heading to the next level-2 heading or
 * the end) with `section`, keeping everything else — the hand-written intro above all — as it is.
 */
export function replaceLatestRun(existing: string, section: string, heading = LATEST_RUN_HEADING): string {
  const start = existing.indexOf(`\n${heading}\n`);
  if (start === -1) return `${existing.trimEnd()}\n\n${section.trimEnd()}\n`;
  const after = existing.indexOf('\n## ', start + 1);
  const tail = after === -1 ? '' : `\n${existing.slice(after).trimStart()}`;
  return `${existing.slice(0, start).trimEnd()}\n\n${section.trimEnd()}\n${tail}`;
}
