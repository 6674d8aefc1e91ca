import type { IncomingMessage, ServerResponse } from 'node:http';
import type { DashboardAssets } from '../../shared/dashboard/assets.js';
import { DashboardSessions, LoginLimiter } from '../../shared/dashboard/auth.js';
import { LiveUpdates } from '../../shared/dashboard/live.js';
import { type ComponentHealth, createDashboard, isDashboardPath } from '../../shared/dashboard/routes.js';
import type { Log } from '../../shared/ports/index.js';
import type { OperatorRequest } from '../../shared/usecases/operator.js';
import { readBody } from '../local/server.js';
import { dashboardAssets } from './build.js';

export interface LocalDashboardOptions {
  /** The login password: the bot's admin token (PINEBRIDGE_ADMIN_TOKEN in .env). */
  adminToken: string;
  operate(request: OperatorRequest, source: string): Promise<unknown>;
  health(): Promise<ComponentHealth>;
  log: Log;
  /** How often every open page gets a fresh status without any event (default 30 s). */
  heartbeatMs?: number;
  assets?: () => Promise<DashboardAssets>;
}

/** The dashboard on the local bot's HTTP server: its routes, plus the live stream at GET /events. */
export interface LocalDashboard {
  matches(path: string): boolean;
  serve(req: IncomingMessage, res: ServerResponse, url: URL, path: string): Promise<void>;
  /** Something changed: every open page gets a fresh status. */
  notify(): void;
  /** Ends every live stream (before the server closes: an open stream would hold it open). */
  stop(): void;
}

export function createLocalDashboard(options: LocalDashboardOptions): LocalDashboard {
  // Signed with a key of this process only: after a restart the page asks for the password again.
  const sessions = new DashboardSessions({ salt: DashboardSessions.processSalt() });
  const live = new LiveUpdates(
    {
      status: (rejected) => options.operate({ action: 'status', rejected }, 'dashboard'),
      health: options.health,
      isLive: (session) => sessions.isLive(session),
      log: options.log,
    },
    options.heartbeatMs,
  );
  const dashboard = createDashboard({
    password: async () => options.adminToken,
    operate: options.operate,
    health: options.health,
    // Bundled on the first request and kept (about a second, in esbuild's own process): a bot
    // nobody looks at spends nothing on it, and its start-up and first alerts compete with nothing.
    assets: options.assets ?? dashboardAssets,
    updates: 'sse',
    pollSeconds: 5,
    secureCookies: false,
    sessions,
    limiter: new LoginLimiter(),
    onLogout: (session) => live.end(session.id),
  });

  return {
    matches: isDashboardPath,
    notify: () => live.notify(),
    stop: () => live.stop(),
    async serve(req, res, url, path) {
      const headers = Object.fromEntries(
        Object.entries(req.headers).map(([k, v]) => [k, Array.isArray(v) ? v.join(', ') : v]),
      );
      if (path === '/events') {
        if (req.method !== 'GET') return reply(res, 405, { error: 'use GET' }, { allow: 'GET' });
        const session = await dashboard.session(headers);
        if (session === undefined) return reply(res, 401, { error: 'login required' });
        return live.attach(res, session, url.searchParams.get('rejected') === 'true');
      }
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
