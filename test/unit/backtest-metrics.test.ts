import { describe, expect, it } from 'vitest';
import { computeMetrics } from '../../shared/backtest/metrics.js';
import { type ClosedTrade, TradeLedger } from '../../shared/backtest/trades.js';

const DAY = 86_400_000;
// Monday 2024-01-01 … Friday 2024-01-05, midnight UTC: five weekday points, one per day.
const t = [0, 1, 2, 3, 4].map((d) => Date.UTC(2024, 0, 1) + d * DAY);
const equity = [100, 110, 99, 121, 110];

const trade = (
  direction: 'long' | 'short',
  quantity: number,
  entry: [number, number],
  exit: [number, number],
  commission: number,
): ClosedTrade => {
  const sign = direction === 'long' ? 1 : -1;
  const pnl = (exit[1] - entry[1]) * quantity * sign - commission;
  return {
    direction,
    quantity,
    entryTime: entry[0],
    entryPrice: entry[1],
    exitTime: exit[0],
    exitPrice: exit[1],
    commission,
    pnl,
    returnPercent: (pnl / (entry[1] * quantity)) * 100,
  };
};

// T1: long 10 @ 10 → 11, commission 1: P&L 10 × 1 − 1 = 9, return 9 / 100 = 9 %, days 0 → 1.
// T2: short 5 @ 20 → 22: P&L −(2 × 5) = −10, return −10 / 100 = −10 %, days 3 → 4.
// T3: long 2 @ 50 → 60: P&L 20, return 20 / 100 = 20 %, days 3 → 4 (overlaps T2).
const trades = [
  trade('long', 10, [t[0] as number, 10], [t[1] as number, 11], 1),
  trade('short', 5, [t[3] as number, 20], [t[4] as number, 22], 0),
  trade('long', 2, [t[3] as number, 50], [t[4] as number, 60], 0),
];

