import type { Candles } from './candles.js';

/** The position a strategy wants after a bar: long, short, flat, or whatever it holds now (`hold`). */
export type Target = 'long' | 'short' | 'flat' | 'hold';

/**
 * A built-in strategy: reads bar i (and the bars before it, once each, in order) at the bar's close
 * and says which position it wants. It stands in for a TradingView strategy: the engine turns a
 * change of target into alerts, and the strategy believes its own orders filled (as TradingView's
 * strategy does), whatever the bot's risk checks then decide.
 */
export interface Strategy {
  readonly name: string;
  /** Bars needed before the first target. */
  readonly warmup: number;
  /** Called for every bar, in order. */
  next(candles: Candles, i: number): Target;
}

export interface SmaCrossParams {
  fast: number;
  slow: number;
  /** Short when the fast average is below the slow one; otherwise flat. */
  longShort: boolean;
}

/**
 * Simple moving-average crossover: long while SMA(fast) of the closes is above SMA(slow), flat (or
 * short) while below, unchanged when equal. Running sums keep each bar O(1).
 */
export function smaCross({ fast, slow, longShort }: SmaCrossParams): Strategy {
  if (!(Number.isInteger(fast) && Number.isInteger(slow) && fast >= 1 && slow > fast)) {
    throw new RangeError(`sma-cross needs whole periods with fast < slow (got fast ${fast}, slow ${slow})`);
  }
  let fastSum = 0;
  let slowSum = 0;
  return {
    name: `sma-cross(${fast},${slow}${longShort ? ',long-short' : ''})`,
    warmup: slow - 1,
    next(candles, i) {
      const close = candles.close;
      fastSum += close[i] as number;
      slowSum += close[i] as number;
      if (i >= fast) fastSum -= close[i - fast] as number;
      if (i >= slow) slowSum -= close[i - slow] as number;
      if (i < slow - 1) return 'hold';
      const f = fastSum / fast;
      const s = slowSum / slow;
      return f > s ? 'long' : f < s ? (longShort ? 'short' : 'flat') : 'hold';
    },
  };
}

export interface RsiParams {
  period: number;
  oversold: number;
  overbought: number;
  /** Short when overbought; otherwise only flat. */
  longShort: boolean;
}

/**
 * RSI mean reversion: long when Wilder's RSI(period) of the closes falls below `oversold`; out (or
 * short) when it rises above `overbought`; unchanged in between. Wilder's smoothing: the first
 * average gain and loss are the means of the first `period` changes, then
 * avg = (avg × (period − 1) + change) / period; RSI = 100 − 100 / (1 + avgGain / avgLoss), 100 when
 * there was no loss.
 */
export function rsiReversion({ period, oversold, overbought, longShort }: RsiParams): Strategy {
  if (!(Number.isInteger(period) && period >= 2))
    throw new RangeError(`rsi needs a whole period ≥ 2 (got ${period})`);
  if (!(oversold >= 0 && overbought <= 100 && oversold < overbought)) {
    throw new RangeError(`rsi needs 0 ≤ oversold < overbought ≤ 100 (got ${oversold} and ${overbought})`);
  }
  let gain = 0;
  let loss = 0;
  return {
    name: `rsi(${period},${oversold},${overbought}${longShort ? ',long-short' : ''})`,
    warmup: period,
    next(candles, i) {
      if (i === 0) return 'hold';
      const change = (candles.close[i] as number) - (candles.close[i - 1] as number);
      const up = Math.max(change, 0);
      const down = Math.max(-change, 0);
      if (i <= period) {
        gain += up / period;
        loss += down / period;
        if (i < period) return 'hold';
      } else {
        gain = (gain * (period - 1) + up) / period;
        loss = (loss * (period - 1) + down) / period;
      }
      const rsi = loss === 0 ? 100 : 100 - 100 / (1 + gain / loss);
      if (rsi < oversold) return 'long';
      if (rsi > overbought) return longShort ? 'short' : 'flat';
      return 'hold';
    },
  };
}
