import type { ClosedTrade } from './trades.js';

/**
 * Performance metrics, with the names and (where sensible) the definitions of backtesting.py's
 * `compute_stats`. Pure: a backtest and the live `performance` report feed the same function.
 * Every definition is in docs/BACKTESTING.md; values that are undefined (no trades, no losing
 * trade, too short a curve) are null, as NaN is in backtesting.py.
 */
export interface Metrics {
  start: string;
  end: string;
  durationMs: number;
  exposureTimePercent: number;
  equityFinal: number;
  equityPeak: number;
  returnPercent: number;
  buyAndHoldReturnPercent: number | null;
  returnAnnualizedPercent: number | null;
  volatilityAnnualizedPercent: number | null;
  cagrPercent: number | null;
  sharpeRatio: number | null;
  sortinoRatio: number | null;
  calmarRatio: number | null;
  /** Negative, as backtesting.py shows it: −25 is a 25 % fall from the peak. */
  maxDrawdownPercent: number;
  avgDrawdownPercent: number | null;
  maxDrawdownDurationMs: number | null;
  avgDrawdownDurationMs: number | null;
  trades: number;
  winRatePercent: number | null;
  bestTradePercent: number | null;
  worstTradePercent: number | null;
  /** Geometric mean of the trades' returns. */
  avgTradePercent: number | null;
  maxTradeDurationMs: number | null;
  avgTradeDurationMs: number | null;
  profitFactor: number | null;
  /** Arithmetic mean of the trades' returns. */
  expectancyPercent: number | null;
  /** Mean P&L per trade, in the account's currency. */
  expectancy: number | null;
  sqn: number | null;
  /** How returns were annualized: periods per year, and whether a period is a day or a bar. */
  annualization: { periodsPerYear: number; period: 'day' | 'bar' };
}

export interface MetricsInput {
  /** Epoch milliseconds of each equity point, increasing. */
  times: ArrayLike<number>;
  /** Equity at each point (cash plus positions marked to market). */
  equity: ArrayLike<number>;
  /** Closed trades. */
  trades: readonly ClosedTrade[];
  /** Trades still open at the end (they count towards exposure only). */
  openTrades?: readonly { entryTime: number }[];
  /** Equity before the first point; the first point's equity when left out. */
  initialEquity?: number;
  /** First and last price of the instrument, for buy & hold. */
  buyAndHold?: { first: number; last: number };
  /** Annual risk-free rate as a fraction (0.02 = 2 %); 0 when left out. */
  riskFreeRate?: number;
}

const DAY_MS = 86_400_000;
const YEAR_MS = 365.25 * DAY_MS;

const finite = (x: number): number | null => (Number.isFinite(x) ? x : null);

/** The metrics of an equity curve and its trades. O(points + trades log trades), no per-point allocation. */
export function computeMetrics(input: MetricsInput): Metrics {
  const { times, equity, trades } = input;
  const n = equity.length;
  if (n === 0 || times.length !== n)
    throw new RangeError('metrics need an equity curve with one time per point');
  const first = times[0] as number;
  const last = times[n - 1] as number;
  const initial = input.initialEquity ?? (equity[0] as number);
  const final = equity[n - 1] as number;
  const rf = input.riskFreeRate ?? 0;

  const drawdown = drawdownsOf(times, equity);
  const returns = periodReturnsOf(times, equity, initial);
  const annualReturn =
    returns.count > 0 ? (1 + returns.geometricMean) ** returns.periodsPerYear - 1 : Number.NaN;
  const variance = returns.count > 1 ? returns.m2 / (returns.count - 1) : Number.NaN;
  const g1 = 1 + returns.geometricMean;
  const N = returns.periodsPerYear;
  const annualVolatility = Math.sqrt((variance + g1 * g1) ** N - g1 ** (2 * N));
  const downside =
    returns.count > 0 ? Math.sqrt(returns.downsideSquares / returns.count) * Math.sqrt(N) : Number.NaN;
  const years = (last - first) / YEAR_MS;

  const trade = tradeStats(trades);
  return {
    start: new Date(first).toISOString(),
    end: new Date(last).toISOString(),
    durationMs: last - first,
    exposureTimePercent: (exposedPoints(times, trades, input.openTrades ?? []) / n) * 100,
    equityFinal: final,
    equityPeak: Math.max(drawdown.peak, initial),
    returnPercent: ((final - initial) / initial) * 100,
    buyAndHoldReturnPercent: input.buyAndHold
      ? ((input.buyAndHold.last - input.buyAndHold.first) / input.buyAndHold.first) * 100
      : null,
    returnAnnualizedPercent: finite(annualReturn * 100),
    volatilityAnnualizedPercent: finite(annualVolatility * 100),
    cagrPercent:
      years > 0 && final > 0 && initial > 0 ? finite(((final / initial) ** (1 / years) - 1) * 100) : null,
    sharpeRatio: finite((annualReturn - rf) / annualVolatility),
    sortinoRatio: finite((annualReturn - rf) / downside),
    calmarRatio: drawdown.max > 0 ? finite(annualReturn / drawdown.max) : null,
    maxDrawdownPercent: drawdown.max === 0 ? 0 : -drawdown.max * 100,
    avgDrawdownPercent: drawdown.periods > 0 ? -(drawdown.sumPeak / drawdown.periods) * 100 : null,
    maxDrawdownDurationMs: drawdown.periods > 0 ? drawdown.maxDuration : null,
    avgDrawdownDurationMs: drawdown.periods > 0 ? drawdown.sumDuration / drawdown.periods : null,
    ...trade,
    annualization: { periodsPerYear: returns.periodsPerYear, period: returns.period },
  };
}

