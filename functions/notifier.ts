import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import type { Context, SQSEvent } from 'aws-lambda';
import * as z from 'zod';
import { configFromEnv, requireEnv } from '../shared/adapters/dependencies.js';
import { NOTICE_EVENT } from '../shared/adapters/events.js';
import { TradingMetrics } from '../shared/adapters/metrics.js';
import { channelsFrom } from '../shared/adapters/notify/channels.js';
import { channelCredentialsFrom } from '../shared/adapters/notify/credentials.js';
import { parseSecretJson } from '../shared/adapters/secrets.js';
import { sessionOf } from '../shared/domain/calendar.js';
import { NOTICE_KINDS, type Notice, SEVERITIES } from '../shared/domain/notification.js';
import { errorSummary } from '../shared/errors.js';
import { logger } from '../shared/logger.js';
import { dailySummary, dailySummaryNotice, summaryDue } from '../shared/usecases/daily-summary.js';
import { Notifier } from '../shared/usecases/notifier.js';
import { beginInvocation, readOnlyDependencies } from './lambda-deps.js';

const NoticeSchema = z.object({
  kind: z.enum(NOTICE_KINDS),
  severity: z.enum(SEVERITIES),
  title: z.string().max(2000),
  lines: z.array(z.string().max(4000)).max(500),
  at: z.string(),
});

/** What arrives on the queue: an EventBridge event, a Pinebridge notice or a CloudWatch alarm's state change. */
const QueuedEvent = z.object({
  source: z.string(),
  'detail-type': z.string(),
  time: z.string().optional(),
  detail: z.unknown(),
});

const AlarmDetail = z.object({
  alarmName: z.string(),
  state: z.object({ value: z.string(), reason: z.string().optional() }),
});

/** The notice an event carries, or undefined for one this function does not tell. */
export function noticeOf(body: string): Notice | undefined {
  const event = QueuedEvent.safeParse(parseSecretJson(body));
  if (!event.success) return undefined;
  const { source, detail } = event.data;
  if (source === NOTICE_EVENT.source && event.data['detail-type'] === NOTICE_EVENT.detailType) {
    const notice = NoticeSchema.safeParse(detail);
    return notice.success ? notice.data : undefined;
  }
  if (source === 'aws.cloudwatch') {
    const alarm = AlarmDetail.safeParse(detail);
    if (!alarm.success || alarm.data.state.value !== 'ALARM') return undefined;
    return {
      kind: alarm.data.alarmName.includes('auth-failures') ? 'auth-failures' : 'failure',
      severity: 'critical',
      title: `Alarm: ${alarm.data.alarmName}`,
      lines: [alarm.data.state.reason ?? 'in ALARM', 'docs/RUNBOOK.md has what to do for each alarm.'],
      at: event.data.time ?? new Date().toISOString(),
    };
  }
  return undefined;
}

const metrics = new TradingMetrics();
const secrets = new SecretsManagerClient({ maxAttempts: 2 });
let notifier: { value: Notifier | undefined; until: number } | undefined;

/**
 * The channels as the notifications secret says now (cached 5 minutes): a JSON object with the
 * same variables as a local .env (docs/NOTIFICATIONS.md). A channel that keeps failing is counted
 * (NotificationChannelFailing, which alarms).
 */
async function currentNotifier(): Promise<Notifier | undefined> {
  if (notifier !== undefined && notifier.until > Date.now()) return notifier.value;
  const result = await secrets.send(
    new GetSecretValueCommand({ SecretId: requireEnv('NOTIFICATIONS_SECRET_ID') }),
  );
  const values = parseSecretJson(result.SecretString);
  const { credentials, problems } = channelCredentialsFrom(
    values !== null && typeof values === 'object' ? (values as Record<string, string>) : {},
  );
  // Variable names only: never a value.
  if (problems.length > 0) logger.error('notifications secret', { problems });
  const channels = channelsFrom(credentials);
  const value =
    channels.length === 0
      ? undefined
      : new Notifier({
          channels,
          settings: configFromEnv().notifications,
          log: logger,
          onChannelFailing: () => metrics.notificationChannelFailing(),
        });
  notifier = { value, until: Date.now() + 300_000 };
  return value;
}

/**
 * The notifier: sends what the queue holds (a batch, so a burst becomes a digest) to every
 * configured channel at its pace, and — when EventBridge Scheduler asks after the close — the
 * daily summary. A channel's failure is logged and counted, never thrown: the batch is done.
 */
export const handler = async (
  event: SQSEvent | { dailySummary: true | 'now' },
  context?: Context,
): Promise<{ told: number }> => {
  beginInvocation(undefined, context);
  try {
    const target = await currentNotifier();
    if (target === undefined) {
      logger.info('no notification channel is configured; nothing sent');
      return { told: 0 };
    }
    const notices: Notice[] = [];
    if ('dailySummary' in event) {
      // 'now': the session so far, whatever the time (an operator's `aws lambda invoke`).
      const notice = await dueSummary(event.dailySummary === 'now');
      if (notice !== undefined) notices.push(notice);
    } else
      for (const record of event.Records) {
        const notice = noticeOf(record.body);
        if (notice !== undefined) notices.push(notice);
      }
    for (const notice of notices) target.notify(notice);
    await target.flush();
    return { told: notices.length };
  } catch (error) {
    logger.error('notifier failed', { error: errorSummary(error) });
    throw error;
  }
};

/**
 * The schedule runs at 13:05 and 16:05 New York, Monday to Friday: the summary goes out from the
 * run just after the day's close (13:00 on early-close days), none on holidays.
 */
async function dueSummary(now: boolean): Promise<Notice | undefined> {
  const deps = readOnlyDependencies(async () => undefined);
  const at = deps.clock.now();
  if (!now) {
    const date = summaryDue(at, undefined);
    const session = date === undefined ? undefined : sessionOf(date);
    if (session === undefined || at.getTime() - session.close.getTime() > 60 * 60_000) return undefined;
  }
  return dailySummaryNotice(await dailySummary(deps), at.toISOString());
}
