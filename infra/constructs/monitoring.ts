import { Aws, CfnCondition, type CfnResource, Duration, Fn } from 'aws-cdk-lib';
import type { RestApi } from 'aws-cdk-lib/aws-apigateway';
import {
  Alarm,
  ComparisonOperator,
  Dashboard,
  GraphWidget,
  type HorizontalAnnotation,
  type IMetric,
  MathExpression,
  Metric,
  PeriodOverride,
  SingleValueWidget,
  TextWidget,
  TreatMissingData,
} from 'aws-cdk-lib/aws-cloudwatch';
import { SnsAction } from 'aws-cdk-lib/aws-cloudwatch-actions';
import type { IEventBus, IRule } from 'aws-cdk-lib/aws-events';
import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import type { HealthCheck } from 'aws-cdk-lib/aws-route53';
import type { ITopic } from 'aws-cdk-lib/aws-sns';
import type { IQueue } from 'aws-cdk-lib/aws-sqs';
import type { StateMachine } from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';
import {
  METRIC,
  METRICS_NAMESPACE,
  METRICS_SERVICE,
  REASON_DIMENSION,
  STAGE_DIMENSION,
} from '../../shared/adapters/metrics.js';
import type { Config } from '../../shared/config/schema.js';

const FIVE_MINUTES = Duration.minutes(5);
/** CloudWatch alarms on metric math may combine at most this many metrics. */
const MAX_METRICS_PER_ALARM = 10;

export interface MonitoringProps {
  stage: 'dev' | 'prod';
  /** `<app>-<stage>`: every alarm name starts with it (the alert topic's policy relies on that). */
  prefix: string;
  config: Config;
  alertTopic: ITopic;
  api: RestApi;
  /** The webhook and the trade-flow tasks: what an alert passes through. */
  hotPath: Record<string, IFunction>;
  /** Schedules, the operator function and the health check. */
  operations: Record<string, IFunction>;
  stateMachine: StateMachine;
  bus: IEventBus;
  signalRule: IRule;
  deadLetterQueues: Record<string, IQueue>;
  healthCheck?: HealthCheck;
}

/**
 * The deployment's alarms (each to the alert topic) and its CloudWatch dashboard. Pinebridge's
 * own metrics come from TradingMetrics (namespace Pinebridge, dimensions service + stage); the
 * rest are AWS's (API Gateway, Lambda, Step Functions, EventBridge, SQS, Route 53).
 */
export class Monitoring extends Construct {
  /** By short name: `reconciler-heartbeat`, `dlq-signal`, … (the alarm is `<prefix>-<short name>`). */
  readonly alarms: Record<string, Alarm> = {};
  readonly dashboard: Dashboard;

