import {
  BaselineSeries,
  createChart,
  type IChartApi,
  type ISeriesApi,
  TickMarkType,
  type Time,
  type UTCTimestamp,
} from 'lightweight-charts';
import { config, type output, type ZodMiniType } from 'zod/mini';
import { EVENTS_SUBPROTOCOL } from '../../shared/dashboard/live.js';
import {
  browser,
  byId,
  type Child,
  h,
  type PageDialog,
  type PageElement,
  type PageInput,
  type PageSocket,
} from './browser.js';
import {
  ErrorAnswer,
  HealthAnswer,
  RealtimeMessage,
  ResumeAnswer,
  SessionAnswer,
  StatusAnswer,
  StopAnswer,
} from './contract.js';
import {
  chartPoints,
  formatMoney,
  formatPercent,
  formatPnl,
  formatQuantity,
  formatResets,
  formatTime,
  pnlClass,
} from './format.js';

/**
 * The dashboard page: reads the status once, then keeps it fresh. It subscribes to the live-update
 * channel (AppSync Events' realtime protocol: the AppSync API in AWS, the bot's own endpoint
 * locally) and reads the status again whenever a message says something changed; while that
 * connection is down it polls. Every answer is parsed before it is shown; a 401 anywhere goes to
 * the login.
 */

// zod would otherwise probe `new Function` once, which the page's Content-Security-Policy (no
// 'unsafe-eval') reports as a violation on the console even though zod catches it.
config({ jitless: true });

class LoggedOut extends Error {
  override readonly name = 'LoggedOut';
}

type Status = output<typeof StatusAnswer>;
type Health = output<typeof HealthAnswer>;

let session: output<typeof SessionAnswer> | undefined;
let rejectedOnly = false;
let chart: { api: IChartApi; series: ISeriesApi<'Baseline'> } | undefined;
let currentState: Status['tradingState'] | undefined;

const toLogin = () => browser.location.assign('login');

async function call<S extends ZodMiniType>(
  path: string,
  schema: S,
  post?: Record<string, unknown>,
): Promise<output<S>> {
  const response = await fetch(path, {
    method: post === undefined ? 'GET' : 'POST',
    credentials: 'same-origin',
    headers:
      post === undefined
        ? { accept: 'application/json' }
        : {
            accept: 'application/json',
            'content-type': 'application/json',
            'x-csrf-token': session?.csrfToken ?? '',
          },
    ...(post === undefined ? {} : { body: JSON.stringify(post) }),
  });
  if (response.status === 401) {
    toLogin();
    throw new LoggedOut('the session ended');
  }
  const body: unknown = await response.json();
  if (!response.ok) {
    const problem = ErrorAnswer.safeParse(body);
    throw new Error(problem.success ? problem.data.error : `the server answered ${response.status}`);
  }
  return schema.parse(body);
}

// ── Rendering ────────────────────────────────────────────────────────────────────────────────

interface Column<T> {
  header: string;
  cell: (row: T) => Child;
  numeric?: boolean;
  className?: (row: T) => string;
}

function table<T>(rows: readonly T[], columns: readonly Column<T>[], empty: string): PageElement {
  if (rows.length === 0) return h('p', { class: 'empty' }, empty);
  const classOf = (column: Column<T>, row?: T) =>
    [column.numeric ? 'num' : '', row === undefined ? '' : (column.className?.(row) ?? '')]
      .filter(Boolean)
      .join(' ');
  const attributes = (column: Column<T>, row?: T): Record<string, string> => {
    const className = classOf(column, row);
    return className === '' ? {} : { class: className };
  };
  return h(
    'table',
    {},
    h('thead', {}, h('tr', {}, ...columns.map((c) => h('th', { scope: 'col', ...attributes(c) }, c.header)))),
    h(
      'tbody',
      {},
      ...rows.map((row) =>
        h(
          'tr',
          {},
          ...columns.map((c) => h('td', { 'data-label': c.header, ...attributes(c, row) }, c.cell(row))),
        ),
      ),
    ),
  );
}

const pill = (text: string, kind: string) => h('span', { class: `pill pill-${kind}` }, text);

