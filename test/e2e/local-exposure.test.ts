import { spawn } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DynamoDBClient, GetItemCommand, ListTablesCommand, PutItemCommand } from '@aws-sdk/client-dynamodb';
import { describe, expect, inject, it } from 'vitest';
import {
  ACCESS_KEY_FILE,
  databaseFileOf,
  dynamoDbLocalJar,
  ensureTables,
  freePort,
  localDynamoClient,
  SHARED_DB_FILE,
  startDynamoDbLocal,
} from '../../infra/local/dynamodb-local.js';
import { type LocalRuntime, startLocalRuntime } from '../../infra/local/runtime.js';
import { tableNamesFor } from '../../shared/adapters/dynamodb/tables.js';
import { parseConfig } from '../../shared/config/load.js';

/**
 * What the local bot exposes (issue 15): its HTTP server listens on 127.0.0.1 only, and DynamoDB
 * Local — which listens on every interface, having no option to bind one — keeps the bot's tables
 * behind an access key id only the bot knows.
 */
const SECRET = `whsec-${randomUUID()}`;
const ADMIN = `admin-${randomUUID()}`;
const prefix = `exposure-${randomUUID().slice(0, 8)}`;
const config = parseConfig({});

const botOn = (endpoint: string, tablePrefix = prefix): Promise<LocalRuntime> =>
  startLocalRuntime({
    config,
    webhookSecret: SECRET,
    adminToken: ADMIN,
    port: 0,
    store: { kind: 'dynamodb', endpoint, tablePrefix },
  });

const adminStop = (bot: LocalRuntime, reason: string) =>
  fetch(`${bot.url}/admin/stop`, {
    method: 'POST',
    headers: { authorization: `Bearer ${ADMIN}` },
    body: JSON.stringify({ reason }),
  });

const tradingState = async (bot: LocalRuntime) =>
  (await (await fetch(`${bot.url}/status`, { headers: { authorization: `Bearer ${ADMIN}` } })).json()) as {
    tradingState: string;
    breaker: { reason: string | null };
  };

/** A client at DynamoDB Local's port with credentials other than the bot's. */
const stranger = (endpoint: string, accessKeyId: string) =>
  new DynamoDBClient({
    endpoint: new URL(endpoint).origin,
    region: 'us-east-1',
    credentials: { accessKeyId, secretAccessKey: 'local' },
  });

const tradingStateKey = { pk: { S: 'PORTFOLIO' }, sk: { S: 'TRADING_STATE' } };

describe('the local bot on the network', () => {
  it('answers on 127.0.0.1 only: another loopback address (127.0.0.2) gets no answer', async () => {
    const bot = await botOn(inject('dynamoEndpoint'));
    try {
      const port = new URL(bot.url).port;

      const bound = await fetch(`http://127.0.0.1:${port}/health`);
      const other = fetch(`http://127.0.0.2:${port}/health`, { signal: AbortSignal.timeout(5_000) });

      expect(bound.status).toBe(200);
      await expect(other).rejects.toThrow();
    } finally {
      await bot.stop();
    }
  });

  it('keeps its database behind its own access key: other credentials at DynamoDB Local see no table and cannot read or write the trading state', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'pinebridge-exposure-'));
    const database = await startDynamoDbLocal(dataDir);
    const bot = await botOn(database.endpoint);
    const strangers = ['local', 'AKIDEXAMPLE', randomBytes(16).toString('hex')].map((id) =>
      stranger(database.endpoint, id),
    );
    try {
      expect((await adminStop(bot, 'exposure test')).status).toBe(200);
      const portfolio = tableNamesFor(prefix).portfolio;

      for (const client of strangers) {
        expect((await client.send(new ListTablesCommand({}))).TableNames).toEqual([]);
        await expect(
          client.send(new GetItemCommand({ TableName: portfolio, Key: tradingStateKey })),
        ).rejects.toMatchObject({ name: 'ResourceNotFoundException' });
        await expect(
          client.send(
            new PutItemCommand({
              TableName: portfolio,
              Item: { ...tradingStateKey, state: { S: 'ACTIVE' } },
            }),
          ),
        ).rejects.toMatchObject({ name: 'ResourceNotFoundException' });
      }
      expect((await tradingState(bot)).tradingState).toBe('HALTED');
      const own = localDynamoClient(database.endpoint);
      expect((await own.send(new ListTablesCommand({}))).TableNames).toContain(portfolio);
      own.destroy();
      // The key is in a file only the trader can read, in a folder only the trader can list.
      const keyFile = join(dataDir, ACCESS_KEY_FILE);
      expect(statSync(keyFile).mode & 0o777).toBe(0o600);
      expect(statSync(dataDir).mode & 0o777).toBe(0o700);
      expect(database.endpoint).toContain(`//${readFileSync(keyFile, 'utf8').trim()}@127.0.0.1:`);
    } finally {
      for (const client of strangers) client.destroy();
      await bot.stop();
      await database.stop();
    }
  });

  it('keeps the same access key across restarts, so the bot finds its state again; without its key file it refuses to start on an empty book', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'pinebridge-restart-'));
    const first = await startDynamoDbLocal(dataDir);
    try {
      const firstBot = await botOn(first.endpoint);
      await adminStop(firstBot, 'before the restart');
      await firstBot.stop();
    } finally {
      await first.stop();
    }

    const second = await startDynamoDbLocal(dataDir);
    const secondBot = await botOn(second.endpoint);
    try {
      expect(new URL(second.endpoint).username).toBe(new URL(first.endpoint).username);
      expect(await tradingState(secondBot)).toMatchObject({
        tradingState: 'HALTED',
        breaker: { reason: 'before the restart' },
      });
    } finally {
      await secondBot.stop();
      await second.stop();
    }

    rmSync(join(dataDir, ACCESS_KEY_FILE));
    await expect(startDynamoDbLocal(dataDir)).rejects.toThrow(
      /access-key-id is missing but .* holds the database of an access key/,
    );
  });

  it('refuses browsers: a CORS preflight from a web page is not allowed', async () => {
    const database = await startDynamoDbLocal(undefined);
    try {
      const preflight = await fetch(new URL(database.endpoint).origin, {
        method: 'OPTIONS',
        headers: {
          origin: 'http://attacker.example',
          'access-control-request-method': 'POST',
          'access-control-request-headers': 'authorization,content-type,x-amz-target',
        },
      });

      expect(preflight.headers.get('access-control-allow-origin')).toBeNull();
    } finally {
      await database.stop();
    }
  });
});

