/**
 * The backtester against grademark on one million candles, side by side in one run (backtest issue).
 *
 *   npx tsx bench/backtest.ts            one million candles
 *   npx tsx bench/backtest.ts 200000     fewer, for a quick look
 *
 * Data: one-minute bars (2020 on, every day around the clock) whose returns are GOOG's daily
 * close-to-close returns (docs/examples/GOOG.csv) drawn in a shuffled order by a seeded generator,
 * scaled to minute-sized moves, with intrabar ranges from the same bars: a random walk with real
 * return shapes, identical on every run. The strategy is the same in both: long while SMA(10) of
 * the closes is above SMA(20), flat while below, entering at the next bar's open.
 *
 * Figures: candles per second of the whole run (strategy, orders, bookkeeping, equity curve and
 * metrics), and heap bytes per candle beyond the input — the heap (with ArrayBuffer backing stores,
 * where typed arrays such as the equity curve live) still held after the run with its result kept,
 * less the same held before it with only the input, both after full garbage collections (the
 * script re-runs itself with --expose-gc for that). Grademark is given its SMA
 * columns precomputed outside its timing (it has no incremental indicator), so its figure is the
 * best it can do. Targets: ≥ 2× grademark's candles per second, ≤ 100 bytes of heap per candle.
 *
 * Prints its table (docs/PERFORMANCE.md's "Backtest" section is written by hand from it) and
 * writes the figures to .bench/backtest.json for bench/summary.ts.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { cpus, loadavg, totalmem } from 'node:os';
import { DataFrame } from 'data-forge';
import { analyze, backtest, type IBar, type IStrategy } from 'grademark';
import { type Candles, candlesFrom, parseCandlesCsv } from '../shared/backtest/candles.js';
import { runBacktest } from '../shared/backtest/engine.js';
import { smaCross } from '../shared/backtest/strategies.js';
import { parseConfig } from '../shared/config/load.js';
import { writeFigures } from './figures.js';

const gc = (globalThis as { gc?: () => void }).gc;
if (gc === undefined) {
  // Re-run this very script with --expose-gc (same loader flags), so the heap can be measured settled.
  const child = spawnSync(process.execPath, ['--expose-gc', ...process.execArgv, ...process.argv.slice(1)], {
    stdio: 'inherit',
  });
  process.exit(child.status ?? 1);
}
/** Bytes held after full collections: the JS heap plus ArrayBuffer backing stores (typed arrays live there). */
const collect = (): number => {
  for (let i = 0; i < 3; i++) gc?.();
  const usage = process.memoryUsage();
  return usage.heapUsed + usage.arrayBuffers;
};

const COUNT = Number(process.argv[2] ?? 1_000_000);
const FAST = 10;
const SLOW = 20;
const CASH = 100_000;

/** Mulberry32: a small seeded generator, so every run sees the same series. */
function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function synthesize(count: number): Candles {
  const goog = parseCandlesCsv(readFileSync(new URL('../docs/examples/GOOG.csv', import.meta.url), 'utf8'));
  const returns: number[] = [];
  const ranges: number[] = [];
  for (let i = 1; i < goog.length; i++) {
    returns.push(Math.log((goog.close[i] as number) / (goog.close[i - 1] as number)));
    ranges.push(((goog.high[i] as number) - (goog.low[i] as number)) / (goog.close[i] as number));
  }
  // Without GOOG's drift: a million draws of it would compound into an absurd price.
  const drift = returns.reduce((sum, r) => sum + r, 0) / returns.length;
  for (let i = 0; i < returns.length; i++) returns[i] = (returns[i] as number) - drift;
  const next = random(20_261_125);
  const time = new Float64Array(count);
  const open = new Float64Array(count);
  const high = new Float64Array(count);
  const low = new Float64Array(count);
  const close = new Float64Array(count);
  const volume = new Float64Array(count);
  const start = Date.UTC(2020, 0, 6, 14, 30);
  // A day's move spread over 390 minutes has √390 times less spread per minute.
  const scale = 1 / Math.sqrt(390);
  let price = 100;
  const cents = (x: number) => Math.max(0.01, Math.round(x * 100) / 100);
  for (let i = 0; i < count; i++) {
    const k = Math.floor(next() * returns.length);
    const o = price;
    price = cents(price * Math.exp((returns[k] as number) * scale));
    const range = (ranges[k] as number) * scale * price;
    time[i] = start + i * 60_000;
    open[i] = o;
    close[i] = price;
    high[i] = cents(Math.max(o, price) + range / 2);
    low[i] = cents(Math.min(o, price) - range / 2);
    volume[i] = 1000;
  }
  return candlesFrom({ time, open, high, low, close, volume });
}

interface Run {
  name: string;
  seconds: number;
  heapPerCandle: number;
  trades: number;
  returnPercent: number;
}

let signalsSent = 0;

