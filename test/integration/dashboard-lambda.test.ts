import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { APIGatewayProxyEvent, APIGatewayProxyResult } from 'aws-lambda';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TABLES, type TableNames } from '../../shared/adapters/dynamodb/tables.js';
import { adminFunctionName, dashboardSecretName } from '../../shared/config/names.js';
import { type FakeAws, startFakeAws } from '../fakes/aws.js';
import { aDevStageRequest } from '../fixtures/builders.js';
import { freshTables } from '../support/dynamo.js';

/**
 * The deployed dashboard (functions/dashboard.ts `handler`) in AWS mode, as API Gateway calls it:
 * it holds no broker keys and no write grant, so stop and resume reach the IAM-invoked admin
 * function (functions/admin.ts, the real handler) through Lambda Invoke. AWS is the loopback fake
 * at the network boundary; both functions run on DynamoDB Local.
 */
const PASSWORD = 'dashboard-password-for-the-lambda-test';
const HOST = 'abc123.execute-api.us-east-1.amazonaws.com';
const ORIGIN = `https://${HOST}`;
const SOURCE_IP = '198.51.100.7';
const configJson = JSON.stringify({ risk: { duplicateWindowSeconds: 0, pyramiding: true } });

let aws: FakeAws;
let assetsDir: string;
let tables: TableNames;
let dashboard: (event: APIGatewayProxyEvent) => Promise<APIGatewayProxyResult>;
const saved = { ...process.env };

/** An API Gateway (REST, proxy integration) event for the dev stage. */
const event = (method: string, path: string, headers: Record<string, string> = {}, body = '') =>
  aDevStageRequest(method, path, { host: HOST, sourceIp: SOURCE_IP, headers, body });

/** Logs in; the session cookie and its CSRF token. */
async function logIn(): Promise<{ cookie: string; csrf: string }> {
  const login = await dashboard(
    event(
      'POST',
      '/login',
      { Origin: ORIGIN, 'Content-Type': 'application/x-www-form-urlencoded' },
      `password=${encodeURIComponent(PASSWORD)}`,
    ),
  );
  expect(login.statusCode).toBe(303);
  const cookie = String(login.headers?.['set-cookie'] ?? '').split(';')[0] ?? '';
  const session = await dashboard(event('GET', '/api/session', { Cookie: cookie }));
  return { cookie, csrf: (JSON.parse(session.body) as { csrfToken: string }).csrfToken };
}

const status = async (cookie: string) => {
  const answer = await dashboard(event('GET', '/api/status', { Cookie: cookie }));
  expect(answer.statusCode).toBe(200);
  return JSON.parse(answer.body) as { tradingState: string };
};

const adminInvocations = () => aws.invocations.filter((i) => i.functionName === adminFunctionName('dev'));

beforeAll(async () => {
  let endpoint: string;
  ({ endpoint, tables } = await freshTables());
  const functions: Record<string, (event: unknown) => Promise<unknown>> = {};
  // The pages its bundling step would write beside the handler (their content is not under test).
  assetsDir = mkdtempSync(join(tmpdir(), 'pinebridge-dashboard-assets-'));
  for (const [name, content] of Object.entries({
    'index.html': '<!doctype html><title>Pinebridge</title>',
    'login.html': '<!doctype html><form><!--message--><input name="password"></form>',
    'app.js': '',
    'style.css': '',
    'favicon.svg': '<svg/>',
  }))
    writeFileSync(join(assetsDir, name), content);
  aws = await startFakeAws({
    functions,
    secrets: { [dashboardSecretName('dev')]: JSON.stringify({ password: PASSWORD }) },
  });
  // The environments the stack gives the two functions (the admin's is the larger), with the SDK
  // pointed at the fakes.
  Object.assign(process.env, {
    ...Object.fromEntries(
      Object.entries(TABLES).map(([key, def]) => [def.envVar, tables[key as keyof TableNames]]),
    ),
    PINEBRIDGE_CONFIG: configJson,
    PINEBRIDGE_STAGE: 'dev',
    EVENT_BUS_NAME: 'pinebridge-dev',
    DASHBOARD_SECRET_ID: dashboardSecretName('dev'),
    DASHBOARD_ASSETS_DIR: assetsDir,
    ADMIN_FUNCTION_NAME: adminFunctionName('dev'),
    DYNAMODB_ENDPOINT: endpoint,
    AWS_REGION: 'us-east-1',
    AWS_ACCESS_KEY_ID: 'AKIDLAMBDAROLE',
    AWS_SECRET_ACCESS_KEY: 'fake',
    AWS_ENDPOINT_URL_LAMBDA: aws.url,
    AWS_ENDPOINT_URL_SECRETS_MANAGER: aws.url,
    AWS_ENDPOINT_URL_EVENTBRIDGE: aws.url,
  });
  // Imported once their environment is set, as Lambda loads them.
  const admin = await import('../../functions/admin.js');
  functions[adminFunctionName('dev')] = (payload) => admin.handler(payload);
  ({ handler: dashboard } = await import('../../functions/dashboard.js'));
});

