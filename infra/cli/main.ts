import { randomUUID } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { hostname, userInfo } from 'node:os';
import { createInterface } from 'node:readline/promises';
import { parseArgs, parseEnv } from 'node:util';
import { type ChannelCredentials, channelsFrom } from '../../shared/adapters/notify/channels.js';
import { channelCredentialsFrom } from '../../shared/adapters/notify/credentials.js';
import {
  type FailureKind,
  HttpOperatorClient,
  LambdaOperatorClient,
  type OperatorClient,
  OperatorClientError,
} from '../../shared/adapters/operator-client.js';
import { ConfigError, defaultConfig, parseConfigText } from '../../shared/config/load.js';
import { STAGES, type Stage } from '../../shared/config/names.js';
import { CHANNEL_TYPES, type ChannelType } from '../../shared/domain/notification.js';
import { sendTestNotices } from '../../shared/usecases/notifier.js';
import { EXPORT_COLUMNS, type ExportRow } from '../../shared/usecases/operator.js';
import { isLoopbackHost } from '../local/loopback.js';
import { type Column, csv, fields, table } from './format.js';

/** Exit codes scripts can rely on (docs/RUNBOOK.md lists them). */
export const EXIT = { ok: 0, failed: 1, usage: 2, auth: 3, unreachable: 4, aborted: 5 } as const;
const EXIT_OF: Record<FailureKind, number> = {
  failed: EXIT.failed,
  usage: EXIT.usage,
  auth: EXIT.auth,
  unreachable: EXIT.unreachable,
};

export interface CliIO {
  stdout(text: string): void;
  stderr(text: string): void;
  /** Reads one line of the operator's answer; undefined at end of input. */
  prompt(question: string): Promise<string | undefined>;
  env: NodeJS.ProcessEnv;
  cwd: string;
}

class UsageError extends Error {}

const OPTIONS = {
  help: { type: 'boolean', short: 'h' },
  json: { type: 'boolean' },
  url: { type: 'string' },
  stage: { type: 'string' },
  region: { type: 'string' },
  yes: { type: 'boolean', short: 'y' },
  reason: { type: 'string' },
  flatten: { type: 'boolean' },
  rejected: { type: 'boolean' },
  open: { type: 'boolean' },
  limit: { type: 'string' },
  days: { type: 'string' },
  since: { type: 'string' },
  until: { type: 'string' },
  format: { type: 'string' },
  out: { type: 'string' },
  file: { type: 'string' },
  symbol: { type: 'string' },
  strategy: { type: 'string' },
  action: { type: 'string' },
  quantity: { type: 'string' },
  price: { type: 'string' },
  wait: { type: 'string' },
  channel: { type: 'string' },
} as const;
type OptionName = keyof typeof OPTIONS;
type Values = Partial<Record<OptionName, string | boolean>>;

const TARGET_OPTIONS: OptionName[] = ['url', 'stage', 'region', 'json'];

interface Command {
  summary: string;
  usage: string;
  options: OptionName[];
  run(ctx: Context): Promise<number>;
}

interface Context {
  io: CliIO;
  values: Values;
  positionals: string[];
  json: boolean;
  client(): OperatorClient;
}

const HELP_HEADER = `pinebridge — operate the Pinebridge trading bot

Usage: pinebridge <command> [options]

Targets: the local bot (default: http://localhost:8000, admin token from PINEBRIDGE_ADMIN_TOKEN or ./.env),
         or a deployed stage with --stage dev|prod (your AWS credentials; IAM decides who may).
Common options: --json (machine-readable output), --url URL, --stage dev|prod, --region REGION

Commands:`;
const HELP_FOOTER = `
Exit codes: 0 done · 1 failed (or a stop left something open) · 2 usage or invalid input ·
            3 not authorized · 4 bot or stage unreachable · 5 not confirmed
Run \`pinebridge <command> --help\` for a command's options. docs/RUNBOOK.md has the procedures.`;

const str = (v: string | boolean | undefined): string | undefined => (typeof v === 'string' ? v : undefined);

function positiveInt(
  value: string | boolean | undefined,
  name: string,
  fallback: number,
  max: number,
): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1 || n > max)
    throw new UsageError(`--${name} must be a whole number from 1 to ${max}`);
  return n;
}

function isoDay(value: string | undefined, name: string): string | undefined {
  if (value === undefined) return undefined;
  if (!/^\d{4}-\d{2}-\d{2}$/.test(value) || Number.isNaN(Date.parse(`${value}T00:00:00Z`)))
    throw new UsageError(`--${name} must be a date like 2026-11-25`);
  return value;
}

const money = (v: string | null | undefined) => (v === null || v === undefined ? '—' : v);
const shortTime = (iso: string | null | undefined) => (iso ? iso.replace('T', ' ').slice(0, 19) : '—');

