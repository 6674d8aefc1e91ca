import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { App, type CfnElement, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { EventBus } from 'aws-cdk-lib/aws-events';
import { Secret } from 'aws-cdk-lib/aws-secretsmanager';
import { afterAll, describe, expect, it } from 'vitest';
import { DashboardFunction } from '../../infra/constructs/dashboard-function.js';
import { LiveUpdates } from '../../infra/constructs/live-updates.js';
import {
  PinebridgeFunction,
  UNREACHED_CREDENTIAL_PROVIDERS,
} from '../../infra/constructs/pinebridge-function.js';
import { TABLES } from '../../shared/adapters/dynamodb/tables.js';
import { ASSET_NAMES } from '../../shared/dashboard/assets.js';
import { aStageGet } from '../fixtures/builders.js';

const execFileAsync = promisify(execFile);

const BANNER = "import{createRequire}from'module';const require=createRequire(import.meta.url);";
/** Planted in the synth process's environment: if bundling inlined env values, it would show up. */
const CANARY = 'canary-webhook-secret-7f3a9c2e1b';
const SECRET_VARS = [
  'PINEBRIDGE_WEBHOOK_SECRET',
  'PINEBRIDGE_WEBHOOK_SECRET_PREVIOUS',
  'PINEBRIDGE_WEBHOOK_SECRET_PREVIOUS_UNTIL',
];

/**
 * A Lambda-like environment for a bundle run in a fresh process: a stage, silent logs, fake
 * credentials, and every AWS endpoint a closed loopback port (none of these runs may need AWS).
 */
const LAMBDA_LIKE_ENV = {
  PATH: process.env.PATH,
  PINEBRIDGE_STAGE: 'prod',
  POWERTOOLS_LOG_LEVEL: 'SILENT',
  AWS_REGION: 'eu-west-1',
  AWS_ACCESS_KEY_ID: 'AKIDEXAMPLE',
  AWS_SECRET_ACCESS_KEY: 'not-a-real-key',
  AWS_ENDPOINT_URL: 'http://127.0.0.1:9',
};

const outdir = mkdtempSync(join(tmpdir(), 'pinebridge-bundle-'));
afterAll(() => rmSync(outdir, { recursive: true, force: true }));

describe('webhook bundle', () => {
  it('is a real esbuild ESM bundle (.mjs) with the createRequire banner, no baked-in webhook secret and none of the credential providers Lambda never reaches', () => {
    // Arrange: the real construct, alone in a stack, with bundling on (no bundling-stacks context).
    const saved = SECRET_VARS.map((name) => [name, process.env[name]] as const);
    for (const name of SECRET_VARS) process.env[name] = CANARY;
    let code: string;
    let sourceMap: string;
    try {
      const app = new App({ outdir, builtinCloudFormationValidation: false });
      const stack = new Stack(app, 'WebhookBundle');
      new PinebridgeFunction(stack, 'Webhook', { entry: 'webhook', stage: 'dev', invokedBy: 'api' });

      // Act
      app.synth();
      const functions = Object.values(Template.fromStack(stack).findResources('AWS::Lambda::Function'));
      expect(functions).toHaveLength(1);
      const s3Key = String(
        (functions[0] as { Properties: { Code: { S3Key: string } } }).Properties.Code.S3Key,
      );
      const assetDir = join(outdir, `asset.${s3Key.replace(/\.zip$/, '')}`);
      expect(existsSync(join(assetDir, 'index.js')), 'no CommonJS entry').toBe(false);
      code = readFileSync(join(assetDir, 'index.mjs'), 'utf8');
      sourceMap = readFileSync(join(assetDir, 'index.mjs.map'), 'utf8');
    } finally {
      for (const [name, value] of saved) {
        if (value === undefined) delete process.env[name];
        else process.env[name] = value;
      }
    }

    // Assert: ESM with the banner first, exporting the handler.
    expect(code.startsWith(BANNER)).toBe(true);
    expect(code).toMatch(/export\s*\{[^}]*\bas handler\b[^}]*\}/);
    expect(code).not.toMatch(/\bmodule\.exports\s*=/);
    // No secret: nothing from the build environment, no default value for the secret variables,
    // and the deployed webhook reads its secret only from Secrets Manager (never from the environment).
    expect(code).not.toContain(CANARY);
    expect(sourceMap).not.toContain(CANARY);
    expect(code).not.toMatch(/PINEBRIDGE_WEBHOOK_SECRET\w*\s*(\|\||\?\?|:|=)\s*["'`]/);
    expect(code).not.toContain('PINEBRIDGE_WEBHOOK_SECRET');
    expect(code).toContain('WEBHOOK_SECRET_ID');
    // The credential providers Lambda never reaches are left out, and reached only by a dynamic
    // import() after fromEnv (which Lambda's environment always satisfies), never at load.
    for (const provider of UNREACHED_CREDENTIAL_PROVIDERS) {
      const quoted = provider.replace(/[/.-]/g, (c) => `\\${c}`);
      expect(code, provider).not.toMatch(new RegExp(`from\\s*["']${quoted}["']`));
      expect(code, provider).not.toMatch(new RegExp(`require\\(["']${quoted}["']\\)`));
    }
    expect(code).toContain('import("@aws-sdk/credential-provider-sso")');
  });
});

describe('dashboard bundle', () => {
  it('carries the pages and the script its bundling step built, and the bundled handler serves them in a fresh process', async () => {
    // Arrange: the real construct with bundling on, its after-bundling step included.
    const app = new App({ outdir, builtinCloudFormationValidation: false });
    const stack = new Stack(app, 'DashboardBundle');
    new DashboardFunction(stack, 'Dashboard', {
      stage: 'prod',
      environment: {},
      password: new Secret(stack, 'Password'),
      adminFunctionName: 'pinebridge-prod-admin',
    });
    app.synth();
    const functions = Object.values(Template.fromStack(stack).findResources('AWS::Lambda::Function'));
    expect(functions).toHaveLength(1);
    const s3Key = String((functions[0] as { Properties: { Code: { S3Key: string } } }).Properties.Code.S3Key);
    const assetDir = join(outdir, `asset.${s3Key.replace(/\.zip$/, '')}`);
    for (const file of ['index.html', 'login.html', ...ASSET_NAMES])
      expect(existsSync(join(assetDir, 'dashboard', file)), file).toBe(true);

    // Act: a Lambda-like process imports the bundle and answers three API Gateway events. Every
    // AWS endpoint is a closed loopback port: none of these requests may need AWS.
    const script = `
      const { handler } = await import(${JSON.stringify(pathToFileURL(join(assetDir, 'index.mjs')).href)});
      const answers = [];
      for (const event of ${JSON.stringify(['/login', '/assets/app.js', '/'].map(aStageGet))})
        answers.push(await handler(event));
      process.stdout.write(JSON.stringify(answers));
    `;
    const tables = Object.fromEntries(
      Object.values(TABLES).map((t) => [t.envVar, `pinebridge-prod-${t.id}`]),
    );
    const { stdout } = await execFileAsync(process.execPath, ['--input-type=module', '-e', script], {
      env: {
        ...LAMBDA_LIKE_ENV,
        ...tables,
        DASHBOARD_SECRET_ID: 'pinebridge-prod/dashboard',
        ADMIN_FUNCTION_NAME: 'pinebridge-prod-admin',
      },
    });
    const [login, appJs, root] = JSON.parse(stdout) as {
      statusCode: number;
      headers: Record<string, string>;
      body: string;
    }[];

    // Assert
    expect(login?.statusCode).toBe(200);
    expect(login?.body).toContain('name="password"');
    expect(appJs?.statusCode).toBe(200);
    expect(appJs?.headers['content-type']).toMatch(/^text\/javascript/);
    // lightweight-charts is inside: the page loads nothing from anywhere else.
    expect(appJs?.body.length).toBeGreaterThan(100_000);
    expect(appJs?.body).not.toMatch(/\bimport\s*\(|from\s*["']https?:/);
    expect(root).toMatchObject({ statusCode: 303, headers: { location: '/prod/login' } });
  });
});

describe('live-update bundles', () => {
  it('the authorizer and the publisher bundle and load in a fresh process, refusing what is not theirs without any network', async () => {
    const app = new App({ outdir, builtinCloudFormationValidation: false });
    const stack = new Stack(app, 'LiveBundle');
    const live = new LiveUpdates(stack, 'Live', {
      stage: 'prod',
      prefix: 'pinebridge-prod',
      bus: new EventBus(stack, 'Bus'),
      dashboardSecret: new Secret(stack, 'Password'),
    });
    app.synth();
    const template = Template.fromStack(stack);
    const bundleOf = (fn: LiveUpdates['publisher']) => {
      const resource = template.toJSON().Resources[
        stack.getLogicalId(fn.node.defaultChild as CfnElement)
      ] as {
        Properties: { Code: { S3Key: string } };
      };
      return pathToFileURL(
        join(outdir, `asset.${resource.Properties.Code.S3Key.replace(/\.zip$/, '')}`, 'index.mjs'),
      ).href;
    };
    const script = `
      const authorizer = await import(${JSON.stringify(bundleOf(live.authorizer))});
      const publisher = await import(${JSON.stringify(bundleOf(live.publisher))});
      process.stdout.write(JSON.stringify([
        await authorizer.handler({ authorizationToken: 42 }),
        await publisher.handler({ source: 'aws.cloudwatch', 'detail-type': 'CloudWatch Alarm State Change' }),
      ]));
    `;

    const { stdout } = await execFileAsync(process.execPath, ['--input-type=module', '-e', script], {
      env: {
        ...LAMBDA_LIKE_ENV,
        DASHBOARD_SECRET_ID: 'pinebridge-prod/dashboard',
        LIVE_HTTP_DOMAIN: 'example.appsync-api.eu-west-1.amazonaws.com',
      },
    });

    expect(JSON.parse(stdout)).toEqual([{ isAuthorized: false }, { published: false }]);
  });
});
