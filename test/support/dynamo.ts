import { randomUUID } from 'node:crypto';
import { inject } from 'vitest';
import { ensureTables } from '../../infra/local/dynamodb-local.js';
import { createDocumentClient } from '../../shared/adapters/dynamodb/client.js';
import { type TableNames, tableNamesFor } from '../../shared/adapters/dynamodb/tables.js';

/** Fresh tables on the shared DynamoDB Local, under a prefix no other test uses. */
export async function freshTables(): Promise<{ endpoint: string; tables: TableNames }> {
  const endpoint = inject('dynamoEndpoint');
  process.env.DYNAMODB_ENDPOINT = endpoint;
  const tables = tableNamesFor(`t-${randomUUID().slice(0, 8)}`);
  await ensureTables(endpoint, tables);
  return { endpoint, tables };
}

export const documentClient = () => createDocumentClient({ endpoint: inject('dynamoEndpoint') });
