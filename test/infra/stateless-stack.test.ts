import { Template } from 'aws-cdk-lib/assertions';
import { beforeAll, describe, expect, it } from 'vitest';
import type { StatefulStack } from '../../infra/stacks/stateful-stack.js';
import { TABLES, type TableKey } from '../../shared/adapters/dynamodb/tables.js';
import { SIGNAL_EVENT } from '../../shared/adapters/events.js';
import { adminFunctionName } from '../../shared/config/names.js';
import { TRADE_FLOW_TASK_NAMES } from '../../shared/usecases/tasks.js';
import {
  asList,
  buildTestApp,
  type CfnResource,
  type CfnTemplate,
  identityPolicyStatements,
  logicalIdOf,
  parseDefinition,
  propsOf,
  renderValue,
  resourcesOfType,
  type StatesDefinition,
} from './support.js';

/** Deliberately not the defaults (10/20), so the test proves the config is wired through. */
const THROTTLE = { rateLimit: 3, burstLimit: 7 };

interface LambdaProps {
  Runtime: string;
  Architectures: string[];
  TracingConfig?: { Mode: string };
  Timeout: number;
  Role: unknown;
  Environment?: { Variables: Record<string, unknown> };
}

let stateful: StatefulStack;
let statefulJson: CfnTemplate;
let template: Template;
let json: CfnTemplate;

beforeAll(() => {
  const app = buildTestApp({ config: { api: { throttle: THROTTLE } } });
  stateful = app.stateful;
  statefulJson = Template.fromStack(app.stateful).toJSON() as CfnTemplate;
  template = Template.fromStack(app.stateless);
  json = template.toJSON() as CfnTemplate;
});

const resource = (logicalId: string): CfnResource => {
  const found = json.Resources[logicalId];
  if (!found) throw new Error(`no resource ${logicalId}`);
  return found;
};
const lambdas = () => resourcesOfType(json, 'AWS::Lambda::Function');
const lambdaProps = (logicalId: string) => propsOf(resource(logicalId)) as unknown as LambdaProps;

/** "METHOD /path" for every API method, the path rebuilt from the resource tree. */
function apiRoutes(): { route: string; integrationUri: string }[] {
  const pathOf = (ref: unknown): string => {
    const rendered = renderValue(ref);
    const match = /^<(.+?)(\.RootResourceId)?>$/.exec(rendered);
    if (!match?.[1]) throw new Error(`unexpected resource reference ${rendered}`);
    if (match[2]) return '';
    const props = propsOf(resource(match[1]));
    return `${pathOf(props.ParentId)}/${String(props.PathPart)}`;
  };
  return resourcesOfType(json, 'AWS::ApiGateway::Method').map(([, method]) => {
    const props = propsOf(method);
    const integration = props.Integration as { Uri: unknown };
    return {
      route: `${String(props.HttpMethod)} ${pathOf(props.ResourceId) || '/'}`,
      integrationUri: renderValue(integration.Uri),
    };
  });
}

/** The logical id of the function behind the API: the target of every method's integration. */
function webhookFunctionId(): string {
  const targets = new Set(
    apiRoutes().map(({ integrationUri }) => /functions\/<([^.>]+)\.Arn>/.exec(integrationUri)?.[1]),
  );
  expect(targets.size).toBe(1);
  const [id] = [...targets];
  if (!id) throw new Error('the API integrates with no Lambda function');
  return id;
}

/** Statements of the identity policies attached to a function's execution role. */
function roleStatements(functionId: string) {
  const roleId = /^<(.+)\.Arn>$/.exec(renderValue(lambdaProps(functionId).Role))?.[1];
  if (!roleId) throw new Error(`${functionId} has no role in this stack`);
  return resourcesOfType(json, 'AWS::IAM::Policy')
    .filter(([, policy]) => asList(propsOf(policy).Roles).some((r) => renderValue(r) === `<${roleId}>`))
    .flatMap(([, policy]) =>
      asList((propsOf(policy).PolicyDocument as { Statement: unknown }).Statement),
    ) as { Action: unknown; Resource: unknown; Effect: string }[];
}

