import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import type { TradingMetricsSink, TradingStateTransition, WebhookOutcome } from '../ports/index.js';

/** CloudWatch namespace of every Pinebridge metric (alarms and the dashboard read from it). */
export const METRICS_NAMESPACE = 'Pinebridge';

/** Powertools' `service` dimension on every Pinebridge metric. */
export const METRICS_SERVICE = 'pinebridge';

/**
 * Every metric Pinebridge emits, one name per concept (the dashboard and the alarms in
 * infra/constructs/monitoring.ts read these names, so code and infra cannot drift apart).
 */
export const METRIC = {
  signalsReceived: 'SignalsReceived',
  signalsAccepted: 'SignalsAccepted',
  signalsDuplicate: 'SignalsDuplicate',
  /** Refused by the webhook before recording (bad JSON, invalid, too large, id reuse, unavailable); `Reason`. */
  signalsRefused: 'SignalsRefused',
  /** Denied by the risk check; also by `Reason` (the first denial's code). */
  signalsRejected: 'SignalsRejected',
  authFailures: 'AuthFailures',
  ordersSubmitted: 'OrdersSubmitted',
  ordersFilled: 'OrdersFilled',
  ordersCancelled: 'OrdersCancelled',
  ordersRejected: 'OrdersRejected',
  ordersFailed: 'OrdersFailed',
  unknownOrders: 'UnknownOrders',
  positionMismatches: 'PositionMismatches',
  breakerTrips: 'BreakerTrips',
  /** 0 ACTIVE, 1 REDUCING, 2 HALTED. */
  tradingState: 'TradingState',
  equity: 'Equity',
  sessionPnl: 'SessionPnl',
  brokerRateLimited: 'BrokerRateLimited',
  reconcilerHeartbeat: 'ReconcilerHeartbeat',
  webhookLatency: 'WebhookLatency',
  healthCheckFailures: 'HealthCheckFailures',
  /** A notification channel kept failing (the notifier dropped messages to it). */
  notificationChannelFailing: 'NotificationChannelFailing',
} as const;

/** The dimension that splits `SignalsRejected` and `SignalsRefused` by cause. */
export const REASON_DIMENSION = 'Reason';

/** The dimension that keeps stages apart when dev and prod share an account. */
export const STAGE_DIMENSION = 'stage';

const STATE_LEVEL = { ACTIVE: 0, REDUCING: 1, HALTED: 2 } as const;

const REFUSALS: Partial<Record<WebhookOutcome, string>> = {
  malformed: 'MALFORMED',
  invalid: 'INVALID',
  too_large: 'TOO_LARGE',
  id_conflict: 'ID_CONFLICT',
  unavailable: 'UNAVAILABLE',
};

const SETTLED: Record<string, string> = {
  filled: METRIC.ordersFilled,
  cancelled: METRIC.ordersCancelled,
  rejected: METRIC.ordersRejected,
};

/**
 * Metrics as CloudWatch embedded-metric-format log lines (Powertools Metrics): no API call, no
 * added latency. Each call writes its line at once, so nothing is lost when a function fails
 * later. Every metric carries the dimensions `service` and `stage` (PINEBRIDGE_STAGE, set by
 * the function construct); `SignalsRejected` and `SignalsRefused` are also written by `Reason`.
 */
export class TradingMetrics implements TradingMetricsSink {
  private readonly metrics: Metrics;

  constructor(stage: string = process.env.PINEBRIDGE_STAGE ?? 'local') {
    this.metrics = new Metrics({
      namespace: METRICS_NAMESPACE,
      serviceName: METRICS_SERVICE,
      defaultDimensions: { [STAGE_DIMENSION]: stage },
    });
  }

  transitioned(transition: TradingStateTransition): void {
    this.metrics.addMetric(METRIC.tradingState, MetricUnit.Count, STATE_LEVEL[transition.to]);
    if (transition.trip !== undefined) this.metrics.addMetric(METRIC.breakerTrips, MetricUnit.Count, 1);
    this.metrics.publishStoredMetrics();
  }

  orderUnknown(): void {
    this.count(METRIC.unknownOrders);
  }

  positionsMismatched(count: number): void {
    this.count(METRIC.positionMismatches, count);
  }

  signalAnswered(outcome: WebhookOutcome): void {
    this.metrics.addMetric(METRIC.signalsReceived, MetricUnit.Count, 1);
    const refusal = REFUSALS[outcome];
    if (outcome === 'accepted') this.metrics.addMetric(METRIC.signalsAccepted, MetricUnit.Count, 1);
    else if (outcome === 'duplicate') this.metrics.addMetric(METRIC.signalsDuplicate, MetricUnit.Count, 1);
    else if (outcome === 'unauthorized') this.metrics.addMetric(METRIC.authFailures, MetricUnit.Count, 1);
    else if (refusal !== undefined) this.metrics.addMetric(METRIC.signalsRefused, MetricUnit.Count, 1);
    this.metrics.publishStoredMetrics();
    if (refusal !== undefined) this.byReason(METRIC.signalsRefused, refusal);
  }

  signalRejected(reason: string): void {
    this.count(METRIC.signalsRejected);
    this.byReason(METRIC.signalsRejected, reason);
  }

  orderSubmitted(): void {
    this.count(METRIC.ordersSubmitted);
  }

  orderSettled(status: string): void {
    const name = SETTLED[status];
    if (name !== undefined) this.count(name);
  }

  orderFailed(): void {
    this.count(METRIC.ordersFailed);
  }

  brokerRateLimited(): void {
    this.count(METRIC.brokerRateLimited);
  }

  reconcilerHeartbeat(): void {
    this.count(METRIC.reconcilerHeartbeat);
  }

  /** How long the webhook took to answer, measured by its handler. */
  webhookLatency(milliseconds: number): void {
    this.metrics.addMetric(METRIC.webhookLatency, MetricUnit.Milliseconds, milliseconds);
    this.metrics.publishStoredMetrics();
  }

  /** The book as the scheduled breaker left it: equity, session P&L (USD) and trading state. */
  portfolioMarked(marks: {
    equity: number;
    sessionPnl: number;
    tradingState: keyof typeof STATE_LEVEL;
  }): void {
    this.metrics.addMetric(METRIC.equity, MetricUnit.NoUnit, marks.equity);
    this.metrics.addMetric(METRIC.sessionPnl, MetricUnit.NoUnit, marks.sessionPnl);
    this.metrics.addMetric(METRIC.tradingState, MetricUnit.Count, STATE_LEVEL[marks.tradingState]);
    this.metrics.publishStoredMetrics();
  }

  healthCheckFailed(): void {
    this.count(METRIC.healthCheckFailures);
  }

  notificationChannelFailing(): void {
    this.count(METRIC.notificationChannelFailing);
  }

  private count(name: string, value = 1): void {
    this.metrics.addMetric(name, MetricUnit.Count, value);
    this.metrics.publishStoredMetrics();
  }

  /** The same count once more, split by `Reason` (a separate line: its own dimension set). */
  private byReason(name: string, reason: string): void {
    this.metrics.singleMetric().addDimension(REASON_DIMENSION, reason).addMetric(name, MetricUnit.Count, 1);
  }
}
