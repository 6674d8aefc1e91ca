import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { type LocalRuntime, startLocalRuntime } from '../../infra/local/runtime.js';
import { TABLES, tableNamesFor } from '../../shared/adapters/dynamodb/tables.js';
import { parseConfig } from '../../shared/config/load.js';
import { adminFunctionName, webhookSecretName } from '../../shared/config/names.js';
import { type FakeAws, startFakeAws } from '../fakes/aws.js';
import { runCli } from '../support/cli.js';

/**
 * `pinebridge --stage dev` as it runs against a deployment: the CLI invokes the admin function by
 * name and reads the webhook secret from Secrets Manager with the operator's AWS credentials. AWS is
 * a loopback fake at the network boundary; behind it the real admin handler runs on DynamoDB Local,
 * sharing its tables with a local bot that stands in for the deployed webhook and workflow.
 */
const SECRET = `whsec-${randomUUID()}`;
const ADMIN = `admin-${randomUUID()}`;
const prefix = `stage-${randomUUID().slice(0, 8)}`;
const configJson = JSON.stringify({
  api: { throttle: { rateLimit: 1000, burstLimit: 1000 } },
  risk: {
    duplicateWindowSeconds: 0,
    pyramiding: true,
    maxOrdersPerMinute: 1000,
    maxOrdersPerMinutePerSymbol: 1000,
  },
});

let runtime: LocalRuntime;
let aws: FakeAws;
let adminHandler: (event: unknown) => Promise<unknown>;
let awsEnv: Record<string, string>;

const cli = (args: string[], env: Record<string, string> = {}) =>
  runCli([...args, '--stage', 'dev'], { env: { ...awsEnv, ...env } });
const localState = async () => {
  const response = await fetch(`${runtime.url}/status`, { headers: { authorization: `Bearer ${ADMIN}` } });
  return ((await response.json()) as { tradingState: string }).tradingState;
};

beforeAll(async () => {
  runtime = await startLocalRuntime({
    config: parseConfig(JSON.parse(configJson)),
    webhookSecret: SECRET,
    adminToken: ADMIN,
    port: 0,
    store: { kind: 'dynamodb', endpoint: inject('dynamoEndpoint'), tablePrefix: prefix },
  });
  const tables = tableNamesFor(prefix);
  const functions: Record<string, (event: unknown) => Promise<unknown>> = {};
  aws = await startFakeAws({
    functions,
    secrets: { [webhookSecretName('dev')]: JSON.stringify({ current: SECRET }) },
  });
  // The environment the stack gives the admin function, with the SDK pointed at the fakes.
  Object.assign(process.env, {
    ...Object.fromEntries(
      Object.entries(TABLES).map(([key, def]) => [def.envVar, tables[key as keyof typeof tables]]),
    ),
    EVENT_BUS_NAME: 'pinebridge-dev',
    PINEBRIDGE_CONFIG: configJson,
    WEBHOOK_URL: `${runtime.url}/webhook`,
    DYNAMODB_ENDPOINT: inject('dynamoEndpoint'),
    AWS_REGION: 'us-east-1',
    AWS_ACCESS_KEY_ID: 'AKIDLAMBDAROLE',
    AWS_SECRET_ACCESS_KEY: 'fake',
    AWS_ENDPOINT_URL_EVENTBRIDGE: aws.url,
  });
  // Imported once its environment is set, as Lambda loads it.
  ({ handler: adminHandler } = await import('../../functions/admin.js'));
  functions[adminFunctionName('dev')] = adminHandler;
  awsEnv = {
    AWS_REGION: 'us-east-1',
    AWS_ACCESS_KEY_ID: 'AKIDOPERATOR',
    AWS_SECRET_ACCESS_KEY: 'fake',
    AWS_ENDPOINT_URL_LAMBDA: aws.url,
    AWS_ENDPOINT_URL_SECRETS_MANAGER: aws.url,
  };
});

afterAll(async () => {
  await runtime?.stop();
  await aws?.stop();
});

describe('pinebridge --stage dev (the deployed admin function, invoked with IAM)', () => {
  it('status invokes pinebridge-dev-admin with the caller named, and prints the state', async () => {
    const run = await cli(['status']);

    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/Trading state\s+ACTIVE/);
    expect(aws.invocations.at(-1)).toEqual({
      functionName: 'pinebridge-dev-admin',
      payload: {
        action: 'status',
        requestedBy: expect.stringContaining('via pinebridge CLI'),
      },
    });
  });

  it('send-test-alert finds the webhook URL through the admin function and the secret in Secrets Manager, and reports the fill', async () => {
    const run = await cli(['send-test-alert', '--symbol', 'AAPL', '--price', '187.5']);
    const orders = await cli(['orders', '--json']);

    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/Signal \w+: filled/);
    expect(JSON.parse(orders.stdout)).toContainEqual(
      expect.objectContaining({ symbol: 'AAPL', status: 'filled' }),
    );
  });

  it('stop halts the deployment (announced on the bus) and resume brings it back, each recorded with who asked', async () => {
    const stop = await cli(['stop', '--yes', '--reason', 'stage test']);
    const halted = await localState();
    const resume = await cli(['resume', '--reason', 'reviewed']);

    expect(stop.code).toBe(0);
    expect(stop.stdout).toMatch(/HALTED at/);
    expect(halted).toBe('HALTED');
    expect(resume.stdout).toBe('Trading is ACTIVE again.\n');
    expect(await localState()).toBe('ACTIVE');
    const transitions = aws.events
      .filter((e) => e.DetailType === 'Trading State Changed')
      .map((e) => JSON.parse(e.Detail ?? '{}') as { to: string; source: string });
    expect(transitions).toEqual([
      expect.objectContaining({
        to: 'HALTED',
        source: expect.stringMatching(/via pinebridge CLI \(stop\)$/),
      }),
      expect.objectContaining({
        to: 'ACTIVE',
        source: expect.stringMatching(/via pinebridge CLI \(resume\)$/),
      }),
    ]);
  });

  it('credentials IAM refuses are exit 3 with a clear message, and change nothing', async () => {
    const run = await cli(['stop', '--yes'], { AWS_ACCESS_KEY_ID: 'DENIED' });

    expect(run.code).toBe(3);
    expect(run.stderr).toContain(
      'AWS refused the request to stage dev (pinebridge-dev-admin) (AccessDeniedException)',
    );
    expect(await localState()).toBe('ACTIVE');
  });

  it('a stage that is not deployed is exit 4, naming the function it looked for (target options go before or after the command)', async () => {
    const run = await runCli(['--stage', 'prod', 'status'], { env: awsEnv });

    expect(run.code).toBe(4);
    expect(run.stderr).toContain('stage prod (pinebridge-prod-admin) was not found');
  });

  it('the admin function refuses a malformed request before it changes anything', async () => {
    await expect(adminHandler({ action: 'stop' })).rejects.toThrow(/reason/);
    await expect(adminHandler({ action: 'launch', reason: 'x' })).rejects.toThrow();
    expect(await localState()).toBe('ACTIVE');
  });

  it('no invocation payload or event carries the webhook secret or the admin token', () => {
    const seen = JSON.stringify([aws.invocations, aws.events]);

    expect(aws.invocations.length).toBeGreaterThan(5);
    expect(seen).not.toContain(SECRET);
    expect(seen).not.toContain(ADMIN);
  });
});
