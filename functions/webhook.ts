import type { APIGatewayProxyEvent, APIGatewayProxyResult, Context } from 'aws-lambda';
import { createWebhookAdapters } from '../shared/adapters/api-clients.js';
import { TradingMetrics } from '../shared/adapters/metrics.js';
import { parseConfigText } from '../shared/config/load.js';
import { errorSummary } from '../shared/errors.js';
import { logger } from '../shared/logger.js';
import { systemClock } from '../shared/ports/index.js';
import {
  type AcceptSignalDeps,
  acceptSignal,
  type WebhookResponse,
} from '../shared/usecases/accept-signal.js';

const json = (statusCode: number, body: unknown): APIGatewayProxyResult => ({
  statusCode,
  headers: { 'content-type': 'application/json', 'cache-control': 'no-store' },
  body: JSON.stringify(body),
});

/** What the webhook needs; the local runtime passes its whole dependency set, which includes it. */
export type WebhookHandlerDeps = Omit<AcceptSignalDeps, 'log'>;

/**
 * The webhook's answer to an API Gateway event: the accept-signal use case's, or a 503 when
 * secrets or configuration are unreadable (fail closed; TradingView re-sends).
 */
const answerWebhook =
  (deps: WebhookHandlerDeps) =>
  async (event: APIGatewayProxyEvent): Promise<WebhookResponse> => {
    try {
      return await acceptSignal(
        {
          body: event.body,
          isBase64Encoded: event.isBase64Encoded,
          pathSecret: event.pathParameters?.secret,
        },
        { ...deps, log: logger },
      );
    } catch (error) {
      logger.error('webhook failed', { error: errorSummary(error) });
      return { statusCode: 503, body: { error: 'temporarily unavailable; retry' } };
    }
  };

/** The webhook: API Gateway event in, the accept-signal use case, its answer out. */
export const createWebhookHandler = (deps: WebhookHandlerDeps) => {
  const answer = answerWebhook(deps);
  return async (event: APIGatewayProxyEvent): Promise<APIGatewayProxyResult> => {
    const response = await answer(event);
    return json(response.statusCode, response.body);
  };
};

let instance: ReturnType<typeof answerWebhook> | undefined;
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
  let response: WebhookResponse;
  try {
    instance ??= answerWebhook({
      config: parseConfigText(process.env.PINEBRIDGE_CONFIG ?? '{}', 'PINEBRIDGE_CONFIG'),
      clock: systemClock,
      metrics,
      ...createWebhookAdapters(),
    });
    response = await instance(event);
  } catch (error) {
    // Configuration or environment unusable: fail closed with a 503 TradingView re-sends on.
    logger.error('webhook cannot start', { error: errorSummary(error) });
    metrics.signalAnswered('unavailable');
    response = { statusCode: 503, body: { error: 'temporarily unavailable; retry' } };
  }
  const latencyMs = performance.now() - started;
  // 202, 200 and 409 name the signal: the answer's correlation id.
  const { signalId } = response.body;
  if (typeof signalId === 'string') logger.setCorrelationId(signalId);
  logger.info('webhook answered', { statusCode: response.statusCode, latencyMs: Math.round(latencyMs) });
  metrics.webhookLatency(latencyMs);
  return json(response.statusCode, response.body);
};