/** The resources a function's role may use DynamoDB on, rendered (`<tableLogicalId.Arn>[/index/x]`). */
function dynamoResourcesOf(functionId: string): string[] {
  return roleStatements(functionId)
    .filter((s) => asList(s.Action).some((a) => String(a).startsWith('dynamodb:')))
    .flatMap((s) => asList(s.Resource).map((r) => renderValue(r, statefulJson)));
}

const tableArn = (key: TableKey) => `<${logicalIdOf(stateful.tables[key])}.Arn>`;

/** The scheduled circuit-breaker function: the one whose environment has no webhook secret and is not a task. */
function functionIdStartingWith(prefix: string): string {
  const ids = lambdas()
    .map(([id]) => id)
    .filter((id) => id.startsWith(prefix));
  expect(ids).toHaveLength(1);
  return ids[0] ?? '';
}
const breakerFunctionId = () => functionIdStartingWith('Breaker');
const reconcilerFunctionId = () => functionIdStartingWith('Reconciler');
const adminFunctionId = () => functionIdStartingWith('Admin');

/** The scheduled rule targeting a function, with its schedule and target. */
function scheduleOf(functionId: string) {
  const rules = resourcesOfType(json, 'AWS::Events::Rule')
    .map(([, rule]) => propsOf(rule))
    .filter((props) => props.ScheduleExpression !== undefined)
    .filter((props) =>
      asList(props.Targets).some((t) => renderValue((t as { Arn: unknown }).Arn) === `<${functionId}.Arn>`),
    );
  expect(rules).toHaveLength(1);
  const props = rules[0] ?? {};
  const [target] = asList(props.Targets) as { RetryPolicy?: { MaximumRetryAttempts: number } }[];
  return { expression: props.ScheduleExpression, retries: target?.RetryPolicy?.MaximumRetryAttempts };
}

/** Rules on the bus (event patterns), as opposed to schedules. */
const signalRules = () =>
  resourcesOfType(json, 'AWS::Events::Rule').filter(([, rule]) => propsOf(rule).EventPattern !== undefined);

function stateMachine(source: CfnTemplate = json): { props: Record<string, unknown>; asl: StatesDefinition } {
  const machines = resourcesOfType(source, 'AWS::StepFunctions::StateMachine');
  expect(machines).toHaveLength(1);
  const props = propsOf(machines[0]?.[1]);
  return { props, asl: parseDefinition(props.DefinitionString) };
}

describe('REST API', () => {
  it('is a regional REST API', () => {
    template.resourceCountIs('AWS::ApiGateway::RestApi', 1);
    template.hasResourceProperties('AWS::ApiGateway::RestApi', {
      Name: 'pinebridge-dev-api',
      EndpointConfiguration: { Types: ['REGIONAL'] },
    });
  });

  it('exposes exactly POST /webhook and POST /webhook/{secret}, both proxied to the webhook function', () => {
    const routes = apiRoutes();

    expect(routes.map((r) => r.route).sort()).toEqual(['POST /webhook', 'POST /webhook/{secret}']);
    const webhook = webhookFunctionId();
    for (const { integrationUri } of routes) expect(integrationUri).toContain(`/functions/<${webhook}.Arn>/`);
    template.allResourcesProperties('AWS::ApiGateway::Method', { Integration: { Type: 'AWS_PROXY' } });
  });

  it('throttles the stage at the configured api.throttle rate and burst', () => {
    template.hasResourceProperties('AWS::ApiGateway::Stage', {
      StageName: 'dev',
      MethodSettings: [
        {
          HttpMethod: '*',
          ResourcePath: '/*',
          ThrottlingRateLimit: THROTTLE.rateLimit,
          ThrottlingBurstLimit: THROTTLE.burstLimit,
        },
      ],
    });
  });

  it('access logs carry no path (it may hold the secret), body or query string; data tracing is off', () => {
    const stages = resourcesOfType(json, 'AWS::ApiGateway::Stage');
    expect(stages).toHaveLength(1);
    const props = propsOf(stages[0]?.[1]);
    const format = String((props.AccessLogSetting as { Format: string }).Format);

    expect(format).toContain('$context.requestId');
    expect(format).toContain('$context.resourcePath');
    expect(format).not.toMatch(/\$context\.path\b/);
    expect(format).not.toMatch(/\$input|body|querystring|requestOverride|\$context\.authorizer/i);
    const settings = props.MethodSettings as { DataTraceEnabled?: boolean }[];
    expect(settings.length).toBeGreaterThan(0);
    for (const setting of settings) expect(setting.DataTraceEnabled).toBe(false);
  });

  it('the stage is not X-Ray traced: trace segments would record the /webhook/{secret} URL', () => {
    for (const [id, stage] of resourcesOfType(json, 'AWS::ApiGateway::Stage'))
      expect(propsOf(stage).TracingEnabled ?? false, id).toBe(false);
  });
});

