import * as z from 'zod';
import { sessionDateOf } from '../domain/calendar.js';
import { dec, money } from '../domain/money.js';
import type { OrderRecord, SignalRecord } from '../ports/index.js';
import { resetBreaker } from './breaker.js';
import { emergencyStop } from './emergency-stop.js';
import { portfolioStatus } from './status.js';
import type { TradeFlowDeps } from './trade-flow.js';

const Limit = z.number().int().min(1).max(500);
const Reason = z.string().trim().min(1).max(500);
const IsoDay = z.string().regex(/^\d{4}-\d{2}-\d{2}$/, 'a day is YYYY-MM-DD');

/**
 * Everything an operator can ask, in one shape for both front doors: the local bot's HTTP API
 * (GET /status…, POST /admin/…, admin token) and the admin Lambda in AWS (IAM). The CLI and the
 * dashboard speak it; docs/API.md documents it.
 */
export const OperatorRequest = z.discriminatedUnion('action', [
  z.object({ action: z.literal('status'), rejected: z.boolean().default(false) }).strict(),
  z.object({ action: z.literal('positions') }).strict(),
  z
    .object({ action: z.literal('orders'), limit: Limit.default(20), open: z.boolean().default(false) })
    .strict(),
  z
    .object({ action: z.literal('signals'), limit: Limit.default(20), rejected: z.boolean().default(false) })
    .strict(),
  z.object({ action: z.literal('pnl'), days: z.number().int().min(1).max(366).default(7) }).strict(),
  /** One UTC day at a time, so an answer stays small whatever the volume (a Lambda answer is ≤ 6 MB). */
  z.object({ action: z.literal('export'), day: IsoDay }).strict(),
  z.object({ action: z.literal('stop'), reason: Reason, flatten: z.boolean().default(false) }).strict(),
  z.object({ action: z.literal('resume'), reason: Reason }).strict(),
  z.object({ action: z.literal('reset-breaker'), reason: Reason }).strict(),
]);
export type OperatorRequest = z.infer<typeof OperatorRequest>;
export type OperatorAction = OperatorRequest['action'];

/** Query parameters as a request's typed fields (numbers and booleans from their text), for GET reads. */
export function operatorFieldsFromQuery(params: URLSearchParams): Record<string, unknown> {
  const fields: Record<string, unknown> = {};
  for (const [key, value] of params) {
    fields[key] =
      value === 'true' ? true : value === 'false' ? false : /^\d+$/.test(value) ? Number(value) : value;
  }
  return fields;
}

/** zod's first complaint, named by its field, for a 400 the operator can act on. */
export const firstIssue = (error: { issues: { path: PropertyKey[]; message: string }[] }) => {
  const issue = error.issues[0];
  return issue === undefined
    ? 'invalid request'
    : `${issue.path.map(String).join('.') || 'request'}: ${issue.message}`;
};

/** The actions that change something; the rest only read. */
export const WRITE_ACTIONS = ['stop', 'resume', 'reset-breaker'] as const satisfies OperatorAction[];
export const isWriteAction = (action: OperatorAction): action is (typeof WRITE_ACTIONS)[number] =>
  (WRITE_ACTIONS as readonly string[]).includes(action);

/** One signal with its decision, order and fills, as kept for record keeping and audit. */
export interface ExportRow {
  receivedAt: string;
  signalId: string;
  symbol: string;
  action: string;
  strategy: string;
  alertId: string;
  status: string;
  reason: string;
  denials: string;
  notes: string;
  clientOrderId: string;
  side: string;
  orderType: string;
  quantity: string;
  limitPrice: string;
  orderStatus: string;
  filledQuantity: string;
  averageFillPrice: string;
  commission: string;
  realizedPnl: string;
  orderUpdatedAt: string;
}
export const EXPORT_COLUMNS = [
  'receivedAt',
  'signalId',
  'symbol',
  'action',
  'strategy',
  'alertId',
  'status',
  'reason',
  'denials',
  'notes',
  'clientOrderId',
  'side',
  'orderType',
  'quantity',
  'limitPrice',
  'orderStatus',
  'filledQuantity',
  'averageFillPrice',
  'commission',
  'realizedPnl',
  'orderUpdatedAt',
] as const satisfies (keyof ExportRow)[];

/**
 * Answers one operator request.
 *
 *  1. Reads answer from the stores as they are now (no cache): status, positions, orders,
 *     signals, P&L by day and the audit export.
 *  2. Writes go through the recorded use cases: the emergency stop, or a reset to ACTIVE, each
 *     recorded with the reason and who asked (`source`).
 */
export async function operate(
  deps: TradeFlowDeps,
  request: OperatorRequest,
  source: string,
): Promise<unknown> {
  switch (request.action) {
    case 'status': {
      const status = await portfolioStatus(deps, { limit: 20, rejectedOnly: request.rejected });
      return { ...status, broker: { name: deps.broker.name, reachable: await reachable(deps) } };
    }
    case 'positions':
      return { positions: (await portfolioStatus(deps, { limit: 1 })).positions };
    case 'orders': {
      const orders = request.open
        ? (await deps.store.listOpenOrders()).sort((a, b) => (a.createdAt < b.createdAt ? 1 : -1))
        : await deps.store.listOrders(request.limit);
      return { orders: orders.slice(0, request.limit).map(orderView) };
    }
    case 'signals':
      return {
        signals: (await portfolioStatus(deps, { limit: request.limit, rejectedOnly: request.rejected }))
          .signals,
      };
    case 'pnl':
      return pnlByDay(deps, request.days);
    case 'export':
      return { day: request.day, rows: await exportDay(deps, request.day) };
    case 'stop':
      return emergencyStop(deps, { flatten: request.flatten, reason: request.reason, source });
    case 'resume':
    case 'reset-breaker': {
      const transition = await resetBreaker(deps, request.reason, source);
      const { tradingState } = await deps.store.snapshot();
      return { changed: transition !== undefined, tradingState, transition: transition ?? null };
    }
  }
}

