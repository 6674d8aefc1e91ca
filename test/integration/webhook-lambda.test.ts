import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { APIGatewayProxyEvent } from 'aws-lambda';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { handler } from '../../functions/webhook.js';
import { API_SDK_LIMITS } from '../../shared/adapters/api-clients.js';
import { parseConfig } from '../../shared/config/load.js';
import { leakedPiece } from '../support/leaks.js';

/**
 * The deployed webhook entry (functions/webhook.ts `handler`) with its own AWS SDK clients, against
 * AWS faked on loopback (AWS_ENDPOINT_URL): what it sends, what it answers when AWS does not
 * answer, and the metrics it writes.
 */

const SECRET = 'lambda-handler-secret-0123456789';
type Mode = 'answer' | 'silent-dynamodb' | 'plain-text-secret';

let server: Server;
let mode: Mode = 'answer';
const requests: { target: string; body: string }[] = [];
const saved = { ...process.env };

const read = async (req: IncomingMessage) => {
  const chunks: Buffer[] = [];
  for await (const chunk of req as AsyncIterable<Buffer>) chunks.push(chunk);
  return Buffer.concat(chunks).toString('utf8');
};

beforeAll(async () => {
  server = createServer(async (req, res) => {
    const body = await read(req);
    const target = String(req.headers['x-amz-target'] ?? '');
    requests.push({ target, body });
    const answer = (contentType: string, value: unknown) => {
      res.writeHead(200, { 'content-type': contentType });
      res.end(JSON.stringify(value));
    };
    if (target === 'secretsmanager.GetSecretValue' && mode === 'plain-text-secret')
      return answer('application/x-amz-json-1.1', { SecretString: SECRET });
    if (target === 'secretsmanager.GetSecretValue')
      return answer('application/x-amz-json-1.1', { SecretString: JSON.stringify({ current: SECRET }) });
    if (target === 'DynamoDB_20120810.TransactWriteItems') {
      if (mode === 'silent-dynamodb') return; // never answers: only the SDK's deadline ends the wait
      return answer('application/x-amz-json-1.0', {});
    }
    if (target === 'AWSEvents.PutEvents')
      return answer('application/x-amz-json-1.1', { FailedEntryCount: 0, Entries: [{ EventId: 'e1' }] });
    res.writeHead(400).end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  Object.assign(process.env, {
    AWS_REGION: 'us-east-1',
    AWS_ACCESS_KEY_ID: 'AKIDTEST',
    AWS_SECRET_ACCESS_KEY: 'test',
    AWS_SESSION_TOKEN: 'test',
    AWS_ENDPOINT_URL: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    PINEBRIDGE_CONFIG: JSON.stringify(parseConfig({})),
    PINEBRIDGE_STAGE: 'dev',
    SIGNALS_TABLE: 'pinebridge-dev-signals',
    EVENT_BUS_NAME: 'pinebridge-dev',
    WEBHOOK_SECRET_ID: 'arn:aws:secretsmanager:us-east-1:000000000000:secret:pinebridge-dev/webhook',
  });
});

afterEach(() => {
  vi.restoreAllMocks();
  requests.length = 0;
  mode = 'answer';
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
  process.env = saved;
});

const alert = (id: string) =>
  ({
    body: JSON.stringify({ ticker: 'AAPL', action: 'buy', quantity: 1, price: '100', id }),
    isBase64Encoded: false,
    pathParameters: { secret: SECRET },
  }) as unknown as APIGatewayProxyEvent;

/** The EMF metric names written to stdout while `fn` runs. */
async function metricsWrittenBy<T>(fn: () => Promise<T>): Promise<{ result: T; metrics: string[] }> {
  const metrics: string[] = [];
  vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
    for (const line of String(chunk).split('\n').filter(Boolean)) {
      const parsed = JSON.parse(line) as { _aws?: { CloudWatchMetrics: { Metrics: { Name: string }[] }[] } };
      for (const set of parsed._aws?.CloudWatchMetrics ?? []) metrics.push(...set.Metrics.map((m) => m.Name));
    }
    return true;
  });
  return { result: await fn(), metrics };
}

describe('the deployed webhook handler with its own SDK clients', () => {
  it('answers 202 after reading the secret, recording the signal and publishing only ids; the secret goes nowhere', async () => {
    const { result, metrics } = await metricsWrittenBy(() => handler(alert('lambda-1')));

    expect(result.statusCode).toBe(202);
    expect(requests.map((r) => r.target)).toEqual([
      'secretsmanager.GetSecretValue',
      'DynamoDB_20120810.TransactWriteItems',
      'AWSEvents.PutEvents',
    ]);
    const put = JSON.parse(requests[2]?.body ?? '{}') as {
      Entries: { Detail: string; EventBusName: string }[];
    };
    expect(put.Entries[0]?.EventBusName).toBe('pinebridge-dev');
    expect(Object.keys(JSON.parse(put.Entries[0]?.Detail ?? '{}')).sort()).toEqual([
      'notBefore',
      'receivedAt',
      'signalId',
      'symbol',
    ]);
    for (const request of requests.slice(1)) expect(request.body).not.toContain(SECRET);
    expect(metrics).toEqual(['SignalsReceived', 'SignalsAccepted', 'WebhookLatency']);
  });

  it('with the secret stored as plain text instead of JSON, refuses the request and logs no piece of the secret', async () => {
    mode = 'plain-text-secret';
    const written: string[] = [];
    for (const stream of [process.stdout, process.stderr])
      vi.spyOn(stream, 'write').mockImplementation((chunk: string | Uint8Array) => {
        written.push(String(chunk));
        return true;
      });

    // A fresh container: the module-level secret cache of the tests before must not answer.
    vi.resetModules();
    process.env.POWERTOOLS_LOG_LEVEL = 'DEBUG';
    const fresh = await import('../../functions/webhook.js');
    const result = await fresh.handler(alert('lambda-plain'));

    expect(result.statusCode).toBeGreaterThanOrEqual(500);
    expect(written.join('')).toMatch(/must be JSON/);
    expect(leakedPiece(`${written.join('')}\n${result.body}`, SECRET)).toBeUndefined();
    process.env.POWERTOOLS_LOG_LEVEL = saved.POWERTOOLS_LOG_LEVEL;
  });

  it('answers 503 (TradingView re-sends) when DynamoDB never answers: the SDK deadline ends each of its two attempts', async () => {
    mode = 'silent-dynamodb';

    const { result, metrics } = await metricsWrittenBy(() => handler(alert('lambda-2')));

    expect(result.statusCode).toBe(503);
    expect(JSON.parse(result.body)).toEqual({ error: 'could not record the signal; retry' });
    expect(requests.filter((r) => r.target === 'DynamoDB_20120810.TransactWriteItems')).toHaveLength(
      API_SDK_LIMITS.maxAttempts,
    );
    expect(requests.map((r) => r.target)).not.toContain('AWSEvents.PutEvents');
    expect(metrics).toEqual(['SignalsReceived', 'SignalsRefused', 'SignalsRefused', 'WebhookLatency']);
  });
});
