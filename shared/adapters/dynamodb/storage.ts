import { ListTablesCommand } from '@aws-sdk/client-dynamodb';
import type { Storage } from '../dependencies.js';
import { DynamoBookStore } from './book-store.js';
import { createDocumentClient } from './client.js';
import { DynamoPaperOrderBook } from './paper-orders.js';
import { DynamoSignalStore } from './signal-store.js';
import type { TableNames } from './tables.js';

/** The bot's storage in DynamoDB (AWS, or DynamoDB Local at `endpoint`). */
export function dynamoStorage(tables: TableNames, options: { endpoint?: string } = {}): Storage {
  const db = createDocumentClient(options.endpoint ? { endpoint: options.endpoint } : {});
  return {
    signals: new DynamoSignalStore(db, tables.signals),
    book: new DynamoBookStore(db, tables),
    paperOrders: new DynamoPaperOrderBook(db, tables.paperOrders),
    probe: async () => {
      await db.send(new ListTablesCommand({ Limit: 1 }));
    },
  };
}