async function reachable(deps: TradeFlowDeps): Promise<boolean> {
  try {
    await deps.broker.ping();
    return true;
  } catch {
    return false;
  }
}

export const orderView = (o: OrderRecord) => ({
  clientOrderId: o.clientOrderId,
  signalId: o.signalId,
  symbol: o.intent.symbol,
  side: o.intent.side,
  orderType: o.intent.orderType,
  quantity: o.intent.quantity,
  status: o.status,
  filledQuantity: o.filledQuantity,
  averageFillPrice: o.averageFillPrice ?? null,
  commission: o.commission,
  realizedPnl: o.realizedPnl,
  createdAt: o.createdAt,
  updatedAt: o.updatedAt,
});

const DAY_MS = 86_400_000;
const utcDay = (ms: number) => new Date(ms).toISOString().slice(0, 10);

/** The orders of the signals received on `day`, fetched by key (no scan), a few at a time. */
export async function signalsWithOrders(
  deps: TradeFlowDeps,
  day: string,
): Promise<{ signal: SignalRecord; order: OrderRecord | undefined }[]> {
  const signals = await deps.signals.receivedOn(day);
  const rows: { signal: SignalRecord; order: OrderRecord | undefined }[] = [];
  for (let i = 0; i < signals.length; i += 25) {
    const batch = signals.slice(i, i + 25);
    rows.push(
      ...(await Promise.all(
        batch.map(async (signal) => ({
          signal,
          order:
            signal.clientOrderId === undefined ? undefined : await deps.store.getOrder(signal.clientOrderId),
        })),
      )),
    );
  }
  return rows;
}

async function exportDay(deps: TradeFlowDeps, day: string): Promise<ExportRow[]> {
  return (await signalsWithOrders(deps, day)).map(({ signal: s, order: o }) => {
    // An approved signal keeps its notes (e.g. SHORT_NOT_ALLOWED) where a rejected one keeps its denials.
    const codes = (s.denials ?? []).map((d) => d.code).join(' ');
    const rejected = s.status === 'rejected';
    return {
      receivedAt: s.receivedAt,
      signalId: s.signalId,
      symbol: s.signal.symbol,
      action: s.signal.action,
      strategy: s.signal.strategy ?? '',
      alertId: s.signal.alertId ?? '',
      status: s.status,
      reason: s.reason ?? '',
      denials: rejected ? codes : '',
      notes: rejected ? '' : codes,
      clientOrderId: o?.clientOrderId ?? '',
      side: o?.intent.side ?? '',
      orderType: o?.intent.orderType ?? '',
      quantity: o?.intent.quantity ?? '',
      limitPrice: o?.intent.limitPrice ?? '',
      orderStatus: o?.status ?? '',
      filledQuantity: o?.filledQuantity ?? '',
      averageFillPrice: o?.averageFillPrice ?? '',
      commission: o?.commission ?? '',
      realizedPnl: o?.realizedPnl ?? '',
      orderUpdatedAt: o?.updatedAt ?? '',
    };
  });
}

/**
 * Realized P&L (after commissions), commissions and fills per trading session (New York calendar day, as the daily
 * loss limit counts them) over the last `days` days, from the recorded orders; and today's
 * session P&L, which also counts open positions at their last price.
 */
export async function pnlByDay(deps: TradeFlowDeps, days: number) {
  const now = deps.clock.now();
  const sessions = Array.from({ length: days }, (_, i) =>
    sessionDateOf(new Date(now.getTime() - i * DAY_MS)),
  );
  const first = sessions.at(-1) ?? sessionDateOf(now);
  // A New York day spans two UTC days; an order may fill a day after its signal arrived.
  const utcDays: string[] = [];
  for (let ms = Date.parse(`${first}T00:00:00Z`) - DAY_MS; ms <= now.getTime(); ms += DAY_MS)
    utcDays.push(utcDay(ms));

  const perDay = new Map(
    sessions.map((date) => [
      date,
      { date, orders: 0, filledOrders: 0, realizedPnl: dec(0), commissions: dec(0) },
    ]),
  );
  for (const day of utcDays) {
    for (const { order } of await signalsWithOrders(deps, day)) {
      if (order === undefined) continue;
      const row = perDay.get(sessionDateOf(new Date(order.updatedAt)));
      if (row === undefined) continue;
      row.orders += 1;
      if (!dec(order.filledQuantity).isZero()) row.filledOrders += 1;
      row.realizedPnl = row.realizedPnl.plus(dec(order.realizedPnl));
      row.commissions = row.commissions.plus(dec(order.commission));
    }
  }
  const rows = [...perDay.values()].map((r) => ({
    date: r.date,
    orders: r.orders,
    filledOrders: r.filledOrders,
    // Booked realized P&L is already net of commissions (every order's, opening ones too).
    realizedPnl: money(r.realizedPnl),
    commissions: money(r.commissions),
  }));
  const status = await portfolioStatus(deps, { limit: 1 });
  const total = rows.reduce((sum, r) => sum.plus(dec(r.realizedPnl)), dec(0));
  return {
    days: rows,
    totalRealizedPnl: money(total),
    session: {
      date: status.account.session,
      startEquity: status.account.sessionStartEquity,
      equity: status.account.equity,
      pnl: status.account.sessionPnl,
    },
    realizedPnlAllTime: status.account.realizedPnl,
  };
}
