import { configFromEnv, createCoreDependencies, requireEnv } from '../shared/adapters/dependencies.js';
import { tableNamesFromEnv } from '../shared/adapters/dynamodb/tables.js';
import { EventBridgePublisher, EventBridgeTradingStateEvents } from '../shared/adapters/events.js';
import { TradingMetrics } from '../shared/adapters/metrics.js';
import { logger } from '../shared/logger.js';
import { errorSummary } from '../shared/usecases/accept-signal.js';
import { type ReconcileReport, reconcile } from '../shared/usecases/reconcile.js';
import type { TradeFlowDeps } from '../shared/usecases/trade-flow.js';

let deps: TradeFlowDeps | undefined;

/**
 * The scheduled reconciler: settles what a workflow left behind (well after the order timeout, so
 * no running execution is disturbed) and compares positions with the broker's.
 */
export const handler = async (): Promise<ReconcileReport> => {
  const bus = requireEnv('EVENT_BUS_NAME');
  deps ??= createCoreDependencies(configFromEnv(), tableNamesFromEnv(), {
    publisher: new EventBridgePublisher(bus),
    events: new EventBridgeTradingStateEvents(bus, new TradingMetrics()),
  });
  try {
    return await reconcile(deps, {
      settleAfterMs: (deps.config.workflow.orderTimeoutSeconds + 120) * 1000,
    });
  } catch (error) {
    logger.error('reconciliation failed', { error: errorSummary(error) });
    throw error;
  }
};
