import { randomUUID } from 'node:crypto';
import { copyFileSync, mkdirSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { describe, expect, it } from 'vitest';
import { type LocalRuntime, startLocalRuntime } from '../../infra/local/runtime.js';
import { SqliteDatabase } from '../../shared/adapters/sqlite/database.js';
import { SqliteHistory } from '../../shared/adapters/sqlite/history.js';
import { sqliteStorage } from '../../shared/adapters/sqlite/storage.js';
import { parseConfig } from '../../shared/config/load.js';
import type { Clock } from '../../shared/ports/index.js';
import { EXPORT_COLUMNS } from '../../shared/usecases/operator.js';
import { aSignal } from '../fixtures/builders.js';
import { emptyFolder, runCli } from '../support/cli.js';

/**
 * The local store's backups and retention window (the checklist's "backup strategy" and
 * "database size" for local mode), on the bot's own SQLite file in a folder of its own.
 */
const SECRET = `whsec-${randomUUID()}`;
const ADMIN = `admin-${randomUUID()}`;
const config = parseConfig({
  api: { throttle: { rateLimit: 10_000, burstLimit: 10_000 } },
  risk: {
    duplicateWindowSeconds: 0,
    pyramiding: true,
    maxOrdersPerMinute: 1000,
    maxOrdersPerMinutePerSymbol: 1000,
  },
});

const botIn = (
  folder: string,
  extra: { clock?: Clock; retention?: { days: number; auditDir: string } } = {},
) =>
  startLocalRuntime({
    config,
    webhookSecret: SECRET,
    adminToken: ADMIN,
    port: 0,
    store: { kind: 'sqlite', file: join(folder, '.data/pinebridge.db') },
    ...extra,
  });

const send = (bot: LocalRuntime, fields: Record<string, unknown>) =>
  fetch(`${bot.url}/webhook/${SECRET}`, {
    method: 'POST',
    headers: { 'content-type': 'text/plain' },
    body: JSON.stringify({
      ticker: 'AAPL',
      action: 'buy',
      quantity: 1,
      price: 187.5,
      id: randomUUID(),
      ...fields,
    }),
  });

const statusOf = async (bot: LocalRuntime) =>
  (await (await fetch(`${bot.url}/status`, { headers: { authorization: `Bearer ${ADMIN}` } })).json()) as {
    positions: { symbol: string; quantity: string }[];
    signals: { signalId: string; status: string }[];
  };

describe('pinebridge backup', () => {
  it('copies the database consistently while alerts keep arriving; the copy restores to a bot with the same book', async () => {
    const folder = emptyFolder();
    const bot = await botIn(folder);
    const out = join(folder, 'backups/copy.db');
    let acknowledgedBefore = 0;
    try {
      for (let i = 0; i < 20; i++) expect((await send(bot, {})).status).toBe(202);
      acknowledgedBefore = 20;
      // A burst in flight while the backup is taken.
      const burst = Promise.all(Array.from({ length: 40 }, () => send(bot, { ticker: 'MSFT', price: 410 })));

      const run = await runCli(['backup', '--out', 'backups/copy.db', '--json'], { cwd: folder });
      await burst;
      await bot.settle();

      expect(run.stderr).toBe('');
      expect(run.code).toBe(0);
      const report = JSON.parse(run.stdout) as {
        signals: number;
        orders: number;
        schemaVersion: number;
        bytes: number;
      };
      expect(report.signals).toBeGreaterThanOrEqual(acknowledgedBefore);
      expect(report.schemaVersion).toBeGreaterThanOrEqual(1);
      expect(statSync(out).mode & 0o777).toBe(0o600);
      // A consistent copy: every order in it belongs to a signal in it, and it checks out.
      const copy = new DatabaseSync(out, { readOnly: true });
      expect(copy.prepare('PRAGMA integrity_check').get()).toEqual({ integrity_check: 'ok' });
      const orphans = copy
        .prepare(
          "SELECT count(*) AS n FROM orders o WHERE NOT EXISTS (SELECT 1 FROM signals s WHERE s.signal_id = o.doc ->> 'signalId')",
        )
        .get() as { n: number };
      expect(orphans.n).toBe(0);
      copy.close();

      // A second backup to the same file is refused and leaves the first alone.
      const again = await runCli(['backup', '--out', 'backups/copy.db'], { cwd: folder });
      expect(again.code).toBe(1);
      expect(again.stderr).toContain('exists: a backup never overwrites a file');
      expect(statSync(out).size).toBe(report.bytes);
    } finally {
      await bot.stop();
    }

    // Restore, as docs/RUNBOOK.md says: the bot stopped, the copy put in place of the database.
    const restoredFolder = emptyFolder();
    mkdirSync(join(restoredFolder, '.data'));
    copyFileSync(out, join(restoredFolder, '.data/pinebridge.db'));
    const restored = await botIn(restoredFolder);
    try {
      const status = await statusOf(restored);
      expect(status.signals.length).toBeGreaterThanOrEqual(acknowledgedBefore);
      expect(
        status.signals.every((s) => ['filled', 'rejected', 'cancelled', 'failed'].includes(s.status)),
      ).toBe(true);
      expect(status.positions.find((p) => p.symbol === 'AAPL')?.quantity).toBe('20');
    } finally {
      await restored.stop();
    }
  }, 120_000);

  it('says where to run it when there is no database', async () => {
    const run = await runCli(['backup'], { cwd: emptyFolder() });

    expect(run.code).toBe(1);
    expect(run.stderr).toContain('no database at');
  });
});

describe('the retention window', () => {
  it('exports days past the window to .data/audit, then deletes them; the book and recent days stay', async () => {
    const folder = emptyFolder();
    // 30 days ago, a Monday morning in New York (market hours).
    const past = new Date(Date.UTC(2026, 10, 2, 15, 0, 0));
    const then = await botIn(folder, { clock: { now: () => past } });
    try {
      for (let i = 0; i < 3; i++) expect((await send(then, { time: past.toISOString() })).status).toBe(202);
      await then.settle();
    } finally {
      await then.stop();
    }
    const auditDir = join(folder, '.data/audit');
    // The day before the window's end: a recent day, which stays.
    const recent = await botIn(folder, { clock: { now: () => new Date(past.getTime() + 29 * 86_400_000) } });
    try {
      expect((await send(recent, { ticker: 'MSFT', price: 410 })).status).toBe(202);
      await recent.settle();
    } finally {
      await recent.stop();
    }

    const now = await botIn(folder, {
      clock: { now: () => new Date(past.getTime() + 30 * 86_400_000) },
      retention: { days: 7, auditDir },
    });
    try {
      const status = await statusOf(now);
      // The old day is gone from the database; today's signal stays; the position it built stays.
      expect(status.signals).toHaveLength(1);
      expect(status.positions.find((p) => p.symbol === 'AAPL')?.quantity).toBe('3');
    } finally {
      await now.stop();
    }
    expect(readdirSync(auditDir)).toEqual(['2026-11-02.csv']);
    const lines = readFileSync(join(auditDir, '2026-11-02.csv'), 'utf8').trim().split('\r\n');
    expect(lines[0]).toBe(EXPORT_COLUMNS.join(','));
    expect(lines).toHaveLength(4);
    expect(lines.slice(1).every((line) => line.includes(',AAPL,buy,') && line.includes(',filled,'))).toBe(
      true,
    );
    const db = new DatabaseSync(join(folder, '.data/pinebridge.db'), { readOnly: true });
    expect(
      db.prepare("SELECT count(*) AS n FROM orders WHERE doc ->> '$.intent.symbol' = 'AAPL'").get(),
    ).toEqual({
      n: 0,
    });
    expect(db.prepare('SELECT count(*) AS n FROM paper_orders').get()).toEqual({ n: 1 });
    db.close();
  }, 120_000);

  it('keeps a day that is not over: a signal still undecided is neither exported nor deleted', async () => {
    const database = new SqliteDatabase(join(emptyFolder(), 'history.db'));
    const storage = sqliteStorage(database);
    await storage.signals.recordNew({
      signalId: 's1',
      signal: aSignal(),
      receivedAt: '2026-01-05T15:00:00.000Z',
      dedupKey: 'k1',
      payloadHash: 'h1',
      dedupExpiresAt: new Date('2026-01-05T15:05:00.000Z'),
    });
    const history = new SqliteHistory(database);

    expect(history.daysBefore('2026-02-01')).toEqual(['2026-01-05']);
    expect(history.unfinishedOn('2026-01-05')).toBe(1);
    expect(history.prune('2026-01-05', Date.parse('2026-02-01') / 1000)).toEqual({ signals: 0, orders: 0 });
    expect(await storage.signals.get('s1')).toBeDefined();
    database.close();
  });
});
