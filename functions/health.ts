import type { APIGatewayProxyResult, Context } from 'aws-lambda';
import { createApiSignalStore } from '../shared/adapters/api-clients.js';
import { TradingMetrics } from '../shared/adapters/metrics.js';
import { errorSummary } from '../shared/errors.js';
import { logger } from '../shared/logger.js';

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

/**
 * How long a broker probe's answer is reused. /health is public and the dashboard asks for health
 * with every update, but each probe of Alpaca spends a request of the rate limit orders use.
 */
export const BROKER_PROBE_TTL_MS = 5_000;

/**
 * `probe`, asked at most once per `ttlMs`: its answer (success or failure) is reused for that long
 * after it settles, and calls while one is in flight share it. The cache lives as long as the
 * returned function: once per Lambda container, once per local bot.
 */
export function cachedProbe(
  probe: () => Promise<unknown>,
  ttlMs: number = BROKER_PROBE_TTL_MS,
  now: () => number = () => performance.now(),
): () => Promise<void> {
  let answer: Promise<void> | undefined;
  let settledAt: number | undefined;
  let round = 0;
  return () => {
    if (answer === undefined || (settledAt !== undefined && now() - settledAt >= ttlMs)) {
      const current = ++round;
      // Stamped before any caller sees the answer, so the very next call already counts from it.
      const settle = () => {
        if (round === current) settledAt = now();
      };
      settledAt = undefined;
      answer = probe().then(settle, (error: unknown) => {
        settle();
        throw error;
      });
    }
    return answer;
  };
}

/** Each component `ok` or `failing: <error name>` (never the error text), and whether all are ok. */
export async function componentHealth(
  probes: Record<string, () => Promise<unknown>>,
): Promise<{ ok: boolean; components: Record<string, string> }> {
  const components = Object.fromEntries(
    await Promise.all(
      Object.entries(probes).map(async ([name, probe]): Promise<[string, string]> => {
        try {
          await probe();
          return [name, 'ok'];
        } catch (error) {
          return [name, `failing: ${(error as Error).name}`];
        }
      }),
    ),
  );
  return { ok: Object.values(components).every((v) => v === 'ok'), components };
}

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
