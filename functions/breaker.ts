import { configFromEnv, createCoreDependencies, requireEnv } from '../shared/adapters/dependencies.js';
import { tableNamesFromEnv } from '../shared/adapters/dynamodb/tables.js';
import { EventBridgePublisher, EventBridgeTradingStateEvents } from '../shared/adapters/events.js';
import { TradingMetrics } from '../shared/adapters/metrics.js';
import { logger } from '../shared/logger.js';
import { errorSummary } from '../shared/usecases/accept-signal.js';
import { evaluateBreaker } from '../shared/usecases/breaker.js';
import type { TradeFlowDeps } from '../shared/usecases/trade-flow.js';

let deps: TradeFlowDeps | undefined;

/**
 * The scheduled circuit-breaker evaluation (every minute): cool-downs end and the session rolls
 * over on time even when no alert arrives. The same use case runs before every risk check.
 */
export const handler = async (): Promise<{ tradingState: string }> => {
  const bus = requireEnv('EVENT_BUS_NAME');
  deps ??= createCoreDependencies(configFromEnv(), tableNamesFromEnv(), {
    publisher: new EventBridgePublisher(bus),
    events: new EventBridgeTradingStateEvents(bus, new TradingMetrics()),
  });
  try {
    const snapshot = await evaluateBreaker(deps);
    logger.info('circuit breaker evaluated', { tradingState: snapshot.tradingState });
    return { tradingState: snapshot.tradingState };
  } catch (error) {
    logger.error('circuit breaker evaluation failed', { error: errorSummary(error) });
    throw error;
  }
};
