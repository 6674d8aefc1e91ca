import { randomUUID } from 'node:crypto';
import { PutCommand, ScanCommand } from '@aws-sdk/lib-dynamodb';
import { describe, expect, it } from 'vitest';
import { LocalEventBus, localPublisher } from '../../infra/local/event-bus.js';
import { DynamoSignalStore } from '../../shared/adapters/dynamodb/signal-store.js';
import { parseConfig } from '../../shared/config/load.js';
import { validateAlert } from '../../shared/domain/alert.js';
import { canonicalJson, dedupKeyOf, signalIdOf } from '../../shared/domain/ids.js';
import { type AcceptSignalDeps, acceptSignal } from '../../shared/usecases/accept-signal.js';
import { documentClient, freshTables } from '../support/dynamo.js';
import { silentLog } from '../support/flow.js';

const SECRET = 'a-webhook-secret-of-some-length';
const NOW = new Date('2026-11-25T15:00:00.000Z');

async function webhookOn(
  tableName: string,
  options: { publishFailures?: number; config?: Parameters<typeof parseConfig>[0] } = {},
) {
  const published: Record<string, unknown>[] = [];
  const bus = new LocalEventBus({ source: ['pinebridge.webhook'] }, (detail) => published.push(detail));
  const busPublisher = localPublisher(bus);
  let failuresLeft = options.publishFailures ?? 0;
  const clock = { at: NOW };
  const deps: AcceptSignalDeps = {
    config: parseConfig(options.config ?? {}),
    signals: new DynamoSignalStore(documentClient(), tableName),
    // Fault injection at the bus boundary: the first publishes fail as EventBridge can.
    publisher: {
      publish: async (event) => {
        if (failuresLeft-- > 0) throw new Error('PutEvents failed');
        await busPublisher.publish(event);
      },
    },
    secrets: { get: async () => ({ current: SECRET }) },
    clock: { now: () => clock.at },
    log: silentLog,
  };
  const send = (body: string) => acceptSignal({ body, isBase64Encoded: false, pathSecret: SECRET }, deps);
  return { send, published, clock };
}

const scan = async (tableName: string) =>
  (await documentClient().send(new ScanCommand({ TableName: tableName, ConsistentRead: true }))).Items ?? [];

const flush = () => new Promise((r) => setImmediate(r));

