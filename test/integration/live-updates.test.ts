import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createLiveAuthorizer } from '../../functions/live-authorizer.js';
import {
  AppSyncEventsPublisher,
  createLivePublisher,
  LivePublishError,
} from '../../functions/live-publisher.js';
import { DashboardSessions } from '../../shared/dashboard/auth.js';
import { EVENTS_SUBPROTOCOL, LIVE_CHANNEL } from '../../shared/dashboard/live.js';
import {
  type FakeAppSyncEvents,
  startFakeAppSyncEvents,
  TEST_CREDENTIALS,
  TEST_REGION,
} from '../fakes/appsync-events.js';

const PASSWORD = 'live-updates-dashboard-password';
const sessions = new DashboardSessions();
const tokenOf = () => sessions.liveToken(PASSWORD, sessions.issue(PASSWORD).session).token;

let fake: FakeAppSyncEvents;
const open: WebSocket[] = [];

beforeAll(async () => {
  fake = await startFakeAppSyncEvents(async () => PASSWORD);
});
afterEach(() => {
  for (const socket of open.splice(0)) socket.close();
});
afterAll(async () => {
  await fake.close();
});

interface Message {
  type: string;
  id?: string;
  event?: string;
  connectionTimeoutMs?: number;
  errors?: { errorType: string }[];
}

/**
 * A client speaking the protocol as the page does (infra/dashboard/app.ts): the auth header as a
 * `header-<base64url JSON>` subprotocol beside `aws-appsync-event-ws`, then `connection_init`.
 * Resolves with the socket and everything it receives, or rejects when the upgrade is refused.
 */
function connect(token: string | undefined): Promise<{ socket: WebSocket; received: Message[] }> {
  const header = Buffer.from(JSON.stringify({ host: fake.host, Authorization: token })).toString('base64url');
  const socket = new WebSocket(fake.realtimeUrl, [EVENTS_SUBPROTOCOL, `header-${header}`]);
  open.push(socket);
  const received: Message[] = [];
  socket.addEventListener('message', (m) => received.push(JSON.parse(String(m.data)) as Message));
  return new Promise((resolve, reject) => {
    socket.addEventListener('open', () => {
      socket.send(JSON.stringify({ type: 'connection_init' }));
      resolve({ socket, received });
    });
    socket.addEventListener('error', () => reject(new Error('the upgrade was refused')));
  });
}

