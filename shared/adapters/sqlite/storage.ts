import type { Storage } from '../dependencies.js';
import { SqliteBookStore } from './book-store.js';
import type { SqliteDatabase } from './database.js';
import { SqlitePaperOrderBook } from './paper-orders.js';
import { SqliteSignalStore } from './signal-store.js';

/** The bot's storage in one SQLite database (the local bot's default). */
export function sqliteStorage(database: SqliteDatabase): Storage {
  return {
    signals: new SqliteSignalStore(database),
    book: new SqliteBookStore(database),
    paperOrders: new SqlitePaperOrderBook(database),
    probe: async () => database.probe(),
  };
}