describe('webhook on DynamoDB Local', () => {
  it('records the signal and its dedup marker together and publishes only the id', async () => {
    const { tables } = await freshTables();
    const webhook = await webhookOn(tables.signals);

    const response = await webhook.send(
      JSON.stringify({ ticker: 'AAPL', action: 'buy', quantity: 1, price: 10, secret: SECRET }),
    );
    await flush();

    expect(response.statusCode).toBe(202);
    const items = await scan(tables.signals);
    expect(items).toHaveLength(2);
    expect(items.filter((i) => String(i.pk).startsWith('dedup#'))).toHaveLength(1);
    expect(JSON.stringify(items)).not.toContain(SECRET);
    expect(webhook.published).toEqual([
      {
        signalId: response.body.signalId,
        symbol: 'AAPL',
        receivedAt: NOW.toISOString(),
        // Always present (the rule's input transformer maps it): the receipt, unless delayed.
        notBefore: NOW.toISOString(),
      },
    ]);
  });

  it('publishes a delayed signal with when it falls due, and a re-delivery as the same signal', async () => {
    const { tables } = await freshTables();
    const webhook = await webhookOn(tables.signals);
    const body = JSON.stringify({
      ticker: 'AAPL',
      action: 'buy',
      quantity: 1,
      price: 10,
      delay: '+5 minutes',
    });

    const first = await webhook.send(body);
    webhook.clock.at = new Date(NOW.getTime() + 1000);
    const again = await webhook.send(body);
    await flush();

    expect(first.statusCode).toBe(202);
    expect(again).toMatchObject({
      statusCode: 200,
      body: { signalId: first.body.signalId, duplicate: true },
    });
    expect(webhook.published).toEqual([
      {
        signalId: first.body.signalId,
        symbol: 'AAPL',
        receivedAt: NOW.toISOString(),
        notBefore: '2026-11-25T15:05:00.000Z',
      },
    ]);
  });

  it('refuses a delay longer than the workflow can wait (Express), recording nothing', async () => {
    const { tables } = await freshTables();
    const webhook = await webhookOn(tables.signals, {
      config: { workflow: { type: 'EXPRESS', orderTimeoutSeconds: 240 } },
    });

    const tooLong = await webhook.send(
      JSON.stringify({ ticker: 'AAPL', action: 'buy', quantity: 1, price: 10, delay: 60 }),
    );
    const fits = await webhook.send(
      JSON.stringify({ ticker: 'AAPL', action: 'buy', quantity: 1, price: 10, delay: 30 }),
    );
    await flush();

    expect(tooLong.statusCode).toBe(400);
    expect(tooLong.body).toMatchObject({ fields: ['delay'], messageCode: 'invalid-delay' });
    expect(String(tooLong.body.error)).toMatch(/Express .* can wait 30s at most/);
    expect(fits.statusCode).toBe(202);
    expect((await scan(tables.signals)).filter((i) => !String(i.pk).startsWith('dedup#'))).toHaveLength(1);
    expect(webhook.published).toEqual([expect.objectContaining({ notBefore: '2026-11-25T15:00:30.000Z' })]);
  });

  it('refuses an absolute delay more than 24 hours ahead', async () => {
    const { tables } = await freshTables();
    const webhook = await webhookOn(tables.signals);

    const response = await webhook.send(
      JSON.stringify({
        ticker: 'AAPL',
        action: 'buy',
        quantity: 1,
        price: 10,
        delay: '2026-11-26T15:00:01Z',
      }),
    );

    expect(response.statusCode).toBe(400);
    expect(response.body).toMatchObject({ fields: ['delay'], messageCode: 'invalid-delay' });
    expect(webhook.published).toEqual([]);
  });

  it('turns ten identical deliveries at once into exactly one record and one event', async () => {
    const { tables } = await freshTables();
    const webhook = await webhookOn(tables.signals);
    const body = JSON.stringify({ ticker: 'AAPL', action: 'buy', quantity: 3, price: 10 });

    const responses = await Promise.all(Array.from({ length: 10 }, () => webhook.send(body)));
    await flush();

    expect(responses.filter((r) => r.statusCode === 202)).toHaveLength(1);
    expect(responses.filter((r) => r.statusCode === 200 && r.body.duplicate === true)).toHaveLength(9);
    expect((await scan(tables.signals)).filter((i) => !String(i.pk).startsWith('dedup#'))).toHaveLength(1);
    expect(webhook.published).toHaveLength(1);
  });

  it('answers 503 when the durable write fails, and publishes nothing', async () => {
    const webhook = await webhookOn(`missing-${randomUUID()}`);

    const response = await webhook.send(
      JSON.stringify({ ticker: 'AAPL', action: 'buy', quantity: 1, price: 10 }),
    );
    await flush();

    expect(response.statusCode).toBe(503);
    expect(webhook.published).toHaveLength(0);
  });

  it('answers 503 when the signal is recorded but not queued, and the re-delivery queues it', async () => {
    const { tables } = await freshTables();
    const webhook = await webhookOn(tables.signals, { publishFailures: 1 });
    const body = JSON.stringify({ ticker: 'AAPL', action: 'buy', quantity: 1, price: 10 });

    const first = await webhook.send(body);
    await flush();
    expect(first.statusCode).toBe(503);
    expect(webhook.published).toHaveLength(0);

    webhook.clock.at = new Date(NOW.getTime() + 5000); // TradingView re-sends 5 s later
    const redelivery = await webhook.send(body);
    await flush();
    expect(redelivery.statusCode).toBe(200);
    expect(redelivery.body.duplicate).toBe(true);
    expect(webhook.published).toEqual([expect.objectContaining({ signalId: redelivery.body.signalId })]);
  });

  it('writes nothing at all when half of the record cannot be written', async () => {
    // Arrange a signal item that already exists under the id this delivery will get, so the
    // signal put fails while the dedup marker put alone would succeed.
    const { tables } = await freshTables();
    const webhook = await webhookOn(tables.signals);
    const alert = { ticker: 'AAPL', action: 'buy', quantity: 1, price: 10 };
    const validated = validateAlert(alert);
    if (!validated.ok) throw new Error('fixture alert must be valid');
    const signalId = signalIdOf(dedupKeyOf(undefined, canonicalJson(validated.signal)), NOW.toISOString());
    await documentClient().send(
      new PutCommand({ TableName: tables.signals, Item: { pk: signalId, squatter: true } }),
    );

    const response = await webhook.send(JSON.stringify(alert));
    await flush();

    expect(response.statusCode).toBe(503);
    const items = await scan(tables.signals);
    expect(items).toEqual([{ pk: signalId, squatter: true }]);
    expect(webhook.published).toHaveLength(0);
  });

  it('refuses an alert carrying the secret outside secret/passphrase, records nothing and never echoes it', async () => {
    const { tables } = await freshTables();
    const webhook = await webhookOn(tables.signals);

    const answers = await Promise.all(
      [{ comment: `key ${SECRET}` }, { extras: { note: SECRET } }, { [SECRET]: true }].map((extra) =>
        webhook.send(JSON.stringify({ ticker: 'AAPL', action: 'buy', quantity: 1, ...extra })),
      ),
    );
    await flush();

    expect(answers.map((a) => a.statusCode)).toEqual([400, 400, 400]);
    expect(JSON.stringify(answers)).not.toContain(SECRET);
    expect(await scan(tables.signals)).toEqual([]);
    expect(webhook.published).toEqual([]);
  });

  it('accepts fields it does not know, names them in the 202 and keeps the names, never the values', async () => {
    const { tables } = await freshTables();
    const webhook = await webhookOn(tables.signals);

    const response = await webhook.send(
      JSON.stringify({
        ticker: 'AAPL',
        action: 'buy',
        quantity: 1,
        price: 10,
        leverage: 'x-value-kept-nowhere',
      }),
    );

    expect(response).toMatchObject({ statusCode: 202, body: { ignored: ['leverage'] } });
    const items = JSON.stringify(await scan(tables.signals));
    expect(items).toContain('"ignored":["leverage"]');
    expect(items).not.toContain('x-value-kept-nowhere');
  });

  it('changes nothing for a bad secret or a bad alert', async () => {
    const { tables } = await freshTables();
    const webhook = await webhookOn(tables.signals);

    const unauthorized = await acceptSignal(
      {
        body: JSON.stringify({ ticker: 'AAPL', action: 'buy', quantity: 1 }),
        isBase64Encoded: false,
        pathSecret: 'wrong',
      },
      {
        config: parseConfig({}),
        signals: new DynamoSignalStore(documentClient(), tables.signals),
        publisher: { publish: async () => {} },
        secrets: { get: async () => ({ current: SECRET }) },
        clock: { now: () => NOW },
        log: silentLog,
      },
    );
    const invalid = await webhook.send(JSON.stringify({ ticker: 'AAPL', action: 'buy', quantity: 0 }));

    expect(unauthorized.statusCode).toBe(401);
    expect(invalid.statusCode).toBe(400);
    expect(await scan(tables.signals)).toHaveLength(0);
    expect(webhook.published).toHaveLength(0);
  });
});