function fact(term: string, value: Child, className = ''): PageElement[] {
  return [h('dt', {}, term), h('dd', className === '' ? {} : { class: className }, value)];
}

function renderState(status: Status): void {
  currentState = status.tradingState;
  const badge = byId('trading-state');
  badge.textContent = status.tradingState;
  badge.className = `badge state-${status.tradingState.toLowerCase()}`;
  const { breaker } = status;
  byId('breaker').replaceChildren(
    ...fact('Trip', breaker.trip ?? (status.tradingState === 'ACTIVE' ? 'none (armed)' : '—')),
    ...fact('Reason', breaker.reason ?? '—'),
    ...fact('Since', formatTime(breaker.since)),
    ...fact('Resets', formatResets(status.tradingState, breaker.resetAt)),
  );
  byId<PageInput>('resume-button').disabled = status.tradingState === 'ACTIVE';
  byId('history').replaceChildren(
    ...status.tradingStateHistory.map((t) =>
      h('li', {}, h('time', {}, formatTime(t.at)), ` ${t.from} → ${t.to}: ${t.reason} (${t.source})`),
    ),
  );
}

function renderAccount(status: Status): void {
  const { account } = status;
  byId('account').replaceChildren(
    ...fact('Equity', formatMoney(account.equity), 'big'),
    ...fact('Session P&L', formatPnl(account.sessionPnl), `big ${pnlClass(account.sessionPnl)}`),
    ...fact('Cash', formatMoney(account.cash)),
    ...fact('Buying power', formatMoney(account.buyingPower)),
    ...fact('Realized P&L', formatPnl(account.realizedPnl), pnlClass(account.realizedPnl)),
    ...fact('Drawdown', formatPercent(account.drawdownPercent)),
    ...fact('Session start', formatMoney(account.sessionStartEquity)),
    ...fact('High-water mark', formatMoney(account.highWaterMark)),
  );
}

function renderChart(status: Status): void {
  const points = chartPoints(status.equityCurve);
  if (chart === undefined) {
    const api = createChart('equity-chart', {
      autoSize: true,
      layout: {
        background: { color: 'transparent' },
        textColor: '#9aa5b4',
        // Attribution is the footer's link instead: the logo brings an inline <style>, which the
        // page's Content-Security-Policy refuses.
        attributionLogo: false,
      },
      grid: { vertLines: { color: '#1d2530' }, horzLines: { color: '#1d2530' } },
      rightPriceScale: { borderVisible: false },
      timeScale: {
        borderVisible: false,
        timeVisible: true,
        secondsVisible: false,
        tickMarkFormatter: (time: Time, type: TickMarkType) => {
          if (typeof time !== 'number') return null;
          const at = new Date(time * 1000);
          return type <= TickMarkType.DayOfMonth
            ? at.toLocaleDateString('en-GB', { day: 'numeric', month: 'short' })
            : at.toLocaleTimeString('en-GB', { hour: '2-digit', minute: '2-digit' });
        },
      },
      localization: {
        timeFormatter: (time: Time) =>
          typeof time === 'number' ? formatTime(new Date(time * 1000).toISOString()) : String(time),
        priceFormatter: (price: number) => formatMoney(String(price)),
      },
      handleScroll: false,
      handleScale: false,
    });
    const series = api.addSeries(BaselineSeries, {
      priceFormat: { type: 'price', precision: 2, minMove: 0.01 },
      lineWidth: 2,
    });
    chart = { api, series };
  }
  const base = points[0]?.value ?? 0;
  chart.series.applyOptions({ baseValue: { type: 'price', price: base } });
  // UTCTimestamp is the library's branded number for "seconds since the epoch".
  chart.series.setData(points.map((p) => ({ time: p.time as UTCTimestamp, value: p.value })));
  chart.api.timeScale().fitContent();
}

