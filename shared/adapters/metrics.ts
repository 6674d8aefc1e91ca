import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import type { TradingStateTransition } from '../ports/index.js';

/** CloudWatch namespace of every Pinebridge metric (alarms and the dashboard read from it). */
export const METRICS_NAMESPACE = 'Pinebridge';

const STATE_LEVEL = { ACTIVE: 0, REDUCING: 1, HALTED: 2 } as const;

/**
 * Metrics as CloudWatch embedded-metric-format log lines (Powertools Metrics): no API call, no
 * added latency. `TradingState` is 0 ACTIVE, 1 REDUCING, 2 HALTED; `BreakerTrips` counts trips.
 */
export class TradingMetrics {
  private readonly metrics = new Metrics({ namespace: METRICS_NAMESPACE, serviceName: 'pinebridge' });

  transitioned(transition: TradingStateTransition): void {
    this.metrics.addMetric('TradingState', MetricUnit.Count, STATE_LEVEL[transition.to]);
    if (transition.trip !== undefined) {
      this.metrics.addMetric('BreakerTrips', MetricUnit.Count, 1);
    }
    this.metrics.publishStoredMetrics();
  }

  orderUnknown(): void {
    this.metrics.addMetric('UnknownOrders', MetricUnit.Count, 1);
    this.metrics.publishStoredMetrics();
  }

  positionsMismatched(count: number): void {
    this.metrics.addMetric('PositionMismatches', MetricUnit.Count, count);
    this.metrics.publishStoredMetrics();
  }
}
