import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { App, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { afterAll, describe, expect, it } from 'vitest';
import {
  PinebridgeFunction,
  UNREACHED_CREDENTIAL_PROVIDERS,
} from '../../infra/constructs/pinebridge-function.js';

const BANNER = "import{createRequire}from'module';const require=createRequire(import.meta.url);";
/** Planted in the synth process's environment: if bundling inlined env values, it would show up. */
const CANARY = 'canary-webhook-secret-7f3a9c2e1b';
const SECRET_VARS = [
  'PINEBRIDGE_WEBHOOK_SECRET',
  'PINEBRIDGE_WEBHOOK_SECRET_PREVIOUS',
  'PINEBRIDGE_WEBHOOK_SECRET_PREVIOUS_UNTIL',
];

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
