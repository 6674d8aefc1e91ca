import * as z from 'zod';
import { secretsMatch } from '../domain/secrets.js';
import { firstIssue, OperatorRequest, operatorFieldsFromQuery } from '../usecases/operator.js';
import type { Asset, DashboardAssets } from './assets.js';
import {
  CSRF_HEADER,
  type DashboardSessions,
  type LoginLimiter,
  readCookie,
  type Session,
  sameOrigin,
} from './auth.js';
import type { LiveEndpoint } from './live.js';

/** One HTTP request, as the local server and the Lambda's API Gateway event both describe it. */
export interface DashboardRequest {
  method: string;
  /** The path inside the dashboard: `/`, `/login`, `/api/status`… (without an API stage). */
  path: string;
  /** What goes before an absolute path in a redirect: '' locally, `/dev` behind API Gateway's stage. */
  basePath: string;
  query: URLSearchParams;
  /** Names lower-cased. */
  headers: Readonly<Record<string, string | undefined>>;
  body: string;
  sourceIp: string;
}

export interface DashboardResponse {
  statusCode: number;
  headers: Record<string, string>;
  body: string;
}

export interface ComponentHealth {
  ok: boolean;
  components: Record<string, string>;
}

export interface DashboardOptions {
  /** The login password: the admin token locally, the dashboard secret in AWS. */
  password(): Promise<string>;
  /** The operator requests (shared/usecases/operator.ts); `source` is recorded with every action. */
  operate(request: OperatorRequest, source: string): Promise<unknown>;
  health(): Promise<ComponentHealth>;
  assets(): Promise<DashboardAssets>;
  /**
   * Where the page subscribes to live updates (shared/dashboard/live.ts): the local bot's own
   * endpoint, or the AppSync Events API in AWS. Without it the page polls every `pollSeconds`;
   * with it the page polls only while the connection is down.
   */
  live?(request: DashboardRequest): LiveEndpoint;
  pollSeconds: number;
  /** Served over https (AWS): the cookie is `Secure` and `__Host-` prefixed. */
  secureCookies: boolean;
  sessions: DashboardSessions;
  limiter: LoginLimiter;
}

export interface Dashboard {
  handle(request: DashboardRequest): Promise<DashboardResponse>;
  /** The live session a request's cookie proves, or undefined. */
  session(headers: DashboardRequest['headers']): Promise<Session | undefined>;
}

/** The paths the dashboard answers; the local server sends these here and the rest to its own routes. */
export const isDashboardPath = (path: string): boolean =>
  path === '/' ||
  path === '/login' ||
  path === '/logout' ||
  path.startsWith('/assets/') ||
  path.startsWith('/api/');

const READ_VIEWS = ['positions', 'orders', 'signals', 'pnl'] as const;

/** The page's policy; `connect` adds the realtime endpoint's origin to what the page may reach. */
const contentSecurityPolicy = (connect: readonly string[] = []) =>
  [
    "default-src 'none'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self'",
    `connect-src ${["'self'", ...connect].join(' ')}`,
    "base-uri 'none'",
    "form-action 'self'",
    "frame-ancestors 'none'",
  ].join('; ');

const COMMON_HEADERS = {
  'x-content-type-options': 'nosniff',
  // Not no-referrer: under it browsers send `Origin: null` even on this page's own POSTs, and the
  // admin actions need the Origin to check.
  'referrer-policy': 'same-origin',
  'x-frame-options': 'DENY',
};

const json = (
  statusCode: number,
  body: unknown,
  headers: Record<string, string> = {},
): DashboardResponse => ({
  statusCode,
  headers: {
    'content-type': 'application/json',
    'cache-control': 'no-store',
    ...COMMON_HEADERS,
    ...headers,
  },
  body: JSON.stringify(body),
});

const html = (statusCode: number, body: string, headers: Record<string, string> = {}): DashboardResponse => ({
  statusCode,
  headers: {
    'content-type': 'text/html; charset=utf-8',
    'cache-control': 'no-store',
    'content-security-policy': contentSecurityPolicy(),
    ...COMMON_HEADERS,
    ...headers,
  },
  body,
});

const redirect = (location: string, headers: Record<string, string> = {}): DashboardResponse => ({
  statusCode: 303,
  headers: { location, 'cache-control': 'no-store', ...COMMON_HEADERS, ...headers },
  body: '',
});

const escapeHtml = (text: string) => text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

