import { parseConfigText } from '../config/load.js';
import type { Config } from '../config/schema.js';
import { logger } from '../logger.js';
import {
  type Broker,
  type Clock,
  type Log,
  type SignalPublisher,
  systemClock,
  type TradingStateEvents,
} from '../ports/index.js';
import { Book } from '../usecases/book.js';
import { AlpacaBroker, type AlpacaCredentialSource } from './alpaca/alpaca-broker.js';
import { DynamoBookStore } from './dynamodb/book-store.js';
import { createDocumentClient } from './dynamodb/client.js';
import { DynamoSignalStore } from './dynamodb/signal-store.js';
import type { TableNames } from './dynamodb/tables.js';
import { LoggedTradingStateEvents } from './events.js';
import { PaperBroker } from './paper/paper-broker.js';
import { EnvAlpacaCredentials, SecretsManagerAlpacaCredentials } from './secrets.js';

export interface CoreDependencies {
  config: Config;
  clock: Clock;
  signals: DynamoSignalStore;
  store: Book;
  broker: Broker;
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
    /** Alpaca's keys (and, for tests, the fake server's address); else APCA_* from the environment. */
    alpaca?: { credentials: AlpacaCredentialSource; tradingUrl?: string; dataUrl?: string };
    /**
     * Where the book's opening cash comes from when a snapshot finds no account (a fresh
     * deployment), instead of `paper.startingCash` or the Alpaca account's cash: a read-only
     * function, which may not open the book, refuses here.
     */
    startingCash?: () => Promise<string>;
    env?: NodeJS.ProcessEnv;
  },
): CoreDependencies {
  const clock = options.clock ?? systemClock;
  const db = createDocumentClient(options.dynamoEndpoint ? { endpoint: options.dynamoEndpoint } : {});
  const env = options.env ?? process.env;
  let broker: Broker;
  let store: Book;
  if (brokerKindOf(config, env, options.alpaca !== undefined) === 'alpaca') {
    const alpaca = new AlpacaBroker({
      mode: config.alpaca.mode,
      // In AWS the function is given the id of the keys' secret; locally the keys are in the environment.
      credentials:
        options.alpaca?.credentials ??
        (env.ALPACA_SECRET_ID
          ? new SecretsManagerAlpacaCredentials(env.ALPACA_SECRET_ID)
          : new EnvAlpacaCredentials(env)),
      ...(options.alpaca?.tradingUrl ? { tradingUrl: options.alpaca.tradingUrl } : {}),
      ...(options.alpaca?.dataUrl ? { dataUrl: options.alpaca.dataUrl } : {}),
      requestsPerMinute: config.alpaca.requestsPerMinute,
      requestTimeoutMs: config.alpaca.requestTimeoutMs,
      submitBudgetMs: config.alpaca.submitBudgetMs,
      clock,
      log: logger,
    });
    broker = alpaca;
    // Pinebridge's own book opens with the Alpaca account's cash; the reconciler compares the two.
    store = new Book(new DynamoBookStore(db, tables), {
      startingCash: options.startingCash ?? (async () => (await alpaca.account()).cash),
      tradableSymbols: config.symbols.allowed,
    });
  } else {
    store = new Book(new DynamoBookStore(db, tables), {
      startingCash: options.startingCash ?? config.paper.startingCash,
      tradableSymbols: config.symbols.allowed,
    });
    broker = new PaperBroker(db, tables.paperOrders, config.paper, store);
  }
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

/**
 * The broker in use: `broker` from the config when set; otherwise Alpaca paper when its keys are
 * given (locally: APCA_API_KEY_ID and APCA_API_SECRET_KEY in the environment), else the paper broker.
 */
export function brokerKindOf(
  config: Config,
  env: NodeJS.ProcessEnv,
  alpacaGiven = false,
): 'paper' | 'alpaca' {
  if (config.broker !== undefined) return config.broker;
  return alpacaGiven || EnvAlpacaCredentials.present(env) ? 'alpaca' : 'paper';
}

/** Config handed to a Lambda through PINEBRIDGE_CONFIG, validated at synth and again at cold start. */
export const configFromEnv = (env: NodeJS.ProcessEnv = process.env): Config =>
  parseConfigText(env.PINEBRIDGE_CONFIG ?? '{}', 'PINEBRIDGE_CONFIG');

export function requireEnv(name: string, env: NodeJS.ProcessEnv = process.env): string {
  const value = env[name];
  if (!value) throw new Error(`environment variable ${name} is not set`);
  return value;
}