// ── Views ────────────────────────────────────────────────────────────────────────────────────────

interface StatusView {
  tradingState: string;
  breaker: { trip: string | null; reason: string | null; since: string | null; resetAt: string | null };
  account: {
    cash: string;
    buyingPower: string;
    equity: string;
    realizedPnl: string;
    session: string;
    sessionPnl: string;
    highWaterMark: string;
    drawdownPercent: number;
  };
  positions: unknown[];
  orders: { status: string }[];
  broker?: { name: string; reachable: boolean };
}

function renderStatus(s: StatusView): string {
  const b = s.breaker;
  const state =
    s.tradingState === 'ACTIVE'
      ? 'ACTIVE'
      : `${s.tradingState}${b.trip ? ` (${b.trip})` : ''}${b.reason ? ` — ${b.reason}` : ''}`;
  const open = s.orders.filter(
    (o) => !['filled', 'cancelled', 'rejected', 'expired'].includes(o.status),
  ).length;
  return fields([
    ['Trading state', state],
    ['Since', shortTime(b.since)],
    ['Resets', b.resetAt ? shortTime(b.resetAt) : s.tradingState === 'ACTIVE' ? '—' : 'manual reset only'],
    ['Broker', s.broker ? `${s.broker.name} (${s.broker.reachable ? 'reachable' : 'UNREACHABLE'})` : '—'],
    ['Equity', s.account.equity],
    ['Cash', s.account.cash],
    ['Buying power', s.account.buyingPower],
    ['Session P&L', `${s.account.sessionPnl} (session ${s.account.session})`],
    ['Drawdown', `${s.account.drawdownPercent} % below the high-water mark ${s.account.highWaterMark}`],
    ['Realized P&L', s.account.realizedPnl],
    ['Positions', String(s.positions.length)],
    ['Open orders', `${open} among the latest ${s.orders.length}`],
  ]);
}

interface PositionView {
  symbol: string;
  quantity: string;
  pendingQuantity: string;
  averageCost: string;
  lastPrice: string | null;
  unrealizedPnl: string | null;
  realizedPnl: string;
}
const POSITION_COLUMNS: Column<PositionView>[] = [
  { header: 'SYMBOL', value: (p) => p.symbol },
  { header: 'QTY', value: (p) => p.quantity, align: 'right' },
  { header: 'PENDING', value: (p) => p.pendingQuantity, align: 'right' },
  { header: 'AVG COST', value: (p) => p.averageCost, align: 'right' },
  { header: 'LAST', value: (p) => p.lastPrice, align: 'right' },
  { header: 'UNREALIZED', value: (p) => money(p.unrealizedPnl), align: 'right' },
  { header: 'REALIZED', value: (p) => p.realizedPnl, align: 'right' },
];

interface OrderView {
  createdAt: string;
  clientOrderId: string;
  symbol: string;
  side: string;
  orderType: string;
  quantity: string;
  status: string;
  filledQuantity: string;
  averageFillPrice: string | null;
}
const ORDER_COLUMNS: Column<OrderView>[] = [
  { header: 'CREATED (UTC)', value: (o) => shortTime(o.createdAt) },
  { header: 'CLIENT ORDER ID', value: (o) => o.clientOrderId },
  { header: 'SYMBOL', value: (o) => o.symbol },
  { header: 'SIDE', value: (o) => o.side },
  { header: 'TYPE', value: (o) => o.orderType },
  { header: 'QTY', value: (o) => o.quantity, align: 'right' },
  { header: 'STATUS', value: (o) => o.status },
  { header: 'FILLED', value: (o) => o.filledQuantity, align: 'right' },
  { header: 'AVG PRICE', value: (o) => o.averageFillPrice, align: 'right' },
];

interface SignalView {
  receivedAt: string;
  signalId: string;
  symbol: string;
  action: string;
  status: string;
  reason: string | null;
}
const SIGNAL_COLUMNS: Column<SignalView>[] = [
  { header: 'RECEIVED (UTC)', value: (s) => shortTime(s.receivedAt) },
  { header: 'SIGNAL ID', value: (s) => s.signalId },
  { header: 'SYMBOL', value: (s) => s.symbol },
  { header: 'ACTION', value: (s) => s.action },
  { header: 'STATUS', value: (s) => s.status },
  { header: 'REASON', value: (s) => s.reason },
];

interface PnlView {
  days: { date: string; orders: number; filledOrders: number; realizedPnl: string; commissions: string }[];
  totalRealizedPnl: string;
  session: { date: string; startEquity: string; equity: string; pnl: string };
}