  constructor(scope: Construct, id: string, props: MonitoringProps) {
    super(scope, id);
    const { stage, prefix, config } = props;
    const ours = (metricName: string, statistic = 'Sum', extra: Record<string, string> = {}) =>
      new Metric({
        namespace: METRICS_NAMESPACE,
        metricName,
        dimensionsMap: { service: METRICS_SERVICE, [STAGE_DIMENSION]: stage, ...extra },
        statistic,
        period: FIVE_MINUTES,
      });
    const alarm = (
      name: string,
      description: string,
      metric: IMetric,
      threshold: number,
      options: {
        comparison?: ComparisonOperator;
        missing?: TreatMissingData;
        evaluationPeriods?: number;
      } = {},
    ) => {
      const created = new Alarm(this, name, {
        alarmName: `${prefix}-${name}`,
        alarmDescription: description,
        metric,
        threshold,
        evaluationPeriods: options.evaluationPeriods ?? 1,
        comparisonOperator: options.comparison ?? ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        treatMissingData: options.missing ?? TreatMissingData.NOT_BREACHING,
      });
      created.addAlarmAction(new SnsAction(props.alertTopic));
      created.addOkAction(new SnsAction(props.alertTopic));
      this.alarms[name] = created;
      return created;
    };

    // Delivery: the bus could not start the workflow, or something was parked in a DLQ.
    alarm(
      'signal-delivery-failed',
      'EventBridge could not start the trade flow for a signal (it retries, then parks the event in the signal DLQ).',
      new Metric({
        namespace: 'AWS/Events',
        metricName: 'FailedInvocations',
        dimensionsMap: { EventBusName: props.bus.eventBusName, RuleName: props.signalRule.ruleName },
        statistic: 'Sum',
        period: FIVE_MINUTES,
      }),
      1,
    );
    for (const [name, queue] of Object.entries(props.deadLetterQueues)) {
      alarm(
        `dlq-${name}`,
        `Messages wait in the ${name} dead-letter queue: look at them, fix the cause, re-drive or delete them (docs/DEPLOYMENT.md).`,
        queue.metricApproximateNumberOfMessagesVisible({ statistic: 'Maximum', period: FIVE_MINUTES }),
        1,
      );
    }

    // The workflow.
    alarm(
      'executions-failed',
      'Trade-flow executions failed (each ended in RecordFailure; see the signal with `pinebridge signals`).',
      props.stateMachine.metricFailed({ statistic: 'Sum', period: FIVE_MINUTES }),
      1,
    );
    alarm(
      'executions-timed-out',
      'Trade-flow executions timed out (the order may still rest at the broker; the reconciler settles it).',
      props.stateMachine.metricTimedOut({ statistic: 'Sum', period: FIVE_MINUTES }),
      1,
    );

    // Lambda errors and throttles, summed per group (one alarm may combine at most 10 metrics).
    const groups = { 'hot-path': props.hotPath, operations: props.operations };
    for (const [group, functions] of Object.entries(groups)) {
      const entries = Object.entries(functions);
      if (entries.length > MAX_METRICS_PER_ALARM)
        throw new Error(`the ${group} group has ${entries.length} functions; an alarm sums at most 10`);
      const sum = (kind: 'errors' | 'throttles') =>
        new MathExpression({
          expression: entries.map((_, i) => `m${i}`).join(' + '),
          usingMetrics: Object.fromEntries(
            entries.map(([, fn], i) => [
              `m${i}`,
              kind === 'errors'
                ? fn.metricErrors({ statistic: 'Sum', period: FIVE_MINUTES })
                : fn.metricThrottles({ statistic: 'Sum', period: FIVE_MINUTES }),
            ]),
          ),
          label: `${group} ${kind}`,
          period: FIVE_MINUTES,
        });
      const names = entries.map(([name]) => name).join(', ');
      alarm(`lambda-errors-${group}`, `Lambda errors in ${names}.`, sum('errors'), 1);
      alarm(`lambda-throttles-${group}`, `Lambda throttles in ${names}.`, sum('throttles'), 1);
    }

    // What TradingView waits for, cold starts included.
    alarm(
      'webhook-latency-p99',
      `The webhook's p99 latency at API Gateway is above ${config.monitoring.webhookLatencyP99Ms} ms; TradingView gives up after 3 s (consider webhook.provisionedConcurrency).`,
      props.api.metricLatency({ statistic: 'p99', period: FIVE_MINUTES }),
      config.monitoring.webhookLatencyP99Ms,
      { comparison: ComparisonOperator.GREATER_THAN_THRESHOLD },
    );
    alarm(
      'auth-failures',
      `At least ${config.monitoring.authFailureThreshold} webhook calls in 5 minutes had a wrong or missing secret: a leaked URL, a probe, or an alert still using a rotated secret.`,
      ours(METRIC.authFailures),
      config.monitoring.authFailureThreshold,
    );

    // Trading.
    alarm(
      'orders-unknown',
      'An order’s fate could not be established: it keeps its reservation and blocks its symbol until the reconciler settles it.',
      ours(METRIC.unknownOrders),
      1,
    );
    alarm(
      'position-mismatch',
      'Our positions differ from the broker’s (reported by the reconciler, never overwritten).',
      ours(METRIC.positionMismatches),
      1,
    );
    alarm(
      'breaker-tripped',
      'The circuit breaker tripped (REDUCING or HALTED).',
      ours(METRIC.breakerTrips),
      1,
    );
    alarm(
      'notification-channel-failing',
      'A notification channel (Telegram, Discord, Slack, the signed webhook) keeps failing: check its token or URL in the notifications secret, then run pinebridge notify test (docs/NOTIFICATIONS.md). Trading is not affected.',
      ours(METRIC.notificationChannelFailing),
      1,
    );
    alarm(
      'broker-rate-limited',
      'The broker answered 429 (too many requests); orders may expire unsent.',
      ours(METRIC.brokerRateLimited),
      1,
    );
    alarm(
      'reconciler-heartbeat',
      'No completed reconciler run for 30 minutes: orders left in flight are not being settled.',
      new Metric({
        namespace: METRICS_NAMESPACE,
        metricName: METRIC.reconcilerHeartbeat,
        dimensionsMap: { service: METRICS_SERVICE, [STAGE_DIMENSION]: stage },
        statistic: 'Sum',
        period: Duration.minutes(15),
      }),
      1,
      {
        comparison: ComparisonOperator.LESS_THAN_THRESHOLD,
        missing: TreatMissingData.BREACHING,
        evaluationPeriods: 2,
      },
    );

    if (props.healthCheck !== undefined) {
      const health = alarm(
        'health-check',
        'Route 53 health checkers cannot get a 200 from GET /health.',
        new Metric({
          namespace: 'AWS/Route53',
          metricName: 'HealthCheckStatus',
          dimensionsMap: { HealthCheckId: props.healthCheck.healthCheckId },
          statistic: 'Minimum',
          period: Duration.minutes(1),
        }),
        1,
        { comparison: ComparisonOperator.LESS_THAN_THRESHOLD, evaluationPeriods: 3 },
      );
      // Route 53 publishes health-check metrics in us-east-1 only; elsewhere the alarm would
      // never see data, so it exists only there (the check itself works in every region).
      const inUsEast1 = new CfnCondition(this, 'InUsEast1', {
        expression: Fn.conditionEquals(Aws.REGION, 'us-east-1'),
      });
      (health.node.defaultChild as CfnResource).cfnOptions.condition = inUsEast1;
    }

    this.dashboard = this.buildDashboard(props, ours);
  }

