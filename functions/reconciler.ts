import type { Context } from 'aws-lambda';
import { errorSummary } from '../shared/errors.js';
import { logger } from '../shared/logger.js';
import { completePassDue, type ReconcileReport, reconcile } from '../shared/usecases/reconcile.js';
import {
  beginInvocation,
  endInvocation,
  type LambdaDependencies,
  lambdaDependencies,
} from './lambda-deps.js';

let deps: LambdaDependencies | undefined;
/** When this container last listed open orders completely: its first run does, then hourly. */
let lastCompletePass: Date | undefined;

/**
 * The scheduled reconciler: settles what a workflow left behind (well after the order timeout, so
 * no running execution is disturbed) and compares positions with the broker's. A completed run
 * leaves the ReconcilerHeartbeat metric; its absence raises an alarm.
 */
export const handler = async (_event?: unknown, context?: Context): Promise<ReconcileReport> => {
  beginInvocation(undefined, context);
  deps ??= lambdaDependencies();
  try {
    const now = deps.clock.now();
    const complete = completePassDue(lastCompletePass, now);
    const report = await reconcile(deps, {
      settleAfterMs: (deps.config.workflow.orderTimeoutSeconds + 120) * 1000,
      complete,
    });
    if (complete) lastCompletePass = now;
    return report;
  } catch (error) {
    logger.error('reconciliation failed', { error: errorSummary(error) });
    throw error;
  } finally {
    await endInvocation(deps);
  }
};
