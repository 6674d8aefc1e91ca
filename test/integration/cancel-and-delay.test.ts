import { describe, expect, it, vi } from 'vitest';
import { haltTrading } from '../../shared/usecases/breaker.js';
import { reconcile } from '../../shared/usecases/reconcile.js';
import { riskCheck, submitOrder } from '../../shared/usecases/trade-flow.js';
import { type FlowHarness, flowHarness } from '../support/flow.js';

/**
 * TradersPost's `cancel` (the action, `"cancel": true`, `cancelOrderType`) and `delay`, through the
 * synthesized state machine on aws-local-stepfunctions, DynamoDB Local and the paper broker.
 */

/** Orders rest for up to a minute; the workflow polls every 5 ms (waitOverrideMs). */
const RESTING = {
  workflow: { orderTimeoutSeconds: 60, orderPollSeconds: 1 },
  risk: { pyramiding: true, duplicateWindowSeconds: 0 },
};

const limitBuy = (ticker: string, limitPrice: number, quantity = 1) => ({
  ticker,
  action: 'buy',
  quantity,
  orderType: 'limit',
  limitPrice,
  price: 100,
});

/** Starts a signal's workflow and waits until its order rests at the paper broker. */
async function resting(flow: FlowHarness, alert: Record<string, unknown>, at?: Date) {
  const signalId = await flow.record(alert, at);
  const done = flow.run(signalId);
  for (let i = 0; i < 400; i++) {
    const status = (await flow.deps.signals.get(signalId))?.status;
    if (status === 'submitted') return { signalId, done };
    if (status !== 'received' && status !== 'approved')
      throw new Error(`order ended ${status}: ${(await flow.deps.signals.get(signalId))?.reason}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  throw new Error('the order never rested');
}

const secondsAgo = (s: number) => new Date(Date.now() - s * 1000);

describe('cancel: the action, "cancel": true and cancelOrderType', () => {
  it('cancels the ticker’s resting orders at the broker, releases their reservations and ends the cancel completed', async () => {
    const flow = await flowHarness(RESTING, undefined, { pollMs: 100 });
    const goog1 = await resting(flow, limitBuy('GOOG', 90, 2), secondsAgo(3));
    const goog2 = await resting(flow, limitBuy('GOOG', 91, 1), secondsAgo(2));
    const msft = await resting(flow, limitBuy('MSFT', 90, 1), secondsAgo(2));
    const reservedBefore = (await flow.deps.store.snapshot()).account.reservedCash;
    expect(Number(reservedBefore)).toBeGreaterThan(0);

    const cancel = await flow.record({ ticker: 'GOOG', action: 'cancel' });
    await flow.run(cancel);
    await Promise.all([goog1.done, goog2.done]);

    const record = await flow.deps.signals.get(cancel);
    expect(record?.status).toBe('completed');
    expect(record?.reason).toBe('ORDERS_CANCELLED: 2 open orders cancelled');
    expect(record?.cancels?.orders.map((o) => o.outcome)).toEqual(['cancelled', 'cancelled']);
    for (const { signalId } of [goog1, goog2]) {
      const placed = await flow.deps.signals.get(signalId);
      expect(placed?.status).toBe('cancelled');
      expect(placed?.reason).toMatch(/^ORDER_CANCELLED: /);
      expect((await flow.deps.broker.getOrder(`pb-${signalId}`))?.status).toBe('cancelled');
    }
    // MSFT's order still rests, holding exactly its own reservation.
    expect((await flow.deps.signals.get(msft.signalId))?.status).toBe('submitted');
    const msftOrder = await flow.deps.store.getOrder(`pb-${msft.signalId}`);
    const snapshot = await flow.deps.store.snapshot();
    expect(snapshot.account.reservedCash).toBe(msftOrder?.intent.reservedCash);
    expect(snapshot.positions.GOOG?.pendingQuantity).toBe('0');
    await haltTrading(flow.deps, 'end of test', 'test');
    await msft.done;
  });

  it('cancels only the order type named by cancelOrderType', async () => {
    const flow = await flowHarness(RESTING, undefined, { pollMs: 100 });
    const limit = await resting(flow, limitBuy('QQQ', 90), secondsAgo(2));
    const stop = await resting(
      flow,
      { ticker: 'QQQ', action: 'buy', quantity: 1, orderType: 'stop', stopPrice: 110, price: 100 },
      secondsAgo(2),
    );

    const cancel = await flow.record({ ticker: 'QQQ', action: 'cancel', cancelOrderType: 'stop' });
    await flow.run(cancel);
    await stop.done;

    expect((await flow.deps.signals.get(stop.signalId))?.status).toBe('cancelled');
    expect((await flow.deps.signals.get(limit.signalId))?.status).toBe('submitted');
    expect((await flow.deps.signals.get(cancel))?.cancels?.orders).toEqual([
      { clientOrderId: `pb-${stop.signalId}`, outcome: 'cancelled' },
    ]);
    await haltTrading(flow.deps, 'end of test', 'test');
    await limit.done;
  });

  it('"cancel": true on an entry cancels the resting order first, then places exactly one new order', async () => {
    const flow = await flowHarness(RESTING, undefined, { pollMs: 100 });
    const old = await resting(flow, limitBuy('SPY', 90, 3), secondsAgo(2));
    const submitted = vi.spyOn(flow.deps.broker, 'submitOrder');

    const entry = await flow.record({ ticker: 'SPY', action: 'buy', quantity: 1, price: 100, cancel: true });
    await flow.run(entry);
    await old.done;

    expect((await flow.deps.signals.get(old.signalId))?.status).toBe('cancelled');
    const record = await flow.deps.signals.get(entry);
    expect(record?.status).toBe('filled');
    expect(record?.cancels?.orders).toEqual([{ clientOrderId: `pb-${old.signalId}`, outcome: 'cancelled' }]);
    expect(submitted).toHaveBeenCalledTimes(1);
    const snapshot = await flow.deps.store.snapshot();
    expect(snapshot.positions.SPY?.quantity).toBe('1');
    expect(snapshot.account.reservedCash).toBe('0');
  });

  it('never cancels an order of a signal received after the cancel (a late cancel cannot take out a newer order)', async () => {
    const flow = await flowHarness(RESTING, undefined, { pollMs: 100 });
    const cancel = await flow.record({ ticker: 'AMZN', action: 'cancel' }, secondsAgo(5));
    const newer = await resting(flow, limitBuy('AMZN', 90), secondsAgo(1));

    await flow.run(cancel);

    expect((await flow.deps.signals.get(cancel))?.reason).toBe('ORDERS_CANCELLED: no open orders to cancel');
    expect((await flow.deps.signals.get(newer.signalId))?.status).toBe('submitted');
    await haltTrading(flow.deps, 'end of test', 'test');
    await newer.done;
  });

  it('cancels an approved order before it is sent: the broker never sees it, and its submit sends nothing', async () => {
    const flow = await flowHarness(RESTING, undefined, { pollMs: 100 });
    const approvedId = await flow.record(limitBuy('TSLA', 90), secondsAgo(2));
    const decision = await riskCheck({ signalId: approvedId, symbol: 'TSLA', receivedAt: '' }, flow.deps);
    expect(decision.decision).toBe('approved');

    const cancel = await flow.record({ ticker: 'TSLA', action: 'cancel' });
    await flow.run(cancel);
    const submitted = await submitOrder(decision, flow.deps);

    expect(submitted.order).toMatchObject({ status: 'cancelled', brokerOrderId: 'never-submitted' });
    expect(await flow.deps.broker.getOrder(`pb-${approvedId}`)).toBeUndefined();
    expect((await flow.deps.signals.get(approvedId))?.status).toBe('cancelled');
    expect((await flow.deps.store.snapshot()).account.reservedCash).toBe('0');
  });

  it('a test alert or a stale cancel cancels nothing; a cancel while HALTED still runs (it takes risk off)', async () => {
    const flow = await flowHarness(
      { ...RESTING, risk: { ...RESTING.risk, maxQueueSeconds: 30 } },
      undefined,
      { pollMs: 100 },
    );
    const order = await resting(flow, limitBuy('NVDA', 90), secondsAgo(2));

    const test = await flow.record({ ticker: 'NVDA', action: 'cancel', test: true });
    const stale = await flow.record({ ticker: 'NVDA', action: 'cancel' }, secondsAgo(35));
    await flow.run(test);
    await flow.run(stale);
    expect((await flow.deps.signals.get(test))?.reason).toMatch(/^TEST_SIGNAL/);
    expect((await flow.deps.signals.get(stale))?.reason).toMatch(/^STALE_SIGNAL/);
    expect((await flow.deps.broker.getOrder(`pb-${order.signalId}`))?.status).toBe('new');

    // HALTED: the order's own workflow cancels it at its next poll; a cancel alert is not refused.
    await haltTrading(flow.deps, 'test halt', 'test');
    await order.done;
    const cancel = await flow.record({ ticker: 'NVDA', action: 'cancel' });
    await flow.run(cancel);
    expect((await flow.deps.signals.get(cancel))?.status).toBe('completed');
    expect((await flow.deps.signals.get(order.signalId))?.status).toBe('cancelled');
  });

  it('the kill switch holds for "cancel": true: while HALTED the cancel step runs, and the entry after it is refused and never reaches the broker', async () => {
    const flow = await flowHarness(RESTING, undefined, { pollMs: 100 });
    const unsentId = await flow.record(limitBuy('AMZN', 95), secondsAgo(2));
    expect(
      (await riskCheck({ signalId: unsentId, symbol: 'AMZN', receivedAt: '' }, flow.deps)).decision,
    ).toBe('approved');
    await haltTrading(flow.deps, 'kill switch', 'test');
    const submitted = vi.spyOn(flow.deps.broker, 'submitOrder');

    const entry = await flow.record({ ticker: 'AMZN', action: 'buy', quantity: 1, price: 100, cancel: true });
    await flow.run(entry);

    const record = await flow.deps.signals.get(entry);
    expect(record?.status).toBe('rejected');
    expect(record?.reason).toMatch(/^TRADING_HALTED/);
    expect(record?.cancels?.orders).toEqual([{ clientOrderId: `pb-${unsentId}`, outcome: 'cancelled' }]);
    expect((await flow.deps.signals.get(unsentId))?.status).toBe('cancelled');
    expect(submitted).not.toHaveBeenCalled();
    expect((await flow.deps.store.snapshot()).account.reservedCash).toBe('0');
  });

  it('fails the signal, naming the order, when a cancel cannot be done — and places no entry beside it', async () => {
    const flow = await flowHarness(RESTING, undefined, { pollMs: 100 });
    const old = await resting(flow, limitBuy('META', 90), secondsAgo(2));
    vi.spyOn(flow.deps.broker, 'cancelOrder').mockRejectedValue(new Error('broker unreachable'));
    const submitted = vi.spyOn(flow.deps.broker, 'submitOrder');

    const entry = await flow.record({ ticker: 'META', action: 'buy', quantity: 1, price: 100, cancel: true });
    await flow.run(entry);

    const record = await flow.deps.signals.get(entry);
    expect(record?.status).toBe('failed');
    expect(record?.reason).toContain(
      `CANCEL_FAILED: 1 of 1 open orders on META could not be cancelled, so nothing was placed`,
    );
    expect(record?.reason).toContain(`pb-${old.signalId}`);
    expect(submitted).not.toHaveBeenCalled();
    vi.restoreAllMocks();
    await haltTrading(flow.deps, 'end of test', 'test');
    await old.done;
  });
});

describe('delay: the workflow waits until the signal is due', () => {
  it('decides a delayed signal only once it is due (the synthesized Delay state), then fills it', async () => {
    const flow = await flowHarness();
    const receivedAt = new Date();
    const signalId = await flow.record(
      { ticker: 'AAPL', action: 'buy', quantity: 1, price: 100, delay: 2 },
      receivedAt,
    );
    const notBefore = new Date(receivedAt.getTime() + 2000).toISOString();

    const started = Date.now();
    const run = flow.run(signalId, { receivedAt: receivedAt.toISOString(), notBefore });
    await new Promise((resolve) => setTimeout(resolve, 1000));
    expect((await flow.deps.signals.get(signalId))?.status).toBe('received');
    await run;

    expect(Date.now() - started).toBeGreaterThanOrEqual(1900);
    expect((await flow.deps.signals.get(signalId))?.status).toBe('filled');
  });

  it('the reconciler leaves a waiting signal alone, and republishes it once it is due and still undecided', async () => {
    const flow = await flowHarness();
    const published: Record<string, unknown>[] = [];
    const deps = { ...flow.deps, publisher: { publish: async (e: object) => void published.push({ ...e }) } };
    const receivedAt = secondsAgo(600);
    const signalId = await flow.record(
      { ticker: 'AAPL', action: 'buy', quantity: 1, price: 100, delay: '+1 hour' },
      receivedAt,
    );

    const waiting = await reconcile(deps, { settleAfterMs: 60_000 });
    expect(waiting.republished).not.toContain(signalId);

    // Due an hour ago and still undecided (its execution lost): the periodic run finds it, and it ends.
    const lost = await flow.record(
      { ticker: 'MSFT', action: 'buy', quantity: 1, price: 400, delay: '+1 hour' },
      secondsAgo(7200),
    );
    const periodic = await reconcile(deps, { settleAfterMs: 60_000 });
    expect(periodic.republished).toContain(lost);
    await flow.run(lost);
    expect((await flow.deps.signals.get(lost))?.reason).toMatch(/^STALE_SIGNAL: due 3600/);

    // A start (nothing running): its wait was lost with the process, so it is published again to wait out the rest.
    const atStart = await reconcile(deps, { settleAfterMs: 0 });
    expect(atStart.republished).toContain(signalId);
    expect(published).toContainEqual({
      signalId,
      symbol: 'AAPL',
      receivedAt: receivedAt.toISOString(),
      notBefore: new Date(receivedAt.getTime() + 3_600_000).toISOString(),
    });
  });
});
