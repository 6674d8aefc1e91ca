import type { Context } from 'aws-lambda';
import { riskMarksOf } from '../shared/domain/breaker.js';
import { errorSummary } from '../shared/errors.js';
import { logger } from '../shared/logger.js';
import { evaluateBreaker } from '../shared/usecases/breaker.js';
import {
  BrokerKeysWithheldError,
  beginInvocation,
  endInvocation,
  type LambdaDependencies,
  lambdaDependencies,
} from './lambda-deps.js';

let deps: LambdaDependencies | undefined;

/**
 * The scheduled circuit-breaker evaluation (every minute): cool-downs end and the session rolls
 * over on time even when no alert arrives (this is the daily session roll: the first run after
 * the session date changes, America/New_York, starts the new session at the equity of that
 * moment). The same use case runs before every risk check. Each run also records equity,
 * session P&L and the trading state for the dashboard.
 */
export const handler = async (
  _event?: unknown,
  context?: Context,
): Promise<{ tradingState: string } | { skipped: string }> => {
  beginInvocation(undefined, context);
  deps ??= lambdaDependencies();
  try {
    const snapshot = await evaluateBreaker(deps);
    const marks = riskMarksOf(snapshot, deps.clock.now());
    deps.metrics.portfolioMarked({
      equity: marks.equity.toNumber(),
      sessionPnl: marks.sessionPnl.toNumber(),
      tradingState: snapshot.tradingState,
    });
    logger.info('circuit breaker evaluated', { tradingState: snapshot.tradingState });
    return { tradingState: snapshot.tradingState };
  } catch (error) {
    // With Alpaca the book opens from the broker's cash on the first risk check, which holds the
    // keys; until then this function (granted none) has nothing to evaluate.
    if (error instanceof BrokerKeysWithheldError) {
      logger.info('the book opens with the first risk check; nothing to evaluate yet');
      return { skipped: 'the book is not open yet' };
    }
    logger.error('circuit breaker evaluation failed', { error: errorSummary(error) });
    throw error;
  } finally {
    await endInvocation(deps);
  }
};
