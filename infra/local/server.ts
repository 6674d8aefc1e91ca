import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { APIGatewayProxyEvent, APIGatewayProxyResult } from 'aws-lambda';
import { secretsMatch } from '../../shared/domain/secrets.js';
import { firstIssue, OperatorRequest, operatorFieldsFromQuery } from '../../shared/usecases/operator.js';
import type { LocalDashboard } from '../dashboard/local.js';

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

const READ_VIEWS = ['positions', 'orders', 'signals', 'pnl', 'export'] as const;

export interface LocalServerRoutes {
  webhook: (event: APIGatewayProxyEvent) => Promise<APIGatewayProxyResult>;
  health: () => Promise<{ ok: boolean; components: Record<string, string> }>;
  /** The operator's reads and actions (shared/usecases/operator.ts), behind the admin token. */
  operate: (request: OperatorRequest) => Promise<unknown>;
  adminToken: string;
  maxBodyBytes: number;
  /**
   * Separate budgets, as each API Gateway method has its own, so that no flood of anonymous
   * requests keeps the operator from stopping the bot: `public` for alerts, unknown paths and admin
   * requests without the admin token; `admin` for admin requests with it; `dashboard` for the web
   * dashboard (whose logins have their own limiter too). GET /health takes from none: it is cheap,
   * its broker probe being cached.
   */
  throttles: { public: TokenBucket; admin: TokenBucket; dashboard: TokenBucket };
  /** The web dashboard (infra/dashboard): GET /, /login, /logout, /assets/*, /api/*, and its realtime endpoint. */
  dashboard?: LocalDashboard;
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
export async function readBody(req: IncomingMessage, limit: number): Promise<string> {
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
 * POST /admin/reset-breaker (the last four with the admin token), and the web dashboard
 * (its own login and session cookie).
 */
export function createLocalServer(routes: LocalServerRoutes): Server {
  const server = createServer(async (req, res) => {
    try {
      const url = new URL(req.url ?? '/', 'http://localhost');
      const path = url.pathname.replace(/\/+$/, '') || '/';
      if (req.method === 'GET' && path === '/health') {
        const health = await routes.health();
        return send(res, health.ok ? 200 : 503, health);
      }
      const webhook = /^\/webhook(?:\/([^/]+))?$/.exec(path);
      const read = /^\/status(?:\/([a-z-]+))?$/.exec(path);
      const write = /^\/admin\/(stop|resume|reset-breaker)$/.exec(path);
      const adminRoute = read !== null || write !== null;
      const withToken = adminRoute && authorized(req, routes.adminToken);
      const budget = withToken
        ? routes.throttles.admin
        : !adminRoute && routes.dashboard?.matches(path)
          ? routes.throttles.dashboard
          : routes.throttles.public;
      if (!budget.take()) return send(res, 429, { error: 'too many requests' });

      if (webhook) {
        if (req.method !== 'POST') return send(res, 405, { error: 'use POST' }, { allow: 'POST' });
        const sourceIp = req.socket.remoteAddress ?? '';
        const body = await readBody(req, routes.maxBodyBytes);
        const secret = webhook[1] === undefined ? undefined : decodeURIComponent(webhook[1]);
        const result = await routes.webhook(toApiGatewayEvent(req, sourceIp, path, body, secret));
        return send(res, result.statusCode, result.body, (result.headers ?? {}) as Record<string, string>);
      }
      if (adminRoute) {
        if (req.method !== (read ? 'GET' : 'POST'))
          return send(res, 405, { error: `use ${read ? 'GET' : 'POST'}` }, { allow: read ? 'GET' : 'POST' });
        if (!withToken) return send(res, 401, { error: 'admin token required (Authorization: Bearer …)' });
        const view = read?.[1];
        if (view !== undefined && !(READ_VIEWS as readonly string[]).includes(view))
          return send(res, 404, { error: `no status view ${view}; try ${READ_VIEWS.join(', ')}` });
        let fields: Record<string, unknown>;
        if (write) {
          const body = (await readBody(req, 4096)).trim();
          const parsed = body === '' ? {} : safeJson(body);
          if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed))
            return send(res, 400, { error: 'body must be empty or a JSON object like {"reason": "…"}' });
          fields = { reason: `${write[1]} by the operator`, ...parsed, action: write[1] };
        } else {
          fields = { ...operatorFieldsFromQuery(url.searchParams), action: view ?? 'status' };
        }
        const request = OperatorRequest.safeParse(fields);
        if (!request.success) return send(res, 400, { error: firstIssue(request.error) });
        return send(res, 200, await routes.operate(request.data));
      }
      if (routes.dashboard?.matches(path)) return await routes.dashboard.serve(req, res, url, path);
      return send(res, 404, { error: 'not found' });
    } catch {
      if (!res.headersSent) send(res, 500, { error: 'internal error' });
    }
  });
  // The dashboard's live updates (a WebSocket, infra/local/realtime.ts), on the dashboard's budget.
  server.on('upgrade', (req, socket, head: Buffer) => {
    socket.on('error', () => socket.destroy());
    const refuse = (status: string) =>
      socket.end(`HTTP/1.1 ${status}\r\nconnection: close\r\ncontent-length: 0\r\n\r\n`);
    if (routes.dashboard === undefined) return refuse('404 Not Found');
    if (!routes.throttles.dashboard.take()) return refuse('429 Too Many Requests');
    routes.dashboard.upgrade(req, socket, head).catch(() => socket.destroy());
  });
  return server;
}