function renderTables(status: Status): void {
  byId('positions').replaceChildren(
    table(
      status.positions,
      [
        { header: 'Symbol', cell: (p) => h('strong', {}, p.symbol) },
        {
          header: 'Qty',
          numeric: true,
          cell: (p) =>
            Number(p.pendingQuantity) === 0
              ? formatQuantity(p.quantity)
              : `${formatQuantity(p.quantity)} (${formatQuantity(p.pendingQuantity)} pending)`,
        },
        { header: 'Avg cost', numeric: true, cell: (p) => formatMoney(p.averageCost) },
        { header: 'Last', numeric: true, cell: (p) => formatMoney(p.lastPrice) },
        {
          header: 'Unrealized P&L',
          numeric: true,
          cell: (p) => formatPnl(p.unrealizedPnl),
          className: (p) => pnlClass(p.unrealizedPnl),
        },
      ],
      'No open positions.',
    ),
  );
  byId('signals').replaceChildren(
    table(
      status.signals,
      [
        { header: 'Time', cell: (s) => formatTime(s.receivedAt) },
        { header: 'Symbol', cell: (s) => h('strong', {}, s.symbol) },
        { header: 'Action', cell: (s) => s.action },
        { header: 'Decision', cell: (s) => pill(s.status, s.status) },
        { header: 'Reason', cell: (s) => s.reason ?? '—', className: () => 'reason' },
      ],
      rejectedOnly ? 'No rejected signals.' : 'No signals yet.',
    ),
  );
  byId('orders').replaceChildren(
    table(
      status.orders,
      [
        { header: 'Time', cell: (o) => formatTime(o.createdAt) },
        { header: 'Symbol', cell: (o) => h('strong', {}, o.symbol) },
        { header: 'Side', cell: (o) => o.side },
        { header: 'Qty', numeric: true, cell: (o) => formatQuantity(o.quantity) },
        { header: 'Status', cell: (o) => pill(o.status, o.status) },
        { header: 'Filled', numeric: true, cell: (o) => formatQuantity(o.filledQuantity) },
        { header: 'Avg fill', numeric: true, cell: (o) => formatMoney(o.averageFillPrice) },
      ],
      'No orders yet.',
    ),
  );
}

function renderHealth(health: Health | null, status: Status | null): void {
  const label = (name: string) =>
    name === 'broker' && status !== null ? `broker (${status.broker.name})` : name;
  const items =
    health === null
      ? [h('li', { class: 'failing' }, h('span', {}, 'health'), h('span', {}, 'unavailable'))]
      : Object.entries(health.components).map(([name, state]) =>
          h(
            'li',
            { class: state === 'ok' ? 'ok' : 'failing' },
            h('span', {}, label(name)),
            h('span', {}, state),
          ),
        );
  byId('health').replaceChildren(...items);
}

function render(status: Status | null, health: Health | null): void {
  if (status !== null) {
    renderState(status);
    renderAccount(status);
    renderChart(status);
    renderTables(status);
  }
  renderHealth(health, status);
  byId('updated').textContent = `Updated ${formatTime(new Date().toISOString())}`;
}

function showConnection(text: string, kind: 'live' | 'polling' | 'trouble'): void {
  const element = byId('connection');
  element.textContent = text;
  element.className = `connection ${kind}`;
}

// ── Keeping it fresh ─────────────────────────────────────────────────────────────────────────

async function refresh(): Promise<void> {
  const [status, health] = await Promise.all([
    call(`api/status?rejected=${rejectedOnly}`, StatusAnswer),
    call('api/health', HealthAnswer).catch((error: unknown) => {
      if (error instanceof LoggedOut) throw error;
      return null;
    }),
  ]);
  render(status, health);
}

/**
 * While live, the page still reads this often: what changes without an event (prices aging, a
 * reconciler's booking) shows within this, and a lost message costs no more.
 */
const LIVE_REFRESH_SECONDS = 60;

let socket: PageSocket | undefined;
let live = false;
let leaving = false;
let tick: ReturnType<typeof setTimeout> | undefined;
let watchdog: ReturnType<typeof setTimeout> | undefined;
let reconnectSeconds = 2;
let refreshing = false;
let refreshAgain = false;

const pollingText = () => `Polling every ${session?.pollSeconds ?? 10} s`;

/**
 * Reads the status now, or once more right after the read under way: a burst of changes costs
 * two reads, not one per change. Every read puts off the next unprompted one.
 */
