import type { Context } from 'aws-lambda';
import * as z from 'zod';
import { errorSummary } from '../shared/errors.js';
import { logger } from '../shared/logger.js';
import { isWriteAction, OperatorRequest, operate } from '../shared/usecases/operator.js';
import {
  beginInvocation,
  endInvocation,
  type LambdaDependencies,
  lambdaDependencies,
} from './lambda-deps.js';

/** Who asked: the CLI sends the caller's IAM identity; it is recorded with every action. */
const AdminEvent = z.looseObject({ requestedBy: z.string().min(1).max(200).default('operator') });

let deps: LambdaDependencies | undefined;

/**
 * The operator's front door in AWS: the emergency stop (HALTED, cancel every open order,
 * optionally flatten), resume, reset-breaker, and the read-only views (status, positions, orders,
 * signals, pnl, export) — the same requests the local bot serves over HTTP. Not behind the API:
 * invoked with IAM (lambda:InvokeFunction), so admin access is never anonymous.
 */
export const handler = async (event: unknown, context?: Context): Promise<unknown> => {
  beginInvocation(undefined, context);
  const { requestedBy, ...fields } = AdminEvent.parse(event);
  const request = OperatorRequest.parse(fields);
  // The same dependencies as every other function: breaker transitions and broker 429s are
  // metrics here too, and a function without the broker keys could not quietly fall back.
  deps ??= lambdaDependencies();
  const source = `${requestedBy} (${request.action})`;
  try {
    const result = await operate(deps, request, source);
    // The CLI's send-test-alert finds the webhook here; its secret stays in Secrets Manager.
    if (request.action === 'status' && typeof result === 'object')
      return { ...result, deployment: { webhookUrl: process.env.WEBHOOK_URL ?? null } };
    if (isWriteAction(request.action)) logger.warn(`admin ${request.action} done`, { source });
    return result;
  } catch (error) {
    logger.error(`admin ${request.action} failed`, { error: errorSummary(error) });
    throw error;
  } finally {
    await endInvocation(deps);
  }
};