describe('Lambda functions', () => {
  it('there is one function for the webhook, one per trade-flow task, the breaker, the reconciler and the admin actions', () => {
    expect(lambdas()).toHaveLength(4 + TRADE_FLOW_TASK_NAMES.length);
    expect(adminFunctionId()).toMatch(/^Admin/);
    expect(breakerFunctionId()).toMatch(/^Breaker/);
    expect(reconcilerFunctionId()).toMatch(/^Reconciler/);
  });

  it('every function runs nodejs22.x on arm64 with active X-Ray tracing', () => {
    for (const [id] of lambdas()) {
      const props = lambdaProps(id);
      expect(props.Runtime, id).toBe('nodejs22.x');
      expect(props.Architectures, id).toEqual(['arm64']);
      expect(props.TracingConfig, id).toEqual({ Mode: 'Active' });
    }
  });

  it('the webhook times out within 3 s, so TradingView gets its answer in time', () => {
    expect(lambdaProps(webhookFunctionId()).Timeout).toBeLessThanOrEqual(3);
  });

  it('the webhook finds the bus and the secret through EVENT_BUS_NAME and WEBHOOK_SECRET_ID references', () => {
    const variables = lambdaProps(webhookFunctionId()).Environment?.Variables ?? {};

    expect(renderValue(variables.EVENT_BUS_NAME, statefulJson)).toBe(`<${logicalIdOf(stateful.bus)}>`);
    // A reference to the secret resource (its ARN), resolved at deploy time — never a literal value.
    expect(typeof variables.WEBHOOK_SECRET_ID).toBe('object');
    expect(renderValue(variables.WEBHOOK_SECRET_ID, statefulJson)).toBe(
      `<${logicalIdOf(stateful.webhookSecret)}>`,
    );
  });

  it('no function environment holds a secret value', () => {
    for (const [id] of lambdas()) {
      const variables = lambdaProps(id).Environment?.Variables ?? {};
      for (const [name, value] of Object.entries(variables)) {
        expect(name, id).not.toMatch(/^PINEBRIDGE_(WEBHOOK_SECRET|ADMIN_TOKEN)/);
        if (/secret|password|passphrase|token|credential/i.test(name)) {
          expect(name, `${id}: only the secret's id may be passed`).toBe('WEBHOOK_SECRET_ID');
          expect(typeof value, `${id}.${name} must be a reference, not a literal`).toBe('object');
        }
        expect(JSON.stringify(value), `${id}.${name}`).not.toMatch(/resolve:secretsmanager|SecretString/);
      }
      const config = JSON.parse(String(variables.PINEBRIDGE_CONFIG)) as unknown;
      expect(JSON.stringify(config), id).not.toMatch(/"[^"]*(secret|password|passphrase|token)[^"]*":/i);
    }
  });
});

