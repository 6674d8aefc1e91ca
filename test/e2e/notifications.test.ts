import { randomUUID } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type LocalRuntime, startLocalRuntime } from '../../infra/local/runtime.js';
import { parseConfig } from '../../shared/config/load.js';
import { type FakeNotify, startFakeNotify } from '../fakes/notify.js';
import { emptyFolder, runCli } from '../support/cli.js';

const SECRET = `whsec-${randomUUID()}`;
const ADMIN = `admin-${randomUUID()}`;

let fake: FakeNotify;
let bot: LocalRuntime;

/** The variables a trader puts in .env to turn each channel on, pointed at the loopback fakes. */
const channelEnv = (notify: FakeNotify): Record<string, string> => ({
  PINEBRIDGE_TELEGRAM_BOT_TOKEN: notify.telegramToken,
  PINEBRIDGE_TELEGRAM_CHAT_ID: notify.telegramChatId,
  PINEBRIDGE_TELEGRAM_API_URL: notify.url,
  PINEBRIDGE_DISCORD_WEBHOOK_URL: notify.discordUrl,
  PINEBRIDGE_SLACK_WEBHOOK_URL: notify.slackUrl,
});

beforeAll(async () => {
  fake = await startFakeNotify();
  bot = await startLocalRuntime({
    config: parseConfig({
      risk: { duplicateWindowSeconds: 0 },
      // Discord gets only what is critical (quiet); Slack only refusals.
      notifications: { discord: { quiet: true }, slack: { events: ['refusal'] } },
    }),
    webhookSecret: SECRET,
    adminToken: ADMIN,
    port: 0,
    env: channelEnv(fake),
  });
});
afterAll(async () => {
  await bot?.stop();
  await fake?.stop();
});
afterEach(() => {
  expect(fake.violations).toEqual([]);
});

const send = async (alert: Record<string, unknown>) => {
  const response = await fetch(`${bot.url}/webhook/${SECRET}`, {
    method: 'POST',
    headers: { 'content-type': 'text/plain' },
    body: JSON.stringify(alert),
  });
  expect(response.status).toBe(202);
  return ((await response.json()) as { signalId: string }).signalId;
};