describe('backtest metrics on a hand-computed series', () => {
  const m = computeMetrics({
    times: t,
    equity,
    trades,
    initialEquity: 100,
    buyAndHold: { first: 50, last: 60 },
  });

  // Daily simple returns from the starting equity 100: 100/100 − 1 = 0, 110/100 − 1 = 0.1,
  // 99/110 − 1 = −0.1, 121/99 − 1 = 2/9, 110/121 − 1 = −1/11.
  const r = [0, 0.1, -0.1, 2 / 9, -1 / 11];
  // Their product of (1 + r) telescopes to 110/100, so the geometric mean is 1.1^(1/5) − 1.
  const g = 1.1 ** (1 / 5) - 1;
  // No weekend points, so a year has 252 periods (backtesting.py's rule).
  const annual = (1 + g) ** 252 - 1; // = 1.1^(252/5) − 1 = 1.1^50.4 − 1 ≈ 121.95
  // Mean (0 + 0.1 − 0.1 + 2/9 − 1/11) / 5 = 13/495; sample variance Σ(r − mean)² / 4.
  const mean = 13 / 495;
  const variance = r.reduce((sum, x) => sum + (x - mean) ** 2, 0) / 4;
  const volatility = Math.sqrt((variance + (1 + g) ** 2) ** 252 - (1 + g) ** 504);
  // Downside deviation: √((0.1² + (1/11)²) / 5) × √252.
  const downside = Math.sqrt((0.01 + 1 / 121) / 5) * Math.sqrt(252);

  it('reports start, end and duration', () => {
    expect(m.start).toBe('2024-01-01T00:00:00.000Z');
    expect(m.end).toBe('2024-01-05T00:00:00.000Z');
    expect(m.durationMs).toBe(4 * DAY);
  });

  it('counts exposure as the points with a trade open, overlapping trades once', () => {
    // T1 covers points 0–1, T2 and T3 cover 3–4: 4 of 5 points = 80 %.
    expect(m.exposureTimePercent).toBeCloseTo(80, 10);
  });

  it('reports equity final and peak, return and buy & hold', () => {
    expect(m.equityFinal).toBe(110);
    expect(m.equityPeak).toBe(121);
    expect(m.returnPercent).toBeCloseTo(10, 10); // (110 − 100) / 100
    expect(m.buyAndHoldReturnPercent).toBeCloseTo(20, 10); // (60 − 50) / 50
  });

  it('annualizes the geometric mean of daily returns, and their volatility as backtesting.py does', () => {
    expect(m.annualization).toEqual({ periodsPerYear: 252, period: 'day' });
    expect(m.returnAnnualizedPercent).toBeCloseTo(annual * 100, 6);
    expect(m.volatilityAnnualizedPercent).toBeCloseTo(volatility * 100, 6);
  });

  it('reports CAGR over calendar years', () => {
    // 4 days = 4 / 365.25 years: 1.1^(365.25/4) − 1.
    expect(m.cagrPercent).toBeCloseTo((1.1 ** (365.25 / 4) - 1) * 100, 4);
  });

  it('reports Sharpe, Sortino and Calmar ratios', () => {
    expect(m.sharpeRatio).toBeCloseTo(annual / volatility, 8);
    expect(m.sortinoRatio).toBeCloseTo(annual / downside, 8);
    // Calmar: annual return / max drawdown 0.1.
    expect(m.calmarRatio).toBeCloseTo(annual / 0.1, 6);
  });

  it('finds drawdowns between peaks, and their depth and duration', () => {
    // Peaks at points 0, 1, 3; point 2 is 1 − 99/110 = 10 % down (a period from 1 to 3: 2 days);
    // point 4 is 1 − 110/121 = 9.09 % down but, a single point at the end, no period.
    expect(m.maxDrawdownPercent).toBeCloseTo(-10, 10);
    expect(m.avgDrawdownPercent).toBeCloseTo(-10, 10);
    expect(m.maxDrawdownDurationMs).toBe(2 * DAY);
    expect(m.avgDrawdownDurationMs).toBe(2 * DAY);
  });

  it('reports the trade statistics', () => {
    expect(m.trades).toBe(3);
    expect(m.winRatePercent).toBeCloseTo(200 / 3, 10); // 2 of 3 made money
    expect(m.bestTradePercent).toBeCloseTo(20, 10);
    expect(m.worstTradePercent).toBeCloseTo(-10, 10);
    // Geometric mean of 1.09, 0.90 and 1.20: 1.1772^(1/3) − 1.
    expect(m.avgTradePercent).toBeCloseTo((1.1772 ** (1 / 3) - 1) * 100, 10);
    expect(m.maxTradeDurationMs).toBe(DAY);
    expect(m.avgTradeDurationMs).toBe(DAY);
    // Gross profit 9 + 20 = 29 over gross loss 10.
    expect(m.profitFactor).toBeCloseTo(2.9, 10);
    // Mean return (9 − 10 + 20) / 3 = 19/3 %; mean P&L (9 − 10 + 20) / 3 = $19/3.
    expect(m.expectancyPercent).toBeCloseTo(19 / 3, 10);
    expect(m.expectancy).toBeCloseTo(19 / 3, 10);
    // SQN = √3 × mean / sample std: deviations 8/3, −49/3, 41/3 → squares sum 4146/9 = 460.67,
    // / 2 = 230.33, std 15.177, SQN = 1.7321 × 6.3333 / 15.177 = 0.7228.
    const std = Math.sqrt(((8 / 3) ** 2 + (49 / 3) ** 2 + (41 / 3) ** 2) / 2);
    expect(m.sqn).toBeCloseTo((Math.sqrt(3) * (19 / 3)) / std, 10);
    expect(m.sqn).toBeCloseTo(0.7228, 4);
  });

  it('leaves undefined figures null: no trades, no losing trade, no drawdown', () => {
    const flat = computeMetrics({ times: [t[0] as number, t[1] as number], equity: [100, 100], trades: [] });
    expect(flat.trades).toBe(0);
    expect(flat.winRatePercent).toBeNull();
    expect(flat.profitFactor).toBeNull();
    expect(flat.sqn).toBeNull();
    expect(flat.maxDrawdownPercent).toBe(0);
    expect(flat.avgDrawdownPercent).toBeNull();
    expect(flat.calmarRatio).toBeNull();
    const winners = computeMetrics({
      times: t,
      equity,
      trades: [trades[0] as ClosedTrade, trades[2] as ClosedTrade],
    });
    expect(winners.profitFactor).toBeNull();
  });

  it('measures bars longer than two days per bar: monthly bars give 12-ish periods a year', () => {
    // Points 30 days apart: 365.25 / 30 = 12.175 periods a year; returns 10 % then −10 %.
    const monthly = computeMetrics({ times: [0, 30 * DAY, 60 * DAY], equity: [100, 110, 99], trades: [] });
    expect(monthly.annualization.period).toBe('bar');
    expect(monthly.annualization.periodsPerYear).toBeCloseTo(365.25 / 30, 10);
    // Returns from the first point: 0, 0.1, −0.1 → geometric mean 0.99^(1/3) − 1.
    expect(monthly.returnAnnualizedPercent).toBeCloseTo((0.99 ** ((1 / 3) * (365.25 / 30)) - 1) * 100, 8);
  });
});

describe('trade ledger: fills paired first in, first out', () => {
  it('splits a close across lots, shares commissions pro rata and reverses with the rest', () => {
    const ledger = new TradeLedger();
    ledger.add({ time: 0, side: 'buy', quantity: 10, price: 10, commission: 1 });
    ledger.add({ time: 1, side: 'buy', quantity: 10, price: 12, commission: 1 });
    ledger.add({ time: 2, side: 'sell', quantity: 15, price: 13, commission: 3 });
    ledger.add({ time: 3, side: 'sell', quantity: 10, price: 11, commission: 2 });

    // Lot 1: 10 @ 10 → 13, commission 1 + 3 × 10/15 = 3: P&L 30 − 3 = 27.
    // Lot 2, first 5 @ 12 → 13, commission 0.5 + 3 × 5/15 = 1.5: P&L 5 − 1.5 = 3.5.
    // Lot 2, last 5 @ 12 → 11, commission 0.5 + 2 × 5/10 = 1.5: P&L −5 − 1.5 = −6.5.
    expect(ledger.closed.map((c) => [c.quantity, c.entryPrice, c.exitPrice, c.commission, c.pnl])).toEqual([
      [10, 10, 13, 3, 27],
      [5, 12, 13, 1.5, 3.5],
      [5, 12, 11, 1.5, -6.5],
    ]);
    // The remaining 5 of the last sell open a short at 11 carrying 2 × 5/10 = 1 of commission.
    expect(ledger.open()).toEqual([
      { direction: 'short', quantity: 5, entryTime: 3, entryPrice: 11, commission: 1 },
    ]);
  });
});
