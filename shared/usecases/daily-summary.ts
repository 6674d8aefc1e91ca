import { sessionDateOf, sessionOf } from '../domain/calendar.js';
import { dec } from '../domain/money.js';
import type { Notice } from '../domain/notification.js';
import { pnlByDay, signalsWithOrders } from './operator.js';
import type { TradeFlowDeps } from './trade-flow.js';

export interface DailySummary {
  /** The New York session it sums up. */
  date: string;
  /** As `pinebridge pnl` reports the day: realized (net of commissions), commissions, orders. */
  realizedPnl: string;
  commissions: string;
  orders: number;
  filledOrders: number;
  /** The session's P&L with open positions at their last price, and equity now. */
  sessionPnl: string;
  equity: string;
  /** Orders that closed (part of) a position this session, and how many of them made money. */
  trades: number;
  wins: number;
  openPositions: { symbol: string; quantity: string }[];
  /** Signals received this session and refused, by the code of their first denial. */
  refusals: Record<string, number>;
}

const DAY_MS = 86_400_000;

/**
 * The day's summary. Its P&L figures are `pinebridge pnl`'s for the session (the same function);
 * trades and refusals are counted from the same recorded signals and orders.
 */
export async function dailySummary(deps: TradeFlowDeps): Promise<DailySummary> {
  const pnl = await pnlByDay(deps, 1);
  const today = pnl.days[0];
  const date = today?.date ?? sessionDateOf(deps.clock.now());
  let trades = 0;
  let wins = 0;
  const refusals: Record<string, number> = {};
  // A New York session spans two UTC days.
  for (const offset of [-1, 0, 1]) {
    const day = new Date(Date.parse(`${date}T12:00:00Z`) + offset * DAY_MS).toISOString().slice(0, 10);
    for (const { signal, order } of await signalsWithOrders(deps, day)) {
      if (signal.status === 'rejected' && sessionDateOf(new Date(signal.receivedAt)) === date) {
        const code = /^[A-Z_]+/.exec(signal.reason ?? '')?.[0] ?? 'REJECTED';
        refusals[code] = (refusals[code] ?? 0) + 1;
      }
      if (order === undefined || sessionDateOf(new Date(order.updatedAt)) !== date) continue;
      if (dec(order.closedQuantity ?? '0').gt(0)) {
        trades += 1;
        if (dec(order.realizedPnl).gt(0)) wins += 1;
      }
    }
  }
  const snapshot = await deps.store.snapshot();
  return {
    date,
    realizedPnl: today?.realizedPnl ?? '0.00',
    commissions: today?.commissions ?? '0.00',
    orders: today?.orders ?? 0,
    filledOrders: today?.filledOrders ?? 0,
    sessionPnl: pnl.session.pnl,
    equity: pnl.session.equity,
    trades,
    wins,
    openPositions: Object.values(snapshot.positions)
      .filter((p) => !dec(p.quantity).isZero())
      .map((p) => ({ symbol: p.symbol, quantity: p.quantity })),
    refusals,
  };
}

export function dailySummaryNotice(summary: DailySummary, at: string): Notice {
  const winRate = summary.trades === 0 ? '—' : `${Math.round((summary.wins / summary.trades) * 100)}%`;
  const refused = Object.entries(summary.refusals).sort(([, a], [, b]) => b - a);
  return {
    kind: 'daily-summary',
    severity: 'info',
    title: `Daily summary ${summary.date}: realized ${summary.realizedPnl}, session P&L ${summary.sessionPnl}`,
    lines: [
      `Equity ${summary.equity}; commissions ${summary.commissions}`,
      `Orders ${summary.orders} (${summary.filledOrders} filled); trades ${summary.trades}, win rate ${winRate}`,
      summary.openPositions.length === 0
        ? 'No open positions'
        : `Open: ${summary.openPositions.map((p) => `${p.symbol} ${p.quantity}`).join(', ')}`,
      refused.length === 0
        ? 'No refusals'
        : `Refused ${refused.reduce((n, [, count]) => n + count, 0)}: ${refused.map(([code, n]) => `${code} ${n}`).join(', ')}`,
    ],
    at,
  };
}

/** Minutes after the close the summary waits, so the last fills and the close's marks are in. */
export const SUMMARY_AFTER_CLOSE_MINUTES = 5;

/**
 * Whether the summary of `now`'s session is due: a trading day (not a holiday), its close (13:00 on
 * early-close days) and a few minutes past — and not yet sent for that date.
 */
export function summaryDue(now: Date, lastSentFor: string | undefined): string | undefined {
  const date = sessionDateOf(now);
  const session = sessionOf(date);
  if (session === undefined || lastSentFor === date) return undefined;
  return now.getTime() >= session.close.getTime() + SUMMARY_AFTER_CLOSE_MINUTES * 60_000 ? date : undefined;
}
