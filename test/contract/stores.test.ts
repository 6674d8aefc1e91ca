import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { DynamoBookStore } from '../../shared/adapters/dynamodb/book-store.js';
import { DynamoSignalStore } from '../../shared/adapters/dynamodb/signal-store.js';
import { MemoryBookStore } from '../../shared/adapters/memory/book-store.js';
import { MemorySignalStore } from '../../shared/adapters/memory/signal-store.js';
import { MemoryTradingStore } from '../../shared/adapters/memory/trading-store.js';
import { SqliteBookStore } from '../../shared/adapters/sqlite/book-store.js';
import { SqliteDatabase } from '../../shared/adapters/sqlite/database.js';
import { sqliteStorage } from '../../shared/adapters/sqlite/storage.js';
import { Book } from '../../shared/usecases/book.js';
import { documentClient, freshTables } from '../support/dynamo.js';
import { describeBookStoreContract } from './book-store-contract.js';
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
