import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { Template } from 'aws-cdk-lib/assertions';
import type { APIGatewayProxyResult } from 'aws-lambda';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TABLES, type TableKey, type TableNames } from '../../shared/adapters/dynamodb/tables.js';
import { adminFunctionName, dashboardSecretName, webhookSecretName } from '../../shared/config/names.js';
import type { OrderState } from '../../shared/usecases/trade-flow.js';
import { type FakeAws, startFakeAws } from '../fakes/aws.js';
import { type DynamoCall, type DynamoRecorder, startDynamoRecorder } from '../fakes/dynamodb-recorder.js';
import { type FakeNotify, startFakeNotify } from '../fakes/notify.js';
import { aDevStageRequest } from '../fixtures/builders.js';
import { buildTestApp, type CfnTemplate, logicalIdOf, StatelessView } from '../infra/support.js';
import { documentClient, freshTables } from '../support/dynamo.js';

/**
 * Least privilege at run time: every function's real handler does its work — a whole trade flow
 * (fill, cancel at the deadline, compensation, rejection), the breaker, the reconciler's complete
 * and indexed passes, every operator request (the emergency stop with flatten included), the
 * dashboard's reads and its stop — against DynamoDB Local behind a recorder, and each DynamoDB
 * action it needs must be one its role is granted in the synthesized stack. A store change that
 * needs a new action fails here, not in production with AccessDeniedException.
 *
 * The built-in paper broker, which reaches the most tables (its order book is one).
 */
const WEBHOOK_SECRET = 'least-privilege-webhook-secret-0123';
const PASSWORD = 'least-privilege-dashboard-password';
const HOST = 'abc123.execute-api.us-east-1.amazonaws.com';
const ORIGIN = `https://${HOST}`;
const CONFIG = { risk: { duplicateWindowSeconds: 0, pyramiding: true } };

/** What the stack grants each function, keyed `signals`, `orders/index/byLifecycle`… */
let granted: Record<string, Record<string, string[]>>;
let tables: TableNames;
let recorder: DynamoRecorder;
let aws: FakeAws;
let notify: FakeNotify;
let assetsDir: string;
const saved = { ...process.env };

type Handler = (input: unknown) => Promise<unknown>;
const handlers: Record<string, Handler> = {};
/** Runs a function's handler with its DynamoDB calls recorded under its name. */
const run = <T = unknown>(name: string, input?: unknown): Promise<T> =>
  recorder.as(name, () => (handlers[name] as Handler)(input)) as Promise<T>;

const apiEvent = (method: string, path: string, headers: Record<string, string> = {}, body = '') =>
  aDevStageRequest(method, path, { host: HOST, sourceIp: '198.51.100.9', headers, body });

let alerts = 0;
/** Sends an alert (with an id of its own) through the webhook function; its signal id. */
async function alert(fields: Record<string, unknown>): Promise<string> {
  const body = JSON.stringify({ ...fields, id: `least-privilege-${++alerts}` });
  const event = {
    ...apiEvent('POST', `/webhook/${WEBHOOK_SECRET}`, { 'Content-Type': 'application/json' }, body),
    pathParameters: { secret: WEBHOOK_SECRET },
  };
  const answer = await run<APIGatewayProxyResult>('Webhook', event);
  expect(answer.statusCode, answer.body).toBe(202);
  return (JSON.parse(answer.body) as { signalId: string }).signalId;
}

const signalEvent = (signalId: string) => ({ signalId, symbol: 'n/a', receivedAt: new Date().toISOString() });

async function approve(signalId: string): Promise<string> {
  const decision = await run<{ decision: string; clientOrderId?: string }>(
    'RiskCheck',
    signalEvent(signalId),
  );
  expect(decision.decision).toBe('approved');
  return decision.clientOrderId ?? '';
}

