import { fileURLToPath } from 'node:url';
import type { APIGatewayProxyEvent, APIGatewayProxyResult, Context } from 'aws-lambda';
import * as z from 'zod';
import { SecretsManagerDashboardPassword } from '../shared/adapters/dashboard-password.js';
import { requireEnv } from '../shared/adapters/dependencies.js';
import { LambdaOperatorClient, type OperatorRequestInput } from '../shared/adapters/operator-client.js';
import { STAGES } from '../shared/config/names.js';
import { type DashboardAssets, loadAssets } from '../shared/dashboard/assets.js';
import { DashboardSessions, LoginLimiter } from '../shared/dashboard/auth.js';
import { LIVE_CHANNEL, type LiveEndpoint, REALTIME_PATH } from '../shared/dashboard/live.js';
import {
  type ComponentHealth,
  createDashboard,
  type Dashboard,
  type DashboardRequest,
} from '../shared/dashboard/routes.js';
import { errorSummary } from '../shared/errors.js';
import { logger } from '../shared/logger.js';
import { isWriteAction, type OperatorRequest, operate } from '../shared/usecases/operator.js';
import type { TradeFlowDeps } from '../shared/usecases/trade-flow.js';
import { cachedProbe, componentHealth, HEALTH_PROBE_KEY } from './health.js';
import { BookNotOpenError, readOnlyDependencies } from './lambda-deps.js';

/** How often the page asks for a fresh status while its live-update connection is down. */
export const POLL_SECONDS = 10;

/**
 * Where pages subscribe to live updates: the stage's AppSync Events API (infra/constructs/
 * live-updates.ts), from LIVE_REALTIME_DOMAIN and LIVE_HTTP_DOMAIN; undefined without them
 * (the page then polls).
 */
export function liveEndpointFrom(env: NodeJS.ProcessEnv): LiveEndpoint | undefined {
  const realtime = env.LIVE_REALTIME_DOMAIN;
  const http = env.LIVE_HTTP_DOMAIN;
  if (!realtime || !http) return undefined;
  return { url: `wss://${realtime}${REALTIME_PATH}`, host: http, channel: LIVE_CHANNEL };
}

/**
 * The dashboard request an API Gateway (REST, proxy integration) event describes. `event.path` is
 * the path inside the API; `requestContext.path` is what the browser asked for, stage included, and
 * the difference is the base path redirects need.
 */
export function dashboardRequestOf(event: APIGatewayProxyEvent): DashboardRequest {
  const headers: Record<string, string | undefined> = {};
  for (const [name, value] of Object.entries(event.headers ?? {})) headers[name.toLowerCase()] = value;
  const query = new URLSearchParams();
  const multi = event.multiValueQueryStringParameters;
  if (multi) {
    for (const [name, values] of Object.entries(multi))
      for (const value of values ?? []) query.append(name, value);
  } else {
    for (const [name, value] of Object.entries(event.queryStringParameters ?? {}))
      if (value !== undefined) query.append(name, value);
  }
  const path = event.path || '/';
  return {
    method: event.httpMethod,
    path,
    basePath: basePathOf(path, event.requestContext?.path ?? path),
    query,
    headers,
    body:
      event.body === null
        ? ''
        : event.isBase64Encoded
          ? Buffer.from(event.body, 'base64').toString('utf8')
          : event.body,
    sourceIp: event.requestContext?.identity?.sourceIp ?? '',
  };
}

function basePathOf(path: string, requested: string): string {
  const inner = path === '/' ? '' : path.replace(/\/$/, '');
  const outer = requested.replace(/\/$/, '');
  return outer.endsWith(inner) ? outer.slice(0, outer.length - inner.length) : '';
}

/**
 * The web dashboard in AWS, behind API Gateway: the same routes as the local bot's (login, session
 * cookie, CSRF, the operator requests); its pages subscribe to the stage's AppSync Events API.
 *
 *  1. Parse the event into a dashboard request (a stage root without its slash is redirected first,
 *     so the page's relative links resolve under the stage).
 *  2. Route it (shared/dashboard/routes.ts), which reads and acts through `operate`.
 *  3. Map the answer to the proxy result.
 */
export const createDashboardHandler =
  (dashboard: Dashboard) =>
  async (event: APIGatewayProxyEvent): Promise<APIGatewayProxyResult> => {
    const request = dashboardRequestOf(event);
    const requested = event.requestContext?.path ?? request.path;
    if (request.path === '/' && request.method === 'GET' && !requested.endsWith('/'))
      return { statusCode: 301, headers: { location: `${request.basePath}/` }, body: '' };
    try {
      const answer = await dashboard.handle(request);
      return { statusCode: answer.statusCode, headers: answer.headers, body: answer.body };
    } catch (error) {
      logger.error('dashboard request failed', { path: request.path, error: errorSummary(error) });
      return {
        statusCode: 500,
        headers: { 'content-type': 'application/json', 'cache-control': 'no-store' },
        body: JSON.stringify({ error: 'internal error' }),
      };
    }
  };