function refreshSoon(): void {
  if (refreshing) {
    refreshAgain = true;
    return;
  }
  refreshing = true;
  schedule();
  refresh()
    .then(() => {
      if (socket === undefined) showConnection(pollingText(), 'polling');
    })
    .catch((error: unknown) => {
      if (error instanceof LoggedOut) return stopListening();
      showConnection('Server unreachable, retrying', 'trouble');
    })
    .finally(() => {
      refreshing = false;
      if (refreshAgain && !leaving) {
        refreshAgain = false;
        refreshSoon();
      }
    });
}

/** The next read nobody asked for: after `pollSeconds` while polling, now and then while live. */
function schedule(): void {
  if (tick !== undefined) clearTimeout(tick);
  if (leaving) return;
  tick = setTimeout(refreshSoon, (live ? LIVE_REFRESH_SECONDS : (session?.pollSeconds ?? 10)) * 1000);
}

const base64url = (text: string) =>
  browser.btoa(text).replaceAll('+', '-').replaceAll('/', '_').replace(/=+$/, '');

const parseMessage = (text: string) => {
  try {
    return RealtimeMessage.safeParse(JSON.parse(text));
  } catch {
    return RealtimeMessage.safeParse(undefined);
  }
};

/**
 * Subscribes to the live-update channel, with the token of a fresh session answer (`known` on the
 * first load): connect offering the auth header as a subprotocol, `connection_init`, then
 * `subscribe` on `connection_ack`; live on `subscribe_success`; every `data` → a read. No `ka`
 * within the acknowledged timeout, an error message or a close: lost().
 */
async function listen(known?: output<typeof SessionAnswer>): Promise<void> {
  session = known ?? (await call('api/session', SessionAnswer));
  const endpoint = session.live;
  const WebSocket = browser.WebSocket;
  if (endpoint === null || WebSocket === undefined || leaving) {
    showConnection(pollingText(), 'polling');
    return;
  }
  const authorization = { host: endpoint.host, Authorization: endpoint.token };
  const opened = new WebSocket(endpoint.url, [
    EVENTS_SUBPROTOCOL,
    `header-${base64url(JSON.stringify(authorization))}`,
  ]);
  socket = opened;
  let timeoutMs = 300_000;
  const keepAlive = () => {
    if (watchdog !== undefined) clearTimeout(watchdog);
    watchdog = setTimeout(() => opened.close(4000, 'no keep-alive'), timeoutMs);
  };
  showConnection('Connecting…', 'polling');
  opened.addEventListener('open', () => opened.send(JSON.stringify({ type: 'connection_init' })));
  opened.addEventListener('message', (message) => {
    const parsed = parseMessage(message.data);
    if (socket !== opened || !parsed.success) return;
    const { type, connectionTimeoutMs } = parsed.data;
    if (type === 'connection_ack') {
      timeoutMs = connectionTimeoutMs ?? timeoutMs;
      keepAlive();
      opened.send(
        JSON.stringify({
          type: 'subscribe',
          id: `updates-${Date.now()}`,
          channel: endpoint.channel,
          authorization,
        }),
      );
    } else if (type === 'ka') {
      keepAlive();
    } else if (type === 'subscribe_success') {
      live = true;
      reconnectSeconds = 2;
      showConnection('Live', 'live');
      // Whatever changed while connecting.
      refreshSoon();
    } else if (type === 'data') {
      refreshSoon();
    } else if (type === 'error' || type.endsWith('_error')) {
      opened.close(4000, type);
    }
  });
  opened.addEventListener('close', () => lost(opened));
}

/** The connection failed or ended: poll meanwhile, and subscribe again later (2 s, doubling to a minute). */
function lost(from?: PageSocket): void {
  if (from !== undefined && socket !== from) return;
  socket = undefined;
  live = false;
  if (watchdog !== undefined) clearTimeout(watchdog);
  if (leaving) return;
  showConnection(pollingText(), 'polling');
  schedule();
  setTimeout(() => {
    listen().catch((error: unknown) => {
      if (error instanceof LoggedOut) return stopListening();
      lost();
    });
  }, reconnectSeconds * 1000);
  reconnectSeconds = Math.min(60, reconnectSeconds * 2);
}

/** Leaving the page (logout, or the session ended): no more reads, no reconnection. */
function stopListening(): void {
  leaving = true;
  if (tick !== undefined) clearTimeout(tick);
  socket?.close(1000, 'leaving');
}

