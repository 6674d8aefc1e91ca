import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { APIGatewayProxyEvent, APIGatewayProxyResult } from 'aws-lambda';
import { z } from 'zod';
import { secretsMatch } from '../../shared/usecases/accept-signal.js';

/** API Gateway's stage throttling, in-process: a token bucket with the same rate and burst. */
export class TokenBucket {
  private tokens: number;
  private last: number;

  constructor(
    private readonly ratePerSecond: number,
    private readonly burst: number,
    private readonly now: () => number = () => performance.now(),
  ) {
    this.tokens = burst;
    this.last = now();
  }

  take(): boolean {
    const now = this.now();
    this.tokens = Math.min(this.burst, this.tokens + ((now - this.last) / 1000) * this.ratePerSecond);
    this.last = now;
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }
}

const safeJson = (text: string): unknown => {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
};

/** stop: the emergency stop (HALTED, cancel, optionally flatten); resume and reset-breaker: back to ACTIVE. */
export type AdminAction = 'stop' | 'resume' | 'reset-breaker';

const AdminBody = z
  .object({ reason: z.string().min(1).max(500).optional(), flatten: z.boolean().optional() })
  .strict();

export interface LocalServerRoutes {
  webhook: (event: APIGatewayProxyEvent) => Promise<APIGatewayProxyResult>;
  health: () => Promise<{ ok: boolean; components: Record<string, string> }>;
  status: (options: { rejectedOnly: boolean }) => Promise<unknown>;
  /** Operator actions on the trading state: HALTED now, or back to ACTIVE (recorded with the reason). */
  admin: (action: AdminAction, request: { reason: string; flatten: boolean }) => Promise<unknown>;
  adminToken: string;
  maxBodyBytes: number;
  throttle: TokenBucket;
}

const send = (
  res: ServerResponse,
  statusCode: number,
  body: unknown,
  headers: Record<string, string> = {},
) => {
  res.writeHead(statusCode, { 'content-type': 'application/json', 'cache-control': 'no-store', ...headers });
  res.end(typeof body === 'string' ? body : JSON.stringify(body));
};

/**
 * Keeps at most `limit` + 1 bytes — enough for the handler to see the body is over the cap — and
 * discards the rest as it arrives, so a large body costs no memory and the connection stays usable.
 */
async function readBody(req: IncomingMessage, limit: number): Promise<string> {
  const chunks: Buffer[] = [];
  let kept = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    if (kept > limit) continue;
    const piece = chunk.subarray(0, limit + 1 - kept);
    chunks.push(piece);
    kept += piece.length;
  }
  return Buffer.concat(chunks).toString('utf8');
}

/** An API Gateway REST (v1) proxy event, as the webhook Lambda receives it in AWS. */
function toApiGatewayEvent(
  req: IncomingMessage,
  sourceIp: string,
  path: string,
  body: string,
  secret: string | undefined,
): APIGatewayProxyEvent {
  const headers = Object.fromEntries(
    Object.entries(req.headers).map(([k, v]) => [k, Array.isArray(v) ? v.join(',') : v]),
  );
  return {
    body,
    isBase64Encoded: false,
    headers,
    multiValueHeaders: {},
    httpMethod: req.method ?? 'POST',
    path,
    resource: secret === undefined ? '/webhook' : '/webhook/{secret}',
    pathParameters: secret === undefined ? null : { secret },
    queryStringParameters: null,
    multiValueQueryStringParameters: null,
    stageVariables: null,
    requestContext: { identity: { sourceIp } } as APIGatewayProxyEvent['requestContext'],
  } as APIGatewayProxyEvent;
}

function authorized(req: IncomingMessage, token: string): boolean {
  const header = req.headers.authorization ?? '';
  const presented = header.startsWith('Bearer ') ? header.slice('Bearer '.length) : '';
  return presented.length > 0 && secretsMatch(presented, token);
}

/**
 * The local HTTP front door, routing to the same handlers the API serves in AWS:
 * POST /webhook[/{secret}], GET /health, GET /status, POST /admin/stop, POST /admin/resume and
 * POST /admin/reset-breaker (the last four with the admin token).
 */
export function createLocalServer(routes: LocalServerRoutes): Server {
  return createServer(async (req, res) => {
    try {
      const url = new URL(req.url ?? '/', 'http://localhost');
      const path = url.pathname.replace(/\/+$/, '') || '/';
      if (req.method === 'GET' && path === '/health') {
        const health = await routes.health();
        return send(res, health.ok ? 200 : 503, health);
      }
      if (!routes.throttle.take()) return send(res, 429, { error: 'too many requests' });

      const webhook = /^\/webhook(?:\/([^/]+))?$/.exec(path);
      if (webhook) {
        if (req.method !== 'POST') return send(res, 405, { error: 'use POST' }, { allow: 'POST' });
        const sourceIp = req.socket.remoteAddress ?? '';
        const body = await readBody(req, routes.maxBodyBytes);
        const secret = webhook[1] === undefined ? undefined : decodeURIComponent(webhook[1]);
        const result = await routes.webhook(toApiGatewayEvent(req, sourceIp, path, body, secret));
        return send(res, result.statusCode, result.body, (result.headers ?? {}) as Record<string, string>);
      }
      if (req.method === 'GET' && path === '/status') {
        if (!authorized(req, routes.adminToken))
          return send(res, 401, { error: 'admin token required (Authorization: Bearer …)' });
        return send(
          res,
          200,
          await routes.status({ rejectedOnly: url.searchParams.get('rejected') === 'true' }),
        );
      }
      const admin = /^\/admin\/(stop|resume|reset-breaker)$/.exec(path);
      if (admin) {
        if (req.method !== 'POST') return send(res, 405, { error: 'use POST' }, { allow: 'POST' });
        if (!authorized(req, routes.adminToken))
          return send(res, 401, { error: 'admin token required (Authorization: Bearer …)' });
        const action = admin[1] as AdminAction;
        const body = await readBody(req, 4096);
        const parsed = AdminBody.safeParse(body.trim() === '' ? {} : safeJson(body));
        if (!parsed.success)
          return send(res, 400, { error: 'body must be empty or {"reason": "…", "flatten": true|false}' });
        const result = await routes.admin(action, {
          reason: parsed.data.reason ?? `${action} by the operator`,
          flatten: parsed.data.flatten ?? false,
        });
        return send(res, 200, result);
      }
      return send(res, 404, { error: 'not found' });
    } catch {
      if (!res.headersSent) send(res, 500, { error: 'internal error' });
    }
  });
}
