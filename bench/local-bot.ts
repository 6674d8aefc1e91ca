/**
 * The local bot as a trader runs it: `infra/local/main.ts` (what `npm start` runs) in a process of
 * its own, in a fresh folder, on SQLite and then on DynamoDB Local (PINEBRIDGE_STORE), each the
 * other's baseline in the same run.
 *
 *  - Start: from spawning the process to a healthy /health, the first start (it synthesizes the
 *    CDK app and caches the workflow) and the next (cached).
 *  - Rate on an empty store: 4 clients post back to back (each on its last 202) and the time until
 *    every signal is decided gives signals decided per second.
 *  - Memory: resident memory of the whole bot (Node, plus the JVM for DynamoDB Local) after
 *    BENCH_LOCAL_ALERTS alerts (10,000 for SQLite). Past the config's ceiling of 2,000 orders a
 *    minute the rest are decided `rejected` (ORDER_RATE_LIMIT): every alert is still recorded,
 *    decided and booked, which is what memory grows with.
 *  - History (SQLite): BENCH_LOCAL_HISTORY signals with their orders are written into the database
 *    while the bot is stopped, and the rate is measured again.
 *
 * Writes .bench/local-bot.json (bench/summary.ts) and prints the figures.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { SqliteDatabase } from '../shared/adapters/sqlite/database.js';
import { BENCH_CONFIG } from './config.js';
import { type LocalBotFigures, writeFigures } from './figures.js';
import { mib, table } from './stats.js';

const REPO = fileURLToPath(new URL('../', import.meta.url));
const TSX = pathToFileURL(join(REPO, 'node_modules/tsx/dist/loader.mjs')).href;
const MAIN = join(REPO, 'infra/local/main.ts');
const count = (name: string, fallback: number) => Number(process.env[name] ?? fallback);
const RATE_ALERTS = count('BENCH_LOCAL_RATE_ALERTS', 1500);
const HISTORY = count('BENCH_LOCAL_HISTORY', 100_000);
const SECRET = `whsec-${randomUUID()}`;
const ADMIN = `admin-${randomUUID()}`;
const STORES = (process.env.BENCH_LOCAL_STORES ?? 'sqlite,dynamodb-local').split(',') as (
  | 'sqlite'
  | 'dynamodb-local'
)[];
const alertsFor = (store: string) =>
  count(
    store === 'sqlite' ? 'BENCH_LOCAL_ALERTS' : 'BENCH_LOCAL_ALERTS_DYNAMODB',
    store === 'sqlite' ? 10_000 : 2_000,
  );

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

interface Bot {
  child: ChildProcess;
  url: string;
}

async function start(folder: string, store: string, port: number): Promise<{ bot: Bot; ms: number }> {
  const started = performance.now();
  const child = spawn(process.execPath, ['--disable-warning=ExperimentalWarning', '--import', TSX, MAIN], {
    cwd: folder,
    env: {
      PATH: process.env.PATH ?? '',
      HOME: process.env.HOME ?? '/tmp',
      PORT: String(port),
      PINEBRIDGE_STORE: store,
      PINEBRIDGE_WEBHOOK_SECRET: SECRET,
      PINEBRIDGE_ADMIN_TOKEN: ADMIN,
      POWERTOOLS_LOG_LEVEL: 'SILENT',
    },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const url = `http://127.0.0.1:${port}`;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`the bot exited with ${child.exitCode} while starting`);
    const ok = await fetch(`${url}/health`).then(
      (r) => r.status === 200,
      () => false,
    );
    if (ok) return { bot: { child, url }, ms: performance.now() - started };
    await sleep(10);
  }
}

async function stop(bot: Bot): Promise<void> {
  const exited = new Promise((resolve) => bot.child.once('exit', resolve));
  bot.child.kill('SIGINT');
  await exited;
}

/** Posts `total` alerts from 4 clients back to back; resolves with the accepted signal ids. */
async function post(bot: Bot, total: number, tag: string): Promise<string[]> {
  const ids: string[] = [];
  let next = 0;
  await Promise.all(
    Array.from({ length: 4 }, async () => {
      while (next < total) {
        const n = next++;
        const response = await fetch(`${bot.url}/webhook/${SECRET}`, {
          method: 'POST',
          headers: { 'content-type': 'text/plain' },
          body: JSON.stringify({
            ticker: 'AAPL',
            action: 'buy',
            quantity: 1,
            price: '100',
            id: `${tag}-${n}`,
          }),
        });
        const body = (await response.json()) as { signalId?: string };
        if (response.status === 202 && body.signalId) ids.push(body.signalId);
      }
    }),
  );
  return ids;
}

