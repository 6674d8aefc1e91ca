import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LocalRuntime } from '../../infra/local/runtime.js';
import { EVENTS_SUBPROTOCOL } from '../../shared/dashboard/live.js';
import { type FakeAlpaca, startFakeAlpaca } from '../fakes/alpaca/server.js';
import { type FakeNotify, startFakeNotify } from '../fakes/notify.js';
import { leakedPiece } from '../support/leaks.js';

/**
 * The leak scan (issue 9): the local bot trading with Alpaca (the fake server) is driven through
 * every front door — good and bad webhooks with the secret in the path and in the body, the admin
 * API with its token, a refused token, an emergency stop and a resume — with logging at DEBUG.
 * Every line written to stdout/stderr, and every workflow input and output, is searched for every
 * 8-character piece of the webhook secret, the admin token and the broker keys.
 */
const SECRET = `whsec-leak-${randomUUID()}`;
const ADMIN = `admin-leak-${randomUUID()}`;

let fake: FakeAlpaca;
let notify: FakeNotify;
let runtime: LocalRuntime;
const written: string[] = [];
const workflowData: unknown[] = [];
const originals = {
  out: process.stdout.write.bind(process.stdout),
  err: process.stderr.write.bind(process.stderr),
};

beforeAll(async () => {
  // Everything the logger would print, at the chattiest level (set before the logger is created).
  process.env.POWERTOOLS_LOG_LEVEL = 'DEBUG';
  const capture =
    (original: typeof process.stdout.write) =>
    (chunk: unknown, ...rest: unknown[]): boolean => {
      written.push(typeof chunk === 'string' ? chunk : Buffer.from(chunk as Uint8Array).toString('utf8'));
      return (original as (...args: unknown[]) => boolean)(chunk, ...rest);
    };
  process.stdout.write = capture(originals.out) as typeof process.stdout.write;
  process.stderr.write = capture(originals.err) as typeof process.stderr.write;

  fake = await startFakeAlpaca({ prices: { AAPL: '187.5', MSFT: '410.25' } });
  const keys = { keyId: fake.keyId, secretKey: fake.secretKey };
  // Every notification channel on, so what it is told is scanned too (and its own credentials).
  notify = await startFakeNotify();
  const { startLocalRuntime } = await import('../../infra/local/runtime.js');
  const { parseConfig } = await import('../../shared/config/load.js');
  runtime = await startLocalRuntime({
    config: parseConfig({ broker: 'alpaca', risk: { duplicateWindowSeconds: 0, pyramiding: true } }),
    webhookSecret: SECRET,
    adminToken: ADMIN,
    port: 0,
    env: {
      PINEBRIDGE_TELEGRAM_BOT_TOKEN: notify.telegramToken,
      PINEBRIDGE_TELEGRAM_CHAT_ID: notify.telegramChatId,
      PINEBRIDGE_TELEGRAM_API_URL: notify.url,
      PINEBRIDGE_DISCORD_WEBHOOK_URL: notify.discordUrl,
      PINEBRIDGE_SLACK_WEBHOOK_URL: notify.slackUrl,
      PINEBRIDGE_NOTIFY_WEBHOOK_URL: notify.webhookUrl,
      PINEBRIDGE_NOTIFY_WEBHOOK_SECRET: notify.webhookSecret,
    },
    alpaca: {
      credentials: { get: async () => keys, refresh: async () => keys },
      tradingUrl: fake.url,
      dataUrl: fake.url,
    },
  });
  runtime.workflow.events.on('settled', (input: unknown, output: unknown) =>
    workflowData.push(input, output),
  );
});

afterAll(async () => {
  process.stdout.write = originals.out;
  process.stderr.write = originals.err;
  await runtime?.stop();
  await fake?.stop();
  await notify?.stop();
});

