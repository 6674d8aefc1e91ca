import { afterEach, describe, expect, it } from 'vitest';
import { channelsFrom } from '../../shared/adapters/notify/channels.js';
import { channelCredentialsFrom } from '../../shared/adapters/notify/credentials.js';
import { fillNotice, type Notice } from '../../shared/domain/notification.js';
import { dailySummary, dailySummaryNotice } from '../../shared/usecases/daily-summary.js';
import { Notifier, sendTestNotices } from '../../shared/usecases/notifier.js';
import { operate, type pnlByDay } from '../../shared/usecases/operator.js';
import { type FakeNotify, startFakeNotify } from '../fakes/notify.js';
import { EVERY_NOTICE } from '../fixtures/notices.js';
import { flowHarness, silentLog } from '../support/flow.js';

let fake: FakeNotify | undefined;
afterEach(async () => {
  expect(fake?.violations ?? []).toEqual([]);
  await fake?.stop();
  fake = undefined;
});

/** The four channels pointed at the loopback fakes, through the same environment variables a trader sets. */
async function channels(options: { timeoutMs?: number } = {}) {
  fake = await startFakeNotify();
  const { credentials, problems } = channelCredentialsFrom({
    PINEBRIDGE_TELEGRAM_BOT_TOKEN: fake.telegramToken,
    PINEBRIDGE_TELEGRAM_CHAT_ID: fake.telegramChatId,
    PINEBRIDGE_TELEGRAM_API_URL: fake.url,
    PINEBRIDGE_DISCORD_WEBHOOK_URL: fake.discordUrl,
    PINEBRIDGE_SLACK_WEBHOOK_URL: fake.slackUrl,
    PINEBRIDGE_NOTIFY_WEBHOOK_URL: fake.webhookUrl,
    PINEBRIDGE_NOTIFY_WEBHOOK_SECRET: fake.webhookSecret,
  });
  expect(problems).toEqual([]);
  return { fake, list: channelsFrom(credentials, options) };
}

const fill = (i: number): Notice =>
  fillNotice({
    side: 'buy',
    symbol: 'AAPL',
    quantity: '1',
    price: `${100 + i}`,
    realizedPnl: '0',
    closed: false,
    signalId: `s${i}`,
    at: new Date().toISOString(),
  });

