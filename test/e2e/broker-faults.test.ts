import { randomUUID } from 'node:crypto';
import { afterAll, afterEach, beforeAll, describe, expect, inject, it, vi } from 'vitest';
import { type LocalRuntime, startLocalRuntime } from '../../infra/local/runtime.js';
import { LoggedTradingStateEvents } from '../../shared/adapters/events.js';
import { parseConfig } from '../../shared/config/load.js';
import { clientOrderIdOf } from '../../shared/domain/ids.js';
import { dec, money } from '../../shared/domain/money.js';
import { reconcile } from '../../shared/usecases/reconcile.js';
import { type FakeAlpaca, startFakeAlpaca } from '../fakes/alpaca/server.js';

/**
 * Broker faults through the whole local stack (issue 9, scenarios 30–40 in docs/RELIABILITY.md):
 * each scenario is a TradingView alert POSTed over HTTP to the local bot (webhook → in-process
 * event bus → the synthesized workflow → the Alpaca adapter → DynamoDB Local), trading with the
 * fake Alpaca server. The fake injects each fault at the network boundary and counts the orders;
 * the bot's own account of the outcome is read back over HTTP (GET /status…), as an operator would.
 *
 * One bot for the file: every scenario trades its own symbol, so its orders and position are its
 * own, and a scenario that halts trading resumes it before it ends.
 */
const SECRET = `whsec-${randomUUID()}`;
const ADMIN = `admin-${randomUUID()}`;
const PREFIX = `faults-${randomUUID().slice(0, 8)}`;
const AT_100 = [
  'S30',
  'S31',
  'S32',
  'S32X',
  'S33',
  'S34',
  'S35',
  'S36',
  'S37',
  'S37B',
  'S37C',
  'S37D',
  'S37E',
  'S39',
  'S40',
];
/** Alerts price everything at 100; Alpaca fills scenario 38 at 101. HAND is traded by hand at Alpaca. */
const PRICES: Record<string, string> = {
  ...Object.fromEntries(AT_100.map((symbol) => [symbol, '100'])),
  S38C: '101',
  S38E: '101',
  HAND: '200',
};
/** Alpaca's trading API down while its market data answers (they are separate services). */
const TRADING_API = { path: /^\/v2\/(?!stocks\/)/ };

/**
 * The operator's dependencies a minute from now: past the window in which a submission whose
 * answer was lost could still reach Alpaca, so a lookup that misses is conclusive.
 */
const aMinuteLater = () => ({
  ...runtime.deps,
  clock: { now: () => new Date(Date.now() + 60_000) },
});

/** An answer overtaken by newer ones arrives this late: below the request timeout, above a reconciliation. */
const STALE_ANSWER_MS = 2_000;

const config = parseConfig({
  broker: 'alpaca',
  // Short deadlines keep the file fast; every one stays above what its scenario needs.
  alpaca: { requestTimeoutMs: 3_000, submitBudgetMs: 3_000, requestsPerMinute: 1_000 },
  // Held orders must not reach their deadline while a scenario works on them.
  workflow: { orderPollSeconds: 1, orderTimeoutSeconds: 30 },
  symbols: { allowed: Object.keys(PRICES).filter((s) => s !== 'HAND') },
  api: { throttle: { rateLimit: 1_000, burstLimit: 1_000 } },
  risk: {
    duplicateWindowSeconds: 0,
    pyramiding: true,
    maxOrdersPerMinute: 1_000,
    maxOrdersPerMinutePerSymbol: 1_000,
    maxOpenPositions: 50,
  },
});

let fake: FakeAlpaca;
let runtime: LocalRuntime;

/** The bot on this file's tables; started again on the same tables it is a restart. */
function startBot(): Promise<LocalRuntime> {
  const keys = { keyId: fake.keyId, secretKey: fake.secretKey };
  return startLocalRuntime({
    config,
    webhookSecret: SECRET,
    adminToken: ADMIN,
    port: 0,
    store: { kind: 'dynamodb', endpoint: inject('dynamoEndpoint'), tablePrefix: PREFIX },
    // The AwaitFill loop polls every 100 ms instead of every orderPollSeconds.
    waitOverrideMs: 100,
    alpaca: {
      credentials: { get: async () => keys, refresh: async () => keys },
      tradingUrl: fake.url,
      dataUrl: fake.url,
    },
  });
}

