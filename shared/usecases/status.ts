import { drawdownPercentOf, riskMarksOf } from '../domain/breaker.js';
import { type Decimal, dec, money } from '../domain/money.js';
import { equityOf } from '../domain/trading.js';
import type { Clock, OrderRecord, SignalStore, TradingStore } from '../ports/index.js';

/** How many of the latest orders the equity curve goes back over (the orders scan reads them all anyway). */
export const EQUITY_CURVE_ORDERS = 500;

export interface EquityPoint {
  /** ISO time: when the order was last booked, or (the last point) when the status was read. */
  at: string;
  equity: string;
}

/**
 * The equity curve the dashboard draws, worked backwards from now so it needs no starting balance:
 * after each booked order of the last `EQUITY_CURVE_ORDERS`, cash plus open positions at cost
 * (each order's realized P&L is net of its commission, so the steps add up to the account's), then
 * a last point at `now` marked to the last prices. Past marks are not kept, so only the last point
 * carries unrealized P&L.
 */
export function equityCurveOf(
  orders: readonly OrderRecord[],
  equityNow: Decimal,
  unrealizedNow: Decimal,
  now: Date,
): EquityPoint[] {
  const booked = orders
    .filter((o) => !dec(o.filledQuantity).isZero() || !dec(o.realizedPnl).isZero())
    .sort((a, b) => (a.updatedAt < b.updatedAt ? -1 : a.updatedAt > b.updatedAt ? 1 : 0));
  let atCost = equityNow.minus(unrealizedNow);
  const points: EquityPoint[] = [{ at: now.toISOString(), equity: money(equityNow) }];
  for (let i = booked.length - 1; i >= 0; i--) {
    const order = booked[i] as OrderRecord;
    points.push({ at: order.updatedAt, equity: money(atCost) });
    atCost = atCost.minus(dec(order.realizedPnl));
  }
  const first = booked[0];
  if (first !== undefined) points.push({ at: first.createdAt, equity: money(atCost) });
  return points.reverse();
}

/** What the trader checks at a glance: state, money, positions, and what happened to recent signals. */
export async function portfolioStatus(
  deps: { store: TradingStore; signals: SignalStore; clock: Clock },
  options: { limit?: number; rejectedOnly?: boolean } = {},
) {
  const limit = options.limit ?? 20;
  const { clock } = deps;
  // Rejections are looked for among more recent signals, so a quiet filter still finds some.
  const recent = deps.signals.recent(options.rejectedOnly ? limit * 10 : limit, clock.now());
  const [snapshot, allSignals, allOrders, transitions] = await Promise.all([
    deps.store.snapshot(),
    recent,
    deps.store.listOrders(Math.max(limit, EQUITY_CURVE_ORDERS)),
    deps.store.tradingStateHistory(10),
  ]);
  const { account, breaker } = snapshot;
  const orders = allOrders.slice(0, limit);
  const marks = riskMarksOf(snapshot, clock.now());
  const signals = options.rejectedOnly
    ? allSignals.filter((s) => s.status === 'rejected').slice(0, limit)
    : allSignals;
  const positions = Object.values(snapshot.positions)
    .filter((p) => !dec(p.quantity).isZero() || !dec(p.pendingQuantity).isZero())
    .map((p) => {
      const last = snapshot.prices[p.symbol]?.price;
      return {
        symbol: p.symbol,
        quantity: p.quantity,
        pendingQuantity: p.pendingQuantity,
        averageCost: p.averageCost,
        lastPrice: last ?? null,
        unrealizedPnl:
          last === undefined ? null : money(dec(last).minus(dec(p.averageCost)).times(dec(p.quantity))),
        realizedPnl: money(dec(p.realizedPnl)),
      };
    });
  const equity = equityOf(snapshot);
  const unrealized = positions.reduce(
    (sum, p) =>
      p.lastPrice === null
        ? sum
        : sum.plus(dec(p.lastPrice).minus(dec(p.averageCost)).times(dec(p.quantity))),
    dec(0),
  );
  return {
    tradingState: snapshot.tradingState,
    breaker: {
      trip: breaker.trip ?? null,
      reason: breaker.reason ?? null,
      since: breaker.since ?? null,
      resetAt: breaker.resetAt ?? null,
    },
    tradingStateHistory: transitions,
    account: {
      cash: money(dec(account.cash)),
      reservedCash: money(dec(account.reservedCash)),
      buyingPower: money(dec(account.cash).minus(dec(account.reservedCash))),
      equity: money(equity),
      realizedPnl: money(dec(account.realizedPnl)),
      commissions: money(dec(account.commissions)),
      session: marks.session.date,
      sessionStartEquity: money(dec(marks.session.startEquity)),
      sessionPnl: money(marks.sessionPnl),
      highWaterMark: money(marks.highWaterMark),
      drawdownPercent: drawdownPercentOf(marks).toDecimalPlaces(2).toNumber(),
    },
    positions,
    signals: signals.map((s) => ({
      signalId: s.signalId,
      receivedAt: s.receivedAt,
      symbol: s.signal.symbol,
      action: s.signal.action,
      status: s.status,
      reason: s.reason ?? null,
      denials: s.denials ?? [],
      filledQuantity: s.filledQuantity ?? null,
      averageFillPrice: s.averageFillPrice ?? null,
    })),
    orders: orders.map((o) => ({
      clientOrderId: o.clientOrderId,
      signalId: o.signalId,
      symbol: o.intent.symbol,
      side: o.intent.side,
      quantity: o.intent.quantity,
      status: o.status,
      filledQuantity: o.filledQuantity,
      averageFillPrice: o.averageFillPrice ?? null,
      createdAt: o.createdAt,
    })),
    equityCurve: equityCurveOf(allOrders, equity, unrealized, clock.now()),
  };
}