describe('upgrading a data directory of the shared database (-sharedDb, earlier versions)', () => {
  it('moves the shared database to the bot’s own access key: the trading state survives, and other credentials no longer see it', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'pinebridge-upgrade-'));
    // The earlier version: DynamoDB Local as it was started then, written through the bot.
    const port = await freePort();
    const { directory, jar, libraries } = dynamoDbLocalJar();
    const old = spawn(
      'java',
      [
        `-Djava.library.path=${libraries}`,
        '-jar',
        jar,
        '-dbPath',
        dataDir,
        '-port',
        String(port),
        '-sharedDb',
      ],
      { cwd: directory, stdio: 'ignore' },
    );
    const oldExited = new Promise((resolve) => old.once('exit', resolve));
    const oldEndpoint = `http://127.0.0.1:${port}`;
    try {
      await waitForDynamoDb(oldEndpoint);
      await ensureTables(oldEndpoint, tableNamesFor(prefix));
      const oldBot = await botOn(oldEndpoint);
      await adminStop(oldBot, 'halted before the upgrade');
      await oldBot.stop();
    } finally {
      old.kill('SIGTERM');
      await oldExited;
    }
    expect(readdirSync(dataDir)).toContain(SHARED_DB_FILE);

    const database = await startDynamoDbLocal(dataDir);
    const bot = await botOn(database.endpoint);
    const other = stranger(database.endpoint, 'local');
    try {
      const accessKeyId = readFileSync(join(dataDir, ACCESS_KEY_FILE), 'utf8').trim();

      expect(await tradingState(bot)).toMatchObject({
        tradingState: 'HALTED',
        breaker: { reason: 'halted before the upgrade' },
      });
      expect(existsSync(join(dataDir, SHARED_DB_FILE))).toBe(false);
      expect(existsSync(join(dataDir, databaseFileOf(accessKeyId)))).toBe(true);
      expect((await other.send(new ListTablesCommand({}))).TableNames).toEqual([]);
    } finally {
      other.destroy();
      await bot.stop();
      await database.stop();
    }
  });
});

async function waitForDynamoDb(endpoint: string): Promise<void> {
  const client = localDynamoClient(endpoint);
  const deadline = Date.now() + 30_000;
  try {
    for (;;) {
      try {
        await client.send(new ListTablesCommand({}));
        return;
      } catch (error) {
        if (Date.now() > deadline) throw error;
        await new Promise((r) => setTimeout(r, 100));
      }
    }
  } finally {
    client.destroy();
  }
}
