import type { APIGatewayProxyEvent, APIGatewayProxyResult } from 'aws-lambda';
import {
  configFromEnv,
  createCoreDependencies,
  requireEnv,
  type WebhookDependencies,
} from '../shared/adapters/dependencies.js';
import { tableNamesFromEnv } from '../shared/adapters/dynamodb/tables.js';
import { EventBridgePublisher } from '../shared/adapters/events.js';
import { SecretsManagerWebhookSecrets } from '../shared/adapters/secrets.js';
import { logger } from '../shared/logger.js';
import { acceptSignal, errorSummary } from '../shared/usecases/accept-signal.js';

const json = (statusCode: number, body: unknown): APIGatewayProxyResult => ({
  statusCode,
  headers: { 'content-type': 'application/json', 'cache-control': 'no-store' },
  body: JSON.stringify(body),
});

/** The webhook: API Gateway event in, the accept-signal use case, its answer out. */
export const createWebhookHandler =
  (deps: WebhookDependencies) =>
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

export const handler = (event: APIGatewayProxyEvent): Promise<APIGatewayProxyResult> => {
  instance ??= createWebhookHandler({
    ...createCoreDependencies(configFromEnv(), tableNamesFromEnv(), {
      publisher: new EventBridgePublisher(requireEnv('EVENT_BUS_NAME')),
    }),
    secrets: new SecretsManagerWebhookSecrets(requireEnv('WEBHOOK_SECRET_ID')),
  });
  return instance(event);
};
