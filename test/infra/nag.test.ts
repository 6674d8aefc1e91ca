import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type App, Validations } from 'aws-cdk-lib';
import { PolicyDocument, PolicyStatement, Role, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import { Queue } from 'aws-cdk-lib/aws-sqs';
import { AwsSolutionsChecks, type NagPack, ServerlessChecks } from 'cdk-nag';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildTestApp } from './support.js';

/**
 * How cdk-nag v3 reports (verified against cdk-nag 3.0.2 / aws-cdk-lib 2.276): each pack
 * (AwsSolutions, Serverless) is a CDK validation plugin, so app.synth() runs it and writes validation-report.json into
 * the cloud assembly. Unacknowledged findings make synth throw (in "inmemory" app mode the message
 * contains the report). Acknowledged findings are dropped by cdk-nag itself and recorded only as
 * construct metadata (Validations.ACKNOWLEDGED_RULES_METADATA_KEY: { "<prefix>::<rule id>": reason }).
 */

interface ValidationReport {
  pluginReports: {
    pluginName: string;
    conclusion: 'success' | 'failure';
    violations: { ruleName: string; violatingConstructs: { constructPath: string }[] }[];
  }[];
}

const readReport = (directory: string) =>
  JSON.parse(readFileSync(join(directory, 'validation-report.json'), 'utf8')) as ValidationReport;

/** Every acknowledgement in the app: where it was made, the rule id and the reason. */
function acknowledgements(app: App): { path: string; id: string; reason: unknown }[] {
  return app.node.findAll().flatMap((construct) =>
    construct.node.metadata
      .filter((entry) => entry.type === Validations.ACKNOWLEDGED_RULES_METADATA_KEY)
      .flatMap((entry) =>
        Object.entries(entry.data as Record<string, unknown>).map(([key, reason]) => ({
          path: construct.node.path,
          // aws-cdk-lib records ids with a namespace prefix ("Annotation::"); cdk-nag strips it too.
          id: key.replace(/^annotation::/i, ''),
          reason,
        })),
      ),
  );
}

const packs = (): NagPack[] => [new AwsSolutionsChecks(), new ServerlessChecks()];

/** The findings both packs would report if nothing were acknowledged. */
function findingsIgnoringAcknowledgements(app: App) {
  return packs().flatMap((checks) => {
    // cdk-nag consults acknowledgements in one (TypeScript-private) method; bypass it for this audit.
    (checks as unknown as { isAcknowledged: () => boolean }).isAcknowledged = () => false;
    return checks.validateScope(app).violations;
  });
}

/** Every optional resource on: the allow-list, WAF, provisioned concurrency, the health check, Alpaca, e-mail, Express. */
const EVERY_SWITCH_ON = {
  broker: 'alpaca',
  api: { allowList: { enabled: true }, waf: { enabled: true } },
  webhook: { provisionedConcurrency: 1, maxBodyBytes: 40_000 },
  monitoring: { healthCheck: true },
  notifications: { email: 'trader@example.com' },
  workflow: { type: 'EXPRESS', orderTimeoutSeconds: 240 },
  risk: { marketHours: 'regular' },
} as const;

const outdirs: string[] = [];
const freshOutdir = () => {
  const dir = mkdtempSync(join(tmpdir(), 'pinebridge-nag-'));
  outdirs.push(dir);
  return dir;
};
afterAll(() => {
  for (const dir of outdirs) rmSync(dir, { recursive: true, force: true });
});

