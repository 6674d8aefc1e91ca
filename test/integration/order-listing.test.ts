import { randomUUID } from 'node:crypto';
import { CreateTableCommand, DescribeTableCommand } from '@aws-sdk/client-dynamodb';
import { GetCommand, PutCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { describe, expect, it, onTestFinished } from 'vitest';
import { ensureTables, localDynamoClient, startDynamoDbLocal } from '../../infra/local/dynamodb-local.js';
import { DynamoBookStore } from '../../shared/adapters/dynamodb/book-store.js';
import { DynamoSignalStore } from '../../shared/adapters/dynamodb/signal-store.js';
import { tableNamesFor } from '../../shared/adapters/dynamodb/tables.js';
import type { BrokerOrder, OrderIntent } from '../../shared/domain/trading.js';
import type { SignalStore, TradingStore } from '../../shared/ports/index.js';
import { Book } from '../../shared/usecases/book.js';
import { COMPLETE_PASS_INTERVAL_MS, completePassDue, reconcile } from '../../shared/usecases/reconcile.js';
import { riskCheck } from '../../shared/usecases/trade-flow.js';
import { anIntent, aSignal } from '../fixtures/builders.js';
import { documentClient, freshTables } from '../support/dynamo.js';
import { flowHarness } from '../support/flow.js';

/** Buy one AAPL at market for this signal (the orders these tests list). */
const oneShare = (signalId: string): OrderIntent =>
  anIntent({ clientOrderId: `pb-${signalId}`, signalId, quantity: '1', reservedCash: '100' });

interface Books {
  store: TradingStore;
  signals: SignalStore;
}

/** The n-th order's time: one second apart, so "newest" has one answer. */
const timeOf = (n: number) => new Date(Date.UTC(2025, 0, 2, 15, 0, 0) + n * 1000).toISOString();

/** Records a signal and approves its order (buy 1 AAPL), created at timeOf(n); its client order id. */
async function approveOrder({ store, signals }: Books, n: number): Promise<string> {
  const signalId = `s${n}-${randomUUID().slice(0, 8)}`;
  const at = timeOf(n);
  const recorded = await signals.recordNew({
    signalId,
    signal: aSignal({ quantity: '1' }),
    receivedAt: at,
    dedupKey: signalId,
    payloadHash: signalId,
    dedupExpiresAt: new Date(Date.parse(at) + 60_000),
  });
  expect(recorded.kind).toBe('recorded');
  const intent = oneShare(signalId);
  const approved = await store.approve(intent, await store.snapshot(), at, {
    recentOrders: [],
    dayTrades: [],
    openedInSession: undefined,
  });
  expect(approved).toBe('approved');
  return intent.clientOrderId;
}

const report = (
  clientOrderId: string,
  status: BrokerOrder['status'],
  filledQuantity: string,
): BrokerOrder => ({
  clientOrderId,
  brokerOrderId: `b-${clientOrderId}`,
  status,
  filledQuantity,
  averageFillPrice: '100',
  commission: '0',
});

/**
 * DynamoDB Local tables and the store, with the name of every command the store sends. DynamoDB
 * Local keeps its indexes in step with the table; `lagIndex()` makes it lag as DynamoDB's may: the
 * next index query is answered, and every later one is answered as it was.
 */
async function dynamoBooks() {
  const { tables } = await freshTables();
  const db = documentClient();
  const sent: string[] = [];
  let lag: 'none' | 'next' | { answer: unknown } = 'none';
  db.middlewareStack.add(
    (next, context) => async (args) => {
      sent.push(String(context.commandName));
      const indexQuery = context.commandName === 'QueryCommand' && 'IndexName' in (args.input as object);
      if (!indexQuery || lag === 'none') return next(args);
      if (lag === 'next') {
        const answer = await next(args);
        lag = { answer };
        return answer;
      }
      return lag.answer as Awaited<ReturnType<typeof next>>;
    },
    { step: 'initialize', name: 'recordCommandsAndLagIndex' },
  );
  return {
    store: new Book(new DynamoBookStore(db, tables), { startingCash: '100000', tradableSymbols: ['AAPL'] }),
    signals: new DynamoSignalStore(db, tables.signals),
    tables,
    sent,
    lagIndex: () => {
      lag = 'next';
    },
  };
}

// What every store lists (newest first, open orders as they are now) is in the store contract
// (test/contract/store-contract.ts); here, what DynamoDB's eventually consistent index adds to it.
describe('order listings in DynamoDB: the byLifecycle index', () => {
  it('listOrders and listOpenOrders query the index and never scan the orders table', async () => {
    const books = await dynamoBooks();
    const ids: string[] = [];
    for (let n = 0; n < 8; n++) ids.push(await approveOrder(books, n));
    for (const id of ids.slice(0, 6))
      await books.store.applyBrokerOrder(report(id, 'filled', '1'), timeOf(30));
    books.sent.length = 0;

    const latest = await books.store.listOrders(3);
    const open = await books.store.listOpenOrders();

    expect(latest.map((o) => o.clientOrderId)).toEqual([ids[7], ids[6], ids[5]]);
    expect(open.map((o) => o.clientOrderId).sort()).toEqual([ids[6], ids[7]].sort());
    expect(books.sent).not.toContain('ScanCommand');
    expect(books.sent.filter((name) => name === 'QueryCommand')).toHaveLength(3);
  });

  it('listOrders follows the index across pages (1 MB each) until it has `limit` orders', async () => {
    const books = await dynamoBooks();
    const db = documentClient();
    // 15 final orders of ~100 KB each: about 10 fit in one page of a query.
    const padding = 'x'.repeat(100_000);
    for (let n = 0; n < 15; n++) {
      const signalId = `s${n}`;
      await db.send(
        new PutCommand({
          TableName: books.tables.orders,
          Item: {
            clientOrderId: `pb-${signalId}`,
            signalId,
            intent: oneShare(signalId),
            status: 'filled',
            filledQuantity: '1',
            bookedQuantity: '1',
            bookedCommission: '0',
            reservedCashRemaining: '0',
            final: true,
            lifecycle: 'final',
            createdAt: timeOf(n),
            updatedAt: timeOf(n),
            padding,
          },
        }),
      );
    }
    books.sent.length = 0;

    const latest = await books.store.listOrders(14);

    expect(latest.map((o) => o.signalId)).toEqual(Array.from({ length: 14 }, (_, i) => `s${14 - i}`));
    // One query of the (empty) open partition, and more than one page of the final one.
    expect(books.sent.filter((name) => name === 'QueryCommand').length).toBeGreaterThanOrEqual(3);
  });

  it('every write to an order sets `lifecycle` with `final`, also on an order an older version wrote', async () => {
    const books = await dynamoBooks();
    const db = documentClient();
    const lifecycleOf = async (id: string) =>
      (await db.send(new GetCommand({ TableName: books.tables.orders, Key: { clientOrderId: id } }))).Item
        ?.lifecycle;
    const forget = (id: string) =>
      db.send(
        new UpdateCommand({
          TableName: books.tables.orders,
          Key: { clientOrderId: id },
          UpdateExpression: 'REMOVE lifecycle',
        }),
      );
    const filled = await approveOrder(books, 1);
    const unknown = await approveOrder(books, 2);
    const cancelled = await approveOrder(books, 3);
    expect(await lifecycleOf(filled)).toBe('open');

    await forget(filled);
    await books.store.claimSubmission(filled, timeOf(10));
    expect(await lifecycleOf(filled)).toBe('open');
    await forget(filled);
    await books.store.markSubmitted(report(filled, 'new', '0'), timeOf(11));
    expect(await lifecycleOf(filled)).toBe('open');
    await forget(filled);
    await books.store.applyBrokerOrder(report(filled, 'partially_filled', '0.5'), timeOf(12));
    expect(await lifecycleOf(filled)).toBe('open');
    await forget(filled);
    await books.store.applyBrokerOrder(report(filled, 'filled', '1'), timeOf(13));
    expect(await lifecycleOf(filled)).toBe('final');

    await forget(unknown);
    await books.store.markFailed(
      (await books.store.getOrder(unknown))?.signalId ?? '',
      'FAILED: test',
      timeOf(14),
    );
    expect(await books.store.getOrder(unknown)).toMatchObject({ status: 'unknown', final: false });
    expect(await lifecycleOf(unknown)).toBe('open');

    await books.store.applyBrokerOrder(report(cancelled, 'cancelled', '0'), timeOf(15));
    expect(await lifecycleOf(cancelled)).toBe('final');
  });

  it('an order a lagging index still lists as open, but final by now, is not returned as open', async () => {
    const books = await dynamoBooks();
    const id = await approveOrder(books, 1);
    books.lagIndex();
    expect((await books.store.listOpenOrders()).map((o) => o.clientOrderId)).toEqual([id]);

    await books.store.applyBrokerOrder(report(id, 'filled', '1'), timeOf(2));

    expect(await books.store.listOpenOrders()).toEqual([]);
  });

  it('an order approved after the index last caught up is missing from it, but not from the complete listing', async () => {
    const books = await dynamoBooks();
    const earlier = await approveOrder(books, 1);
    books.lagIndex();
    await books.store.listOpenOrders();

    const latest = await approveOrder(books, 2);

    expect((await books.store.listOpenOrders()).map((o) => o.clientOrderId)).toEqual([earlier]);
    expect((await books.store.listOpenOrders({ complete: true })).map((o) => o.clientOrderId).sort()).toEqual(
      [earlier, latest].sort(),
    );
  });

  it('orders an older version wrote (no lifecycle) are found by the complete listing, which indexes them', async () => {
    const books = await dynamoBooks();
    const open = await approveOrder(books, 1);
    const filled = await approveOrder(books, 2);
    await books.store.applyBrokerOrder(report(filled, 'filled', '1'), timeOf(3));
    const db = documentClient();
    for (const id of [open, filled])
      await db.send(
        new UpdateCommand({
          TableName: books.tables.orders,
          Key: { clientOrderId: id },
          UpdateExpression: 'REMOVE lifecycle',
        }),
      );
    expect(await books.store.listOrders(10)).toEqual([]);
    expect(await books.store.listOpenOrders()).toEqual([]);

    const complete = await books.store.listOpenOrders({ complete: true });

    expect(complete.map((o) => o.clientOrderId)).toEqual([open]);
    expect((await books.store.listOpenOrders()).map((o) => o.clientOrderId)).toEqual([open]);
    expect((await books.store.listOrders(10)).map((o) => o.clientOrderId)).toEqual([filled, open]);
    const stamped = await db.send(
      new GetCommand({ TableName: books.tables.orders, Key: { clientOrderId: filled } }),
    );
    expect(stamped.Item?.lifecycle).toBe('final');
  });
});

describe('local tables made by an older version', () => {
  it('ensureTables adds the index an existing orders table lacks (a persisted local data directory)', async () => {
    // A DynamoDB Local of its own, as the bot has at start: under the other files' load, the shared
    // one was seen to leave an index added by UpdateTable CREATING for over a minute.
    const db = await startDynamoDbLocal(undefined);
    onTestFinished(() => db.stop());
    const { endpoint } = db;
    const tables = tableNamesFor(`old-${randomUUID().slice(0, 8)}`);
    const client = localDynamoClient(endpoint);
    await client.send(
      new CreateTableCommand({
        TableName: tables.orders,
        BillingMode: 'PAY_PER_REQUEST',
        AttributeDefinitions: [{ AttributeName: 'clientOrderId', AttributeType: 'S' }],
        KeySchema: [{ AttributeName: 'clientOrderId', KeyType: 'HASH' }],
      }),
    );

    await ensureTables(endpoint, tables);

    const described = await client.send(new DescribeTableCommand({ TableName: tables.orders }));
    client.destroy();
    expect(described.Table?.GlobalSecondaryIndexes?.map((i) => [i.IndexName, i.IndexStatus])).toEqual([
      ['byLifecycle', 'ACTIVE'],
    ]);
  });
});

describe('the reconciler and the orders index', () => {
  it('a regular pass settles what the index lists; a complete pass also what it lacks (an older version wrote it)', async () => {
    const flow = await flowHarness({ risk: { duplicateWindowSeconds: 0, pyramiding: true } });
    const signalId = await flow.record({ ticker: 'AAPL', action: 'buy', quantity: 1, price: 100 });
    // Approved, then the process died before submitting; written by a version without the index.
    const approved = await riskCheck({ signalId, symbol: 'AAPL', receivedAt: '' }, flow.deps);
    if (approved.decision !== 'approved') throw new Error('fixture must be approved');
    await documentClient().send(
      new UpdateCommand({
        TableName: flow.tables.orders,
        Key: { clientOrderId: approved.clientOrderId },
        UpdateExpression: 'REMOVE lifecycle',
      }),
    );

    const regular = await reconcile(flow.deps, { settleAfterMs: 0 });
    const complete = await reconcile(flow.deps, { settleAfterMs: 0, complete: true });

    expect(regular.settled).toEqual({});
    expect(complete.settled).toEqual({ [signalId]: 'failed' });
    expect(await flow.deps.store.getOrder(approved.clientOrderId)).toMatchObject({ final: true });
    expect((await flow.deps.store.snapshot()).account.reservedCash).toBe('0');
  });

  it('a complete pass is due at a container’s first run, then once an hour', () => {
    const first = new Date('2025-01-02T15:00:00Z');

    expect(completePassDue(undefined, first)).toBe(true);
    expect(completePassDue(first, new Date(first.getTime() + COMPLETE_PASS_INTERVAL_MS - 1))).toBe(false);
    expect(completePassDue(first, new Date(first.getTime() + COMPLETE_PASS_INTERVAL_MS))).toBe(true);
  });
});