describe('notification channels against loopback fakes of Telegram, Discord, Slack and a signed webhook', () => {
  it('delivers every kind of notice on every channel in the documented request shape, and no credential in any', async () => {
    const { fake, list } = await channels();
    const notifier = new Notifier({
      channels: list,
      log: silentLog,
      minIntervalMs: { telegram: 0, discord: 400, slack: 0 },
    });

    // One at a time, so none is folded into a digest: every kind is rendered on its own.
    for (const notice of EVERY_NOTICE) {
      notifier.notify(notice);
      await notifier.flush();
    }

    for (const service of ['telegram', 'discord', 'slack', 'webhook'] as const)
      expect(
        fake.messages.filter((m) => m.service === service),
        service,
      ).toHaveLength(EVERY_NOTICE.length);
    const everything = JSON.stringify(fake.messages.map((m) => [m.body, m.visible]));
    for (const credential of [
      fake.telegramToken,
      'fAkEdIsCoRdWeBhOoKtOkEn',
      'fakeSlackWebhookSecret123',
      fake.webhookSecret,
    ])
      expect(everything).not.toContain(credential);
    expect(fake.messages.find((m) => m.service === 'telegram')?.visible).toContain(
      'Filled: sell 10 AAPL @ 190.25',
    );
  });

  it('honours a 429’s retry_after on each service (Telegram’s parameters, Discord’s body, Slack’s header), then delivers once', async () => {
    const { fake, list } = await channels();
    for (const service of ['telegram', 'discord', 'slack'] as const)
      fake.fail(service, 429, { retryAfterSeconds: 1 });
    const notifier = new Notifier({ channels: list, log: silentLog, backoffMs: 10 });

    const started = Date.now();
    notifier.notify(fill(1));
    await notifier.flush();

    expect(Date.now() - started).toBeGreaterThanOrEqual(950);
    for (const service of ['telegram', 'discord', 'slack'] as const) {
      expect(fake.requests[service], service).toBe(2);
      expect(
        fake.messages.filter((m) => m.service === service),
        service,
      ).toHaveLength(1);
    }
  });

  it('retries a 5xx with back-off and delivers', async () => {
    const { fake, list } = await channels();
    fake.fail('slack', 503, { count: 2 });
    const notifier = new Notifier({ channels: list, log: silentLog, backoffMs: 20 });

    notifier.notify(fill(1));
    await notifier.flush();

    expect(fake.requests.slack).toBe(3);
    expect(fake.messages.filter((m) => m.service === 'slack')).toHaveLength(1);
  });

  it('turns a burst of 200 fills into a bounded number of messages per channel, within Discord’s 5 per 2 s', async () => {
    const { fake, list } = await channels();
    const notifier = new Notifier({ channels: list, log: silentLog });

    for (let i = 0; i < 200; i++) notifier.notify(fill(i));
    await notifier.flush();

    for (const service of ['telegram', 'discord', 'slack', 'webhook'] as const) {
      const received = fake.messages.filter((m) => m.service === service);
      expect(received.length, service).toBeGreaterThanOrEqual(2);
      expect(received.length, service).toBeLessThanOrEqual(3);
      expect(received.map((m) => m.visible).join('\n'), service).toContain('199 updates (199 fill)');
    }
  });

  it('sends a notice too long for one message as numbered parts, each valid at the service, every line delivered', async () => {
    const { fake, list } = await channels();
    const notifier = new Notifier({ channels: list, log: silentLog });
    const lines = Array.from(
      { length: 120 },
      (_, i) => `close POS${i}: failed, still open (broker answered 503)`,
    );

    notifier.notify({
      kind: 'stop-incomplete',
      severity: 'critical',
      title: 'Emergency stop INCOMPLETE',
      lines,
      at: new Date().toISOString(),
    });
    await notifier.flush();

    for (const service of ['telegram', 'discord', 'slack'] as const) {
      const received = fake.messages.filter((m) => m.service === service);
      expect(received.length, service).toBeGreaterThan(1);
      const seen = received.map((m) => m.visible).join('\n');
      for (const line of lines) expect(seen, `${service}: ${line}`).toContain(line);
      expect(seen, service).toContain(`(${received.length}/${received.length})`);
    }
    expect(fake.messages.filter((m) => m.service === 'webhook')).toHaveLength(1);
    expect(fake.violations).toEqual([]);
  });

  it('a channel that never answers holds nothing up: notify returns at once, the others deliver, and it is reported failing once', async () => {
    const { fake, list } = await channels({ timeoutMs: 200 });
    fake.hang('discord');
    const failing: string[] = [];
    const notifier = new Notifier({
      channels: list,
      log: silentLog,
      backoffMs: 10,
      maxAttempts: 2,
      minIntervalMs: { telegram: 0, discord: 0, slack: 0 },
      onChannelFailing: (channel) => failing.push(channel),
    });

    const started = performance.now();
    for (let i = 0; i < 3; i++) notifier.notify(fill(i));
    const handedOver = performance.now() - started;
    await notifier.flush();

    expect(handedOver).toBeLessThan(50);
    expect(fake.messages.filter((m) => m.service === 'telegram').length).toBeGreaterThanOrEqual(2);
    expect(fake.messages.filter((m) => m.service === 'discord')).toHaveLength(0);
    expect(failing).toEqual(['discord']);
  });

  it('drops a message the service refuses for good (401, 404) without retrying it', async () => {
    const { fake, list } = await channels();
    fake.fail('telegram', 401);
    const notifier = new Notifier({ channels: list, log: silentLog, backoffMs: 10 });

    notifier.notify(fill(1));
    await notifier.flush();

    expect(fake.requests.telegram).toBe(1);
    expect(fake.messages.filter((m) => m.service === 'telegram')).toHaveLength(0);
  });

  it('sends a test message to each channel, or to one, and reports each result', async () => {
    const { fake, list } = await channels();
    fake.fail('slack', 404);

    const all = await sendTestNotices(list);
    const one = await sendTestNotices(list, 'telegram');

    expect(all).toEqual([
      { channel: 'telegram', ok: true },
      { channel: 'discord', ok: true },
      { channel: 'slack', ok: false, error: 'slack: HTTP 404' },
      { channel: 'webhook', ok: true },
    ]);
    expect(one).toEqual([{ channel: 'telegram', ok: true }]);
    expect(fake.messages.filter((m) => m.service === 'telegram')).toHaveLength(2);
  });
});

