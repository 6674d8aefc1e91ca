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

export interface LambdaProps {
  Runtime: string;
  Architectures: string[];
  TracingConfig?: { Mode: string };
  Timeout: number;
  MemorySize?: number;
  Role: unknown;
  FunctionName?: string;
  LoggingConfig?: { LogGroup?: unknown; LogFormat?: string };
  Environment?: { Variables: Record<string, unknown> };
}

/**
 * Read-only questions about a synthesized stateless template, with the stateful template to
 * follow cross-stack references into: routes, functions by their construct id, and what each
 * function's role may do.
 */
export class StatelessView {
  constructor(
    readonly json: CfnTemplate,
    readonly stateful: CfnTemplate,
  ) {}

  resource(logicalId: string): CfnResource {
    const found = this.json.Resources[logicalId];
    if (!found) throw new Error(`no resource ${logicalId}`);
    return found;
  }

  lambdas(): [string, CfnResource][] {
    return resourcesOfType(this.json, 'AWS::Lambda::Function');
  }

  lambdaProps(logicalId: string): LambdaProps {
    return propsOf(this.resource(logicalId)) as unknown as LambdaProps;
  }

  /** The logical id of the one function whose construct id is `id` (logical ids are `<id><hash>`). */
  functionId(id: string): string {
    const ids = this.lambdas()
      .map(([logicalId]) => logicalId)
      .filter((logicalId) => new RegExp(`^${id}[0-9A-F]{8}$`).test(logicalId));
    if (ids.length !== 1) throw new Error(`expected one function ${id}, found ${ids.length}`);
    return ids[0] as string;
  }

  /** Construct ids of every function (`Webhook`, `RiskCheck`, …). */
  functionNames(): string[] {
    return this.lambdas().map(([logicalId]) => logicalId.replace(/[0-9A-F]{8}$/, ''));
  }

  /** "METHOD /path" for every API method, the path rebuilt from the resource tree, and its integration. */
  apiRoutes(): { route: string; integrationUri: string }[] {
    const pathOf = (ref: unknown): string => {
      const rendered = renderValue(ref);
      const match = /^<(.+?)(\.RootResourceId)?>$/.exec(rendered);
      if (!match?.[1]) throw new Error(`unexpected resource reference ${rendered}`);
      if (match[2]) return '';
      const props = propsOf(this.resource(match[1]));
      return `${pathOf(props.ParentId)}/${String(props.PathPart)}`;
    };
    return resourcesOfType(this.json, 'AWS::ApiGateway::Method').map(([, method]) => {
      const props = propsOf(method);
      const integration = props.Integration as { Uri: unknown };
      return {
        route: `${String(props.HttpMethod)} ${pathOf(props.ResourceId) || '/'}`,
        integrationUri: renderValue(integration.Uri),
      };
    });
  }

  /** The logical id of what a route's integration invokes (a function or an alias). */
  routeTarget(route: string): string {
    const found = this.apiRoutes().find((r) => r.route === route);
    const target = /functions\/<([^.>]+)(\.Arn)?>/.exec(found?.integrationUri ?? '')?.[1];
    if (!target) throw new Error(`no Lambda behind ${route}`);
    return target;
  }

  /** Statements of the identity policies attached to a function's execution role. */
  roleStatements(functionId: string): PolicyStatementJson[] {
    const roleId = /^<(.+)\.Arn>$/.exec(renderValue(this.lambdaProps(functionId).Role))?.[1];
    if (!roleId) throw new Error(`${functionId} has no role in this stack`);
    return resourcesOfType(this.json, 'AWS::IAM::Policy')
      .filter(([, policy]) => asList(propsOf(policy).Roles).some((r) => renderValue(r) === `<${roleId}>`))
      .flatMap(([, policy]) =>
        asList((propsOf(policy).PolicyDocument as { Statement: unknown }).Statement),
      ) as PolicyStatementJson[];
  }

  /** Every action a function's role has on `service` (`dynamodb`, `secretsmanager`, …), by resource. */
  grants(functionId: string, service: string): { actions: string[]; resources: string[] }[] {
    return this.roleStatements(functionId)
      .filter((s) => asList(s.Action).some((a) => String(a).startsWith(`${service}:`)))
      .map((s) => ({
        actions: asList(s.Action).map(String),
        resources: asList(s.Resource).map((r) => renderValue(r, this.stateful)),
      }));
  }

  /**
   * Every DynamoDB action a function's role has, by rendered resource (`<tableLogicalId.Arn>` or
   * `<tableLogicalId.Arn>/index/<name>`), without the `dynamodb:` prefix, sorted.
   */
  dynamoAccess(functionId: string): Record<string, string[]> {
    const access: Record<string, Set<string>> = {};
    for (const grant of this.grants(functionId, 'dynamodb'))
      for (const resource of grant.resources) {
        const actions = access[resource] ?? new Set<string>();
        for (const action of grant.actions) actions.add(action.replace(/^dynamodb:/, ''));
        access[resource] = actions;
      }
    return Object.fromEntries(
      Object.entries(access).map(([resource, actions]) => [resource, [...actions].sort()]),
    );
  }

  /** The resources a function's role may use DynamoDB on, rendered (`<tableLogicalId.Arn>[/index/x]`). */
  dynamoResourcesOf(functionId: string): string[] {
    return this.grants(functionId, 'dynamodb').flatMap((g) => g.resources);
  }

  variables(functionId: string): Record<string, unknown> {
    return this.lambdaProps(functionId).Environment?.Variables ?? {};
  }
}
