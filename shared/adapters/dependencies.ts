import { parseConfigText } from '../config/load.js';
import type { Config } from '../config/schema.js';
import { logger } from '../logger.js';
import {
  type Clock,
  type Log,
  type SignalPublisher,
  systemClock,
  type TradingStateEvents,
  type WebhookSecretSource,
} from '../ports/index.js';
import { createDocumentClient } from './dynamodb/client.js';
import { DynamoSignalStore } from './dynamodb/signal-store.js';
import type { TableNames } from './dynamodb/tables.js';
import { DynamoTradingStore } from './dynamodb/trading-store.js';
import { LoggedTradingStateEvents } from './events.js';
import { PaperBroker } from './paper/paper-broker.js';

export interface CoreDependencies {
  config: Config;
  clock: Clock;
  signals: DynamoSignalStore;
  store: DynamoTradingStore;
  broker: PaperBroker;
  /** Where breaker transitions are announced (EventBridge and metrics in AWS, the log locally). */
  events: TradingStateEvents;
  log: Log;
  /** Puts signals on the bus: the webhook's alerts and the workflow's follow-up legs. */
  publisher: SignalPublisher;
}

/** Builds the stores and the broker once per container (or once per local process). */
export function createCoreDependencies(
  config: Config,
  tables: TableNames,
  options: {
    publisher: SignalPublisher;
    clock?: Clock;
    dynamoEndpoint?: string;
    events?: TradingStateEvents;
  },
): CoreDependencies {
  const clock = options.clock ?? systemClock;
  const db = createDocumentClient(options.dynamoEndpoint ? { endpoint: options.dynamoEndpoint } : {});
  const store = new DynamoTradingStore(db, tables, config.paper.startingCash, config.symbols.allowed);
  const broker = new PaperBroker(db, tables.paperOrders, config.paper, store);
  return {
    config,
    clock,
    signals: new DynamoSignalStore(db, tables.signals),
    store,
    broker,
    events: options.events ?? new LoggedTradingStateEvents(logger),
    log: logger,
    publisher: options.publisher,
  };
}

export interface WebhookDependencies extends CoreDependencies {
  secrets: WebhookSecretSource;
}

/** Config handed to a Lambda through PINEBRIDGE_CONFIG, validated at synth and again at cold start. */
export const configFromEnv = (env: NodeJS.ProcessEnv = process.env): Config =>
  parseConfigText(env.PINEBRIDGE_CONFIG ?? '{}', 'PINEBRIDGE_CONFIG');

export function requireEnv(name: string, env: NodeJS.ProcessEnv = process.env): string {
  const value = env[name];
  if (!value) throw new Error(`environment variable ${name} is not set`);
  return value;
}