beforeAll(async () => {
  let endpoint: string;
  ({ endpoint, tables } = await freshTables());
  recorder = await startDynamoRecorder(endpoint);

  // The grants, from the stack as synthesized with the same configuration.
  const app = buildTestApp({ config: CONFIG });
  const view = new StatelessView(
    Template.fromStack(app.stateless).toJSON() as CfnTemplate,
    Template.fromStack(app.stateful).toJSON() as CfnTemplate,
  );
  const keyOf = new Map(
    (Object.keys(TABLES) as TableKey[]).map((key) => [`<${logicalIdOf(app.stateful.tables[key])}.Arn>`, key]),
  );
  granted = Object.fromEntries(
    view.functionNames().map((name) => [
      name,
      Object.fromEntries(
        Object.entries(view.dynamoAccess(view.functionId(name))).map(([resource, actions]) => {
          const [arn = '', index] = resource.split('/index/');
          return [index === undefined ? keyOf.get(arn) : `${keyOf.get(arn)}/index/${index}`, actions];
        }),
      ),
    ]),
  );

  const functions: Record<string, Handler> = {};
  notify = await startFakeNotify();
  aws = await startFakeAws({
    functions,
    secrets: {
      [webhookSecretName('dev')]: JSON.stringify({ current: WEBHOOK_SECRET }),
      [dashboardSecretName('dev')]: JSON.stringify({ password: PASSWORD }),
      'pinebridge-dev/notifications': JSON.stringify({
        PINEBRIDGE_TELEGRAM_BOT_TOKEN: notify.telegramToken,
        PINEBRIDGE_TELEGRAM_CHAT_ID: notify.telegramChatId,
        PINEBRIDGE_TELEGRAM_API_URL: notify.url,
      }),
    },
  });
  assetsDir = mkdtempSync(join(tmpdir(), 'pinebridge-least-privilege-'));
  for (const name of ['index.html', 'login.html', 'app.js', 'style.css', 'favicon.svg'])
    writeFileSync(join(assetsDir, name), name === 'login.html' ? '<form><!--message--></form>' : '');
  // What the stack gives the functions (each reads its part), with the SDK pointed at the fakes.
  Object.assign(process.env, {
    ...Object.fromEntries(Object.entries(TABLES).map(([key, def]) => [def.envVar, tables[key as TableKey]])),
    PINEBRIDGE_CONFIG: JSON.stringify(CONFIG),
    PINEBRIDGE_STAGE: 'dev',
    EVENT_BUS_NAME: 'pinebridge-dev',
    WEBHOOK_SECRET_ID: webhookSecretName('dev'),
    DASHBOARD_SECRET_ID: dashboardSecretName('dev'),
    NOTIFICATIONS_SECRET_ID: 'pinebridge-dev/notifications',
    DASHBOARD_ASSETS_DIR: assetsDir,
    ADMIN_FUNCTION_NAME: adminFunctionName('dev'),
    DYNAMODB_ENDPOINT: recorder.endpoint,
    AWS_REGION: 'us-east-1',
    AWS_ACCESS_KEY_ID: 'AKIDLAMBDAROLE',
    AWS_SECRET_ACCESS_KEY: 'fake',
    AWS_ENDPOINT_URL_LAMBDA: aws.url,
    AWS_ENDPOINT_URL_SECRETS_MANAGER: aws.url,
    AWS_ENDPOINT_URL_EVENTBRIDGE: aws.url,
    POWERTOOLS_METRICS_DISABLED: 'true',
  });
  // Imported once their environment is set, as Lambda loads them.
  const modules: Record<string, Promise<{ handler: unknown }>> = {
    Webhook: import('../../functions/webhook.js'),
    Health: import('../../functions/health.js'),
    RiskCheck: import('../../functions/risk-check.js'),
    RecordRejection: import('../../functions/record-rejection.js'),
    CancelOrders: import('../../functions/cancel-orders.js'),
    SubmitOrder: import('../../functions/submit-order.js'),
    CheckOrder: import('../../functions/check-order.js'),
    RecordFill: import('../../functions/record-fill.js'),
    RecordFailure: import('../../functions/record-failure.js'),
    Breaker: import('../../functions/breaker.js'),
    Reconciler: import('../../functions/reconciler.js'),
    Admin: import('../../functions/admin.js'),
    Dashboard: import('../../functions/dashboard.js'),
    Notifier: import('../../functions/notifier.js'),
  };
  for (const [name, module] of Object.entries(modules)) handlers[name] = (await module).handler as Handler;
  // The dashboard reaches the admin function through Lambda Invoke, which runs it as itself.
  functions[adminFunctionName('dev')] = (payload) => run('Admin', payload);
});

afterAll(async () => {
  await aws?.stop();
  await notify?.stop();
  await recorder?.stop();
  if (assetsDir) rmSync(assetsDir, { recursive: true, force: true });
  process.env = saved;
});

