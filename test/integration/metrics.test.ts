import { afterEach, describe, expect, it } from 'vitest';
import { LocalWorkflow } from '../../infra/local/workflow.js';
import { AlpacaBroker } from '../../shared/adapters/alpaca/alpaca-broker.js';
import { createCoreDependencies } from '../../shared/adapters/dependencies.js';
import { DynamoSignalStore } from '../../shared/adapters/dynamodb/signal-store.js';
import { dynamoStorage } from '../../shared/adapters/dynamodb/storage.js';
import { parseConfig } from '../../shared/config/load.js';
import { systemClock, type TradingMetricsSink, type WebhookOutcome } from '../../shared/ports/index.js';
import { acceptSignal } from '../../shared/usecases/accept-signal.js';
import { reconcile } from '../../shared/usecases/reconcile.js';
import type { TradeFlowDeps } from '../../shared/usecases/trade-flow.js';
import { type FakeAlpaca, startFakeAlpaca } from '../fakes/alpaca/server.js';
import { anIntent } from '../fixtures/builders.js';
import { documentClient, freshTables } from '../support/dynamo.js';
import { definition, flowHarness, silentLog } from '../support/flow.js';

/** A hand-written sink that remembers every count, in order. */
class RecordingMetrics implements TradingMetricsSink {
  readonly seen: string[] = [];
  signalAnswered(outcome: WebhookOutcome) {
    this.seen.push(`answered:${outcome}`);
  }
  signalRejected(reason: string) {
    this.seen.push(`rejected:${reason}`);
  }
  orderSubmitted() {
    this.seen.push('submitted');
  }
  orderSettled(status: string) {
    this.seen.push(`settled:${status}`);
  }
  orderFailed() {
    this.seen.push('failed');
  }
  brokerRateLimited() {
    this.seen.push('429');
  }
  reconcilerHeartbeat() {
    this.seen.push('heartbeat');
  }
}

const SECRET = 'a-webhook-secret-of-some-length';
const buy = (ticker: string, quantity: number, price: number) => ({ ticker, action: 'buy', quantity, price });

/** The flow harness with a recording sink in its dependencies, as the Lambda handlers add one. */
async function measuredFlow(config = {}) {
  const flow = await flowHarness(config);
  const metrics = new RecordingMetrics();
  Object.assign(flow.deps, { metrics });
  return { flow, metrics, deps: flow.deps as TradeFlowDeps };
}

let fake: FakeAlpaca | undefined;
afterEach(async () => {
  await fake?.stop();
  fake = undefined;
});

describe('metrics the use cases emit (through the TradingMetricsSink port)', () => {
  it('the webhook counts every answer by its cause: accepted, duplicate, auth failure, invalid, malformed, too large', async () => {
    const { tables } = await freshTables();
    const metrics = new RecordingMetrics();
    const deps = {
      config: parseConfig({ webhook: { maxBodyBytes: 256 } }),
      signals: new DynamoSignalStore(documentClient(), tables.signals),
      publisher: { publish: async () => {} },
      secrets: { get: async () => ({ current: SECRET }) },
      clock: systemClock,
      log: silentLog,
      metrics,
    };
    const send = (body: string, pathSecret: string | undefined = SECRET) =>
      acceptSignal({ body, isBase64Encoded: false, pathSecret }, deps);
    const alert = JSON.stringify({ ...buy('AAPL', 1, 100), id: 'metrics-1' });

    await send(alert);
    await send(alert);
    await send(alert, 'not-the-secret');
    await send(JSON.stringify({ ticker: 'AAPL' }));
    await send('{not json');
    await send(`{"ticker":"${'A'.repeat(300)}"}`);

    expect(metrics.seen).toEqual([
      'answered:accepted',
      'answered:duplicate',
      'answered:unauthorized',
      'answered:invalid',
      'answered:malformed',
      'answered:too_large',
    ]);
  });

  it('a denied signal is counted once, by its first denial code', async () => {
    const { flow, metrics } = await measuredFlow();
    const signalId = await flow.record(buy('DOGE', 1, 1));

    await flow.run(signalId);

    expect(metrics.seen).toEqual(['rejected:SYMBOL_NOT_ALLOWED']);
  });

  it('a filled order is counted as submitted, then settled filled', async () => {
    const { flow, metrics } = await measuredFlow();
    const signalId = await flow.record(buy('AAPL', 2, 100));

    await flow.run(signalId);

    expect(metrics.seen).toEqual(['submitted', 'settled:filled']);
  });

  it('a signal the workflow could not finish is counted as failed', async () => {
    const { flow, metrics } = await measuredFlow();
    // The same stores, but a broker whose order book does not exist: the submit faults.
    const broken = createCoreDependencies(
      parseConfig({}),
      dynamoStorage({ ...flow.tables, paperOrders: 'no-such-table' }, { endpoint: flow.endpoint }),
      { publisher: flow.deps.publisher },
    );
    Object.assign(broken, { metrics });
    const workflow = new LocalWorkflow(await definition(), broken, silentLog, { waitOverrideMs: 5 });
    const signalId = await flow.record(buy('SPY', 1, 500));

    await workflow.start({ signalId, symbol: 'SPY', receivedAt: new Date().toISOString() });

    expect(metrics.seen).toEqual(['failed']);
  });

  it('every completed reconciler run leaves a heartbeat', async () => {
    const { metrics, deps } = await measuredFlow();

    await reconcile(deps, { settleAfterMs: 0 });
    await reconcile(deps, { settleAfterMs: 0 });

    expect(metrics.seen).toEqual(['heartbeat', 'heartbeat']);
  });

  it('each 429 Alpaca answers reaches the observer the Lambda wiring registers', async () => {
    fake = await startFakeAlpaca({ prices: { AAPL: '100' } });
    const broker = new AlpacaBroker({
      mode: 'paper',
      credentials: {
        get: async () => ({ keyId: fake?.keyId ?? '', secretKey: fake?.secretKey ?? '' }),
        refresh: async () => ({ keyId: fake?.keyId ?? '', secretKey: fake?.secretKey ?? '' }),
      },
      tradingUrl: fake.url,
      dataUrl: fake.url,
      requestsPerMinute: 200,
      requestTimeoutMs: 300,
      submitBudgetMs: 500,
      clock: systemClock,
      log: silentLog,
    });
    const metrics = new RecordingMetrics();
    broker.observeRateLimits(() => metrics.brokerRateLimited());
    fake.inject({ fault: { kind: 'status', status: 429 }, when: { method: 'POST' } });

    const report = await broker.submitOrder(anIntent({ clientOrderId: 'pb-metrics-429', quantity: '1' }));

    expect(report.status).toBe('expired');
    expect(metrics.seen).toEqual(['429']);
  });
});
