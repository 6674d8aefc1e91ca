import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createWebhookHandler } from '../../functions/webhook.js';
import { createLocalServer, TokenBucket } from '../../infra/local/server.js';
import { createCoreDependencies } from '../../shared/adapters/dependencies.js';
import { dynamoStorage } from '../../shared/adapters/dynamodb/storage.js';
import { EnvWebhookSecrets } from '../../shared/adapters/secrets.js';
import { parseConfig } from '../../shared/config/load.js';
import type { SignalReceived } from '../../shared/ports/index.js';
import { freshTables } from '../support/dynamo.js';

/**
 * The front door under hostile input (issue 9, fuzzing): generated bodies, encodings and secret
 * placements through the real HTTP server, the real webhook handler and the real signal store on
 * DynamoDB Local. The workflow is not the target here: published signals are collected, and every
 * accepted one must have been recorded.
 */
const SECRET = 'fuzz-webhook-secret-0123456789';
const ADMIN = 'fuzz-admin-token-0123456789';
const RUNS = 10_000;

let server: Server;
let url: string;
let published: SignalReceived[];
let deps: ReturnType<typeof createCoreDependencies>;
const maxBodyBytes = parseConfig({}).webhook.maxBodyBytes;

beforeAll(async () => {
  const { endpoint, tables } = await freshTables();
  published = [];
  deps = createCoreDependencies(
    parseConfig({ risk: { duplicateWindowSeconds: 0, pyramiding: true } }),
    dynamoStorage(tables, { endpoint }),
    {
      publisher: { publish: async (event) => void published.push(event) },
    },
  );
  const webhook = createWebhookHandler({
    ...deps,
    secrets: new EnvWebhookSecrets({ PINEBRIDGE_WEBHOOK_SECRET: SECRET }),
  });
  server = createLocalServer({
    webhook,
    adminToken: ADMIN,
    maxBodyBytes,
    throttles: {
      public: new TokenBucket(1e9, 1e9),
      admin: new TokenBucket(1e9, 1e9),
      dashboard: new TokenBucket(1e9, 1e9),
    },
    operate: async () => ({}),
    health: async () => ({ ok: true, components: {} }),
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  server?.closeAllConnections();
  await new Promise<void>((resolve) => server?.close(() => resolve()));
});

// ── Generators ───────────────────────────────────────────────────────────────────────────────────

const oddString = fc.oneof(
  fc.string(),
  fc.string({ unit: 'grapheme', maxLength: 40 }),
  fc.string({ unit: 'binary', maxLength: 40 }),
  fc.constantFrom(
    '',
    ' ',
    '{{close}}',
    '{{ticker}',
    'NaN',
    'Infinity',
    '-0',
    '1e309',
    '0x10',
    '٣',
    '\u0000',
    '\uFEFF',
  ),
  fc.string({ minLength: 1000, maxLength: 20_000 }),
);
const oddNumber = fc.oneof(
  fc.double(),
  fc.integer(),
  fc.constantFrom(0, -1, 1e-12, 1e21, Number.MAX_SAFE_INTEGER + 2, 1.0000000001),
  fc.constantFrom('10', '10.5', ' 10', '1e3', '-5', '0.000000001', '99999999999999999999999'),
);
const anyValue = fc.oneof(
  oddString,
  oddNumber,
  fc.boolean(),
  fc.constant(null),
  fc.jsonValue({ maxDepth: 3 }),
);

/** A valid alert, then (most of the time) one field replaced by something odd or removed. */
const ALERT_KEYS = [
  'ticker',
  'action',
  'quantity',
  'price',
  'orderType',
  'limitPrice',
  'timeInForce',
  'id',
  'time',
  'secret',
  'comment',
  'strategy',
];
const nearValidAlert = fc
  .record({
    base: fc.record({
      ticker: fc.constantFrom('AAPL', 'MSFT', 'SPY', 'DOGE'),
      action: fc.constantFrom('buy', 'sell', 'exit'),
      quantity: fc.integer({ min: 1, max: 5 }),
      price: fc.double({ min: 50, max: 500, noNaN: true }).map((p) => Math.round(p * 100) / 100),
      id: fc.uuid(),
    }),
    mutation: fc.option(
      fc.record({ key: fc.constantFrom(...ALERT_KEYS), value: fc.option(anyValue, { freq: 5 }) }),
      {
        freq: 3,
      },
    ),
  })
  .map(({ base, mutation }) => {
    const alert: Record<string, unknown> = { ...base };
    if (mutation === null) return alert;
    if (mutation.value === null) delete alert[mutation.key];
    else alert[mutation.key] = mutation.value;
    return alert;
  });

type Encoding = 'utf8' | 'bom' | 'utf16le' | 'latin1' | 'crlf';
interface Request {
  body: Uint8Array;
  path: string;
  contentType: string;
}
const encode = (text: string, encoding: Encoding): Buffer => {
  switch (encoding) {
    case 'bom':
      return Buffer.from(`\uFEFF${text}`, 'utf8');
    case 'crlf':
      return Buffer.from(`${text}\r\n`, 'utf8');
    case 'utf16le':
      return Buffer.from(text, 'utf16le');
    case 'latin1':
      return Buffer.from(text, 'latin1');
    default:
      return Buffer.from(text, 'utf8');
  }
};

const bodyText = fc.oneof(
  { weight: 4, arbitrary: nearValidAlert.map((alert) => JSON.stringify(alert)) },
  { weight: 2, arbitrary: fc.jsonValue().map((v) => JSON.stringify(v)) },
  { weight: 1, arbitrary: fc.string() },
  { weight: 1, arbitrary: nearValidAlert.map((alert) => JSON.stringify(alert).slice(0, -1)) },
  { weight: 1, arbitrary: fc.integer({ min: 1, max: 2000 }).map((n) => `${'['.repeat(n)}${']'.repeat(n)}`) },
  {
    weight: 1,
    arbitrary: fc.constant(`{"ticker":"AAPL","action":"buy","pad":"${'x'.repeat(maxBodyBytes)}"}`),
  },
);
const request: fc.Arbitrary<Request> = fc
  .record({
    text: bodyText,
    raw: fc.option(fc.uint8Array({ maxLength: 2048 }), { freq: 8 }),
    encoding: fc.constantFrom<Encoding>('utf8', 'utf8', 'utf8', 'bom', 'crlf', 'utf16le', 'latin1'),
    path: fc.oneof(
      { weight: 6, arbitrary: fc.constant(`/webhook/${SECRET}`) },
      { weight: 1, arbitrary: fc.constant('/webhook') },
      { weight: 1, arbitrary: fc.constant('/webhook/not-the-secret-at-all') },
      { weight: 1, arbitrary: oddString.map((s) => `/webhook/${encodeURIComponent(s.slice(0, 200))}`) },
    ),
    contentType: fc.constantFrom(
      'text/plain',
      'application/json',
      'application/x-www-form-urlencoded',
      '',
      'text/plain; charset=utf-16',
    ),
  })
  .map(({ text, raw, encoding, path, contentType }) => ({
    body: raw ?? encode(text, encoding),
    path,
    contentType,
  }));

// ── Properties ───────────────────────────────────────────────────────────────────────────────────

const ALLOWED = new Set([200, 202, 400, 401, 409, 413]);

describe(`webhook fuzzing (${RUNS} generated requests through the HTTP server, handler and DynamoDB Local)`, () => {
  it('never answers 5xx, never crashes, and every refusal is a 4xx with a clear JSON error; every 2xx is recorded', async () => {
    const accepted: string[] = [];
    const seen = new Map<number, number>();

    await fc.assert(
      fc.asyncProperty(request, async ({ body, path, contentType }) => {
        const response = await fetch(`${url}${path}`, {
          method: 'POST',
          headers: contentType ? { 'content-type': contentType } : {},
          body,
        });
        const text = await response.text();
        seen.set(response.status, (seen.get(response.status) ?? 0) + 1);
        expect(ALLOWED.has(response.status), `status ${response.status}: ${text.slice(0, 300)}`).toBe(true);
        const answer = JSON.parse(text) as { error?: unknown; signalId?: unknown };
        if (response.status >= 400) {
          expect(typeof answer.error).toBe('string');
          expect((answer.error as string).length).toBeGreaterThan(5);
          // A refusal never echoes the secret or the body back.
          expect(text).not.toContain(SECRET);
        } else {
          expect(typeof answer.signalId).toBe('string');
          if (response.status === 202) accepted.push(answer.signalId as string);
        }
      }),
      { numRuns: RUNS },
    );

    // Every kind of answer was exercised, not just one.
    for (const status of [202, 400, 401, 413])
      expect(seen.get(status) ?? 0, `answers seen: ${JSON.stringify([...seen])}`).toBeGreaterThan(0);
    // Every 202 is durably recorded and was put on the bus, once.
    expect(new Set(published.map((p) => p.signalId))).toEqual(new Set(accepted));
    for (const signalId of accepted.slice(0, 200))
      expect((await deps.signals.get(signalId))?.status).toBe('received');
    console.info(`fuzz answers by status: ${JSON.stringify(Object.fromEntries(seen))}`);
    // And the server still answers.
    expect((await fetch(`${url}/health`)).status).toBe(200);
  });
});
