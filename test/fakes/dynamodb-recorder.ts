import { createServer, request as httpRequest, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * One DynamoDB data action as IAM authorizes it: each item of a transaction by its own action
 * (TransactWriteItems → PutItem / UpdateItem / DeleteItem / ConditionCheckItem, TransactGetItems →
 * GetItem), on a table or on one of its indexes.
 */
export interface DynamoCall {
  /** Who was running (see `as`). */
  caller: string;
  action: string;
  table: string;
  index?: string;
}

export interface DynamoRecorder {
  /** Where to point DYNAMODB_ENDPOINT: the real endpoint with the recorder's port (its credential kept). */
  endpoint: string;
  calls: DynamoCall[];
  /** Runs `work` with its DynamoDB calls recorded as `caller`'s (nested calls name the innermost). */
  as<T>(caller: string, work: () => Promise<T>): Promise<T>;
  stop(): Promise<void>;
}

const TRANSACT_ITEM_ACTIONS: Record<string, string> = {
  Put: 'PutItem',
  Update: 'UpdateItem',
  Delete: 'DeleteItem',
  ConditionCheck: 'ConditionCheckItem',
  Get: 'GetItem',
};

/** The IAM actions one DynamoDB request needs, from its X-Amz-Target and body. */
export function actionsOf(operation: string, body: Record<string, unknown>): Omit<DynamoCall, 'caller'>[] {
  if (operation === 'TransactWriteItems' || operation === 'TransactGetItems') {
    return (body.TransactItems as Record<string, { TableName: string }>[]).flatMap((item) =>
      Object.entries(item).map(([kind, inner]) => ({
        action: TRANSACT_ITEM_ACTIONS[kind] ?? kind,
        table: inner.TableName,
      })),
    );
  }
  if (operation === 'BatchGetItem' || operation === 'BatchWriteItem')
    return Object.keys(body.RequestItems as object).map((table) => ({ action: operation, table }));
  return [
    {
      action: operation,
      table: String(body.TableName),
      ...(typeof body.IndexName === 'string' ? { index: body.IndexName } : {}),
    },
  ];
}

const read = async (req: IncomingMessage) => {
  const chunks: Buffer[] = [];
  for await (const chunk of req as AsyncIterable<Buffer>) chunks.push(chunk);
  return Buffer.concat(chunks);
};

/**
 * A loopback proxy in front of DynamoDB Local that records which actions each caller's requests
 * need, table by table, and forwards them unchanged — the calls a Lambda role would be asked to
 * allow. Callers run one at a time (`as`), as the functions of one trade flow do.
 */
export async function startDynamoRecorder(upstream: string): Promise<DynamoRecorder> {
  const target = new URL(upstream);
  const calls: DynamoCall[] = [];
  let caller = 'unattributed';
  const server: Server = createServer(async (req, res) => {
    const body = await read(req);
    const operation = String(req.headers['x-amz-target'] ?? '').split('.')[1] ?? '';
    try {
      for (const call of actionsOf(operation, JSON.parse(body.toString('utf8') || '{}')))
        calls.push({ caller, ...call });
    } catch {
      calls.push({ caller, action: operation || 'unreadable', table: '?' });
    }
    const forwarded = httpRequest(
      {
        host: target.hostname,
        port: target.port,
        method: req.method,
        path: req.url,
        headers: { ...req.headers, host: target.host },
      },
      (answer) => {
        res.writeHead(answer.statusCode ?? 500, answer.headers);
        answer.pipe(res);
      },
    );
    forwarded.on('error', (error) => {
      res.writeHead(502);
      res.end(String(error));
    });
    forwarded.end(body);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const endpoint = new URL(upstream);
  endpoint.hostname = '127.0.0.1';
  endpoint.port = String((server.address() as AddressInfo).port);
  return {
    endpoint: endpoint.toString().replace(/\/$/, ''),
    calls,
    async as(name, work) {
      const previous = caller;
      caller = name;
      try {
        return await work();
      } finally {
        caller = previous;
      }
    },
    stop: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