async function until<T>(find: () => T | undefined, ms = 3_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const found = find();
    if (found !== undefined) return found;
    if (Date.now() > deadline) throw new Error('not seen in time');
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

const subscribe = (socket: WebSocket, id: string, channel: string, token: string | undefined) =>
  socket.send(
    JSON.stringify({
      type: 'subscribe',
      id,
      channel,
      authorization: { host: fake.host, Authorization: token },
    }),
  );

const publisher = (credentials = TEST_CREDENTIALS) =>
  createLivePublisher(new AppSyncEventsPublisher(fake.httpUrl, TEST_REGION, async () => credentials));

const aNotice = {
  version: '0',
  id: 'e-1',
  source: 'pinebridge.notify',
  'detail-type': 'Notice',
  time: '2026-12-07T15:30:00Z',
  detail: {
    kind: 'fill',
    severity: 'info',
    title: 'Bought 10 AAPL at $187.50',
    lines: ['account PA1234567890'],
    at: '2026-12-07T15:30:00Z',
  },
};

describe('the live-update authorizer (what AppSync asks at connect and subscribe)', () => {
  const authorize = createLiveAuthorizer(async () => PASSWORD);
  const ask = (operation: string, token: string | undefined, channel?: string) =>
    authorize({
      authorizationToken: token,
      requestContext: { operation, channelNamespaceName: 'pinebridge', ...(channel ? { channel } : {}) },
      requestHeaders: {},
    });

  it('lets a live token of a dashboard session connect and subscribe to the updates channel, for no longer than it lives', async () => {
    const token = tokenOf();

    const connectAnswer = await ask('EVENT_CONNECT', token);
    const subscribeAnswer = await ask('EVENT_SUBSCRIBE', token, LIVE_CHANNEL);

    expect(connectAnswer.isAuthorized).toBe(true);
    expect(subscribeAnswer.isAuthorized).toBe(true);
    expect(connectAnswer.ttlOverride).toBeGreaterThan(0);
    expect(connectAnswer.ttlOverride).toBeLessThanOrEqual(300);
  });

  it('refuses publishing, another channel, a missing, forged or other-password token, and a malformed event', async () => {
    const token = tokenOf();
    const other = new DashboardSessions();
    const foreign = other.liveToken(
      'another-password-entirely',
      other.issue('another-password-entirely').session,
    );

    const answers = [
      await ask('EVENT_PUBLISH', token, LIVE_CHANNEL),
      await ask('EVENT_SUBSCRIBE', token, '/pinebridge/other'),
      await ask('EVENT_SUBSCRIBE', token, '/pinebridge/*'),
      await ask('EVENT_CONNECT', undefined),
      await ask('EVENT_CONNECT', `${token.slice(0, -2)}AA`),
      await ask('EVENT_CONNECT', foreign.token),
      await authorize('not an event'),
      await authorize({ authorizationToken: 42 }),
    ];

    expect(answers.map((a) => a.isAuthorized)).toEqual([
      false,
      false,
      false,
      false,
      false,
      false,
      false,
      false,
    ]);
  });

  it('refuses, and says nothing of the token, when the password cannot be read', async () => {
    const failing = createLiveAuthorizer(async () => {
      throw new Error('AccessDeniedException');
    });
    expect((await failing({ authorizationToken: tokenOf(), requestContext: {} })).isAuthorized).toBe(false);
  });
});

describe('the realtime protocol (AppSync Events) with Pinebridge authorization', () => {
  it('refuses an upgrade without a live token, before any message', async () => {
    await expect(connect(undefined)).rejects.toThrow('refused');
    await expect(connect('live1.forged')).rejects.toThrow('refused');
    expect(
      fake.authorizations.filter((a) => a.operation === 'connect' && !a.allowed).length,
    ).toBeGreaterThanOrEqual(2);
  });

  it('acknowledges connection_init with a timeout, keeps the link alive, and subscribes only to the updates channel', async () => {
    const token = tokenOf();
    const { socket, received } = await connect(token);

    const ack = await until(() => received.find((m) => m.type === 'connection_ack'));
    subscribe(socket, 'other', '/pinebridge/other', token);
    subscribe(socket, 'mine', LIVE_CHANNEL, token);
    const refused = await until(() => received.find((m) => m.type === 'subscribe_error'));
    const accepted = await until(() => received.find((m) => m.type === 'subscribe_success'));
    await until(() => received.find((m) => m.type === 'ka'));
    socket.send(JSON.stringify({ type: 'publish', id: 'p', channel: LIVE_CHANNEL, events: ['{}'] }));
    const publishRefused = await until(() => received.find((m) => m.type === 'publish_error'));

    expect(ack.connectionTimeoutMs).toBe(5_000);
    expect(refused).toMatchObject({ id: 'other', errors: [{ errorType: 'UnauthorizedException' }] });
    expect(accepted.id).toBe('mine');
    expect(publishRefused.errors?.[0]?.errorType).toBe('UnauthorizedException');
  });

  it('delivers a published hint to every subscriber as a data message holding JSON, and nothing after unsubscribe', async () => {
    const token = tokenOf();
    const first = await connect(token);
    const second = await connect(token);
    for (const [client, id] of [
      [first, 'a'],
      [second, 'b'],
    ] as const) {
      await until(() => client.received.find((m) => m.type === 'connection_ack'));
      subscribe(client.socket, id, LIVE_CHANNEL, token);
      await until(() => client.received.find((m) => m.type === 'subscribe_success'));
    }

    await publisher()(aNotice);
    const [toFirst, toSecond] = [
      await until(() => first.received.find((m) => m.type === 'data')),
      await until(() => second.received.find((m) => m.type === 'data')),
    ];
    second.socket.send(JSON.stringify({ type: 'unsubscribe', id: 'b' }));
    await until(() => second.received.find((m) => m.type === 'unsubscribe_success'));
    await publisher()({ ...aNotice, 'detail-type': 'Trading State Changed', source: 'pinebridge.risk' });
    await until(() => (first.received.filter((m) => m.type === 'data').length === 2 ? true : undefined));

    expect(toFirst.id).toBe('a');
    expect(toSecond.id).toBe('b');
    expect(JSON.parse(toFirst.event ?? '')).toEqual({ kind: 'notice', at: '2026-12-07T15:30:00Z' });
    expect(second.received.filter((m) => m.type === 'data')).toHaveLength(1);
  });
});

describe('the live-update publisher (a function on the bus, publishing with SigV4)', () => {
  it('publishes one hint per event, signed for appsync, carrying the kind and time and nothing of the detail', async () => {
    const before = fake.published.length;

    const result = await publisher()(aNotice);

    expect(result).toEqual({ published: true });
    expect(fake.published.slice(before)).toEqual([
      { channel: LIVE_CHANNEL, events: [{ kind: 'notice', at: '2026-12-07T15:30:00Z' }] },
    ]);
    expect(JSON.stringify(fake.published)).not.toContain('PA1234567890');
    expect(JSON.stringify(fake.published)).not.toContain('AAPL');
  });

  it('fails (so Lambda retries) when AppSync refuses the signature, and publishes nothing for a foreign event', async () => {
    const before = fake.published.length;
    const wrongKey = publisher({
      ...TEST_CREDENTIALS,
      secretAccessKey: 'not-the-right-secret-key-000000000000000',
    });

    await expect(wrongKey(aNotice)).rejects.toThrow(LivePublishError);
    expect(await publisher()({ ...aNotice, source: 'aws.cloudwatch' })).toEqual({ published: false });
    expect(fake.refused.at(-1)).toBe('signature does not match');
    expect(fake.published.length).toBe(before);
  });
});
