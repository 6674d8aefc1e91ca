import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { CandleFormatError, parseCandlesCsv, symbolFromFileName } from '../../shared/backtest/candles.js';
import { runBacktest } from '../../shared/backtest/engine.js';
import {
  parseSignalsFile,
  parseTradingViewTrades,
  SignalsFormatError,
} from '../../shared/backtest/signals.js';
import { rsiReversion, smaCross } from '../../shared/backtest/strategies.js';
import { parseConfig } from '../../shared/config/load.js';

const example = (name: string) =>
  readFileSync(new URL(`../../docs/examples/${name}`, import.meta.url), 'utf8');
const goog = parseCandlesCsv(example('GOOG.csv'));
const defaults = parseConfig({});

describe('candles from CSV', () => {
  it('reads the pandas layout: a date per row is the NYSE session of that day', () => {
    expect(goog.length).toBe(2148);
    // 2004-08-19 09:30 New York (EDT) is 13:30 UTC; the bar closes a minute before 16:00.
    expect(new Date(goog.time[0] as number).toISOString()).toBe('2004-08-19T13:30:00.000Z');
    expect(new Date(goog.closeTime[0] as number).toISOString()).toBe('2004-08-19T19:59:00.000Z');
    expect([goog.open[0], goog.high[0], goog.low[0], goog.close[0], goog.volume[0]]).toEqual([
      100, 104.06, 95.96, 100.34, 22351900,
    ]);
  });

  it("reads TradingView's chart export with unix seconds and extra columns", () => {
    const candles = parseCandlesCsv(
      'time,open,high,low,close,Volume,Plot\n1700000000,1,2,0.5,1.5,10,3\n1700000060,1.5,2,1,1.25,11,3\n',
    );
    expect(candles.length).toBe(2);
    expect(candles.time[1]).toBe(1_700_000_060_000);
    // An intraday bar closes when the next opens (or after the typical spacing, one minute here).
    expect(candles.closeTime[0]).toBe(1_700_000_060_000);
    expect(candles.closeTime[1]).toBe(1_700_000_120_000);
    expect(candles.close[1]).toBe(1.25);
  });

  it('reads date-times without a zone as UTC, and ISO times with one', () => {
    const eurusd = parseCandlesCsv(example('EURUSD.csv'));
    expect(new Date(eurusd.time[0] as number).toISOString()).toBe('2017-04-19T09:00:00.000Z');
    const iso = parseCandlesCsv('time,open,high,low,close\n2024-01-02T14:30:00-05:00,1,1,1,1\n');
    expect(new Date(iso.time[0] as number).toISOString()).toBe('2024-01-02T19:30:00.000Z');
  });

  it('names the line at fault', () => {
    expect(() => parseCandlesCsv(',Open,High,Low,Close\n2024-01-02,1,1,1,1\n2024-01-01,1,1,1,1\n')).toThrow(
      /line 3: bars must be in time order/,
    );
    expect(() => parseCandlesCsv(',Open,High,Low,Close\n2024-01-02,1,x,1,1\n')).toThrow(CandleFormatError);
    expect(() => parseCandlesCsv('a,b\n1,2\n')).toThrow(/no open, high, low, close column/);
  });

  it('takes the symbol from the file name', () => {
    expect(symbolFromFileName('docs/examples/GOOG.csv')).toBe('GOOG');
    expect(symbolFromFileName('NASDAQ_GOOG, 1D_8c1a2.csv')).toBe('GOOG');
  });
});