interface StopView {
  halted: { changed: boolean; since?: string };
  items: { kind: string; symbol: string; clientOrderId: string; outcome: string; ok: boolean }[];
  remaining: { openOrders: string[]; positions: { symbol: string; quantity: string }[] };
  complete: boolean;
}

// ── Commands ─────────────────────────────────────────────────────────────────────────────────────

const print = (ctx: Context, value: unknown, human: () => string) =>
  ctx.io.stdout(ctx.json ? `${JSON.stringify(value, null, 2)}\n` : `${human()}\n`);

async function confirm(ctx: Context, what: string): Promise<boolean> {
  if (ctx.values.yes) return true;
  const answer = await ctx.io.prompt(`${what}\nType "yes" to go ahead: `);
  return answer?.trim().toLowerCase() === 'yes';
}

const COMMANDS: Record<string, Command> = {
  status: {
    summary: 'trading state, circuit breaker, broker, equity, session P&L and drawdown',
    usage: 'pinebridge status [--json]',
    options: [],
    run: async (ctx) => {
      const status = (await ctx.client().send({ action: 'status' })) as StatusView;
      print(ctx, status, () => renderStatus(status));
      return EXIT.ok;
    },
  },
  positions: {
    summary: 'open positions with average cost, last price and unrealized P&L',
    usage: 'pinebridge positions [--json]',
    options: [],
    run: async (ctx) => {
      const { positions } = (await ctx.client().send({ action: 'positions' })) as {
        positions: PositionView[];
      };
      print(ctx, positions, () =>
        positions.length === 0 ? 'No open positions.' : table(positions, POSITION_COLUMNS),
      );
      return EXIT.ok;
    },
  },
  orders: {
    summary: 'recent orders (--open: only those not yet final)',
    usage: 'pinebridge orders [--open] [--limit N] [--json]',
    options: ['open', 'limit'],
    run: async (ctx) => {
      const { orders } = (await ctx.client().send({
        action: 'orders',
        open: ctx.values.open === true,
        limit: positiveInt(ctx.values.limit, 'limit', 20, 500),
      })) as { orders: OrderView[] };
      print(ctx, orders, () => (orders.length === 0 ? 'No orders.' : table(orders, ORDER_COLUMNS)));
      return EXIT.ok;
    },
  },
  signals: {
    summary: 'recent signals with their decision and reason (--rejected: only rejections)',
    usage: 'pinebridge signals [--rejected] [--limit N] [--json]',
    options: ['rejected', 'limit'],
    run: async (ctx) => {
      const { signals } = (await ctx.client().send({
        action: 'signals',
        rejected: ctx.values.rejected === true,
        limit: positiveInt(ctx.values.limit, 'limit', 20, 500),
      })) as { signals: SignalView[] };
      print(ctx, signals, () => (signals.length === 0 ? 'No signals.' : table(signals, SIGNAL_COLUMNS)));
      return EXIT.ok;
    },
  },
  pnl: {
    summary: 'realized P&L per trading day and today’s session P&L',
    usage: 'pinebridge pnl [--days N] [--json]',
    options: ['days'],
    run: async (ctx) => {
      const pnl = (await ctx.client().send({
        action: 'pnl',
        days: positiveInt(ctx.values.days, 'days', 7, 366),
      })) as PnlView;
      print(ctx, pnl, () =>
        [
          table(pnl.days, [
            { header: 'DAY (NEW YORK)', value: (d) => d.date },
            { header: 'ORDERS', value: (d) => d.orders, align: 'right' },
            { header: 'FILLED', value: (d) => d.filledOrders, align: 'right' },
            { header: 'REALIZED P&L', value: (d) => d.realizedPnl, align: 'right' },
            { header: 'COMMISSIONS', value: (d) => d.commissions, align: 'right' },
          ]),
          '',
          `Realized over ${pnl.days.length} days (after commissions): ${pnl.totalRealizedPnl}`,
          `Session ${pnl.session.date}: ${pnl.session.pnl} (equity ${pnl.session.equity}, started at ${pnl.session.startEquity}; open positions at their last price)`,
        ].join('\n'),
      );
      return EXIT.ok;
    },
  },
  stop: {
    summary: 'EMERGENCY STOP: halt trading, cancel every open order (--flatten: close every position)',
    usage: 'pinebridge stop [--flatten] [--reason TEXT] [--yes]',
    options: ['flatten', 'reason', 'yes'],
    run: async (ctx) => {
      const client = ctx.client();
      const flatten = ctx.values.flatten === true;
      const ok = await confirm(
        ctx,
        `This halts trading on ${client.target} and cancels every open order${flatten ? ', then closes every position at market' : ''}.`,
      );
      if (!ok) {
        ctx.io.stderr('Not confirmed; nothing was changed.\n');
        return EXIT.aborted;
      }
      const report = (await client.send({
        action: 'stop',
        flatten,
        reason: str(ctx.values.reason) ?? 'emergency stop from the pinebridge CLI',
      })) as StopView;
      print(ctx, report, () =>
        [
          report.halted.changed
            ? `HALTED at ${shortTime(report.halted.since)}.`
            : 'Trading was already HALTED.',
          report.items.length === 0
            ? 'No open orders to cancel.'
            : table(report.items, [
                { header: 'ACTION', value: (i) => i.kind },
                { header: 'SYMBOL', value: (i) => i.symbol },
                { header: 'CLIENT ORDER ID', value: (i) => i.clientOrderId || '—' },
                { header: 'OUTCOME', value: (i) => i.outcome },
                { header: 'OK', value: (i) => (i.ok ? 'yes' : 'NO') },
              ]),
          report.complete
            ? `Complete: no open orders${flatten ? ' and no positions' : ''} remain. \`pinebridge resume\` trades again.`
            : `INCOMPLETE: open orders ${report.remaining.openOrders.join(', ') || 'none'}; positions ${
                report.remaining.positions.map((p) => `${p.symbol} ${p.quantity}`).join(', ') || 'none'
              }. Trading stays HALTED. Run the stop again, or act at the broker (docs/RUNBOOK.md).`,
        ].join('\n'),
      );
      return report.complete ? EXIT.ok : EXIT.failed;
    },
  },
  resume: {
    summary: 'back to ACTIVE after a stop or a trip (recorded with the reason)',
    usage: 'pinebridge resume [--reason TEXT]',
    options: ['reason'],
    run: (ctx) => resetTo(ctx, 'resume'),
  },
  'reset-breaker': {
    summary: 'end a circuit-breaker trip now and start its measure afresh (recorded with the reason)',
    usage: 'pinebridge reset-breaker [--reason TEXT]',
    options: ['reason'],
    run: (ctx) => resetTo(ctx, 'reset-breaker'),
  },
  'send-test-alert': {
    summary: 'post a valid alert to the webhook with the configured secret and show what became of it',
    usage:
      'pinebridge send-test-alert [--symbol AAPL] [--action buy|sell|exit|…] [--quantity 1] [--price P] [--wait SECONDS]',
    options: ['symbol', 'action', 'quantity', 'price', 'wait'],
    run: sendTestAlert,
  },
  export: {
    summary: 'signals with decisions, orders and fills for record keeping and audit (UTC days)',
    usage: 'pinebridge export --since YYYY-MM-DD [--until YYYY-MM-DD] [--format csv|json] [--out FILE]',
    options: ['since', 'until', 'format', 'out'],
    run: exportCommand,
  },
  performance: {
    summary: 'the backtest metrics (win rate, profit factor, Sharpe, drawdown, …) of the recorded trades',
    usage: 'pinebridge performance [--since YYYY-MM-DD] [--until YYYY-MM-DD] [--strategy NAME] [--json]',
    options: ['since', 'until', 'strategy'],
    run: performanceCommand,
  },
  backtest: {
    summary:
      'replay candles or alerts through the same risk checks, breaker and paper broker (docs/BACKTESTING.md)',
    usage: 'pinebridge backtest --help',
    options: [],
    run: async () => EXIT.usage,
  },
  backup: {
    summary: "a consistent copy of the local bot's SQLite database, taken while it trades (docs/RUNBOOK.md)",
    usage: 'pinebridge backup [--out FILE] [--json]   (default .data/backups/pinebridge-<time>.db)',
    options: ['out'],
    run: backupCommand,
  },
  notify: {
    summary: 'notify test [--channel NAME]: a test message to each configured channel, each result reported',
    usage: `pinebridge notify test [--channel ${CHANNEL_TYPES.join('|')}] [--json]`,
    options: ['channel'],
    run: notifyCommand,
  },
  config: {
    summary: 'config validate [--file config.json]: check the configuration as the bot and cdk synth will',
    usage: 'pinebridge config validate [--file config.json] [--json]',
    options: ['file'],
    run: configValidate,
  },
};

