import { afterEach, describe, expect, it } from 'vitest';
import { AlpacaBroker } from '../../shared/adapters/alpaca/alpaca-broker.js';
import { LoggedTradingStateEvents } from '../../shared/adapters/events.js';
import type { ConfigInput } from '../../shared/config/schema.js';
import { systemClock } from '../../shared/ports/index.js';
import { reconcile } from '../../shared/usecases/reconcile.js';
import { riskCheck, submitOrder } from '../../shared/usecases/trade-flow.js';
import { type FakeAlpaca, type FakeAlpacaOptions, startFakeAlpaca } from '../fakes/alpaca/server.js';
import { anIntent } from '../fixtures/builders.js';
import { type FlowHarness, flowHarness, silentLog } from '../support/flow.js';

let fake: FakeAlpaca | undefined;

afterEach(async () => {
  expect(fake?.contractViolations ?? []).toEqual([]);
  await fake?.stop();
  fake = undefined;
});

/** The whole workflow (synthesized state machine, DynamoDB Local) trading through the fake Alpaca. */
async function alpacaFlow(
  config: ConfigInput = {},
  fakeOptions: FakeAlpacaOptions = {},
): Promise<{ flow: FlowHarness; fake: FakeAlpaca }> {
  fake = await startFakeAlpaca({ prices: { AAPL: '100', MSFT: '400' }, ...fakeOptions });
  const keys = { keyId: fake.keyId, secretKey: fake.secretKey };
  const flow = await flowHarness(
    {
      broker: 'alpaca',
      ...config,
      alpaca: { requestTimeoutMs: 300, submitBudgetMs: 2_000, ...config.alpaca },
      workflow: { orderPollSeconds: 1, orderTimeoutSeconds: 5, ...config.workflow },
      risk: { duplicateWindowSeconds: 0, pyramiding: true, ...config.risk },
    },
    undefined,
    {
      alpaca: {
        credentials: { get: async () => keys, refresh: async () => keys },
        tradingUrl: fake.url,
        dataUrl: fake.url,
      },
    },
  );
  return { flow, fake };
}

/** Alpaca's trading API down while its market data answers (they are separate services). */
const TRADING_API = { path: /^\/v2\/(?!stocks\/)/ };

const buy = (ticker: string, quantity: number, price?: number) => ({
  ticker,
  action: 'buy',
  quantity,
  ...(price === undefined ? {} : { price }),
});

async function trade(flow: FlowHarness, alert: Record<string, unknown>) {
  const signalId = await flow.record(alert);
  await flow.run(signalId);
  const signal = await flow.deps.signals.get(signalId);
  if (signal === undefined) throw new Error('signal vanished');
  return signal;
}