/** The login page with a message in its slot (constant texts only, escaped all the same). */
const loginPage = (login: Asset, message?: string) =>
  message === undefined
    ? login.body
    : login.body.replace(
        '<!--message-->',
        `<p class="login-message" role="alert">${escapeHtml(message)}</p>`,
      );

const LoginForm = z.object({ password: z.string().max(1024) });

/** A form post (the login page) or JSON: the password, or undefined when neither. */
function passwordOf(request: DashboardRequest): string | undefined {
  const type = request.headers['content-type'] ?? '';
  let fields: unknown;
  if (type.startsWith('application/json')) {
    try {
      fields = JSON.parse(request.body);
    } catch {
      return undefined;
    }
  } else {
    fields = Object.fromEntries(new URLSearchParams(request.body));
  }
  const parsed = LoginForm.safeParse(fields);
  return parsed.success ? parsed.data.password : undefined;
}

/**
 * The web dashboard's routes, the same for the local bot and the dashboard Lambda:
 *
 *  1. `GET /` the page and `GET /assets/*` its script, stylesheet and icon — the page only with a
 *     session, else a redirect to the login.
 *  2. `GET /login`, `POST /login` (the password; failures rate-limited per address) which sets the
 *     HttpOnly, SameSite=Strict session cookie, and `POST /logout`.
 *  3. `GET /api/session` (the CSRF token, and where to subscribe to live updates with a fresh token), `GET /api/health`,
 *     `GET /api/status[/<view>]`: the operator's reads (docs/API.md), with the session cookie.
 *  4. `POST /api/admin/<stop|resume|reset-breaker>`: the operator's actions, only with the cookie,
 *     the session's CSRF token in `X-CSRF-Token`, and an `Origin` naming this host.
 */