async function until(condition: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('not seen in time');
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

const seen = (service: string, text: string) =>
  fake.messages.some((m) => m.service === service && m.visible.includes(text));

describe('the local bot tells the trader, per channel settings', () => {
  it('a fill reaches Telegram (with its price), a refusal reaches Telegram and Slack, a halt reaches Discord too — and no secret anywhere', async () => {
    const filled = await send({ ticker: 'AAPL', action: 'buy', quantity: 3, price: '187.5' });
    await until(() => seen('telegram', 'Filled: buy 3 AAPL @ 187.5'));
    expect(fake.messages.find((m) => m.visible.includes('Filled'))?.visible).toContain(`Signal ${filled}`);

    await send({ ticker: 'ZZZZ', action: 'buy', quantity: 1, price: '5' });
    await until(() => seen('telegram', 'SYMBOL_NOT_ALLOWED') && seen('slack', 'SYMBOL_NOT_ALLOWED'));

    const stop = await fetch(`${bot.url}/admin/stop`, {
      method: 'POST',
      headers: { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/json' },
      body: JSON.stringify({ reason: 'notification test' }),
    });
    expect(stop.status).toBe(200);
    await until(() => seen('discord', 'ACTIVE → HALTED') && seen('telegram', 'ACTIVE → HALTED'));

    // Discord is quiet (critical only): no fill, no refusal. Slack gets refusals only.
    expect(seen('discord', 'Filled')).toBe(false);
    expect(seen('discord', 'SYMBOL_NOT_ALLOWED')).toBe(false);
    expect(seen('slack', 'Filled')).toBe(false);
    expect(seen('slack', 'HALTED')).toBe(false);
    // What was sent (the URL path holds the credential, as the services require; the message never does).
    const everything = JSON.stringify(fake.messages.map((m) => [m.body, m.visible]));
    for (const secret of [
      SECRET,
      ADMIN,
      fake.telegramToken,
      'fAkEdIsCoRdWeBhOoKtOkEn',
      'fakeSlackWebhookSecret123',
    ])
      expect(everything).not.toContain(secret);
  });
});

describe('refused webhook secrets', () => {
  it('are told once when they reach monitoring.authFailureThreshold (5) within 5 minutes', async () => {
    const wrong = () =>
      fetch(`${bot.url}/webhook/not-the-secret`, {
        method: 'POST',
        body: JSON.stringify({ ticker: 'AAPL', action: 'buy', quantity: 1 }),
      });
    for (let i = 0; i < 6; i++) expect((await wrong()).status).toBe(401);

    await until(() => seen('telegram', '5 webhook calls with a wrong or missing secret'));
    await bot.notifier?.flush();
    expect(
      fake.messages.filter((m) => m.visible.includes('wrong or missing secret') && m.service === 'telegram'),
    ).toHaveLength(1);
    // Critical: quiet Discord gets it too.
    expect(seen('discord', 'wrong or missing secret')).toBe(true);
  });
});

describe('a channel that hangs', () => {
  it('never fails or holds up a signal: the order fills while Telegram does not answer', async () => {
    const hanging = await startFakeNotify();
    hanging.hang('telegram');
    const slow = await startLocalRuntime({
      config: parseConfig({}),
      webhookSecret: SECRET,
      adminToken: ADMIN,
      port: 0,
      env: channelEnv(hanging),
    });
    try {
      const response = await fetch(`${slow.url}/webhook/${SECRET}`, {
        method: 'POST',
        body: JSON.stringify({ ticker: 'MSFT', action: 'buy', quantity: 1, price: '400' }),
      });
      expect(response.status).toBe(202);
      const { signalId } = (await response.json()) as { signalId: string };
      await slow.settle();
      expect((await slow.deps.signals.get(signalId))?.status).toBe('filled');
      // The fill's notice did go to Telegram, which is still not answering.
      await until(() => hanging.requests.telegram >= 1);
    } finally {
      await slow.stop();
      await hanging.stop();
    }
  });
});

describe('pinebridge notify test', () => {
  it('sends a test message to each channel .env turns on and reports each; a refused one fails the command', async () => {
    const folder = emptyFolder();
    writeFileSync(
      join(folder, '.env'),
      Object.entries(channelEnv(fake))
        .map(([key, value]) => `${key}=${value}`)
        .join('\n'),
    );
    const before = fake.messages.length;

    const ok = await runCli(['notify', 'test'], { cwd: folder });
    expect(ok.stderr).toBe('');
    expect(ok.stdout).toMatch(/telegram +sent\ndiscord +sent\nslack +sent/);
    expect(ok.code).toBe(0);
    expect(fake.messages.slice(before).map((m) => m.service)).toEqual(['telegram', 'discord', 'slack']);

    fake.fail('slack', 404);
    const refused = await runCli(['notify', 'test', '--channel', 'slack', '--json'], { cwd: folder });
    expect(refused.code).toBe(1);
    expect(JSON.parse(refused.stdout)).toEqual({
      results: [{ channel: 'slack', ok: false, error: 'slack: HTTP 404' }],
    });
    expect(refused.stdout).not.toContain('fakeSlackWebhookSecret123');

    const none = await runCli(['notify', 'test'], { cwd: emptyFolder() });
    expect(none.code).toBe(2);
    expect(none.stderr).toContain('No notification channel is configured');
  });

  it('config validate names a half-set channel', async () => {
    const folder = emptyFolder();
    writeFileSync(join(folder, '.env'), 'PINEBRIDGE_TELEGRAM_BOT_TOKEN=123:abc\n');

    const run = await runCli(['config', 'validate'], { cwd: folder });

    expect(run.code).toBe(1);
    expect(run.stderr).toContain('telegram: PINEBRIDGE_TELEGRAM_CHAT_ID missing');
    expect(run.stderr).not.toContain('123:abc');
  });
});
