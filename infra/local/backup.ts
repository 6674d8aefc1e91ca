import { chmodSync, existsSync, mkdirSync, statSync } from 'node:fs';
import { dirname } from 'node:path';
import { DatabaseSync } from 'node:sqlite';

export interface BackupReport {
  out: string;
  bytes: number;
  schemaVersion: number;
  signals: number;
  orders: number;
}

/** The backup could not be taken; the message says why and what to do. */
export class BackupError extends Error {
  override readonly name = 'BackupError';
}

/** Where a backup goes when no --out is given: `.data/backups/pinebridge-<UTC time>.db`. */
export const defaultBackupPath = (now: Date) =>
  `.data/backups/pinebridge-${now.toISOString().replace(/[:.]/g, '-')}.db`;

/**
 * A consistent online copy of the local bot's SQLite database, taken whether or not the bot is
 * running: `VACUUM INTO` copies one read snapshot (WAL mode lets the bot go on committing
 * meanwhile) into a new, compacted file, which is then checked (`PRAGMA integrity_check`) and
 * counted. The copy is a plain SQLite database: restoring it is copying it back with the bot
 * stopped (docs/RUNBOOK.md, "Backups").
 */
export function backupDatabase(file: string, out: string): BackupReport {
  if (!existsSync(file))
    throw new BackupError(`no database at ${file}: run it from the folder you start the bot in (npm start)`);
  if (existsSync(out)) throw new BackupError(`${out} exists: a backup never overwrites a file; name another`);
  mkdirSync(dirname(out), { recursive: true, mode: 0o700 });
  const source = new DatabaseSync(file, { readOnly: true });
  try {
    source.exec('PRAGMA busy_timeout = 5000');
    source.prepare('VACUUM INTO ?').run(out);
  } finally {
    source.close();
  }
  chmodSync(out, 0o600);
  const copy = new DatabaseSync(out, { readOnly: true });
  try {
    const check = copy.prepare('PRAGMA integrity_check').get() as { integrity_check: string };
    if (check.integrity_check !== 'ok')
      throw new BackupError(`the copy in ${out} fails its integrity check: ${check.integrity_check}`);
    const count = (table: string) =>
      Number((copy.prepare(`SELECT count(*) AS n FROM ${table}`).get() as { n: number }).n);
    return {
      out,
      bytes: statSync(out).size,
      schemaVersion: Number(
        (copy.prepare('PRAGMA user_version').get() as { user_version: number }).user_version,
      ),
      signals: count('signals'),
      orders: count('orders'),
    };
  } finally {
    copy.close();
  }
}
