import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Storage } from '../../shared/adapters/dependencies.js';
import { dynamoStorage } from '../../shared/adapters/dynamodb/storage.js';
import { tableNamesFor } from '../../shared/adapters/dynamodb/tables.js';
import { SqliteDatabase, type Synchronous } from '../../shared/adapters/sqlite/database.js';
import { SqliteHistory } from '../../shared/adapters/sqlite/history.js';
import { sqliteStorage } from '../../shared/adapters/sqlite/storage.js';
import { ConfigError } from '../../shared/config/load.js';
import type { Config } from '../../shared/config/schema.js';
import { LOCAL_STORES } from '../../shared/config/schema.js';
import { ensureTables, PrerequisiteError, startDynamoDbLocal } from './dynamodb-local.js';

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

/**
 * The store `npm start` uses: PINEBRIDGE_STORE when set, else the config's `local.store`. A folder
 * whose book is in DynamoDB Local (an earlier version's default) and not yet in SQLite is refused
 * on SQLite: starting afresh would forget its positions and its trading state (a HALTED bot would
 * come back ACTIVE).
 */
export function localStoreOf(config: Config, env: NodeJS.ProcessEnv, cwd = '.'): LocalStore {
  const kind = env.PINEBRIDGE_STORE || config.local.store;
  if (!(LOCAL_STORES as readonly string[]).includes(kind))
    throw new ConfigError(
      `PINEBRIDGE_STORE=${kind} is not a local store: use one of ${LOCAL_STORES.join(', ')}`,
    );
  if (kind === 'dynamodb-local') return { kind: 'dynamodb-local', dataDir: LOCAL_DYNAMODB_DIR };
  const dynamoDir = join(cwd, LOCAL_DYNAMODB_DIR);
  const dynamoBook = existsSync(dynamoDir) && readdirSync(dynamoDir).some((file) => file.endsWith('.db'));
  if (dynamoBook && !existsSync(join(cwd, LOCAL_DATABASE_FILE)))
    throw new PrerequisiteError(
      `this folder's book (positions, orders, trading state) is in DynamoDB Local (${LOCAL_DYNAMODB_DIR}), the earlier default store. Keep trading on it with PINEBRIDGE_STORE=dynamodb-local npm start (or "local": {"store": "dynamodb-local"} in config.json; needs Java 17), or move ${LOCAL_DYNAMODB_DIR} away to start afresh on SQLite, which forgets the positions: flatten them first (docs/RUNBOOK.md, "Moving to the SQLite store").`,
    );
  return { kind: 'sqlite', file: LOCAL_DATABASE_FILE, synchronous: config.local.synchronous };
}