/**
 * Database and broker, each `ok` or `failing: <error name>` (the workflow is Step Functions' to
 * watch). With Alpaca the broker's ping is already reused for a few seconds (brokerPingThrough);
 * the paper broker's is one read of its table.
 */
function componentHealthOf(deps: TradeFlowDeps): () => Promise<ComponentHealth> {
  return () =>
    componentHealth({ database: () => deps.signals.get(HEALTH_PROBE_KEY), broker: () => deps.broker.ping() });
}

/** The admin function as the dashboard asks it: one operator request, and who asked. */
export interface AdminFunction {
  send(request: OperatorRequestInput, requestedBy: string): Promise<unknown>;
}

/**
 * The dashboard's operator requests in AWS. The function is internet-facing, so it holds neither
 * the broker keys nor any write grant:
 *
 *  1. Stop, resume and reset-breaker go to the IAM-invoked admin function, recorded with the
 *     dashboard session that asked (`source`).
 *  2. Reads are answered here, from the stores, with read grants only.
 *  3. A read that finds no book (a fresh deployment, before the first alert) goes to the admin
 *     function, which opens it.
 */
export const dashboardOperator =
  (deps: TradeFlowDeps, admin: AdminFunction) =>
  async (request: OperatorRequest, source: string): Promise<unknown> => {
    if (isWriteAction(request.action)) {
      const result = await admin.send(request, source);
      logger.warn(`dashboard ${request.action} done by the admin function`, { source });
      return result;
    }
    try {
      return await operate(deps, request, source);
    } catch (error) {
      if (error instanceof BookNotOpenError) return admin.send(request, source);
      throw error;
    }
  };

/** The admin function says the broker does not answer it. */
export class BrokerUnreachableError extends Error {
  override readonly name = 'BrokerUnreachableError';
}

const AdminStatus = z.object({ broker: z.object({ reachable: z.boolean() }) });

/**
 * Pings the broker through the admin function, which holds the keys the dashboard does not: its
 * status reports whether the broker answered. Asked at most every few seconds (cachedProbe).
 */
export const brokerPingThrough = (admin: AdminFunction) =>
  cachedProbe(async () => {
    const status = AdminStatus.parse(await admin.send({ action: 'status' }, 'dashboard (broker health)'));
    if (!status.broker.reachable)
      throw new BrokerUnreachableError('the admin function cannot reach the broker');
  });

/** The stage this function belongs to (PINEBRIDGE_STAGE, set on every function). */
function stageOf(env: NodeJS.ProcessEnv): (typeof STAGES)[number] {
  const stage = STAGES.find((s) => s === env.PINEBRIDGE_STAGE);
  if (stage === undefined) throw new Error(`environment variable PINEBRIDGE_STAGE is not dev or prod`);
  return stage;
}

let instance: ReturnType<typeof createDashboardHandler> | undefined;

/**
 * Environment: DASHBOARD_SECRET_ID (the password's secret), ADMIN_FUNCTION_NAME (the function its
 * writes go to), PINEBRIDGE_STAGE, the table names and PINEBRIDGE_CONFIG, and optionally
 * LIVE_REALTIME_DOMAIN and LIVE_HTTP_DOMAIN (the live-update API), and optionally
 * DASHBOARD_ASSETS_DIR (default: `dashboard/` beside the bundle, written by infra/dashboard/build.ts).
 */
export const handler = (event: APIGatewayProxyEvent, context?: Context): Promise<APIGatewayProxyResult> => {
  logger.resetKeys();
  if (context) logger.addContext(context);
  if (instance === undefined) {
    const admin = new LambdaOperatorClient(
      stageOf(process.env),
      'dashboard',
      undefined,
      requireEnv('ADMIN_FUNCTION_NAME'),
    );
    const deps = readOnlyDependencies(brokerPingThrough(admin));
    const password = new SecretsManagerDashboardPassword(requireEnv('DASHBOARD_SECRET_ID'));
    const assetsDir =
      process.env.DASHBOARD_ASSETS_DIR || fileURLToPath(new URL('./dashboard/', import.meta.url));
    let assets: Promise<DashboardAssets> | undefined;
    const live = liveEndpointFrom(process.env);
    instance = createDashboardHandler(
      createDashboard({
        password: () => password.get(),
        operate: dashboardOperator(deps, admin),
        health: componentHealthOf(deps),
        assets: () => {
          assets ??= loadAssets(assetsDir);
          return assets;
        },
        ...(live === undefined ? {} : { live: () => live }),
        pollSeconds: POLL_SECONDS,
        secureCookies: true,
        sessions: new DashboardSessions(),
        limiter: new LoginLimiter(),
      }),
    );
  }
  return instance(event);
};