export function createDashboard(options: DashboardOptions): Dashboard {
  const cookieName = options.secureCookies ? '__Host-pinebridge_session' : 'pinebridge_session';
  const cookie = (value: string, maxAge: number) =>
    `${cookieName}=${value}; Path=/; HttpOnly; SameSite=Strict; Max-Age=${maxAge}${options.secureCookies ? '; Secure' : ''}`;

  const sessionOf = async (headers: DashboardRequest['headers']): Promise<Session | undefined> => {
    const cookieValue = readCookie(headers.cookie, cookieName);
    // No cookie, no session: saying so needs no password, so an anonymous request (the login
    // page, a scanner) never reaches Secrets Manager in AWS.
    if (cookieValue === undefined) return undefined;
    return options.sessions.verify(await options.password(), cookieValue);
  };

  const serveAsset = (request: DashboardRequest, file: Asset): DashboardResponse =>
    request.headers['if-none-match'] === file.etag
      ? { statusCode: 304, headers: { etag: file.etag, 'cache-control': 'no-cache' }, body: '' }
      : {
          statusCode: 200,
          headers: {
            'content-type': file.contentType,
            // Revalidated on each load (a 304 when unchanged): a new build is never served stale.
            'cache-control': 'no-cache',
            etag: file.etag,
            ...COMMON_HEADERS,
          },
          body: file.body,
        };

  async function login(request: DashboardRequest): Promise<DashboardResponse> {
    const { login: page } = await options.assets();
    if (!sameOrigin(request.headers))
      return html(403, loginPage(page, 'Refused: the login must come from this page.'));
    const wait = options.limiter.retryAfter(request.sourceIp);
    if (wait !== undefined) {
      return html(429, loginPage(page, `Too many failed logins. Try again in ${wait} s.`), {
        'retry-after': String(wait),
      });
    }
    const password = await options.password();
    const presented = passwordOf(request);
    if (presented === undefined || !secretsMatch(presented, password)) {
      options.limiter.failed(request.sourceIp);
      return html(401, loginPage(page, 'Wrong password.'));
    }
    options.limiter.succeeded(request.sourceIp);
    const { cookieValue, maxAgeSeconds } = options.sessions.issue(password);
    return redirect(`${request.basePath}/`, { 'set-cookie': cookie(cookieValue, maxAgeSeconds) });
  }

  async function logout(request: DashboardRequest): Promise<DashboardResponse> {
    if (!sameOrigin(request.headers)) return json(403, { error: 'cross-site request refused' });
    const password = await options.password();
    const session = options.sessions.verify(password, readCookie(request.headers.cookie, cookieName));
    if (session !== undefined) {
      if (!options.sessions.checkCsrf(password, session, request.headers[CSRF_HEADER]))
        return json(403, { error: 'cross-site request refused' });
      options.sessions.revoke(session);
    }
    return json(200, { loggedOut: true }, { 'set-cookie': cookie('', 0) });
  }

  async function api(request: DashboardRequest, session: Session): Promise<DashboardResponse> {
    const { path, method } = request;
    const password = await options.password();
    if (path === '/api/session') {
      if (method !== 'GET') return json(405, { error: 'use GET' }, { allow: 'GET' });
      const live = options.live?.(request);
      return json(200, {
        csrfToken: options.sessions.csrfToken(password, session),
        expiresAt: session.expiresAt,
        // A fresh token with every answer: the page asks before each (re)connection.
        live:
          live === undefined ? null : { ...live, token: options.sessions.liveToken(password, session).token },
        pollSeconds: options.pollSeconds,
      });
    }
    if (path === '/api/health') {
      if (method !== 'GET') return json(405, { error: 'use GET' }, { allow: 'GET' });
      return json(200, await options.health());
    }
    const read = /^\/api\/status(?:\/([a-z-]+))?$/.exec(path);
    if (read) {
      if (method !== 'GET') return json(405, { error: 'use GET' }, { allow: 'GET' });
      const view = read[1];
      if (view !== undefined && !(READ_VIEWS as readonly string[]).includes(view))
        return json(404, { error: `no status view ${view}; try ${READ_VIEWS.join(', ')}` });
      const parsed = OperatorRequest.safeParse({
        ...operatorFieldsFromQuery(request.query),
        action: view ?? 'status',
      });
      if (!parsed.success) return json(400, { error: firstIssue(parsed.error) });
      return json(200, await options.operate(parsed.data, 'dashboard'));
    }
    const write = /^\/api\/admin\/(stop|resume|reset-breaker)$/.exec(path);
    if (write) {
      if (method !== 'POST') return json(405, { error: 'use POST' }, { allow: 'POST' });
      // All three locks: the SameSite=Strict cookie (checked above), this page's origin, the CSRF token.
      if (
        !sameOrigin(request.headers) ||
        !options.sessions.checkCsrf(password, session, request.headers[CSRF_HEADER])
      )
        return json(403, { error: 'cross-site request refused' });
      let body: unknown = {};
      if (request.body.trim() !== '') {
        try {
          body = JSON.parse(request.body);
        } catch {
          return json(400, { error: 'body must be a JSON object like {"reason": "…"}' });
        }
      }
      if (typeof body !== 'object' || body === null || Array.isArray(body))
        return json(400, { error: 'body must be a JSON object like {"reason": "…"}' });
      const action = write[1] ?? '';
      const parsed = OperatorRequest.safeParse({ reason: `${action} from the dashboard`, ...body, action });
      if (!parsed.success) return json(400, { error: firstIssue(parsed.error) });
      const source = `operator (dashboard session ${session.id.slice(0, 8)} from ${request.sourceIp || 'unknown address'}: ${action})`;
      return json(200, await options.operate(parsed.data, source));
    }
    return json(404, { error: 'not found' });
  }

  return {
    session: sessionOf,
    async handle(request) {
      const { path, method } = request;
      if (path.startsWith('/assets/')) {
        if (method !== 'GET') return json(405, { error: 'use GET' }, { allow: 'GET' });
        const file = (await options.assets()).files.get(path.slice('/assets/'.length));
        return file === undefined ? json(404, { error: 'not found' }) : serveAsset(request, file);
      }
      if (path === '/login') {
        if (method === 'POST') return login(request);
        if (method !== 'GET') return json(405, { error: 'use GET or POST' }, { allow: 'GET, POST' });
        if ((await sessionOf(request.headers)) !== undefined) return redirect(`${request.basePath}/`);
        return html(200, loginPage((await options.assets()).login));
      }
      if (path === '/logout') {
        if (method !== 'POST') return json(405, { error: 'use POST' }, { allow: 'POST' });
        return logout(request);
      }
      const session = await sessionOf(request.headers);
      if (path === '/') {
        if (method !== 'GET') return json(405, { error: 'use GET' }, { allow: 'GET' });
        if (session === undefined) return redirect(`${request.basePath}/login`);
        const live = options.live?.(request);
        return html(200, (await options.assets()).page.body, {
          'content-security-policy': contentSecurityPolicy(
            live === undefined ? [] : [new URL(live.url).origin],
          ),
        });
      }
      if (path.startsWith('/api/')) {
        if (session === undefined) return json(401, { error: 'login required' });
        return api(request, session);
      }
      return json(404, { error: 'not found' });
    },
  };
}
