import { CfnOutput, Duration, RemovalPolicy, Stack, type StackProps, Validations } from 'aws-cdk-lib';
import {
  AccessLogFormat,
  EndpointType,
  LambdaIntegration,
  LogGroupLogDestination,
  MethodLoggingLevel,
  RestApi,
} from 'aws-cdk-lib/aws-apigateway';
import type { TableV2 } from 'aws-cdk-lib/aws-dynamodb';
import { type EventBus, EventField, Rule, RuleTargetInput, Schedule } from 'aws-cdk-lib/aws-events';
import { LambdaFunction, SfnStateMachine } from 'aws-cdk-lib/aws-events-targets';
import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import { LogGroup, RetentionDays } from 'aws-cdk-lib/aws-logs';
import { HealthCheck, HealthCheckType } from 'aws-cdk-lib/aws-route53';
import type { ISecret, Secret } from 'aws-cdk-lib/aws-secretsmanager';
import type { ITopic } from 'aws-cdk-lib/aws-sns';
import { type IQueue, Queue, QueueEncryption } from 'aws-cdk-lib/aws-sqs';
import type { Construct } from 'constructs';
import { TABLES, type TableKey } from '../../shared/adapters/dynamodb/tables.js';
import { SIGNAL_EVENT } from '../../shared/adapters/events.js';
import { adminFunctionName, dashboardSecretName, resourcePrefix } from '../../shared/config/names.js';
import { allowListEnabled, type Config, workflowLimits } from '../../shared/config/schema.js';
import {
  TRADE_FLOW_TASK_NAMES,
  TRADE_FLOW_TASKS,
  type TradeFlowTaskName,
  taskTimeoutSeconds,
} from '../../shared/usecases/tasks.js';
import { WebhookFirewall, webhookAllowListPolicy } from '../constructs/api-protection.js';
import { DASHBOARD_THROTTLES, DashboardFunction } from '../constructs/dashboard-function.js';
import { LiveUpdates } from '../constructs/live-updates.js';
import { Monitoring } from '../constructs/monitoring.js';
import { Notifications } from '../constructs/notifications.js';
import { PinebridgeFunction } from '../constructs/pinebridge-function.js';
import { ReconcileSchedules } from '../constructs/reconcile-schedules.js';
import { FUNCTION_TABLES, type FunctionName, grantedActions } from '../constructs/table-access.js';
import { TradeFlow } from '../constructs/trade-flow.js';

export interface StatelessStackProps extends StackProps {
  stage: 'dev' | 'prod';
  config: Config;
  tables: Record<TableKey, TableV2>;
  bus: EventBus;
  webhookSecret: Secret;
  /** The web dashboard's login password (read only by the dashboard function). */
  dashboardSecret: Secret;
  alpacaSecrets: Record<'paper' | 'live', Secret>;
  /** Where alarms go (the stateful stack's SNS topic). */
  alertTopic: ITopic;
  /** The stateful stack's DLQ for undeliverable notifications (watched by an alarm here). */
  notificationDeadLetters: IQueue;
  /** The notification channels' credentials (read only by the notifier). */
  notificationsSecret: ISecret;
}

/**
 * The trade-flow tasks that reach the broker and so read its keys: RiskCheck (Alpaca market data,
 * and the book opens from the broker's cash), CancelOrders (a signal's cancels), SubmitOrder,
 * CheckOrder (poll, cancel at the deadline) and RecordFailure (look up, cancel, adopt). RecordRejection and RecordFill only book.
 */
export const ORDER_TASKS: readonly TradeFlowTaskName[] = [
  'RiskCheck',
  'CancelOrders',
  'SubmitOrder',
  'CheckOrder',
  'RecordFailure',
];

/**
 * The trade-flow tasks that put events on the bus: every one but CheckOrder (which only asks) —
 * breaker trips and halts, a reversal's second leg, unknown orders, and the notices of fills,
 * refusals and failures for the notifier.
 */
export const PUBLISHING_TASKS: readonly TradeFlowTaskName[] = [
  'RiskCheck',
  'RecordRejection',
  'CancelOrders',
  'SubmitOrder',
  'RecordFill',
  'RecordFailure',
];

/** The only signal fields the workflow is started with: ids and times, never an alert or a secret. */
const EXECUTION_INPUT_FIELDS = ['signalId', 'symbol', 'receivedAt', 'notBefore'] as const;

