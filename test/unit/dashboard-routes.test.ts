import type { APIGatewayProxyEvent } from 'aws-lambda';
import { beforeEach, describe, expect, it } from 'vitest';
import { createDashboardHandler, dashboardRequestOf } from '../../functions/dashboard.js';
import { assembleAssets } from '../../shared/dashboard/assets.js';
import { DashboardSessions, LoginLimiter } from '../../shared/dashboard/auth.js';
import {
  createDashboard,
  type Dashboard,
  type DashboardOptions,
  type DashboardRequest,
} from '../../shared/dashboard/routes.js';
import type { OperatorRequest } from '../../shared/usecases/operator.js';

const PASSWORD = 'dashboard-password-for-tests';
const HOST = 'abc123.execute-api.eu-west-1.amazonaws.com';
const ORIGIN = `https://${HOST}`;

const ASSETS = assembleAssets({
  page: '<!doctype html><title>Pinebridge</title><main id="dashboard"></main>',
  login: '<!doctype html><form><!--message--><input name="password"></form>',
  files: { 'app.js': 'console.log(1)', 'style.css': 'body{}', 'favicon.svg': '<svg/>' },
});

/** What the dashboard asked the operator use case, and who it said was asking. */
let operated: { request: OperatorRequest; source: string }[];
let dashboard: Dashboard;

function build(overrides: Partial<DashboardOptions> = {}): Dashboard {
  return createDashboard({
    password: async () => PASSWORD,
    operate: async (request, source) => {
      operated.push({ request, source });
      return { action: request.action };
    },
    health: async () => ({ ok: true, components: { database: 'ok' } }),
    assets: async () => ASSETS,
    pollSeconds: 10,
    secureCookies: true,
    sessions: new DashboardSessions(),
    limiter: new LoginLimiter(),
    ...overrides,
  });
}

const request = (overrides: Partial<DashboardRequest> = {}): DashboardRequest => ({
  method: 'GET',
  path: '/',
  basePath: '/dev',
  query: new URLSearchParams(),
  headers: { host: HOST },
  body: '',
  sourceIp: '198.51.100.4',
  ...overrides,
});

/** Logs in and returns the Cookie header and the session's CSRF token. */
async function logIn(): Promise<{ cookie: string; csrf: string }> {
  const answer = await dashboard.handle(
    request({
      method: 'POST',
      path: '/login',
      headers: { host: HOST, origin: ORIGIN, 'content-type': 'application/x-www-form-urlencoded' },
      body: `password=${encodeURIComponent(PASSWORD)}`,
    }),
  );
  const cookie = (answer.headers['set-cookie'] ?? '').split(';')[0] ?? '';
  const session = await dashboard.handle(request({ path: '/api/session', headers: { host: HOST, cookie } }));
  return { cookie, csrf: (JSON.parse(session.body) as { csrfToken: string }).csrfToken };
}

beforeEach(() => {
  operated = [];
  dashboard = build();
});

