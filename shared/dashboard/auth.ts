import { createHmac, randomBytes } from 'node:crypto';
import { secretsMatch } from '../domain/secrets.js';

/** How long a dashboard login lasts: a trading day and then some, so the page can stay open. */
export const SESSION_TTL_SECONDS = 12 * 60 * 60;

/**
 * How long a live-update token lasts: long enough to open the realtime connection and subscribe,
 * short enough that one copied out of a page is soon worthless. The page asks for a fresh one
 * (GET /api/session, with its cookie) before every (re)connection.
 */
export const LIVE_TOKEN_TTL_SECONDS = 5 * 60;

/** The header the page sends its CSRF token in; a cross-site form or `no-cors` fetch cannot set it. */
export const CSRF_HEADER = 'x-csrf-token';

export interface Session {
  /** Random, 128 bits; names the session in the audit trail and for logout. */
  id: string;
  /** Epoch seconds. */
  expiresAt: number;
}

/**
 * The two signed values, each `<version>.<session id>.<expires>.<hmac>` with the HMAC taken under
 * its own label: the session cookie, and the live-update token. Neither passes for the other.
 */
const SIGNED = {
  session: { version: 'v1', label: 'session' },
  live: { version: 'live1', label: 'live' },
} as const;
type Signed = (typeof SIGNED)[keyof typeof SIGNED];
const SIGNED_VALUE = /^([a-z0-9]{1,8})\.([A-Za-z0-9_-]{22})\.(\d{1,12})\.([A-Za-z0-9_-]{43})$/;

const mac = (key: Buffer, text: string) => createHmac('sha256', key).update(text).digest('base64url');

/**
 * Dashboard sessions as signed cookie values, `v1.<id>.<expires>.<hmac>`, so any Lambda container
 * can check one without a session table. The HMAC key is derived from the password (and, locally,
 * a per-process salt): the cookie holds no secret, a new password ends every session, and a local
 * restart asks for the password again. A CSRF token is the session id signed under another label,
 * so it needs no storage either and is worthless without the session cookie it belongs to.
 *
 * A live-update token (`live1.<id>.<expires>.<hmac>`, another label again) lets the page's
 * realtime connection prove its session without the cookie, which stays HttpOnly: it expires
 * within LIVE_TOKEN_TTL_SECONDS, never after its session, and opens nothing but the updates channel.
 *
 * Logout is remembered in memory until the session would have expired: in one local process that
 * revokes the cookie everywhere; in AWS it revokes it in the container that served the logout and
 * the browser drops it (docs/DASHBOARD.md).
 */
export class DashboardSessions {
  private derived: { password: string; key: Buffer } | undefined;
  private readonly revoked = new Map<string, number>();
  private readonly salt: string;
  private readonly ttlSeconds: number;
  private readonly now: () => number;

  constructor(options: { salt?: string; ttlSeconds?: number; now?: () => number } = {}) {
    this.salt = options.salt ?? '';
    this.ttlSeconds = options.ttlSeconds ?? SESSION_TTL_SECONDS;
    this.now = options.now ?? Date.now;
  }

  /** A fresh random salt: sessions signed with it die with the process that made it. */
  static processSalt(): string {
    return randomBytes(16).toString('base64url');
  }

  issue(password: string): { session: Session; cookieValue: string; maxAgeSeconds: number } {
    const session = {
      id: randomBytes(16).toString('base64url'),
      expiresAt: Math.floor(this.now() / 1000) + this.ttlSeconds,
    };
    return {
      session,
      cookieValue: this.sign(SIGNED.session, password, session),
      maxAgeSeconds: this.ttlSeconds,
    };
  }

  /** The session a cookie value proves, or undefined: malformed, forged, expired or logged out. */
  verify(password: string, cookieValue: string | undefined): Session | undefined {
    return this.check(SIGNED.session, password, cookieValue);
  }

  /** Still within its lifetime and not logged out. */
  isLive(session: Session): boolean {
    return session.expiresAt > this.now() / 1000 && !this.revoked.has(session.id);
  }

  /** A live-update token for the session, valid for LIVE_TOKEN_TTL_SECONDS at most. */
  liveToken(password: string, session: Session): { token: string; expiresAt: number } {
    const expiresAt = Math.min(session.expiresAt, Math.floor(this.now() / 1000) + LIVE_TOKEN_TTL_SECONDS);
    return { token: this.sign(SIGNED.live, password, { id: session.id, expiresAt }), expiresAt };
  }

  /**
   * The seconds a live-update token has left, or undefined: malformed, forged, expired, or its
   * session logged out (in this process).
   */
  liveTokenLeft(password: string, token: string | undefined): number | undefined {
    const proven = this.check(SIGNED.live, password, token);
    return proven === undefined ? undefined : Math.floor(proven.expiresAt - this.now() / 1000);
  }

