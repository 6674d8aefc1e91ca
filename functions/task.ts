import type { Context } from 'aws-lambda';
import { errorSummary } from '../shared/errors.js';
import { logger } from '../shared/logger.js';
import { TRADE_FLOW_TASKS, type TradeFlowTaskName } from '../shared/usecases/tasks.js';
import {
  beginInvocation,
  endInvocation,
  type LambdaDependencies,
  lambdaDependencies,
} from './lambda-deps.js';

let deps: LambdaDependencies | undefined;

/**
 * A workflow task as a Lambda handler. Errors propagate with their `name`, which Step Functions
 * matches in Retry and Catch; the handler logs ids and outcomes only, with the signal id as the
 * correlation id.
 */
export const taskHandler =
  (name: TradeFlowTaskName) =>
  async (input: unknown, context?: Context): Promise<unknown> => {
    beginInvocation(input, context);
    deps ??= lambdaDependencies();
    try {
      const output = await TRADE_FLOW_TASKS[name].run(input, deps);
      logger.info(`${name} done`, { output });
      return output;
    } catch (error) {
      logger.error(`${name} failed`, { error: errorSummary(error) });
      throw error;
    } finally {
      await endInvocation(deps);
    }
  };
