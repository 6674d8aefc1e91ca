import { Template } from 'aws-cdk-lib/assertions';
import { beforeAll, describe, expect, it } from 'vitest';
import { reconcileWindows } from '../../infra/constructs/reconcile-schedules.js';
import type { StatefulStack } from '../../infra/stacks/stateful-stack.js';
import { TABLES, type TableKey } from '../../shared/adapters/dynamodb/tables.js';
import { NOTICE_EVENT, SIGNAL_EVENT, TRADING_STATE_EVENT } from '../../shared/adapters/events.js';
import { adminFunctionName, dashboardFunctionName } from '../../shared/config/names.js';
import { LIVE_NAMESPACE } from '../../shared/dashboard/live.js';
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
  StatelessView,
  type StatesDefinition,
} from './support.js';

/** Deliberately not the defaults (10/20), so the test proves the config is wired through. */
const THROTTLE = { rateLimit: 3, burstLimit: 7 };
const ORDER_FUNCTIONS = ['RiskCheck', 'CancelOrders', 'SubmitOrder', 'CheckOrder', 'RecordFailure'];
/** What shared/dashboard/routes.ts serves behind API Gateway (the local bot's /events is local only). */
const DASHBOARD_ROUTES = [
  'GET /',
  'GET /assets/{file}',
  'GET /login',
  'POST /login',
  'POST /logout',
  'GET /api/{proxy+}',
  'POST /api/admin/{action}',
];

/**
 * What each function's code calls, table by table, with the built-in paper broker (the default):
 * the specification of test/infra's least-privilege check, written out (infra/constructs/
 * table-access.ts is what the stack grants from; test/integration/least-privilege.test.ts runs
 * the code against these grants).
 */
const SNAPSHOT = ['GetItem', 'PutItem', 'Query', 'UpdateItem'];
const PAPER_BROKER_DYNAMO_ACCESS: Record<string, Record<string, string[]>> = {
  Webhook: { signals: ['GetItem', 'PutItem'] },
  Health: { signals: ['GetItem'] },
  RiskCheck: {
    signals: ['GetItem', 'UpdateItem'],
    orders: ['PutItem'],
    portfolio: ['ConditionCheckItem', ...SNAPSHOT].sort(),
  },
  RecordRejection: { signals: ['GetItem', 'UpdateItem'] },
  CancelOrders: {
    signals: ['GetItem', 'UpdateItem'],
    orders: ['GetItem', 'Scan', 'UpdateItem'],
    'orders/index/byLifecycle': ['Query'],
    portfolio: SNAPSHOT,
    paperOrders: ['GetItem', 'UpdateItem'],
  },
  SubmitOrder: {
    signals: ['UpdateItem'],
    orders: ['GetItem', 'UpdateItem'],
    portfolio: ['ConditionCheckItem', ...SNAPSHOT].sort(),
    paperOrders: ['GetItem', 'PutItem', 'UpdateItem'],
  },
  CheckOrder: { portfolio: ['GetItem', 'Query'], paperOrders: ['GetItem', 'UpdateItem'] },
  RecordFill: {
    signals: ['GetItem', 'PutItem', 'UpdateItem'],
    orders: ['GetItem', 'UpdateItem'],
    portfolio: SNAPSHOT,
  },
  RecordFailure: {
    signals: ['GetItem', 'PutItem', 'UpdateItem'],
    orders: ['GetItem', 'UpdateItem'],
    portfolio: SNAPSHOT,
    paperOrders: ['GetItem', 'UpdateItem'],
  },
  Breaker: { portfolio: SNAPSHOT },
  // The live-update functions touch no table: a token is checked by its signature, a hint is published as is.
  LiveAuthorizer: {},
  LivePublisher: {},
  Notifier: {
    signals: ['GetItem'],
    'signals/index/byDay': ['Query'],
    orders: ['GetItem'],
    'orders/index/byLifecycle': ['Query'],
    portfolio: ['GetItem', 'Query'],
  },
  Reconciler: {
    signals: ['GetItem', 'PutItem', 'UpdateItem'],
    'signals/index/byDay': ['Query'],
    'signals/index/byUndecided': ['Query'],
    orders: ['GetItem', 'Scan', 'UpdateItem'],
    'orders/index/byLifecycle': ['Query'],
    portfolio: SNAPSHOT,
    paperOrders: ['GetItem', 'UpdateItem'],
  },
  Admin: {
    signals: ['GetItem', 'PutItem', 'UpdateItem'],
    'signals/index/byDay': ['Query'],
    orders: ['GetItem', 'PutItem', 'Scan', 'UpdateItem'],
    'orders/index/byLifecycle': ['Query'],
    portfolio: ['ConditionCheckItem', ...SNAPSHOT].sort(),
    paperOrders: ['GetItem', 'PutItem', 'UpdateItem'],
  },
  Dashboard: {
    signals: ['GetItem'],
    'signals/index/byDay': ['Query'],
    orders: ['GetItem'],
    'orders/index/byLifecycle': ['Query'],
    portfolio: ['GetItem', 'Query'],
    paperOrders: ['GetItem'],
  },
};

let stateful: StatefulStack;
let statefulJson: CfnTemplate;
let template: Template;
let json: CfnTemplate;
let view: StatelessView;

beforeAll(() => {
  const app = buildTestApp({ config: { api: { throttle: THROTTLE } } });
  stateful = app.stateful;
  statefulJson = Template.fromStack(app.stateful).toJSON() as CfnTemplate;
  template = Template.fromStack(app.stateless);
  json = template.toJSON() as CfnTemplate;
  view = new StatelessView(json, statefulJson);
});

const tableArn = (key: TableKey) => `<${logicalIdOf(stateful.tables[key])}.Arn>`;

/** A function's DynamoDB actions keyed `signals`, `orders/index/byLifecycle`… instead of by ARN. */
function dynamoAccessOf(source: StatelessView, name: string): Record<string, string[]> {
  const keyOf = new Map(
    (Object.keys(TABLES) as TableKey[]).map((key) => [`<${logicalIdOf(stateful.tables[key])}.Arn>`, key]),
  );
  return Object.fromEntries(
    Object.entries(source.dynamoAccess(source.functionId(name))).map(([resource, actions]) => {
      const [arn = '', index] = resource.split('/index/');
      const key = keyOf.get(arn);
      if (key === undefined)
        throw new Error(`${name} may use DynamoDB on ${resource}, not a Pinebridge table`);
      return [index === undefined ? key : `${key}/index/${index}`, actions];
    }),
  );
}
const busArn = () => `<${logicalIdOf(stateful.bus)}.Arn>`;
const webhookId = () => view.functionId('Webhook');
const dashboardId = () => view.functionId('Dashboard');