/** Waits until no signal is undecided; returns how many ended filled and how many otherwise. */
async function decided(
  bot: Bot,
  folder: string,
  store: string,
  ids: readonly string[],
): Promise<{ filled: number; other: number }> {
  for (;;) {
    const statuses = await statusesOf(bot, folder, store, ids);
    const open = statuses.filter((s) => !['filled', 'rejected', 'cancelled', 'failed'].includes(s)).length;
    if (open === 0) {
      const filled = statuses.filter((s) => s === 'filled').length;
      return { filled, other: statuses.length - filled };
    }
    await sleep(100);
  }
}

/** Each signal's status: from the SQLite file directly (a reader of its own), or through /status. */
async function statusesOf(
  bot: Bot,
  folder: string,
  store: string,
  ids: readonly string[],
): Promise<string[]> {
  if (store === 'sqlite') {
    const db = new SqliteDatabase(join(folder, '.data/pinebridge.db'));
    try {
      const statement = db.statement('SELECT status FROM signals WHERE signal_id = ?');
      return ids.map((id) => (statement.get(id) as { status: string } | undefined)?.status ?? 'missing');
    } finally {
      db.close();
    }
  }
  // DynamoDB Local: the signals of the export for today (one UTC day).
  const day = new Date().toISOString().slice(0, 10);
  const response = await fetch(`${bot.url}/status/export?day=${day}`, {
    headers: { authorization: `Bearer ${ADMIN}` },
  });
  const { rows } = (await response.json()) as { rows: { signalId: string; status: string }[] };
  const byId = new Map(rows.map((r) => [r.signalId, r.status]));
  return ids.map((id) => byId.get(id) ?? 'missing');
}

/** Signals decided per second: `total` alerts posted back to back, until the last is decided. */
async function rate(bot: Bot, folder: string, store: string, total: number, tag: string): Promise<number> {
  const started = performance.now();
  const ids = await post(bot, total, tag);
  await decided(bot, folder, store, ids);
  return ids.length / ((performance.now() - started) / 1000);
}

/** Resident memory of the bot process and its children (DynamoDB Local's JVM), from /proc. */
function rssOf(pid: number): number {
  const children = (() => {
    try {
      return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8')
        .trim()
        .split(/\s+/)
        .filter(Boolean)
        .map(Number);
    } catch {
      return [];
    }
  })();
  const own = Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0) * 1024;
  return own + children.reduce((sum, child) => sum + rssOf(child), 0);
}

/**
 * `history` decided signals with their filled orders, written while the bot is stopped: copies of
 * a real filled signal and its order (so every document is what the bot itself writes), spread
 * over the 300 days before today.
 */