const post = (path: string, body: string, headers: Record<string, string> = {}) =>
  fetch(`${runtime.url}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'text/plain', ...headers },
    body,
  });

describe('leak scan: no secret in any log line, workflow input or output, or notification', () => {
  it('drives every front door, then finds none of the webhook secret, admin token, broker keys or channel credentials', async () => {
    const alert = (fields: Record<string, unknown> = {}) =>
      JSON.stringify({
        ticker: 'AAPL',
        action: 'buy',
        quantity: 1,
        price: 187.5,
        id: randomUUID(),
        ...fields,
      });
    const answers = [
      await post(`/webhook/${SECRET}`, alert()),
      await post('/webhook', alert({ secret: SECRET })),
      await post('/webhook', alert({ passphrase: SECRET, ticker: 'MSFT', price: 410.25 })),
      await post(`/webhook/${SECRET}x`, alert()),
      await post('/webhook', alert({ secret: `${SECRET}x` })),
      await post(`/webhook/${SECRET}`, `{"ticker":"AAPL","secret":"${SECRET}",`),
      await post(`/webhook/${SECRET}`, alert({ quantity: -1, secret: SECRET })),
      await post(`/webhook/${SECRET}`, alert({ ticker: 'DOGE' })),
      await post('/admin/stop', '{"reason":"leak scan","flatten":true}', {
        authorization: `Bearer ${ADMIN}`,
      }),
      await post('/admin/resume', '{"reason":"leak scan"}', { authorization: `Bearer ${ADMIN}` }),
      await post('/admin/stop', '{}', { authorization: `Bearer ${ADMIN}x` }),
      await fetch(`${runtime.url}/status`, { headers: { authorization: `Bearer ${ADMIN}` } }),
    ];
    await runtime.settle();
    await runtime.notifier?.flush();

    expect(answers.map((a) => a.status)).toEqual([
      202, 202, 202, 401, 401, 400, 400, 202, 200, 200, 401, 200,
    ]);
    const bodies = await Promise.all(answers.map((a) => a.text()));
    const logs = written.join('');
    // Not vacuous: the run logged, and the workflow ran every accepted signal.
    expect(logs).toMatch(/"level":"(INFO|WARN|ERROR|DEBUG)"/);
    expect(workflowData.length).toBeGreaterThanOrEqual(8);
    // Every message the channels received (what a reader sees, and the request body).
    expect(notify.messages.length).toBeGreaterThanOrEqual(4);
    expect(notify.violations).toEqual([]);
    const told = JSON.stringify(notify.messages.map((m) => [m.body, m.visible]));
    const haystack = [logs, JSON.stringify(workflowData), told, ...bodies].join('\n');
    for (const [name, secret] of [
      ['webhook secret', SECRET],
      ['admin token', ADMIN],
      ['Alpaca key id', fake.keyId],
      ['Alpaca secret key', fake.secretKey],
      ['Telegram bot token', notify.telegramToken],
      ['Discord webhook token', notify.discordUrl.split('/').at(-1) ?? ''],
      ['Slack webhook secret', notify.slackUrl.split('/').at(-1) ?? ''],
      ['notification signing secret', notify.webhookSecret],
    ] as const)
      expect(leakedPiece(haystack, secret), `${name} leaked`).toBeUndefined();
  });

  it('the dashboard and its live updates (login, session, realtime connect and subscribe, good and forged tokens) log neither the admin token nor a live token, and the channel carries neither', async () => {
    const before = written.length;
    const login = await fetch(`${runtime.url}/login`, {
      method: 'POST',
      redirect: 'manual',
      headers: { origin: runtime.url, 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ password: ADMIN }).toString(),
    });
    const cookie = (login.headers.get('set-cookie') ?? '').split(';')[0] ?? '';
    const session = (await (await fetch(`${runtime.url}/api/session`, { headers: { cookie } })).json()) as {
      live: { url: string; host: string; channel: string; token: string };
    };
    const { url, host, channel, token } = session.live;
    const open = (presented: string) =>
      new WebSocket(url, [
        EVENTS_SUBPROTOCOL,
        `header-${Buffer.from(JSON.stringify({ host, Authorization: presented })).toString('base64url')}`,
      ]);
    const forged = open(`${token.slice(0, -4)}AAAA`);
    const forgedRefused = await new Promise<boolean>((resolve) => {
      forged.addEventListener('error', () => resolve(true));
      forged.addEventListener('open', () => resolve(false));
    });
    const socket = open(token);
    const received: string[] = [];
    await new Promise<void>((resolve) => {
      socket.addEventListener('open', () => socket.send(JSON.stringify({ type: 'connection_init' })));
      socket.addEventListener('message', (m) => {
        received.push(String(m.data));
        const { type } = JSON.parse(String(m.data)) as { type: string };
        if (type === 'connection_ack') {
          const authorization = { host, Authorization: token };
          socket.send(
            JSON.stringify({ type: 'subscribe', id: 'other', channel: '/pinebridge/other', authorization }),
          );
          socket.send(JSON.stringify({ type: 'subscribe', id: 'mine', channel, authorization }));
        }
        if (type === 'subscribe_success') resolve();
      });
    });
    await post(
      `/webhook/${SECRET}`,
      JSON.stringify({ ticker: 'AAPL', action: 'sell', quantity: 1, price: 187.5, id: randomUUID() }),
    );
    await runtime.settle();
    const deadline = Date.now() + 5_000;
    while (!received.some((r) => r.includes('"type":"data"')) && Date.now() < deadline)
      await new Promise((resolve) => setTimeout(resolve, 10));
    socket.close();

    expect(login.status).toBe(303);
    expect(forgedRefused).toBe(true);
    expect(received.some((r) => r.includes('"type":"data"'))).toBe(true);
    const haystack = [written.slice(before).join(''), ...received].join('\n');
    expect(leakedPiece(haystack, ADMIN), 'admin token leaked').toBeUndefined();
    // The live token's signature: a credential, if short-lived.
    expect(leakedPiece(haystack, token.split('.').at(-1) ?? ''), 'live token leaked').toBeUndefined();
  });
});