  private buildDashboard(
    props: MonitoringProps,
    ours: (metricName: string, statistic?: string, extra?: Record<string, string>) => Metric,
  ): Dashboard {
    const { stage, prefix } = props;
    const byReason = (metricName: string, label: string) =>
      new MathExpression({
        expression: `SEARCH('{${METRICS_NAMESPACE},${REASON_DIMENSION},${STAGE_DIMENSION},service} MetricName="${metricName}" ${STAGE_DIMENSION}="${stage}"', 'Sum', 300)`,
        label,
        period: FIVE_MINUTES,
      });
    const functions = { ...props.hotPath, ...props.operations };
    const perFunction = (metric: (fn: IFunction) => Metric) =>
      Object.entries(functions).map(([name, fn]) => metric(fn).with({ label: name }));
    const wide = 12;
    const height = 6;

    const dashboard = new Dashboard(this, 'Dashboard', {
      dashboardName: prefix,
      defaultInterval: Duration.hours(24),
      periodOverride: PeriodOverride.AUTO,
    });
    dashboard.addWidgets(
      new TextWidget({
        markdown: `# Pinebridge ${stage}\nSignals, orders and the book (namespace \`${METRICS_NAMESPACE}\`), then the AWS services under them. Alarms go to the alert topic; docs/DEPLOYMENT.md explains each.`,
        width: 24,
        height: 2,
      }),
    );
    dashboard.addWidgets(
      new GraphWidget({
        title: 'Signals received / accepted / rejected',
        width: wide,
        height,
        left: [
          ours(METRIC.signalsReceived).with({ label: 'received' }),
          ours(METRIC.signalsAccepted).with({ label: 'accepted' }),
          ours(METRIC.signalsDuplicate).with({ label: 'duplicate' }),
          ours(METRIC.signalsRefused).with({ label: 'refused by the webhook' }),
          ours(METRIC.signalsRejected).with({ label: 'rejected by the risk check' }),
          ours(METRIC.authFailures).with({ label: 'auth failures' }),
        ],
      }),
      new GraphWidget({
        title: 'Signals rejected by reason',
        width: wide,
        height,
        left: [byReason(METRIC.signalsRejected, 'risk check'), byReason(METRIC.signalsRefused, 'webhook')],
      }),
    );
    dashboard.addWidgets(
      new GraphWidget({
        title: 'Orders submitted / filled / failed / unknown',
        width: wide,
        height,
        left: [
          ours(METRIC.ordersSubmitted).with({ label: 'submitted' }),
          ours(METRIC.ordersFilled).with({ label: 'filled' }),
          ours(METRIC.ordersCancelled).with({ label: 'cancelled' }),
          ours(METRIC.ordersRejected).with({ label: 'rejected by the broker' }),
          ours(METRIC.ordersFailed).with({ label: 'failed' }),
          ours(METRIC.unknownOrders).with({ label: 'unknown' }),
        ],
      }),
      new GraphWidget({
        title: 'Equity and session P&L (USD)',
        width: 6,
        height,
        left: [ours(METRIC.equity, 'Average').with({ label: 'equity' })],
        right: [ours(METRIC.sessionPnl, 'Average').with({ label: 'session P&L' })],
      }),
      new GraphWidget({
        title: 'Trading state (0 ACTIVE, 1 REDUCING, 2 HALTED)',
        width: 6,
        height,
        left: [ours(METRIC.tradingState, 'Maximum').with({ label: 'trading state' })],
        leftYAxis: { min: 0, max: 2 },
        leftAnnotations: [
          { value: 1, label: 'REDUCING' } satisfies HorizontalAnnotation,
          { value: 2, label: 'HALTED' } satisfies HorizontalAnnotation,
        ],
      }),
    );
    dashboard.addWidgets(
      new GraphWidget({
        title: 'Webhook latency p50 / p99 (ms)',
        width: wide,
        height,
        left: [
          props.api.metricLatency({ statistic: 'p50', period: FIVE_MINUTES }).with({ label: 'API p50' }),
          props.api.metricLatency({ statistic: 'p99', period: FIVE_MINUTES }).with({ label: 'API p99' }),
          ours(METRIC.webhookLatency, 'p50').with({ label: 'handler p50' }),
          ours(METRIC.webhookLatency, 'p99').with({ label: 'handler p99' }),
        ],
        leftAnnotations: [{ value: props.config.monitoring.webhookLatencyP99Ms, label: 'alarm' }],
      }),
      new GraphWidget({
        title: 'Trade-flow executions',
        width: wide,
        height,
        left: [
          props.stateMachine.metricStarted({ statistic: 'Sum' }).with({ label: 'started' }),
          props.stateMachine.metricSucceeded({ statistic: 'Sum' }).with({ label: 'succeeded' }),
          props.stateMachine.metricFailed({ statistic: 'Sum' }).with({ label: 'failed' }),
          props.stateMachine.metricTimedOut({ statistic: 'Sum' }).with({ label: 'timed out' }),
          props.stateMachine.metricAborted({ statistic: 'Sum' }).with({ label: 'aborted' }),
        ],
      }),
    );
    dashboard.addWidgets(
      new GraphWidget({
        title: 'Lambda errors',
        width: 8,
        height,
        left: perFunction((fn) => fn.metricErrors({ statistic: 'Sum', period: FIVE_MINUTES })),
      }),
      new GraphWidget({
        title: 'Lambda throttles',
        width: 8,
        height,
        left: perFunction((fn) => fn.metricThrottles({ statistic: 'Sum', period: FIVE_MINUTES })),
      }),
      new GraphWidget({
        title: 'Lambda duration p99 (ms)',
        width: 8,
        height,
        left: perFunction((fn) => fn.metricDuration({ statistic: 'p99', period: FIVE_MINUTES })),
      }),
    );
    dashboard.addWidgets(
      new GraphWidget({
        title: 'Dead-letter queue depth',
        width: 8,
        height,
        left: Object.entries(props.deadLetterQueues).map(([name, queue]) =>
          queue
            .metricApproximateNumberOfMessagesVisible({ statistic: 'Maximum', period: FIVE_MINUTES })
            .with({ label: name }),
        ),
      }),
      new GraphWidget({
        title: 'Broker and reconciler',
        width: 8,
        height,
        left: [
          ours(METRIC.brokerRateLimited).with({ label: 'broker 429s' }),
          ours(METRIC.positionMismatches).with({ label: 'position mismatches' }),
          ours(METRIC.breakerTrips).with({ label: 'breaker trips' }),
          ours(METRIC.reconcilerHeartbeat).with({ label: 'reconciler runs' }),
        ],
      }),
      new SingleValueWidget({
        title: 'Signals and orders, last 24 h',
        width: 8,
        height,
        setPeriodToTimeRange: true,
        metrics: [
          ours(METRIC.signalsAccepted).with({ label: 'accepted' }),
          ours(METRIC.ordersFilled).with({ label: 'filled' }),
          ours(METRIC.ordersFailed).with({ label: 'failed' }),
        ],
      }),
    );
    return dashboard;
  }
}