describe('trading through Alpaca (the fake server) with the real workflow', () => {
  it('fills a market order: one order at Alpaca, the fill booked in position and cash', async () => {
    const { flow, fake } = await alpacaFlow();

    const signal = await trade(flow, buy('AAPL', 10, 100));

    expect(signal).toMatchObject({ status: 'filled', filledQuantity: '10', averageFillPrice: '100' });
    expect(fake.orders).toHaveLength(1);
    const snapshot = await flow.deps.store.snapshot();
    expect(snapshot.positions.AAPL).toMatchObject({ quantity: '10', pendingQuantity: '0' });
    expect(snapshot.account).toMatchObject({ cash: '99000', reservedCash: '0' });
  });

  it('a cancel alert cancels the resting limit order at Alpaca (one DELETE, counted at the fake) and releases its reservation', async () => {
    const { flow, fake } = await alpacaFlow({ workflow: { orderTimeoutSeconds: 60, orderPollSeconds: 1 } });
    const limitId = await flow.record(
      { ticker: 'AAPL', action: 'buy', quantity: 2, orderType: 'limit', limitPrice: 90, price: 100 },
      new Date(Date.now() - 2000),
    );
    const resting = flow.run(limitId);
    while ((await flow.deps.signals.get(limitId))?.status !== 'submitted')
      await new Promise((resolve) => setTimeout(resolve, 10));

    const cancel = await trade(flow, { ticker: 'AAPL', action: 'cancel' });
    await resting;

    expect(cancel).toMatchObject({ status: 'completed', reason: 'ORDERS_CANCELLED: 1 open order cancelled' });
    expect(fake.requests.filter((r) => r.method === 'DELETE')).toHaveLength(1);
    expect(fake.orders.map((o) => o.status)).toEqual(['canceled']);
    expect((await flow.deps.signals.get(limitId))?.status).toBe('cancelled');
    expect((await flow.deps.store.snapshot()).account.reservedCash).toBe('0');
  });

  it("sizes an alert without a price from Alpaca's latest trade", async () => {
    const { flow } = await alpacaFlow();

    const signal = await trade(flow, {
      ticker: 'MSFT',
      action: 'buy',
      quantity: 1000,
      quantityType: 'dollar_amount',
    });

    expect(signal).toMatchObject({ status: 'filled', filledQuantity: '2' });
  });

  it("denies PRICE_COLLAR an alert whose price understates Alpaca's latest trade: no order, and the alert's price is not recorded", async () => {
    const { flow, fake } = await alpacaFlow({}, { prices: { AAPL: '187.50' } });

    // $187,500 of real notional dressed up as $1,000.
    const signal = await trade(flow, buy('AAPL', 1000, 1));

    expect(signal.status).toBe('rejected');
    expect(signal.reason).toMatch(/^PRICE_COLLAR: price 1 is .*% from the market price 187\.5/);
    expect(fake.orders).toHaveLength(0);
    expect((await flow.deps.store.snapshot()).prices.AAPL?.price).toBe('187.5');
  });

  it('denies NO_FRESH_PRICE when Alpaca has no trade for the symbol, even with a price in the alert (fail closed)', async () => {
    const { flow, fake } = await alpacaFlow({}, { prices: { MSFT: '400' } });

    const signal = await trade(flow, buy('AAPL', 1, 100));

    expect(signal.reason).toMatch(/^NO_FRESH_PRICE/);
    expect(fake.orders).toHaveLength(0);
  });

  it("403 insufficient buying power: rejected with Alpaca's reason, reservation released, no retry (scenario 30)", async () => {
    const { flow, fake } = await alpacaFlow();
    // Pinebridge's book says there is cash; Alpaca disagrees (e.g. money moved out by hand).
    fake.inject({
      fault: { kind: 'status', status: 403, code: 40310000, message: 'insufficient buying power' },
      when: { method: 'POST' },
    });

    const signal = await trade(flow, buy('AAPL', 50, 100));

    expect(signal.status).toBe('rejected');
    expect(signal.reason).toMatch(/^BROKER_REJECTED: Alpaca 403: .*buying power/);
    expect((await flow.deps.store.snapshot()).account.reservedCash).toBe('0');
    expect(fake.orders).toHaveLength(0);
  });

  it("422 validation: rejected with Alpaca's message (scenario 31)", async () => {
    const { flow, fake } = await alpacaFlow();

    const signal = await trade(flow, { ...buy('AAPL', 1, 100), orderType: 'limit', limitPrice: '99.999' });

    expect(signal.reason).toMatch(/^BROKER_REJECTED: Alpaca 422: .*sub-penny/);
    expect(fake.orders).toHaveLength(0);
  });

  it('429 past the submit budget: the order expires unsent and its reservation is released (scenario 32)', async () => {
    const { flow, fake } = await alpacaFlow({ alpaca: { submitBudgetMs: 500 } });
    fake.inject({ fault: { kind: 'status', status: 429 }, when: { method: 'POST' } });

    const signal = await trade(flow, buy('AAPL', 1, 100));

    expect(signal.status).toBe('cancelled');
    expect(signal.reason).toMatch(/^ORDER_EXPIRED: .*429/);
    expect((await flow.deps.store.snapshot()).account.reservedCash).toBe('0');
    expect(fake.orders).toHaveLength(0);
  });

  it.each([
    ['timeoutAfterAccept', 'a timeout after Alpaca accepted it (scenario 33)'],
    ['dropBeforeAccept', 'a request lost before Alpaca saw it (scenario 34)'],
    ['duplicateOnFirstTry', '"client_order_id must be unique" on the first try (scenario 35)'],
  ] as const)('%s: %s still ends in exactly one filled order', async (fault, _scenario) => {
    const { flow, fake } = await alpacaFlow();
    fake.inject({ fault });

    const signal = await trade(flow, buy('AAPL', 3, 100));

    expect(signal).toMatchObject({ status: 'filled', filledQuantity: '3' });
    expect(fake.orders).toHaveLength(1);
    expect((await flow.deps.store.snapshot()).positions.AAPL?.quantity).toBe('3');
  });

  it('process killed between submit and record: the reconciler finds and adopts the order, one order (scenario 36)', async () => {
    const { flow, fake } = await alpacaFlow();
    const signalId = await flow.record(buy('AAPL', 2, 100));
    const decided = await riskCheck({ signalId, symbol: 'AAPL', receivedAt: '' }, flow.deps);
    if (decided.decision !== 'approved') throw new Error('fixture must be approved');
    await submitOrder({ signalId, clientOrderId: decided.clientOrderId }, flow.deps);
    // …the process dies here: nothing recorded the fill.

    const report = await reconcile(flow.deps, { settleAfterMs: 0 });

    expect(report.settled[signalId]).toBe('filled');
    expect((await flow.deps.signals.get(signalId))?.status).toBe('filled');
    expect((await flow.deps.store.snapshot()).positions.AAPL).toMatchObject({
      quantity: '2',
      pendingQuantity: '0',
    });
    expect(fake.orders).toHaveLength(1);
  });

  it('Alpaca down: the signal fails, the order stays unknown with its reservation, and the reconciler settles it later (scenario 37)', async () => {
    const { flow, fake } = await alpacaFlow({ alpaca: { submitBudgetMs: 500 } });
    await flow.deps.store.snapshot(); // the account opens from Alpaca's before the outage
    const outage = fake.inject({
      fault: { kind: 'status', status: 503 },
      times: Number.POSITIVE_INFINITY,
      when: TRADING_API,
    });

    const signal = await trade(flow, buy('AAPL', 2, 100));

    expect(signal.status).toBe('failed');
    expect((await flow.deps.store.getOrder(`pb-${signal.signalId}`))?.status).toBe('unknown');
    expect((await flow.deps.store.snapshot()).account.reservedCash).toBe('200');
    expect(fake.orders).toHaveLength(0);
    if (!(flow.deps.events instanceof LoggedTradingStateEvents))
      throw new Error('expected the local announcer');
    expect(flow.deps.events.unknownOrders).toEqual([`pb-${signal.signalId}`]);
    outage.cancel();
    // The symbol is blocked while its order's fate is unknown; other symbols trade.
    const blocked = await trade(flow, buy('AAPL', 1, 100));
    const other = await trade(flow, buy('MSFT', 1, 400));
    expect(blocked.reason).toMatch(/^RECONCILIATION_PENDING: order pb-/);
    expect(other.status).toBe('filled');
    // A minute later, past the window in which its submission could still land, not finding it at
    // Alpaca is conclusive.
    const aMinuteLater = { ...flow.deps, clock: { now: () => new Date(Date.now() + 60_000) } };

    const report = await reconcile(aMinuteLater, { settleAfterMs: 0 });

    expect(report.unresolved).toEqual([]);
    expect((await flow.deps.store.getOrder(`pb-${signal.signalId}`))?.final).toBe(true);
    expect((await flow.deps.store.snapshot()).account.reservedCash).toBe('0');
    expect((await flow.deps.store.snapshot()).positions.AAPL?.unresolvedOrder).toBeUndefined();
    expect((await trade(flow, buy('AAPL', 1, 100))).status).toBe('filled');
    expect(fake.orders.map((o) => o.symbol)).toEqual(['MSFT', 'AAPL']);
  });

  it('halts trading after three signals in a row fail at the broker (scenario 37: N in a row)', async () => {
    const prices = { AAPL: '100', MSFT: '100', GOOG: '100' };
    const { flow, fake } = await alpacaFlow({ alpaca: { submitBudgetMs: 500 } }, { prices });
    await flow.deps.store.snapshot();
    fake.inject({
      fault: { kind: 'status', status: 503 },
      times: Number.POSITIVE_INFINITY,
      when: TRADING_API,
    });

    for (const ticker of ['AAPL', 'MSFT', 'GOOG']) await trade(flow, buy(ticker, 1, 100));

    const snapshot = await flow.deps.store.snapshot();
    expect(snapshot.tradingState).toBe('HALTED');
    expect(snapshot.breaker.trip).toBe('BROKER_FAILURES');
  });

  it('partial fill, then the order times out and is cancelled: position = the fill, the rest released (scenario 38)', async () => {
    const { flow, fake } = await alpacaFlow({ workflow: { orderTimeoutSeconds: 1, orderPollSeconds: 1 } });
    fake.inject({ fault: { kind: 'partialFill', qty: 4 } });

    const signal = await trade(flow, buy('AAPL', 10, 100));

    expect(signal).toMatchObject({ status: 'cancelled', filledQuantity: '4' });
    const snapshot = await flow.deps.store.snapshot();
    expect(snapshot.positions.AAPL).toMatchObject({ quantity: '4', pendingQuantity: '0' });
    expect(snapshot.account).toMatchObject({ cash: '99600', reservedCash: '0' });
  });

  it('keys refused (401): trading halts at once with the reason, the signal is rejected, no retry loop (scenario 40)', async () => {
    const { flow, fake } = await alpacaFlow();
    await flow.deps.store.snapshot();
    fake.inject({ fault: { kind: 'status', status: 401 }, times: Number.POSITIVE_INFINITY });

    const signal = await trade(flow, buy('AAPL', 1, 100));

    expect(signal.status).toBe('rejected');
    expect(signal.reason).toMatch(/401/);
    const snapshot = await flow.deps.store.snapshot();
    expect(snapshot.tradingState).toBe('HALTED');
    expect(snapshot.breaker.reason).toMatch(/broker refused the credentials/);
    expect(fake.requests.filter((r) => r.status === 401).length).toBeLessThanOrEqual(3);
    expect(fake.orders).toHaveLength(0);
  });

  it('reports a position the broker has and Pinebridge does not, and overwrites nothing', async () => {
    const { flow, fake } = await alpacaFlow();
    await trade(flow, buy('AAPL', 2, 100));
    // Someone trades the same account by hand.
    const keys = { keyId: fake.keyId, secretKey: fake.secretKey };
    const manual = new AlpacaBroker({
      mode: 'paper',
      credentials: { get: async () => keys, refresh: async () => keys },
      tradingUrl: fake.url,
      dataUrl: fake.url,
      requestsPerMinute: 200,
      requestTimeoutMs: 1_000,
      submitBudgetMs: 1_000,
      clock: systemClock,
      log: silentLog,
    });
    await manual.submitOrder(anIntent({ clientOrderId: 'by-hand-1', symbol: 'MSFT', quantity: '1' }));

    const report = await reconcile(flow.deps, { settleAfterMs: 0 });

    expect(report.mismatches).toEqual([{ symbol: 'MSFT', ours: '0', broker: '1' }]);
    if (!(flow.deps.events instanceof LoggedTradingStateEvents))
      throw new Error('expected the local announcer');
    expect(flow.deps.events.mismatches).toEqual([report.mismatches]);
    expect((await flow.deps.store.snapshot()).positions.MSFT).toBeUndefined();
  });
});
