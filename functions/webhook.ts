import type { APIGatewayProxyEvent, APIGatewayProxyResult, Context } from 'aws-lambda';
import { createWebhookAdapters } from '../shared/adapters/api-clients.js';
import { TradingMetrics } from '../shared/adapters/metrics.js';
import { parseConfigText } from '../shared/config/load.js';
import { logger } from '../shared/logger.js';
import { systemClock } from '../shared/ports/index.js';
import { type AcceptSignalDeps, acceptSignal, errorSummary } from '../shared/usecases/accept-signal.js';

const json = (statusCode: number, body: unknown): APIGatewayProxyResult => ({
  statusCode,
  headers: { 'content-type': 'application/json', 'cache-control': 'no-store' },
  body: JSON.stringify(body),
});

/** What the webhook needs; the local runtime passes its whole dependency set, which includes it. */
export type WebhookHandlerDeps = Omit<AcceptSignalDeps, 'log'>;

/** The webhook: API Gateway event in, the accept-signal use case, its answer out. */
export const createWebhookHandler =
  (deps: WebhookHandlerDeps) =>
  async (event: APIGatewayProxyEvent): Promise<APIGatewayProxyResult> => {
    try {
      const response = await acceptSignal(
        {
          body: event.body,
          isBase64Encoded: event.isBase64Encoded,
          pathSecret: event.pathParameters?.secret,
        },
        { ...deps, log: logger },
      );
      return json(response.statusCode, response.body);
    } catch (error) {
      // Secrets or configuration unreadable: fail closed, and let TradingView re-send.
      logger.error('webhook failed', { error: errorSummary(error) });
      return json(503, { error: 'temporarily unavailable; retry' });
    }
  };

let instance: ReturnType<typeof createWebhookHandler> | undefined;
let metrics: TradingMetrics | undefined;

/**
 * The Lambda entry. Built once per container from the environment, with tight SDK deadlines
 * (shared/adapters/api-clients.ts). Each answer is logged once with the signal id as the
 * correlation id and timed for the WebhookLatency metric; nothing of the request is logged.
 */
export const handler = async (
  event: APIGatewayProxyEvent,
  context?: Context,
): Promise<APIGatewayProxyResult> => {
  const started = performance.now();
  logger.resetKeys();
  if (context) logger.addContext(context);
  metrics ??= new TradingMetrics();
  let result: APIGatewayProxyResult;
  try {
    instance ??= createWebhookHandler({
      config: parseConfigText(process.env.PINEBRIDGE_CONFIG ?? '{}', 'PINEBRIDGE_CONFIG'),
      clock: systemClock,
      metrics,
      ...createWebhookAdapters(),
    });
    result = await instance(event);
  } catch (error) {
    // Configuration or environment unusable: fail closed with a 503 TradingView re-sends on.
    logger.error('webhook cannot start', { error: errorSummary(error) });
    metrics.signalAnswered('unavailable');
    result = json(503, { error: 'temporarily unavailable; retry' });
  }
  const latencyMs = performance.now() - started;
  const signalId = signalIdOf(result.body);
  if (signalId !== undefined) logger.setCorrelationId(signalId);
  logger.info('webhook answered', { statusCode: result.statusCode, latencyMs: Math.round(latencyMs) });
  metrics.webhookLatency(latencyMs);
  return result;
};

/** The signal id of an answer (202, 200 and 409 carry one); the body is our own JSON. */
function signalIdOf(body: string): string | undefined {
  try {
    const parsed: unknown = JSON.parse(body);
    if (typeof parsed === 'object' && parsed !== null && 'signalId' in parsed) {
      const { signalId } = parsed;
      return typeof signalId === 'string' ? signalId : undefined;
    }
  } catch {
    // Not ours to fail on: the answer goes out as it is.
  }
  return undefined;
}
