import { ScanCommand } from '@aws-sdk/lib-dynamodb';
import { describe, expect, it, vi } from 'vitest';
import { LocalWorkflow } from '../../infra/local/workflow.js';
import { createCoreDependencies } from '../../shared/adapters/dependencies.js';
import { dynamoStorage } from '../../shared/adapters/dynamodb/storage.js';
import { parseConfig } from '../../shared/config/load.js';
import type { OrderIntent } from '../../shared/domain/trading.js';
import { BrokerUnavailableError } from '../../shared/ports/index.js';
import { haltTrading, resetBreaker } from '../../shared/usecases/breaker.js';
import { reconcile } from '../../shared/usecases/reconcile.js';
import { riskCheck } from '../../shared/usecases/trade-flow.js';
import { documentClient } from '../support/dynamo.js';
import { definition, flowHarness, silentLog } from '../support/flow.js';

const buy = (ticker: string, quantity: number, price: number) => ({ ticker, action: 'buy', quantity, price });

async function itemsOf(tableName: string) {
  const result = await documentClient().send(new ScanCommand({ TableName: tableName, ConsistentRead: true }));
  return result.Items ?? [];
}

describe('trade flow: the synthesized state machine on aws-local-stepfunctions and DynamoDB Local', () => {
  it('fills an approved market order and books position, cash and the signal', async () => {
    const flow = await flowHarness({ paper: { commissionPerOrder: '1.00' } });
    const signalId = await flow.record(buy('AAPL', 10, 187.5));

    await flow.run(signalId);

    const signal = await flow.deps.signals.get(signalId);
    expect(signal?.status).toBe('filled');
    expect(signal?.filledQuantity).toBe('10');
    const snapshot = await flow.deps.store.snapshot();
    expect(snapshot.positions.AAPL?.quantity).toBe('10');
    expect(snapshot.positions.AAPL?.averageCost).toBe('187.5');
    expect(snapshot.positions.AAPL?.pendingQuantity).toBe('0');
    expect(snapshot.account.cash).toBe('98124'); // 100000 − 1875 − 1 commission
    expect(snapshot.account.reservedCash).toBe('0');
    const order = await flow.deps.store.getOrder(`pb-${signalId}`);
    expect(order?.status).toBe('filled');
  });

  it('records a denial with its code and never reaches the broker', async () => {
    const flow = await flowHarness();
    const signalId = await flow.record(buy('DOGE', 1, 1));

    await flow.run(signalId);

    const signal = await flow.deps.signals.get(signalId);
    expect(signal?.status).toBe('rejected');
    expect(signal?.reason).toMatch(/^SYMBOL_NOT_ALLOWED/);
    expect(signal?.denials?.[0]?.code).toBe('SYMBOL_NOT_ALLOWED');
    expect(await itemsOf(flow.tables.paperOrders)).toHaveLength(0);
  });

  it('denies every new order while HALTED and the broker sees nothing', async () => {
    const flow = await flowHarness();
    await haltTrading(flow.deps, 'test', 'test');
    const signalId = await flow.record(buy('AAPL', 1, 100));

    await flow.run(signalId);

    expect((await flow.deps.signals.get(signalId))?.reason).toMatch(/^TRADING_HALTED/);
    expect(await itemsOf(flow.tables.paperOrders)).toHaveLength(0);
  });

  it('places one order when the same event reaches the workflow twice at once', async () => {
    const flow = await flowHarness();
    const signalId = await flow.record(buy('MSFT', 5, 400));

    await Promise.all([flow.run(signalId), flow.run(signalId), flow.run(signalId)]);

    expect(await itemsOf(flow.tables.paperOrders)).toHaveLength(1);
    expect(await itemsOf(flow.tables.orders)).toHaveLength(1);
    expect((await flow.deps.store.snapshot()).positions.MSFT?.quantity).toBe('5');
  });

  it('lets exactly as many racing buys through as buying power allows', async () => {
    // 10 000 cash; each buy needs 3 000: three fit, whatever the interleaving.
    const flow = await flowHarness({
      paper: { startingCash: '10000' },
      risk: {
        maxGrossExposurePercent: 1000,
        duplicateWindowSeconds: 0,
        pyramiding: true,
        maxOrdersPerMinute: 1000,
        maxOrdersPerMinutePerSymbol: 1000,
      },
    });
    const ids = await Promise.all(
      Array.from({ length: 12 }, (_, i) => flow.record({ ...buy('NVDA', 10, 300), id: `race-${i}` })),
    );

    await Promise.all(ids.map((id) => flow.run(id)));

    const records = await Promise.all(ids.map((id) => flow.deps.signals.get(id)));
    const filled = records.filter((r) => r?.status === 'filled');
    const rejected = records.filter((r) => r?.status === 'rejected');
    expect(filled).toHaveLength(3);
    expect(rejected).toHaveLength(9);
    for (const r of rejected) expect(r?.reason).toMatch(/^INSUFFICIENT_BUYING_POWER/);
    const snapshot = await flow.deps.store.snapshot();
    expect(snapshot.positions.NVDA?.quantity).toBe('30');
    expect(snapshot.account.cash).toBe('1000');
    expect(snapshot.account.reservedCash).toBe('0');
    expect(await itemsOf(flow.tables.paperOrders)).toHaveLength(3);
  });

  it('holds the per-symbol position limit under concurrency, counting orders in flight', async () => {
    const flow = await flowHarness({
      risk: {
        maxPositionQuantity: 25,
        duplicateWindowSeconds: 0,
        pyramiding: true,
        maxOrdersPerMinute: 1000,
        maxOrdersPerMinutePerSymbol: 1000,
      },
    });
    const ids = await Promise.all(
      Array.from({ length: 12 }, (_, i) => flow.record({ ...buy('AMZN', 10, 100), id: `pos-${i}` })),
    );

    await Promise.all(ids.map((id) => flow.run(id)));

    const records = await Promise.all(ids.map((id) => flow.deps.signals.get(id)));
    expect(records.filter((r) => r?.status === 'filled')).toHaveLength(2);
    expect(records.filter((r) => r?.reason?.startsWith('MAX_POSITION'))).toHaveLength(10);
    expect((await flow.deps.store.snapshot()).positions.AMZN?.quantity).toBe('20');
  });

  it('sells out of a long position and realizes the profit exactly', async () => {
    const flow = await flowHarness();
    await flow.run(await flow.record(buy('TSLA', 3, 200.01)));
    await flow.run(await flow.record({ ticker: 'TSLA', action: 'exit', price: 210.02 }));

    const snapshot = await flow.deps.store.snapshot();
    expect(snapshot.positions.TSLA?.quantity).toBe('0');
    expect(snapshot.account.realizedPnl).toBe('30.03');
    expect(snapshot.account.cash).toBe('100030.03');
  });

  it('rejects an exit while flat with NOTHING_TO_CLOSE', async () => {
    const flow = await flowHarness();
    const signalId = await flow.record({ ticker: 'META', action: 'exit', price: 500 });

    await flow.run(signalId);

    expect((await flow.deps.signals.get(signalId))?.reason).toMatch(/^NOTHING_TO_CLOSE/);
  });

  it('cancels a resting limit order at its deadline and releases the reservation', async () => {
    const flow = await flowHarness({ workflow: { orderTimeoutSeconds: 1, orderPollSeconds: 1 } });
    const signalId = await flow.record({
      ticker: 'GOOG',
      action: 'buy',
      quantity: 2,
      orderType: 'limit',
      limitPrice: 90,
      price: 95,
    });

    await flow.run(signalId);

    const signal = await flow.deps.signals.get(signalId);
    expect(signal?.status).toBe('cancelled');
    const snapshot = await flow.deps.store.snapshot();
    expect(snapshot.account.reservedCash).toBe('0');
    expect(snapshot.positions.GOOG?.pendingQuantity).toBe('0');
    expect(snapshot.positions.GOOG?.quantity).toBe('0');
  });

  it('fills a resting limit order once a later alert moves the price through the limit', async () => {
    const flow = await flowHarness({
      workflow: { orderTimeoutSeconds: 30, orderPollSeconds: 1 },
      risk: { duplicateWindowSeconds: 0, pyramiding: true },
    });
    const limitId = await flow.record({
      ticker: 'QQQ',
      action: 'buy',
      quantity: 1,
      orderType: 'limit',
      limitPrice: 90,
      price: 95,
    });
    const running = flow.run(limitId);
    // A later alert on the same symbol carries a price below the limit.
    const later = await flow.record(
      { ticker: 'QQQ', action: 'buy', quantity: 1, price: 89 },
      new Date(Date.now() + 1000),
    );
    await flow.run(later);

    await running;

    const limit = await flow.deps.signals.get(limitId);
    expect(limit?.status).toBe('filled');
    expect(limit?.averageFillPrice).toBe('89');
    expect((await flow.deps.store.snapshot()).positions.QQQ?.quantity).toBe('2');
  });

  it("paper: an alert's price beyond the collar of the last price is denied PRICE_COLLAR and never becomes the market", async () => {
    const flow = await flowHarness({ risk: { duplicateWindowSeconds: 0, pyramiding: true } });
    const first = await flow.record(buy('AAPL', 1, 187.5));
    await flow.run(first);

    const forged = await flow.record(buy('AAPL', 1000, 1), new Date(Date.now() + 1000));
    await flow.run(forged);

    expect((await flow.deps.signals.get(forged))?.reason).toMatch(/^PRICE_COLLAR: price 1 is /);
    const snapshot = await flow.deps.store.snapshot();
    expect(snapshot.prices.AAPL?.price).toBe('187.5');
    expect(snapshot.positions.AAPL?.quantity).toBe('1');
    expect(await itemsOf(flow.tables.paperOrders)).toHaveLength(1);
  });

  it('records a failure when SubmitOrder faults, and keeps the reservation while the outcome is unknown', async () => {
    const flow = await flowHarness();
    // The same stores, but a broker whose order book does not exist: every broker call fails.
    const config = parseConfig({});
    const tables = { ...flow.tables, paperOrders: 'no-such-table' };
    const broken = createCoreDependencies(config, dynamoStorage(tables, { endpoint: flow.endpoint }), {
      publisher: flow.deps.publisher,
    });
    const workflow = new LocalWorkflow(await definition(), broken, silentLog, { waitOverrideMs: 5 });
    const signalId = await flow.record(buy('SPY', 2, 500));

    await workflow.start({ signalId, symbol: 'SPY', receivedAt: new Date().toISOString() });

    const signal = await flow.deps.signals.get(signalId);
    expect(signal?.status).toBe('failed');
    expect(signal?.reason).toMatch(/ResourceNotFoundException/);
    const order = await flow.deps.store.getOrder(`pb-${signalId}`);
    expect(order?.status).toBe('unknown');
    expect((await flow.deps.store.snapshot()).account.reservedCash).toBe('1000');
  });
});

