import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Hash } from '@smithy/hash-node';
import { SignatureV4 } from '@smithy/signature-v4';
import { createLiveAuthorizer } from '../../functions/live-authorizer.js';
import { RealtimeServer } from '../../infra/local/realtime.js';
import { LIVE_NAMESPACE, REALTIME_PATH } from '../../shared/dashboard/live.js';

/** The credentials the publisher signs with in tests, and the fake checks against. */
export const TEST_CREDENTIALS = {
  accessKeyId: 'AKIDPINEBRIDGETEST01',
  secretAccessKey: 'pinebridge-test-secret-access-key-0000000',
};
export const TEST_REGION = 'eu-west-1';

export interface Publish {
  channel: string;
  /** Each event parsed from its JSON string. */
  events: unknown[];
}

export interface FakeAppSyncEvents {
  /** The HTTP endpoint: POST `${httpUrl}` publishes. */
  httpUrl: URL;
  /** The realtime endpoint pages connect to. */
  realtimeUrl: string;
  /** host:port, what a page puts in its auth header as `host`. */
  host: string;
  published: Publish[];
  /** Publishes refused, with why (a bad signature, a bad body). */
  refused: string[];
  /** What the authorizer was asked, and answered. */
  authorizations: { operation: string; channel?: string; allowed: boolean }[];
  close(): Promise<void>;
}

/**
 * A loopback stand-in for an AppSync Events API with Pinebridge's authorization:
 *
 * - `POST /event` publishes, as the HTTP endpoint does: SigV4 for the `appsync` service, checked
 *   by signing the received request again with TEST_CREDENTIALS (403 `UnauthorizedException` when
 *   it differs or is older than 5 minutes); a body `{channel, events}` with 1–5 events, each a
 *   string holding JSON (400 otherwise); channels only in the `pinebridge` namespace (404
 *   otherwise). Answers `{successful: [{identifier, index}], failed: []}` and delivers to subscribers.
 * - `/event/realtime` is the realtime protocol (infra/local/realtime.ts, written from AppSync's
 *   protocol documentation), each connect and subscribe put to the real authorizer function
 *   (functions/live-authorizer.ts) as AppSync's Lambda authorization would.
 */
