import { ScanCommand } from '@aws-sdk/lib-dynamodb';
import { describe, expect, it } from 'vitest';
import { LocalWorkflow } from '../../infra/local/workflow.js';
import { createCoreDependencies } from '../../shared/adapters/dependencies.js';
import { dynamoStorage } from '../../shared/adapters/dynamodb/storage.js';
import { LoggedTradingStateEvents } from '../../shared/adapters/events.js';
import { parseConfig } from '../../shared/config/load.js';
import type { ConfigInput } from '../../shared/config/schema.js';
import type { Clock, TradingStateTransition } from '../../shared/ports/index.js';
import { evaluateBreaker, resetBreaker } from '../../shared/usecases/breaker.js';
import { portfolioStatus } from '../../shared/usecases/status.js';
import { documentClient } from '../support/dynamo.js';
import { definition, type FlowHarness, flowHarness, silentLog } from '../support/flow.js';

/** A clock the test moves by hand: breaker trips and cool-downs at exact instants. */
class ManualClock implements Clock {
  constructor(private ms: number) {}
  now(): Date {
    return new Date(this.ms);
  }
  set(iso: string): void {
    this.ms = Date.parse(iso);
  }
  advance(ms: number): void {
    this.ms += ms;
  }
}

const MONDAY_10AM_NY = '2026-11-23T15:00:00.000Z';
const TUESDAY_OPEN = '2026-11-24T14:30:00.000Z';

const order = (ticker: string, action: 'buy' | 'sell', quantity: number, price: number) => ({
  ticker,
  action,
  quantity,
  price,
});

async function harness(config: ConfigInput): Promise<{ flow: FlowHarness; clock: ManualClock }> {
  const clock = new ManualClock(Date.parse(MONDAY_10AM_NY));
  const flow = await flowHarness(config, clock);
  return { flow, clock };
}

async function trade(flow: FlowHarness, clock: ManualClock, alert: Record<string, unknown>) {
  clock.advance(60_000);
  const signalId = await flow.record(alert);
  await flow.run(signalId);
  const signal = await flow.deps.signals.get(signalId);
  if (signal === undefined) throw new Error('signal vanished');
  return signal;
}

const announced = (flow: FlowHarness): TradingStateTransition[] => {
  if (!(flow.deps.events instanceof LoggedTradingStateEvents))
    throw new Error('expected the local announcer');
  return flow.deps.events.seen;
};

async function paperOrderCount(tableName: string): Promise<number> {
  const result = await documentClient().send(new ScanCommand({ TableName: tableName, ConsistentRead: true }));
  return result.Items?.length ?? 0;
}