describe('a submission whose answer was lost', () => {
  it('cleared to send, faulted and not found: stays unknown with its reservation, and the late-landing order is adopted by the reconciler', async () => {
    const flow = await flowHarness();
    const { broker } = flow.deps;
    const send = broker.submitOrder.bind(broker);
    let lost: OrderIntent | undefined;
    vi.spyOn(broker, 'submitOrder').mockImplementationOnce(async (intent) => {
      lost = intent;
      throw new BrokerUnavailableError('the answer was lost');
    });
    const signalId = await flow.record(buy('SPY', 2, 500));

    await flow.run(signalId);

    expect((await flow.deps.signals.get(signalId))?.status).toBe('failed');
    expect((await flow.deps.store.getOrder(`pb-${signalId}`))?.status).toBe('unknown');
    expect((await flow.deps.store.snapshot()).account.reservedCash).toBe('1000');
    // The request reaches the broker after all.
    if (lost === undefined) throw new Error('the order was never sent');
    await send(lost);

    await reconcile(flow.deps, { settleAfterMs: 0 });

    const snapshot = await flow.deps.store.snapshot();
    expect(snapshot.positions.SPY).toMatchObject({ quantity: '2', pendingQuantity: '0' });
    expect(snapshot.account.reservedCash).toBe('0');
    expect((await flow.deps.store.getOrder(`pb-${signalId}`))?.final).toBe(true);
  });
});