interface Drawdowns {
  /** Largest fall from a running peak, as a fraction (0.25 = 25 %). */
  max: number;
  peak: number;
  periods: number;
  sumPeak: number;
  maxDuration: number;
  sumDuration: number;
}

/**
 * Drawdown dd = 1 − equity / running peak, and its periods as backtesting.py delimits them: from
 * one point at a peak (dd = 0) to the next, when at least one point lies between; a drawdown not
 * recovered by the end runs to the last point. A period's depth is its largest dd, its duration
 * the time between its two ends.
 */
export function drawdownsOf(times: ArrayLike<number>, equity: ArrayLike<number>): Drawdowns {
  const n = equity.length;
  let peak = Number.NEGATIVE_INFINITY;
  let max = 0;
  let prev = -1;
  let depth = 0;
  const out = { periods: 0, sumPeak: 0, maxDuration: 0, sumDuration: 0 };
  const close = (from: number, to: number) => {
    const duration = (times[to] as number) - (times[from] as number);
    out.periods += 1;
    out.sumPeak += depth;
    out.sumDuration += duration;
    if (duration > out.maxDuration) out.maxDuration = duration;
  };
  for (let i = 0; i < n; i++) {
    const e = equity[i] as number;
    if (e > peak) peak = e;
    const dd = 1 - e / peak;
    if (dd === 0) {
      if (prev !== -1 && i > prev + 1) close(prev, i);
      prev = i;
      depth = 0;
    } else {
      if (dd > depth) depth = dd;
      if (dd > max) max = dd;
    }
  }
  if (prev !== -1 && n - 1 > prev + 1) close(prev, n - 1);
  return { max, peak, ...out };
}

interface PeriodReturns {
  count: number;
  geometricMean: number;
  /** Sum of squared deviations from the mean (Welford), for the sample variance. */
  m2: number;
  downsideSquares: number;
  periodsPerYear: number;
  period: 'day' | 'bar';
}

/**
 * Simple returns per period: per calendar day (UTC; the day's last equity) for bars of a day or
 * less, per bar for longer bars. A period is a day when the median spacing of the points is under
 * two days; then a year has 365 periods when weekend points make up more than 60 % of their 2/7
 * share (a market that trades every day), else 252 — backtesting.py's rule. Longer bars give
 * 365.25 days / median spacing periods a year (backtesting.py would treat monthly bars as days).
 * The first period's return is measured from `initial`.
 */
export function periodReturnsOf(
  times: ArrayLike<number>,
  equity: ArrayLike<number>,
  initial: number,
): PeriodReturns {
  const n = equity.length;
  const spacing = medianGap(times);
  const daily = spacing < 2 * DAY_MS;
  let weekend = 0;
  for (let i = 0; i < n; i++) {
    const weekday = new Date(times[i] as number).getUTCDay();
    if (weekday === 0 || weekday === 6) weekend += 1;
  }
  const periodsPerYear = daily ? (weekend / n > (2 / 7) * 0.6 ? 365 : 252) : YEAR_MS / spacing;

  let count = 0;
  let logSum = 0;
  let nonPositive = false;
  let mean = 0;
  let m2 = 0;
  let downsideSquares = 0;
  let previous = initial;
  const add = (value: number) => {
    const r = value / previous - 1;
    previous = value;
    count += 1;
    if (1 + r <= 0) nonPositive = true;
    else logSum += Math.log(1 + r);
    const delta = r - mean;
    mean += delta / count;
    m2 += delta * (r - mean);
    if (r < 0) downsideSquares += r * r;
  };
  if (daily) {
    let day = Math.floor((times[0] as number) / DAY_MS);
    for (let i = 1; i < n; i++) {
      const d = Math.floor((times[i] as number) / DAY_MS);
      if (d !== day) {
        add(equity[i - 1] as number);
        day = d;
      }
    }
    add(equity[n - 1] as number);
  } else {
    for (let i = 0; i < n; i++) add(equity[i] as number);
  }
  return {
    count,
    // backtesting.py's geometric_mean: 0 when any period lost everything.
    geometricMean: nonPositive || count === 0 ? 0 : Math.exp(logSum / count) - 1,
    m2,
    downsideSquares,
    periodsPerYear,
    period: daily ? 'day' : 'bar',
  };
}

