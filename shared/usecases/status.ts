import { riskMarksOf } from '../domain/breaker.js';
import { dec, money } from '../domain/money.js';
import { equityOf } from '../domain/trading.js';
import type { Clock, SignalStore, TradingStore } from '../ports/index.js';

/** What the trader checks at a glance: state, money, positions, and what happened to recent signals. */
export async function portfolioStatus(
  deps: { store: TradingStore; signals: SignalStore; clock: Clock },
  options: { limit?: number; rejectedOnly?: boolean } = {},
) {
  const limit = options.limit ?? 20;
  const { clock } = deps;
  // Rejections are looked for among more recent signals, so a quiet filter still finds some.
  const recent = deps.signals.recent(options.rejectedOnly ? limit * 10 : limit);
  const [snapshot, allSignals, orders, transitions] = await Promise.all([
    deps.store.snapshot(),
    recent,
    deps.store.listOrders(limit),
    deps.store.tradingStateHistory(10),
  ]);
  const { account, breaker } = snapshot;
  const marks = riskMarksOf(snapshot, clock.now());
  const signals = options.rejectedOnly
    ? allSignals.filter((s) => s.status === 'rejected').slice(0, limit)
    : allSignals;
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
      equity: money(equityOf(snapshot)),
      realizedPnl: money(dec(account.realizedPnl)),
      commissions: money(dec(account.commissions)),
      session: marks.session.date,
      sessionStartEquity: money(dec(marks.session.startEquity)),
      sessionPnl: money(marks.sessionPnl),
      highWaterMark: money(marks.highWaterMark),
      drawdownPercent: marks.drawdownPercent.toDecimalPlaces(2).toNumber(),
    },
    positions: Object.values(snapshot.positions)
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
      }),
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
  };
}
