import { CfnOutput, Duration, Stack, type StackProps, Validations } from 'aws-cdk-lib';
import {
  AccessLogFormat,
  EndpointType,
  LambdaIntegration,
  LogGroupLogDestination,
  MethodLoggingLevel,
  RestApi,
} from 'aws-cdk-lib/aws-apigateway';
import type { TableV2 } from 'aws-cdk-lib/aws-dynamodb';
import { type EventBus, Rule, Schedule } from 'aws-cdk-lib/aws-events';
import { LambdaFunction, SfnStateMachine } from 'aws-cdk-lib/aws-events-targets';
import { LogGroup, RetentionDays } from 'aws-cdk-lib/aws-logs';
import type { Secret } from 'aws-cdk-lib/aws-secretsmanager';
import { Queue, QueueEncryption } from 'aws-cdk-lib/aws-sqs';
import type { Construct } from 'constructs';
import { TABLES, type TableKey } from '../../shared/adapters/dynamodb/tables.js';
import { SIGNAL_EVENT } from '../../shared/adapters/events.js';
import { adminFunctionName, resourcePrefix } from '../../shared/config/names.js';
import type { Config } from '../../shared/config/schema.js';
import {
  TRADE_FLOW_TASK_NAMES,
  TRADE_FLOW_TASKS,
  type TradeFlowTaskName,
} from '../../shared/usecases/tasks.js';
import { PinebridgeFunction } from '../constructs/pinebridge-function.js';
import { TradeFlow } from '../constructs/trade-flow.js';

export interface StatelessStackProps extends StackProps {
  stage: 'dev' | 'prod';
  config: Config;
  tables: Record<TableKey, TableV2>;
  bus: EventBus;
  webhookSecret: Secret;
  alpacaSecrets: Record<'paper' | 'live', Secret>;
}

/** What runs: the webhook API, the workflow and its functions, and the rule that joins them. */
export class StatelessStack extends Stack {
  readonly api: RestApi;
  readonly tradeFlow: TradeFlow;
  /** Emergency stop, resume, reset-breaker: `aws lambda invoke` with IAM (docs/RUNBOOK.md). */
  readonly adminFunction: PinebridgeFunction;

