import { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { createDocumentClient } from './dynamodb/client.js';
import { DynamoSignalStore } from './dynamodb/signal-store.js';
import { TABLES } from './dynamodb/tables.js';
import { EventBridgePublisher } from './events.js';
import { SecretsManagerWebhookSecrets } from './secrets.js';

/**
 * Deadlines of every AWS call made behind the API. TradingView gives up after 3 s and re-sends
 * only after a 5xx, so a stuck call must fail fast enough to answer 503 in time: each attempt
 * gets 200 ms to connect and 600 ms to answer (DynamoDB and EventBridge normally answer in
 * 5–30 ms), and is tried twice. The secret is read once per container and cached, so its
 * slower first read (1 s per attempt) is paid by a cold start only.
 */
export const API_SDK_LIMITS = {
  maxAttempts: 2,
  connectionTimeoutMs: 200,
  requestTimeoutMs: 600,
  secretRequestTimeoutMs: 1_000,
} as const;

const handler = (requestTimeout: number) => ({
  connectionTimeout: API_SDK_LIMITS.connectionTimeoutMs,
  requestTimeout,
  // Without this the SDK only logs a warning when requestTimeout passes, and keeps waiting.
  throwOnRequestTimeout: true,
});

function required(env: NodeJS.ProcessEnv, name: string): string {
  const value = env[name];
  if (!value) throw new Error(`environment variable ${name} is not set`);
  return value;
}

/**
 * The signals store on a client with the API's deadlines. The webhook and the health check use
 * only the signals table (their roles reach no other), so only its name is read.
 */
export function createApiSignalStore(env: NodeJS.ProcessEnv = process.env): DynamoSignalStore {
  const db = createDocumentClient({
    maxAttempts: API_SDK_LIMITS.maxAttempts,
    requestHandler: handler(API_SDK_LIMITS.requestTimeoutMs),
  });
  return new DynamoSignalStore(db, required(env, TABLES.signals.envVar));
}

/** What the webhook needs besides its config: the signals store, the bus and the secret. */
export function createWebhookAdapters(env: NodeJS.ProcessEnv = process.env) {
  return {
    signals: createApiSignalStore(env),
    publisher: new EventBridgePublisher(
      required(env, 'EVENT_BUS_NAME'),
      new EventBridgeClient({
        maxAttempts: API_SDK_LIMITS.maxAttempts,
        requestHandler: handler(API_SDK_LIMITS.requestTimeoutMs),
      }),
    ),
    secrets: new SecretsManagerWebhookSecrets(
      required(env, 'WEBHOOK_SECRET_ID'),
      new SecretsManagerClient({
        maxAttempts: API_SDK_LIMITS.maxAttempts,
        requestHandler: handler(API_SDK_LIMITS.secretRequestTimeoutMs),
      }),
    ),
  };
}
