import { describe, expect, it } from 'vitest';
import {
  DashboardSessions,
  LIVE_TOKEN_TTL_SECONDS,
  LoginLimiter,
  readCookie,
  sameOrigin,
} from '../../shared/dashboard/auth.js';

const PASSWORD = 'correct-horse-battery-staple';

/** A clock the test sets: milliseconds since the epoch. */
const clockAt = (ms: number) => {
  const clock = { ms, now: () => clock.ms };
  return clock;
};

describe('dashboard sessions', () => {
  it('issues a cookie value that proves its session and holds neither the password nor a key', () => {
    const sessions = new DashboardSessions({ now: () => 1_700_000_000_000, ttlSeconds: 3600 });

    const { session, cookieValue, maxAgeSeconds } = sessions.issue(PASSWORD);

    expect(sessions.verify(PASSWORD, cookieValue)).toEqual(session);
    expect(session.expiresAt).toBe(1_700_000_000 + 3600);
    expect(maxAgeSeconds).toBe(3600);
    expect(cookieValue).toMatch(/^v1\.[\w-]{22}\.\d+\.[\w-]{43}$/);
    expect(cookieValue).not.toContain(PASSWORD);
  });

  it('refuses a forged, altered, truncated or missing value', () => {
    const sessions = new DashboardSessions();
    const { cookieValue } = sessions.issue(PASSWORD);
    const [version, id, expires, signature] = cookieValue.split('.') as [string, string, string, string];
    const otherId = `${id.slice(0, -1)}${id.endsWith('A') ? 'B' : 'A'}`;

    for (const forged of [
      `${version}.${otherId}.${expires}.${signature}`,
      `${version}.${id}.${Number(expires) + 86_400}.${signature}`,
      `${version}.${id}.${expires}.${'A'.repeat(43)}`,
      `${version}.${id}.${expires}`,
      '',
      undefined,
    ])
      expect(sessions.verify(PASSWORD, forged)).toBeUndefined();
  });

  it('ends a session when it expires, when it is logged out, when the password changes, and with the process that signed it', () => {
    const clock = clockAt(1_700_000_000_000);
    const sessions = new DashboardSessions({ now: clock.now, ttlSeconds: 60, salt: 'process-1' });
    const expiring = sessions.issue(PASSWORD);
    const loggedOut = sessions.issue(PASSWORD);
    const restarted = new DashboardSessions({ now: clock.now, salt: 'process-2' });

    sessions.revoke(loggedOut.session);

    expect(sessions.verify(PASSWORD, loggedOut.cookieValue)).toBeUndefined();
    expect(sessions.verify('a-new-password-entirely', expiring.cookieValue)).toBeUndefined();
    expect(restarted.verify(PASSWORD, expiring.cookieValue)).toBeUndefined();
    expect(sessions.verify(PASSWORD, expiring.cookieValue)).toBeDefined();
    clock.ms += 60_000;
    expect(sessions.verify(PASSWORD, expiring.cookieValue)).toBeUndefined();
    expect(sessions.isLive(expiring.session)).toBe(false);
  });

  it('accepts a CSRF token only with the session it was made for', () => {
    const sessions = new DashboardSessions();
    const mine = sessions.issue(PASSWORD).session;
    const theirs = sessions.issue(PASSWORD).session;
    const token = sessions.csrfToken(PASSWORD, mine);

    expect(sessions.checkCsrf(PASSWORD, mine, token)).toBe(true);
    expect(sessions.checkCsrf(PASSWORD, theirs, token)).toBe(false);
    expect(sessions.checkCsrf(PASSWORD, mine, undefined)).toBe(false);
    expect(sessions.checkCsrf(PASSWORD, mine, '')).toBe(false);
    expect(sessions.checkCsrf('another-password-here', mine, token)).toBe(false);
  });
});

