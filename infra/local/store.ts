import type { Storage } from '../../shared/adapters/dependencies.js';
import { dynamoStorage } from '../../shared/adapters/dynamodb/storage.js';
import { tableNamesFor } from '../../shared/adapters/dynamodb/tables.js';
import { SqliteDatabase, type Synchronous } from '../../shared/adapters/sqlite/database.js';
import { SqliteHistory } from '../../shared/adapters/sqlite/history.js';
import { sqliteStorage } from '../../shared/adapters/sqlite/storage.js';
import { ConfigError } from '../../shared/config/load.js';
import type { Config } from '../../shared/config/schema.js';
import { LOCAL_STORES } from '../../shared/config/schema.js';
import { ensureTables, startDynamoDbLocal } from './dynamodb-local.js';

/** Where `npm start` keeps its SQLite database, relative to the working folder. */
export const LOCAL_DATABASE_FILE = '.data/pinebridge.db';
/** Where `npm start` keeps DynamoDB Local's files when PINEBRIDGE_STORE=dynamodb-local. */
export const LOCAL_DYNAMODB_DIR = '.data/dynamodb';

/**
 * The local bot's database: SQLite (the default: one file, or memory when no file is given),
 * DynamoDB Local started for it (the AWS write path on this machine; needs Java), or an
 * already running DynamoDB Local (tests share one).
 */
export type LocalStore =
  | { kind: 'sqlite'; file?: string; synchronous?: Synchronous }
  | { kind: 'dynamodb-local'; dataDir?: string }
  | { kind: 'dynamodb'; endpoint: string; tablePrefix?: string };

/** The storage the store names, opened (tables created where they are missing), and how to close it. */
export async function openStorage(store: LocalStore): Promise<{
  storage: Storage;
  /** What a retention window may prune (SQLite only). */
  history?: SqliteHistory;
  close(): Promise<void>;
}> {
  switch (store.kind) {
    case 'sqlite': {
      const database = new SqliteDatabase(store.file ?? ':memory:', {
        ...(store.synchronous ? { synchronous: store.synchronous } : {}),
      });
      return {
        storage: sqliteStorage(database),
        history: new SqliteHistory(database),
        close: async () => database.close(),
      };
    }
    case 'dynamodb-local': {
      const database = await startDynamoDbLocal(store.dataDir);
      try {
        const tables = tableNamesFor('pinebridge-local');
        await ensureTables(database.endpoint, tables);
        return { storage: dynamoStorage(tables, { endpoint: database.endpoint }), close: database.stop };
      } catch (error) {
        await database.stop();
        throw error;
      }
    }
    case 'dynamodb': {
      const tables = tableNamesFor(store.tablePrefix ?? 'pinebridge-local');
      await ensureTables(store.endpoint, tables);
      return { storage: dynamoStorage(tables, { endpoint: store.endpoint }), close: async () => {} };
    }
  }
}

/** The store `npm start` uses: PINEBRIDGE_STORE when set, else the config's `local.store`. */
export function localStoreOf(config: Config, env: NodeJS.ProcessEnv): LocalStore {
  const kind = env.PINEBRIDGE_STORE || config.local.store;
  if (!(LOCAL_STORES as readonly string[]).includes(kind))
    throw new ConfigError(
      `PINEBRIDGE_STORE=${kind} is not a local store: use one of ${LOCAL_STORES.join(', ')}`,
    );
  return kind === 'dynamodb-local'
    ? { kind: 'dynamodb-local', dataDir: LOCAL_DYNAMODB_DIR }
    : { kind: 'sqlite', file: LOCAL_DATABASE_FILE, synchronous: config.local.synchronous };
}
