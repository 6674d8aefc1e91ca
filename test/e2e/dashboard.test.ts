import { randomUUID } from 'node:crypto';
import { mkdirSync, mkdtempSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { APIGatewayProxyEvent } from 'aws-lambda';
import { type Browser, type BrowserContext, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDashboardHandler } from '../../functions/dashboard.js';
import { AppSyncEventsPublisher, createLivePublisher } from '../../functions/live-publisher.js';
import { writeDashboardAssets } from '../../infra/dashboard/build.js';
import { StatusAnswer } from '../../infra/dashboard/contract.js';
import { type LocalRuntime, startLocalRuntime } from '../../infra/local/runtime.js';
import { parseConfig } from '../../shared/config/load.js';
import { loadAssets } from '../../shared/dashboard/assets.js';
import { DashboardSessions, LoginLimiter } from '../../shared/dashboard/auth.js';
import { EVENTS_SUBPROTOCOL, LIVE_CHANNEL, REALTIME_PATH } from '../../shared/dashboard/live.js';
import { createDashboard } from '../../shared/dashboard/routes.js';
import type { Clock } from '../../shared/ports/index.js';
import { operate } from '../../shared/usecases/operator.js';
import { startFakeAppSyncEvents, TEST_CREDENTIALS, TEST_REGION } from '../fakes/appsync-events.js';
import { aStageGet } from '../fixtures/builders.js';

const SECRET = `whsec-${randomUUID()}`;
const ADMIN = `admin-${randomUUID()}`;
const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const ARTIFACTS = join(ROOT, '.vitest/artifacts');
const WAIT = { timeout: 15_000 };

/**
 * Moved forward by the test between trades, so the equity curve's points are minutes apart as in
 * a trading day; it starts two hours back and never passes the real time.
 */
class SteppedClock implements Clock {
  private at = Date.now() - 2 * 60 * 60 * 1000;
  now(): Date {
    return new Date(this.at);
  }
  step(minutes: number): void {
    this.at = Math.min(Date.now(), this.at + minutes * 60 * 1000);
  }
}

let runtime: LocalRuntime;
let browser: Browser;
let context: BrowserContext;
let page: Page;
let problems: string[];
let crossSite: Server;
let crossSiteUrl: string;
const clock = new SteppedClock();

/**
 * Everything a page does wrong that a user would not see: console errors, script errors, failed
 * requests, and any request to anywhere but the bot (every asset is served by Pinebridge).
 */
function watch(target: Page): string[] {
  const found: string[] = [];
  target.on('request', (request) => {
    if (!request.url().startsWith(`${runtime.url}/`)) found.push(`request elsewhere: ${request.url()}`);
  });
  target.on('console', (message) => {
    if (message.type() === 'error' || message.type() === 'warning')
      found.push(`console ${message.type()}: ${message.text()}`);
  });
  target.on('pageerror', (error) => found.push(`page error: ${error.message}`));
  target.on('requestfailed', (request) => {
    found.push(`request failed: ${request.url()} (${request.failure()?.errorText ?? '?'})`);
  });
  target.on('response', (response) => {
    if (response.status() >= 400) found.push(`HTTP ${response.status()}: ${response.url()}`);
  });
  return found;
}

async function alert(fields: Record<string, unknown>, minutes = 7) {
  clock.step(minutes);
  const response = await fetch(`${runtime.url}/webhook/${SECRET}`, {
    method: 'POST',
    headers: { 'content-type': 'text/plain' },
    body: JSON.stringify({ action: 'buy', quantity: 1, id: randomUUID(), ...fields }),
  });
  expect(response.status).toBe(202);
  // Decided and booked at this time, before the clock moves on.
  await runtime.settle();
  return ((await response.json()) as { signalId: string }).signalId;
}

/** The bot's own view, through the CLI's Bearer-token API (the one source of truth the page shows). */
async function status() {
  const response = await fetch(`${runtime.url}/status`, { headers: { authorization: `Bearer ${ADMIN}` } });
  return StatusAnswer.parse(await response.json());
}

async function sessionCookie(): Promise<string> {
  const cookie = (await context.cookies(runtime.url)).find((c) => c.name === 'pinebridge_session');
  if (cookie === undefined) throw new Error('no session cookie');
  return `${cookie.name}=${cookie.value}`;
}

/** Opens the realtime endpoint at `base` with a token as the page would: `open`, or `refused`. */
function realtimeUpgrade(base: string, token: string): Promise<'open' | 'refused'> {
  const header = Buffer.from(JSON.stringify({ host: new URL(base).host, Authorization: token })).toString(
    'base64url',
  );
  const socket = new WebSocket(`${base}${REALTIME_PATH}`, [EVENTS_SUBPROTOCOL, `header-${header}`]);
  return new Promise((resolve) => {
    socket.addEventListener('open', () => {
      socket.close();
      resolve('open');
    });
    socket.addEventListener('error', () => resolve('refused'));
  });
}

async function logIn(target: Page, password: string) {
  await target.goto(`${runtime.url}/`);
  await target.getByLabel('Password').fill(password);
  await Promise.all([
    target.waitForURL(`${runtime.url}/`),
    target.getByRole('button', { name: 'Log in' }).click(),
  ]);
}

/** The whole page as a test artifact; for docs/images, the whole page or only what the screen shows. */
async function screenshot(target: Page, name: string, docs: 'full page' | 'screen') {
  await target.screenshot({ path: join(ARTIFACTS, name), fullPage: true });
  await target.screenshot({ path: join(ROOT, 'docs/images', name), fullPage: docs === 'full page' });
}

beforeAll(async () => {
  runtime = await startLocalRuntime({
    config: parseConfig({
      api: { throttle: { rateLimit: 1000, burstLimit: 1000 } },
      risk: {
        duplicateWindowSeconds: 0,
        pyramiding: true,
        maxOrdersPerMinute: 1000,
        maxOrdersPerMinutePerSymbol: 1000,
      },
    }),
    webhookSecret: SECRET,
    adminToken: ADMIN,
    port: 0,
    clock,
  });
  browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
  context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  page = await context.newPage();
  problems = watch(page);
  // Another site (a different host is a different site) with a page that tries to stop trading.
  crossSite = createServer((_req, res) => {
    const target = `${runtime.url}/api/admin/stop`;
    res.writeHead(200, { 'content-type': 'text/html' });
    res.end(`<!doctype html><form id="f" method="post" action="${target}" enctype="text/plain">
      <input name='{"reason":"cross-site","flatten":true,"x":"' value='"}'></form>
      <script>fetch(${JSON.stringify(target)}, { method: 'POST', mode: 'no-cors', credentials: 'include',
        body: '{"flatten":true}' }).finally(() => document.getElementById('f').submit());</script>`);
  });
  await new Promise<void>((resolve) => crossSite.listen(0, '127.0.0.2', resolve));
  crossSiteUrl = `http://127.0.0.2:${(crossSite.address() as AddressInfo).port}/`;
  mkdirSync(ARTIFACTS, { recursive: true });
  mkdirSync(join(ROOT, 'docs/images'), { recursive: true });
});

afterAll(async () => {
  await browser?.close();
  await new Promise((resolve) => crossSite?.close(resolve));
  await runtime?.stop();
});

describe('the web dashboard in a real browser', () => {
  it('requires a login: the page, the API and the live updates refuse without it, and a wrong password is refused', async () => {
    const root = await fetch(`${runtime.url}/`, { redirect: 'manual' });
    const api = await fetch(`${runtime.url}/api/status`);
    const live = await realtimeUpgrade(runtime.url.replace('http:', 'ws:'), 'live1.not-a-token');
    const action = await fetch(`${runtime.url}/api/admin/stop`, {
      method: 'POST',
      headers: { origin: runtime.url, 'content-type': 'application/json' },
      body: '{}',
    });
    const stranger = await browser.newPage();
    await stranger.goto(`${runtime.url}/`);
    const landedOn = new URL(stranger.url()).pathname;
    await stranger.getByLabel('Password').fill('not-the-token');
    const [refused] = await Promise.all([
      stranger.waitForResponse((r) => r.url().endsWith('/login') && r.request().method() === 'POST'),
      stranger.getByRole('button', { name: 'Log in' }).click(),
    ]);
    const message = await stranger.getByRole('alert').textContent();
    const strangerCookies = await stranger.context().cookies();
    await stranger.close();

    expect(root.status).toBe(303);
    expect(root.headers.get('location')).toBe('/login');
    expect(api.status).toBe(401);
    expect(live).toBe('refused');
    expect(action.status).toBe(401);
    expect(landedOn).toBe('/login');
    expect(refused.status()).toBe(401);
    expect(message).toContain('Wrong password');
    expect(strangerCookies).toEqual([]);
    expect((await status()).tradingState).toBe('ACTIVE');
  });

  it('logs in with the admin token into an HttpOnly, SameSite=Strict session cookie that holds no secret, and shows the live state', async () => {
    await logIn(page, ADMIN);

    await page.locator('#trading-state', { hasText: 'ACTIVE' }).waitFor(WAIT);
    await page.locator('#connection', { hasText: 'Live' }).waitFor(WAIT);
    const [cookie] = await context.cookies(runtime.url);
    expect(new URL(page.url()).pathname).toBe('/');
    expect(cookie).toMatchObject({
      name: 'pinebridge_session',
      httpOnly: true,
      sameSite: 'Strict',
      path: '/',
    });
    expect(cookie?.value).not.toContain(ADMIN);
    expect(await page.locator('#health').textContent()).toMatch(/database\s*ok/);
  });

  it('shows a filled order and the new position after a test alert, without a reload', async () => {
    await page.evaluate('window.pinebridgeNotReloaded = true');

    await alert({ ticker: 'AAPL', quantity: 10, price: 187.5 });

    const order = page.locator('#orders tbody tr', { hasText: 'AAPL' }).filter({ hasText: 'filled' });
    const position = page.locator('#positions tbody tr', { hasText: 'AAPL' });
    await order.waitFor(WAIT);
    await position.waitFor(WAIT);
    expect(await position.textContent()).toMatch(/AAPL\s*10\s*\$187\.50/);
    expect(await order.textContent()).toMatch(/buy\s*10\s*filled\s*10\s*\$187\.50/);
    expect(await page.evaluate('window.pinebridgeNotReloaded')).toBe(true);
  });

  it('shows a rejected signal with its reason, and the rejected-only filter shows only rejections', async () => {
    await alert({ ticker: 'DOGE', quantity: 100, price: 0.1 });

    const rejected = page.locator('#signals tbody tr', { hasText: 'DOGE' });
    await rejected.waitFor(WAIT);
    await page.locator('#signals tbody tr', { hasText: 'SYMBOL_NOT_ALLOWED' }).waitFor(WAIT);
    await page.getByLabel('Rejected only').check();
    await page
      .locator('#signals .pill-filled')
      .first()
      .waitFor({ state: 'detached', ...WAIT });

    expect(await rejected.textContent()).toMatch(/rejected\s*SYMBOL_NOT_ALLOWED/);
    expect(await page.locator('#signals tbody tr').count()).toBe(
      (await status()).signals.filter((s) => s.status === 'rejected').length,
    );
    await page.getByLabel('Rejected only').uncheck();
    await page.locator('#signals .pill-filled').first().waitFor(WAIT);
  });

  it('saves screenshots of the dashboard on a desktop and on a phone', async () => {
    // A morning's trading, so every panel has something to show.
    await alert({ ticker: 'MSFT', quantity: 5, price: 410.25 });
    await alert({ ticker: 'NVDA', quantity: 40, price: 121.1 });
    await alert({ ticker: 'AAPL', action: 'sell', quantity: 4, price: 191.2 });
    await alert({ ticker: 'NVDA', action: 'sell', quantity: 15, price: 118.4 });
    await alert({ ticker: 'MSFT', quantity: 100, price: 412.5 }, 3);
    await alert({ ticker: 'MSFT', quantity: 3, price: 415.8 });
    await alert({ ticker: 'AAPL', action: 'sell', quantity: 2, price: 193.9 });
    await runtime.settle();
    const expected = await status();
    // The last push carries every order, and the positions they left, in one status.
    await page
      .locator('#orders tbody tr')
      .nth(expected.orders.length - 1)
      .waitFor(WAIT);

    await screenshot(page, 'dashboard.png', 'full page');
    const phone = await context.newPage();
    const phoneProblems = watch(phone);
    await phone.setViewportSize({ width: 390, height: 844 });
    await phone.goto(`${runtime.url}/`);
    await phone.locator('#positions tr', { hasText: 'NVDA' }).waitFor(WAIT);
    await phone.locator('#connection', { hasText: 'Live' }).waitFor(WAIT);
    await screenshot(phone, 'dashboard-phone.png', 'screen');
    const phoneWidth = await phone.evaluate('document.documentElement.scrollWidth');
    const phoneFound = [...phoneProblems];
    await phone.close();

    expect(expected.positions.map((p) => p.symbol).sort()).toEqual(['AAPL', 'MSFT', 'NVDA']);
    expect(expected.equityCurve.length).toBeGreaterThan(5);
    // Readable on a phone: nothing wider than the screen (tables become label/value cards).
    expect(phoneWidth).toBeLessThanOrEqual(390);
    expect(phoneFound).toEqual([]);
  });

  it('falls back to polling the status API while the live-update connection is down, and goes live again', async () => {
    const polling = await context.newPage();
    // Every connection is closed at once, as a network that drops WebSockets would.
    let refusing = true;
    await polling.routeWebSocket('**/event/realtime', (ws) => {
      if (refusing) ws.close({ code: 1011, reason: 'no realtime here' });
      else ws.connectToServer();
    });
    await polling.goto(`${runtime.url}/`);
    await polling.locator('#connection', { hasText: 'Polling every' }).waitFor(WAIT);

    await alert({ ticker: 'QQQ', quantity: 2, price: 512.3 });

    await polling.locator('#positions tbody tr', { hasText: 'QQQ' }).waitFor(WAIT);
    refusing = false;
    // The page subscribes again after 2 s, doubling (2, 4, 8, 16 s…): live again by the next try.
    await polling.locator('#connection', { hasText: 'Live' }).waitFor({ timeout: 45_000 });
    await polling.close();
  });

  it('the emergency stop asks first; cancelling changes nothing, confirming with flatten halts and closes every position; resume brings ACTIVE', async () => {
    const dialog = page.getByRole('dialog');
    await page.getByRole('button', { name: 'Emergency stop' }).click();
    await dialog.waitFor(WAIT);
    await dialog.getByRole('button', { name: 'Cancel' }).click();
    await dialog.waitFor({ state: 'hidden', ...WAIT });
    expect((await status()).tradingState).toBe('ACTIVE');

    await page.getByRole('button', { name: 'Emergency stop' }).click();
    await dialog.getByLabel('Also close every position').check();
    await dialog.getByLabel('Reason').fill('dashboard test');
    await dialog.getByRole('button', { name: 'Stop trading' }).click();

    await page.locator('#trading-state', { hasText: 'HALTED' }).waitFor(WAIT);
    await page.locator('#positions', { hasText: 'No open positions.' }).waitFor(WAIT);
    const halted = await status();
    expect(halted.tradingState).toBe('HALTED');
    expect(halted.breaker).toMatchObject({ trip: 'EMERGENCY_STOP', reason: 'dashboard test' });
    expect(halted.positions).toEqual([]);
    expect(await page.locator('#breaker').textContent()).toMatch(
      /EMERGENCY_STOP.*dashboard test.*manual reset only/,
    );
    expect(halted.tradingStateHistory[0]?.source).toMatch(
      /^operator \(dashboard session [\w-]{8} from .+: stop\)$/,
    );

    await page.getByRole('button', { name: 'Resume' }).click();
    await dialog.getByRole('button', { name: 'Resume' }).click();
    await page.locator('#trading-state', { hasText: 'ACTIVE' }).waitFor(WAIT);
    expect((await status()).tradingState).toBe('ACTIVE');
  });

  it('refuses cross-site admin requests (no CSRF token, a foreign Origin, or a page of another site) and changes nothing', async () => {
    const cookie = await sessionCookie();
    const before = await status();
    const attempt = (headers: Record<string, string>) =>
      fetch(`${runtime.url}/api/admin/stop`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...headers },
        body: '{"flatten":true}',
      });
    const csrfToken = (
      (await (await fetch(`${runtime.url}/api/session`, { headers: { cookie } })).json()) as {
        csrfToken: string;
      }
    ).csrfToken;

    const noToken = await attempt({ cookie, origin: runtime.url });
    const wrongToken = await attempt({ cookie, origin: runtime.url, 'x-csrf-token': 'forged' });
    const foreignOrigin = await attempt({ cookie, origin: 'http://evil.example', 'x-csrf-token': csrfToken });
    const noOrigin = await attempt({ cookie, 'x-csrf-token': csrfToken });
    const crossSitePage = await context.newPage();
    const [formPost] = await Promise.all([
      crossSitePage.waitForResponse(
        (r) => r.url().endsWith('/api/admin/stop') && r.request().isNavigationRequest(),
      ),
      crossSitePage.goto(crossSiteUrl),
    ]);
    await crossSitePage.close();

    expect(noToken.status).toBe(403);
    expect(wrongToken.status).toBe(403);
    expect(foreignOrigin.status).toBe(403);
    expect(noOrigin.status).toBe(403);
    // The SameSite=Strict cookie never left with the other site's form: not even logged in.
    expect(formPost.status()).toBe(401);
    const after = await status();
    expect(after.tradingState).toBe('ACTIVE');
    expect(after.tradingStateHistory).toEqual(before.tradingStateHistory);
    expect(after.orders).toEqual(before.orders);
  });

  it('the page logged no console error and no request of it failed', () => {
    expect(problems).toEqual([]);
  });

  it('logging out ends the session: the cookie no longer opens the API', async () => {
    const cookie = await sessionCookie();

    await Promise.all([
      page.waitForURL(/\/login$/, WAIT),
      page.getByRole('button', { name: 'Log out' }).click(),
    ]);

    expect((await fetch(`${runtime.url}/api/status`, { headers: { cookie } })).status).toBe(401);
    expect(await context.cookies(runtime.url)).toEqual([]);
  });

  it('the Bearer-token API the CLI uses still works beside the dashboard', async () => {
    const response = await fetch(`${runtime.url}/status/positions`, {
      headers: { authorization: `Bearer ${ADMIN}` },
    });
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ positions: [] });
  });

  it('rate-limits failed logins from one address (429, and the right password is not even tried)', async () => {
    const attempt = (password: string) =>
      fetch(`${runtime.url}/login`, {
        method: 'POST',
        redirect: 'manual',
        headers: { origin: runtime.url, 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ password }).toString(),
      });
    const codes: number[] = [];
    for (let i = 0; i < 6; i++) codes.push((await attempt('wrong-password')).status);
    const right = await attempt(ADMIN);

    expect(codes.slice(0, 5)).toEqual([401, 401, 401, 401, 401]);
    expect(codes[5]).toBe(429);
    expect(right.status).toBe(429);
    expect(Number(right.headers.get('retry-after'))).toBeGreaterThan(0);
  });
});