/** Rules on the bus (event patterns), as opposed to schedules. */
const signalRules = () =>
  resourcesOfType(json, 'AWS::Events::Rule').filter(([, rule]) =>
    JSON.stringify(propsOf(rule).EventPattern ?? null).includes(SIGNAL_EVENT.detailType),
  );

interface MethodSetting {
  HttpMethod: string;
  ResourcePath: string;
  ThrottlingRateLimit?: number;
  ThrottlingBurstLimit?: number;
}

/** The API stage's method settings (throttling per method). */
function stageMethodSettings(source: CfnTemplate): MethodSetting[] {
  const stages = resourcesOfType(source, 'AWS::ApiGateway::Stage');
  expect(stages).toHaveLength(1);
  return propsOf(stages[0]?.[1]).MethodSettings as MethodSetting[];
}

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

  it('exposes POST /webhook and POST /webhook/{secret} to the webhook, GET /health to the health function and the dashboard routes to the dashboard, nothing else', () => {
    const routes = view.apiRoutes();

    expect(routes.map((r) => r.route).sort()).toEqual(
      ['GET /health', 'POST /webhook', 'POST /webhook/{secret}', ...DASHBOARD_ROUTES].sort(),
    );
    expect(view.routeTarget('POST /webhook')).toBe(webhookId());
    expect(view.routeTarget('POST /webhook/{secret}')).toBe(webhookId());
    expect(view.routeTarget('GET /health')).toBe(view.functionId('Health'));
    for (const route of DASHBOARD_ROUTES) expect(view.routeTarget(route), route).toBe(dashboardId());
    template.allResourcesProperties('AWS::ApiGateway::Method', { Integration: { Type: 'AWS_PROXY' } });
  });

  it('throttles the stage at the configured api.throttle rate and burst, and /health far below it', () => {
    const [[, stage]] = resourcesOfType(json, 'AWS::ApiGateway::Stage') as [[string, CfnResource]];
    const settings = propsOf(stage).MethodSettings as Record<string, unknown>[];

    expect(propsOf(stage).StageName).toBe('dev');
    expect(settings).toContainEqual(
      expect.objectContaining({
        HttpMethod: '*',
        ResourcePath: '/*',
        ThrottlingRateLimit: THROTTLE.rateLimit,
        ThrottlingBurstLimit: THROTTLE.burstLimit,
      }),
    );
    expect(settings).toContainEqual(
      expect.objectContaining({
        HttpMethod: 'GET',
        ResourcePath: '/~1health',
        ThrottlingRateLimit: 2,
        ThrottlingBurstLimit: 10,
      }),
    );
  });

  it('gives the webhook’s two methods api.throttle as a budget of their own, and every other route its own apart from it', () => {
    const settings = stageMethodSettings(json);
    const throttleOf = (method: string, path: string) => {
      const found = settings.filter((m) => m.HttpMethod === method && m.ResourcePath === path);
      expect(found, `${method} ${path}`).toHaveLength(1);
      return [found[0]?.ThrottlingRateLimit, found[0]?.ThrottlingBurstLimit];
    };

    expect(throttleOf('POST', '/~1webhook')).toEqual([THROTTLE.rateLimit, THROTTLE.burstLimit]);
    expect(throttleOf('POST', '/~1webhook~1{secret}')).toEqual([THROTTLE.rateLimit, THROTTLE.burstLimit]);
    // Every route the API has is named: none is left to share the webhook's default.
    const named = settings
      .filter((m) => m.ResourcePath !== '/*')
      .map((m) => `${m.HttpMethod} ${m.ResourcePath}`);
    // CloudFormation's ResourcePath: the root is `/`, and every other slash is escaped as `~1`.
    const routes = view.apiRoutes().map(({ route }) => {
      const [method, path = ''] = route.split(' ');
      return `${method} ${path === '/' ? '/' : `/${path.replaceAll('/', '~1')}`}`;
    });
    expect(named.sort()).toEqual(routes.sort());
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
    for (const setting of settings) expect(setting.DataTraceEnabled ?? false).toBe(false);
  });

  it('the stage is not X-Ray traced: trace segments would record the /webhook/{secret} URL', () => {
    for (const [id, stage] of resourcesOfType(json, 'AWS::ApiGateway::Stage'))
      expect(propsOf(stage).TracingEnabled ?? false, id).toBe(false);
  });

  it('without the switches there is no resource policy, no WAF and no health check (each costs or restricts)', () => {
    expect(propsOf(resourcesOfType(json, 'AWS::ApiGateway::RestApi')[0]?.[1]).Policy).toBeUndefined();
    expect(resourcesOfType(json, 'AWS::WAFv2::WebACL')).toEqual([]);
    expect(resourcesOfType(json, 'AWS::Route53::HealthCheck')).toEqual([]);
  });
});