describe('signals files', () => {
  it('reads JSON lines of {time, alert} and of alerts carrying their own time', () => {
    const signals = parseSignalsFile(
      '{"time":"2005-03-01T21:00:00Z","alert":{"ticker":"GOOG","action":"buy","quantity":1}}\n' +
        '\n{"ticker":"GOOG","action":"exit","time":"2005-03-02T21:00:00Z"}\n',
      'GOOG',
    );
    expect(signals.map((s) => [new Date(s.at).toISOString(), s.alert.action, s.origin])).toEqual([
      ['2005-03-01T21:00:00.000Z', 'buy', 'line 1'],
      ['2005-03-02T21:00:00.000Z', 'exit', 'line 3'],
    ]);
    expect(() => parseSignalsFile('{"alert":{}}\n', 'GOOG')).toThrow(/line 1: expected/);
  });

  it("turns a TradingView List of trades into the strategy's alerts, a reversal into one order", () => {
    const signals = parseTradingViewTrades(example('GOOG-list-of-trades.csv'), 'GOOG');
    expect(signals.map((s) => [new Date(s.at).toISOString().slice(0, 10), s.alert])).toEqual([
      ['2005-03-02', { ticker: 'GOOG', action: 'buy', quantity: '20' }],
      ['2005-04-12', { ticker: 'GOOG', action: 'exit', quantity: '20' }],
      ['2005-08-02', { ticker: 'GOOG', action: 'buy', quantity: '25' }],
      // Exit Long 25 and Entry Short 25 at the same time: one sell of 50, as TradingView sends it.
      ['2005-09-13', { ticker: 'GOOG', action: 'sell', quantity: '50' }],
      ['2005-11-22', { ticker: 'GOOG', action: 'exit', quantity: '25' }],
      ['2005-11-23', { ticker: 'GOOG', action: 'buy', quantity: '20' }],
    ]);
    expect(() => parseTradingViewTrades('Trade #,Type,Date/Time\n', 'GOOG')).toThrow(SignalsFormatError);
  });
});