describe('portfolio-wide limits under a burst, through the real workflow', () => {
  it('approves and submits exactly the 10 of 50 simultaneous buys that fit the exposure limit', async () => {
    // Each buy opens $1,000 across five symbols; gross exposure may reach $10,000.
    const flow = await flowHarness({
      risk: {
        maxGrossExposure: '10000',
        duplicateWindowSeconds: 0,
        pyramiding: true,
        maxOrdersPerMinute: 1000,
        maxOrdersPerMinutePerSymbol: 1000,
      },
    });
    const symbols = ['SPY', 'QQQ', 'AAPL', 'MSFT', 'GOOG'];
    const ids = await Promise.all(
      Array.from({ length: 50 }, (_, i) =>
        flow.record({ ...buy(symbols[i % 5] as string, 10, 100), id: `burst-${i}` }),
      ),
    );

    await Promise.all(ids.map((id) => flow.run(id)));

    const records = await Promise.all(ids.map((id) => flow.deps.signals.get(id)));
    expect(records.filter((r) => r?.status === 'filled')).toHaveLength(10);
    expect(records.filter((r) => r?.reason?.startsWith('MAX_EXPOSURE'))).toHaveLength(40);
    expect(await itemsOf(flow.tables.paperOrders)).toHaveLength(10);
    const snapshot = await flow.deps.store.snapshot();
    const gross = Object.values(snapshot.positions).reduce(
      (sum, p) => sum + Math.abs(Number(p.quantity)) * 100,
      0,
    );
    expect(gross).toBe(10_000);
    expect(snapshot.account.reservedCash).toBe('0');
  }, 120_000);
});

