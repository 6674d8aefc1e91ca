import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { describe, expect, it } from 'vitest';
import { DynamoBookStore } from '../../shared/adapters/dynamodb/book-store.js';
import { DynamoPaperOrderBook } from '../../shared/adapters/dynamodb/paper-orders.js';
import { DynamoSignalStore } from '../../shared/adapters/dynamodb/signal-store.js';
import { MemoryBookStore } from '../../shared/adapters/memory/book-store.js';
import { MemoryPaperOrderBook } from '../../shared/adapters/memory/paper-orders.js';
import { MemorySignalStore } from '../../shared/adapters/memory/signal-store.js';
import { MemoryTradingStore } from '../../shared/adapters/memory/trading-store.js';
import { SqliteBookStore } from '../../shared/adapters/sqlite/book-store.js';
import { SqliteDatabase } from '../../shared/adapters/sqlite/database.js';
import { SqlitePaperOrderBook } from '../../shared/adapters/sqlite/paper-orders.js';
import { sqliteStorage } from '../../shared/adapters/sqlite/storage.js';
import { Book } from '../../shared/usecases/book.js';
import { anIntent, aSignal } from '../fixtures/builders.js';
import { documentClient, freshTables } from '../support/dynamo.js';
import { describeBookStoreContract } from './book-store-contract.js';
import { describePaperOrderBookContract } from './paper-order-book-contract.js';
import { CONTRACT_STARTING_CASH, describeStoreContract } from './store-contract.js';

describeStoreContract('in memory', async () => {
  const signals = new MemorySignalStore();
  return { signals, store: new MemoryTradingStore(signals, CONTRACT_STARTING_CASH) };
});

let db: DynamoDBDocumentClient | undefined;

describeStoreContract('DynamoDB Local', async () => {
  // Fresh tables per test; one client for them all.
  const { tables } = await freshTables();
  db ??= documentClient();
  return {
    signals: new DynamoSignalStore(db, tables.signals),
    store: new Book(new DynamoBookStore(db, tables), {
      startingCash: CONTRACT_STARTING_CASH,
      tradableSymbols: ['AAPL', 'MSFT'],
    }),
  };
});

describeBookStoreContract('in memory', async () => new MemoryBookStore(new MemorySignalStore()));

describeBookStoreContract('DynamoDB Local', async () => {
  const { tables } = await freshTables();
  db ??= documentClient();
  return new DynamoBookStore(db, tables);
});

/** A fresh database file per test (WAL mode, as the local bot runs it). */
let files = 0;
const folder = mkdtempSync(join(tmpdir(), 'pinebridge-contract-'));
const freshSqlite = () => new SqliteDatabase(join(folder, `contract-${++files}.db`));

describeStoreContract('SQLite', async () => {
  const storage = sqliteStorage(freshSqlite());
  return {
    signals: storage.signals,
    store: new Book(storage.book, {
      startingCash: CONTRACT_STARTING_CASH,
      tradableSymbols: ['AAPL', 'MSFT'],
    }),
  };
});

describeBookStoreContract('SQLite', async () => new SqliteBookStore(freshSqlite()));

describePaperOrderBookContract('in memory', async () => new MemoryPaperOrderBook());
describePaperOrderBookContract('SQLite', async () => new SqlitePaperOrderBook(freshSqlite()));
describePaperOrderBookContract('DynamoDB Local', async () => {
  const { tables } = await freshTables();
  db ??= documentClient();
  return new DynamoPaperOrderBook(db, tables.paperOrders);
});

describe('SQLite: the cost of a signal does not grow with history', () => {
  it('every statement a signal’s life runs reads through a key or an index: no full scan', async () => {
    const database = freshSqlite();
    const storage = sqliteStorage(database);
    const book = new Book(storage.book, { startingCash: CONTRACT_STARTING_CASH, tradableSymbols: ['AAPL'] });
    const at = '2025-01-02T15:00:00.000Z';
    // A signal's whole life, as the webhook, the workflow, the reconciler and the status read run it.
    await storage.signals.recordNew({
      signalId: 's1',
      signal: aSignal(),
      receivedAt: at,
      dedupKey: 'k1',
      payloadHash: 'h1',
      dedupExpiresAt: new Date('2025-01-02T15:05:00.000Z'),
    });
    const intent = anIntent({ clientOrderId: 'pb-s1', signalId: 's1' });
    const bookkeeping = { recentOrders: [], dayTrades: [], openedInSession: undefined };
    expect(await book.approve(intent, await book.snapshot(), at, bookkeeping)).toBe('approved');
    expect(await book.claimSubmission('pb-s1', at)).toBe('send');
    const venue = storage.paperOrders;
    const placed = {
      clientOrderId: 'pb-s1',
      brokerOrderId: 'paper-pb-s1',
      status: 'new' as const,
      filledQuantity: '0',
      commission: '0',
      intent,
    };
    await venue.insert(placed);
    await venue.get('pb-s1');
    const filled = await venue.settle({
      ...placed,
      status: 'filled',
      filledQuantity: intent.quantity,
      averageFillPrice: '100',
    });
    await book.markSubmitted(placed, at);
    await book.bookBrokerOrder(filled, at);
    await book.listOrders(50);
    await book.listOpenOrders({ complete: true });
    await book.tradingStateHistory(10);
    await book.tradingState();
    await storage.signals.get('s1');
    await storage.signals.recent(50, new Date(at));
    await storage.signals.undecided(at);
    await storage.signals.receivedOn('2025-01-02');
    const statements = database.preparedSql;
    expect(statements.length).toBeGreaterThan(10);

    const scans = statements.flatMap((sql) => {
      if (/^\s*(PRAGMA|BEGIN|COMMIT|ROLLBACK|SELECT 1$)/.test(sql)) return [];
      const plan = database.db.prepare(`EXPLAIN QUERY PLAN ${sql}`).all() as { detail: string }[];
      // A search by key or index, or a walk of an index (newest first with a LIMIT, or a partial
      // index of what is open): never a walk of a whole table.
      return plan
        .filter((row) => /^SCAN /.test(row.detail) && !/USING (COVERING )?INDEX/.test(row.detail))
        .map((row) => `${row.detail} ← ${sql}`);
    });

    expect(scans).toEqual([]);
  });
});