// ── Actions ──────────────────────────────────────────────────────────────────────────────────

type Action = 'stop' | 'resume';

let pending: Action | undefined;

function confirmAction(action: Action): void {
  pending = action;
  byId('confirm-title').textContent = action === 'stop' ? 'Emergency stop' : 'Resume trading';
  byId('confirm-text').textContent =
    action === 'stop'
      ? 'Trading goes HALTED at once and every open order is cancelled. Only a manual resume ends it.'
      : `Trading goes back to ACTIVE from ${currentState ?? 'its current state'}: new orders will be placed.`;
  byId('flatten-row').hidden = action !== 'stop';
  byId<PageInput>('flatten').checked = false;
  byId<PageInput>('reason').value = '';
  const ok = byId('confirm-ok');
  ok.textContent = action === 'stop' ? 'Stop trading' : 'Resume';
  ok.className = action === 'stop' ? 'danger' : 'primary';
  byId<PageDialog>('confirm').showModal();
  byId<PageInput>('reason').focus();
}

async function runPending(): Promise<void> {
  const action = pending;
  pending = undefined;
  byId<PageDialog>('confirm').close();
  if (action === undefined) return;
  const reason = byId<PageInput>('reason').value.trim();
  const result = byId('action-result');
  result.hidden = false;
  result.className = 'action-result';
  result.textContent = action === 'stop' ? 'Stopping…' : 'Resuming…';
  try {
    if (action === 'stop') {
      const flatten = byId<PageInput>('flatten').checked;
      const report = await call('api/admin/stop', StopAnswer, {
        flatten,
        ...(reason === '' ? {} : { reason }),
      });
      const failed = report.items.filter((i) => !i.ok).length;
      result.textContent = report.complete
        ? `HALTED. ${report.items.length} broker action(s), all done${flatten ? '; no positions remain' : ''}.`
        : `HALTED, but ${failed} broker action(s) failed: check orders and positions.`;
      result.classList.toggle('warning', !report.complete);
    } else {
      const answer = await call('api/admin/resume', ResumeAnswer, reason === '' ? {} : { reason });
      result.textContent = answer.changed
        ? `Trading is ${answer.tradingState} again.`
        : 'Trading was already ACTIVE.';
    }
    refreshSoon();
  } catch (error) {
    if (error instanceof LoggedOut) return;
    result.textContent = `Failed: ${(error as Error).message}`;
    result.classList.toggle('warning', true);
  }
}

async function logout(): Promise<void> {
  stopListening();
  await fetch('logout', {
    method: 'POST',
    credentials: 'same-origin',
    headers: { 'x-csrf-token': session?.csrfToken ?? '' },
  }).catch(() => undefined);
  toLogin();
}

// ── Start ────────────────────────────────────────────────────────────────────────────────────

async function start(): Promise<void> {
  const first = await call('api/session', SessionAnswer);
  session = first;
  byId('stop-button').addEventListener('click', () => confirmAction('stop'));
  byId('resume-button').addEventListener('click', () => confirmAction('resume'));
  byId('confirm-ok').addEventListener('click', () => void runPending());
  byId('confirm-cancel').addEventListener('click', () => {
    pending = undefined;
    byId<PageDialog>('confirm').close();
  });
  byId('confirm-form').addEventListener('submit', (event) => {
    // Enter in the reason field confirms, as the button does.
    event.preventDefault();
    void runPending();
  });
  byId('logout').addEventListener('click', () => void logout());
  byId<PageInput>('rejected-only').addEventListener('change', () => {
    rejectedOnly = byId<PageInput>('rejected-only').checked;
    refreshSoon();
  });
  await refresh();
  schedule();
  listen(first).catch((error: unknown) => {
    if (error instanceof LoggedOut) return stopListening();
    lost();
  });
}

function boot(): void {
  start().catch((error: unknown) => {
    if (error instanceof LoggedOut) return;
    showConnection(`Could not load: ${(error as Error).message}`, 'trouble');
  });
}

if (browser.document.readyState === 'loading') browser.document.addEventListener('DOMContentLoaded', boot);
else boot();