  csrfToken(password: string, session: Session): string {
    return mac(this.keyFor(password), `csrf.${session.id}`);
  }

  checkCsrf(password: string, session: Session, presented: string | undefined): boolean {
    return presented !== undefined && secretsMatch(presented, this.csrfToken(password, session));
  }

  revoke(session: Session): void {
    const nowSeconds = this.now() / 1000;
    for (const [id, expiresAt] of this.revoked) if (expiresAt <= nowSeconds) this.revoked.delete(id);
    this.revoked.set(session.id, session.expiresAt);
  }

  private sign(kind: Signed, password: string, { id, expiresAt }: Session): string {
    const body = `${kind.version}.${id}.${expiresAt}`;
    return `${body}.${mac(this.keyFor(password), `${kind.label}.${body}`)}`;
  }

  /** What a signed value of `kind` proves, if it is well-formed, genuine, unexpired and not logged out. */
  private check(kind: Signed, password: string, value: string | undefined): Session | undefined {
    const parts = SIGNED_VALUE.exec(value ?? '');
    if (parts === null || parts[1] !== kind.version) return undefined;
    const [, , id = '', expires = '', signature = ''] = parts;
    const body = `${kind.version}.${id}.${expires}`;
    if (!secretsMatch(signature, mac(this.keyFor(password), `${kind.label}.${body}`))) return undefined;
    const session = { id, expiresAt: Number(expires) };
    return this.isLive(session) ? session : undefined;
  }

  private keyFor(password: string): Buffer {
    if (this.derived?.password !== password) {
      const key = createHmac('sha256', password).update(`pinebridge dashboard v1 ${this.salt}`).digest();
      this.derived = { password, key };
    }
    return this.derived.key;
  }
}

/**
 * Failed logins per client address, as a token bucket: `burst` failures at once, then one more
 * every `refillSeconds`. A locked-out address is refused before its password is even compared.
 * In memory: per process locally, per container in AWS (where API Gateway throttling also applies).
 */
export class LoginLimiter {
  private readonly buckets = new Map<string, { tokens: number; at: number }>();
  private readonly burst: number;
  private readonly refillMs: number;
  private readonly now: () => number;

  constructor(options: { burst?: number; refillSeconds?: number; now?: () => number } = {}) {
    this.burst = options.burst ?? 5;
    this.refillMs = (options.refillSeconds ?? 60) * 1000;
    this.now = options.now ?? Date.now;
  }

  /** undefined when the address may try; otherwise the seconds until it may. */
  retryAfter(address: string): number | undefined {
    const bucket = this.current(address);
    if (bucket.tokens >= 1) return undefined;
    return Math.max(1, Math.ceil(((1 - bucket.tokens) * this.refillMs) / 1000));
  }

  failed(address: string): void {
    const bucket = this.current(address);
    this.buckets.set(address, { tokens: Math.max(0, bucket.tokens - 1), at: bucket.at });
    // Addresses that stopped failing refill completely: forget them rather than grow forever.
    if (this.buckets.size > 10_000) {
      for (const [key] of this.buckets) if (this.current(key).tokens >= this.burst) this.buckets.delete(key);
    }
  }

  succeeded(address: string): void {
    this.buckets.delete(address);
  }

  private current(address: string): { tokens: number; at: number } {
    const now = this.now();
    const bucket = this.buckets.get(address);
    if (bucket === undefined) return { tokens: this.burst, at: now };
    return { tokens: Math.min(this.burst, bucket.tokens + (now - bucket.at) / this.refillMs), at: now };
  }
}

/** Cookie values by name from a Cookie header (the first of a repeated name wins). */
export function readCookie(header: string | undefined, name: string): string | undefined {
  for (const part of (header ?? '').split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}

/**
 * A state-changing request must come from a page of this very origin: `Origin` present and naming
 * the host the request was sent to, and, where the browser says, `Sec-Fetch-Site: same-origin`.
 * (Headers are lower-cased.) The SameSite=Strict cookie and the CSRF token are the other two locks.
 */
export function sameOrigin(headers: Readonly<Record<string, string | undefined>>): boolean {
  const origin = headers.origin;
  const host = headers.host;
  if (origin === undefined || host === undefined || origin === 'null') return false;
  let originHost: string;
  try {
    originHost = new URL(origin).host;
  } catch {
    return false;
  }
  if (originHost.toLowerCase() !== host.toLowerCase()) return false;
  const site = headers['sec-fetch-site'];
  return site === undefined || site === 'same-origin';
}
