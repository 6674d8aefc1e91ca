import type { SQSEvent } from 'aws-lambda';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EventBridgeNotices } from '../../shared/adapters/events.js';
import { type FakeAws, startFakeAws } from '../fakes/aws.js';
import { type FakeNotify, startFakeNotify } from '../fakes/notify.js';
import { EVERY_NOTICE } from '../fixtures/notices.js';
import { silentLog } from '../support/flow.js';

/**
 * The AWS path at its network boundaries: a function's notices go on the bus (EventBridge
 * PutEvents, the fake AWS), the rule hands the events to the queue, and the notifier function reads
 * the notifications secret (Secrets Manager, the fake AWS) and sends each batch to the channels
 * (the loopback fakes of Telegram and Discord).
 */
let aws: FakeAws;
let notify: FakeNotify;
const saved = { ...process.env };
let handler: (event: SQSEvent | { dailySummary: true | 'now' }) => Promise<{ told: number }>;

beforeAll(async () => {
  notify = await startFakeNotify();
  aws = await startFakeAws({
    functions: {},
    secrets: {
      'pinebridge-dev/notifications': JSON.stringify({
        PINEBRIDGE_TELEGRAM_BOT_TOKEN: notify.telegramToken,
        PINEBRIDGE_TELEGRAM_CHAT_ID: notify.telegramChatId,
        PINEBRIDGE_TELEGRAM_API_URL: notify.url,
        PINEBRIDGE_DISCORD_WEBHOOK_URL: notify.discordUrl,
      }),
    },
  });
  Object.assign(process.env, {
    NOTIFICATIONS_SECRET_ID: 'pinebridge-dev/notifications',
    PINEBRIDGE_CONFIG: JSON.stringify({ notifications: { discord: { quiet: true } } }),
    AWS_REGION: 'us-east-1',
    AWS_ACCESS_KEY_ID: 'AKIDNOTIFIER',
    AWS_SECRET_ACCESS_KEY: 'fake',
    AWS_ENDPOINT_URL_SECRETS_MANAGER: aws.url,
    AWS_ENDPOINT_URL_EVENTBRIDGE: aws.url,
    POWERTOOLS_METRICS_DISABLED: 'true',
  });
  handler = (await import('../../functions/notifier.js')).handler as typeof handler;
});

afterAll(async () => {
  process.env = saved;
  await aws?.stop();
  await notify?.stop();
});

/** What the queue delivers: each event as EventBridge hands it to an SQS target. */
const asQueueBatch = (events: FakeAws['events']): SQSEvent => ({
  Records: events.map((event, i) => ({
    messageId: `m${i}`,
    receiptHandle: `r${i}`,
    body: JSON.stringify({
      version: '0',
      id: `e${i}`,
      'detail-type': event.DetailType,
      source: 'pinebridge.notify',
      time: new Date().toISOString(),
      detail: JSON.parse(event.Detail ?? '{}'),
    }),
    attributes: {} as SQSEvent['Records'][number]['attributes'],
    messageAttributes: {},
    md5OfBody: '',
    eventSource: 'aws:sqs',
    eventSourceARN: 'arn:aws:sqs:us-east-1:123456789012:pinebridge-dev-notify',
    awsRegion: 'us-east-1',
  })),
});

describe('notifications in AWS: bus → queue → notifier function → channels', () => {
  it('publishes every notice, and the notifier sends a batch to each channel per its settings (Discord quiet: critical only)', async () => {
    const notices = new EventBridgeNotices('pinebridge-dev', silentLog);
    for (const notice of EVERY_NOTICE) notices.notify(notice);
    await notices.flush();
    const published = aws.events.filter((e) => e.DetailType === 'Notice');
    expect(published).toHaveLength(EVERY_NOTICE.length);

    const result = await handler(asQueueBatch(published));

    expect(result.told).toBe(EVERY_NOTICE.length);
    expect(notify.violations).toEqual([]);
    const telegram = notify.messages.filter((m) => m.service === 'telegram').map((m) => m.visible);
    const discord = notify.messages.filter((m) => m.service === 'discord').map((m) => m.visible);
    // Telegram: the batch at its pace — the first on its own, the rest as one digest.
    expect(telegram.join('\n')).toContain('Filled: sell 10 AAPL @ 190.25');
    expect(telegram.join('\n')).toMatch(/updates \(/);
    // Discord is quiet: every critical notice, nothing else.
    expect(discord.join('\n')).toContain('ACTIVE → HALTED');
    expect(discord.join('\n')).not.toContain('Filled');
  });

  it('turns one of this deployment’s CloudWatch alarms going into ALARM into a critical notice', async () => {
    const before = notify.messages.length;
    const alarm: SQSEvent = {
      Records: [
        {
          ...asQueueBatch([{ DetailType: 'x', Detail: '{}' }]).Records[0],
          body: JSON.stringify({
            source: 'aws.cloudwatch',
            'detail-type': 'CloudWatch Alarm State Change',
            time: new Date().toISOString(),
            detail: {
              alarmName: 'pinebridge-dev-auth-failures',
              state: { value: 'ALARM', reason: 'Threshold Crossed: 7 datapoints' },
            },
          }),
        } as SQSEvent['Records'][number],
      ],
    };

    expect((await handler(alarm)).told).toBe(1);
    const sent = notify.messages.slice(before).map((m) => `${m.service}: ${m.visible}`);
    expect(
      sent.some((m) => m.startsWith('discord:') && m.includes('Alarm: pinebridge-dev-auth-failures')),
    ).toBe(true);
    expect(sent.some((m) => m.startsWith('telegram:') && m.includes('Threshold Crossed'))).toBe(true);
  });

  it('ignores what it cannot read (a malformed body, an alarm returning to OK) rather than failing the batch', async () => {
    const before = notify.messages.length;
    const [template] = asQueueBatch([{ DetailType: 'x', Detail: '{}' }]).Records;
    const batch: SQSEvent = {
      Records: [
        { ...template, body: 'not json' },
        {
          ...template,
          body: JSON.stringify({
            source: 'aws.cloudwatch',
            'detail-type': 'CloudWatch Alarm State Change',
            detail: { alarmName: 'pinebridge-dev-dlq-notify', state: { value: 'OK' } },
          }),
        },
      ] as SQSEvent['Records'],
    };

    expect((await handler(batch)).told).toBe(0);
    expect(notify.messages.length).toBe(before);
  });
});