describe('each function’s DynamoDB calls are within its role’s grants (paper broker)', () => {
  it('runs every function’s work and needs no action its role lacks', async () => {
    // The dashboard first, on a fresh deployment: its first read goes to the admin function.
    const login = await run<APIGatewayProxyResult>(
      'Dashboard',
      apiEvent(
        'POST',
        '/login',
        { Origin: ORIGIN, 'Content-Type': 'application/x-www-form-urlencoded' },
        `password=${PASSWORD}`,
      ),
    );
    const cookie = String(login.headers?.['set-cookie'] ?? '').split(';')[0] ?? '';
    const dashboardGet = async (path: string, query: Record<string, string> = {}) => {
      const event = { ...apiEvent('GET', path, { Cookie: cookie }), queryStringParameters: query };
      const answer = await run<APIGatewayProxyResult>('Dashboard', event);
      expect(answer.statusCode, `${path}: ${answer.body}`).toBe(200);
      return JSON.parse(answer.body) as Record<string, unknown>;
    };
    await dashboardGet('/api/status');

    // A fill, a cancel at the deadline, a compensation and a rejection, task by task.
    const filled = await alert({ ticker: 'AAPL', action: 'buy', quantity: 1, price: '100' });
    const resting = await alert({
      ticker: 'AAPL',
      action: 'buy',
      quantity: 1,
      orderType: 'limit',
      limitPrice: '95',
      price: '100',
    });
    const failing = await alert({
      ticker: 'MSFT',
      action: 'buy',
      quantity: 1,
      orderType: 'limit',
      limitPrice: '95',
      price: '100',
    });
    const rejected = await alert({ ticker: 'ZZZZ', action: 'buy', quantity: 1, price: '10' });

    const filledOrder = await approve(filled);
    const submitted = await run<OrderState>('SubmitOrder', { signalId: filled, clientOrderId: filledOrder });
    const checked = await run<OrderState>('CheckOrder', submitted);
    expect(checked.final).toBe(true);
    await run('RecordFill', checked);

    const restingOrder = await approve(resting);
    const open = await run<OrderState>('SubmitOrder', { signalId: resting, clientOrderId: restingOrder });
    expect(open.final).toBe(false);
    // Before its deadline an open order is left resting unless trading is HALTED (read to know).
    expect((await run<OrderState>('CheckOrder', open)).final).toBe(false);
    const cancelled = await run<OrderState>('CheckOrder', { ...open, deadline: new Date(0).toISOString() });
    expect(cancelled.order.status).toBe('cancelled');
    await run('RecordFill', cancelled);

    const failingOrder = await approve(failing);
    await run('SubmitOrder', { signalId: failing, clientOrderId: failingOrder });
    await run('RecordFailure', {
      signalId: failing,
      clientOrderId: failingOrder,
      error: { Error: 'States.Timeout', Cause: 'test' },
    });

    const denied = await run<{ decision: string; denials: unknown[] }>('RiskCheck', signalEvent(rejected));
    expect(denied.decision).toBe('rejected');
    await run('RecordRejection', { signalId: rejected, denials: denied.denials });

    // A cancel alert: one order resting at the paper broker, one approved and not yet sent.
    const limitGoog = {
      ticker: 'GOOG',
      action: 'buy',
      quantity: 1,
      orderType: 'limit',
      limitPrice: '95',
      price: '100',
    };
    const restingGoog = await alert(limitGoog);
    await run('SubmitOrder', { signalId: restingGoog, clientOrderId: await approve(restingGoog) });
    const unsentGoog = await alert(limitGoog);
    await approve(unsentGoog);
    const cancelGoog = await alert({ ticker: 'GOOG', action: 'cancel' });
    const toCancel = await run<{ decision: string }>('RiskCheck', signalEvent(cancelGoog));
    expect(toCancel.decision).toBe('cancel');
    const afterCancel = await run<{ decide: boolean }>('CancelOrders', toCancel);
    expect(afterCancel.decide).toBe(false);

    await run('Breaker');

    // Left behind an hour ago: an undecided signal and an order no workflow is polling.
    const undecided = await alert({ ticker: 'MSFT', action: 'buy', quantity: 1, price: '100' });
    const abandoned = await alert({
      ticker: 'MSFT',
      action: 'buy',
      quantity: 1,
      orderType: 'limit',
      limitPrice: '95',
      price: '100',
    });
    const abandonedOrder = await approve(abandoned);
    await run('SubmitOrder', { signalId: abandoned, clientOrderId: abandonedOrder });
    const anHourAgo = new Date(Date.now() - 3_600_000).toISOString();
    const db = documentClient();
    await db.send(
      new UpdateCommand({
        TableName: tables.signals,
        Key: { pk: undecided },
        UpdateExpression: 'SET receivedAt = :at',
        ExpressionAttributeValues: { ':at': anHourAgo },
      }),
    );
    await db.send(
      new UpdateCommand({
        TableName: tables.orders,
        Key: { clientOrderId: abandonedOrder },
        UpdateExpression: 'SET updatedAt = :at',
        ExpressionAttributeValues: { ':at': anHourAgo },
      }),
    );
    // The first run of a container lists open orders completely (a scan), the next from the index.
    const complete = await run<{ republished: string[]; settled: Record<string, string> }>('Reconciler');
    expect(complete.republished).toContain(undecided);
    expect(Object.keys(complete.settled)).toContain(abandoned);
    await run('Reconciler');

    // A re-delivered alert is answered from the webhook's dedup marker.
    const again = await run<APIGatewayProxyResult>('Webhook', {
      ...apiEvent(
        'POST',
        `/webhook/${WEBHOOK_SECRET}`,
        {},
        JSON.stringify({ ticker: 'AAPL', action: 'buy', quantity: 1, price: '100', id: 'least-privilege-1' }),
      ),
      pathParameters: { secret: WEBHOOK_SECRET },
    });
    expect(again.statusCode).toBe(200);

    // Every operator request, the emergency stop with flatten included, with an order resting.
    const beforeStop = await alert({
      ticker: 'MSFT',
      action: 'buy',
      quantity: 1,
      orderType: 'limit',
      limitPrice: '95',
      price: '100',
    });
    await run('SubmitOrder', { signalId: beforeStop, clientOrderId: await approve(beforeStop) });
    const today = new Date().toISOString().slice(0, 10);
    for (const request of [
      { action: 'status' },
      { action: 'positions' },
      { action: 'orders', open: true },
      { action: 'orders' },
      { action: 'signals', rejected: true },
      { action: 'pnl' },
      { action: 'export', day: today },
      { action: 'stop', reason: 'least privilege', flatten: true },
      { action: 'reset-breaker', reason: 'least privilege' },
      { action: 'stop', reason: 'least privilege again' },
      { action: 'resume', reason: 'least privilege' },
    ])
      await run('Admin', { ...request, requestedBy: 'test' });

    // The dashboard's reads and health, and its stop (through the admin function).
    await dashboardGet('/api/status', { rejected: 'true' });
    for (const view of ['positions', 'orders', 'signals', 'pnl']) await dashboardGet(`/api/status/${view}`);
    await dashboardGet('/api/status/orders', { open: 'true' });
    await dashboardGet('/api/health');
    const session = await dashboardGet('/api/session');
    const stop = await run<APIGatewayProxyResult>(
      'Dashboard',
      apiEvent(
        'POST',
        '/api/admin/stop',
        {
          Cookie: cookie,
          Origin: ORIGIN,
          'X-CSRF-Token': String(session.csrfToken),
          'Content-Type': 'application/json',
        },
        JSON.stringify({ reason: 'from the dashboard' }),
      ),
    );
    expect(stop.statusCode, stop.body).toBe(200);

    // The notifier: the daily summary of the session so far (it reads what pinebridge pnl reads).
    const summary = await run<{ told: number }>('Notifier', { dailySummary: 'now' });
    expect(summary.told).toBe(1);
    expect(notify.messages.at(-1)?.visible).toMatch(/Daily summary/);

    const health = await run<APIGatewayProxyResult>('Health');
    expect(health.statusCode).toBe(200);

    // Every function's calls went through the recorder, and each was granted.
    const callers = new Set(recorder.calls.map((c) => c.caller));
    expect([...callers].sort()).toEqual(Object.keys(handlers).sort());
    const tableKey = new Map(Object.entries(tables).map(([key, name]) => [name, key]));
    const refused = recorder.calls.filter((call: DynamoCall) => {
      const key = tableKey.get(call.table);
      const resource = call.index === undefined ? key : `${key}/index/${call.index}`;
      return !(granted[call.caller]?.[resource ?? ''] ?? []).includes(call.action);
    });
    expect([
      ...new Set(
        refused.map((c) => `${c.caller}: ${c.action} on ${c.table}${c.index ? `/index/${c.index}` : ''}`),
      ),
    ]).toEqual([]);
    // The dashboard only read.
    expect(
      [...new Set(recorder.calls.filter((c) => c.caller === 'Dashboard').map((c) => c.action))].sort(),
    ).toEqual(['GetItem', 'Query']);
  });
});
