import { configFromEnv, createCoreDependencies, requireEnv } from '../shared/adapters/dependencies.js';
import { tableNamesFromEnv } from '../shared/adapters/dynamodb/tables.js';
import { EventBridgePublisher, EventBridgeTradingStateEvents } from '../shared/adapters/events.js';
import { TradingMetrics } from '../shared/adapters/metrics.js';
import { logger } from '../shared/logger.js';
import { errorSummary } from '../shared/usecases/accept-signal.js';
import { TRADE_FLOW_TASKS, type TradeFlowTaskName } from '../shared/usecases/tasks.js';
import type { TradeFlowDeps } from '../shared/usecases/trade-flow.js';

let deps: TradeFlowDeps | undefined;

/**
 * A workflow task as a Lambda handler. Errors propagate with their `name`, which Step Functions
 * matches in Retry and Catch; the handler logs ids and outcomes only.
 */
export const taskHandler =
  (name: TradeFlowTaskName) =>
  async (input: unknown): Promise<unknown> => {
    const bus = requireEnv('EVENT_BUS_NAME');
    deps ??= createCoreDependencies(configFromEnv(), tableNamesFromEnv(), {
      publisher: new EventBridgePublisher(bus),
      events: new EventBridgeTradingStateEvents(bus, new TradingMetrics()),
    });
    try {
      const output = await TRADE_FLOW_TASKS[name].run(input, deps);
      logger.info(`${name} done`, { output });
      return output;
    } catch (error) {
      logger.error(`${name} failed`, { error: errorSummary(error) });
      throw error;
    }
  };
