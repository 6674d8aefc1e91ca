import { randomUUID } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDynamoDbLocal } from '../../infra/local/dynamodb-local.js';
import { type LocalRuntime, startLocalRuntime } from '../../infra/local/runtime.js';
import { parseConfig } from '../../shared/config/load.js';
import { logger } from '../../shared/logger.js';
import { startFakeAlpaca } from '../fakes/alpaca/server.js';

const SECRET = `whsec-${randomUUID()}`;
const ADMIN = `admin-${randomUUID()}`;
const prefix = `e2e-${randomUUID().slice(0, 8)}`;
/** The bot's SQLite file (the local default store). */
const databaseFile = join(mkdtempSync(join(tmpdir(), 'pinebridge-e2e-')), 'pinebridge.db');

let runtime: LocalRuntime;

const post = (path: string, body: string, contentType = 'text/plain') =>
  fetch(`${runtime.url}${path}`, { method: 'POST', headers: { 'content-type': contentType }, body });

const alert = (fields: Record<string, unknown> = {}) =>
  JSON.stringify({ ticker: 'AAPL', action: 'buy', quantity: 1, price: 187.5, id: randomUUID(), ...fields });

async function status() {
  const response = await fetch(`${runtime.url}/status`, { headers: { authorization: `Bearer ${ADMIN}` } });
  return (await response.json()) as {
    signals: { signalId: string; status: string; reason: string | null }[];
    positions: { symbol: string; quantity: string }[];
    orders: { signalId: string; status: string }[];
  };
}

async function waitForSignal(signalId: string, timeoutMs: number) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const found = (await status()).signals.find((s) => s.signalId === signalId);
    if (found && ['filled', 'rejected', 'failed', 'cancelled'].includes(found.status)) return found;
    if (Date.now() > deadline) return found;
    await new Promise((r) => setTimeout(r, 25));
  }
}

beforeAll(async () => {
  runtime = await startLocalRuntime({
    config: parseConfig({
      api: { throttle: { rateLimit: 1000, burstLimit: 1000 } },
      risk: {
        duplicateWindowSeconds: 0,
        pyramiding: true,
        maxOrdersPerMinute: 1000,
        maxOrdersPerMinutePerSymbol: 1000,
      },
    }),
    webhookSecret: SECRET,
    adminToken: ADMIN,
    port: 0,
    store: { kind: 'sqlite', file: databaseFile },
  });
  // A running bot is warm: the first alert through a fresh process pays for module loading and JIT.
  await post(`/webhook/${SECRET}`, alert({ ticker: 'SPY' }));
  await runtime.settle();
});

afterAll(async () => {
  await runtime?.stop();
});

