import { Template } from 'aws-cdk-lib/assertions';
import { beforeAll, describe, expect, it } from 'vitest';
import { METRIC, METRICS_NAMESPACE, METRICS_SERVICE } from '../../shared/adapters/metrics.js';
import { TRADE_FLOW_TASK_NAMES } from '../../shared/usecases/tasks.js';
import {
  asList,
  buildTestApp,
  type CfnResource,
  type CfnTemplate,
  logicalIdOf,
  propsOf,
  renderValue,
  resourcesOfType,
  StatelessView,
} from './support.js';

/**
 * Observability of a deployment: every function emits Powertools logs and EMF metrics with the
 * stage as a dimension; alarms for each condition of the deployment issue go to the alert
 * topic; one dashboard shows signals, orders, the book, latency and the AWS services under them.
 */

interface AlarmProps {
  AlarmName: string;
  Namespace?: string;
  MetricName?: string;
  Dimensions?: { Name: string; Value: unknown }[];
  Metrics?: {
    Id: string;
    Expression?: string;
    MetricStat?: { Metric: { MetricName: string; Dimensions: { Name: string; Value: unknown }[] } };
  }[];
  Statistic?: string;
  ExtendedStatistic?: string;
  Period?: number;
  Threshold: number;
  ComparisonOperator: string;
  TreatMissingData: string;
  EvaluationPeriods: number;
  AlarmActions: unknown[];
  OKActions: unknown[];
}

let json: CfnTemplate;
let statefulJson: CfnTemplate;
let view: StatelessView;
let topicRef: string;
let alarms: Map<string, AlarmProps>;

beforeAll(() => {
  const app = buildTestApp({
    config: { monitoring: { authFailureThreshold: 7, webhookLatencyP99Ms: 1800 } },
  });
  statefulJson = Template.fromStack(app.stateful).toJSON() as CfnTemplate;
  json = Template.fromStack(app.stateless).toJSON() as CfnTemplate;
  view = new StatelessView(json, statefulJson);
  topicRef = `<${logicalIdOf(app.stateful.alertTopic)}>`;
  alarms = new Map(
    resourcesOfType(json, 'AWS::CloudWatch::Alarm').map(([, alarm]) => {
      const props = propsOf(alarm) as unknown as AlarmProps;
      return [props.AlarmName.replace(/^pinebridge-dev-/, ''), props];
    }),
  );
});

const alarm = (name: string): AlarmProps => {
  const found = alarms.get(name);
  if (!found) throw new Error(`no alarm pinebridge-dev-${name}; there are ${[...alarms.keys()].join(', ')}`);
  return found;
};
const ourDimensions = [
  { Name: 'service', Value: METRICS_SERVICE },
  { Name: 'stage', Value: 'dev' },
];

describe('logs and metrics in every function', () => {
  it('every function has Powertools’ service name, the metrics namespace and its stage in its environment', () => {
    for (const [id] of view.lambdas()) {
      expect(view.variables(id), id).toMatchObject({
        POWERTOOLS_SERVICE_NAME: METRICS_SERVICE,
        POWERTOOLS_METRICS_NAMESPACE: METRICS_NAMESPACE,
        PINEBRIDGE_STAGE: 'dev',
      });
    }
  });
});

