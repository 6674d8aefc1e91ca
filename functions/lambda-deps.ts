import type { Context } from 'aws-lambda';
import type { AlpacaCredentialSource } from '../shared/adapters/alpaca/alpaca-broker.js';
import { AlpacaBroker } from '../shared/adapters/alpaca/alpaca-broker.js';
import { configFromEnv, createCoreDependencies, requireEnv } from '../shared/adapters/dependencies.js';
import { dynamoStorage } from '../shared/adapters/dynamodb/storage.js';
import { tableNamesFromEnv } from '../shared/adapters/dynamodb/tables.js';
import {
  EventBridgeNotices,
  EventBridgePublisher,
  EventBridgeTradingStateEvents,
} from '../shared/adapters/events.js';
import { TradingMetrics } from '../shared/adapters/metrics.js';
import { logger } from '../shared/logger.js';
import type { TradeFlowDeps } from '../shared/usecases/trade-flow.js';

/**
 * A function that was not granted the broker keys (least privilege: only the order functions,
 * the reconciler and the operator function read them) reached for them anyway.
 */
export class BrokerKeysWithheldError extends Error {
  override readonly name = 'BrokerKeysWithheldError';
}

/** Stands in for the keys where they are withheld, so a stray use fails loudly and by name. */
const withheldKeys: AlpacaCredentialSource = {
  get: () =>
    Promise.reject(
      new BrokerKeysWithheldError(
        `${process.env.AWS_LAMBDA_FUNCTION_NAME ?? 'this function'} is not granted the broker keys`,
      ),
    ),
  refresh: () => withheldKeys.get(),
};

export type LambdaDependencies = TradeFlowDeps & { metrics: TradingMetrics };

/**
 * The dependencies of a workflow, schedule or operator Lambda, built once per container: the
 * stores and broker, EventBridge for signals and announcements, and CloudWatch metrics (EMF)
 * for the use cases, the breaker's transitions and the broker's 429s. With Alpaca, a function
 * given no ALPACA_SECRET_ID gets `withheldKeys` instead of falling back to the environment.
 */
export function lambdaDependencies(env: NodeJS.ProcessEnv = process.env): LambdaDependencies {
  const bus = requireEnv('EVENT_BUS_NAME', env);
  const config = configFromEnv(env);
  const metrics = new TradingMetrics();
  const keysWithheld = config.broker === 'alpaca' && !env.ALPACA_SECRET_ID;
  const deps = createCoreDependencies(config, dynamoStorage(tableNamesFromEnv(env)), {
    publisher: new EventBridgePublisher(bus),
    events: new EventBridgeTradingStateEvents(bus, metrics),
    // Fills, refusals, trips… on the bus for the notifier (infra/constructs/notifications.ts).
    notices: new EventBridgeNotices(bus, logger),
    ...(keysWithheld ? { alpaca: { credentials: withheldKeys } } : {}),
    env,
  });
  if (deps.broker instanceof AlpacaBroker) deps.broker.observeRateLimits(() => metrics.brokerRateLimited());
  return { ...deps, metrics };
}

/**
 * A read found no book: nothing has opened it yet (a fresh deployment). A read-only function may
 * not open it; the admin function (or the first risk check) does.
 */
export class BookNotOpenError extends Error {
  override readonly name = 'BookNotOpenError';
}

/** A read-only function was asked to publish or announce something. */
export class ReadOnlyFunctionError extends Error {
  override readonly name = 'ReadOnlyFunctionError';
}

const refused = (what: string) => (): Promise<never> =>
  Promise.reject(
    new ReadOnlyFunctionError(
      `${process.env.AWS_LAMBDA_FUNCTION_NAME ?? 'this function'} only reads; it may not ${what}`,
    ),
  );

/**
 * The dependencies of a function that only reads (the web dashboard): the stores — whose snapshot
 * never opens the book (BookNotOpenError) — and nothing that publishes or announces. With Alpaca
 * the keys are withheld, and the broker can only be pinged, through `brokerPing` (a function that
 * holds them); the built-in paper broker is pinged directly (its order book is a table).
 */
export function readOnlyDependencies(
  brokerPing: () => Promise<void>,
  env: NodeJS.ProcessEnv = process.env,
): TradeFlowDeps {
  const config = configFromEnv(env);
  const alpaca = config.broker === 'alpaca';
  const deps = createCoreDependencies(config, dynamoStorage(tableNamesFromEnv(env)), {
    publisher: { publish: refused('publish signals') },
    events: {
      transitioned: refused('announce a trading-state change'),
      positionsMismatched: refused('announce a position mismatch'),
      orderUnknown: refused('announce an unknown order'),
      stopIncomplete: refused('announce an incomplete stop'),
    },
    startingCash: () =>
      Promise.reject(
        new BookNotOpenError('the book is not open yet: the first risk check or operator request opens it'),
      ),
    ...(alpaca ? { alpaca: { credentials: withheldKeys } } : {}),
    env,
  });
  if (!alpaca) return deps;
  const keysWithheld = (): Promise<never> =>
    Promise.reject(
      new BrokerKeysWithheldError(
        `${process.env.AWS_LAMBDA_FUNCTION_NAME ?? 'this function'} is not granted the broker keys`,
      ),
    );
  return {
    ...deps,
    broker: {
      name: deps.broker.name,
      ping: brokerPing,
      submitOrder: keysWithheld,
      getOrder: keysWithheld,
      cancelOrder: keysWithheld,
    },
  };
}

/**
 * Starts an invocation's log context: the Lambda context, and the signal id (when the input
 * carries one) as the correlation id, so every line of one signal can be found across functions.
 */
export function beginInvocation(input: unknown, context: Context | undefined): void {
  logger.resetKeys();
  if (context) logger.addContext(context);
  const signalId =
    typeof input === 'object' && input !== null && 'signalId' in input ? input.signalId : undefined;
  if (typeof signalId === 'string') logger.setCorrelationId(signalId);
}

/** Before a function answers: what it told the trader has left for the bus (never its error). */
export async function endInvocation(
  deps: { notices?: { flush?(): Promise<void> } } | undefined,
): Promise<void> {
  await deps?.notices?.flush?.();
}