describe('the local bot over HTTP', () => {
  it('accepts a valid alert with 202 and shows the filled order in /status within 2 s', async () => {
    const response = await post(`/webhook/${SECRET}`, `${alert()}\r\n`);
    expect(response.status).toBe(202);
    const { signalId } = (await response.json()) as { signalId: string };

    const signal = await waitForSignal(signalId, 2000);

    expect(signal?.status).toBe('filled');
    const view = await status();
    expect(view.orders.find((o) => o.signalId === signalId)?.status).toBe('filled');
    expect(view.positions.find((p) => p.symbol === 'AAPL')).toBeDefined();
  });

  it("answers a refusal with TradersPost's message code beside its own message", async () => {
    const response = await post(
      `/webhook/${SECRET}`,
      JSON.stringify({ ticker: 'AAPL', action: 'exit', sentiment: 'flat' }),
    );

    expect(response.status).toBe(400);
    expect(await response.json()).toMatchObject({
      fields: ['sentiment'],
      messageCode: 'invalid-sentiment-action',
    });
  });

  it('accepts the secret in the body as well as in the path', async () => {
    const response = await post('/webhook', alert({ secret: SECRET }), 'application/json');
    expect(response.status).toBe(202);
  });

  it('answers 401 to a wrong, missing or oversized secret and records nothing', async () => {
    const before = (await status()).signals.length;
    const responses = await Promise.all([
      post('/webhook/wrong-secret', alert()),
      post('/webhook', alert()),
      post('/webhook', alert({ secret: 42 })),
      post('/webhook', alert({ secret: 'x'.repeat(4000) })),
    ]);
    for (const r of responses) {
      expect(r.status).toBe(401);
      expect(await r.json()).toEqual({ error: 'unauthorized' });
    }
    expect((await status()).signals.length).toBe(before);
  });

  it('answers 400 naming the problem for malformed JSON and for a bad field', async () => {
    const malformed = await post(`/webhook/${SECRET}`, '{"ticker":"AAPL","action":"buy",}');
    expect(malformed.status).toBe(400);
    expect(((await malformed.json()) as { error: string }).error).toMatch(/not valid JSON/);

    const badField = await post(`/webhook/${SECRET}`, alert({ quantity: 'abc' }));
    expect(badField.status).toBe(400);
    expect(await badField.json()).toMatchObject({ fields: ['quantity'] });

    const placeholder = await post(`/webhook/${SECRET}`, alert({ action: '{{strategy.order.action}}' }));
    expect(placeholder.status).toBe(400);
    expect(((await placeholder.json()) as { error: string }).error).toMatch(/placeholder.*action/);
  });

  it('answers 413 to a body over the cap', async () => {
    const response = await post(
      `/webhook/${SECRET}`,
      alert({ comment: 'x'.repeat(200), padding: 'y'.repeat(9000) }),
    );
    expect(response.status).toBe(413);
  });

  it('answers a re-delivery with 200 duplicate and the original signal id', async () => {
    const body = alert();
    const first = (await (await post(`/webhook/${SECRET}`, body)).json()) as { signalId: string };
    const second = await post(`/webhook/${SECRET}`, body);

    expect(second.status).toBe(200);
    expect(await second.json()).toEqual({ signalId: first.signalId, duplicate: true });
  });

  it('turns ten identical deliveries at once into one signal and one order', async () => {
    const body = JSON.stringify({ ticker: 'MSFT', action: 'buy', quantity: 2, price: 400 });
    const responses = await Promise.all(Array.from({ length: 10 }, () => post(`/webhook/${SECRET}`, body)));
    const codes = responses.map((r) => r.status).sort();
    expect(codes).toEqual([200, 200, 200, 200, 200, 200, 200, 200, 200, 202]);
    const ids = new Set(
      await Promise.all(responses.map(async (r) => ((await r.json()) as { signalId: string }).signalId)),
    );
    expect(ids.size).toBe(1);
    await runtime.settle();

    // The paper venue's order book, read through a connection of the test's own.
    const reader = new DatabaseSync(databaseFile, { readOnly: true });
    const orders = (reader.prepare('SELECT doc FROM paper_orders').all() as { doc: string }[]).map(
      (row) => JSON.parse(row.doc) as { clientOrderId: string; intent: { symbol: string } },
    );
    reader.close();
    const [signalId] = [...ids];
    expect(orders.filter((o) => o.clientOrderId === `pb-${signalId}`)).toHaveLength(1);
    expect(orders.filter((o) => o.intent.symbol === 'MSFT')).toHaveLength(1);
  });

  it('answers 409 when an alert id comes back with a different payload', async () => {
    const id = randomUUID();
    expect((await post(`/webhook/${SECRET}`, alert({ id, quantity: 1 }))).status).toBe(202);
    expect((await post(`/webhook/${SECRET}`, alert({ id, quantity: 5 }))).status).toBe(409);
  });

  it('lists rejected signals with every denial when asked for rejections only', async () => {
    const rejected = (await (await post(`/webhook/${SECRET}`, alert({ ticker: 'DOGE' }))).json()) as {
      signalId: string;
    };
    await runtime.settle();

    const response = await fetch(`${runtime.url}/status?rejected=true`, {
      headers: { authorization: `Bearer ${ADMIN}` },
    });
    const view = (await response.json()) as {
      signals: { signalId: string; status: string; denials: { code: string }[] }[];
    };

    expect(view.signals.length).toBeGreaterThan(0);
    expect(view.signals.every((s) => s.status === 'rejected')).toBe(true);
    expect(view.signals.find((s) => s.signalId === rejected.signalId)?.denials).toEqual([
      expect.objectContaining({ code: 'SYMBOL_NOT_ALLOWED' }),
    ]);
  });

  it('reports health, and refuses /status without the admin token', async () => {
    const health = await fetch(`${runtime.url}/health`);
    expect(health.status).toBe(200);
    expect(await health.json()).toEqual({
      ok: true,
      components: { database: 'ok', workflow: 'ok', broker: 'ok' },
    });
    expect((await fetch(`${runtime.url}/status`)).status).toBe(401);
    expect((await fetch(`${runtime.url}/status`, { headers: { authorization: 'Bearer nope' } })).status).toBe(
      401,
    );
  });

  it('stops and resumes through the admin API, recorded with the reason, and refuses anonymous or malformed requests', async () => {
    const admin = (action: string, body: string, token = ADMIN) =>
      fetch(`${runtime.url}/admin/${action}`, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body,
      });
    expect((await admin('stop', '', 'wrong')).status).toBe(401);
    expect((await fetch(`${runtime.url}/admin/stop`)).status).toBe(405);
    expect((await admin('stop', '{"reason": 42}')).status).toBe(400);
    expect((await admin('stop', '{"flatten": "yes"}')).status).toBe(400);
    expect((await status()).signals.length).toBeGreaterThan(0);

    const halted = await admin('stop', '{"reason":"checking a fill"}');
    const again = await admin('stop', '');
    const refused = await post(`/webhook/${SECRET}`, alert());
    const { signalId: refusedId } = (await refused.json()) as { signalId: string };
    const whileHalted = await waitForSignal(refusedId, 5000);
    const resumed = await admin('resume', '{"reason":"reviewed"}');
    const accepted = await post(`/webhook/${SECRET}`, alert());
    const { signalId: acceptedId } = (await accepted.json()) as { signalId: string };
    const afterResume = await waitForSignal(acceptedId, 5000);

    expect(halted.status).toBe(200);
    expect(await halted.json()).toMatchObject({ halted: { changed: true }, complete: true, items: [] });
    expect(await again.json()).toMatchObject({ halted: { changed: false } });
    expect(whileHalted?.reason).toMatch(/^TRADING_HALTED/);
    expect(await resumed.json()).toMatchObject({
      changed: true,
      transition: { from: 'HALTED', to: 'ACTIVE', reason: 'reviewed' },
    });
    expect(afterResume?.status).toBe('filled');
    const history = (
      (await status()) as unknown as {
        tradingStateHistory: { to: string; source: string; reason: string; trip?: string }[];
      }
    ).tradingStateHistory;
    expect(history.slice(0, 2)).toMatchObject([
      { to: 'ACTIVE', source: 'operator (local admin API: resume)', reason: 'reviewed' },
      { to: 'HALTED', trip: 'EMERGENCY_STOP', reason: 'checking a fill' },
    ]);
  });

  it('never writes the secret to a log line or a response, whatever the outcome', async () => {
    const written: string[] = [];
    const original = process.stdout.write.bind(process.stdout);
    process.stdout.write = ((chunk: string | Uint8Array, ...rest: unknown[]) => {
      written.push(String(chunk));
      return (original as (...a: unknown[]) => boolean)(chunk, ...rest);
    }) as typeof process.stdout.write;
    logger.setLogLevel('DEBUG');
    try {
      const bodies: string[] = [];
      for (const response of await Promise.all([
        post(`/webhook/${SECRET}`, alert()),
        post('/webhook', alert({ secret: SECRET })),
        post('/webhook', `{"secret":"${SECRET}", broken`),
        post('/webhook', alert({ secret: SECRET, quantity: -1 })),
        post(`/webhook/${SECRET}`, alert({ ticker: 'DOGE' })),
      ])) {
        bodies.push(await response.text());
      }
      await runtime.settle();
      expect(written.length).toBeGreaterThan(0);
      expect(written.join('')).not.toContain(SECRET);
      expect(bodies.join('')).not.toContain(SECRET);
    } finally {
      logger.setLogLevel('SILENT');
      process.stdout.write = original;
    }
  });
});