describe('channel credentials from the environment', () => {
  it('turns a channel on only with all its variables, and names what a half-set one lacks', () => {
    const { credentials, problems } = channelCredentialsFrom({
      PINEBRIDGE_TELEGRAM_BOT_TOKEN: '123:abc',
      PINEBRIDGE_SLACK_WEBHOOK_URL: 'not a url',
      PINEBRIDGE_NOTIFY_WEBHOOK_URL: 'https://example.test/hook',
      PINEBRIDGE_NOTIFY_WEBHOOK_SECRET: 'short',
    });

    expect(credentials).toEqual({});
    expect(problems).toEqual([
      'telegram: PINEBRIDGE_TELEGRAM_CHAT_ID missing (set PINEBRIDGE_TELEGRAM_BOT_TOKEN and PINEBRIDGE_TELEGRAM_CHAT_ID)',
      'slack: PINEBRIDGE_SLACK_WEBHOOK_URL must be an http(s) URL',
      'webhook: PINEBRIDGE_NOTIFY_WEBHOOK_SECRET must be at least 16 characters',
    ]);
  });
});

describe('the daily summary', () => {
  it('reports the session’s figures exactly as pinebridge pnl does, with trades, win rate, open positions and refusals', async () => {
    const flow = await flowHarness({ risk: { duplicateWindowSeconds: 0, pyramiding: true } });
    for (const alert of [
      { ticker: 'AAPL', action: 'buy', quantity: 10, price: 100 },
      { ticker: 'AAPL', action: 'sell', quantity: 10, price: 110 },
      { ticker: 'MSFT', action: 'buy', quantity: 2, price: 400 },
      { ticker: 'MSFT', action: 'sell', quantity: 1, price: 390 },
      { ticker: 'ZZZZ', action: 'buy', quantity: 1, price: 5 },
      { ticker: 'AAPL', action: 'exit', price: 110 },
    ])
      await flow.run(await flow.record(alert));

    const summary = await dailySummary(flow.deps);
    const pnl = (await operate(flow.deps, { action: 'pnl', days: 1 }, 'test')) as Awaited<
      ReturnType<typeof pnlByDay>
    >;

    expect(summary).toMatchObject({
      date: pnl.days[0]?.date,
      realizedPnl: pnl.days[0]?.realizedPnl,
      commissions: pnl.days[0]?.commissions,
      orders: pnl.days[0]?.orders,
      filledOrders: pnl.days[0]?.filledOrders,
      sessionPnl: pnl.session.pnl,
      equity: pnl.session.equity,
    });
    expect(summary).toMatchObject({
      realizedPnl: '90.00',
      trades: 2,
      wins: 1,
      openPositions: [{ symbol: 'MSFT', quantity: '1' }],
      refusals: { SYMBOL_NOT_ALLOWED: 1, NOTHING_TO_CLOSE: 1 },
    });
    const notice = dailySummaryNotice(summary, new Date().toISOString());
    expect(notice.lines).toContain('Orders 4 (4 filled); trades 2, win rate 50%');
  });
});