describe('Lambda functions', () => {
  it('there is one function for the webhook, each trade-flow task, the breaker, the reconciler, the operator, /health, the web dashboard, its live updates and the notifier', () => {
    expect(view.functionNames().sort()).toEqual(
      [
        'Admin',
        'Breaker',
        'Dashboard',
        'Health',
        'LiveAuthorizer',
        'LivePublisher',
        'Notifier',
        'Reconciler',
        'Webhook',
        ...TRADE_FLOW_TASK_NAMES,
      ].sort(),
    );
  });

  it('every function runs nodejs22.x on arm64 with active X-Ray tracing, an explicit memory size and timeout', () => {
    for (const [id] of view.lambdas()) {
      const props = view.lambdaProps(id);
      expect(props.Runtime, id).toBe('nodejs22.x');
      expect(props.Architectures, id).toEqual(['arm64']);
      expect(props.TracingConfig, id).toEqual({ Mode: 'Active' });
      expect(props.MemorySize, id).toBeGreaterThan(0);
      expect(props.Timeout, id).toBeGreaterThan(0);
    }
  });

  it('every function logs JSON into its own log group with a retention (two weeks in dev)', () => {
    const groups = new Map(resourcesOfType(json, 'AWS::Logs::LogGroup').map(([id, group]) => [id, group]));
    for (const [id] of view.lambdas()) {
      const logging = view.lambdaProps(id).LoggingConfig;
      expect(logging?.LogFormat, id).toBe('JSON');
      const groupId = /^<(.+)>$/.exec(renderValue(logging?.LogGroup))?.[1] ?? '';
      expect(propsOf(groups.get(groupId)).RetentionInDays, id).toBe(14);
    }
  });

  it('the webhook times out within 3 s, so TradingView gets its answer (or a 503 to re-send on) in time', () => {
    expect(view.lambdaProps(webhookId()).Timeout).toBeLessThanOrEqual(3);
  });

  it('the webhook, /health and the live-update functions ship without source maps (a cold-start cost someone waits on); every other function has them in stack traces', () => {
    const quick = ['Health', 'LiveAuthorizer', 'LivePublisher'].map((name) => view.functionId(name));
    for (const [id] of view.lambdas()) {
      const options = view.variables(id).NODE_OPTIONS;
      if ([webhookId(), ...quick].includes(id)) expect(options, id).toBeUndefined();
      else expect(options, id).toBe('--enable-source-maps');
    }
  });

  it('the webhook is given the signals table, the bus and the secret by reference, and no other table', () => {
    const variables = view.variables(webhookId());

    expect(renderValue(variables.EVENT_BUS_NAME, statefulJson)).toBe(`<${logicalIdOf(stateful.bus)}>`);
    expect(renderValue(variables.SIGNALS_TABLE, statefulJson)).toBe(
      `<${logicalIdOf(stateful.tables.signals)}>`,
    );
    // A reference to the secret resource (its ARN), resolved at deploy time — never a literal value.
    expect(typeof variables.WEBHOOK_SECRET_ID).toBe('object');
    expect(renderValue(variables.WEBHOOK_SECRET_ID, statefulJson)).toBe(
      `<${logicalIdOf(stateful.webhookSecret)}>`,
    );
    for (const key of ['orders', 'portfolio', 'paperOrders'] as const)
      expect(variables[TABLES[key].envVar], key).toBeUndefined();
  });

  it('no function environment holds a secret value: only secrets’ ids, as references', () => {
    for (const [id] of view.lambdas()) {
      const variables = view.variables(id);
      for (const [name, value] of Object.entries(variables)) {
        expect(name, id).not.toMatch(/^PINEBRIDGE_(WEBHOOK_SECRET|ADMIN_TOKEN)/);
        if (/secret|password|passphrase|token|credential/i.test(name)) {
          expect(
            ['WEBHOOK_SECRET_ID', 'ALPACA_SECRET_ID', 'DASHBOARD_SECRET_ID', 'NOTIFICATIONS_SECRET_ID'],
            `${id}: only a secret's id may be passed`,
          ).toContain(name);
          expect(typeof value, `${id}.${name} must be a reference, not a literal`).toBe('object');
        }
        expect(JSON.stringify(value), `${id}.${name}`).not.toMatch(/resolve:secretsmanager|SecretString/);
      }
      if (variables.PINEBRIDGE_CONFIG === undefined) continue;
      const config = JSON.parse(String(variables.PINEBRIDGE_CONFIG)) as unknown;
      expect(JSON.stringify(config), id).not.toMatch(/"[^"]*(secret|password|passphrase|token)[^"]*":/i);
    }
  });
});

describe('log groups by stage', () => {
  it('in dev every log group is deleted with the stack; in prod every one is kept three months and retained', () => {
    for (const [, group] of resourcesOfType(json, 'AWS::Logs::LogGroup'))
      expect(group.DeletionPolicy).toBe('Delete');
    const prod = Template.fromStack(buildTestApp({ stage: 'prod' }).stateless).toJSON() as CfnTemplate;
    const groups = resourcesOfType(prod, 'AWS::Logs::LogGroup');

    expect(groups.length).toBeGreaterThan(0);
    for (const [id, group] of groups) {
      expect(group.DeletionPolicy, id).toBe('Retain');
      expect(propsOf(group).RetentionInDays, id).toBe(90);
    }
  });
});