describe('circuit breaker through the workflow on DynamoDB Local', () => {
  it('trips to REDUCING at the daily loss limit, still lets positions shrink, and resets at the next session', async () => {
    const { flow, clock } = await harness({
      risk: { maxDailyLoss: '50', maxDailyLossPercent: 0, duplicateWindowSeconds: 0, pyramiding: true },
    });
    expect((await trade(flow, clock, order('AAPL', 'buy', 10, 100))).status).toBe('filled');

    // AAPL trades at 94: the session is down $60, over the $50 limit.
    const refused = await trade(flow, clock, order('AAPL', 'buy', 1, 94));
    const closed = await trade(flow, clock, order('AAPL', 'sell', 5, 94));

    expect(refused.status).toBe('rejected');
    expect(refused.denials?.map((d) => d.code)).toEqual(['TRADING_REDUCING', 'DAILY_LOSS_LIMIT']);
    expect(closed.status).toBe('filled');
    const [trip] = await flow.deps.store.tradingStateHistory(1);
    expect(trip).toMatchObject({
      from: 'ACTIVE',
      to: 'REDUCING',
      trip: 'DAILY_LOSS',
      source: 'breaker',
      resetAt: TUESDAY_OPEN,
    });
    expect(announced(flow)).toEqual([trip]);

    clock.set(TUESDAY_OPEN);
    clock.advance(-1);
    await evaluateBreaker(flow.deps);
    expect((await flow.deps.store.snapshot()).tradingState).toBe('REDUCING');
    clock.advance(1);
    await evaluateBreaker(flow.deps);

    expect((await flow.deps.store.snapshot()).tradingState).toBe('ACTIVE');
    expect((await flow.deps.store.tradingStateHistory(1))[0]).toMatchObject({
      from: 'REDUCING',
      to: 'ACTIVE',
      source: 'breaker',
    });
    expect((await trade(flow, clock, order('AAPL', 'buy', 1, 94))).status).toBe('filled');
  });

  it('halts at the drawdown limit, resets at the exact end of the cool-down, and rebases the high-water mark', async () => {
    const { flow, clock } = await harness({
      risk: {
        maxDrawdownPercent: 1,
        maxDailyLoss: '0',
        maxDailyLossPercent: 0,
        drawdownCooldownHours: 24,
        // AAPL falls 11 % in one alert below: wider than the default collar.
        priceCollarPercent: 20,
      },
    });
    await trade(flow, clock, order('AAPL', 'buy', 100, 100));

    // AAPL at 89: equity 98,900, 1.1 % under the 100,000 high-water mark.
    const refused = await trade(flow, clock, order('MSFT', 'buy', 1, 50));
    const halted = await trade(flow, clock, order('AAPL', 'buy', 1, 89));

    expect(refused.status).toBe('filled');
    expect(halted.reason).toMatch(/^TRADING_HALTED/);
    const [trip] = await flow.deps.store.tradingStateHistory(1);
    expect(trip).toMatchObject({ to: 'HALTED', trip: 'DRAWDOWN' });
    const resetAt = trip?.resetAt ?? '';
    expect(Date.parse(resetAt) - Date.parse(trip?.at ?? '')).toBe(24 * 3_600_000);

    clock.set(resetAt);
    clock.advance(-1);
    await evaluateBreaker(flow.deps);
    expect((await flow.deps.store.snapshot()).tradingState).toBe('HALTED');
    clock.advance(1);
    await evaluateBreaker(flow.deps);

    const status = await portfolioStatus(flow.deps);
    expect(status.tradingState).toBe('ACTIVE');
    expect(status.account.equity).toBe('98900.00');
    expect(status.account.highWaterMark).toBe('98900.00');
    expect(status.account.drawdownPercent).toBe(0);
  });

  it('trips to REDUCING after N losing trades in a row and resets itself after the cool-down', async () => {
    const { flow, clock } = await harness({
      risk: {
        duplicateWindowSeconds: 0,
        pyramiding: true,
        lossStreak: { count: 2, windowMinutes: 60, cooldownMinutes: 30 },
      },
    });
    for (let round = 0; round < 2; round++) {
      await trade(flow, clock, order('SPY', 'buy', 10, 100));
      await trade(flow, clock, order('SPY', 'sell', 10, 99));
    }

    expect((await flow.deps.store.snapshot()).tradingState).toBe('REDUCING');
    const [trip] = await flow.deps.store.tradingStateHistory(1);
    expect(trip).toMatchObject({ to: 'REDUCING', trip: 'LOSS_STREAK' });

    clock.advance(30 * 60_000);
    await evaluateBreaker(flow.deps);

    expect((await flow.deps.store.snapshot()).tradingState).toBe('ACTIVE');
    // The streak starts afresh: one more loss does not trip again.
    await trade(flow, clock, order('SPY', 'buy', 10, 100));
    await trade(flow, clock, order('SPY', 'sell', 10, 99));
    expect((await flow.deps.store.snapshot()).tradingState).toBe('ACTIVE');
  });

  it('halts after N failed signals in a row until an operator resets it', async () => {
    const { flow, clock } = await harness({ risk: { duplicateWindowSeconds: 0, pyramiding: true } });
    // The same stores, but a broker whose order book does not exist: every broker call fails.
    const broken = createCoreDependencies(
      parseConfig({ risk: { duplicateWindowSeconds: 0, pyramiding: true } }),
      dynamoStorage({ ...flow.tables, paperOrders: 'no-such-table' }, { endpoint: flow.endpoint }),
      { publisher: flow.deps.publisher, clock },
    );
    const workflow = new LocalWorkflow(await definition(), broken, silentLog, { waitOverrideMs: 5 });
    for (const ticker of ['AAPL', 'MSFT', 'GOOG']) {
      clock.advance(60_000);
      const signalId = await flow.record(order(ticker, 'buy', 1, 100));
      await workflow.start({ signalId, symbol: ticker, receivedAt: clock.now().toISOString() });
      expect((await flow.deps.signals.get(signalId))?.status).toBe('failed');
    }

    const snapshot = await flow.deps.store.snapshot();
    expect(snapshot.tradingState).toBe('HALTED');
    expect(snapshot.breaker).toMatchObject({ trip: 'BROKER_FAILURES' });
    expect(snapshot.breaker.resetAt).toBeUndefined();

    clock.advance(7 * 86_400_000);
    await evaluateBreaker(flow.deps);
    expect((await flow.deps.store.snapshot()).tradingState).toBe('HALTED');
    const reset = await resetBreaker(flow.deps, 'broker fixed, orders reconciled', 'operator');

    expect(reset).toMatchObject({ from: 'HALTED', to: 'ACTIVE', source: 'operator' });
    expect((await flow.deps.store.snapshot()).tradingState).toBe('ACTIVE');
    // Trading resumes; the symbols whose orders' fate is unknown stay blocked until reconciled.
    expect((await trade(flow, clock, order('SPY', 'buy', 1, 100))).status).toBe('filled');
    expect((await trade(flow, clock, order('AAPL', 'buy', 1, 100))).reason).toMatch(
      /^RECONCILIATION_PENDING/,
    );
  });
});

