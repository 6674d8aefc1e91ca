import { ScanCommand } from '@aws-sdk/lib-dynamodb';
import { afterEach, describe, expect, it } from 'vitest';
import { LoggedTradingStateEvents } from '../../shared/adapters/events.js';
import type { ConfigInput } from '../../shared/config/schema.js';
import { emergencyStop } from '../../shared/usecases/emergency-stop.js';
import { type FakeAlpaca, startFakeAlpaca } from '../fakes/alpaca/server.js';
import { documentClient } from '../support/dynamo.js';
import { type FlowHarness, flowHarness } from '../support/flow.js';

let fake: FakeAlpaca | undefined;
afterEach(async () => {
  expect(fake?.contractViolations ?? []).toEqual([]);
  await fake?.stop();
  fake = undefined;
});

const STOP = { reason: 'test stop', source: 'operator' };

async function waitUntil(condition: () => Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** A filled AAPL position of 10 and a resting MSFT limit order, the workflow still polling it. */
async function openBook(flow: FlowHarness) {
  const filled = await flow.record({ ticker: 'AAPL', action: 'buy', quantity: 10, price: 100 });
  await flow.run(filled);
  const resting = await flow.record({
    ticker: 'MSFT',
    action: 'buy',
    quantity: 2,
    orderType: 'limit',
    limitPrice: 380,
    price: 400,
  });
  const polling = flow.run(resting);
  await waitUntil(async () => (await flow.deps.signals.get(resting))?.status === 'submitted');
  return { filled, resting, polling };
}

const config: ConfigInput = {
  risk: { duplicateWindowSeconds: 0 },
  workflow: { orderPollSeconds: 1, orderTimeoutSeconds: 60 },
};

describe('emergency stop (SCENARIOS 41–44)', () => {
  it('halts, cancels the resting order, flattens the position, and verifies it item by item (paper broker)', async () => {
    const flow = await flowHarness(config);
    const { resting, polling } = await openBook(flow);

    const report = await emergencyStop(flow.deps, { flatten: true, ...STOP });
    await polling;

    expect(report.halted.changed).toBe(true);
    expect(report.items).toEqual([
      expect.objectContaining({ kind: 'cancel', symbol: 'MSFT', outcome: 'cancelled', ok: true }),
      expect.objectContaining({ kind: 'flatten', symbol: 'AAPL', outcome: 'filled', ok: true }),
    ]);
    expect(report.remaining).toEqual({ openOrders: [], positions: [] });
    expect(report.complete).toBe(true);
    const snapshot = await flow.deps.store.snapshot();
    expect(snapshot.tradingState).toBe('HALTED');
    expect(snapshot.breaker.trip).toBe('EMERGENCY_STOP');
    expect(snapshot.account.reservedCash).toBe('0');
    expect((await flow.deps.signals.get(resting))?.status).toBe('cancelled');
  });

  it('two stops at once: one transition, one closing order per position, both succeed (SCENARIOS 43)', async () => {
    const flow = await flowHarness(config);
    await openBook(flow);

    const [a, b] = await Promise.all([
      emergencyStop(flow.deps, { flatten: true, reason: 'stop A', source: 'a' }),
      emergencyStop(flow.deps, { flatten: true, reason: 'stop B', source: 'b' }),
    ]);

    expect([a.halted.changed, b.halted.changed].sort()).toEqual([false, true]);
    expect(await flow.deps.store.tradingStateHistory(10)).toHaveLength(1);
    const paperOrders = await documentClient().send(
      new ScanCommand({ TableName: flow.tables.paperOrders, ConsistentRead: true }),
    );
    const sells = (paperOrders.Items ?? []).filter((o) => o.side === 'sell' || o.intent?.side === 'sell');
    expect(sells).toHaveLength(1);
    expect((await flow.deps.store.snapshot()).positions.AAPL?.quantity).toBe('0');
  });

  it('with Alpaca down: HALTED at once all the same, the failures reported, and an alert that positions may remain open (SCENARIOS 44)', async () => {
    fake = await startFakeAlpaca({ prices: { AAPL: '100', MSFT: '400' } });
    const keys = { keyId: fake.keyId, secretKey: fake.secretKey };
    const flow = await flowHarness(
      { ...config, broker: 'alpaca', alpaca: { submitBudgetMs: 500, requestTimeoutMs: 300 } },
      undefined,
      {
        alpaca: {
          credentials: { get: async () => keys, refresh: async () => keys },
          tradingUrl: fake.url,
          dataUrl: fake.url,
        },
      },
    );
    await flow.run(await flow.record({ ticker: 'AAPL', action: 'buy', quantity: 5, price: 100 }));
    fake.inject({ fault: { kind: 'status', status: 503 }, times: Number.POSITIVE_INFINITY });
    const ordersBefore = fake.orders.length;

    const report = await emergencyStop(flow.deps, { flatten: true, ...STOP });

    expect((await flow.deps.store.snapshot()).tradingState).toBe('HALTED');
    expect(report.complete).toBe(false);
    expect(report.items).toEqual([expect.objectContaining({ kind: 'flatten', symbol: 'AAPL', ok: false })]);
    expect(report.remaining.positions).toEqual([{ symbol: 'AAPL', quantity: '5' }]);
    expect(fake.orders).toHaveLength(ordersBefore);
    if (!(flow.deps.events instanceof LoggedTradingStateEvents))
      throw new Error('expected the local announcer');
    expect(flow.deps.events.seen.at(-1)).toMatchObject({ to: 'HALTED', trip: 'EMERGENCY_STOP' });
    expect(flow.deps.events.unknownOrders.at(-1)).toBeDefined();
  });

  it('flattens through Alpaca: one closing order, the position gone there and here', async () => {
    fake = await startFakeAlpaca({ prices: { AAPL: '100' } });
    const keys = { keyId: fake.keyId, secretKey: fake.secretKey };
    const flow = await flowHarness({ ...config, broker: 'alpaca' }, undefined, {
      alpaca: {
        credentials: { get: async () => keys, refresh: async () => keys },
        tradingUrl: fake.url,
        dataUrl: fake.url,
      },
    });
    await flow.run(await flow.record({ ticker: 'AAPL', action: 'buy', quantity: 5, price: 100 }));

    const report = await emergencyStop(flow.deps, { flatten: true, ...STOP });

    expect(report.complete).toBe(true);
    expect(fake.orders.map((o) => o.side)).toEqual(['buy', 'sell']);
    expect(fake.positions).toEqual([]);
    expect((await flow.deps.store.snapshot()).positions.AAPL?.quantity).toBe('0');
  });
});