describe.each([
  ['default config', {}],
  ['every switch on', EVERY_SWITCH_ON],
])('cdk-nag AwsSolutions and Serverless on the whole app (both stacks, %s)', (_, config) => {
  let app: App;
  let assemblyDirectory: string;

  beforeAll(() => {
    ({ app } = buildTestApp({ appProps: { outdir: freshOutdir() }, config }));
    assemblyDirectory = app.synth().directory;
  });

  it('synthesizes with zero unacknowledged findings from either pack', () => {
    const report = readReport(assemblyDirectory);

    // CDK writes a plugin's report only when it fails (the planted-violation test below shows one).
    expect(report.pluginReports.filter((r) => r.conclusion === 'failure')).toEqual([]);
    expect(report.pluginReports.flatMap((r) => r.violations)).toEqual([]);
    // The same checks run directly over the tree, so an empty report cannot mean "did not run".
    for (const pack of packs()) {
      const direct = pack.validateScope(app);
      expect(direct.violations).toEqual([]);
      expect(direct.success).toBe(true);
    }
  });

  it('every acknowledgement names an AwsSolutions or Serverless rule and carries a real reason', () => {
    const acks = acknowledgements(app);

    expect(acks.length).toBeGreaterThan(0);
    for (const ack of acks) {
      expect(ack.id, ack.path).toMatch(/^(AwsSolutions-[A-Z]+\d+|Serverless-[A-Za-z0-9]+)(\[.+\])?$/);
      expect(typeof ack.reason, `${ack.path} ${ack.id}`).toBe('string');
      expect(String(ack.reason).trim().length, `${ack.path} ${ack.id}`).toBeGreaterThan(0);
      expect(String(ack.reason), `${ack.path} ${ack.id}`).not.toMatch(/^\s*(todo|tbd|fixme|n\/a|-)\s*$/i);
    }
  });

  it('no acknowledgement is stale: each one silences a finding at or under the construct it is on', () => {
    const findings = findingsIgnoringAcknowledgements(app);

    for (const ack of acknowledgements(app)) {
      const silenced = findings.some(
        (finding) =>
          finding.ruleName === ack.id &&
          finding.violatingResources.some(
            (r) => r.constructPath === ack.path || r.constructPath?.startsWith(`${ack.path}/`),
          ),
      );
      expect(silenced, `${ack.id} acknowledged on ${ack.path} matches no finding`).toBe(true);
    }
  });
});

describe('cdk-nag can fail the synth', () => {
  it('an IAM role with a wildcard inline policy and a queue without SSL enforcement are reported by both packs and stop synth', () => {
    // Arrange: the real app plus two constructs that break AwsSolutions rules.
    const outdir = freshOutdir();
    const { app, stateless } = buildTestApp({
      appProps: { outdir },
      // Make synth throw with the full report regardless of NODE_ENV.
      context: { '@aws-cdk/core:appMode': 'inmemory' },
    });
    new Role(stateless, 'OverreachingRole', {
      assumedBy: new ServicePrincipal('lambda.amazonaws.com'),
      inlinePolicies: {
        everything: new PolicyDocument({
          statements: [new PolicyStatement({ actions: ['*'], resources: ['*'] })],
        }),
      },
    });
    new Queue(stateless, 'PlainTextQueue', { enforceSSL: false });

    // Act
    let message = '';
    try {
      app.synth();
    } catch (error) {
      message = (error as Error).message;
    }

    // Assert: synth threw, naming the findings, and the report records them against the constructs.
    expect(message).toContain('AwsSolutions-IAM5[Action::*]');
    expect(message).toContain('AwsSolutions-SQS4');
    // The Serverless pack fails the synth too (a queue with no redrive policy of its own).
    expect(message).toContain('Serverless-SQSRedrivePolicy');
    const nag = readReport(outdir).pluginReports.find((r) => r.pluginName.includes('AwsSolutions'));
    expect(nag?.conclusion).toBe('failure');
    const pathsOf = (rule: string) =>
      (nag?.violations ?? [])
        .filter((v) => v.ruleName === rule)
        .flatMap((v) => v.violatingConstructs.map((c) => c.constructPath));
    expect(pathsOf('AwsSolutions-IAM5[Action::*]')).toContain(
      `${stateless.node.path}/OverreachingRole/Resource`,
    );
    expect(pathsOf('AwsSolutions-SQS4')).toContain(`${stateless.node.path}/PlainTextQueue/Resource`);
    // Nothing of the real app is reported: only the two intruders.
    const reported = (nag?.violations ?? []).flatMap((v) =>
      v.violatingConstructs.map((c) => c.constructPath),
    );
    for (const path of reported) expect(path).toMatch(/\/(OverreachingRole|PlainTextQueue)\//);
  });
});
