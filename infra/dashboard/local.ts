import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import type { DashboardAssets } from '../../shared/dashboard/assets.js';
import { DashboardSessions, LoginLimiter } from '../../shared/dashboard/auth.js';
import { LIVE_CHANNEL, type LiveHint, REALTIME_PATH } from '../../shared/dashboard/live.js';
import { type ComponentHealth, createDashboard, isDashboardPath } from '../../shared/dashboard/routes.js';
import type { Log } from '../../shared/ports/index.js';
import type { OperatorRequest } from '../../shared/usecases/operator.js';
import { RealtimeServer } from '../local/realtime.js';
import { readBody } from '../local/server.js';
import { dashboardAssets } from './build.js';

export interface LocalDashboardOptions {
  /** The login password: the bot's admin token (PINEBRIDGE_ADMIN_TOKEN in .env). */
  adminToken: string;
  operate(request: OperatorRequest, source: string): Promise<unknown>;
  health(): Promise<ComponentHealth>;
  log: Log;
  assets?: () => Promise<DashboardAssets>;
}

/**
 * The dashboard on the local bot's HTTP server: its routes, plus live updates over the same
 * realtime protocol as AWS AppSync Events at /event/realtime (infra/local/realtime.ts).
 */
export interface LocalDashboard {
  matches(path: string): boolean;
  serve(req: IncomingMessage, res: ServerResponse, url: URL, path: string): Promise<void>;
  /** An HTTP upgrade: the realtime endpoint takes it. */
  upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): Promise<void>;
  /** Something changed (`kind`: what): every open page hears of it and reads a fresh status. */
  notify(kind: string): void;
  /** Closes every realtime connection (before the server closes: an open one would hold it open). */
  stop(): void;
}

export function createLocalDashboard(options: LocalDashboardOptions): LocalDashboard {
  // Signed with a key of this process only: after a restart the page asks for the password again.
  const sessions = new DashboardSessions({ salt: DashboardSessions.processSalt() });
  // As AppSync asks the Lambda authorizer in AWS: a live token of a session of this process, and
  // nothing but the updates channel.
  const realtime = new RealtimeServer({
    authorize: (token, operation, channel) =>
      sessions.liveTokenLeft(options.adminToken, token) !== undefined &&
      (operation === 'connect' || channel === LIVE_CHANNEL),
    log: options.log,
  });
  const dashboard = createDashboard({
    password: async () => options.adminToken,
    operate: options.operate,
    health: options.health,
    // Bundled on the first request and kept (about a second, in esbuild's own process): a bot
    // nobody looks at spends nothing on it, and its start-up and first alerts compete with nothing.
    assets: options.assets ?? dashboardAssets,
    // The page reaches the endpoint at the host it was itself loaded from.
    live: (request) => {
      const host = request.headers.host ?? 'localhost';
      return { url: `ws://${host}${REALTIME_PATH}`, host, channel: LIVE_CHANNEL };
    },
    pollSeconds: 5,
    secureCookies: false,
    sessions,
    limiter: new LoginLimiter(),
  });

  return {
    matches: isDashboardPath,
    upgrade: (req, socket, head) => realtime.upgrade(req, socket, head),
    notify: (kind) => {
      const hint: LiveHint = { kind, at: new Date().toISOString() };
      realtime.publish(LIVE_CHANNEL, [hint]);
    },
    stop: () => realtime.close(),
    async serve(req, res, url, path) {
      const headers = Object.fromEntries(
        Object.entries(req.headers).map(([k, v]) => [k, Array.isArray(v) ? v.join(', ') : v]),
      );
      try {
        const answer = await dashboard.handle({
          method: req.method ?? 'GET',
          path,
          basePath: '',
          query: url.searchParams,
          headers,
          body: req.method === 'POST' ? await readBody(req, 8192) : '',
          sourceIp: req.socket.remoteAddress ?? '',
        });
        res.writeHead(answer.statusCode, answer.headers);
        res.end(answer.body);
      } catch (error) {
        // The server's own catch answers 500 without a word; say here what went wrong.
        options.log.error('dashboard request failed', { path, error: (error as Error).message });
        if (!res.headersSent) reply(res, 500, { error: 'internal error' });
      }
    },
  };
}

function reply(res: ServerResponse, statusCode: number, body: unknown, headers: Record<string, string> = {}) {
  res.writeHead(statusCode, { 'content-type': 'application/json', 'cache-control': 'no-store', ...headers });
  res.end(JSON.stringify(body));
}
