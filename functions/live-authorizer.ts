import type { Context } from 'aws-lambda';
import * as z from 'zod';
import { SecretsManagerDashboardPassword } from '../shared/adapters/dashboard-password.js';
import { requireEnv } from '../shared/adapters/dependencies.js';
import { DashboardSessions } from '../shared/dashboard/auth.js';
import { LIVE_CHANNEL } from '../shared/dashboard/live.js';
import { errorSummary } from '../shared/errors.js';
import { logger } from '../shared/logger.js';

/**
 * What AppSync Events asks its Lambda authorizer, as far as this one reads it: the token (the
 * `Authorization` of the auth header) and, in the request context, the operation and channel.
 */
const AuthorizerEvent = z.object({
  authorizationToken: z.string().max(512).optional(),
  requestContext: z
    .object({
      operation: z.string().optional(),
      channel: z.string().optional(),
    })
    .partial()
    .optional(),
});

export interface AuthorizerAnswer {
  isAuthorized: boolean;
  /** Seconds AppSync may reuse the answer: never beyond the token's own expiry. */
  ttlOverride?: number;
}

/**
 * Decides whether a page may connect to the live-update API and subscribe to its channel:
 *
 *  1. The token must be a live token of a dashboard session (shared/dashboard/auth.ts), signed
 *     with the current dashboard password and unexpired (a few minutes at most).
 *  2. Connecting (EVENT_CONNECT, no channel) and subscribing to LIVE_CHANNEL (EVENT_SUBSCRIBE)
 *     are allowed; another channel, or publishing, is refused: only the publisher function
 *     publishes, with IAM.
 *  3. The answer is cached by AppSync no longer than the token lives.
 *
 * Nothing of the token is ever logged.
 */
export const createLiveAuthorizer =
  (password: () => Promise<string>, sessions = new DashboardSessions()) =>
  async (event: unknown): Promise<AuthorizerAnswer> => {
    const parsed = AuthorizerEvent.safeParse(event);
    if (!parsed.success) return { isAuthorized: false };
    const { authorizationToken, requestContext } = parsed.data;
    const operation = requestContext?.operation;
    const channel = requestContext?.channel;
    // Publishing is IAM-only, so AppSync should never ask about it; refused here all the same.
    // Keyed on what is asked, not on the operation's exact name: a connect names no channel.
    const allowed = !/PUBLISH/i.test(operation ?? '') && (channel === undefined || channel === LIVE_CHANNEL);
    if (!allowed) {
      logger.warn('live updates: refused an operation pages never need', { operation, channel });
      return { isAuthorized: false };
    }
    let left: number | undefined;
    try {
      left = sessions.liveTokenLeft(await password(), authorizationToken);
    } catch (error) {
      logger.error('live updates: could not read the dashboard password', { error: errorSummary(error) });
      return { isAuthorized: false };
    }
    if (left === undefined || left <= 0) return { isAuthorized: false };
    return { isAuthorized: true, ttlOverride: Math.min(left, 300) };
  };

let instance: ReturnType<typeof createLiveAuthorizer> | undefined;

/** Environment: DASHBOARD_SECRET_ID (the dashboard password's secret, which signs the tokens). */
export const handler = (event: unknown, context?: Context): Promise<AuthorizerAnswer> => {
  logger.resetKeys();
  if (context) logger.addContext(context);
  if (instance === undefined) {
    const password = new SecretsManagerDashboardPassword(requireEnv('DASHBOARD_SECRET_ID'));
    instance = createLiveAuthorizer(() => password.get());
  }
  return instance(event);
};
