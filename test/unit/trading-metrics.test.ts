import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { METRIC, METRICS_NAMESPACE, TradingMetrics } from '../../shared/adapters/metrics.js';

/** One EMF document as CloudWatch reads it. */
interface Emf {
  _aws: {
    CloudWatchMetrics: {
      Namespace: string;
      Dimensions: string[][];
      Metrics: { Name: string; Unit: string }[];
    }[];
  };
  [key: string]: unknown;
}

let lines: Emf[];

beforeEach(() => {
  lines = [];
  vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
    for (const line of String(chunk).split('\n').filter(Boolean)) {
      const parsed = JSON.parse(line) as Emf;
      if (parsed._aws) lines.push(parsed);
    }
    return true;
  });
});
afterEach(() => {
  vi.restoreAllMocks();
});

/** Metric name → value, over every line written, with each line's dimension names. */
const written = () =>
  lines.flatMap((line) =>
    line._aws.CloudWatchMetrics.flatMap((set) =>
      set.Metrics.map((m) => ({
        name: m.Name,
        unit: m.Unit,
        value: line[m.Name],
        namespace: set.Namespace,
        dimensions: set.Dimensions.flat().sort(),
        reason: line.Reason,
        stage: line.stage,
        service: line.service,
      })),
    ),
  );

describe('TradingMetrics (CloudWatch embedded metric format)', () => {
  it('writes every metric in the Pinebridge namespace with the service and stage dimensions, at once', () => {
    const metrics = new TradingMetrics('prod');

    metrics.orderSubmitted();

    expect(written()).toEqual([
      {
        name: METRIC.ordersSubmitted,
        unit: 'Count',
        value: 1,
        namespace: METRICS_NAMESPACE,
        dimensions: ['service', 'stage'],
        reason: undefined,
        stage: 'prod',
        service: 'pinebridge',
      },
    ]);
  });

  it.each([
    ['accepted', [METRIC.signalsReceived, METRIC.signalsAccepted]],
    ['duplicate', [METRIC.signalsReceived, METRIC.signalsDuplicate]],
    ['unauthorized', [METRIC.signalsReceived, METRIC.authFailures]],
  ] as const)('a webhook answer "%s" counts %j', (outcome, names) => {
    new TradingMetrics('dev').signalAnswered(outcome);

    expect(written().map((m) => m.name)).toEqual([...names]);
  });

  it('a refusal by the webhook counts SignalsRefused in total and by Reason', () => {
    new TradingMetrics('dev').signalAnswered('too_large');

    const refused = written().filter((m) => m.name === METRIC.signalsRefused);
    expect(refused.map((m) => [m.dimensions, m.reason])).toEqual([
      [['service', 'stage'], undefined],
      [['Reason', 'service', 'stage'], 'TOO_LARGE'],
    ]);
  });

  it('a risk rejection counts SignalsRejected in total and by its first denial code', () => {
    new TradingMetrics('dev').signalRejected('MAX_POSITION');

    expect(written().map((m) => [m.name, m.reason ?? null, m.stage])).toEqual([
      [METRIC.signalsRejected, null, 'dev'],
      [METRIC.signalsRejected, 'MAX_POSITION', 'dev'],
    ]);
  });

  it('order outcomes, 429s and the reconciler heartbeat each have their own count', () => {
    const metrics = new TradingMetrics('dev');

    metrics.orderSettled('filled');
    metrics.orderSettled('cancelled');
    metrics.orderSettled('rejected');
    metrics.orderSettled('submitted');
    metrics.orderFailed();
    metrics.brokerRateLimited();
    metrics.reconcilerHeartbeat();

    expect(written().map((m) => m.name)).toEqual([
      METRIC.ordersFilled,
      METRIC.ordersCancelled,
      METRIC.ordersRejected,
      METRIC.ordersFailed,
      METRIC.brokerRateLimited,
      METRIC.reconcilerHeartbeat,
    ]);
  });

  it('webhook latency is in milliseconds; equity and session P&L are plain numbers next to the trading state level', () => {
    const metrics = new TradingMetrics('dev');

    metrics.webhookLatency(12.5);
    metrics.portfolioMarked({ equity: 100_250.5, sessionPnl: -120.25, tradingState: 'REDUCING' });

    expect(written().map((m) => [m.name, m.unit, m.value])).toEqual([
      [METRIC.webhookLatency, 'Milliseconds', 12.5],
      [METRIC.equity, 'None', 100_250.5],
      [METRIC.sessionPnl, 'None', -120.25],
      [METRIC.tradingState, 'Count', 1],
    ]);
  });

  it('no metric carries a dimension beyond service, stage and Reason (no ids, symbols or secrets)', () => {
    const metrics = new TradingMetrics('dev');
    for (const outcome of ['accepted', 'malformed', 'invalid', 'id_conflict', 'unavailable'] as const)
      metrics.signalAnswered(outcome);
    metrics.signalRejected('SYMBOL_NOT_ALLOWED');
    metrics.transitioned({
      from: 'ACTIVE',
      to: 'HALTED',
      reason: 'r',
      source: 's',
      at: 'now',
      trip: 'DRAWDOWN',
    });

    for (const metric of written())
      for (const dimension of metric.dimensions) expect(['Reason', 'service', 'stage']).toContain(dimension);
  });
});
