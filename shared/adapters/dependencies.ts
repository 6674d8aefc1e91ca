import { parseConfigText } from '../config/load.js';
import type { Config } from '../config/schema.js';
import { logger } from '../logger.js';
import {
  type BookStore,
  type Broker,
  type Clock,
  type Log,
  type Notices,
  type SignalPublisher,
  type SignalStore,
  systemClock,
  type TradingStateEvents,
} from '../ports/index.js';
import { Book } from '../usecases/book.js';
import { NotifyingTradingStateEvents } from '../usecases/notifier.js';
import { AlpacaBroker, type AlpacaCredentialSource } from './alpaca/alpaca-broker.js';
import { LoggedTradingStateEvents } from './events.js';
import { PaperBroker, type PaperOrderBook } from './paper/paper-broker.js';
import { EnvAlpacaCredentials, SecretsManagerAlpacaCredentials } from './secrets.js';

/**
 * Where the bot keeps what it must not forget: DynamoDB in AWS (dynamodb/storage.ts), SQLite
 * locally (sqlite/storage.ts). Each store passes the same contract suite (test/contract).
 */
export interface Storage {
  signals: SignalStore;
  book: BookStore;
  /** The built-in paper broker's venue. */
  paperOrders: PaperOrderBook;
  /** Throws when the database does not answer (/health). */
  probe(): Promise<void>;
}

export interface CoreDependencies {
  config: Config;
  clock: Clock;
  signals: SignalStore;
  store: Book;
  broker: Broker;
  /** Where breaker transitions are announced (EventBridge and metrics in AWS, the log locally). */
  events: TradingStateEvents;
  log: Log;
  /** Puts signals on the bus: the webhook's alerts and the workflow's follow-up legs. */
  publisher: SignalPublisher;
  /** Tells the trader what happened (absent: no notification channel configured). */
  notices?: Notices;
}

/** Builds the stores and the broker once per container (or once per local process). */
export function createCoreDependencies(
  config: Config,
  storage: Storage,
  options: {
    publisher: SignalPublisher;
    clock?: Clock;
    events?: TradingStateEvents;
    notices?: Notices;
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
    store = new Book(storage.book, {
      startingCash: options.startingCash ?? (async () => (await alpaca.account()).cash),
      tradableSymbols: config.symbols.allowed,
    });
  } else {
    store = new Book(storage.book, {
      startingCash: options.startingCash ?? config.paper.startingCash,
      tradableSymbols: config.symbols.allowed,
    });
    broker = new PaperBroker(storage.paperOrders, config.paper, store);
  }
  const events = options.events ?? new LoggedTradingStateEvents(logger);
  return {
    config,
    clock,
    signals: storage.signals,
    store,
    broker,
    // Trips, halts, unknown orders, mismatches and incomplete stops are told to the trader as well.
    events: options.notices === undefined ? events : new NotifyingTradingStateEvents(events, options.notices),
    log: logger,
    publisher: options.publisher,
    ...(options.notices === undefined ? {} : { notices: options.notices }),
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