describe('live-update tokens', () => {
  it('last a few minutes, never beyond their session, and are neither the cookie nor the CSRF token', () => {
    const clock = clockAt(1_700_000_000_000);
    const sessions = new DashboardSessions({ now: clock.now, ttlSeconds: 3600 });
    const { session, cookieValue } = sessions.issue(PASSWORD);

    const { token, expiresAt } = sessions.liveToken(PASSWORD, session);

    expect(token).toMatch(/^live1\.[\w-]{22}\.\d+\.[\w-]{43}$/);
    expect(expiresAt).toBe(1_700_000_000 + LIVE_TOKEN_TTL_SECONDS);
    expect(sessions.liveTokenLeft(PASSWORD, token)).toBe(LIVE_TOKEN_TTL_SECONDS);
    expect(token.split('.')[3]).not.toBe(cookieValue.split('.')[3]);
    expect(token).not.toContain(sessions.csrfToken(PASSWORD, session));
    // Neither opens what the other does.
    expect(sessions.verify(PASSWORD, token)).toBeUndefined();
    expect(sessions.liveTokenLeft(PASSWORD, cookieValue)).toBeUndefined();
    clock.ms += (LIVE_TOKEN_TTL_SECONDS - 1) * 1000;
    expect(sessions.liveTokenLeft(PASSWORD, token)).toBe(1);
    clock.ms += 1000;
    expect(sessions.liveTokenLeft(PASSWORD, token)).toBeUndefined();

    // Near its end a session gives tokens only for what it has left.
    clock.ms = 1_700_000_000_000 + 3600_000 - 30_000;
    expect(sessions.liveToken(PASSWORD, session).expiresAt).toBe(session.expiresAt);
  });

  it('refuses a forged, altered or foreign token, one of a logged-out session, and one under another password', () => {
    const sessions = new DashboardSessions({ salt: 'process-1' });
    const { session } = sessions.issue(PASSWORD);
    const { token } = sessions.liveToken(PASSWORD, session);
    const [version, id, expires, signature] = token.split('.') as [string, string, string, string];
    const other = sessions.issue(PASSWORD).session;
    const otherToken = sessions.liveToken(PASSWORD, other).token;

    for (const forged of [
      `${version}.${id}.${Number(expires) + 3600}.${signature}`,
      `${version}.${other.id}.${expires}.${signature}`,
      `v1.${id}.${expires}.${signature}`,
      `${version}.${id}.${expires}`,
      '',
      undefined,
    ])
      expect(sessions.liveTokenLeft(PASSWORD, forged)).toBeUndefined();
    expect(sessions.liveTokenLeft('another-password-here', token)).toBeUndefined();
    expect(new DashboardSessions({ salt: 'process-2' }).liveTokenLeft(PASSWORD, token)).toBeUndefined();
    sessions.revoke(other);
    expect(sessions.liveTokenLeft(PASSWORD, otherToken)).toBeUndefined();
    expect(sessions.liveTokenLeft(PASSWORD, token)).toBeGreaterThan(0);
  });
});

describe('the failed-login limiter', () => {
  it('allows five failures from an address, then makes it wait, one more try a minute', () => {
    const clock = clockAt(0);
    const limiter = new LoginLimiter({ now: clock.now });

    const waits: (number | undefined)[] = [];
    for (let i = 0; i < 5; i++) {
      waits.push(limiter.retryAfter('203.0.113.7'));
      limiter.failed('203.0.113.7');
    }

    expect(waits).toEqual([undefined, undefined, undefined, undefined, undefined]);
    expect(limiter.retryAfter('203.0.113.7')).toBe(60);
    expect(limiter.retryAfter('198.51.100.1')).toBeUndefined();
    clock.ms += 30_000;
    expect(limiter.retryAfter('203.0.113.7')).toBe(30);
    clock.ms += 30_000;
    expect(limiter.retryAfter('203.0.113.7')).toBeUndefined();
    limiter.failed('203.0.113.7');
    expect(limiter.retryAfter('203.0.113.7')).toBe(60);
  });

  it('forgets an address once it logs in', () => {
    const limiter = new LoginLimiter({ now: () => 0, burst: 2 });
    limiter.failed('203.0.113.7');
    limiter.failed('203.0.113.7');

    limiter.succeeded('203.0.113.7');

    expect(limiter.retryAfter('203.0.113.7')).toBeUndefined();
  });
});

describe('same-origin check for state-changing requests', () => {
  const host = '127.0.0.1:8000';

  it('accepts an Origin naming the host the request went to', () => {
    expect(sameOrigin({ host, origin: 'http://127.0.0.1:8000' })).toBe(true);
    expect(sameOrigin({ host, origin: 'http://127.0.0.1:8000', 'sec-fetch-site': 'same-origin' })).toBe(true);
    expect(
      sameOrigin({
        host: 'abc.execute-api.us-east-1.amazonaws.com',
        origin: 'https://abc.execute-api.us-east-1.amazonaws.com',
      }),
    ).toBe(true);
  });

  it('refuses a missing, opaque, foreign or other-port Origin, and what the browser calls cross-site', () => {
    expect(sameOrigin({ host })).toBe(false);
    expect(sameOrigin({ host, origin: 'null' })).toBe(false);
    expect(sameOrigin({ host, origin: 'http://evil.example' })).toBe(false);
    expect(sameOrigin({ host, origin: 'http://127.0.0.1:8001' })).toBe(false);
    expect(sameOrigin({ host, origin: 'not a url' })).toBe(false);
    expect(sameOrigin({ origin: 'http://127.0.0.1:8000' })).toBe(false);
    expect(sameOrigin({ host, origin: 'http://127.0.0.1:8000', 'sec-fetch-site': 'cross-site' })).toBe(false);
    expect(sameOrigin({ host, origin: 'http://127.0.0.1:8000', 'sec-fetch-site': 'same-site' })).toBe(false);
  });
});

describe('readCookie', () => {
  it('finds a cookie by its exact name among others', () => {
    const header = 'theme=dark; pinebridge_session=v1.abc; xpinebridge_session=no';

    expect(readCookie(header, 'pinebridge_session')).toBe('v1.abc');
    expect(readCookie(header, 'missing')).toBeUndefined();
    expect(readCookie(undefined, 'pinebridge_session')).toBeUndefined();
  });
});