  constructor(scope: Construct, id: string, props: StatelessStackProps) {
    super(scope, id, props);
    const { stage, config, tables } = props;
    const prefix = resourcePrefix(stage);
    const environment = { PINEBRIDGE_CONFIG: JSON.stringify(config) };
    // Only with Alpaca configured, and only the configured mode's keys, for the functions that trade.
    const alpacaSecret = config.broker === 'alpaca' ? props.alpacaSecrets[config.alpaca.mode] : undefined;
    const readsBrokerKeys = (fn: PinebridgeFunction) => {
      if (alpacaSecret === undefined) return;
      fn.addEnvironment('ALPACA_SECRET_ID', alpacaSecret.secretArn);
      alpacaSecret.grantRead(fn);
    };

    // The webhook answers TradingView inside 3 s: a short timeout and the SDK's own tight retries.
    const webhook = new PinebridgeFunction(this, 'Webhook', {
      entry: 'webhook',
      stage,
      timeout: Duration.seconds(3),
      description: 'Authenticates, validates, records and publishes TradingView alerts',
      environment: {
        ...environment,
        EVENT_BUS_NAME: props.bus.eventBusName,
        WEBHOOK_SECRET_ID: props.webhookSecret.secretArn,
      },
    }).bindTable(tables.signals, TABLES.signals, 'readWrite');
    // The webhook touches only the signals table; the others' names satisfy the shared wiring.
    for (const key of ['orders', 'portfolio', 'paperOrders'] as const)
      webhook.addEnvironment(TABLES[key].envVar, tables[key].tableName);
    props.bus.grantPutEventsTo(webhook);
    props.webhookSecret.grantRead(webhook);

    const functions = Object.fromEntries(
      TRADE_FLOW_TASK_NAMES.map((name) => {
        const fn = new PinebridgeFunction(this, name, {
          entry: TRADE_FLOW_TASKS[name].entry,
          stage,
          // Below every Task's own timeout (15–20 s), so the function's limit is the one that fires.
          timeout: Duration.seconds(12),
          description: `Trade flow task ${name}`,
          environment,
        });
        for (const key of Object.keys(TABLES) as TableKey[])
          fn.bindTable(tables[key], TABLES[key], 'readWrite');
        // Breaker transitions and a reversal's second leg go on the bus.
        fn.addEnvironment('EVENT_BUS_NAME', props.bus.eventBusName);
        props.bus.grantPutEventsTo(fn);
        readsBrokerKeys(fn);
        return [name, fn];
      }),
    ) as Record<TradeFlowTaskName, PinebridgeFunction>;

    this.tradeFlow = new TradeFlow(this, 'TradeFlow', {
      functions,
      type: config.workflow.type,
      stateMachineName: `${prefix}-trade-flow`,
    });

    // The DLQ lives beside the rule: its queue policy names the rule, so in the stateful stack it
    // would make the two stacks depend on each other.
    const deadLetterQueue = new Queue(this, 'SignalDeadLetters', {
      queueName: `${prefix}-signal-dlq`,
      encryption: QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      retentionPeriod: Duration.days(14),
    });
    Validations.of(deadLetterQueue).acknowledge({
      id: 'AwsSolutions-SQS3',
      reason: 'This queue is itself the dead-letter queue of the signal rule.',
    });

    new Rule(this, 'SignalReceived', {
      eventBus: props.bus,
      eventPattern: { source: [SIGNAL_EVENT.source], detailType: [SIGNAL_EVENT.detailType] },
      targets: [
        new SfnStateMachine(this.tradeFlow.stateMachine, {
          // A stale signal is worthless: give up after a few minutes and park it in the DLQ.
          retryAttempts: 4,
          maxEventAge: Duration.minutes(5),
          deadLetterQueue,
        }),
      ],
    });

    // The breaker's cool-downs end on time even when no alert arrives.
    const breaker = new PinebridgeFunction(this, 'Breaker', {
      entry: 'breaker',
      stage,
      timeout: Duration.seconds(30),
      description: 'Evaluates the circuit breaker every minute (trips, cool-down resets, session roll-over)',
      environment: { ...environment, EVENT_BUS_NAME: props.bus.eventBusName },
    }).bindTable(tables.portfolio, TABLES.portfolio, 'readWrite');
    for (const key of ['signals', 'orders', 'paperOrders'] as const)
      breaker.addEnvironment(TABLES[key].envVar, tables[key].tableName);
    props.bus.grantPutEventsTo(breaker);
    // With Alpaca the account opens from the broker's cash, so even the breaker may need the keys.
    readsBrokerKeys(breaker);
    new Rule(this, 'BreakerSchedule', {
      description: 'Runs the circuit-breaker evaluation every minute',
      schedule: Schedule.rate(Duration.minutes(1)),
      targets: [new LambdaFunction(breaker, { retryAttempts: 0 })],
    });

    // The operator's stop / resume / reset-breaker: invoked with IAM only, never through the API.
    this.adminFunction = new PinebridgeFunction(this, 'Admin', {
      entry: 'admin',
      stage,
      // A fixed name: the `pinebridge --stage` CLI invokes it by name with the operator's IAM identity.
      functionName: adminFunctionName(stage),
      timeout: Duration.seconds(60),
      description: 'Emergency stop (halt, cancel, flatten), resume and reset-breaker; IAM-invoked only',
      environment: { ...environment, EVENT_BUS_NAME: props.bus.eventBusName },
    });
    for (const key of Object.keys(TABLES) as TableKey[])
      this.adminFunction.bindTable(tables[key], TABLES[key], 'readWrite');
    props.bus.grantPutEventsTo(this.adminFunction);
    readsBrokerKeys(this.adminFunction);

    // What a lost execution or a broker outage left behind is settled, and positions compared.
    const reconciler = new PinebridgeFunction(this, 'Reconciler', {
      entry: 'reconciler',
      stage,
      timeout: Duration.seconds(60),
      description:
        'Settles orders left in flight or unknown, republishes undecided signals, compares positions',
      environment: { ...environment, EVENT_BUS_NAME: props.bus.eventBusName },
    });
    for (const key of Object.keys(TABLES) as TableKey[])
      reconciler.bindTable(tables[key], TABLES[key], 'readWrite');
    props.bus.grantPutEventsTo(reconciler);
    readsBrokerKeys(reconciler);
    new Rule(this, 'ReconcilerSchedule', {
      description: 'Runs the reconciler every five minutes',
      schedule: Schedule.rate(Duration.minutes(5)),
      targets: [new LambdaFunction(reconciler, { retryAttempts: 0 })],
    });

    const accessLogs = new LogGroup(this, 'ApiAccessLogs', { retention: RetentionDays.ONE_MONTH });
    this.api = new RestApi(this, 'Api', {
      restApiName: `${prefix}-api`,
      endpointConfiguration: { types: [EndpointType.REGIONAL] },
      deployOptions: {
        stageName: stage,
        throttlingRateLimit: config.api.throttle.rateLimit,
        throttlingBurstLimit: config.api.throttle.burstLimit,
        // Off: API Gateway's trace segments record the request URL, and /webhook/{secret} carries
        // the secret. The functions and the workflow are traced.
        tracingEnabled: false,
        loggingLevel: MethodLoggingLevel.ERROR,
        dataTraceEnabled: false,
        accessLogDestination: new LogGroupLogDestination(accessLogs),
        // No path (it may carry the secret), no body, no query string.
        accessLogFormat: AccessLogFormat.custom(
          JSON.stringify({
            requestId: '$context.requestId',
            ip: '$context.identity.sourceIp',
            method: '$context.httpMethod',
            resource: '$context.resourcePath',
            status: '$context.status',
            latencyMs: '$context.responseLatency',
            at: '$context.requestTime',
          }),
        ),
      },
      cloudWatchRole: true,
    });
    const integration = new LambdaIntegration(webhook);
    const webhookResource = this.api.root.addResource('webhook');
    webhookResource.addMethod('POST', integration);
    webhookResource.addResource('{secret}').addMethod('POST', integration);

    new CfnOutput(this, 'WebhookUrl', {
      description: 'TradingView webhook URL: append /<webhook secret> (pinebridge send-test-alert --stage)',
      value: `${this.api.url}webhook`,
    });
    // The CLI's send-test-alert reads it from the admin function's status (never the secret).
    this.adminFunction.addEnvironment('WEBHOOK_URL', `${this.api.url}webhook`);
    new CfnOutput(this, 'AdminFunctionName', {
      description: 'The operator function: pinebridge --stage <stage> status | stop | resume | …',
      value: this.adminFunction.functionName,
    });

    Validations.of(this.api).acknowledge({
      id: 'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs]',
      reason:
        'The account-level API Gateway logging role; this managed policy is the documented way to grant it.',
    });
    Validations.of(this.api).acknowledge({
      id: 'AwsSolutions-APIG4',
      reason:
        'TradingView cannot send auth headers; the webhook authenticates with a shared secret in constant time.',
    });
    Validations.of(this.api).acknowledge({
      id: 'AwsSolutions-COG4',
      reason: 'TradingView cannot use Cognito; the webhook authenticates with a shared secret.',
    });
    Validations.of(this.api).acknowledge({
      id: 'AwsSolutions-APIG2',
      reason: 'TradingView sends JSON as text/plain; the webhook validates the raw body itself with zod.',
    });
    Validations.of(this.api).acknowledge({
      id: 'AwsSolutions-APIG3',
      reason:
        'WAF is optional (cost); throttling and the secret protect the webhook. The deployment issue adds the switch.',
    });
  }
}
