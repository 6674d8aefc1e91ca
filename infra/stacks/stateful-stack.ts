import {
  ArnFormat,
  Aws,
  Duration,
  Names,
  RemovalPolicy,
  Stack,
  type StackProps,
  Validations,
} from 'aws-cdk-lib';
import { AttributeType, Billing, TableV2 } from 'aws-cdk-lib/aws-dynamodb';
import {
  EventBus,
  EventField,
  type IRuleTarget,
  Rule,
  type RuleTargetConfig,
  RuleTargetInput,
} from 'aws-cdk-lib/aws-events';
import { PolicyStatement, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import { Key } from 'aws-cdk-lib/aws-kms';
import { Secret } from 'aws-cdk-lib/aws-secretsmanager';
import { type ITopic, Topic } from 'aws-cdk-lib/aws-sns';
import { EmailSubscription } from 'aws-cdk-lib/aws-sns-subscriptions';
import { type IQueue, Queue, QueueEncryption } from 'aws-cdk-lib/aws-sqs';
import type { Construct } from 'constructs';
import { TABLES, type TableKey } from '../../shared/adapters/dynamodb/tables.js';
import {
  ORDER_UNKNOWN_EVENT,
  POSITION_MISMATCH_EVENT,
  STOP_INCOMPLETE_EVENT,
  TRADING_STATE_EVENT,
} from '../../shared/adapters/events.js';
import { dashboardSecretName, resourcePrefix, webhookSecretName } from '../../shared/config/names.js';

/** The rules that publish to the alert topic, named `<prefix>-<name>` on the stage's bus. */
export const NOTIFICATION_RULES = {
  tradingState: 'trading-state',
  brokerAttention: 'broker-attention',
} as const;

/**
 * An EventBridge rule target that delivers to the alert topic, with a dead-letter queue and
 * retries, like aws-events-targets' SnsTopic — without the unconditioned `events.amazonaws.com`
 * publish grant SnsTopic adds to the topic's policy (the stack grants it only to its own rules).
 */
class AlertTopicTarget implements IRuleTarget {
  constructor(
    private readonly topic: ITopic,
    private readonly props: { message: RuleTargetInput; deadLetterQueue: IQueue; retryAttempts: number },
  ) {}

  bind(rule: Parameters<IRuleTarget['bind']>[0]): RuleTargetConfig {
    // What EventBridge cannot deliver goes to the queue, which accepts it from this rule only.
    this.props.deadLetterQueue.addToResourcePolicy(
      new PolicyStatement({
        sid: `AllowEventRule${Names.nodeUniqueId(rule.node)}`,
        principals: [new ServicePrincipal('events.amazonaws.com')],
        actions: ['sqs:SendMessage'],
        resources: [this.props.deadLetterQueue.queueArn],
        conditions: { ArnEquals: { 'aws:SourceArn': rule.ruleRef.ruleArn } },
      }),
    );
    return {
      arn: this.topic.topicArn,
      input: this.props.message,
      targetResource: this.topic,
      deadLetterConfig: { arn: this.props.deadLetterQueue.queueArn },
      retryPolicy: { maximumRetryAttempts: this.props.retryAttempts },
    };
  }
}

export interface StatefulStackProps extends StackProps {
  stage: 'dev' | 'prod';
  /** Subscribed to the alert topic when given (AWS sends it a confirmation link). */
  notificationEmail?: string | undefined;
}

/**
 * What holds data and reaches the trader: the tables, the bus, the webhook, dashboard and broker
 * secrets, the alert topic.
 */
export class StatefulStack extends Stack {
  readonly tables: Record<TableKey, TableV2>;
  readonly bus: EventBus;
  readonly webhookSecret: Secret;
  /** The web dashboard's login password, generated: `{"password": "…"}` (docs/DASHBOARD.md). */
  readonly dashboardSecret: Secret;
  readonly alertTopic: Topic;
  /** Notifications EventBridge or SNS could not deliver (the DLQ alarm watches it). */
  readonly notificationDeadLetters: Queue;
  /** Alpaca keys, one secret per mode, created empty: the trader puts the keys in (docs/BROKERS.md). */
  readonly alpacaSecrets: Record<'paper' | 'live', Secret>;
  /** Notification channels' credentials (docs/NOTIFICATIONS.md): `{}` until the trader fills it in. */
  readonly notificationsSecret: Secret;

  constructor(scope: Construct, id: string, props: StatefulStackProps) {
    super(scope, id, props);
    const prod = props.stage === 'prod';
    const prefix = resourcePrefix(props.stage);

    this.tables = Object.fromEntries(
      Object.entries(TABLES).map(([key, def]) => {
        const table = new TableV2(this, `${def.id}-table`, {
          tableName: `${prefix}-${def.id}`,
          partitionKey: { name: def.partitionKey, type: AttributeType.STRING },
          ...('sortKey' in def ? { sortKey: { name: def.sortKey, type: AttributeType.STRING } } : {}),
          ...('ttlAttribute' in def ? { timeToLiveAttribute: def.ttlAttribute } : {}),
          globalSecondaryIndexes: def.indexes.map((index) => ({
            indexName: index.name,
            partitionKey: { name: index.partitionKey, type: AttributeType.STRING },
            sortKey: { name: index.sortKey, type: AttributeType.STRING },
          })),
          billing: Billing.onDemand(),
          pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
          deletionProtection: prod,
          removalPolicy: prod ? RemovalPolicy.RETAIN : RemovalPolicy.DESTROY,
        });
        return [key, table];
      }),
    ) as Record<TableKey, TableV2>;

    this.bus = new EventBus(this, 'Bus', { eventBusName: prefix });

    // Breaker trips and resets reach the trader through SNS. EventBridge may publish to an
    // encrypted topic only with a customer-managed key whose policy lets it use the key.
    const alertKey = new Key(this, 'AlertKey', {
      alias: `${prefix}-alerts`,
      description: 'Encrypts the Pinebridge alert topic',
      enableKeyRotation: true,
      removalPolicy: prod ? RemovalPolicy.RETAIN : RemovalPolicy.DESTROY,
    });
    const topicName = `${prefix}-alerts`;
    this.alertTopic = new Topic(this, 'Alerts', {
      topicName,
      displayName: 'Pinebridge alerts',
      masterKey: alertKey,
      enforceSSL: true,
    });
    // Only this account's two notification rules (on this stage's bus) may publish. Their ARNs
    // and the topic's are built from their names: the key's policy cannot refer to the topic or
    // the rules, which refer to the key.
    const events = new ServicePrincipal('events.amazonaws.com');
    const ruleArn = (ruleName: string) =>
      this.formatArn({ service: 'events', resource: 'rule', resourceName: `${prefix}/${ruleName}` });
    const fromOurRules = {
      StringEquals: { 'aws:SourceAccount': Aws.ACCOUNT_ID },
      ArnEquals: {
        'aws:SourceArn': Object.values(NOTIFICATION_RULES).map((name) => ruleArn(`${prefix}-${name}`)),
      },
    };
    this.alertTopic.addToResourcePolicy(
      new PolicyStatement({
        sid: 'EventBridgeRulesPublish',
        principals: [events],
        actions: ['sns:Publish'],
        resources: [this.alertTopic.topicArn],
        conditions: fromOurRules,
      }),
    );
    // AWS does not support aws:SourceAccount / aws:SourceArn in a key policy for EventBridge
    // publishing to an encrypted topic (SNS developer guide, key management): with them every
    // alert would be refused. The key serves EventBridge only for this topic's messages instead
    // (SNS binds each data key to its topic's ARN), and the topic's policy above names the rules.
    alertKey.addToResourcePolicy(
      new PolicyStatement({
        sid: 'EventBridgeRulesEncrypt',
        principals: [events],
        actions: ['kms:Decrypt', 'kms:GenerateDataKey*'],
        resources: ['*'],
        conditions: {
          StringEquals: {
            'kms:EncryptionContext:aws:sns:topicArn': this.formatArn({
              service: 'sns',
              resource: topicName,
              arnFormat: ArnFormat.NO_RESOURCE_NAME,
            }),
          },
        },
      }),
    );
    // CloudWatch alarms publish too. The topic has its own policy (SSL only), so CloudWatch must be
    // named in it and in the key's policy — only for this account's `<prefix>-*` alarms.
    const fromOurAlarms = {
      StringEquals: { 'aws:SourceAccount': Aws.ACCOUNT_ID },
      ArnLike: {
        'aws:SourceArn': `arn:${Aws.PARTITION}:cloudwatch:${Aws.REGION}:${Aws.ACCOUNT_ID}:alarm:${prefix}-*`,
      },
    };
    const cloudWatch = new ServicePrincipal('cloudwatch.amazonaws.com');
    alertKey.addToResourcePolicy(
      new PolicyStatement({
        sid: 'CloudWatchAlarmsEncrypt',
        principals: [cloudWatch],
        actions: ['kms:Decrypt', 'kms:GenerateDataKey*'],
        resources: ['*'],
        conditions: fromOurAlarms,
      }),
    );
    this.alertTopic.addToResourcePolicy(
      new PolicyStatement({
        sid: 'CloudWatchAlarmsPublish',
        principals: [cloudWatch],
        actions: ['sns:Publish'],
        resources: [this.alertTopic.topicArn],
        conditions: fromOurAlarms,
      }),
    );

    // What the notification rules and the e-mail subscription could not deliver lands here.
    this.notificationDeadLetters = new Queue(this, 'NotificationDeadLetters', {
      queueName: `${prefix}-notification-dlq`,
      encryption: QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      retentionPeriod: Duration.days(14),
    });
    for (const id of ['AwsSolutions-SQS3', 'Serverless-SQSRedrivePolicy'])
      Validations.of(this.notificationDeadLetters).acknowledge({
        id,
        reason: 'This queue is itself the dead-letter queue of the notification rules and subscription.',
      });
    const deliver = { deadLetterQueue: this.notificationDeadLetters, retryAttempts: 8 };
    if (props.notificationEmail !== undefined)
      this.alertTopic.addSubscription(
        new EmailSubscription(props.notificationEmail, { deadLetterQueue: this.notificationDeadLetters }),
      );
    new Rule(this, 'TradingStateChanged', {
      ruleName: `${prefix}-${NOTIFICATION_RULES.tradingState}`,
      eventBus: this.bus,
      description: 'Every circuit-breaker trip and reset, to the alert topic',
      eventPattern: {
        source: [TRADING_STATE_EVENT.source],
        detailType: [TRADING_STATE_EVENT.detailType],
      },
      targets: [
        new AlertTopicTarget(this.alertTopic, {
          ...deliver,
          message: RuleTargetInput.fromText(
            `Pinebridge trading state ${EventField.fromPath('$.detail.from')} -> ${EventField.fromPath('$.detail.to')} at ${EventField.fromPath('$.detail.at')} (${EventField.fromPath('$.detail.source')}): ${EventField.fromPath('$.detail.reason')}`,
          ),
        }),
      ],
    });

    new Rule(this, 'BrokerAttention', {
      ruleName: `${prefix}-${NOTIFICATION_RULES.brokerAttention}`,
      eventBus: this.bus,
      description:
        'Orders of unknown fate, positions that differ from the broker and incomplete emergency stops, to the alert topic',
      eventPattern: {
        source: [ORDER_UNKNOWN_EVENT.source],
        detailType: [
          ORDER_UNKNOWN_EVENT.detailType,
          POSITION_MISMATCH_EVENT.detailType,
          STOP_INCOMPLETE_EVENT.detailType,
        ],
      },
      targets: [
        new AlertTopicTarget(this.alertTopic, {
          ...deliver,
          message: RuleTargetInput.fromText(
            `Pinebridge ${EventField.detailType} (reconcile before trading on): ${EventField.fromPath('$.detail')}`,
          ),
        }),
      ],
    });

    this.webhookSecret = new Secret(this, 'WebhookSecret', {
      secretName: webhookSecretName(props.stage),
      // Every TradingView alert carries this secret: in prod it outlives the stack, like the tables.
      removalPolicy: prod ? RemovalPolicy.RETAIN : RemovalPolicy.DESTROY,
      description:
        'TradingView webhook secret, JSON {"current": "…", "previous": "…", "previousValidUntil": "<ISO time>"}: generated with "current" only. Rotate by moving current to previous with a deadline (docs/DEPLOYMENT.md).',
      generateSecretString: {
        secretStringTemplate: JSON.stringify({}),
        generateStringKey: 'current',
        passwordLength: 40,
        excludePunctuation: true,
      },
    });
    // Generated here, never typed into a template; the trader reads it once with
    // `aws secretsmanager get-secret-value` and may replace it (docs/DASHBOARD.md).
    this.dashboardSecret = new Secret(this, 'DashboardSecret', {
      secretName: dashboardSecretName(props.stage),
      removalPolicy: prod ? RemovalPolicy.RETAIN : RemovalPolicy.DESTROY,
      description:
        'Web dashboard login password, JSON {"password": "…"} (at least 16 characters). Changing it ends every dashboard session.',
      generateSecretString: {
        secretStringTemplate: JSON.stringify({}),
        generateStringKey: 'password',
        passwordLength: 32,
        excludePunctuation: true,
      },
    });
    Validations.of(this.dashboardSecret).acknowledge({
      id: 'AwsSolutions-SMG4',
      reason:
        'A person types this password; rotate it by putting a new value (every dashboard session then ends, docs/DASHBOARD.md). A rotation Lambda would buy nothing for a one-user login.',
    });
    this.alpacaSecrets = {
      paper: this.alpacaSecret('paper', prefix, prod),
      live: this.alpacaSecret('live', prefix, prod),
    };
    this.notificationsSecret = this.secretToFillIn('NotificationsSecret', {
      name: `${prefix}/notifications`,
      prod,
      description:
        'Notification channels, JSON with the variables of a local .env: {"PINEBRIDGE_TELEGRAM_BOT_TOKEN": "…", "PINEBRIDGE_TELEGRAM_CHAT_ID": "…"} and/or PINEBRIDGE_DISCORD_WEBHOOK_URL, PINEBRIDGE_SLACK_WEBHOOK_URL, PINEBRIDGE_NOTIFY_WEBHOOK_URL + PINEBRIDGE_NOTIFY_WEBHOOK_SECRET (docs/NOTIFICATIONS.md).',
      template: {},
      rotation:
        'Bot tokens and webhook URLs are issued by Telegram, Discord and Slack; rotate them there and paste them here.',
    });
    Validations.of(this.webhookSecret).acknowledge({
      id: 'AwsSolutions-SMG4',
      reason:
        'The webhook secret is pasted into TradingView alerts, so rotation is a manual, two-secret procedure (docs/DEPLOYMENT.md).',
    });
  }

  /** An empty Alpaca key secret: `{"keyId": "", "secretKey": ""}` until the trader fills it in. */
  private alpacaSecret(mode: 'paper' | 'live', prefix: string, prod: boolean): Secret {
    return this.secretToFillIn(mode === 'paper' ? 'AlpacaPaperKeys' : 'AlpacaLiveKeys', {
      name: `${prefix}/alpaca-${mode}`,
      prod,
      description: `Alpaca ${mode} API keys as JSON {"keyId": "…", "secretKey": "…"}: put them here (docs/BROKERS.md). Pinebridge reads them; they are never in the template.`,
      template: { keyId: '', secretKey: '' },
      rotation: 'Alpaca keys are issued by Alpaca; rotate them in the Alpaca dashboard and paste them here.',
    });
  }

  /**
   * A secret the trader fills in (keys, tokens issued elsewhere): created as `template`, nothing
   * generated or written by the stack, kept like the tables in prod.
   */
  private secretToFillIn(
    id: string,
    options: { name: string; prod: boolean; description: string; template: object; rotation: string },
  ): Secret {
    const secret = new Secret(this, id, {
      secretName: options.name,
      removalPolicy: options.prod ? RemovalPolicy.RETAIN : RemovalPolicy.DESTROY,
      description: options.description,
      // No value is generated: only the template's empty fields to fill in.
      generateSecretString: {
        secretStringTemplate: JSON.stringify(options.template),
        generateStringKey: 'unused',
        passwordLength: 16,
      },
    });
    Validations.of(secret).acknowledge({ id: 'AwsSolutions-SMG4', reason: options.rotation });
    return secret;
  }
}