afterAll(async () => {
  await aws?.stop();
  rmSync(assetsDir, { recursive: true, force: true });
  process.env = saved;
});

describe('the dashboard function in AWS', () => {
  it('on a fresh deployment asks the admin function for the first status, which opens the book; later reads it answers itself', async () => {
    const { cookie } = await logIn();

    const first = await status(cookie);
    const invokedAfterFirst = adminInvocations().length;
    const second = await status(cookie);

    expect(first.tradingState).toBe('ACTIVE');
    expect(adminInvocations()).toEqual([
      {
        functionName: adminFunctionName('dev'),
        payload: { action: 'status', rejected: false, requestedBy: 'dashboard' },
      },
    ]);
    expect(second.tradingState).toBe('ACTIVE');
    expect(adminInvocations()).toHaveLength(invokedAfterFirst);
  });

  it('stop reaches the admin function with the session that asked, and the dashboard’s next read shows HALTED', async () => {
    const { cookie, csrf } = await logIn();
    const before = adminInvocations().length;

    const answer = await dashboard(
      event(
        'POST',
        '/api/admin/stop',
        { Cookie: cookie, Origin: ORIGIN, 'X-CSRF-Token': csrf, 'Content-Type': 'application/json' },
        JSON.stringify({ reason: 'stopped from the dashboard' }),
      ),
    );

    expect(answer.statusCode).toBe(200);
    expect(JSON.parse(answer.body)).toMatchObject({ halted: { changed: true }, complete: true });
    expect(adminInvocations().slice(before)).toEqual([
      {
        functionName: adminFunctionName('dev'),
        payload: {
          action: 'stop',
          reason: 'stopped from the dashboard',
          flatten: false,
          requestedBy: expect.stringMatching(
            new RegExp(
              `^operator \\(dashboard session [\\w-]{8} from ${SOURCE_IP.replaceAll('.', '\\.')}: stop\\)$`,
            ),
          ),
        },
      },
    ]);
    expect((await status(cookie)).tradingState).toBe('HALTED');
    // The admin function announced it on the bus, naming the dashboard session.
    const halted = aws.events
      .filter((e) => e.DetailType === 'Trading State Changed')
      .map((e) => JSON.parse(e.Detail ?? '{}') as { to: string; source: string });
    expect(halted).toContainEqual(
      expect.objectContaining({ to: 'HALTED', source: expect.stringContaining('dashboard session') }),
    );
  });

  it('resume goes the same way, and a request without the CSRF token reaches nothing', async () => {
    const { cookie, csrf } = await logIn();
    const before = adminInvocations().length;

    const forged = await dashboard(
      event('POST', '/api/admin/resume', { Cookie: cookie, Origin: ORIGIN }, JSON.stringify({ reason: 'x' })),
    );
    const resumed = await dashboard(
      event(
        'POST',
        '/api/admin/resume',
        { Cookie: cookie, Origin: ORIGIN, 'X-CSRF-Token': csrf, 'Content-Type': 'application/json' },
        JSON.stringify({ reason: 'reviewed' }),
      ),
    );

    expect(forged.statusCode).toBe(403);
    expect(resumed.statusCode).toBe(200);
    expect(JSON.parse(resumed.body)).toMatchObject({ changed: true, tradingState: 'ACTIVE' });
    expect(
      adminInvocations()
        .slice(before)
        .map((i) => (i.payload as { action: string }).action),
    ).toEqual(['resume']);
    expect((await status(cookie)).tradingState).toBe('ACTIVE');
  });
});