describe('IAM: least privilege', () => {
  it('the webhook may use only the signals table (and its byDay index), not orders/portfolio/paper-orders', () => {
    const resources = dynamoResourcesOf(webhookFunctionId());

    expect(resources).toEqual(
      expect.arrayContaining([tableArn('signals'), `${tableArn('signals')}/index/byDay`]),
    );
    for (const key of ['orders', 'portfolio', 'paperOrders'] as const) {
      const arn = tableArn(key);
      expect(
        resources.filter((r) => r.startsWith(arn)),
        `webhook must not reach ${key}`,
      ).toEqual([]);
    }
  });

  it('every trade-flow task function may use all four tables', () => {
    const tasks = lambdas()
      .map(([id]) => id)
      .filter(
        (id) =>
          ![webhookFunctionId(), breakerFunctionId(), reconcilerFunctionId(), adminFunctionId()].includes(id),
      );
    expect(tasks).toHaveLength(TRADE_FLOW_TASK_NAMES.length);
    for (const id of tasks) {
      const resources = dynamoResourcesOf(id);
      for (const key of Object.keys(TABLES) as TableKey[]) expect(resources, id).toContain(tableArn(key));
    }
  });

  it('the scheduled breaker may use only the portfolio table', () => {
    const resources = dynamoResourcesOf(breakerFunctionId());

    expect(resources).toContain(tableArn('portfolio'));
    for (const key of ['signals', 'orders', 'paperOrders'] as const)
      expect(
        resources.filter((r) => r.startsWith(tableArn(key))),
        key,
      ).toEqual([]);
  });

  it('the task functions and the breaker may put events on the bus (breaker transitions, reversal legs)', () => {
    const publishers = lambdas()
      .map(([id]) => id)
      .filter((id) => id !== webhookFunctionId());
    for (const id of publishers) {
      const puts = roleStatements(id).filter((s) => asList(s.Action).includes('events:PutEvents'));
      expect(
        puts.flatMap((s) => asList(s.Resource).map((r) => renderValue(r, statefulJson))),
        id,
      ).toEqual([`<${logicalIdOf(stateful.bus)}.Arn>`]);
      expect(renderValue(lambdaProps(id).Environment?.Variables?.EVENT_BUS_NAME, statefulJson), id).toBe(
        `<${logicalIdOf(stateful.bus)}>`,
      );
    }
  });

  it('no identity policy grants dynamodb:* (or *) or an index/* wildcard', () => {
    const statements = identityPolicyStatements(json);
    expect(statements.length).toBeGreaterThan(0);

    for (const { logicalId, statement } of statements) {
      const actions = asList(statement.Action).map(String);
      expect(actions, logicalId).not.toContain('dynamodb:*');
      expect(actions, logicalId).not.toContain('*');
      for (const r of asList(statement.Resource))
        expect(renderValue(r, statefulJson), logicalId).not.toMatch(/index\/\*/);
    }
  });
});

describe('trade-flow state machine', () => {
  it('starts at RiskCheck', () => {
    expect(stateMachine().asl.StartAt).toBe('RiskCheck');
  });

  it('has a Task state for every trade-flow task, each with a TimeoutSeconds', () => {
    const { States } = stateMachine().asl;
    const tasks = Object.entries(States).filter(([, s]) => s.Type === 'Task');

    expect(tasks.map(([name]) => name).sort()).toEqual([...TRADE_FLOW_TASK_NAMES].sort());
    for (const [name, state] of tasks) expect(state.TimeoutSeconds, name).toBeGreaterThan(0);
  });

  it('SubmitOrder (the broker call) is never retried, and any failure is caught into RecordFailure', () => {
    const submit = stateMachine().asl.States.SubmitOrder;

    expect(submit?.Retry ?? []).toEqual([]);
    expect(submit?.Catch).toEqual([
      expect.objectContaining({ ErrorEquals: ['States.ALL'], Next: 'RecordFailure' }),
    ]);
  });

  it('RiskCheck retries only named errors (no States.* catch-alls)', () => {
    const retry = stateMachine().asl.States.RiskCheck?.Retry ?? [];

    expect(retry.length).toBeGreaterThan(0);
    for (const rule of retry) {
      expect(rule.ErrorEquals.length).toBeGreaterThan(0);
      for (const error of rule.ErrorEquals) expect(error).not.toMatch(/^States\./);
    }
  });

  it('only RecordFailure, the idempotent compensation, may retry on any error (States.ALL)', () => {
    const retriesAll = Object.entries(stateMachine().asl.States)
      .filter(([, state]) => (state.Retry ?? []).some((rule) => rule.ErrorEquals.includes('States.ALL')))
      .map(([name]) => name);

    expect(retriesAll.filter((name) => name !== 'RecordFailure')).toEqual([]);
  });

  it('has X-Ray tracing on and logs every event (level ALL)', () => {
    const { props } = stateMachine();

    expect(props.TracingConfiguration).toEqual({ Enabled: true });
    expect(props.LoggingConfiguration).toMatchObject({ Level: 'ALL' });
  });

  it('is STANDARD by default', () => {
    expect(stateMachine().props.StateMachineType).toBe('STANDARD');
  });

  it('is EXPRESS when the config says workflow.type EXPRESS', () => {
    const app = buildTestApp({ config: { workflow: { type: 'EXPRESS', orderTimeoutSeconds: 240 } } });
    const express = Template.fromStack(app.stateless).toJSON() as CfnTemplate;

    expect(stateMachine(express).props.StateMachineType).toBe('EXPRESS');
  });
});