describe('alarms', () => {
  it('each condition of the deployment issue has an alarm, all named <app>-<stage>-…', () => {
    expect([...alarms.keys()].sort()).toEqual(
      [
        'auth-failures',
        'breaker-tripped',
        'broker-rate-limited',
        'dlq-notification',
        'dlq-notify',
        'dlq-signal',
        'executions-failed',
        'executions-timed-out',
        'lambda-errors-hot-path',
        'lambda-errors-operations',
        'lambda-throttles-hot-path',
        'lambda-throttles-operations',
        'notification-channel-failing',
        'orders-unknown',
        'position-mismatch',
        'reconciler-heartbeat',
        'signal-delivery-failed',
        'webhook-latency-p99',
      ].sort(),
    );
  });

  it('every alarm notifies the alert topic when it goes off and when it recovers', () => {
    for (const [name, props] of alarms) {
      expect(
        props.AlarmActions.map((a) => renderValue(a, statefulJson)),
        name,
      ).toEqual([topicRef]);
      expect(
        props.OKActions.map((a) => renderValue(a, statefulJson)),
        name,
      ).toEqual([topicRef]);
    }
  });

  it('EventBridge failing to start the workflow for a signal raises an alarm', () => {
    const props = alarm('signal-delivery-failed');
    const [ruleId] = resourcesOfType(json, 'AWS::Events::Rule')[0] as [string, CfnResource];

    expect(props).toMatchObject({ Namespace: 'AWS/Events', MetricName: 'FailedInvocations', Threshold: 1 });
    expect(props.Dimensions?.map((d) => [d.Name, renderValue(d.Value, statefulJson)])).toEqual([
      ['EventBusName', expect.stringMatching(/^<Bus/)],
      ['RuleName', `<${ruleId}>`],
    ]);
  });

  it('any message in a dead-letter queue (signals, alert deliveries, the notifier’s queue) raises an alarm', () => {
    for (const name of ['dlq-signal', 'dlq-notification', 'dlq-notify'])
      expect(alarm(name), name).toMatchObject({
        Namespace: 'AWS/SQS',
        MetricName: 'ApproximateNumberOfMessagesVisible',
        Statistic: 'Maximum',
        ComparisonOperator: 'GreaterThanOrEqualToThreshold',
        Threshold: 1,
      });
    expect(renderValue(alarm('dlq-notification').Dimensions?.[0]?.Value, statefulJson)).toMatch(
      /^<NotificationDeadLetters.+\.QueueName>$/,
    );
  });

  it('failed and timed-out executions each raise an alarm', () => {
    expect(alarm('executions-failed')).toMatchObject({
      Namespace: 'AWS/States',
      MetricName: 'ExecutionsFailed',
    });
    expect(alarm('executions-timed-out')).toMatchObject({
      Namespace: 'AWS/States',
      MetricName: 'ExecutionsTimedOut',
    });
  });

  it('Lambda errors and throttles of every function raise an alarm (summed per group of at most 10)', () => {
    const functionsIn = (name: string) =>
      (alarm(name).Metrics ?? [])
        .filter((m) => m.MetricStat !== undefined)
        .map((m) => renderValue(m.MetricStat?.Metric.Dimensions[0]?.Value));
    const everyFunction = view.lambdas().map(([id]) => `<${id}>`);

    for (const kind of ['errors', 'throttles']) {
      const covered = [
        ...functionsIn(`lambda-${kind}-hot-path`),
        ...functionsIn(`lambda-${kind}-operations`),
      ];
      expect(covered.sort(), kind).toEqual(everyFunction.sort());
      expect(functionsIn(`lambda-${kind}-hot-path`).length).toBeLessThanOrEqual(10);
      expect(alarm(`lambda-${kind}-hot-path`).Threshold).toBe(1);
    }
    expect(functionsIn('lambda-errors-hot-path')).toHaveLength(1 + TRADE_FLOW_TASK_NAMES.length);
  });

  it('the webhook’s p99 at API Gateway above monitoring.webhookLatencyP99Ms raises an alarm', () => {
    expect(alarm('webhook-latency-p99')).toMatchObject({
      Namespace: 'AWS/ApiGateway',
      MetricName: 'Latency',
      ExtendedStatistic: 'p99',
      ComparisonOperator: 'GreaterThanThreshold',
      Threshold: 1800,
      Dimensions: [{ Name: 'ApiName', Value: 'pinebridge-dev-api' }],
    });
  });

  it('a burst of monitoring.authFailureThreshold auth failures in 5 minutes raises an alarm', () => {
    expect(alarm('auth-failures')).toMatchObject({
      Namespace: METRICS_NAMESPACE,
      MetricName: METRIC.authFailures,
      Dimensions: ourDimensions,
      Statistic: 'Sum',
      Period: 300,
      Threshold: 7,
    });
  });

  it.each([
    ['orders-unknown', METRIC.unknownOrders],
    ['position-mismatch', METRIC.positionMismatches],
    ['breaker-tripped', METRIC.breakerTrips],
    ['broker-rate-limited', METRIC.brokerRateLimited],
  ])('%s goes off on the first %s', (name, metricName) => {
    expect(alarm(name)).toMatchObject({
      Namespace: METRICS_NAMESPACE,
      MetricName: metricName,
      Dimensions: ourDimensions,
      Statistic: 'Sum',
      ComparisonOperator: 'GreaterThanOrEqualToThreshold',
      Threshold: 1,
      TreatMissingData: 'notBreaching',
    });
  });

  it('the reconciler’s heartbeat missing for two 15-minute periods raises an alarm: missing data is breaching', () => {
    expect(alarm('reconciler-heartbeat')).toMatchObject({
      Namespace: METRICS_NAMESPACE,
      MetricName: METRIC.reconcilerHeartbeat,
      Dimensions: ourDimensions,
      Statistic: 'Sum',
      Period: 900,
      EvaluationPeriods: 2,
      ComparisonOperator: 'LessThanThreshold',
      Threshold: 1,
      TreatMissingData: 'breaching',
    });
  });

  it('with monitoring.healthCheck, a failing Route 53 check raises an alarm, created only in us-east-1 where its metric lives', () => {
    const app = buildTestApp({ config: { monitoring: { healthCheck: true } } });
    const withCheck = Template.fromStack(app.stateless).toJSON() as CfnTemplate & {
      Conditions: Record<string, unknown>;
    };
    const [[checkId]] = resourcesOfType(withCheck, 'AWS::Route53::HealthCheck') as [[string, CfnResource]];
    const [, health] =
      resourcesOfType(withCheck, 'AWS::CloudWatch::Alarm').find(
        ([, a]) => propsOf(a).AlarmName === 'pinebridge-dev-health-check',
      ) ?? [];

    expect(propsOf(health)).toMatchObject({
      Namespace: 'AWS/Route53',
      MetricName: 'HealthCheckStatus',
      Dimensions: [{ Name: 'HealthCheckId', Value: { Ref: checkId } }],
      ComparisonOperator: 'LessThanThreshold',
    });
    const condition = (health as CfnResource & { Condition?: string }).Condition ?? '';
    expect(withCheck.Conditions[condition]).toEqual({ 'Fn::Equals': [{ Ref: 'AWS::Region' }, 'us-east-1'] });
  });
});