describe('IAM: least privilege', () => {
  it('the webhook may only put and read back items of the signals table: no query, update, delete or index', () => {
    expect(view.grants(webhookId(), 'dynamodb')).toEqual([
      { actions: ['dynamodb:GetItem', 'dynamodb:PutItem'], resources: [tableArn('signals')] },
    ]);
  });

  it('the webhook may put events on the one bus and read the one webhook secret, and nothing else', () => {
    expect(view.grants(webhookId(), 'events')).toEqual([
      { actions: ['events:PutEvents'], resources: [busArn()] },
    ]);
    expect(view.grants(webhookId(), 'secretsmanager').flatMap((g) => g.resources)).toEqual([
      `<${logicalIdOf(stateful.webhookSecret)}>`,
    ]);
    const services = new Set(
      view.roleStatements(webhookId()).flatMap((s) => asList(s.Action).map((a) => String(a).split(':')[0])),
    );
    expect([...services].sort()).toEqual(['dynamodb', 'events', 'logs', 'secretsmanager', 'xray']);
  });

  it('/health may only read single items of the signals table', () => {
    const health = view.functionId('Health');
    expect(view.grants(health, 'dynamodb')).toEqual([
      { actions: ['dynamodb:GetItem'], resources: [tableArn('signals')] },
    ]);
    expect(view.grants(health, 'events')).toEqual([]);
    expect(view.grants(health, 'secretsmanager')).toEqual([]);
  });

  it('each function may do exactly the DynamoDB actions its code calls, table by table and index by index (paper broker)', () => {
    for (const [name, expected] of Object.entries(PAPER_BROKER_DYNAMO_ACCESS))
      expect(dynamoAccessOf(view, name), name).toEqual(expected);
    expect(Object.keys(PAPER_BROKER_DYNAMO_ACCESS).sort()).toEqual(view.functionNames().sort());
  });

  it('no role may delete, batch or scan; only the complete listing of open orders (emergency stop, a signal’s cancels, hourly reconcile) scans, and only the orders table', () => {
    for (const { logicalId, statement } of identityPolicyStatements(json))
      for (const action of asList(statement.Action).map(String))
        expect(action, logicalId).not.toMatch(/^dynamodb:(DeleteItem|BatchWriteItem|BatchGetItem|PartiQL)/);
    const scanners = view
      .functionNames()
      .filter((name) =>
        Object.values(dynamoAccessOf(view, name)).some((actions) => actions.includes('Scan')),
      );

    expect(scanners.sort()).toEqual(['Admin', 'CancelOrders', 'Reconciler']);
    for (const name of scanners)
      for (const [table, actions] of Object.entries(dynamoAccessOf(view, name)))
        if (actions.includes('Scan')) expect(table, name).toBe('orders');
  });

  it('with Alpaca no function may touch the paper broker’s order book, and CheckOrder only reads the trading state', () => {
    const app = buildTestApp({ config: { broker: 'alpaca' } });
    const alpaca = new StatelessView(
      Template.fromStack(app.stateless).toJSON() as CfnTemplate,
      Template.fromStack(app.stateful).toJSON() as CfnTemplate,
    );
    const alpacaTable = (key: TableKey) => `<${logicalIdOf(app.stateful.tables[key])}.Arn>`;

    for (const name of alpaca.functionNames())
      expect(alpaca.dynamoResourcesOf(alpaca.functionId(name)), name).not.toContain(
        alpacaTable('paperOrders'),
      );
    expect(alpaca.dynamoAccess(alpaca.functionId('CheckOrder'))).toEqual({
      [alpacaTable('portfolio')]: ['GetItem', 'Query'],
    });
    // What the paper broker alone needed is gone; everything else is as with the paper broker.
    expect(alpaca.dynamoAccess(alpaca.functionId('Dashboard'))).toEqual({
      [alpacaTable('signals')]: ['GetItem'],
      [`${alpacaTable('signals')}/index/byDay`]: ['Query'],
      [alpacaTable('orders')]: ['GetItem'],
      [`${alpacaTable('orders')}/index/byLifecycle`]: ['Query'],
      [alpacaTable('portfolio')]: ['GetItem', 'Query'],
    });
  });

  it('every trading function is given every table’s name (its dependencies build every store), granted or not', () => {
    const untrading = ['Webhook', 'Health', 'LiveAuthorizer', 'LivePublisher'];
    for (const name of view.functionNames().filter((n) => !untrading.includes(n)))
      for (const key of Object.keys(TABLES) as TableKey[])
        expect(
          renderValue(view.variables(view.functionId(name))[TABLES[key].envVar], statefulJson),
          `${name} ${key}`,
        ).toBe(`<${logicalIdOf(stateful.tables[key])}>`);
  });

  it('the scheduled breaker may use only the portfolio table', () => {
    const resources = view.dynamoResourcesOf(view.functionId('Breaker'));

    expect(resources).toContain(tableArn('portfolio'));
    for (const key of ['signals', 'orders', 'paperOrders'] as const)
      expect(
        resources.filter((r) => r.startsWith(tableArn(key))),
        key,
      ).toEqual([]);
  });

  it('only the functions that announce something may put events, on the one bus and no other', () => {
    const publishers = [
      'Webhook',
      'RiskCheck',
      'RecordRejection',
      'CancelOrders',
      'SubmitOrder',
      'RecordFill',
      'RecordFailure',
      'Breaker',
      'Reconciler',
      'Admin',
    ];
    for (const name of view.functionNames()) {
      const puts = view.grants(view.functionId(name), 'events').flatMap((g) => g.resources);
      expect(puts, name).toEqual(publishers.includes(name) ? [busArn()] : []);
    }
    // The dependencies of CheckOrder name the bus; it never puts on it.
    for (const name of [...publishers.filter((n) => n !== 'Webhook'), 'CheckOrder'])
      expect(renderValue(view.variables(view.functionId(name)).EVENT_BUS_NAME, statefulJson), name).toBe(
        `<${logicalIdOf(stateful.bus)}>`,
      );
  });

  it('nothing has a wildcard action: no `*`, no `service:*`, no `dynamodb:*` on data', () => {
    const statements = identityPolicyStatements(json);
    expect(statements.length).toBeGreaterThan(0);

    for (const { logicalId, statement } of statements) {
      for (const action of asList(statement.Action).map(String)) expect(action, logicalId).not.toContain('*');
      for (const r of asList(statement.Resource))
        expect(renderValue(r, statefulJson), logicalId).not.toMatch(/index\/\*/);
    }
  });

  it('data is reached only on named resources: every dynamodb, events, secrets and queue grant names its resource', () => {
    for (const { logicalId, statement } of identityPolicyStatements(json)) {
      const data = asList(statement.Action).some((a) =>
        /^(dynamodb|events|secretsmanager|sqs|sns):/.test(String(a)),
      );
      if (!data) continue;
      for (const r of asList(statement.Resource))
        expect(renderValue(r, statefulJson), logicalId).not.toBe('*');
    }
  });
});

