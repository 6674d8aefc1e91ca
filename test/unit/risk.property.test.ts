import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../shared/config/load.js';
import type { Signal } from '../../shared/domain/alert.js';
import { dailyLossLimitOf, drawdownPercentOf, riskMarksOf } from '../../shared/domain/breaker.js';
import { dec, str } from '../../shared/domain/money.js';
import { approvalBookkeeping, dayTradesInWindow, evaluateRisk } from '../../shared/domain/risk.js';
import { bookFill, equityOf, flatPosition, type PortfolioSnapshot } from '../../shared/domain/trading.js';

const SYMBOLS = ['SPY', 'QQQ', 'AAPL', 'MSFT', 'GOOG'] as const;
const START = new Date('2026-11-24T15:00:00.000Z');

const config = parseConfig({
  paper: { startingCash: '50000' },
  symbols: { allowed: [...SYMBOLS] },
  risk: {
    maxPositionQuantity: 300,
    maxPositionNotional: '15000',
    maxOrderNotional: '8000',
    maxGrossExposure: '40000',
    maxGrossExposurePercent: 90,
    maxOpenPositions: 3,
    maxOrdersPerMinute: 8,
    maxOrdersPerMinutePerSymbol: 3,
    duplicateWindowSeconds: 5,
    allowShort: true,
    maxDailyLoss: '1500',
    maxDrawdownPercent: 6,
    dayTrades: { enabled: true, maxDayTrades: 3, windowDays: 5, minEquity: '60000' },
  },
});

const signalArb = fc.record({
  symbol: fc.constantFrom(...SYMBOLS),
  action: fc.constantFrom('buy', 'sell', 'exit', 'add'),
  quantity: fc.integer({ min: 1, max: 150 }),
  quantityType: fc.constantFrom(
    'fixed_quantity',
    'dollar_amount',
    'percent_of_equity',
    'percent_of_position',
  ),
  price: fc.integer({ min: 500, max: 30_000 }), // cents
  // Mostly seconds apart; now and then overnight, so sessions and the day-trade window roll.
  gapSeconds: fc.oneof(
    { weight: 20, arbitrary: fc.integer({ min: 0, max: 30 }) },
    { weight: 1, arbitrary: fc.constant(86_400) },
  ),
});

/**
 * Any sequence of signals, each approved order filled at once at its reference price: after every
 * step, no configured limit is exceeded by the accepted orders.
 */
