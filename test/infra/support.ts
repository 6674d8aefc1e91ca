import { App, type AppProps, type CfnElement, Stack } from 'aws-cdk-lib';
import type { IConstruct } from 'constructs';
import { buildApp } from '../../infra/app.js';
import { parseConfig } from '../../shared/config/load.js';
import type { ConfigInput } from '../../shared/config/schema.js';

/**
 * The context every in-process synth of Pinebridge uses (as infra/local/definition.ts does):
 * Lambda bundling skipped, strong cross-stack references.
 */
export const synthContext = (stage: string) => ({
  stage,
  'aws:cdk:bundling-stacks': [],
  '@aws-cdk/core:defaultCrossStackReferences': 'strong',
});

export interface TestAppOptions {
  stage?: string;
  config?: ConfigInput;
  /** Extra App props, e.g. an outdir. */
  appProps?: Omit<AppProps, 'context'>;
  /** Extra context on top of synthContext(stage). */
  context?: Record<string, unknown>;
}

/**
 * The real app (buildApp, cdk-nag included) for template assertions. CDK's built-in CloudFormation
 * schema validation is switched off: it is not what these tests check, and compiling its WASM
 * validator costs seconds per test file.
 */
export function buildTestApp(options: TestAppOptions = {}) {
  const app = new App({
    builtinCloudFormationValidation: false,
    ...options.appProps,
    context: { ...synthContext(options.stage ?? 'dev'), ...options.context },
  });
  const stacks = buildApp(app, parseConfig(options.config ?? {}));
  return { app, ...stacks };
}

export interface CfnResource {
  Type: string;
  Properties?: Record<string, unknown>;
  DeletionPolicy?: string;
  UpdateReplacePolicy?: string;
}

export interface CfnTemplate {
  Resources: Record<string, CfnResource>;
  Outputs?: Record<string, { Value: unknown; Export?: { Name: string } }>;
}

/** [logicalId, resource] for every resource of a type, in template order. */
export function resourcesOfType(template: CfnTemplate, type: string): [string, CfnResource][] {
  return Object.entries(template.Resources).filter(([, resource]) => resource.Type === type);
}

/** Properties of a resource, failing loudly when it has none. */
export function propsOf(resource: CfnResource | undefined): Record<string, unknown> {
  if (!resource?.Properties) throw new Error('expected a resource with Properties');
  return resource.Properties;
}

/** The logical id CloudFormation uses for a construct's default (L1) resource. */
export function logicalIdOf(construct: IConstruct): string {
  const element = construct.node.defaultChild as CfnElement | undefined;
  if (!element) throw new Error(`${construct.node.path} has no default child`);
  return Stack.of(construct).getLogicalId(element);
}

/**
 * Renders a CloudFormation value as a readable string: `{Ref: X}` → `<X>`,
 * `{Fn::GetAtt: [X, Arn]}` → `<X.Arn>`, `Fn::Join` joined, and `Fn::ImportValue` followed into the
 * exporting template's outputs, so a cross-stack table ARN reads `<signalstable….Arn>`.
 */
export function renderValue(value: unknown, exporting?: CfnTemplate): string {
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  if (value === null || typeof value !== 'object') return JSON.stringify(value);
  const fn = value as Record<string, unknown>;
  if (typeof fn.Ref === 'string') return `<${fn.Ref}>`;
  const getAtt = fn['Fn::GetAtt'];
  if (Array.isArray(getAtt)) return `<${getAtt.join('.')}>`;
  const join = fn['Fn::Join'];
  if (Array.isArray(join)) {
    const [separator, parts] = join as [string, unknown[]];
    return parts.map((part) => renderValue(part, exporting)).join(separator);
  }
  const imported = fn['Fn::ImportValue'];
  if (typeof imported === 'string' && exporting) {
    const output = Object.values(exporting.Outputs ?? {}).find((o) => o.Export?.Name === imported);
    if (!output) throw new Error(`no output exports ${imported}`);
    return renderValue(output.Value, exporting);
  }
  return JSON.stringify(value);
}

/** A value that may be one item or a list (IAM Action/Resource), as a list. */
export const asList = (value: unknown): unknown[] =>
  value === undefined ? [] : Array.isArray(value) ? value : [value];

export interface PolicyStatementJson {
  Effect: string;
  Action?: unknown;
  Resource?: unknown;
  Principal?: unknown;
  Condition?: Record<string, Record<string, unknown>>;
}

/** Every statement of every identity policy in a template: AWS::IAM::Policy and roles' inline policies. */
export function identityPolicyStatements(
  template: CfnTemplate,
): { logicalId: string; statement: PolicyStatementJson }[] {
  const documents: { logicalId: string; document: unknown }[] = [
    ...resourcesOfType(template, 'AWS::IAM::Policy').map(([logicalId, r]) => ({
      logicalId,
      document: propsOf(r).PolicyDocument,
    })),
    ...resourcesOfType(template, 'AWS::IAM::Role').flatMap(([logicalId, r]) =>
      asList(r.Properties?.Policies).map((p) => ({
        logicalId,
        document: (p as { PolicyDocument: unknown }).PolicyDocument,
      })),
    ),
  ];
  return documents.flatMap(({ logicalId, document }) =>
    asList((document as { Statement: unknown }).Statement).map((statement) => ({
      logicalId,
      statement: statement as PolicyStatementJson,
    })),
  );
}

/**
 * The state machine's DefinitionString (an Fn::Join of JSON text and function ARNs) as parsed
 * Amazon States Language; each ARN becomes a placeholder string.
 */
export function parseDefinition(definitionString: unknown): StatesDefinition {
  return JSON.parse(renderValue(definitionString)) as StatesDefinition;
}

export interface StateJson {
  Type: string;
  Next?: string;
  End?: boolean;
  TimeoutSeconds?: number;
  Retry?: { ErrorEquals: string[]; MaxAttempts?: number }[];
  Catch?: { ErrorEquals: string[]; Next: string; ResultPath?: string }[];
}

export interface StatesDefinition {
  StartAt: string;
  States: Record<string, StateJson>;
  TimeoutSeconds?: number;
}