export async function startFakeAppSyncEvents(password: () => Promise<string>): Promise<FakeAppSyncEvents> {
  const published: Publish[] = [];
  const refused: string[] = [];
  const authorizations: FakeAppSyncEvents['authorizations'] = [];
  const authorizer = createLiveAuthorizer(password);
  const realtime = new RealtimeServer({
    authorize: async (token, operation, channel) => {
      const answer = await authorizer({
        authorizationToken: token,
        requestContext: {
          apiId: 'fakeapi',
          accountId: '111122223333',
          requestId: 'request',
          operation: operation === 'connect' ? 'EVENT_CONNECT' : 'EVENT_SUBSCRIBE',
          channelNamespaceName: LIVE_NAMESPACE,
          ...(channel === undefined ? {} : { channel }),
        },
        requestHeaders: {},
      });
      authorizations.push({
        operation,
        ...(channel === undefined ? {} : { channel }),
        allowed: answer.isAuthorized,
      });
      return answer.isAuthorized;
    },
    keepAliveMs: 1_000,
    connectionTimeoutMs: 5_000,
  });
  const signer = new SignatureV4({
    service: 'appsync',
    region: TEST_REGION,
    credentials: TEST_CREDENTIALS,
    sha256: Hash.bind(null, 'sha256'),
  });

  const answer = (res: ServerResponse, status: number, body: unknown) => {
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end(JSON.stringify(body));
  };

  async function publish(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const body = Buffer.concat(chunks).toString('utf8');
    const problem = await signatureProblem(req, body);
    if (problem !== undefined) {
      refused.push(problem);
      return answer(res, 403, { errors: [{ errorType: 'UnauthorizedException', message: problem }] });
    }
    let parsed: { channel?: unknown; events?: unknown };
    try {
      parsed = JSON.parse(body);
    } catch {
      refused.push('body is not JSON');
      return answer(res, 400, { errors: [{ errorType: 'BadRequestException', message: 'not JSON' }] });
    }
    const { channel, events } = parsed;
    const eventsOk =
      Array.isArray(events) &&
      events.length >= 1 &&
      events.length <= 5 &&
      events.every((e) => typeof e === 'string' && isJson(e));
    if (typeof channel !== 'string' || !eventsOk) {
      refused.push('body must be {channel, events: 1 to 5 JSON strings}');
      return answer(res, 400, {
        errors: [{ errorType: 'BadRequestException', message: 'bad publish body' }],
      });
    }
    if (!channel.startsWith(`/${LIVE_NAMESPACE}/`)) {
      refused.push(`no namespace for ${channel}`);
      return answer(res, 404, { errors: [{ errorType: 'NotFoundException', message: 'no such namespace' }] });
    }
    const parsedEvents = (events as string[]).map((e) => JSON.parse(e) as unknown);
    published.push({ channel, events: parsedEvents });
    realtime.publish(channel, parsedEvents);
    answer(res, 200, {
      successful: parsedEvents.map((_, index) => ({ identifier: `id-${published.length}-${index}`, index })),
      failed: [],
    });
  }

  /** Why the request's SigV4 signature is not TEST_CREDENTIALS' for the `appsync` service, or undefined. */
  async function signatureProblem(req: IncomingMessage, body: string): Promise<string | undefined> {
    const authorization = req.headers.authorization ?? '';
    const date = req.headers['x-amz-date'];
    const match =
      /^AWS4-HMAC-SHA256 Credential=([^/]+)\/(\d{8})\/([^/]+)\/appsync\/aws4_request, SignedHeaders=([^,]+), Signature=[0-9a-f]{64}$/.exec(
        authorization,
      );
    if (match === null || typeof date !== 'string') return 'not signed with SigV4 for appsync';
    const [, keyId, , region, signedHeaders = ''] = match;
    if (keyId !== TEST_CREDENTIALS.accessKeyId || region !== TEST_REGION) return 'unknown key or region';
    const signingDate = new Date(
      `${date.slice(0, 4)}-${date.slice(4, 6)}-${date.slice(6, 8)}T${date.slice(9, 11)}:${date.slice(11, 13)}:${date.slice(13, 15)}Z`,
    );
    if (Math.abs(Date.now() - signingDate.getTime()) > 5 * 60_000) return 'signature too old';
    if (!signedHeaders.split(';').includes('host')) return 'host not signed';
    const headers: Record<string, string> = {};
    for (const name of signedHeaders.split(';')) {
      const value = req.headers[name];
      if (typeof value === 'string') headers[name] = value;
    }
    const url = new URL(req.url ?? '/', `http://${req.headers.host}`);
    const expected = await signer.sign(
      {
        method: req.method ?? 'POST',
        protocol: 'http:',
        hostname: url.hostname,
        port: Number(url.port),
        path: url.pathname,
        query: {},
        headers,
        body,
      },
      { signingDate },
    );
    return expected.headers.authorization === authorization ? undefined : 'signature does not match';
  }

  const server = createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://localhost').pathname;
    if (req.method === 'POST' && path === '/event') {
      publish(req, res).catch(() => answer(res, 500, { errors: [{ errorType: 'InternalFailure' }] }));
      return;
    }
    answer(res, 404, { errors: [{ errorType: 'NotFoundException' }] });
  });
  server.on('upgrade', (req, socket, head: Buffer) => {
    socket.on('error', () => socket.destroy());
    void realtime.upgrade(req, socket, head);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const host = `127.0.0.1:${port}`;
  return {
    httpUrl: new URL(`http://${host}/event`),
    realtimeUrl: `ws://${host}${REALTIME_PATH}`,
    host,
    published,
    refused,
    authorizations,
    close: async () => {
      realtime.close();
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

function isJson(text: string): boolean {
  try {
    JSON.parse(text);
    return true;
  } catch {
    return false;
  }
}