describe('racing transitions', () => {
  it('an operator halt racing automatic steps always lands; the automatic steps report nothing moved, and nothing throws', async () => {
    const { flow, clock } = await harness({});
    const store = flow.deps.store;
    for (let round = 0; round < 8; round++) {
      clock.advance(1_000);
      const at = () => clock.now().toISOString();
      const { breaker } = await store.snapshot();
      const automatic = () =>
        store.setTradingState(
          {
            state: 'REDUCING',
            reason: 'automatic',
            source: 'breaker',
            trip: 'LOSS_STREAK',
            expectedSince: breaker.since ?? '',
          },
          at(),
        );
      const results = await Promise.all([
        automatic(),
        store.setTradingState(
          { state: 'HALTED', reason: 'stop', source: 'operator', trip: 'EMERGENCY_STOP' },
          at(),
        ),
        automatic(),
      ]);

      expect((await store.snapshot()).tradingState).toBe('HALTED');
      expect(results.filter((r) => r?.to === 'HALTED')).toHaveLength(1);
      await store.setTradingState(
        { state: 'ACTIVE', reason: 'reset', source: 'operator', clearStreaks: true },
        at(),
      );
    }
  });
});

describe('reversals: a sell through zero is a close and then an open, one order each', () => {
  it('closes the long, then opens the short as a follow-up signal of its own when shorting is allowed', async () => {
    const { flow, clock } = await harness({
      risk: { allowShort: true, duplicateWindowSeconds: 0, pyramiding: true },
    });
    await trade(flow, clock, order('AAPL', 'buy', 10, 100));

    const reversal = await trade(flow, clock, order('AAPL', 'sell', 25, 100));

    expect(reversal).toMatchObject({ status: 'filled', filledQuantity: '10' });
    const legs = (await flow.deps.signals.recent(10, clock.now())).filter(
      (s) => s.signal.followsSignalId === reversal.signalId,
    );
    expect(legs).toHaveLength(1);
    expect(legs[0]).toMatchObject({
      status: 'filled',
      filledQuantity: '15',
      signal: { action: 'sell', quantity: '15', quantityType: 'fixed_quantity' },
    });
    expect((await flow.deps.store.snapshot()).positions.AAPL?.quantity).toBe('-15');
    expect(await paperOrderCount(flow.tables.paperOrders)).toBe(3);
  });

  it('the opening leg is not a duplicate of its own closing leg under the default duplicate window', async () => {
    const { flow, clock } = await harness({ risk: { allowShort: true } });
    await trade(flow, clock, order('AAPL', 'buy', 10, 100));

    const reversal = await trade(flow, clock, order('AAPL', 'sell', 25, 100));

    const legs = (await flow.deps.signals.recent(10, clock.now())).filter(
      (s) => s.signal.followsSignalId === reversal.signalId,
    );
    expect(legs).toHaveLength(1);
    expect(legs[0]).toMatchObject({ status: 'filled', filledQuantity: '15' });
    expect((await flow.deps.store.snapshot()).positions.AAPL?.quantity).toBe('-15');
    expect(await paperOrderCount(flow.tables.paperOrders)).toBe(3);
  });

  it('closes the long and sends no short when shorting is off, noting why', async () => {
    const { flow, clock } = await harness({ risk: { duplicateWindowSeconds: 0, pyramiding: true } });
    await trade(flow, clock, order('AAPL', 'buy', 10, 100));

    const reversal = await trade(flow, clock, order('AAPL', 'sell', 25, 100));

    expect(reversal).toMatchObject({ status: 'filled', filledQuantity: '10' });
    expect(reversal.denials?.map((d) => d.code)).toEqual(['SHORT_NOT_ALLOWED']);
    expect((await flow.deps.store.snapshot()).positions.AAPL?.quantity).toBe('0');
    expect(await paperOrderCount(flow.tables.paperOrders)).toBe(2);
  });
});