describe('trade-flow state machine', () => {
  it('starts by waiting until a delayed signal is due (a timestamp after receivedAt), else goes straight to RiskCheck', () => {
    const { StartAt, States } = stateMachine().asl;
    const delayed = States[StartAt] as unknown as {
      Type: string;
      Choices: { And: Record<string, unknown>[]; Next: string }[];
      Default: string;
    };

    expect(StartAt).toBe('Delayed?');
    expect(delayed.Type).toBe('Choice');
    expect(delayed.Default).toBe('RiskCheck');
    expect(delayed.Choices).toEqual([
      {
        And: [
          { Variable: '$.notBefore', IsPresent: true },
          { Variable: '$.notBefore', IsTimestamp: true },
          { Variable: '$.notBefore', TimestampGreaterThanPath: '$.receivedAt' },
        ],
        Next: 'Delay',
      },
    ]);
    expect(States.Delay).toMatchObject({ Type: 'Wait', TimestampPath: '$.notBefore', Next: 'RiskCheck' });
  });

  it('sends a cancelling signal to CancelOrders, and back to RiskCheck only when it trades afterwards', () => {
    const { States } = stateMachine().asl;
    const approved = States['Approved?'] as unknown as { Choices: { StringEquals?: string; Next: string }[] };
    const after = States['TradesAfterCancel?'] as unknown as {
      Choices: { BooleanEquals?: boolean; Variable: string; Next: string }[];
      Default: string;
    };

    expect(approved.Choices).toContainEqual(
      expect.objectContaining({ Variable: '$.decision', StringEquals: 'cancel', Next: 'CancelOrders' }),
    );
    expect(States.CancelOrders?.Next).toBe('TradesAfterCancel?');
    expect(States.CancelOrders?.Catch).toEqual([
      expect.objectContaining({ ErrorEquals: ['States.ALL'], Next: 'RecordFailure' }),
    ]);
    expect(after.Choices).toEqual([{ Variable: '$.decide', BooleanEquals: true, Next: 'RiskCheck' }]);
    expect(after.Default).toBe('Done');
  });

  it('lives long enough for a day’s delay and an order’s timeout (Standard), and 5 minutes (Express)', () => {
    const express = Template.fromStack(
      buildTestApp({ config: { workflow: { type: 'EXPRESS', orderTimeoutSeconds: 240 } } }).stateless,
    ).toJSON() as CfnTemplate;

    expect(stateMachine().asl.TimeoutSeconds).toBe(86_400 + 300 + 3600);
    expect(stateMachine(express).asl.TimeoutSeconds).toBe(300);
  });

  it('has a Task state for every trade-flow task, each with a TimeoutSeconds above its function’s timeout', () => {
    const { States } = stateMachine().asl;
    const tasks = Object.entries(States).filter(([, s]) => s.Type === 'Task');

    expect(tasks.map(([name]) => name).sort()).toEqual([...TRADE_FLOW_TASK_NAMES].sort());
    for (const [name, state] of tasks) {
      const functionTimeout = view.lambdaProps(view.functionId(name)).Timeout;
      expect(state.TimeoutSeconds, name).toBeGreaterThan(functionTimeout);
    }
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

  it('has X-Ray tracing on and logs every event (level ALL) with execution data', () => {
    const { props } = stateMachine();

    expect(props.TracingConfiguration).toEqual({ Enabled: true });
    expect(props.LoggingConfiguration).toMatchObject({ Level: 'ALL', IncludeExecutionData: true });
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
    const admin = view.functionId('Admin');

    expect(view.apiRoutes().every(({ integrationUri }) => !integrationUri.includes(admin))).toBe(true);
    const permissions = resourcesOfType(json, 'AWS::Lambda::Permission').filter(
      ([, p]) => renderValue(propsOf(p).FunctionName) === `<${admin}.Arn>`,
    );
    expect(permissions).toEqual([]);
  });

  it('has the fixed name the CLI invokes (pinebridge-<stage>-admin), and the stack outputs it and the webhook URL', () => {
    const admin = view.functionId('Admin');

    expect(propsOf(view.resource(admin)).FunctionName).toBe(adminFunctionName('dev'));
    const outputs = (json as unknown as { Outputs: Record<string, { Value: unknown }> }).Outputs;
    expect(renderValue(outputs.AdminFunctionName?.Value)).toBe(`<${admin}>`);
    expect(renderValue(outputs.WebhookUrl?.Value)).toMatch(/webhook$/);
    expect(renderValue(outputs.HealthUrl?.Value)).toMatch(/health$/);
    expect(renderValue(outputs.DashboardUrl?.Value)).toMatch(/#dashboards:name=pinebridge-dev$/);
  });
});

describe('web dashboard', () => {
  it('is named pinebridge-<stage>-dashboard, so its logs are found by name', () => {
    expect(propsOf(view.resource(dashboardId())).FunctionName).toBe(dashboardFunctionName('dev'));
  });

  it('reads its login password from the dashboard secret, by reference', () => {
    const variable = view.variables(dashboardId()).DASHBOARD_SECRET_ID;

    expect(typeof variable).toBe('object');
    expect(renderValue(variable, statefulJson)).toBe(`<${logicalIdOf(stateful.dashboardSecret)}>`);
    expect(view.grants(dashboardId(), 'secretsmanager').flatMap((g) => g.resources)).toEqual([
      `<${logicalIdOf(stateful.dashboardSecret)}>`,
    ]);
  });

  it('writes nothing itself: read actions only, no bus, no broker keys', () => {
    const actions = view.grants(dashboardId(), 'dynamodb').flatMap((g) => g.actions);

    expect([...new Set(actions)].sort()).toEqual(['dynamodb:GetItem', 'dynamodb:Query']);
    expect(view.grants(dashboardId(), 'events')).toEqual([]);
    expect(view.variables(dashboardId()).EVENT_BUS_NAME).toBeUndefined();
    expect(view.variables(dashboardId()).ALPACA_SECRET_ID).toBeUndefined();
  });

  it('may invoke the admin function (for stop, resume, reset-breaker) by its name, and no other function', () => {
    const statements = view
      .roleStatements(dashboardId())
      .filter((s) => asList(s.Action).some((a) => String(a).startsWith('lambda:')));

    expect(statements).toHaveLength(1);
    expect(asList(statements[0]?.Action)).toEqual(['lambda:InvokeFunction']);
    expect(asList(statements[0]?.Resource).map((r) => renderValue(r))).toEqual([
      `arn:<AWS::Partition>:lambda:<AWS::Region>:<AWS::AccountId>:function:${adminFunctionName('dev')}`,
    ]);
    expect(propsOf(view.resource(view.functionId('Admin'))).FunctionName).toBe(adminFunctionName('dev'));
    expect(view.variables(dashboardId()).ADMIN_FUNCTION_NAME).toBe(adminFunctionName('dev'));
  });

  it('outlives API Gateway’s 29 s: a slow emergency stop finishes even when the browser got a 504', () => {
    expect(view.lambdaProps(dashboardId()).Timeout).toBeGreaterThan(29);
  });

  it('has budgets of its own, apart from the webhook’s: a flood of alerts cannot crowd out the stop (POST /api/admin/{action}, 1 a second, bursts of 5)', () => {
    const settings = stageMethodSettings(json);
    const throttle = (method: string, path: string) =>
      settings
        .filter((m) => m.HttpMethod === method && m.ResourcePath === path)
        .map((m) => [m.ThrottlingRateLimit, m.ThrottlingBurstLimit]);

    expect(throttle('POST', '/~1api~1admin~1{action}')).toEqual([[1, 5]]);
    expect(throttle('GET', '/~1api~1{proxy+}')).toEqual([[5, 20]]);
    expect(throttle('GET', '/')).toEqual([[2, 10]]);
    expect(throttle('GET', '/~1assets~1{file}')).toEqual([[5, 20]]);
    expect(throttle('GET', '/~1login')).toEqual([[2, 10]]);
    expect(throttle('POST', '/~1logout')).toEqual([[1, 5]]);
  });

  it('password guesses are throttled at the API across every container: POST /login 1 a second, bursts of 5', () => {
    const [[, stage]] = resourcesOfType(json, 'AWS::ApiGateway::Stage') as [[string, CfnResource]];
    expect(propsOf(stage).MethodSettings).toContainEqual(
      expect.objectContaining({
        HttpMethod: 'POST',
        ResourcePath: '/~1login',
        ThrottlingRateLimit: 1,
        ThrottlingBurstLimit: 5,
      }),
    );
  });

  it('the stack outputs its URL, the API stage root', () => {
    const outputs = (json as unknown as { Outputs: Record<string, { Value: unknown }> }).Outputs;
    expect(renderValue(outputs.WebDashboardUrl?.Value)).toMatch(
      /^https:\/\/<Api\w+>\.execute-api\.<AWS::Region>\.<AWS::URLSuffix>\/<ApiDeploymentStagedev\w+>\/$/,
    );
  });

  it('with dashboard.enabled false there is no dashboard function, route or output, and the webhook and /health stay', () => {
    const app = buildTestApp({ config: { dashboard: { enabled: false } } });
    const without = new StatelessView(
      Template.fromStack(app.stateless).toJSON() as CfnTemplate,
      statefulJson,
    );

    expect(without.functionNames()).not.toContain('Dashboard');
    expect(
      without
        .apiRoutes()
        .map((r) => r.route)
        .sort(),
    ).toEqual(['GET /health', 'POST /webhook', 'POST /webhook/{secret}']);
    expect(without.json.Outputs?.WebDashboardUrl).toBeUndefined();
    expect(app.stateless.dashboardFunction).toBeUndefined();
  });
});

describe('live dashboard updates (AppSync Events)', () => {
  const apiId = () => {
    const apis = resourcesOfType(json, 'AWS::AppSync::Api');
    expect(apis).toHaveLength(1);
    return apis[0]?.[0] ?? '';
  };

  it('one Event API: pages connect and subscribe through the Lambda authorizer (never cached), only IAM publishes', () => {
    const config = propsOf(json.Resources[apiId()]).EventConfig as Record<string, unknown>;
    const providers = asList(config.AuthProviders) as {
      AuthType: string;
      LambdaAuthorizerConfig?: unknown;
    }[];
    const lambda = providers.find((p) => p.AuthType === 'AWS_LAMBDA')?.LambdaAuthorizerConfig as Record<
      string,
      unknown
    >;

    expect(providers.map((p) => p.AuthType).sort()).toEqual(['AWS_IAM', 'AWS_LAMBDA']);
    expect(renderValue(lambda.AuthorizerUri)).toBe(`<${view.functionId('LiveAuthorizer')}.Arn>`);
    expect(lambda.AuthorizerResultTtlInSeconds).toBe(0);
    expect(config.ConnectionAuthModes).toEqual([{ AuthType: 'AWS_LAMBDA' }]);
    expect(config.DefaultSubscribeAuthModes).toEqual([{ AuthType: 'AWS_LAMBDA' }]);
    expect(config.DefaultPublishAuthModes).toEqual([{ AuthType: 'AWS_IAM' }]);
    // No API key exists to leak.
    expect(resourcesOfType(json, 'AWS::AppSync::ApiKey')).toEqual([]);
    expect(resourcesOfType(json, 'AWS::AppSync::ChannelNamespace').map(([, ns]) => propsOf(ns).Name)).toEqual(
      [LIVE_NAMESPACE],
    );
  });

  it('AppSync, and only AppSync for this API, may invoke the authorizer', () => {
    const permissions = resourcesOfType(json, 'AWS::Lambda::Permission')
      .map(([, p]) => propsOf(p))
      .filter((p) => renderValue(p.FunctionName) === `<${view.functionId('LiveAuthorizer')}.Arn>`);

    expect(permissions).toHaveLength(1);
    expect(permissions[0]).toMatchObject({
      Action: 'lambda:InvokeFunction',
      Principal: 'appsync.amazonaws.com',
    });
    expect(renderValue(permissions[0]?.SourceArn)).toBe(`<${apiId()}.ApiArn>`);
  });

  it('a rule sends every signal, notice and trading-state change on the bus to the publisher, for a minute at most', () => {
    const rules = resourcesOfType(json, 'AWS::Events::Rule')
      .map(([, rule]) => propsOf(rule))
      .filter((props) =>
        asList(props.Targets).some(
          (t) => renderValue((t as { Arn: unknown }).Arn) === `<${view.functionId('LivePublisher')}.Arn>`,
        ),
      );

    expect(rules).toHaveLength(1);
    expect(renderValue(rules[0]?.EventBusName, statefulJson)).toBe(
      renderValue({ Ref: logicalIdOf(stateful.bus) }),
    );
    expect([...((rules[0]?.EventPattern as { source: string[] } | undefined)?.source ?? [])].sort()).toEqual(
      [SIGNAL_EVENT.source, NOTICE_EVENT.source, TRADING_STATE_EVENT.source].sort(),
    );
    expect(asList(rules[0]?.Targets)[0]).toMatchObject({
      RetryPolicy: { MaximumRetryAttempts: 2, MaximumEventAgeInSeconds: 60 },
    });
  });

  it('only the publisher may publish, only on the pinebridge namespace, and nothing may connect or subscribe with IAM', () => {
    const appsyncGrants = view
      .functionNames()
      .map((name) => [name, view.grants(view.functionId(name), 'appsync')] as const)
      .filter(([, grants]) => grants.length > 0);

    expect(appsyncGrants.map(([name]) => name)).toEqual(['LivePublisher']);
    const [grant] = appsyncGrants[0]?.[1] ?? [];
    expect(grant?.actions).toEqual(['appsync:EventPublish']);
    expect(grant?.resources).toEqual([
      `arn:<AWS::Partition>:appsync:<AWS::Region>:<AWS::AccountId>:apis/<${apiId()}.ApiId>/channelNamespace/${LIVE_NAMESPACE}`,
    ]);
    expect(renderValue(view.variables(view.functionId('LivePublisher')).LIVE_HTTP_DOMAIN)).toBe(
      `<${apiId()}.Dns.Http>`,
    );
  });

  it('the dashboard tells pages where to subscribe: the API’s realtime and HTTP domains', () => {
    const variables = view.variables(dashboardId());

    expect(renderValue(variables.LIVE_REALTIME_DOMAIN)).toBe(`<${apiId()}.Dns.Realtime>`);
    expect(renderValue(variables.LIVE_HTTP_DOMAIN)).toBe(`<${apiId()}.Dns.Http>`);
  });

  it('with the dashboard off there is no live-update API and no function for it', () => {
    const app = buildTestApp({ config: { dashboard: { enabled: false } } });
    const without = Template.fromStack(app.stateless).toJSON() as CfnTemplate;
    const names = new StatelessView(without, statefulJson).functionNames();

    expect(resourcesOfType(without, 'AWS::AppSync::Api')).toEqual([]);
    expect(names).not.toContain('LiveAuthorizer');
    expect(names).not.toContain('LivePublisher');
  });
});

describe('schedules', () => {
  /** The rule or schedules that invoke a function. */
  const eventRuleFor = (functionId: string) =>
    resourcesOfType(json, 'AWS::Events::Rule')
      .map(([, rule]) => propsOf(rule))
      .filter((props) =>
        asList(props.Targets).some((t) => renderValue((t as { Arn: unknown }).Arn) === `<${functionId}.Arn>`),
      );
  const schedulesFor = (source: CfnTemplate, functionId: string) =>
    resourcesOfType(source, 'AWS::Scheduler::Schedule')
      .map(([, schedule]) => propsOf(schedule))
      .filter((props) => renderValue((props.Target as { Arn: unknown }).Arn) === `<${functionId}.Arn>`);

  it('runs the breaker every minute, without retries; each run also rolls the session over when the New York date changes', () => {
    const rules = eventRuleFor(view.functionId('Breaker'));
    expect(rules).toHaveLength(1);
    const [target] = asList(rules[0]?.Targets) as { RetryPolicy?: { MaximumRetryAttempts: number } }[];

    expect(rules[0]?.ScheduleExpression).toBe('rate(1 minute)');
    expect(target?.RetryPolicy?.MaximumRetryAttempts).toBe(0);
  });

  it('with risk.marketHours "any" (trading around the clock) runs the reconciler every minute, without retries', () => {
    const schedules = schedulesFor(json, view.functionId('Reconciler'));

    expect(schedules.map((s) => [s.ScheduleExpression, s.ScheduleExpressionTimezone])).toEqual([
      ['cron(* * * * ? *)', 'America/New_York'],
    ]);
    expect(schedules[0]?.Target).toMatchObject({ RetryPolicy: { MaximumRetryAttempts: 0 } });
  });

  it('with regular market hours runs the reconciler every minute 09:00–16:59 New York on weekdays and every 15 minutes otherwise, never twice at once', () => {
    const app = buildTestApp({ config: { risk: { marketHours: 'regular' } } });
    const regular = new StatelessView(
      Template.fromStack(app.stateless).toJSON() as CfnTemplate,
      statefulJson,
    );
    const schedules = schedulesFor(regular.json, regular.functionId('Reconciler'));

    expect(schedules.map((s) => s.ScheduleExpression).sort()).toEqual(
      [
        'cron(* 9-16 ? * MON-FRI *)',
        'cron(0/15 0-8,17-23 ? * MON-FRI *)',
        'cron(0/15 * ? * SAT,SUN *)',
      ].sort(),
    );
    for (const schedule of schedules) expect(schedule.ScheduleExpressionTimezone).toBe('America/New_York');
  });

  it('with extended hours runs it every minute 04:00–20:59 New York on weekdays', () => {
    const app = buildTestApp({ config: { risk: { marketHours: 'extended' } } });
    const extended = new StatelessView(
      Template.fromStack(app.stateless).toJSON() as CfnTemplate,
      statefulJson,
    );

    expect(
      schedulesFor(extended.json, extended.functionId('Reconciler'))
        .map((s) => s.ScheduleExpression)
        .sort(),
    ).toEqual(
      [
        'cron(* 4-20 ? * MON-FRI *)',
        'cron(0/15 0-3,21-23 ? * MON-FRI *)',
        'cron(0/15 * ? * SAT,SUN *)',
      ].sort(),
    );
  });

  it('for every market-hours setting, each minute of the week has at most one run and no 15-minute stretch has none', () => {
    const matches = (field: string | undefined, value: number, names: readonly string[] = []) => {
      if (field === undefined || field === '*') return true;
      if (field.includes('/')) {
        const [start, step] = field.split('/').map(Number);
        return value >= (start ?? 0) && (value - (start ?? 0)) % (step ?? 1) === 0;
      }
      return field.split(',').some((part) => {
        const [from, to] = part.split('-').map((p) => (names.includes(p) ? names.indexOf(p) : Number(p)));
        return value >= (from ?? 0) && value <= (to ?? from ?? 0);
      });
    };
    const DAYS = ['SUN', 'MON', 'TUE', 'WED', 'THU', 'FRI', 'SAT'];
    for (const marketHours of ['any', 'regular', 'extended'] as const) {
      const windows = reconcileWindows(marketHours);
      let sinceLastRun = 0;
      for (let minuteOfWeek = 0; minuteOfWeek < 7 * 24 * 60; minuteOfWeek++) {
        const [day, hour, minute] = [
          Math.floor(minuteOfWeek / 1440),
          Math.floor(minuteOfWeek / 60) % 24,
          minuteOfWeek % 60,
        ];
        const runs = windows.filter(
          ({ cron }) =>
            matches(cron.weekDay, day, DAYS) && matches(cron.hour, hour) && matches(cron.minute, minute),
        ).length;
        expect(runs, `${marketHours} day ${day} ${hour}:${minute}`).toBeLessThanOrEqual(1);
        sinceLastRun = runs === 1 ? 0 : sinceLastRun + 1;
        expect(sinceLastRun, `${marketHours} day ${day} ${hour}:${minute}`).toBeLessThan(15);
      }
    }
  });

  it('the reconciler may use every table; only EventBridge Scheduler of this account may assume its invoke role', () => {
    const resources = view.dynamoResourcesOf(view.functionId('Reconciler'));
    for (const key of Object.keys(TABLES) as TableKey[]) expect(resources, key).toContain(tableArn(key));
    const [schedule] = schedulesFor(json, view.functionId('Reconciler'));
    const roleId =
      /^<(.+)\.Arn>$/.exec(
        renderValue((schedule?.Target as { RoleArn?: unknown } | undefined)?.RoleArn),
      )?.[1] ?? '';
    const trust = propsOf(view.resource(roleId)).AssumeRolePolicyDocument as { Statement: unknown[] };

    expect(trust.Statement).toEqual([
      expect.objectContaining({
        Principal: { Service: 'scheduler.amazonaws.com' },
        Condition: { StringEquals: { 'aws:SourceAccount': { Ref: 'AWS::AccountId' } } },
      }),
    ]);
  });
});

describe('broker keys', () => {
  it('no function is given broker keys while the paper broker is configured; the webhook, the dashboard (and its live-update authorizer) and the notifier read only their own secret', () => {
    const ownSecret = new Map([
      [webhookId(), `<${logicalIdOf(stateful.webhookSecret)}>`],
      [dashboardId(), `<${logicalIdOf(stateful.dashboardSecret)}>`],
      [view.functionId('LiveAuthorizer'), `<${logicalIdOf(stateful.dashboardSecret)}>`],
      [view.functionId('Notifier'), `<${logicalIdOf(stateful.notificationsSecret)}>`],
    ]);
    for (const [id] of view.lambdas()) {
      expect(view.variables(id).ALPACA_SECRET_ID, id).toBeUndefined();
      const read = view.grants(id, 'secretsmanager').flatMap((g) => g.resources);
      expect(read, id).toEqual(ownSecret.has(id) ? [ownSecret.get(id)] : []);
    }
  });

  it('with broker "alpaca" in live mode only the order functions, the reconciler and the admin function read the live keys (never the internet-facing dashboard)', () => {
    const app = buildTestApp({ config: { broker: 'alpaca', alpaca: { mode: 'live' } } });
    const liveStateful = Template.fromStack(app.stateful).toJSON() as CfnTemplate;
    const live = new StatelessView(Template.fromStack(app.stateless).toJSON() as CfnTemplate, liveStateful);
    const liveSecret = `<${logicalIdOf(app.stateful.alpacaSecrets.live)}>`;
    const paperSecret = `<${logicalIdOf(app.stateful.alpacaSecrets.paper)}>`;

    const readers = live
      .functionNames()
      .filter((name) =>
        live.grants(live.functionId(name), 'secretsmanager').some((g) => g.resources.includes(liveSecret)),
      );
    expect(readers.sort()).toEqual(['Admin', 'Reconciler', ...ORDER_FUNCTIONS].sort());
    // The dashboard reads its password and nothing else, and reaches the keys' holder by invoking it.
    expect(live.grants(live.functionId('Dashboard'), 'secretsmanager').flatMap((g) => g.resources)).toEqual([
      `<${logicalIdOf(app.stateful.dashboardSecret)}>`,
    ]);
    for (const name of live.functionNames()) {
      const id = live.functionId(name);
      const variable = live.variables(id).ALPACA_SECRET_ID;
      if (readers.includes(name)) expect(renderValue(variable, liveStateful), name).toBe(liveSecret);
      else expect(variable, name).toBeUndefined();
      for (const grant of live.grants(id, 'secretsmanager'))
        expect(grant.resources, name).not.toContain(paperSecret);
    }
  });
});

describe('signal rule and dead-letter queue', () => {
  it('the rule matches exactly the webhook\'s "Signal Received" events and targets the state machine', () => {
    const rules = signalRules();
    expect(rules).toHaveLength(1);
    const props = propsOf(rules[0]?.[1]);

    expect(props.EventPattern).toEqual({
      source: [SIGNAL_EVENT.source],
      'detail-type': [SIGNAL_EVENT.detailType],
    });
    const [machineId] = resourcesOfType(json, 'AWS::StepFunctions::StateMachine')[0] ?? [];
    expect(asList(props.Targets).map((t) => renderValue((t as { Arn: unknown }).Arn))).toEqual([
      `<${machineId}>`,
    ]);
  });

  it('it is the stack’s first rule, the one the local runtime reads its pattern from', () => {
    const [first] = resourcesOfType(json, 'AWS::Events::Rule');
    expect(propsOf(first?.[1]).EventPattern).toEqual({
      source: [SIGNAL_EVENT.source],
      'detail-type': [SIGNAL_EVENT.detailType],
    });
  });

  it('executions start with {signalId, symbol, receivedAt, notBefore} picked from the event: nothing else can reach the workflow or its logs', () => {
    const [target] = asList(propsOf(signalRules()[0]?.[1]).Targets) as {
      InputTransformer?: { InputPathsMap: Record<string, string>; InputTemplate: string };
      Input?: unknown;
      InputPath?: unknown;
    }[];
    const transformer = target?.InputTransformer;

    expect(target?.Input).toBeUndefined();
    expect(target?.InputPath).toBeUndefined();
    expect(Object.values(transformer?.InputPathsMap ?? {}).sort()).toEqual([
      '$.detail.notBefore',
      '$.detail.receivedAt',
      '$.detail.signalId',
      '$.detail.symbol',
    ]);
    const keys = Object.keys(JSON.parse((transformer?.InputTemplate ?? '{}').replace(/<[^>]+>/g, '"x"')));
    expect(keys.sort()).toEqual(['notBefore', 'receivedAt', 'signalId', 'symbol']);
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
    const queues = resourcesOfType(json, 'AWS::SQS::Queue').filter(([id]) =>
      id.startsWith('SignalDeadLetters'),
    );
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

describe('notifications (infra/constructs/notifications.ts)', () => {
  const queueId = () =>
    resourcesOfType(json, 'AWS::SQS::Queue').find(
      ([, q]) => propsOf(q).QueueName === 'pinebridge-dev-notify',
    )?.[0];

  it('routes notices from the bus, and this deployment’s alarms going into ALARM, to the notifier’s queue', () => {
    const rules = resourcesOfType(json, 'AWS::Events::Rule').map(([, r]) => propsOf(r));
    const notices = rules.find((r) => r.Name === 'pinebridge-dev-notices');
    const alarms = rules.find((r) => r.Name === 'pinebridge-dev-alarms-to-channels');

    expect(notices?.EventPattern).toEqual({ source: ['pinebridge.notify'], 'detail-type': ['Notice'] });
    expect(alarms?.EventPattern).toEqual({
      source: ['aws.cloudwatch'],
      'detail-type': ['CloudWatch Alarm State Change'],
      detail: { alarmName: [{ prefix: 'pinebridge-dev-' }], state: { value: ['ALARM'] } },
    });
    for (const rule of [notices, alarms])
      expect(asList(rule?.Targets).map((t) => renderValue((t as { Arn: unknown }).Arn))).toEqual([
        `<${queueId()}.Arn>`,
      ]);
  });

  it('the queue is encrypted, parks a batch that fails three times in its dead-letter queue, and feeds the notifier in batches', () => {
    const queue = propsOf(resourcesOfType(json, 'AWS::SQS::Queue').find(([id]) => id === queueId())?.[1]);
    const mapping = propsOf(resourcesOfType(json, 'AWS::Lambda::EventSourceMapping')[0]?.[1]);

    expect(queue.SqsManagedSseEnabled).toBe(true);
    expect(queue.RedrivePolicy).toMatchObject({ maxReceiveCount: 3 });
    expect(queue.VisibilityTimeout).toBe(360);
    expect(mapping).toMatchObject({ BatchSize: 50, MaximumBatchingWindowInSeconds: 5 });
    expect(renderValue(mapping.FunctionName)).toBe(`<${view.functionId('Notifier')}>`);
  });

  it('sends the daily summary from an EventBridge Scheduler schedule at 13:05 and 16:05 New York, Monday to Friday', () => {
    const schedule = propsOf(
      resourcesOfType(json, 'AWS::Scheduler::Schedule').find(
        ([, s]) => propsOf(s).Name === 'pinebridge-dev-daily-summary',
      )?.[1],
    );
    const target = schedule.Target as { Arn: unknown; Input: string };

    expect(schedule.ScheduleExpression).toBe('cron(5 13,16 ? * MON-FRI *)');
    expect(schedule.ScheduleExpressionTimezone).toBe('America/New_York');
    expect(renderValue(target.Arn)).toBe(`<${view.functionId('Notifier')}.Arn>`);
    expect(JSON.parse(target.Input)).toEqual({ dailySummary: true });
  });
});