describe('the local bot under a request flood', () => {
  it('answers 429 beyond the configured rate and stays healthy', async () => {
    const throttled = await startLocalRuntime({
      config: parseConfig({ api: { throttle: { rateLimit: 1, burstLimit: 3 } } }),
      webhookSecret: SECRET,
      adminToken: ADMIN,
      port: 0,
    });
    try {
      const responses = await Promise.all(
        Array.from({ length: 10 }, () =>
          fetch(`${throttled.url}/webhook/${SECRET}`, { method: 'POST', body: alert() }),
        ),
      );
      const codes = responses.map((r) => r.status);
      expect(codes.filter((c) => c === 202)).toHaveLength(3);
      expect(codes.filter((c) => c === 429)).toHaveLength(7);
      expect((await fetch(`${throttled.url}/health`)).status).toBe(200);
    } finally {
      await throttled.stop();
    }
  });

  it('keeps the admin API its own budget: after a flood of alerts has spent theirs, POST /admin/stop still halts', async () => {
    const throttled = await startLocalRuntime({
      config: parseConfig({ api: { throttle: { rateLimit: 1, burstLimit: 3 } } }),
      webhookSecret: SECRET,
      adminToken: ADMIN,
      port: 0,
    });
    try {
      const flood = await Promise.all(
        Array.from({ length: 20 }, () =>
          fetch(`${throttled.url}/webhook/${SECRET}`, { method: 'POST', body: alert() }),
        ),
      );
      const anonymous = await fetch(`${throttled.url}/admin/stop`, { method: 'POST' });

      const stop = await fetch(`${throttled.url}/admin/stop`, {
        method: 'POST',
        headers: { authorization: `Bearer ${ADMIN}` },
        body: '{"reason":"flooded"}',
      });

      expect(flood.map((r) => r.status).filter((c) => c === 429).length).toBeGreaterThan(0);
      expect(
        (await fetch(`${throttled.url}/webhook/${SECRET}`, { method: 'POST', body: alert() })).status,
      ).toBe(429);
      // Without the admin token a request is anonymous traffic, on the flooded budget.
      expect(anonymous.status).toBe(429);
      expect(stop.status).toBe(200);
      expect(await stop.json()).toMatchObject({ halted: { changed: true } });
    } finally {
      await throttled.stop();
    }
  });
});