async function pinebridge(candles: Candles): Promise<Run> {
  // Limits that let every signal of the strategy through, so both engines trade the same way: the
  // loss limits and streak guard off, size limits far above the orders. Every check still runs.
  const config = parseConfig({
    paper: { startingCash: String(CASH) },
    symbols: { allowed: ['SYNTH'] },
    risk: {
      maxOrderNotional: '1000000',
      maxPositionNotional: '1000000',
      maxGrossExposure: '1000000',
      maxGrossExposurePercent: 1000,
      maxDailyLoss: '0',
      maxDailyLossPercent: 0,
      maxDrawdownPercent: 0,
      lossStreak: { count: 0 },
    },
  });
  const before = collect();
  const started = performance.now();
  const result = await runBacktest({
    candles,
    symbol: 'SYNTH',
    config,
    source: {
      kind: 'strategy',
      strategy: smaCross({ fast: FAST, slow: SLOW, longShort: false }),
      sizing: { quantityType: 'fixed_quantity', quantity: '50' },
    },
  });
  const seconds = (performance.now() - started) / 1000;
  const after = collect();
  const run = {
    name: 'Pinebridge',
    seconds,
    heapPerCandle: (after - before) / candles.length,
    trades: result.metrics.trades,
    returnPercent: result.metrics.returnPercent,
  };
  if (result.signals.sent - result.signals.filled !== 0) {
    console.error('signals not filled, by reason:', result.signals.byReason);
  }
  signalsSent = result.signals.sent;
  return run;
}

interface SmaBar extends IBar {
  fast: number;
  slow: number;
}

function grademark(candles: Candles): Run {
  // Grademark's input: one object per bar in a DataFrame, with the SMAs precomputed (not timed).
  let fastSum = 0;
  let slowSum = 0;
  const rows: SmaBar[] = [];
  for (let i = 0; i < candles.length; i++) {
    const c = candles.close[i] as number;
    fastSum += c;
    slowSum += c;
    if (i >= FAST) fastSum -= candles.close[i - FAST] as number;
    if (i >= SLOW) slowSum -= candles.close[i - SLOW] as number;
    rows.push({
      time: new Date(candles.time[i] as number),
      open: candles.open[i] as number,
      high: candles.high[i] as number,
      low: candles.low[i] as number,
      close: c,
      volume: candles.volume[i] as number,
      fast: i >= SLOW - 1 ? fastSum / FAST : Number.NaN,
      slow: i >= SLOW - 1 ? slowSum / SLOW : Number.NaN,
    });
  }
  const input = new DataFrame<number, SmaBar>(rows).skip(SLOW - 1).bake();
  const strategy: IStrategy<SmaBar> = {
    entryRule: (enter, args) => {
      if (args.bar.fast > args.bar.slow) enter();
    },
    exitRule: (exit, args) => {
      if (args.bar.fast < args.bar.slow) exit();
    },
  };
  const before = collect();
  const started = performance.now();
  const trades = backtest(strategy, input);
  const analysis = analyze(CASH, trades);
  const seconds = (performance.now() - started) / 1000;
  const after = collect();
  const run = {
    name: 'grademark 0.3.0',
    seconds,
    heapPerCandle: (after - before) / candles.length,
    trades: trades.length,
    returnPercent: analysis.profitPct,
  };
  // Keep the input and the result alive until measured.
  if (input.count() < 0 || trades.length < 0) throw new Error('unreachable');
  return run;
}

const candles = synthesize(COUNT);
console.log(
  `${COUNT.toLocaleString('en-US')} one-minute candles, SMA(${FAST}) × SMA(${SLOW}), long only, next-open fills`,
);
// Warm-up on a slice, so both run optimized code when measured.
const warm = candlesFrom({
  time: candles.time.subarray(0, 20_000),
  open: candles.open.subarray(0, 20_000),
  high: candles.high.subarray(0, 20_000),
  low: candles.low.subarray(0, 20_000),
  close: candles.close.subarray(0, 20_000),
  volume: candles.volume.subarray(0, 20_000),
});
await pinebridge(warm);
grademark(warm);

const ours = await pinebridge(candles);
const theirs = grademark(candles);
const rate = (r: Run) => COUNT / r.seconds;
const rows = [ours, theirs].map((r) => [
  r.name,
  Math.round(rate(r)).toLocaleString('en-US'),
  r.seconds.toFixed(2),
  r.heapPerCandle.toFixed(1),
  String(r.trades),
  r.returnPercent.toFixed(2),
]);
const header = ['engine', 'candles/s', 'seconds', 'heap B/candle', 'trades', 'return %'];
const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] as string).length)));
const line = (cells: string[]) =>
  cells.map((c, i) => (i === 0 ? c.padEnd(widths[i] ?? 0) : c.padStart(widths[i] ?? 0))).join('  ');
console.log(line(header));
for (const row of rows) console.log(line(row));
const speedup = rate(ours) / rate(theirs);
console.log(
  `Pinebridge: ${signalsSent.toLocaleString('en-US')} signals, each through the webhook, risk checks, breaker and paper broker`,
);
console.log(
  `speed ${speedup.toFixed(2)}× grademark (target ≥ 2×: ${speedup >= 2 ? 'met' : 'not met'}); heap ${ours.heapPerCandle.toFixed(1)} B/candle (target ≤ 100: ${ours.heapPerCandle <= 100 ? 'met' : 'not met'})`,
);
writeFigures('backtest', {
  candles: COUNT,
  pinebridgeCandlesPerSecond: rate(ours),
  grademarkCandlesPerSecond: rate(theirs),
  speedup,
  heapBytesPerCandle: ours.heapPerCandle,
});
const cpu = cpus()[0]?.model ?? 'unknown CPU';
console.log(
  `machine: ${cpu}, ${cpus().length} cores, ${(totalmem() / 2 ** 30).toFixed(1)} GiB; Node ${process.version}; load ${loadavg()
    .map((l) => l.toFixed(2))
    .join(' / ')}; ${new Date().toISOString()}`,
);