describe('admin function', () => {
  it('is invoked with IAM only: no API route and no resource policy lets anyone else call it', () => {
    const admin = adminFunctionId();

    expect(apiRoutes().every(({ integrationUri }) => !integrationUri.includes(admin))).toBe(true);
    const permissions = resourcesOfType(json, 'AWS::Lambda::Permission').filter(
      ([, p]) => renderValue(propsOf(p).FunctionName) === `<${admin}.Arn>`,
    );
    expect(permissions).toEqual([]);
  });

  it('has the fixed name the CLI invokes (pinebridge-<stage>-admin), and the stack outputs it and the webhook URL', () => {
    const admin = adminFunctionId();

    expect(propsOf(resource(admin)).FunctionName).toBe(adminFunctionName('dev'));
    const outputs = (json as unknown as { Outputs: Record<string, { Value: unknown }> }).Outputs;
    expect(renderValue(outputs.AdminFunctionName?.Value)).toBe(`<${admin}>`);
    expect(renderValue(outputs.WebhookUrl?.Value)).toMatch(/webhook$/);
  });
});

describe('schedules', () => {
  it('runs the breaker function every minute, without retries (the next minute is the retry)', () => {
    expect(scheduleOf(breakerFunctionId())).toEqual({ expression: 'rate(1 minute)', retries: 0 });
  });

  it('runs the reconciler every five minutes, without retries, and lets it use every table', () => {
    expect(scheduleOf(reconcilerFunctionId())).toEqual({ expression: 'rate(5 minutes)', retries: 0 });
    const resources = dynamoResourcesOf(reconcilerFunctionId());
    for (const key of Object.keys(TABLES) as TableKey[]) expect(resources, key).toContain(tableArn(key));
  });
});