describe('the dashboard function in AWS', () => {
  it('serves the page, the login and the bundled script from the assets its bundling step wrote', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'pinebridge-dashboard-'));
    await writeDashboardAssets(dir);
    const handler = createDashboardHandler(
      createDashboard({
        password: async () => ADMIN,
        operate: async () => ({}),
        health: async () => ({ ok: true, components: {} }),
        assets: () => loadAssets(dir),
        pollSeconds: 10,
        secureCookies: true,
        sessions: new DashboardSessions(),
        limiter: new LoginLimiter(),
      }),
    );
    const get = (path: string) => handler(aStageGet(path));

    const [script, login, root] = [await get('/assets/app.js'), await get('/login'), await get('/')];

    expect(script.statusCode).toBe(200);
    // lightweight-charts is inside: the page loads nothing from anywhere else.
    expect(script.body.length).toBeGreaterThan(100_000);
    expect(script.body).not.toMatch(/\bimport\s*\(|from\s*["']https?:/);
    expect(login.statusCode).toBe(200);
    expect(login.body).toContain('name="password"');
    expect(root).toMatchObject({ statusCode: 303, headers: { location: '/prod/login' } });
  });

  it('a deployed page shows a fill without a reload once the bus publishes to AppSync Events, and was not told before', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'pinebridge-dashboard-'));
    await writeDashboardAssets(dir);
    const appsync = await startFakeAppSyncEvents(async () => ADMIN);
    // The dashboard function as deployed (its routes, AWS sessions, the live endpoint from its
    // environment), reading the same book the trades below are booked in; behind an HTTP adapter
    // standing in for API Gateway.
    const handler = createDashboardHandler(
      createDashboard({
        password: async () => ADMIN,
        operate: (request, source) => operate(runtime.deps, request, source),
        health: async () => ({ ok: true, components: { database: 'ok' } }),
        assets: () => loadAssets(dir),
        live: () => ({ url: appsync.realtimeUrl, host: appsync.host, channel: LIVE_CHANNEL }),
        pollSeconds: 10,
        // Served over plain http on loopback here: no Secure cookie (in AWS it is one).
        secureCookies: false,
        sessions: new DashboardSessions(),
        limiter: new LoginLimiter(),
      }),
    );
    const api = await serveAsApiGateway(handler);
    const publish = createLivePublisher(
      new AppSyncEventsPublisher(appsync.httpUrl, TEST_REGION, async () => TEST_CREDENTIALS),
    );
    const deployed = await browser.newPage();
    const deployedProblems: string[] = [];
    deployed.on('console', (m) => {
      if (m.type() === 'error' || m.type() === 'warning') deployedProblems.push(`console: ${m.text()}`);
    });
    deployed.on('pageerror', (error) => deployedProblems.push(`page error: ${error.message}`));
    try {
      await deployed.goto(`${api.url}/`);
      await deployed.getByLabel('Password').fill(ADMIN);
      await Promise.all([
        deployed.waitForURL(`${api.url}/`),
        deployed.getByRole('button', { name: 'Log in' }).click(),
      ]);
      await deployed.locator('#connection', { hasText: 'Live' }).waitFor(WAIT);
      await deployed.evaluate('window.pinebridgeNotReloaded = true');

      await alert({ ticker: 'META', quantity: 3, price: 601.2 });
      // Nothing on the channel yet: the page, live, does not poll, so it has not seen the fill.
      await new Promise((resolve) => setTimeout(resolve, 1_000));
      const before = await deployed.locator('#positions tbody tr', { hasText: 'META' }).count();
      const publishedAt = Date.now();
      await publish({
        source: 'pinebridge.notify',
        'detail-type': 'Notice',
        time: new Date().toISOString(),
        detail: {
          kind: 'fill',
          severity: 'info',
          title: 'Bought 3 META',
          lines: [],
          at: new Date().toISOString(),
        },
      });
      await deployed.locator('#positions tbody tr', { hasText: 'META' }).waitFor(WAIT);
      const shownAfterMs = Date.now() - publishedAt;

      expect(before).toBe(0);
      expect(await deployed.evaluate('window.pinebridgeNotReloaded')).toBe(true);
      // Within the issue's ~2 s of the publish (a loopback figure: AWS adds the bus and AppSync hops).
      expect(shownAfterMs).toBeLessThan(2_000);
      expect(appsync.authorizations.map((a) => [a.operation, a.allowed])).toEqual([
        ['connect', true],
        ['subscribe', true],
      ]);
      expect(deployedProblems).toEqual([]);
    } finally {
      await deployed.close();
      await api.close();
      await appsync.close();
    }
  });
});

/** Serves a dashboard function over HTTP as API Gateway's proxy integration would call it (no stage). */
async function serveAsApiGateway(
  handler: ReturnType<typeof createDashboardHandler>,
): Promise<{ url: string; close(): Promise<void> }> {
  const server = createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const url = new URL(req.url ?? '/', 'http://localhost');
    const headers: Record<string, string> = {};
    for (const [name, value] of Object.entries(req.headers))
      if (value !== undefined) headers[name] = Array.isArray(value) ? value.join(', ') : value;
    const body = Buffer.concat(chunks).toString('utf8');
    const result = await handler({
      httpMethod: req.method ?? 'GET',
      path: url.pathname,
      headers,
      body: body === '' ? null : body,
      isBase64Encoded: false,
      multiValueQueryStringParameters: null,
      queryStringParameters: url.search === '' ? null : Object.fromEntries(url.searchParams),
      requestContext: { path: url.pathname, identity: { sourceIp: '127.0.0.1' } },
    } as unknown as APIGatewayProxyEvent);
    res.writeHead(result.statusCode, result.headers as Record<string, string>);
    res.end(result.body);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: async () => {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}