describe('dashboard routes', () => {
  it('answers a request without a session cookie without reading the password (no Secrets Manager call in AWS)', async () => {
    let reads = 0;
    dashboard = build({
      password: async () => {
        reads++;
        return PASSWORD;
      },
    });

    const answers = await Promise.all(
      ['/', '/login', '/api/status', '/assets/app.js'].map((path) => dashboard.handle(request({ path }))),
    );

    expect(answers.map((a) => a.statusCode)).toEqual([303, 200, 401, 200]);
    expect(reads).toBe(0);
  });

  it('sends a visitor without a session to the login, under the API stage, and shows no data', async () => {
    const root = await dashboard.handle(request());
    const api = await dashboard.handle(request({ path: '/api/status' }));
    const login = await dashboard.handle(request({ path: '/login' }));

    expect(root).toMatchObject({ statusCode: 303, headers: { location: '/dev/login' } });
    expect(api.statusCode).toBe(401);
    expect(login.statusCode).toBe(200);
    expect(login.headers['content-security-policy']).toContain("script-src 'self'");
    expect(operated).toEqual([]);
  });

  it('sets a Secure, HttpOnly, SameSite=Strict __Host- cookie on the right password, over https', async () => {
    const answer = await dashboard.handle(
      request({
        method: 'POST',
        path: '/login',
        headers: { host: HOST, origin: ORIGIN, 'content-type': 'application/json' },
        body: JSON.stringify({ password: PASSWORD }),
      }),
    );

    expect(answer.statusCode).toBe(303);
    expect(answer.headers.location).toBe('/dev/');
    expect(answer.headers['set-cookie']).toMatch(
      /^__Host-pinebridge_session=v1\.[^;]+; Path=\/; HttpOnly; SameSite=Strict; Max-Age=43200; Secure$/,
    );
  });

  it('refuses a wrong password (401, the message in the page) and a login posted from another origin (403)', async () => {
    const wrong = await dashboard.handle(
      request({
        method: 'POST',
        path: '/login',
        headers: { host: HOST, origin: ORIGIN },
        body: 'password=guess',
      }),
    );
    const foreign = await dashboard.handle(
      request({
        method: 'POST',
        path: '/login',
        headers: { host: HOST, origin: 'https://evil.example' },
        body: `password=${PASSWORD}`,
      }),
    );

    expect(wrong.statusCode).toBe(401);
    expect(wrong.body).toContain('<p class="login-message" role="alert">Wrong password.</p>');
    expect(wrong.headers['set-cookie']).toBeUndefined();
    expect(foreign.statusCode).toBe(403);
    expect(foreign.headers['set-cookie']).toBeUndefined();
  });

  it('answers the status API with the session cookie, passing the query on as the operator request', async () => {
    const { cookie } = await logIn();

    const status = await dashboard.handle(
      request({
        path: '/api/status',
        query: new URLSearchParams('rejected=true'),
        headers: { host: HOST, cookie },
      }),
    );
    const orders = await dashboard.handle(
      request({
        path: '/api/status/orders',
        query: new URLSearchParams('limit=5&open=true'),
        headers: { host: HOST, cookie },
      }),
    );
    const bad = await dashboard.handle(
      request({
        path: '/api/status/orders',
        query: new URLSearchParams('limit=9999'),
        headers: { host: HOST, cookie },
      }),
    );
    const session = await dashboard.handle(
      request({ path: '/api/session', headers: { host: HOST, cookie } }),
    );

    expect(status.statusCode).toBe(200);
    expect(orders.statusCode).toBe(200);
    expect(bad.statusCode).toBe(400);
    expect(operated.map((o) => o.request)).toEqual([
      { action: 'status', rejected: true },
      { action: 'orders', limit: 5, open: true },
    ]);
    // No live-update endpoint configured: the page polls.
    expect(JSON.parse(session.body)).toMatchObject({ live: null, pollSeconds: 10 });
  });

  it('tells the page where to subscribe to live updates, with a fresh short-lived token each time, and lets the page reach it', async () => {
    const sessions = new DashboardSessions();
    const realtime = 'xyz.appsync-realtime-api.eu-west-1.amazonaws.com';
    const live = {
      url: `wss://${realtime}/event/realtime`,
      host: 'xyz.appsync-api.eu-west-1.amazonaws.com',
      channel: '/pinebridge/updates',
    };
    dashboard = build({ sessions, live: () => live });
    const { cookie } = await logIn();
    const ask = async () =>
      JSON.parse(
        (await dashboard.handle(request({ path: '/api/session', headers: { host: HOST, cookie } }))).body,
      ) as { live: typeof live & { token: string } };

    const first = await ask();
    const page = await dashboard.handle(request({ path: '/', headers: { host: HOST, cookie } }));
    const login = await dashboard.handle(request({ path: '/login' }));

    expect(first.live).toMatchObject(live);
    expect(sessions.liveTokenLeft(PASSWORD, first.live.token)).toBeGreaterThan(0);
    expect(sessions.liveTokenLeft(PASSWORD, first.live.token)).toBeLessThanOrEqual(300);
    // The cookie's session is not in the token: another label, another signature.
    expect(cookie).not.toContain(first.live.token.split('.')[3]);
    expect(page.headers['content-security-policy']).toContain(`connect-src 'self' wss://${realtime}`);
    expect(login.headers['content-security-policy']).toContain("connect-src 'self';");
  });

  it('runs an admin action only with the cookie, this origin and the session CSRF token, recording who asked', async () => {
    const { cookie, csrf } = await logIn();
    const post = (headers: Record<string, string>, body = '{"flatten":true}', path = '/api/admin/stop') =>
      dashboard.handle(request({ method: 'POST', path, headers: { host: HOST, ...headers }, body }));

    const refused = [
      await post({ origin: ORIGIN, 'x-csrf-token': csrf }),
      await post({ cookie, origin: ORIGIN }),
      await post({ cookie, origin: 'https://evil.example', 'x-csrf-token': csrf }),
      await post({ cookie, 'x-csrf-token': csrf }),
    ].map((a) => a.statusCode);
    const malformed = await post({ cookie, origin: ORIGIN, 'x-csrf-token': csrf }, '[1]');
    const unknown = await post({ cookie, origin: ORIGIN, 'x-csrf-token': csrf }, '{}', '/api/admin/launch');
    const done = await post({ cookie, origin: ORIGIN, 'x-csrf-token': csrf });

    expect(refused).toEqual([401, 403, 403, 403]);
    expect(malformed.statusCode).toBe(400);
    expect(unknown.statusCode).toBe(404);
    expect(done.statusCode).toBe(200);
    expect(operated).toHaveLength(1);
    expect(operated[0]?.request).toEqual({
      action: 'stop',
      flatten: true,
      reason: 'stop from the dashboard',
    });
    expect(operated[0]?.source).toMatch(
      /^operator \(dashboard session [\w-]{8} from 198\.51\.100\.4: stop\)$/,
    );
  });

  it('logging out clears the cookie and the session no longer opens the API', async () => {
    const { cookie, csrf } = await logIn();

    const out = await dashboard.handle(
      request({
        method: 'POST',
        path: '/logout',
        headers: { host: HOST, origin: ORIGIN, cookie, 'x-csrf-token': csrf },
      }),
    );
    const after = await dashboard.handle(request({ path: '/api/status', headers: { host: HOST, cookie } }));

    expect(out.statusCode).toBe(200);
    expect(out.headers['set-cookie']).toContain('Max-Age=0');
    expect(after.statusCode).toBe(401);
  });

  it('serves the assets with an ETag, and 304 when the browser has them', async () => {
    const first = await dashboard.handle(request({ path: '/assets/app.js' }));
    const again = await dashboard.handle(
      request({ path: '/assets/app.js', headers: { host: HOST, 'if-none-match': first.headers.etag ?? '' } }),
    );
    const missing = await dashboard.handle(request({ path: '/assets/secrets.json' }));

    expect(first).toMatchObject({ statusCode: 200, body: 'console.log(1)' });
    expect(first.headers['content-type']).toBe('text/javascript; charset=utf-8');
    expect(again.statusCode).toBe(304);
    expect(missing.statusCode).toBe(404);
  });
});