describe('the local bot trading with Alpaca', () => {
  it('probes the broker once for many /health calls within the cache window', async () => {
    const fake = await startFakeAlpaca();
    const keys = { keyId: fake.keyId, secretKey: fake.secretKey };
    const bot = await startLocalRuntime({
      config: parseConfig({ broker: 'alpaca' }),
      webhookSecret: SECRET,
      adminToken: ADMIN,
      port: 0,
      alpaca: {
        credentials: { get: async () => keys, refresh: async () => keys },
        tradingUrl: fake.url,
        dataUrl: fake.url,
      },
      brokerProbeTtlMs: 60_000,
    });
    try {
      const clockRequests = () => fake.requests.filter((r) => r.path === '/v2/clock').length;
      const before = clockRequests();

      const answers = [
        ...(await Promise.all(Array.from({ length: 10 }, () => fetch(`${bot.url}/health`)))),
        ...(await Promise.all(Array.from({ length: 10 }, () => fetch(`${bot.url}/health`)))),
      ];

      expect(answers.map((a) => a.status)).toEqual(Array(20).fill(200));
      expect(clockRequests() - before).toBe(1);
    } finally {
      await bot.stop();
      await fake.stop();
    }
  });
});

describe('the local bot when its database goes away', () => {
  it('answers /health with 503 naming the failing components', async () => {
    const database = await startDynamoDbLocal(undefined);
    const bot = await startLocalRuntime({
      config: parseConfig({}),
      webhookSecret: SECRET,
      adminToken: ADMIN,
      port: 0,
      store: { kind: 'dynamodb', endpoint: database.endpoint, tablePrefix: `${prefix}-down` },
      // Every /health probes the (paper) broker afresh, instead of reusing the answer for seconds.
      brokerProbeTtlMs: 0,
    });
    try {
      expect((await fetch(`${bot.url}/health`)).status).toBe(200);

      await database.stop();
      const health = await fetch(`${bot.url}/health`);

      expect(health.status).toBe(503);
      const body = (await health.json()) as { ok: boolean; components: Record<string, string> };
      expect(body.ok).toBe(false);
      expect(body.components.database).toMatch(/^failing/);
      expect(body.components.broker).toMatch(/^failing/);
      expect(body.components.workflow).toBe('ok');
    } finally {
      await bot.stop();
      await database.stop();
    }
  });
});

