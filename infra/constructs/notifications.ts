import { Aws, type CfnElement, Duration, Stack, TimeZone, Validations } from 'aws-cdk-lib';
import { type IEventBus, Rule } from 'aws-cdk-lib/aws-events';
import { SqsQueue } from 'aws-cdk-lib/aws-events-targets';
import { Role, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import { SqsEventSource } from 'aws-cdk-lib/aws-lambda-event-sources';
import { Schedule, ScheduleExpression, ScheduleTargetInput } from 'aws-cdk-lib/aws-scheduler';
import { LambdaInvoke } from 'aws-cdk-lib/aws-scheduler-targets';
import type { ISecret } from 'aws-cdk-lib/aws-secretsmanager';
import { Queue, QueueEncryption } from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { NOTICE_EVENT } from '../../shared/adapters/events.js';
import { PinebridgeFunction } from './pinebridge-function.js';

export interface NotificationsProps {
  stage: 'dev' | 'prod';
  /** `<app>-<stage>`: queue, schedule and alarm names. */
  prefix: string;
  bus: IEventBus;
  /** The channels' credentials, JSON with the same variables as a local .env. */
  secret: ISecret;
  environment: Record<string, string>;
}

/**
 * Telling the trader, in AWS: notices on the bus (and Pinebridge's own CloudWatch alarms going
 * into ALARM) → an SQS queue (with a dead-letter queue) → the notifier function, which sends them
 * to Telegram, Discord, Slack or a signed webhook; and the daily summary from an EventBridge
 * Scheduler schedule after the New York close. Nothing here is on the trading path: a slow or
 * dead channel holds up the queue, never a signal.
 */
export class Notifications extends Construct {
  readonly queue: Queue;
  readonly deadLetters: Queue;
  readonly notifier: PinebridgeFunction;
  readonly summarySchedule: Schedule;

  constructor(scope: Construct, id: string, props: NotificationsProps) {
    super(scope, id);
    const { prefix } = props;
    this.deadLetters = new Queue(this, 'DeadLetters', {
      queueName: `${prefix}-notify-dlq`,
      encryption: QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      retentionPeriod: Duration.days(14),
    });
    Validations.of(this.deadLetters).acknowledge({
      id: 'Serverless-SQSRedrivePolicy',
      reason: 'This queue is itself the dead-letter queue of the notification queue and of its rules.',
    });

    // The function sends at each channel's pace (Telegram about 1 a second): a minute per batch.
    const timeout = Duration.seconds(60);
    // In the stack itself, like every other function (its name in the template is `Notifier…`).
    this.notifier = new PinebridgeFunction(Stack.of(this), 'Notifier', {
      entry: 'notifier',
      stage: props.stage,
      invokedBy: 'queue',
      timeout,
      description:
        'Sends notices (fills, refusals, trips, alarms) and the daily summary to the configured channels',
      environment: props.environment,
    }).bindSecret(props.secret, 'NOTIFICATIONS_SECRET_ID');

    this.queue = new Queue(this, 'Queue', {
      queueName: `${prefix}-notify`,
      encryption: QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      // Six times the function's timeout, as Lambda's SQS guidance asks.
      visibilityTimeout: Duration.seconds(timeout.toSeconds() * 6),
      retentionPeriod: Duration.days(1),
      deadLetterQueue: { queue: this.deadLetters, maxReceiveCount: 3 },
    });
    // A batch of up to 50, gathered for up to 5 s: a burst of fills becomes one digest per channel.
    this.notifier.addEventSource(
      new SqsEventSource(this.queue, { batchSize: 50, maxBatchingWindow: Duration.seconds(5) }),
    );
    Validations.of(this.notifier).acknowledge({
      id: 'Serverless-LambdaEventSourceMappingDestination',
      reason:
        "The queue's redrive policy is the destination: a batch that keeps failing goes to its dead-letter queue (alarmed).",
    });

    // What the rules could not put on the queue lands in the same dead-letter queue (alarmed).
    const deliver = { deadLetterQueue: this.deadLetters, retryAttempts: 8 };
    new Rule(this, 'Notices', {
      ruleName: `${prefix}-notices`,
      eventBus: props.bus,
      description: 'Fills, refusals, failures, trips and everything else Pinebridge tells the trader',
      eventPattern: { source: [NOTICE_EVENT.source], detailType: [NOTICE_EVENT.detailType] },
      targets: [new SqsQueue(this.queue, deliver)],
    });
    // CloudWatch puts alarm state changes on the account's default bus: this deployment's alarms
    // (auth failures, DLQs, heartbeats…) reach the trader's channels too, not only the e-mail.
    new Rule(this, 'Alarms', {
      ruleName: `${prefix}-alarms-to-channels`,
      description: "This deployment's CloudWatch alarms going into ALARM",
      eventPattern: {
        source: ['aws.cloudwatch'],
        detailType: ['CloudWatch Alarm State Change'],
        detail: { alarmName: [{ prefix: `${prefix}-` }], state: { value: ['ALARM'] } },
      },
      targets: [new SqsQueue(this.queue, deliver)],
    });

    // 13:05 and 16:05 New York, Monday to Friday: the function sends from the run just after the
    // day's close (13:00 on early-close days) and none on holidays (shared/domain/calendar.ts).
    const role = new Role(this, 'SummaryRole', {
      assumedBy: new ServicePrincipal('scheduler.amazonaws.com', {
        conditions: { StringEquals: { 'aws:SourceAccount': Aws.ACCOUNT_ID } },
      }),
      description: 'Lets EventBridge Scheduler invoke the notifier for the daily summary',
    });
    this.summarySchedule = new Schedule(this, 'DailySummary', {
      scheduleName: `${prefix}-daily-summary`,
      description:
        'The daily summary after the New York close (13:05 and 16:05; the function picks the one after the close)',
      schedule: ScheduleExpression.cron({
        minute: '5',
        hour: '13,16',
        weekDay: 'MON-FRI',
        timeZone: TimeZone.AMERICA_NEW_YORK,
      }),
      target: new LambdaInvoke(this.notifier, {
        role,
        retryAttempts: 2,
        input: ScheduleTargetInput.fromObject({ dailySummary: true }),
      }),
    });
    const notifierId = Stack.of(this).getLogicalId(this.notifier.node.defaultChild as CfnElement);
    Validations.of(role).acknowledge({
      id: `AwsSolutions-IAM5[Resource::<${notifierId}.Arn>:*]`,
      reason: 'CDK grants invoke on the notifier and its versions (`:*`); nothing else.',
    });
  }
}