describe('emergency stop racing an approval', () => {
  it('places no order when HALTED is committed between the check and its reservation', async () => {
    const flow = await flowHarness();
    const signalId = await flow.record(buy('AAPL', 1, 100));
    const store = flow.deps.store;
    // The real store, with the stop landing exactly after the check read the portfolio as ACTIVE.
    let halted = false;
    const racingStore = Object.assign(Object.create(Object.getPrototypeOf(store)), store, {
      approve: async (...args: Parameters<typeof store.approve>) => {
        if (!halted) {
          halted = true;
          await haltTrading(flow.deps, 'emergency stop', 'test');
        }
        return store.approve(...args);
      },
    }) as typeof store;

    const decision = await riskCheck(
      { signalId, symbol: 'AAPL', receivedAt: new Date().toISOString() },
      {
        ...flow.deps,
        store: racingStore,
      },
    );

    expect(halted).toBe(true);
    expect(decision).toMatchObject({ decision: 'rejected', denials: [{ code: 'TRADING_HALTED' }] });
    expect(await itemsOf(flow.tables.orders)).toHaveLength(0);
    expect((await store.snapshot()).account.reservedCash).toBe('0');
  });
});

describe('order memory across signals', () => {
  it('denies the same trade from a second signal within the duplicate window, after the first filled', async () => {
    // Adding to the position allowed, so the duplicate window is what refuses the second buy.
    const flow = await flowHarness({ risk: { pyramiding: true } });
    const first = await flow.record(buy('AAPL', 1, 100));
    await flow.run(first);
    const second = await flow.record(buy('AAPL', 1, 100));

    await flow.run(second);

    expect((await flow.deps.signals.get(first))?.status).toBe('filled');
    expect((await flow.deps.signals.get(second))?.reason).toMatch(/^DUPLICATIVE_ORDER/);
    expect((await flow.deps.store.snapshot()).account.recentOrders).toEqual([
      expect.objectContaining({ symbol: 'AAPL', side: 'buy', signalId: first }),
    ]);
  });
});

describe('trading-state transitions', () => {
  it('records every transition with from, to, reason, source and time, newest first', async () => {
    const flow = await flowHarness();

    const halted = await haltTrading(flow.deps, 'emergency stop', 'operator');
    const resumed = await resetBreaker(flow.deps, 'resumed after review', 'operator');

    expect((await flow.deps.store.snapshot()).tradingState).toBe('ACTIVE');
    expect(await flow.deps.store.tradingStateHistory(10)).toEqual([
      {
        from: 'HALTED',
        to: 'ACTIVE',
        reason: 'resumed after review',
        source: 'operator',
        at: resumed?.at,
      },
      {
        from: 'ACTIVE',
        to: 'HALTED',
        reason: 'emergency stop',
        source: 'operator',
        trip: 'EMERGENCY_STOP',
        at: halted?.at,
      },
    ]);
    expect(resumed?.at).toMatch(/^\d{4}-\d{2}-\d{2}T/);
  });

  it('records one transition when two stops race, and both calls succeed', async () => {
    const flow = await flowHarness();

    const results = await Promise.allSettled([
      haltTrading(flow.deps, 'stop A', 'a'),
      haltTrading(flow.deps, 'stop B', 'b'),
    ]);

    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'fulfilled']);
    expect(await flow.deps.store.tradingStateHistory(10)).toHaveLength(1);
    expect((await flow.deps.store.snapshot()).tradingState).toBe('HALTED');
  });
});

describe('broker reports in any order (scenario 39)', () => {
  it('books each unit once whatever reports arrive, duplicated or out of order: position = sum of fills, cash exact', async () => {
    const flow = await flowHarness();
    const signalId = await flow.record(buy('AAPL', 10, 100));
    const decided = await riskCheck({ signalId, symbol: 'AAPL', receivedAt: '' }, flow.deps);
    if (decided.decision !== 'approved') throw new Error('fixture must be approved');
    const report = (status: 'partially_filled' | 'filled', filled: string, average: string) => ({
      clientOrderId: decided.clientOrderId,
      brokerOrderId: 'b-1',
      status,
      filledQuantity: filled,
      averageFillPrice: average,
      commission: '0',
    });
    const at = () => new Date().toISOString();

    await flow.deps.store.applyBrokerOrder(report('partially_filled', '4', '100'), at());
    await flow.deps.store.applyBrokerOrder(report('partially_filled', '4', '100'), at());
    const final = await flow.deps.store.applyBrokerOrder(report('filled', '10', '100.6'), at());
    await flow.deps.store.applyBrokerOrder(report('partially_filled', '4', '100'), at());
    await flow.deps.store.applyBrokerOrder(report('filled', '10', '100.6'), at());

    expect(final).toBe('filled');
    const snapshot = await flow.deps.store.snapshot();
    expect(snapshot.positions.AAPL).toMatchObject({ quantity: '10', pendingQuantity: '0' });
    // 4 at 100 and 6 at 101 (the cumulative average 100.6 over 10): 1,006.00 out of 100,000.
    expect(snapshot.account).toMatchObject({ cash: '98994', reservedCash: '0' });
  });
});