describe("TradersPost's templates on a bot with risk.pyramiding off (the default)", () => {
  let bot: LocalRuntime;
  beforeAll(async () => {
    bot = await startLocalRuntime({
      // Defaults but the duplicate window, so an add right after the buy is not a duplicate.
      config: parseConfig({
        api: { throttle: { rateLimit: 1000, burstLimit: 1000 } },
        risk: { duplicateWindowSeconds: 0 },
      }),
      webhookSecret: SECRET,
      adminToken: ADMIN,
      port: 0,
    });
  });
  afterAll(async () => {
    await bot?.stop();
  });
  const postTo = (target: LocalRuntime, path: string, body: string) =>
    fetch(`${target.url}${path}`, { method: 'POST', headers: { 'content-type': 'text/plain' }, body });
  const statusOf = async (target: LocalRuntime) =>
    (await (
      await fetch(`${target.url}/status`, { headers: { authorization: `Bearer ${ADMIN}` } })
    ).json()) as {
      signals: { signalId: string; status: string; reason: string | null }[];
      positions: { symbol: string; quantity: string }[];
    };
  const signalOn = async (target: LocalRuntime, signalId: string, timeoutMs: number) => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = (await statusOf(target)).signals.find((s) => s.signalId === signalId);
      if (found && ['filled', 'rejected', 'failed', 'cancelled', 'completed'].includes(found.status))
        return found;
      if (Date.now() > deadline) return found;
      await new Promise((r) => setTimeout(r, 25));
    }
  };

  it('waits out a "delay" before trading, and a "cancel" alert cancels a resting limit order, over HTTP', async () => {
    const send = async (fields: Record<string, unknown>) => {
      const response = await postTo(bot, `/webhook/${SECRET}`, JSON.stringify(fields));
      expect(response.status).toBe(202);
      return ((await response.json()) as { signalId: string }).signalId;
    };
    const sent = Date.now();
    const delayed = await send({ ticker: 'MSFT', action: 'buy', price: '400', delay: '+2 seconds' });
    expect((await statusOf(bot)).signals.find((s) => s.signalId === delayed)?.status).toBe('received');
    expect((await signalOn(bot, delayed, 10_000))?.status).toBe('filled');
    expect(Date.now() - sent).toBeGreaterThanOrEqual(1900);

    const limit = await send({
      ticker: 'AMZN',
      action: 'buy',
      orderType: 'limit',
      limitPrice: '190',
      price: '200',
    });
    for (
      let i = 0;
      i < 200 && (await statusOf(bot)).signals.find((s) => s.signalId === limit)?.status !== 'submitted';
      i++
    )
      await new Promise((r) => setTimeout(r, 25));
    expect((await statusOf(bot)).signals.find((s) => s.signalId === limit)).toMatchObject({
      reason: null,
      status: 'submitted',
    });
    const cancel = await send({ ticker: 'AMZN', action: 'cancel', cancelOrderType: 'limit' });

    expect(await signalOn(bot, cancel, 5000)).toMatchObject({
      status: 'completed',
      reason: 'ORDERS_CANCELLED: 1 open order cancelled',
    });
    expect((await signalOn(bot, limit, 5000))?.status).toBe('cancelled');
  });

  it("takes TradersPost's default templates as TradingView renders them: buys the default quantity, refuses a second buy while long, names ignored fields, and a flat strategy alert closes everything", async () => {
    const now = () => new Date().toISOString();
    // The indicator template, with a field Pinebridge does not know.
    const indicator = () =>
      JSON.stringify({
        ticker: 'NASDAQ:NVDA',
        action: 'buy',
        price: '120.5',
        time: now(),
        interval: '5',
        leverage: '2',
      });
    const first = await postTo(bot, `/webhook/${SECRET}`, indicator());
    expect(first.status).toBe(202);
    const accepted = (await first.json()) as { signalId: string; ignored: string[] };
    expect(accepted.ignored).toEqual(['leverage']);
    const firstSignal = await signalOn(bot, accepted.signalId, 5000);
    expect(firstSignal?.reason ?? firstSignal?.status).toBe('filled');
    expect((await statusOf(bot)).positions.find((p) => p.symbol === 'NVDA')?.quantity).toBe('1');

    await new Promise((r) => setTimeout(r, 5));
    const again = (await (await postTo(bot, `/webhook/${SECRET}`, indicator())).json()) as {
      signalId: string;
    };
    const refused = await signalOn(bot, again.signalId, 5000);
    expect(refused?.status).toBe('rejected');
    expect(refused?.reason).toMatch(/^ALREADY_IN_POSITION/);

    const add = (await (
      await postTo(
        bot,
        `/webhook/${SECRET}`,
        JSON.stringify({ ticker: 'NVDA', action: 'add', quantity: '4', price: '120.5' }),
      )
    ).json()) as { signalId: string };
    expect((await signalOn(bot, add.signalId, 5000))?.status).toBe('filled');
    expect((await statusOf(bot)).positions.find((p) => p.symbol === 'NVDA')?.quantity).toBe('5');

    // The strategy template when the strategy goes flat: sells the whole position, not just 1.
    const flat = (await (
      await postTo(
        bot,
        `/webhook/${SECRET}`,
        JSON.stringify({
          ticker: 'NVDA',
          action: 'sell',
          sentiment: 'flat',
          quantity: '1',
          price: '120.5',
          time: now(),
          interval: '5',
        }),
      )
    ).json()) as { signalId: string };
    expect((await signalOn(bot, flat.signalId, 5000))?.status).toBe('filled');
    expect((await statusOf(bot)).positions.find((p) => p.symbol === 'NVDA')).toBeUndefined();
  });
});