/** What runs: the webhook API, the workflow and its functions, schedules, alarms and the dashboard. */
export class StatelessStack extends Stack {
  readonly api: RestApi;
  readonly tradeFlow: TradeFlow;
  /** Emergency stop, resume, reset-breaker: `aws lambda invoke` with IAM (docs/RUNBOOK.md). */
  readonly adminFunction: PinebridgeFunction;
  /** The web dashboard behind the API (login, status, stop/resume); absent with dashboard.enabled false. */
  readonly dashboardFunction?: DashboardFunction;
  readonly liveUpdates?: LiveUpdates;
  readonly monitoring: Monitoring;
  readonly notifications: Notifications;
  readonly firewall?: WebhookFirewall;

  constructor(scope: Construct, id: string, props: StatelessStackProps) {
    super(scope, id, props);
    const { stage, config, tables } = props;
    const prod = stage === 'prod';
    const prefix = resourcePrefix(stage);
    const environment = { PINEBRIDGE_CONFIG: JSON.stringify(config) };
    // Only with Alpaca configured, only the configured mode's keys, and only for the functions
    // that reach the broker: the order tasks, the reconciler and the operator (emergency stop).
    const alpacaSecret = config.broker === 'alpaca' ? props.alpacaSecrets[config.alpaca.mode] : undefined;
    const readsBrokerKeys = (fn: PinebridgeFunction) => {
      if (alpacaSecret !== undefined) fn.bindSecret(alpacaSecret, 'ALPACA_SECRET_ID');
    };
    // In AWS the broker is Alpaca only when the config says so (no APCA_* keys in a function's
    // environment): otherwise the built-in paper broker, whose order book is a table.
    const broker = config.broker === 'alpaca' ? 'alpaca' : 'paper';
    /**
     * Every table's name (the trading functions' dependencies build every store) and exactly the
     * access FUNCTION_TABLES lists for this function: a table it never calls gets its name only.
     */
    const bindTradingTables = (fn: PinebridgeFunction, name: FunctionName) => {
      for (const key of Object.keys(TABLES) as TableKey[]) {
        const grant = FUNCTION_TABLES[name][key];
        fn.bindTable(tables[key], TABLES[key], {
          actions: grant === undefined ? [] : grantedActions(grant, broker),
          indexes: grant?.indexes ?? [],
        });
      }
    };
    /** The one table the API's own functions (webhook, /health) read through their API clients. */
    const bindSignalsOnly = (fn: PinebridgeFunction, name: 'Webhook' | 'Health') => {
      const grant = FUNCTION_TABLES[name].signals;
      if (grant === undefined) throw new Error(`${name} is granted no signals access`);
      fn.bindTable(tables.signals, TABLES.signals, { actions: grantedActions(grant, broker) });
    };

    // The webhook answers TradingView inside 3 s: a short timeout and tight SDK deadlines
    // (shared/adapters/api-clients.ts). It records signals (put and read back, nothing else),
    // puts events on the one bus and reads the one webhook secret.
    const webhook = new PinebridgeFunction(this, 'Webhook', {
      entry: 'webhook',
      stage,
      invokedBy: 'api',
      sourceMaps: false,
      timeout: Duration.seconds(3),
      description: 'Authenticates, validates, records and publishes TradingView alerts',
      environment,
    })
      .bindBus(props.bus)
      .bindSecret(props.webhookSecret, 'WEBHOOK_SECRET_ID');
    bindSignalsOnly(webhook, 'Webhook');
    // Optional: initialized instances, so no alert meets a cold start (the API then calls the alias).
    const webhookTarget: IFunction =
      config.webhook.provisionedConcurrency > 0
        ? webhook.addAlias('live', { provisionedConcurrentExecutions: config.webhook.provisionedConcurrency })
        : webhook;

    const functions = Object.fromEntries(
      TRADE_FLOW_TASK_NAMES.map((name) => {
        const fn = new PinebridgeFunction(this, name, {
          entry: TRADE_FLOW_TASKS[name].entry,
          stage,
          invokedBy: 'workflow',
          // Below every Task's own timeout, so the function's limit is the one that fires.
          timeout: Duration.seconds(taskTimeoutSeconds(name)),
          description: `Trade flow task ${name}`,
          environment,
        });
        bindTradingTables(fn, name);
        // Breaker transitions, a reversal's second leg and unknown orders go on the bus.
        if (PUBLISHING_TASKS.includes(name)) fn.bindBus(props.bus);
        // lambdaDependencies names the bus; these tasks never put anything on it.
        else fn.addEnvironment('EVENT_BUS_NAME', props.bus.eventBusName);
        if (ORDER_TASKS.includes(name)) readsBrokerKeys(fn);
        return [name, fn];
      }),
    ) as Record<TradeFlowTaskName, PinebridgeFunction>;

    this.tradeFlow = new TradeFlow(this, 'TradeFlow', {
      functions,
      type: config.workflow.type,
      executionTimeout: Duration.seconds(workflowLimits(config.workflow).executionTimeoutSeconds),
      stateMachineName: `${prefix}-trade-flow`,
      logRetention: prod ? RetentionDays.THREE_MONTHS : RetentionDays.ONE_MONTH,
      logRemovalPolicy: prod ? RemovalPolicy.RETAIN : RemovalPolicy.DESTROY,
    });

    // The DLQ lives beside the rule: its queue policy names the rule, so in the stateful stack it
    // would make the two stacks depend on each other.
    const deadLetterQueue = new Queue(this, 'SignalDeadLetters', {
      queueName: `${prefix}-signal-dlq`,
      encryption: QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      retentionPeriod: Duration.days(14),
    });
    for (const ackId of ['AwsSolutions-SQS3', 'Serverless-SQSRedrivePolicy'])
      Validations.of(deadLetterQueue).acknowledge({
        id: ackId,
        reason: 'This queue is itself the dead-letter queue of the signal rule.',
      });

    // The first rule of this stack: the local runtime reads its pattern back (infra/local/definition.ts).
    const signalRule = new Rule(this, 'SignalReceived', {
      eventBus: props.bus,
      eventPattern: { source: [SIGNAL_EVENT.source], detailType: [SIGNAL_EVENT.detailType] },
      targets: [
        new SfnStateMachine(this.tradeFlow.stateMachine, {
          // Only the named fields start the execution (and so reach its logs): whatever else an
          // event carried, the workflow never sees it.
          input: RuleTargetInput.fromObject(
            Object.fromEntries(
              EXECUTION_INPUT_FIELDS.map((field) => [field, EventField.fromPath(`$.detail.${field}`)]),
            ),
          ),
          // A stale signal is worthless: give up after a few minutes and park it in the DLQ.
          retryAttempts: 4,
          maxEventAge: Duration.minutes(5),
          deadLetterQueue,
        }),
      ],
    });

    // The breaker's cool-downs end on time even when no alert arrives, and the first run of a
    // new New York session rolls the session over (the daily roll). It only books: no broker keys.
    const breaker = new PinebridgeFunction(this, 'Breaker', {
      entry: 'breaker',
      stage,
      invokedBy: 'schedule',
      timeout: Duration.seconds(30),
      description: 'Evaluates the circuit breaker every minute (trips, cool-down resets, session roll-over)',
      environment,
    }).bindBus(props.bus);
    bindTradingTables(breaker, 'Breaker');
    const breakerSchedule = new Rule(this, 'BreakerSchedule', {
      description: 'Runs the circuit-breaker evaluation every minute',
      schedule: Schedule.rate(Duration.minutes(1)),
      targets: [new LambdaFunction(breaker, { retryAttempts: 0 })],
    });
    Validations.of(breakerSchedule).acknowledge({
      id: 'Serverless-EventBusDLQ',
      reason: 'A scheduled event carries no data; the next minute is the retry and failures alarm.',
    });

    // The operator's stop / resume / reset-breaker: invoked with IAM only, never through the API.
    this.adminFunction = new PinebridgeFunction(this, 'Admin', {
      entry: 'admin',
      stage,
      invokedBy: 'operator',
      // A fixed name: the `pinebridge --stage` CLI invokes it by name with the operator's IAM identity.
      functionName: adminFunctionName(stage),
      timeout: Duration.seconds(60),
      description: 'Emergency stop (halt, cancel, flatten), resume and reset-breaker; IAM-invoked only',
      environment,
    });
    // What an operator's request needs: the emergency stop halts, cancels and flattens at the
    // broker, books every outcome, and announces the transition on the bus.
    this.adminFunction.bindBus(props.bus);
    bindTradingTables(this.adminFunction, 'Admin');
    readsBrokerKeys(this.adminFunction);

    // What a lost execution or a broker outage left behind is settled, and positions compared:
    // every minute while orders can be placed, every 15 minutes otherwise (New York time).
    const reconciler = new PinebridgeFunction(this, 'Reconciler', {
      entry: 'reconciler',
      stage,
      invokedBy: 'schedule',
      timeout: Duration.seconds(60),
      description:
        'Settles orders left in flight or unknown, republishes undecided signals, compares positions',
      environment,
    }).bindBus(props.bus);
    bindTradingTables(reconciler, 'Reconciler');
    readsBrokerKeys(reconciler);
    new ReconcileSchedules(this, 'ReconcileSchedules', {
      reconciler,
      marketHours: config.risk.marketHours,
      prefix,
    });

    // GET /health: the function runs and the database answers (uptime checks; public, says little).
    const health = new PinebridgeFunction(this, 'Health', {
      entry: 'health',
      stage,
      invokedBy: 'api',
      sourceMaps: false,
      timeout: Duration.seconds(3),
      memorySize: 256,
      description: 'GET /health: answers 200 when the database answers',
      environment: {},
    });
    bindSignalsOnly(health, 'Health');

    // The web dashboard behind a password login (docs/DASHBOARD.md). Internet-facing, so it holds
    // no broker keys and writes nothing: it reads the views itself and asks the admin function for
    // stop, resume and reset-breaker (and for the broker's health, which takes the keys).
    if (config.dashboard.enabled) {
      this.dashboardFunction = new DashboardFunction(this, 'Dashboard', {
        stage,
        environment,
        password: props.dashboardSecret,
        adminFunctionName: adminFunctionName(stage),
      });
      bindTradingTables(this.dashboardFunction, 'Dashboard');
      // Open pages hear of every change within about a second instead of polling (docs/DASHBOARD.md).
      this.liveUpdates = new LiveUpdates(this, 'LiveUpdates', {
        stage,
        prefix,
        bus: props.bus,
        dashboardSecret: props.dashboardSecret,
      });
      this.dashboardFunction.addEnvironment('LIVE_REALTIME_DOMAIN', this.liveUpdates.api.realtimeDns);
      this.dashboardFunction.addEnvironment('LIVE_HTTP_DOMAIN', this.liveUpdates.api.httpDns);
    }

    const accessLogs = new LogGroup(this, 'ApiAccessLogs', {
      retention: prod ? RetentionDays.THREE_MONTHS : RetentionDays.ONE_MONTH,
      removalPolicy: prod ? RemovalPolicy.RETAIN : RemovalPolicy.DESTROY,
    });
    // POST /webhook only from TradingView's addresses (resource policy, 403 before any code):
    // on in prod unless the config turns it off, off in dev unless it turns it on.
    const allowList = config.api.allowList;
    const allowListOn = allowListEnabled(config, stage);
    const webhookThrottle = {
      throttlingRateLimit: config.api.throttle.rateLimit,
      throttlingBurstLimit: config.api.throttle.burstLimit,
    };
    this.api = new RestApi(this, 'Api', {
      restApiName: `${prefix}-api`,
      endpointConfiguration: { types: [EndpointType.REGIONAL] },
      ...(allowListOn ? { policy: webhookAllowListPolicy(allowList.addresses) } : {}),
      deployOptions: {
        stageName: stage,
        // API Gateway keeps a token bucket per method. The stage's default (api.throttle) is the
        // webhook's budget, named on its two methods too; every other method has a budget of its
        // own below, so a flood of alerts cannot take the dashboard's stop with it (nor the other
        // way round). Each bucket is shared by all callers of its method: per-address limits
        // are WAF's (api.waf).
        ...webhookThrottle,
        methodOptions: {
          '/webhook/POST': webhookThrottle,
          '/webhook/{secret}/POST': webhookThrottle,
          // Uptime checkers call /health about once every 2 s; nobody may crowd out the webhook with it.
          '/health/GET': { throttlingRateLimit: 2, throttlingBurstLimit: 10 },
          ...(config.dashboard.enabled ? DASHBOARD_THROTTLES : {}),
        },
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
            wafStatus: '$context.waf.status',
            at: '$context.requestTime',
          }),
        ),
      },
      cloudWatchRole: true,
    });
    const integration = new LambdaIntegration(webhookTarget);
    const webhookResource = this.api.root.addResource('webhook');
    webhookResource.addMethod('POST', integration);
    webhookResource.addResource('{secret}').addMethod('POST', integration);
    this.api.root.addResource('health').addMethod('GET', new LambdaIntegration(health));
    this.dashboardFunction?.addRoutes(this.api);

    // Optional: AWS WAF (IP set, per-address rate-based and body-size rules) in front of the stage.
    if (config.api.waf.enabled) {
      this.firewall = new WebhookFirewall(this, 'Firewall', {
        stage: this.api.deploymentStage,
        stageName: stage,
        prefix,
        maxBodyBytes: config.webhook.maxBodyBytes,
        rateLimit: config.api.waf.rateLimit,
        dashboardRateLimit: config.api.waf.dashboardRateLimit,
        ...(allowListOn ? { allowedAddresses: allowList.addresses } : {}),
        retention: prod ? RetentionDays.THREE_MONTHS : RetentionDays.ONE_MONTH,
        removalPolicy: prod ? RemovalPolicy.RETAIN : RemovalPolicy.DESTROY,
      });
    }

    // Optional: Route 53 checks GET /health from several regions every 30 s.
    const healthCheck = config.monitoring.healthCheck
      ? new HealthCheck(this, 'HealthCheck', {
          type: HealthCheckType.HTTPS,
          fqdn: `${this.api.restApiId}.execute-api.${this.region}.${this.urlSuffix}`,
          resourcePath: `/${stage}/health`,
          port: 443,
          enableSNI: true,
          requestInterval: Duration.seconds(30),
          failureThreshold: 3,
        })
      : undefined;

    // Fills, refusals, trips and alarms to the trader's channels, and the daily summary.
    this.notifications = new Notifications(this, 'Notifications', {
      stage,
      prefix,
      bus: props.bus,
      secret: props.notificationsSecret,
      environment,
    });
    bindTradingTables(this.notifications.notifier, 'Notifier');

    this.monitoring = new Monitoring(this, 'Monitoring', {
      stage,
      prefix,
      config,
      alertTopic: props.alertTopic,
      api: this.api,
      hotPath: { Webhook: webhook, ...functions },
      operations: {
        Breaker: breaker,
        Reconciler: reconciler,
        Admin: this.adminFunction,
        Health: health,
        Notifier: this.notifications.notifier,
        ...(this.dashboardFunction ? { Dashboard: this.dashboardFunction } : {}),
        ...(this.liveUpdates
          ? { LiveAuthorizer: this.liveUpdates.authorizer, LivePublisher: this.liveUpdates.publisher }
          : {}),
      },
      stateMachine: this.tradeFlow.stateMachine,
      bus: props.bus,
      signalRule,
      deadLetterQueues: {
        signal: deadLetterQueue,
        notification: props.notificationDeadLetters,
        notify: this.notifications.deadLetters,
      },
      ...(healthCheck ? { healthCheck } : {}),
    });

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
    new CfnOutput(this, 'HealthUrl', {
      description: 'GET it for uptime checks: 200 {"status":"ok"} when the function and the database answer',
      value: `${this.api.url}health`,
    });
    if (this.dashboardFunction)
      new CfnOutput(this, 'WebDashboardUrl', {
        description: `The web dashboard; its password is in the secret ${dashboardSecretName(stage)}`,
        value: this.api.url,
      });
    new CfnOutput(this, 'DashboardUrl', {
      description: 'The CloudWatch dashboard of this stage',
      value: `https://console.aws.amazon.com/cloudwatch/home?region=${this.region}#dashboards:name=${prefix}`,
    });

    this.acknowledgeApiFindings(config.api.waf.enabled);
  }

  /** The API's findings that are deliberate, each with its reason. */
  private acknowledgeApiFindings(wafEnabled: boolean): void {
    const acks: [string, string][] = [
      [
        'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs]',
        'The account-level API Gateway logging role; this managed policy is the documented way to grant it.',
      ],
      [
        'AwsSolutions-APIG4',
        'TradingView cannot send auth headers; the webhook authenticates with a shared secret in constant time, /health is public by design, and the dashboard routes check their own signed session cookie (password login from Secrets Manager, CSRF token, same-origin).',
      ],
      [
        'AwsSolutions-COG4',
        "TradingView cannot use Cognito; the webhook authenticates with a shared secret. The dashboard is one trader's page with a password login; a user pool would add a hosted UI and a domain for one user.",
      ],
      [
        'AwsSolutions-APIG2',
        'TradingView sends JSON as text/plain; the webhook validates the raw body itself with zod.',
      ],
      [
        'Serverless-APIGWXrayEnabled',
        'Off on purpose: API Gateway trace segments record the request URL, and /webhook/{secret} carries the secret. The functions and the workflow are traced.',
      ],
    ];
    if (!wafEnabled)
      acks.push([
        'AwsSolutions-APIG3',
        'WAF is optional (api.waf.enabled, about $8 a month and up): per-method throttling, the body cap in the function, the source allow-list (on by default in prod) and the secret protect the webhook.',
      ]);
    for (const [id, reason] of acks) Validations.of(this.api).acknowledge({ id, reason });
  }
}