describe('Alpaca keys', () => {
  it('no function is given broker keys while the paper broker is configured', () => {
    for (const [id] of lambdas()) {
      expect(lambdaProps(id).Environment?.Variables?.ALPACA_SECRET_ID, id).toBeUndefined();
      const reads = roleStatements(id).filter((s) =>
        asList(s.Action).includes('secretsmanager:GetSecretValue'),
      );
      for (const statement of reads)
        expect(
          asList(statement.Resource).map((r) => renderValue(r, statefulJson)),
          id,
        ).toEqual([`<${logicalIdOf(stateful.webhookSecret)}>`]);
    }
  });

  it('with broker "alpaca" in live mode, only the trading functions get the live keys, and only those', () => {
    const app = buildTestApp({ config: { broker: 'alpaca', alpaca: { mode: 'live' } } });
    const live = Template.fromStack(app.stateless).toJSON() as CfnTemplate;
    const liveStateful = Template.fromStack(app.stateful).toJSON() as CfnTemplate;
    const liveSecret = `<${logicalIdOf(app.stateful.alpacaSecrets.live)}>`;
    const functions = resourcesOfType(live, 'AWS::Lambda::Function');

    const withKeys = functions.filter(
      ([, fn]) =>
        (propsOf(fn).Environment as { Variables?: Record<string, unknown> } | undefined)?.Variables
          ?.ALPACA_SECRET_ID !== undefined,
    );
    expect(withKeys.map(([id]) => id.replace(/[0-9A-F]{8}$/, '')).sort()).toEqual(
      ['Admin', 'Breaker', 'Reconciler', ...TRADE_FLOW_TASK_NAMES].sort(),
    );
    for (const [id, fn] of withKeys) {
      const variables = (propsOf(fn).Environment as { Variables: Record<string, unknown> }).Variables;
      expect(renderValue(variables.ALPACA_SECRET_ID, liveStateful), id).toBe(liveSecret);
    }
    const granted = identityPolicyStatements(live)
      .map(({ statement }) => statement)
      .filter((s) => asList(s.Action).includes('secretsmanager:GetSecretValue'))
      .flatMap((s) => asList(s.Resource).map((r) => renderValue(r, liveStateful)));
    expect(granted).toContain(liveSecret);
    expect(granted).not.toContain(`<${logicalIdOf(app.stateful.alpacaSecrets.paper)}>`);
  });
});

describe('signal rule and dead-letter queue', () => {
  it('the rule matches exactly the webhook\'s "Signal Received" events and targets the state machine', () => {
    const rules = signalRules();
    expect(rules).toHaveLength(1);
    const props = propsOf(rules[0]?.[1]);

    expect(props.EventPattern).toEqual({
      source: ['pinebridge.webhook'],
      'detail-type': ['Signal Received'],
    });
    expect(props.EventPattern).toEqual({
      source: [SIGNAL_EVENT.source],
      'detail-type': [SIGNAL_EVENT.detailType],
    });
    const [machineId] = resourcesOfType(json, 'AWS::StepFunctions::StateMachine')[0] ?? [];
    expect(asList(props.Targets).map((t) => renderValue((t as { Arn: unknown }).Arn))).toEqual([
      `<${machineId}>`,
    ]);
  });

  it('the target parks undeliverable events in the DLQ and gives up on events older than 5 minutes', () => {
    const [, rule] = signalRules()[0] ?? [];
    const [queueId] = resourcesOfType(json, 'AWS::SQS::Queue')[0] ?? [];
    const [target] = asList(propsOf(rule).Targets) as {
      DeadLetterConfig?: { Arn: unknown };
      RetryPolicy?: { MaximumEventAgeInSeconds: number; MaximumRetryAttempts: number };
    }[];

    expect(renderValue(target?.DeadLetterConfig?.Arn)).toBe(`<${queueId}.Arn>`);
    expect(target?.RetryPolicy?.MaximumEventAgeInSeconds).toBeLessThanOrEqual(300);
    expect(target?.RetryPolicy?.MaximumRetryAttempts).toBeGreaterThan(0);
  });

  it('the DLQ is encrypted at rest and refuses any request not made over TLS', () => {
    const queues = resourcesOfType(json, 'AWS::SQS::Queue');
    expect(queues).toHaveLength(1);
    const [queueId, queue] = queues[0] as [string, CfnResource];
    const props = propsOf(queue);
    expect(props.SqsManagedSseEnabled === true || props.KmsMasterKeyId !== undefined).toBe(true);

    const policies = resourcesOfType(json, 'AWS::SQS::QueuePolicy').filter(([, p]) =>
      asList(propsOf(p).Queues).some((q) => renderValue(q) === `<${queueId}>`),
    );
    const statements = policies.flatMap(([, p]) =>
      asList((propsOf(p).PolicyDocument as { Statement: unknown }).Statement),
    );
    expect(statements).toContainEqual(
      expect.objectContaining({
        Effect: 'Deny',
        Action: 'sqs:*',
        Principal: { AWS: '*' },
        Condition: { Bool: { 'aws:SecureTransport': 'false' } },
        Resource: { 'Fn::GetAtt': [queueId, 'Arn'] },
      }),
    );
  });
});