describe('the dashboard function (API Gateway proxy events)', () => {
  const event = (overrides: Partial<APIGatewayProxyEvent>, requestPath: string): APIGatewayProxyEvent =>
    ({
      httpMethod: 'GET',
      path: '/',
      headers: { Host: HOST },
      multiValueHeaders: {},
      queryStringParameters: null,
      multiValueQueryStringParameters: null,
      pathParameters: null,
      stageVariables: null,
      body: null,
      isBase64Encoded: false,
      resource: '/{proxy+}',
      requestContext: { path: requestPath, identity: { sourceIp: '198.51.100.4' } },
      ...overrides,
    }) as APIGatewayProxyEvent;

  it('reads the stage base path, lower-cases headers, decodes a base64 body and keeps repeated query values', () => {
    const parsed = dashboardRequestOf(
      event(
        {
          httpMethod: 'POST',
          path: '/login',
          headers: { Host: HOST, Origin: ORIGIN },
          body: Buffer.from('password=x').toString('base64'),
          isBase64Encoded: true,
          multiValueQueryStringParameters: { a: ['1', '2'] },
        },
        '/prod/login',
      ),
    );

    expect(parsed).toMatchObject({ method: 'POST', path: '/login', basePath: '/prod', body: 'password=x' });
    expect(parsed.headers).toMatchObject({ host: HOST, origin: ORIGIN });
    expect(parsed.query.getAll('a')).toEqual(['1', '2']);
    expect(parsed.sourceIp).toBe('198.51.100.4');
  });

  it('redirects the stage root to its slash, so the page’s relative links stay under the stage', async () => {
    const handler = createDashboardHandler(dashboard);

    const bare = await handler(event({}, '/dev'));
    const slash = await handler(event({}, '/dev/'));

    expect(bare).toMatchObject({ statusCode: 301, headers: { location: '/dev/' } });
    expect(slash).toMatchObject({ statusCode: 303, headers: { location: '/dev/login' } });
  });

  it('answers 500 without the error’s detail when the operator request fails', async () => {
    const failing = build({
      operate: async () => {
        throw new Error('DynamoDB is unreachable');
      },
    });
    const handler = createDashboardHandler(failing);
    dashboard = failing;
    const { cookie } = await logIn();

    const answer = await handler(
      event({ path: '/api/status', headers: { Host: HOST, Cookie: cookie } }, '/dev/api/status'),
    );

    expect(answer.statusCode).toBe(500);
    expect(answer.body).toBe('{"error":"internal error"}');
  });
});