describe('risk limits hold for any sequence of signals', () => {
  it('never lets accepted orders exceed position, exposure, open-position, notional, cash or rate limits', () => {
    let approved = 0;
    let denied = 0;
    fc.assert(
      fc.property(fc.array(signalArb, { minLength: 20, maxLength: 80 }), (steps) => {
        let now = START;
        let snapshot: PortfolioSnapshot = {
          tradingState: 'ACTIVE',
          breaker: {},
          account: {
            cash: '50000',
            reservedCash: '0',
            realizedPnl: '0',
            commissions: '0',
            recentOrders: [],
            dayTrades: [],
            lossStreak: [],
            failureStreak: [],
          },
          positions: {},
          prices: {},
        };
        steps.forEach((step, i) => {
          now = new Date(now.getTime() + step.gapSeconds * 1000);
          const price = str(dec(step.price).div(100));
          const quantity =
            step.quantityType === 'dollar_amount'
              ? String(step.quantity * 50)
              : step.quantityType.startsWith('percent')
                ? String(Math.min(step.quantity, 100))
                : String(step.quantity);
          const signal: Signal = {
            symbol: step.symbol,
            action: step.action as Signal['action'],
            quantity,
            quantityType: step.quantityType as Signal['quantityType'],
            orderType: 'market',
            price,
            timeInForce: 'day',
            extendedHours: false,
          };
          const ctx = { signal, signalId: `s${i}`, snapshot, config, now };
          const decision = evaluateRisk(ctx);
          // The breaker record keeps the session and high-water mark as the store does.
          const marks = riskMarksOf(snapshot, now);
          snapshot = {
            ...snapshot,
            breaker: { session: marks.session, highWaterMark: str(marks.highWaterMark) },
          };
          if (!decision.approved) {
            denied += 1;
            return;
          }
          approved += 1;
          const { intent } = decision;
          const bookkeeping = approvalBookkeeping(intent, ctx);
          const before = snapshot.positions[intent.symbol] ?? flatPosition(intent.symbol);
          const booking = bookFill(before, intent.side, intent.quantity, intent.referencePrice, '0');
          const grows = dec(booking.position.quantity).abs().gt(dec(before.quantity).abs());

          // No opening order while the session's loss or the drawdown is at its limit.
          if (grows) {
            const limit = dailyLossLimitOf(config, marks.session.startEquity);
            expect(limit === undefined || marks.sessionPnl.neg().lt(limit)).toBe(true);
            expect(drawdownPercentOf(marks).lt(config.risk.maxDrawdownPercent)).toBe(true);
          }
          // Below minEquity, never more day trades in the window than allowed.
          if (dec(marks.session.startEquity).lt(dec(config.risk.dayTrades.minEquity))) {
            expect(dayTradesInWindow(bookkeeping.dayTrades, config, now).length).toBeLessThanOrEqual(
              config.risk.dayTrades.maxDayTrades,
            );
          }
          snapshot = {
            ...snapshot,
            account: {
              ...snapshot.account,
              cash: str(dec(snapshot.account.cash).plus(dec(booking.cashDelta))),
              // As the book keeps it: each symbol's memory in its position, the account's the union.
              recentOrders: [
                ...snapshot.account.recentOrders.filter((o) => o.symbol !== intent.symbol),
                ...bookkeeping.recentOrders,
              ].sort((a, b) => (a.at < b.at ? -1 : 1)),
              dayTrades: bookkeeping.dayTrades,
            },
            positions: {
              ...snapshot.positions,
              [intent.symbol]: {
                ...booking.position,
                openedInSession: bookkeeping.openedInSession,
                recentOrders: bookkeeping.recentOrders,
              },
            },
            prices: {
              ...snapshot.prices,
              [intent.symbol]: { price: intent.referencePrice, at: now.toISOString() },
            },
          };

          // Limits on what the accepted order opened.
          const opening = dec(intent.reservedCash);
          expect(opening.lte(dec(config.risk.maxOrderNotional))).toBe(true);
          const position = dec(booking.position.quantity).abs();
          if (grows) {
            expect(position.lte(config.risk.maxPositionQuantity)).toBe(true);
            expect(position.times(dec(intent.referencePrice)).lte(dec(config.risk.maxPositionNotional))).toBe(
              true,
            );
            const held = Object.values(snapshot.positions).filter((p) => !dec(p.quantity).isZero());
            expect(held.length).toBeLessThanOrEqual(config.risk.maxOpenPositions);
            const gross = held.reduce(
              (sum, p) =>
                sum.plus(
                  dec(p.quantity)
                    .abs()
                    .times(dec(snapshot.prices[p.symbol]?.price ?? p.averageCost)),
                ),
              dec(0),
            );
            expect(gross.lte(dec(config.risk.maxGrossExposure))).toBe(true);
          }
          // Cash spent on opening never exceeded what was there.
          expect(dec(snapshot.account.cash).gte(dec(0)) || !grows).toBe(true);
          // Order rate over the last 60 s.
          const lastMinute = snapshot.account.recentOrders.filter(
            (o) => Date.parse(o.at) > now.getTime() - 60_000,
          );
          expect(lastMinute.length).toBeLessThanOrEqual(config.risk.maxOrdersPerMinute);
          expect(equityOf(snapshot).isFinite()).toBe(true);
        });
      }),
      { seed: 7, numRuns: 300 },
    );
    // Not vacuous: the sequences exercise both sides of the limits.
    expect(approved).toBeGreaterThan(1000);
    expect(denied).toBeGreaterThan(1000);
  });
});
