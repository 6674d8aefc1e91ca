import { existsSync, mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { SqliteHistory } from '../../shared/adapters/sqlite/history.js';
import type { Log } from '../../shared/ports/index.js';
import { EXPORT_COLUMNS, type ExportRow, operate } from '../../shared/usecases/operator.js';
import type { TradeFlowDeps } from '../../shared/usecases/trade-flow.js';
import { csv } from '../cli/format.js';

const DAY_MS = 86_400_000;

export interface PruneReport {
  /** Days exported and deleted. */
  pruned: { day: string; signals: number; orders: number; audit: string }[];
  /** Days past the window still holding a signal or an order not over: kept, tried again next time. */
  kept: string[];
}

/**
 * The local bot's retention window: every UTC day older than `retentionDays` is first exported —
 * the audit export, `pinebridge export`'s rows, to `<auditDir>/<day>.csv` — and only then deleted
 * from the database. A day still holding a signal in flight or an order not final is kept whole
 * and tried again at the next run. The export is written to a temporary file and renamed, so a
 * crash leaves either no file or the whole one, and never a deleted day without its file.
 */
export async function pruneHistory(
  deps: TradeFlowDeps,
  history: SqliteHistory,
  options: { retentionDays: number; auditDir: string; log: Log },
): Promise<PruneReport> {
  const now = deps.clock.now().getTime();
  const cutoff = new Date(now - options.retentionDays * DAY_MS).toISOString().slice(0, 10);
  const report: PruneReport = { pruned: [], kept: [] };
  for (const day of history.daysBefore(cutoff)) {
    if (history.unfinishedOn(day) > 0) {
      report.kept.push(day);
      continue;
    }
    const { rows } = (await operate(deps, { action: 'export', day }, 'retention')) as { rows: ExportRow[] };
    mkdirSync(options.auditDir, { recursive: true, mode: 0o700 });
    const audit = freePath(options.auditDir, day);
    writeFileSync(`${audit}.tmp`, csv(rows, EXPORT_COLUMNS), { mode: 0o600 });
    renameSync(`${audit}.tmp`, audit);
    const deleted = history.prune(day, Math.floor(now / 1000));
    if (deleted.signals === 0 && rows.length > 0) {
      // Something came back to life between the export and the delete: keep it, and say so.
      report.kept.push(day);
      continue;
    }
    report.pruned.push({ day, ...deleted, audit });
  }
  if (report.pruned.length > 0 || report.kept.length > 0)
    options.log.info('retention: history past the window exported and pruned', {
      days: report.pruned.length,
      signals: report.pruned.reduce((n, p) => n + p.signals, 0),
      kept: report.kept,
    });
  return report;
}

/** `<day>.csv`, or `<day>.2.csv`, … when an earlier run already wrote one for that day. */
function freePath(dir: string, day: string): string {
  let path = join(dir, `${day}.csv`);
  for (let n = 2; existsSync(path); n++) path = join(dir, `${day}.${n}.csv`);
  return path;
}