async function resetTo(ctx: Context, action: 'resume' | 'reset-breaker'): Promise<number> {
  const result = (await ctx.client().send({
    action,
    reason: str(ctx.values.reason) ?? `${action} from the pinebridge CLI`,
  })) as { changed: boolean; tradingState: string };
  print(ctx, result, () =>
    result.changed
      ? `Trading is ${result.tradingState} again.`
      : `Nothing to do: trading is ${result.tradingState}.`,
  );
  return EXIT.ok;
}

async function sendTestAlert(ctx: Context): Promise<number> {
  const client = ctx.client();
  const price = str(ctx.values.price);
  const alert = {
    ticker: str(ctx.values.symbol) ?? 'AAPL',
    action: str(ctx.values.action) ?? 'buy',
    quantity: str(ctx.values.quantity) ?? '1',
    ...(price ? { price } : {}),
    id: `cli-test-${randomUUID()}`,
    time: new Date().toISOString(),
    comment: 'pinebridge send-test-alert',
  };
  const waitSeconds = positiveInt(ctx.values.wait, 'wait', 15, 600);
  const answer = await client.postAlert(JSON.stringify(alert));
  const body = (answer.body ?? {}) as { signalId?: string; error?: string; fields?: string[] };
  if (answer.status === 401) throw new OperatorClientError('the webhook refused the secret (401)', 'auth');
  if (answer.status >= 400 || !body.signalId) {
    ctx.io.stderr(`The webhook answered ${answer.status}: ${body.error ?? JSON.stringify(answer.body)}\n`);
    return answer.status >= 500 ? EXIT.failed : EXIT.usage;
  }
  if (!ctx.json)
    ctx.io.stdout(`Accepted (${answer.status}): signal ${body.signalId}. Waiting for its outcome…\n`);
  const deadline = Date.now() + waitSeconds * 1000;
  let signal: SignalView | undefined;
  while (Date.now() < deadline) {
    const { signals } = (await client.send({ action: 'signals', limit: 50 })) as { signals: SignalView[] };
    signal = signals.find((s) => s.signalId === body.signalId);
    if (signal && ['filled', 'rejected', 'failed', 'cancelled', 'completed'].includes(signal.status)) break;
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  print(
    ctx,
    { alert: { ...alert }, httpStatus: answer.status, signalId: body.signalId, signal: signal ?? null },
    () =>
      signal
        ? `Signal ${signal.signalId}: ${signal.status}${signal.reason ? ` — ${signal.reason}` : ''}`
        : `Signal ${body.signalId} is still in flight after ${waitSeconds} s; see \`pinebridge signals\`.`,
  );
  return signal?.status === 'filled' || signal?.status === 'rejected' ? EXIT.ok : EXIT.failed;
}

async function exportCommand(ctx: Context): Promise<number> {
  const since = isoDay(str(ctx.values.since), 'since');
  if (since === undefined) throw new UsageError('export needs --since YYYY-MM-DD');
  const until = isoDay(str(ctx.values.until), 'until') ?? new Date().toISOString().slice(0, 10);
  if (until < since) throw new UsageError('--until is before --since');
  const format = str(ctx.values.format) ?? (ctx.json ? 'json' : 'csv');
  if (format !== 'csv' && format !== 'json') throw new UsageError('--format must be csv or json');
  const rows = await exportRows(ctx.client(), since, until);
  const text = format === 'json' ? `${JSON.stringify(rows, null, 2)}\n` : csv(rows, EXPORT_COLUMNS);
  const out = str(ctx.values.out);
  if (out) {
    writeFileSync(out, text);
    ctx.io.stderr(`Wrote ${rows.length} signals (${since} to ${until}, UTC) to ${out}\n`);
  } else {
    ctx.io.stdout(text);
  }
  return EXIT.ok;
}

/** Days of export rows, oldest first: the recorded signals with their orders and fills. */
async function exportRows(client: OperatorClient, since: string, until: string): Promise<ExportRow[]> {
  const rows: ExportRow[] = [];
  for (let day = since; day <= until; day = nextDay(day)) {
    const answer = (await client.send({ action: 'export', day })) as { rows: ExportRow[] };
    rows.push(...answer.rows);
  }
  return rows;
}

/**
 * The weekly review: the backtester's metrics over what the bot actually traded. Filled orders
 * become fills, paired first-in first-out per symbol into trades; the equity curve is the
 * realized one (today's equity less the period's realized P&L, plus each trade as it closed).
 */
async function performanceCommand(ctx: Context): Promise<number> {
  const today = new Date().toISOString().slice(0, 10);
  const since =
    isoDay(str(ctx.values.since), 'since') ??
    new Date(Date.now() - 30 * 86_400_000).toISOString().slice(0, 10);
  const until = isoDay(str(ctx.values.until), 'until') ?? today;
  if (until < since) throw new UsageError('--until is before --since');
  const strategy = str(ctx.values.strategy);
  const client = ctx.client();
  const rows = (await exportRows(client, since, until)).filter(
    (r) => Number(r.filledQuantity || '0') > 0 && (strategy === undefined || r.strategy === strategy),
  );
  const { computeMetrics } = await import('../../shared/backtest/metrics.js');
  const { TradeLedger } = await import('../../shared/backtest/trades.js');
  const { metricRows } = await import('../../shared/backtest/report.js');
  const ledgers = new Map<string, InstanceType<typeof TradeLedger>>();
  for (const r of rows.sort((a, b) => a.orderUpdatedAt.localeCompare(b.orderUpdatedAt))) {
    const ledger = ledgers.get(r.symbol) ?? new TradeLedger();
    ledgers.set(r.symbol, ledger);
    ledger.add({
      time: Date.parse(r.orderUpdatedAt),
      side: r.side === 'buy' ? 'buy' : 'sell',
      quantity: Number(r.filledQuantity),
      price: Number(r.averageFillPrice),
      commission: Number(r.commission || '0'),
    });
  }
  const trades = [...ledgers.values()].flatMap((l) => l.closed).sort((a, b) => a.exitTime - b.exitTime);
  const status = (await client.send({ action: 'status' })) as StatusView;
  const realized = trades.reduce((sum, t) => sum + t.pnl, 0);
  const start = Number(status.account.equity) - realized;
  const times = [Date.parse(`${since}T00:00:00Z`), ...trades.map((t) => t.exitTime)];
  const equity = [start];
  for (const t of trades) equity.push((equity.at(-1) ?? start) + t.pnl);
  if (trades.length === 0) {
    ctx.io.stderr(
      `No closed trades between ${since} and ${until}${strategy ? ` for strategy ${strategy}` : ''}.\n`,
    );
    if (ctx.json)
      ctx.io.stdout(`${JSON.stringify({ since, until, strategy: strategy ?? null, trades: 0 })}\n`);
    return EXIT.ok;
  }
  const metrics = computeMetrics({ times, equity, trades, initialEquity: start });
  print(ctx, { since, until, strategy: strategy ?? null, fills: rows.length, metrics }, () =>
    [
      `Recorded trades ${since} to ${until} (UTC)${strategy ? `, strategy ${strategy}` : ''}: ${rows.length} fills, ${trades.length} closed trades`,
      '',
      fields(metricRows(metrics)),
    ].join('\n'),
  );
  return EXIT.ok;
}

const nextDay = (day: string) =>
  new Date(Date.parse(`${day}T00:00:00Z`) + 86_400_000).toISOString().slice(0, 10);

/** `pinebridge backup`: the local database, copied online (infra/local/backup.ts); no bot needed. */
async function backupCommand(ctx: Context): Promise<number> {
  const { BackupError, backupDatabase, defaultBackupPath } = await import('../local/backup.js');
  const { LOCAL_DATABASE_FILE } = await import('../local/store.js');
  const within = (file: string) => (file.startsWith('/') ? file : `${ctx.io.cwd}/${file}`);
  const out = str(ctx.values.out) ?? defaultBackupPath(new Date());
  try {
    const report = backupDatabase(within(LOCAL_DATABASE_FILE), within(out));
    print(ctx, { ...report, out }, () =>
      [
        `Backed up ${LOCAL_DATABASE_FILE} to ${out}.`,
        fields([
          ['size', `${(report.bytes / 1024).toFixed(0)} KiB`],
          ['signals', String(report.signals)],
          ['orders', String(report.orders)],
          ['schema version', String(report.schemaVersion)],
          ['integrity check', 'ok'],
        ]),
        'Restore: stop the bot, then copy it back (docs/RUNBOOK.md, "Backups and restore").',
      ].join('\n'),
    );
    return EXIT.ok;
  } catch (error) {
    if (error instanceof BackupError) {
      ctx.io.stderr(`pinebridge backup: ${error.message}\n`);
      return EXIT.failed;
    }
    throw error;
  }
}

async function configValidate(ctx: Context): Promise<number> {
  if (ctx.positionals[0] !== 'validate')
    throw new UsageError('usage: pinebridge config validate [--file config.json]');
  const file = str(ctx.values.file) ?? 'config.json';
  const path = file.startsWith('/') ? file : `${ctx.io.cwd}/${file}`;
  try {
    const config = existsSync(path) ? parseConfigText(readFileSync(path, 'utf8'), file) : defaultConfig();
    const summary = {
      valid: true,
      file: existsSync(path) ? file : null,
      broker: config.broker ?? 'paper unless APCA_API_KEY_ID/APCA_API_SECRET_KEY are set',
      alpacaMode: config.alpaca.mode,
      symbols: config.symbols.allowed,
      maxPositionNotional: config.risk.maxPositionNotional,
      maxDailyLoss: config.risk.maxDailyLoss,
      maxDrawdownPercent: config.risk.maxDrawdownPercent,
      notifications: notificationChannels(ctx).channels.join(', ') || 'none (docs/NOTIFICATIONS.md)',
    };
    const { problems } = notificationChannels(ctx);
    if (problems.length > 0) throw new ConfigError(`notifications: ${problems.join('; ')}`);
    print(ctx, summary, () =>
      [
        existsSync(path)
          ? `${file} is valid.`
          : `${file} does not exist: the built-in defaults apply (valid).`,
        fields(
          Object.entries(summary)
            .slice(2)
            .map(([k, v]) => [k, Array.isArray(v) ? v.join(', ') : String(v)]),
        ),
      ].join('\n'),
    );
    return EXIT.ok;
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    if (ctx.json) ctx.io.stdout(`${JSON.stringify({ valid: false, error: error.message }, null, 2)}\n`);
    ctx.io.stderr(`${error.message}\n`);
    return EXIT.failed;
  }
}

// ── Entry ────────────────────────────────────────────────────────────────────────────────────────

function helpText(): string {
  const width = Math.max(...Object.keys(COMMANDS).map((n) => n.length));
  const lines = Object.entries(COMMANDS).map(([name, c]) => `  ${name.padEnd(width)}  ${c.summary}`);
  return `${HELP_HEADER}\n${lines.join('\n')}\n${HELP_FOOTER}\n`;
}

/** The environment as the bot sees it: the process's, then the .env `npm start` wrote. */
function botEnv(io: CliIO): Record<string, string | undefined> {
  const path = `${io.cwd}/.env`;
  const file = existsSync(path) ? parseEnv(readFileSync(path, 'utf8')) : {};
  return {
    ...file,
    ...Object.fromEntries(Object.entries(io.env).filter(([, v]) => v !== undefined && v !== '')),
  };
}

/** The notification channels the environment turns on, and what is wrong with any half-set one. */
function notificationChannels(ctx: Context): {
  channels: string[];
  problems: string[];
  credentials: ChannelCredentials;
} {
  const { credentials, problems } = channelCredentialsFrom(botEnv(ctx.io));
  return { channels: Object.keys(credentials), problems, credentials };
}

async function notifyCommand(ctx: Context): Promise<number> {
  if (ctx.positionals[0] !== 'test' || ctx.positionals.length > 1)
    throw new UsageError(`usage: pinebridge notify test [--channel ${CHANNEL_TYPES.join('|')}]`);
  const only = str(ctx.values.channel);
  if (only !== undefined && !(CHANNEL_TYPES as readonly string[]).includes(only))
    throw new UsageError(`--channel must be one of ${CHANNEL_TYPES.join(', ')}`);
  const { credentials, problems } = notificationChannels(ctx);
  for (const problem of problems) ctx.io.stderr(`notifications: ${problem}\n`);
  const channels = channelsFrom(credentials);
  if (channels.length === 0 || (only !== undefined && !channels.some((c) => c.name === only))) {
    ctx.io.stderr(
      `No ${only ?? 'notification'} channel is configured: put its variables in .env (docs/NOTIFICATIONS.md).\n`,
    );
    return EXIT.usage;
  }
  const results = await sendTestNotices(channels, only as ChannelType | undefined);
  print(ctx, { results }, () =>
    results.map((r) => `${r.channel.padEnd(8)} ${r.ok ? 'sent' : `FAILED: ${r.error}`}`).join('\n'),
  );
  return results.every((r) => r.ok) && problems.length === 0 ? EXIT.ok : EXIT.failed;
}

/** The admin token and webhook secret: the environment first, else the .env `npm start` wrote. */
function localSecrets(io: CliIO): { adminToken?: string; webhookSecret?: string } {
  const path = `${io.cwd}/.env`;
  const file = existsSync(path) ? parseEnv(readFileSync(path, 'utf8')) : {};
  const pick = (key: string) => io.env[key] || file[key] || undefined;
  const adminToken = pick('PINEBRIDGE_ADMIN_TOKEN');
  const webhookSecret = pick('PINEBRIDGE_WEBHOOK_SECRET');
  return { ...(adminToken ? { adminToken } : {}), ...(webhookSecret ? { webhookSecret } : {}) };
}

function clientFor(values: Values, io: CliIO): OperatorClient {
  const stage = str(values.stage);
  if (stage !== undefined) {
    if (!(STAGES as readonly string[]).includes(stage))
      throw new UsageError(`--stage must be one of ${STAGES.join(', ')}`);
    if (values.url !== undefined) throw new UsageError('--url and --stage name different targets: pass one');
    const requestedBy = `${userInfo().username}@${hostname()} via pinebridge CLI`;
    return new LambdaOperatorClient(stage as Stage, requestedBy, str(values.region));
  }
  const url = (str(values.url) ?? io.env.PINEBRIDGE_URL ?? 'http://localhost:8000').replace(/\/+$/, '');
  refuseCleartextToNetwork(url, values.url === undefined ? 'PINEBRIDGE_URL' : '--url');
  const { adminToken, webhookSecret } = localSecrets(io);
  return new HttpOperatorClient(url, adminToken, webhookSecret);
}

/**
 * The admin token (and the webhook secret, for send-test-alert) travel in every request: over plain
 * http they may only go to this machine. Anything else needs https (a TLS proxy in front of the bot).
 */
function refuseCleartextToNetwork(url: string, source: string): void {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new UsageError(`${source} "${url}" is not a URL; try http://localhost:8000`);
  }
  if (parsed.protocol === 'https:') return;
  if (parsed.protocol !== 'http:')
    throw new UsageError(`${source} "${url}" must start with http:// (this machine) or https://`);
  if (!isLoopbackHost(parsed.hostname))
    throw new UsageError(
      `refusing to send the admin token over plain http to ${parsed.host}: anyone on the way could read it. Use an https:// URL (a TLS proxy in front of the bot), or run the CLI on the bot's machine (http://localhost:8000).`,
    );
}