function recordHistory(folder: string, history: number): void {
  const db = new SqliteDatabase(join(folder, '.data/pinebridge.db'));
  const model = db
    .statement(
      "SELECT s.doc AS signal, o.doc AS 'order' FROM signals s JOIN orders o ON o.client_order_id = s.doc ->> 'clientOrderId' WHERE s.status = 'filled' LIMIT 1",
    )
    .get() as { signal: string; order: string };
  const signalDoc = JSON.parse(model.signal) as Record<string, unknown>;
  const orderDoc = JSON.parse(model.order) as Record<string, unknown> & { intent: Record<string, unknown> };
  db.transaction(() => {
    const signal = db.statement(
      'INSERT INTO signals (signal_id, received_at, status, doc) VALUES (?, ?, ?, ?)',
    );
    const order = db.statement(
      'INSERT INTO orders (client_order_id, created_at, final, doc) VALUES (?, ?, 1, ?)',
    );
    for (let i = 0; i < history; i++) {
      const at = new Date(Date.now() - (1 + (i % 300)) * 86_400_000 - i).toISOString();
      const signalId = `history-${i}`;
      const clientOrderId = `pb-${signalId}`;
      signal.run(
        signalId,
        at,
        'filled',
        JSON.stringify({ ...signalDoc, signalId, receivedAt: at, updatedAt: at, clientOrderId }),
      );
      order.run(
        clientOrderId,
        at,
        JSON.stringify({
          ...orderDoc,
          clientOrderId,
          signalId,
          intent: { ...orderDoc.intent, clientOrderId, signalId },
          createdAt: at,
          updatedAt: at,
        }),
      );
    }
  });
  db.close();
}

/** Waits out the order-rate window (2,000 a minute), so a rate phase measures the bot, not the limit. */
const waitForRateWindow = () => sleep(61_000);

const results: LocalBotFigures['stores'] = [];
let port = 28_000 + Math.floor(Math.random() * 1000);
for (const store of STORES) {
  const folder = mkdtempSync(join(os.tmpdir(), `pinebridge-local-bot-${store}-`));
  writeFileSync(join(folder, 'config.json'), JSON.stringify(BENCH_CONFIG));
  try {
    process.stdout.write(`${store}: first start… `);
    const first = await start(folder, store, ++port);
    process.stdout.write(`${(first.ms / 1000).toFixed(2)} s; `);
    await stop(first.bot);
    const warm = await start(folder, store, ++port);
    process.stdout.write(`second start ${(warm.ms / 1000).toFixed(2)} s\n`);
    const bot = warm.bot;
    const emptyRate = await rate(bot, folder, store, RATE_ALERTS, 'empty');
    process.stdout.write(
      `${store}: empty store, ${RATE_ALERTS} alerts back to back: ${emptyRate.toFixed(1)} decided/s\n`,
    );
    await waitForRateWindow();
    const alerts = alertsFor(store);
    const ids = await post(bot, alerts - RATE_ALERTS, 'memory');
    const { filled, other } = await decided(bot, folder, store, ids);
    const rssBytes = rssOf(bot.child.pid as number);
    process.stdout.write(
      `${store}: after ${alerts} alerts, RSS ${mib(rssBytes)} (${filled} more filled, ${other} decided otherwise)\n`,
    );
    await stop(bot);
    let historyRate: number | null = null;
    if (store === 'sqlite' && HISTORY > 0) {
      recordHistory(folder, HISTORY);
      await waitForRateWindow();
      const again = await start(folder, store, ++port);
      historyRate = await rate(again.bot, folder, store, RATE_ALERTS, 'history');
      process.stdout.write(
        `${store}: with ${HISTORY} signals recorded: ${historyRate.toFixed(1)} decided/s\n`,
      );
      await stop(again.bot);
    }
    results.push({
      store,
      firstStartMs: first.ms,
      warmStartMs: warm.ms,
      alerts,
      filled: RATE_ALERTS + filled,
      rssBytes,
      emptyRate,
      historyRate,
      history: store === 'sqlite' ? HISTORY : 0,
    });
  } finally {
    rmSync(folder, { recursive: true, force: true });
  }
}

writeFigures('local-bot', { stores: results });
process.stdout.write(
  `\n${table(
    [
      'Store',
      'First start',
      'Second start',
      'Alerts',
      'RSS after',
      'Decided/s, empty',
      'Decided/s, with history',
    ],
    results.map((r) => [
      r.store,
      `${(r.firstStartMs / 1000).toFixed(2)} s`,
      `${(r.warmStartMs / 1000).toFixed(2)} s`,
      String(r.alerts),
      mib(r.rssBytes),
      r.emptyRate.toFixed(1),
      r.historyRate === null ? '–' : `${r.historyRate.toFixed(1)} (${r.history} signals)`,
    ]),
  )}\nWritten to .bench/local-bot.json.\n`,
);
