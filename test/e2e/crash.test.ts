import { type ChildProcess, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../../infra/local/dynamodb-local.js';
import type { ExportRow } from '../../shared/usecases/operator.js';
import { type FakeAlpaca, startFakeAlpaca } from '../fakes/alpaca/server.js';

/**
 * The crash (issue 9): the local bot — `infra/local/main.ts`, as `npm start` runs it, trading with
 * Alpaca (the fake server, which outlives the bot and counts orders) — is killed with SIGKILL in
 * the middle of a burst of alerts and started again on the same data. Once its reconciler has run,
 * every alert answered 2xx is there and decided, the broker holds exactly one order per approved
 * signal, and the positions agree. It runs on the bot's default store, SQLite in .data/: a 202 is
 * an acknowledged commit, which a SIGKILL cannot undo.
 */
const REPO = fileURLToPath(new URL('../../', import.meta.url));
const TSX = pathToFileURL(join(REPO, 'node_modules/tsx/dist/loader.mjs')).href;
const MAIN = join(REPO, 'infra/local/main.ts');
const SECRET = `whsec-${randomUUID()}`;
const ADMIN = `admin-${randomUUID()}`;
const SYMBOLS = ['AAPL', 'MSFT', 'SPY'] as const;
const PRICES = { AAPL: '187.5', MSFT: '410.25', SPY: '512.1' };
const TERMINAL = ['filled', 'rejected', 'cancelled', 'failed'];

let fake: FakeAlpaca;
let folder: string;
let port: number;
let bot: ChildProcess | undefined;
let output = '';

function startBot(): ChildProcess {
  const child = spawn(process.execPath, ['--disable-warning=ExperimentalWarning', '--import', TSX, MAIN], {
    cwd: folder,
    env: {
      PATH: process.env.PATH ?? '',
      HOME: process.env.HOME ?? '/tmp',
      PORT: String(port),
      PINEBRIDGE_WEBHOOK_SECRET: SECRET,
      PINEBRIDGE_ADMIN_TOKEN: ADMIN,
      APCA_API_KEY_ID: fake.keyId,
      APCA_API_SECRET_KEY: fake.secretKey,
      PINEBRIDGE_ALPACA_URL: fake.url,
      POWERTOOLS_LOG_LEVEL: 'WARN',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout?.on('data', (chunk: Buffer) => {
    output = (output + chunk.toString()).slice(-20_000);
  });
  child.stderr?.on('data', (chunk: Buffer) => {
    output = (output + chunk.toString()).slice(-20_000);
  });
  return child;
}

async function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 90_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe().catch(() => undefined);
    if (value !== undefined) return value;
    if (Date.now() > deadline)
      throw new Error(`${what} did not happen in ${timeoutMs} ms; bot output:\n${output}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

const healthy = () =>
  until('the bot answering /health', async () =>
    (await fetch(`http://127.0.0.1:${port}/health`)).status === 200 ? true : undefined,
  );

const admin = async (path: string) => {
  const response = await fetch(`http://127.0.0.1:${port}${path}`, {
    headers: { authorization: `Bearer ${ADMIN}` },
  });
  if (!response.ok) throw new Error(`${path}: ${response.status}`);
  return response.json();
};

/** Every recorded signal of the last two UTC days, with its order. */
async function exported(): Promise<ExportRow[]> {
  const days = [0, 1].map((back) => new Date(Date.now() - back * 86_400_000).toISOString().slice(0, 10));
  const answers = (await Promise.all(days.map((day) => admin(`/status/export?day=${day}`)))) as {
    rows: ExportRow[];
  }[];
  return answers.flatMap((a) => a.rows);
}

beforeAll(async () => {
  fake = await startFakeAlpaca({ prices: PRICES });
  folder = mkdtempSync(join(tmpdir(), 'pinebridge-crash-'));
  writeFileSync(
    join(folder, 'config.json'),
    JSON.stringify({
      api: { throttle: { rateLimit: 10_000, burstLimit: 10_000 } },
      // The fake has no rate limit; at Alpaca's 200 a minute a 240-alert burst would queue for
      // minutes, which is another test (the client-side limiter), not this one.
      alpaca: { requestsPerMinute: 1000 },
      risk: {
        duplicateWindowSeconds: 0,
        pyramiding: true,
        maxOrdersPerMinute: 2_000,
        maxOrdersPerMinutePerSymbol: 2_000,
        maxPositionQuantity: 10_000,
        maxPositionNotional: '10000000',
        maxGrossExposure: '100000000',
        maxOrderNotional: '1000000',
        dayTrades: { enabled: false },
      },
    }),
  );
  port = await freePort();
});

afterAll(async () => {
  bot?.kill('SIGKILL');
  await fake?.stop();
});

describe('crash: SIGKILL in the middle of a burst, then a restart on the same data', () => {
  it('nothing answered 2xx is missing; every signal ends decided; one broker order per approved signal; positions agree', async () => {
    bot = startBot();
    await healthy();
    const alerts = Array.from({ length: 120 }, (_, i) =>
      JSON.stringify({
        ticker: SYMBOLS[i % SYMBOLS.length],
        action: i % 4 === 3 ? 'sell' : 'buy',
        quantity: 1 + (i % 3),
        price: PRICES[SYMBOLS[i % SYMBOLS.length] as keyof typeof PRICES],
        id: randomUUID(),
      }),
    );
    const accepted = new Set<string>();
    let next = 0;
    let answered = 0;
    const burst = (count: number, onAnswer?: () => void) =>
      Promise.all(
        Array.from({ length: 8 }, async () => {
          while (next < count) {
            const body = alerts[next++] as string;
            try {
              const response = await fetch(`http://127.0.0.1:${port}/webhook/${SECRET}`, {
                method: 'POST',
                headers: { 'content-type': 'text/plain' },
                body,
              });
              const answer = (await response.json()) as { signalId?: string };
              if (response.status === 202 && answer.signalId) accepted.add(answer.signalId);
              answered++;
              onAnswer?.();
            } catch {
              // The connection died with the bot: this alert was not acknowledged.
            }
          }
        }),
      );

    // 1. Kill the bot (and nothing else: its database is orphaned, as after a real SIGKILL).
    let killed = false;
    await burst(80, () => {
      if (!killed && answered >= 40) {
        killed = true;
        bot?.kill('SIGKILL');
      }
    });
    expect(killed).toBe(true);

    // 2. Start it again on the same folder — its SQLite file, with the WAL the kill left behind —
    //    then the rest of the alerts.
    expect(existsSync(join(folder, '.data/pinebridge.db'))).toBe(true);
    bot = startBot();
    await healthy();
    next = Math.max(next, 80);
    await burst(alerts.length);

    // 3. Wait until every acknowledged signal is decided. An order whose fate a task could not
    //    establish (the load can time a submit out while it still reaches the broker) stays open
    //    until the reconciler settles it: restart once more, cleanly, so the reconciliation at
    //    start settles everything, and wait until no order is open.
    await until('every accepted signal decided', async () => {
      const byId = new Map((await exported()).map((r) => [r.signalId, r]));
      return [...accepted].every((id) => TERMINAL.includes(byId.get(id)?.status ?? '')) ? true : undefined;
    });
    const restarted = new Promise((resolve) => bot?.once('exit', resolve));
    bot.kill('SIGTERM');
    await restarted;
    bot = startBot();
    await healthy();
    await until('no open orders', async () => {
      const { orders } = (await admin('/status/orders?open=true')) as { orders: unknown[] };
      return orders.length === 0 ? true : undefined;
    });
    const rows = await exported();

    const byId = new Map(rows.map((r) => [r.signalId, r]));
    expect([...accepted].filter((id) => !byId.has(id))).toEqual([]);
    // Every order at the broker is one we recorded for one signal (none lost, none twice), and
    // every fill we booked is an order the broker has.
    const ours = new Map(rows.filter((r) => r.clientOrderId !== '').map((r) => [r.clientOrderId, r]));
    const atBroker = fake.orders.map((o) => o.client_order_id);
    expect(new Set(atBroker).size).toBe(atBroker.length);
    expect(atBroker.filter((id) => !ours.has(id))).toEqual([]);
    const booked = [...ours.values()]
      .filter((r) => Number(r.filledQuantity || '0') > 0)
      .map((r) => r.clientOrderId);
    expect(booked.filter((id) => !atBroker.includes(id))).toEqual([]);
    for (const order of fake.orders)
      expect(ours.get(order.client_order_id)?.filledQuantity, order.client_order_id).toBe(order.filled_qty);
    // Our positions are the broker's.
    const { positions } = (await admin('/status/positions')) as {
      positions: { symbol: string; quantity: string }[];
    };
    const held = Object.fromEntries(
      positions.filter((p) => Number(p.quantity) !== 0).map((p) => [p.symbol, Number(p.quantity)]),
    );
    const theirs = Object.fromEntries(fake.positions.map((p) => [p.symbol, Number(p.qty)]));
    expect(held).toEqual(theirs);
    expect(fake.contractViolations).toEqual([]);

    // 4. A clean stop leaves no database behind.
    const stopped = new Promise<number | null>((resolve) => bot?.once('exit', (code) => resolve(code)));
    output = '';
    bot.kill('SIGTERM');
    const code = await stopped;
    bot = undefined;
    // A clean stop says so and exits 0 only after its database has closed.
    expect({ code, said: output.includes('Stopped cleanly.') }, output.slice(-4000)).toEqual({
      code: 0,
      said: true,
    });
    const statuses: Record<string, number> = {};
    for (const r of rows)
      statuses[r.reason.split(':')[0] || r.status] = (statuses[r.reason.split(':')[0] || r.status] ?? 0) + 1;
    console.info(
      `crash: ${accepted.size} alerts acknowledged; signals ${JSON.stringify(statuses)}; ${atBroker.length} broker orders`,
    );
  }, 240_000);
});
