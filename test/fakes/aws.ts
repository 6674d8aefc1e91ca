import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * AWS at the network boundary, on loopback, for the operations a deployed stage's operator uses:
 * Lambda Invoke (REST JSON), Secrets Manager GetSecretValue and EventBridge PutEvents (JSON 1.1).
 * The SDK clients reach it through AWS_ENDPOINT_URL_<SERVICE>. Requests signed with the access key
 * id `DENIED` are refused as IAM would (AccessDeniedException).
 */
export interface FakeAws {
  url: string;
  /** Every event put on any bus, as sent. */
  events: { DetailType?: string; Detail?: string; EventBusName?: string }[];
  /** Every Lambda invocation payload, as sent. */
  invocations: { functionName: string; payload: unknown }[];
  stop(): Promise<void>;
}

export interface FakeAwsOptions {
  /** Functions by name: the handler each invocation runs. */
  functions: Record<string, (event: unknown) => Promise<unknown>>;
  /** Secret strings by name. */
  secrets: Record<string, string>;
}

const read = async (req: IncomingMessage) => {
  const chunks: Buffer[] = [];
  for await (const chunk of req as AsyncIterable<Buffer>) chunks.push(chunk);
  return Buffer.concat(chunks).toString('utf8');
};

export async function startFakeAws(options: FakeAwsOptions): Promise<FakeAws> {
  const events: FakeAws['events'] = [];
  const invocations: FakeAws['invocations'] = [];
  const server: Server = createServer(async (req, res) => {
    const body = await read(req);
    const error = (status: number, type: string, message: string) => {
      res.writeHead(status, { 'content-type': 'application/json', 'x-amzn-errortype': type });
      res.end(JSON.stringify({ __type: type, message, Message: message }));
    };
    const ok = (value: unknown, headers: Record<string, string> = {}) => {
      res.writeHead(200, { 'content-type': 'application/x-amz-json-1.1', ...headers });
      res.end(JSON.stringify(value));
    };
    if (/Credential=DENIED\//.test(req.headers.authorization ?? ''))
      return error(403, 'AccessDeniedException', 'User is not authorized to perform this action');

    const invoke = /^\/2015-03-31\/functions\/([^/]+)\/invocations$/.exec(req.url ?? '');
    if (invoke?.[1]) {
      const name = decodeURIComponent(invoke[1]);
      const fn = options.functions[name];
      if (!fn) return error(404, 'ResourceNotFoundException', `Function not found: ${name}`);
      const payload: unknown = JSON.parse(body || 'null');
      invocations.push({ functionName: name, payload });
      try {
        return ok((await fn(payload)) ?? null, { 'x-amz-executed-version': '$LATEST' });
      } catch (thrown) {
        // As Lambda reports a handler's exception: 200, X-Amz-Function-Error, the error as payload.
        return ok(
          { errorType: (thrown as Error).name, errorMessage: (thrown as Error).message },
          { 'x-amz-function-error': 'Unhandled' },
        );
      }
    }
    const target = req.headers['x-amz-target'];
    if (target === 'secretsmanager.GetSecretValue') {
      const { SecretId } = JSON.parse(body) as { SecretId: string };
      const value = options.secrets[SecretId];
      if (value === undefined)
        return error(400, 'ResourceNotFoundException', "Secrets Manager can't find the specified secret.");
      return ok({
        ARN: `arn:aws:secretsmanager:us-east-1:000000000000:secret:${SecretId}`,
        Name: SecretId,
        SecretString: value,
      });
    }
    if (target === 'AWSEvents.PutEvents') {
      const { Entries } = JSON.parse(body) as { Entries: FakeAws['events'] };
      events.push(...Entries);
      return ok({
        FailedEntryCount: 0,
        Entries: Entries.map((_, i) => ({ EventId: `event-${events.length + i}` })),
      });
    }
    return error(
      400,
      'UnknownOperationException',
      `the fake does not implement ${String(target ?? req.url)}`,
    );
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    events,
    invocations,
    stop: () => new Promise((resolve) => server.close(() => resolve())),
  };
}