describe('backtest engine: signals through the live webhook, risk checks, breaker and paper broker', () => {
  it('shows the rejections of a replay whose signals breach risk limits, by reason code', async () => {
    const signals = parseSignalsFile(example('GOOG-alerts.jsonl'), 'GOOG');

    const result = await runBacktest({
      candles: goog,
      symbol: 'GOOG',
      config: defaults,
      source: { kind: 'signals', signals },
      recordDecisions: true,
    });

    expect(result.signals.sent).toBe(10);
    expect(result.signals.filled).toBe(6);
    expect(result.signals.byReason).toEqual({
      MAX_ORDER_NOTIONAL: 1, // buy 40 at $288.73 opens $11,549.20, above $10,000
      NOTHING_TO_CLOSE: 1, // the exit after that refused buy finds nothing
      PRICE_COLLAR: 1, // a limit of 200 with GOOG at $291.60: 31 % away
      SHORT_NOT_ALLOWED: 1, // a sell while flat would open a short
    });
    expect(result.decisions.map((d) => d.code ?? d.status)).toEqual([
      'filled',
      'filled',
      'MAX_ORDER_NOTIONAL',
      'NOTHING_TO_CLOSE',
      'filled',
      'PRICE_COLLAR',
      'filled',
      'SHORT_NOT_ALLOWED',
      'filled',
      'filled',
    ]);
    // next-open: the first buy (fired 2005-03-01 at the close) fills at 2005-03-02's open, 185.95.
    expect(result.trades[0]).toMatchObject({ entryPrice: 185.95, exitPrice: 193, quantity: 20 });
    expect(result.account.realizedPnl).toBe('1436'); // 20 × 7.05 + 30 × 17.40 + 20 × 38.65
  });

  it('fills at the close with --fill close, and charges slippage and commissions as the paper broker does', async () => {
    const signals = parseSignalsFile(example('GOOG-alerts.jsonl'), 'GOOG').slice(0, 2);
    const config = parseConfig({ paper: { slippageBps: 10, commissionPerOrder: '1.00' } });

    const result = await runBacktest({
      candles: goog,
      symbol: 'GOOG',
      config,
      source: { kind: 'signals', signals },
      fill: 'close',
      commissionPercent: 0.1,
    });

    // The buy fired at 2005-03-01 21:00Z falls in that day's bar: its close 186.06 + 10 bps rounded
    // up to the cent = 186.25; commission 1 + 0.1 % × 20 × 186.25 = 1 + 3.725 → 4.72 (half even).
    // The exit (2005-04-11 20:00Z) at 193.23 − 10 bps rounded down = 193.03; 1 + 3.8606 → 4.86.
    expect(result.trades[0]).toMatchObject({ entryPrice: 186.25, exitPrice: 193.03 });
    expect(result.account.commissions).toBe('9.58');
    // 20 × (193.03 − 186.25) − 9.58 = 135.60 − 9.58 = 126.02.
    expect(result.account.realizedPnl).toBe('126.02');
  });

  it('trips the circuit breaker on simulated time and reports the rejections it causes', async () => {
    const config = parseConfig({ risk: { maxDrawdownPercent: 1, drawdownCooldownHours: 0 } });

    const result = await runBacktest({
      candles: goog,
      symbol: 'GOOG',
      config,
      source: {
        kind: 'strategy',
        strategy: smaCross({ fast: 10, slow: 20, longShort: false }),
        sizing: { quantityType: 'dollar_amount', quantity: '10000' },
      },
    });

    expect(result.transitions[0]).toMatchObject({ from: 'ACTIVE', to: 'HALTED', trip: 'DRAWDOWN' });
    expect(result.signals.byReason.TRADING_HALTED).toBeGreaterThan(0);
    // Halted with no automatic reset: after the trip nothing more is filled.
    const tripAt = Date.parse(result.transitions[0]?.at ?? '');
    expect(result.trades.every((t) => t.entryTime <= tripAt)).toBe(true);
  });

  it('gives the same results whether the scheduled breaker runs at every bar or only when due', async () => {
    const config = parseConfig({
      risk: { maxDrawdownPercent: 2, drawdownCooldownHours: 48, maxDailyLoss: '150' },
    });
    const run = (breakerSchedule: 'when-due' | 'every-bar') =>
      runBacktest({
        candles: goog,
        symbol: 'GOOG',
        config,
        source: {
          kind: 'strategy',
          strategy: smaCross({ fast: 5, slow: 15, longShort: false }),
          sizing: { quantityType: 'dollar_amount', quantity: '10000' },
        },
        breakerSchedule,
        recordDecisions: true,
      });

    const [due, every] = [await run('when-due'), await run('every-bar')];

    expect(every.transitions.length).toBeGreaterThan(2);
    expect(due.transitions).toEqual(every.transitions);
    expect(due.decisions).toEqual(every.decisions);
    expect(due.account).toEqual(every.account);
    expect(Array.from(due.equity)).toEqual(Array.from(every.equity));
  });

  it('runs the RSI strategy long/short, reversing through exit-then-entry alerts', async () => {
    const config = parseConfig({ risk: { allowShort: true, duplicateWindowSeconds: 0 } });

    const result = await runBacktest({
      candles: goog,
      symbol: 'GOOG',
      config,
      source: {
        kind: 'strategy',
        strategy: rsiReversion({ period: 14, oversold: 30, overbought: 70, longShort: true }),
        sizing: { quantityType: 'fixed_quantity', quantity: '10' },
      },
    });

    expect(result.trades.some((t) => t.direction === 'short')).toBe(true);
    expect(result.trades.some((t) => t.direction === 'long')).toBe(true);
    expect(result.signals.sent).toBe(result.signals.filled);
  });

  it('denies the entry leg of a flip as DUPLICATIVE_ORDER under the default duplicate window, as live would', async () => {
    const result = await runBacktest({
      candles: goog,
      symbol: 'GOOG',
      config: parseConfig({ risk: { allowShort: true } }),
      source: {
        kind: 'strategy',
        strategy: smaCross({ fast: 10, slow: 20, longShort: true }),
        sizing: { quantityType: 'fixed_quantity', quantity: '10' },
      },
    });

    expect(result.signals.byReason.DUPLICATIVE_ORDER).toBeGreaterThan(0);
  });
});