function medianGap(times: ArrayLike<number>): number {
  const n = times.length;
  if (n < 2) return DAY_MS;
  const step = Math.max(1, Math.floor((n - 1) / 10_000));
  const gaps: number[] = [];
  for (let i = step; i < n; i += step) gaps.push(((times[i] as number) - (times[i - step] as number)) / step);
  gaps.sort((a, b) => a - b);
  return gaps[Math.floor(gaps.length / 2)] as number;
}

/** Index of the last point at or before `t` (0 when `t` precedes them all). */
function pointAt(times: ArrayLike<number>, t: number): number {
  let lo = 0;
  let hi = times.length - 1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if ((times[mid] as number) <= t) lo = mid;
    else hi = mid - 1;
  }
  return lo;
}

/**
 * Points with a position open: for each trade, the points from the one its entry falls in to the one
 * its exit falls in, both included (backtesting.py's EntryBar … ExitBar); overlapping trades count once.
 */
function exposedPoints(
  times: ArrayLike<number>,
  trades: readonly ClosedTrade[],
  open: readonly { entryTime: number }[],
): number {
  const n = times.length;
  const spans: [number, number][] = trades.map((t) => [
    pointAt(times, t.entryTime),
    pointAt(times, t.exitTime),
  ]);
  for (const t of open) spans.push([pointAt(times, t.entryTime), n - 1]);
  spans.sort((a, b) => a[0] - b[0]);
  let covered = 0;
  let from = -1;
  let to = -2;
  for (const [a, b] of spans) {
    if (a > to + 1) {
      covered += to - from + 1;
      from = a;
      to = b;
    } else if (b > to) to = b;
  }
  covered += to - from + 1;
  return covered;
}

function tradeStats(trades: readonly ClosedTrade[]) {
  const n = trades.length;
  if (n === 0) {
    return {
      trades: 0,
      winRatePercent: null,
      bestTradePercent: null,
      worstTradePercent: null,
      avgTradePercent: null,
      maxTradeDurationMs: null,
      avgTradeDurationMs: null,
      profitFactor: null,
      expectancyPercent: null,
      expectancy: null,
      sqn: null,
    };
  }
  let wins = 0;
  let best = Number.NEGATIVE_INFINITY;
  let worst = Number.POSITIVE_INFINITY;
  let logSum = 0;
  let wipedOut = false;
  let returnSum = 0;
  let maxDuration = 0;
  let durationSum = 0;
  let grossProfit = 0;
  let grossLoss = 0;
  let pnlSum = 0;
  for (const t of trades) {
    if (t.pnl > 0) wins += 1;
    if (t.returnPercent > best) best = t.returnPercent;
    if (t.returnPercent < worst) worst = t.returnPercent;
    const growth = 1 + t.returnPercent / 100;
    if (growth <= 0) wipedOut = true;
    else logSum += Math.log(growth);
    returnSum += t.returnPercent;
    const duration = t.exitTime - t.entryTime;
    durationSum += duration;
    if (duration > maxDuration) maxDuration = duration;
    if (t.pnl > 0) grossProfit += t.pnl;
    else grossLoss -= t.pnl;
    pnlSum += t.pnl;
  }
  const meanPnl = pnlSum / n;
  let squares = 0;
  for (const t of trades) squares += (t.pnl - meanPnl) ** 2;
  const std = n > 1 ? Math.sqrt(squares / (n - 1)) : Number.NaN;
  return {
    trades: n,
    winRatePercent: (wins / n) * 100,
    bestTradePercent: best,
    worstTradePercent: worst,
    avgTradePercent: wipedOut ? 0 : (Math.exp(logSum / n) - 1) * 100,
    maxTradeDurationMs: maxDuration,
    avgTradeDurationMs: durationSum / n,
    profitFactor: grossLoss > 0 ? grossProfit / grossLoss : null,
    expectancyPercent: returnSum / n,
    expectancy: meanPnl,
    sqn: std > 0 ? finite((Math.sqrt(n) * meanPnl) / std) : null,
  };
}
