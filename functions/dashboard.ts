import { fileURLToPath } from 'node:url';
import type { APIGatewayProxyEvent, APIGatewayProxyResult, Context } from 'aws-lambda';
import { type DashboardAssets, loadAssets } from '../infra/dashboard/assets.js';
import { DashboardSessions, LoginLimiter } from '../infra/dashboard/auth.js';
import {
  type ComponentHealth,
  createDashboard,
  type Dashboard,
  type DashboardRequest,
} from '../infra/dashboard/routes.js';
import { SecretsManagerDashboardPassword } from '../shared/adapters/dashboard-password.js';
import { requireEnv } from '../shared/adapters/dependencies.js';
import { logger } from '../shared/logger.js';
import { errorSummary } from '../shared/usecases/accept-signal.js';
import { isWriteAction, operate } from '../shared/usecases/operator.js';
import type { TradeFlowDeps } from '../shared/usecases/trade-flow.js';
import { HEALTH_PROBE_KEY } from './health.js';
import { lambdaDependencies } from './lambda-deps.js';

/** How often the page asks for a fresh status in AWS, where a Lambda cannot hold a stream open. */
export const POLL_SECONDS = 10;

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
 * cookie, CSRF, the operator requests), the page polling instead of streaming.
 *
 *  1. Parse the event into a dashboard request (a stage root without its slash is redirected first,
 *     so the page's relative links resolve under the stage).
 *  2. Route it (infra/dashboard/routes.ts), which reads and acts through `operate`.
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

/** Database and broker, each `ok` or `failing: <error name>` (the workflow is Step Functions' to watch). */
async function componentHealth(deps: TradeFlowDeps): Promise<ComponentHealth> {
  const check = async (name: string, probe: () => Promise<unknown>): Promise<[string, string]> => {
    try {
      await probe();
      return [name, 'ok'];
    } catch (error) {
      return [name, `failing: ${(error as Error).name}`];
    }
  };
  const components = Object.fromEntries(
    await Promise.all([
      check('database', () => deps.signals.get(HEALTH_PROBE_KEY)),
      check('broker', () => deps.broker.ping()),
    ]),
  );
  return { ok: Object.values(components).every((v) => v === 'ok'), components };
}

let instance: ReturnType<typeof createDashboardHandler> | undefined;

/**
 * Environment: DASHBOARD_SECRET_ID (the password's secret), what every trading function reads
 * (tables, EVENT_BUS_NAME, PINEBRIDGE_CONFIG, ALPACA_SECRET_ID with Alpaca), and optionally
 * DASHBOARD_ASSETS_DIR (default: `dashboard/` beside the bundle, written by infra/dashboard/build.ts).
 */
export const handler = (event: APIGatewayProxyEvent, context?: Context): Promise<APIGatewayProxyResult> => {
  logger.resetKeys();
  if (context) logger.addContext(context);
  if (instance === undefined) {
    const deps = lambdaDependencies();
    const password = new SecretsManagerDashboardPassword(requireEnv('DASHBOARD_SECRET_ID'));
    const assetsDir =
      process.env.DASHBOARD_ASSETS_DIR || fileURLToPath(new URL('./dashboard/', import.meta.url));
    let assets: Promise<DashboardAssets> | undefined;
    instance = createDashboardHandler(
      createDashboard({
        password: () => password.get(),
        operate: async (request, source) => {
          const result = await operate(deps, request, source);
          if (isWriteAction(request.action)) logger.warn(`dashboard ${request.action} done`, { source });
          return result;
        },
        health: () => componentHealth(deps),
        assets: () => {
          assets ??= loadAssets(assetsDir);
          return assets;
        },
        updates: 'poll',
        pollSeconds: POLL_SECONDS,
        secureCookies: true,
        sessions: new DashboardSessions(),
        limiter: new LoginLimiter(),
      }),
    );
  }
  return instance(event);
};
