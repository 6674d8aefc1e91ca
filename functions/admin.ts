import { z } from 'zod';
import { configFromEnv, createCoreDependencies, requireEnv } from '../shared/adapters/dependencies.js';
import { tableNamesFromEnv } from '../shared/adapters/dynamodb/tables.js';
import { EventBridgePublisher, EventBridgeTradingStateEvents } from '../shared/adapters/events.js';
import { TradingMetrics } from '../shared/adapters/metrics.js';
import { logger } from '../shared/logger.js';
import { errorSummary } from '../shared/usecases/accept-signal.js';
import { resetBreaker } from '../shared/usecases/breaker.js';
import { emergencyStop } from '../shared/usecases/emergency-stop.js';
import type { TradeFlowDeps } from '../shared/usecases/trade-flow.js';

const AdminRequest = z
  .object({
    action: z.enum(['stop', 'resume', 'reset-breaker']),
    reason: z.string().min(1).max(500),
    flatten: z.boolean().default(false),
    /** Who asked (the CLI sends the caller's IAM identity). */
    requestedBy: z.string().max(200).default('operator'),
  })
  .strict();

let deps: TradeFlowDeps | undefined;

/**
 * The operator's actions in AWS: the emergency stop (HALTED, cancel every open order, optionally
 * flatten), resume and reset-breaker. Not behind the API: invoked with IAM (lambda:InvokeFunction),
 * so admin access is never anonymous.
 */
export const handler = async (event: unknown): Promise<unknown> => {
  const request = AdminRequest.parse(event);
  const bus = requireEnv('EVENT_BUS_NAME');
  deps ??= createCoreDependencies(configFromEnv(), tableNamesFromEnv(), {
    publisher: new EventBridgePublisher(bus),
    events: new EventBridgeTradingStateEvents(bus, new TradingMetrics()),
  });
  const source = `${request.requestedBy} (${request.action})`;
  try {
    const result =
      request.action === 'stop'
        ? await emergencyStop(deps, { flatten: request.flatten, reason: request.reason, source })
        : await resetBreaker(deps, request.reason, source);
    logger.warn(`admin ${request.action} done`, { source });
    return result ?? { changed: false };
  } catch (error) {
    logger.error(`admin ${request.action} failed`, { error: errorSummary(error) });
    throw error;
  }
};
