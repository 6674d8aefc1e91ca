import type { APIGatewayProxyResult, Context } from 'aws-lambda';
import { createApiSignalStore } from '../shared/adapters/api-clients.js';
import { TradingMetrics } from '../shared/adapters/metrics.js';
import { logger } from '../shared/logger.js';
import { errorSummary } from '../shared/usecases/accept-signal.js';

/** A key no signal ever has: reading it proves the database answers, and costs half a read unit. */
export const HEALTH_PROBE_KEY = 'health#probe';

export interface HealthDeps {
  /** Resolves when the database answers; throws when it does not. */
  probeDatabase(): Promise<unknown>;
  /** Counts a failing check (HealthCheckFailures). */
  failed(): void;
}

/**
 * GET /health for uptime monitoring (the optional Route 53 health check): 200 `{"status":"ok"}`
 * when the function runs and the database answers, else 503 naming the failing component. It is
 * public, so it says nothing more: no versions, no trading state, no error text.
 */
export const createHealthHandler = (deps: HealthDeps) => async (): Promise<APIGatewayProxyResult> => {
  try {
    await deps.probeDatabase();
    return answer(200, { status: 'ok' });
  } catch (error) {
    logger.error('health check failed', { component: 'database', error: errorSummary(error) });
    deps.failed();
    return answer(503, { status: 'failing', failing: ['database'] });
  }
};

const answer = (statusCode: number, body: unknown): APIGatewayProxyResult => ({
  statusCode,
  headers: { 'content-type': 'application/json', 'cache-control': 'no-store' },
  body: JSON.stringify(body),
});

let instance: ReturnType<typeof createHealthHandler> | undefined;

export const handler = (_event?: unknown, context?: Context): Promise<APIGatewayProxyResult> => {
  logger.resetKeys();
  if (context) logger.addContext(context);
  if (instance === undefined) {
    const signals = createApiSignalStore();
    const metrics = new TradingMetrics();
    instance = createHealthHandler({
      probeDatabase: () => signals.get(HEALTH_PROBE_KEY),
      failed: () => metrics.healthCheckFailed(),
    });
  }
  return instance();
};