describe('dashboard', () => {
  let body: { widgets: { type: string; properties: { title?: string; metrics?: unknown[][] } }[] };
  const widget = (title: string) => {
    const found = body.widgets.find((w) => w.properties.title === title);
    if (!found) throw new Error(`no widget "${title}"`);
    return JSON.stringify(found.properties.metrics);
  };

  beforeAll(() => {
    const dashboards = resourcesOfType(json, 'AWS::CloudWatch::Dashboard');
    expect(dashboards).toHaveLength(1);
    const props = propsOf(dashboards[0]?.[1]);
    expect(props.DashboardName).toBe('pinebridge-dev');
    body = JSON.parse(renderValue(props.DashboardBody, statefulJson));
  });

  it('shows signals received, accepted and rejected, and rejections by reason', () => {
    const signals = widget('Signals received / accepted / rejected');
    for (const name of [METRIC.signalsReceived, METRIC.signalsAccepted, METRIC.signalsRejected])
      expect(signals).toContain(`"${name}"`);
    expect(widget('Signals rejected by reason')).toContain(
      `SEARCH('{Pinebridge,Reason,stage,service} MetricName=\\"SignalsRejected\\" stage=\\"dev\\"', 'Sum', 300)`,
    );
  });

  it('shows orders submitted, filled, failed and unknown', () => {
    const orders = widget('Orders submitted / filled / failed / unknown');
    for (const name of [
      METRIC.ordersSubmitted,
      METRIC.ordersFilled,
      METRIC.ordersFailed,
      METRIC.unknownOrders,
    ])
      expect(orders).toContain(`"${name}"`);
  });

  it('shows equity and session P&L, and the trading state', () => {
    expect(widget('Equity and session P&L (USD)')).toContain(`"${METRIC.equity}"`);
    expect(widget('Equity and session P&L (USD)')).toContain(`"${METRIC.sessionPnl}"`);
    expect(widget('Trading state (0 ACTIVE, 1 REDUCING, 2 HALTED)')).toContain(`"${METRIC.tradingState}"`);
  });

  it('shows the webhook’s latency p50 and p99, at API Gateway and in the handler', () => {
    const latency = widget('Webhook latency p50 / p99 (ms)');
    expect(latency).toContain('"AWS/ApiGateway","Latency"');
    expect(latency).toContain(`"${METRIC.webhookLatency}"`);
    expect(latency).toContain('"stat":"p50"');
    expect(latency).toContain('"stat":"p99"');
  });

  it('shows Lambda errors, throttles and durations for every function, executions and DLQ depth', () => {
    for (const [title, metricName] of [
      ['Lambda errors', 'Errors'],
      ['Lambda throttles', 'Throttles'],
      ['Lambda duration p99 (ms)', 'Duration'],
    ] as const) {
      const metrics = widget(title);
      expect(metrics).toContain(`"AWS/Lambda","${metricName}"`);
      for (const [id] of view.lambdas()) expect(metrics, `${title} ${id}`).toContain(`<${id}>`);
    }
    const executions = widget('Trade-flow executions');
    for (const name of ['ExecutionsStarted', 'ExecutionsSucceeded', 'ExecutionsFailed', 'ExecutionsTimedOut'])
      expect(executions).toContain(name);
    const dlq = widget('Dead-letter queue depth');
    expect(dlq).toContain('ApproximateNumberOfMessagesVisible');
    expect(asList(JSON.parse(dlq))).toHaveLength(3);
  });
});