/**
 * The target options may come before the command as well as after it
 * (`pinebridge --stage prod stop` and `pinebridge stop --stage prod`): move leading ones behind it.
 */
function commandFirst(argv: string[]): string[] {
  const leading: string[] = [];
  let i = 0;
  while (i < argv.length) {
    const arg = argv[i] as string;
    const name = arg.replace(/^--/, '').split('=')[0] as OptionName;
    if (!arg.startsWith('--') || !TARGET_OPTIONS.includes(name)) break;
    const takesValue = OPTIONS[name].type === 'string' && !arg.includes('=');
    leading.push(...argv.slice(i, i + (takesValue ? 2 : 1)));
    i += takesValue ? 2 : 1;
  }
  return i === 0 || i >= argv.length ? argv : [argv[i] as string, ...argv.slice(i + 1), ...leading];
}

export async function runCli(args: string[], io: CliIO): Promise<number> {
  const argv = commandFirst(args);
  const name = argv[0];
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    io.stdout(helpText());
    return name === undefined ? EXIT.usage : EXIT.ok;
  }
  const command = COMMANDS[name];
  if (command === undefined) {
    io.stderr(`pinebridge: unknown command "${name}"\n\n${helpText()}`);
    return EXIT.usage;
  }
  // Its own options and help; loaded only when asked for (it inlines the charting library).
  if (name === 'backtest') return (await import('./backtest.js')).backtestCommand(argv.slice(1), io);
  try {
    const { values, positionals } = parseArgs({
      args: argv.slice(1),
      options: OPTIONS,
      allowPositionals: true,
      strict: true,
    });
    if (values.help) {
      io.stdout(`${command.usage}\n\n${command.summary}\n`);
      return EXIT.ok;
    }
    const allowed = new Set<string>([...command.options, ...TARGET_OPTIONS, 'help']);
    const stray = Object.keys(values).find((key) => !allowed.has(key));
    if (stray !== undefined)
      throw new UsageError(`${name} has no --${stray} option\nusage: ${command.usage}`);
    if (positionals.length > 0 && name !== 'config' && name !== 'notify')
      throw new UsageError(`unexpected argument "${positionals[0]}"\nusage: ${command.usage}`);
    let client: OperatorClient | undefined;
    return await command.run({
      io,
      values,
      positionals,
      json: values.json === true,
      client: () => {
        client ??= clientFor(values, io);
        return client;
      },
    });
  } catch (error) {
    if (error instanceof UsageError || (error as NodeJS.ErrnoException).code?.startsWith('ERR_PARSE_ARGS')) {
      io.stderr(`pinebridge ${name}: ${(error as Error).message}\n`);
      return EXIT.usage;
    }
    if (error instanceof OperatorClientError) {
      io.stderr(`pinebridge ${name}: ${error.message}\n`);
      return EXIT_OF[error.kind];
    }
    io.stderr(`pinebridge ${name}: unexpected error: ${(error as Error).stack ?? String(error)}\n`);
    return EXIT.failed;
  }
}

if (import.meta.url === `file://${process.argv[1]}` || process.env.PINEBRIDGE_CLI_ENTRY === '1') {
  const rl = process.stdin.isTTY
    ? createInterface({ input: process.stdin, output: process.stderr })
    : undefined;
  const io: CliIO = {
    stdout: (text) => process.stdout.write(text),
    stderr: (text) => process.stderr.write(text),
    prompt: async (question) => {
      if (rl) return rl.question(question);
      // Piped input: one line, or undefined at end of input (a script without --yes is refused).
      process.stderr.write(question);
      const reader = createInterface({ input: process.stdin });
      for await (const line of reader) {
        reader.close();
        return line;
      }
      return undefined;
    },
    env: process.env,
    cwd: process.cwd(),
  };
  runCli(process.argv.slice(2), io).then((code) => {
    rl?.close();
    process.exitCode = code;
  });
}