beforeAll(async () => {
  fake = await startFakeAlpaca({ prices: PRICES, rateLimitPerMinute: 10_000 });
  runtime = await startBot();
});

afterEach(async () => {
  // Whatever the fault, every request and answer on the wire followed Alpaca's spec.
  expect(fake.takeContractViolations()).toEqual([]);
  fake.clearFaults();
  // A scenario that failed half-way must not leave the next one halted.
  if ((await book()).tradingState !== 'ACTIVE')
    await admin('POST', '/admin/resume', { reason: 'next scenario' });
});

afterAll(async () => {
  await runtime?.stop();
  await fake?.stop();
});

// ---- the bot, over HTTP ----

interface Alert {
  ticker: string;
  action: 'buy' | 'sell';
  quantity: number;
  price: number;
  orderType?: 'limit';
  limitPrice?: string;
}

interface SignalView {
  signalId: string;
  status: string;
  reason: string | null;
  filledQuantity: string | null;
}

interface BookView {
  tradingState: string;
  breaker: { trip: string | null; reason: string | null };
  account: { cash: string; reservedCash: string };
  positions: {
    symbol: string;
    quantity: string;
    pendingQuantity: string;
    averageCost: string;
    unrealizedPnl: string | null;
  }[];
}

async function admin<T>(method: 'GET' | 'POST', path: string, body?: unknown): Promise<T> {
  const response = await fetch(`${runtime.url}${path}`, {
    method,
    headers: { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/json' },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  if (!response.ok) throw new Error(`${method} ${path}: ${response.status} ${await response.text()}`);
  return (await response.json()) as T;
}

const book = () => admin<BookView>('GET', '/status');

const positionOf = async (symbol: string) => (await book()).positions.find((p) => p.symbol === symbol);

async function signalOf(signalId: string): Promise<SignalView> {
  const { signals } = await admin<{ signals: SignalView[] }>('GET', '/status/signals?limit=100');
  const signal = signals.find((s) => s.signalId === signalId);
  if (signal === undefined) throw new Error(`signal ${signalId} is not in /status/signals`);
  return signal;
}

async function orderOf(clientOrderId: string): Promise<{ status: string; filledQuantity: string }> {
  const { orders } = await admin<{
    orders: { clientOrderId: string; status: string; filledQuantity: string }[];
  }>('GET', '/status/orders?limit=100');
  const order = orders.find((o) => o.clientOrderId === clientOrderId);
  if (order === undefined) throw new Error(`order ${clientOrderId} is not in /status/orders`);
  return order;
}

/** POSTs a TradingView alert to the bot's webhook; the bot answers 202 with the new signal's id. */
async function send(alert: Alert): Promise<{ signalId: string; clientOrderId: string }> {
  const response = await fetch(`${runtime.url}/webhook/${SECRET}`, {
    method: 'POST',
    headers: { 'content-type': 'text/plain' },
    body: JSON.stringify({ ...alert, id: randomUUID() }),
  });
  const answer = (await response.json()) as { signalId?: string };
  if (response.status !== 202 || answer.signalId === undefined)
    throw new Error(`webhook answered ${response.status}: ${JSON.stringify(answer)}`);
  return { signalId: answer.signalId, clientOrderId: clientOrderIdOf(answer.signalId) };
}

/** Sends an alert and waits until the workflow has ended; returns the signal as the bot records it. */
async function trade(alert: Alert) {
  const sent = await send(alert);
  await runtime.settle();
  return { ...sent, signal: await signalOf(sent.signalId) };
}

const buy = (ticker: string, quantity: number, extra: Partial<Alert> = {}): Alert => ({
  ticker,
  action: 'buy',
  quantity,
  price: 100,
  ...extra,
});

// ---- the broker, counted at the fake server ----

/** Every POST /v2/orders the broker received with this client order id. */
const postsOf = (clientOrderId: string) =>
  fake.requests.filter(
    (r) => r.method === 'POST' && r.path === '/v2/orders' && r.clientOrderId === clientOrderId,
  );

/** The orders the broker holds with this client order id. */
const ordersAt = (clientOrderId: string) => fake.orders.filter((o) => o.client_order_id === clientOrderId);

/** Someone trading the same Alpaca account by hand (not through Pinebridge). */
async function byHand<T>(method: 'POST' | 'DELETE', path: string, body?: unknown): Promise<T | undefined> {
  const response = await fetch(`${fake.url}${path}`, {
    method,
    headers: {
      'APCA-API-KEY-ID': fake.keyId,
      'APCA-API-SECRET-KEY': fake.secretKey,
      'content-type': 'application/json',
    },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  if (!response.ok) throw new Error(`by hand ${method} ${path}: ${response.status} ${await response.text()}`);
  return response.status === 204 ? undefined : ((await response.json()) as T);
}

const events = () => {
  if (!(runtime.deps.events instanceof LoggedTradingStateEvents))
    throw new Error('expected the local announcer');
  return runtime.deps.events;
};

describe('broker faults through the whole local stack, counted at the fake Alpaca (scenarios 30–40)', () => {
  it("403 insufficient buying power: rejected with Alpaca's reason, reservation released, sent once (scenario 30)", async () => {
    // Pinebridge's book has the cash; Alpaca's buying power is tied up by an order placed by hand.
    const buyingPower = Number(fake.account.buying_power);
    const held = await byHand<{ id: string }>('POST', '/v2/orders', {
      symbol: 'HAND',
      qty: String(Math.floor((buyingPower - 1_000) / 100)),
      side: 'buy',
      type: 'limit',
      limit_price: '100',
      time_in_force: 'gtc',
    });

    const { clientOrderId, signal } = await trade(buy('S30', 50));
    await byHand('DELETE', `/v2/orders/${held?.id}`);

    expect(signal.status).toBe('rejected');
    expect(signal.reason).toMatch(/^BROKER_REJECTED: Alpaca 403: .*insufficient buying power/);
    expect(postsOf(clientOrderId)).toHaveLength(1);
    expect(ordersAt(clientOrderId)).toHaveLength(0);
    expect((await book()).account.reservedCash).toBe('0.00');
    expect(await positionOf('S30')).toBeUndefined();
  });

  it("422 validation (a sub-penny limit price): rejected with Alpaca's message, sent once (scenario 31)", async () => {
    const { clientOrderId, signal } = await trade(
      buy('S31', 1, { orderType: 'limit', limitPrice: '99.999' }),
    );

    expect(signal.status).toBe('rejected');
    expect(signal.reason).toMatch(/^BROKER_REJECTED: Alpaca 422: .*sub-penny/);
    expect(postsOf(clientOrderId)).toHaveLength(1);
    expect(ordersAt(clientOrderId)).toHaveLength(0);
    expect((await book()).account.reservedCash).toBe('0.00');
  });

  it('429 with the allowance back inside the submit budget: backs off, then places one order (scenario 32)', async () => {
    fake.inject({
      fault: { kind: 'status', status: 429, resetInMs: 500 },
      when: { method: 'POST', path: '/v2/orders' },
    });

    const { clientOrderId, signal } = await trade(buy('S32', 2));

    expect(signal).toMatchObject({ status: 'filled', filledQuantity: '2' });
    expect(postsOf(clientOrderId).map((r) => r.status)).toEqual([429, 200]);
    expect(ordersAt(clientOrderId)).toHaveLength(1);
    expect(await positionOf('S32')).toMatchObject({ quantity: '2', pendingQuantity: '0' });
  });

  it('429 beyond the submit budget: the order expires unsent and its reservation is released (scenario 32)', async () => {
    fake.inject({
      fault: { kind: 'status', status: 429, resetInMs: 60_000 },
      when: { method: 'POST', path: '/v2/orders' },
      times: Number.POSITIVE_INFINITY,
    });

    const { clientOrderId, signal } = await trade(buy('S32X', 2));

    expect(signal.status).toBe('cancelled');
    expect(signal.reason).toMatch(/^ORDER_EXPIRED: .*429/);
    expect(postsOf(clientOrderId)).toHaveLength(1);
    expect(ordersAt(clientOrderId)).toHaveLength(0);
    expect((await book()).account.reservedCash).toBe('0.00');
    expect(await positionOf('S32X')).toBeUndefined();
  });

  it('timeout after Alpaca accepted the order: found by its client order id and adopted, one order (scenario 33)', async () => {
    fake.inject({ fault: 'timeoutAfterAccept' });

    const { clientOrderId, signal } = await trade(buy('S33', 3));

    expect(signal).toMatchObject({ status: 'filled', filledQuantity: '3' });
    expect(postsOf(clientOrderId).map((r) => r.outcome)).toEqual(['abandoned']);
    expect(ordersAt(clientOrderId)).toHaveLength(1);
    expect(await positionOf('S33')).toMatchObject({ quantity: '3', pendingQuantity: '0' });
  });

  it('request lost before Alpaca received it: the lookup misses, re-sent with the same id, one order (scenario 34)', async () => {
    fake.inject({ fault: 'dropBeforeAccept' });

    const { clientOrderId, signal } = await trade(buy('S34', 3));

    expect(signal).toMatchObject({ status: 'filled', filledQuantity: '3' });
    expect(postsOf(clientOrderId).map((r) => r.outcome)).toEqual(['dropped', 'responded']);
    expect(ordersAt(clientOrderId)).toHaveLength(1);
    expect(await positionOf('S34')).toMatchObject({ quantity: '3', pendingQuantity: '0' });
  });

  it('"client_order_id must be unique" on the first try: the existing order is adopted, one order (scenario 35)', async () => {
    fake.inject({ fault: 'duplicateOnFirstTry' });

    const { clientOrderId, signal } = await trade(buy('S35', 3));

    expect(signal).toMatchObject({ status: 'filled', filledQuantity: '3' });
    expect(postsOf(clientOrderId).map((r) => r.status)).toEqual([422]);
    expect(ordersAt(clientOrderId)).toHaveLength(1);
    expect(await positionOf('S35')).toMatchObject({ quantity: '3', pendingQuantity: '0' });
  });

  it('bot killed between submit and record: on restart the order is found and adopted, one order (scenario 36)', async () => {
    fake.inject({ fault: 'holdFills' });
    const { signalId, clientOrderId } = await send(buy('S36', 2));
    await vi.waitFor(async () => expect((await signalOf(signalId)).status).toBe('submitted'), {
      timeout: 10_000,
      interval: 50,
    });
    // The process dies: its executions are abandoned where they stand; the order fills meanwhile.
    await runtime.workflow.drain(0);
    await runtime.stop();
    fake.fillPending();

    runtime = await startBot();

    expect(await signalOf(signalId)).toMatchObject({ status: 'filled', filledQuantity: '2' });
    expect(await orderOf(clientOrderId)).toMatchObject({ status: 'filled', filledQuantity: '2' });
    expect(postsOf(clientOrderId)).toHaveLength(1);
    expect(ordersAt(clientOrderId)).toHaveLength(1);
    expect(await positionOf('S36')).toMatchObject({ quantity: '2', pendingQuantity: '0' });
    expect((await book()).account.reservedCash).toBe('0.00');
  });

  it('Alpaca down: the signal fails, the order stays unknown with its reservation and an alarm; its symbol is blocked until reconciled (scenario 37)', async () => {
    const outage = fake.inject({
      fault: { kind: 'status', status: 503 },
      times: Number.POSITIVE_INFINITY,
      when: TRADING_API,
    });

    const down = await trade(buy('S37', 2));

    expect(down.signal.status).toBe('failed');
    expect(await orderOf(down.clientOrderId)).toMatchObject({ status: 'unknown' });
    expect((await book()).account.reservedCash).toBe('200.00');
    expect(events().unknownOrders).toContain(down.clientOrderId);
    expect(postsOf(down.clientOrderId)).toHaveLength(1);
    expect(ordersAt(down.clientOrderId)).toHaveLength(0);

    // Alpaca is back: the symbol stays blocked while its order's fate is unknown; others trade.
    outage.cancel();
    const blocked = await trade(buy('S37', 1));
    const other = await trade(buy('S37B', 1));
    expect(blocked.signal.reason).toMatch(/^RECONCILIATION_PENDING: order pb-/);
    expect(postsOf(blocked.clientOrderId)).toHaveLength(0);
    expect(other.signal.status).toBe('filled');

    // The reconciliation a minute later asks Alpaca, which never had the order: released.
    const report = await reconcile(aMinuteLater(), { settleAfterMs: 0 });

    expect(report.unresolved).toEqual([]);
    expect((await book()).account.reservedCash).toBe('0.00');
    const after = await trade(buy('S37', 1));
    expect(after.signal.status).toBe('filled');
    expect(fake.orders.filter((o) => o.symbol === 'S37').map((o) => o.client_order_id)).toEqual([
      after.clientOrderId,
    ]);
  });

  it('Alpaca down for N signals in a row: trading halts (BROKER_FAILURES) and nothing more is sent until resumed (scenario 37)', async () => {
    const n = config.risk.maxConsecutiveFailures;
    const symbols = ['S37C', 'S37D', 'S37E'].slice(0, n);
    expect(symbols).toHaveLength(n);
    const outage = fake.inject({
      fault: { kind: 'status', status: 503 },
      times: Number.POSITIVE_INFINITY,
      when: TRADING_API,
    });

    const failed = [];
    for (const symbol of symbols) failed.push(await trade(buy(symbol, 1)));
    const refused = await trade(buy('S37B', 1));

    expect(failed.map((t) => t.signal.status)).toEqual(symbols.map(() => 'failed'));
    const halted = await book();
    expect(halted.tradingState).toBe('HALTED');
    expect(halted.breaker.trip).toBe('BROKER_FAILURES');
    expect(refused.signal.reason).toMatch(/^TRADING_HALTED/);
    expect(postsOf(refused.clientOrderId)).toHaveLength(0);
    for (const { clientOrderId } of failed) expect(postsOf(clientOrderId)).toHaveLength(1);
    expect(fake.orders.filter((o) => symbols.includes(o.symbol))).toHaveLength(0);

    // Once Alpaca is back: reconcile, then the operator resumes.
    outage.cancel();
    await reconcile(aMinuteLater(), { settleAfterMs: 0 });
    await admin('POST', '/admin/resume', { reason: 'Alpaca is back; orders reconciled' });
    expect((await book()).account.reservedCash).toBe('0.00');
    expect((await trade(buy('S37C', 1))).signal.status).toBe('filled');
  });

  it.each([
    ['cancel', 'ORDER_CANCELLED', 'S38C'],
    ['expire', 'ORDER_EXPIRED', 'S38E'],
  ] as const)(
    'partial fill, then Alpaca %ss the rest: position = the fill, at the fill price, the rest released (scenario 38)',
    async (remainder, reason, symbol) => {
      const cashBefore = (await book()).account.cash;
      fake.inject({ fault: { kind: 'partialFill', qty: 4, remainder } });

      const { clientOrderId, signal } = await trade(buy(symbol, 10));

      expect(signal).toMatchObject({ status: 'cancelled', filledQuantity: '4' });
      expect(signal.reason).toMatch(new RegExp(`^${reason}: filled 4 of 10`));
      expect(postsOf(clientOrderId)).toHaveLength(1);
      expect(ordersAt(clientOrderId).map((o) => o.filled_qty)).toEqual(['4']);
      // Alpaca filled at 101 what the alert priced at 100: the position is on the fill, and it is
      // marked at Alpaca's latest trade (101), never at the alert's price.
      expect(await positionOf(symbol)).toMatchObject({
        quantity: '4',
        pendingQuantity: '0',
        averageCost: '101',
        unrealizedPnl: '0.00',
      });
      const { account } = await book();
      expect(account.cash).toBe(money(dec(cashBefore).minus(404)));
      expect(account.reservedCash).toBe('0.00');
    },
  );

  it('the same fill reported twice and a stale report after it: the position moves once (scenario 39)', async () => {
    const cashBefore = (await book()).account.cash;
    fake.inject({ fault: 'holdFills' });
    const { signalId, clientOrderId } = await send(buy('S39', 10));
    await vi.waitFor(async () => expect((await signalOf(signalId)).status).toBe('submitted'), {
      timeout: 10_000,
      interval: 50,
    });
    // The workflow's next poll is answered with the order as it stands now (not filled), but late.
    const stale = fake.inject({
      fault: { kind: 'latency', ms: STALE_ANSWER_MS, stale: true },
      when: { method: 'GET', path: '/v2/orders:by_client_order_id', clientOrderId },
    });
    await vi.waitFor(() => expect(stale.fired).toBe(1), { timeout: 10_000, interval: 10 });
    const staleRequest = fake.requests.findLast((r) => r.fault === 'latency');
    const filledFrom = fake.requests.length;
    fake.fillPending();

    // The reconciler books the fill; then the stale report arrives, then the fill again.
    const report = await reconcile(runtime.deps, { settleAfterMs: 0 });
    const staleStillOnItsWay = staleRequest?.outcome === 'pending';
    await runtime.settle();

    expect(report.settled[signalId]).toBe('filled');
    expect(staleStillOnItsWay).toBe(true);
    const fillReports = fake.requests
      .slice(filledFrom)
      .filter((r) => r.path === '/v2/orders:by_client_order_id' && r.clientOrderId === clientOrderId);
    expect(fillReports.filter((r) => r.status === 200).length).toBeGreaterThanOrEqual(2);
    expect(await signalOf(signalId)).toMatchObject({ status: 'filled', filledQuantity: '10' });
    expect(await positionOf('S39')).toMatchObject({ quantity: '10', pendingQuantity: '0' });
    const { account } = await book();
    expect(account.cash).toBe(money(dec(cashBefore).minus(1_000)));
    expect(account.reservedCash).toBe('0.00');
    expect(postsOf(clientOrderId)).toHaveLength(1);
    expect(ordersAt(clientOrderId)).toHaveLength(1);
  });

  it('keys refused (401): trading halts with an alert, the signal is rejected, no retry loop (scenario 40)', async () => {
    const refusal = fake.inject({ fault: { kind: 'status', status: 401 }, times: Number.POSITIVE_INFINITY });
    const sentBeforeFirst = fake.requests.length;

    const { clientOrderId, signal } = await trade(buy('S40', 1));
    const sentBefore = fake.requests.length;
    const next = await trade(buy('S40', 1));
    const sentForNext = fake.requests.length - sentBefore;

    expect(signal.status).toBe('rejected');
    expect(signal.reason).toMatch(/401/);
    const halted = await book();
    expect(halted.tradingState).toBe('HALTED');
    expect(halted.breaker.reason).toMatch(/broker refused the credentials/);
    expect(events().seen.at(-1)).toMatchObject({ to: 'HALTED', trip: 'BROKER_FAILURES' });
    // The first request (the market price) is refused; the keys are read again once (they may
    // have been rotated), refused again, then nothing more — no order request at all.
    expect(fake.requests.slice(sentBeforeFirst, sentBefore).map((r) => r.status)).toEqual([401, 401]);
    expect(postsOf(clientOrderId)).toHaveLength(0);
    expect(next.signal.reason).toMatch(/^TRADING_HALTED/);
    expect(sentForNext).toBe(0);
    expect(ordersAt(clientOrderId)).toHaveLength(0);

    // Someone fixes the keys and resumes.
    refusal.cancel();
    await admin('POST', '/admin/resume', { reason: 'keys replaced' });
    expect((await trade(buy('S40', 1))).signal.status).toBe('filled');
  });
});
