/**
 * The pure risk engine in-process: time per decision with a realistic portfolio (20 positions,
 * 200 orders in the approved-order memory, a last price per symbol). Writes the "Risk engine"
 * section of docs/PERFORMANCE.md and .bench/risk-engine.json (for bench/summary.ts). Target
 * (risk-engine issue): p99 ≤ 50 µs.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { parseConfig } from '../shared/config/load.js';
import type { Signal } from '../shared/domain/alert.js';
import { evaluateRisk } from '../shared/domain/risk.js';
import type { PortfolioSnapshot, Position, RecentOrder } from '../shared/domain/trading.js';
import { writeFigures } from './figures.js';
import { replaceLatestRun, summarize, table } from './stats.js';

const HEADING = '## Risk engine (pure, in-process)';
const DOC = 'docs/PERFORMANCE.md';
const NOW = new Date('2026-11-24T15:00:00.000Z'); // a Tuesday, 10:00 New York: regular session
/** Fewer for a quick look (BENCH_RISK_DECISIONS); the recorded figure is 100,000. */
const DECISIONS = Number(process.env.BENCH_RISK_DECISIONS ?? 100_000);

const symbols = Array.from({ length: 20 }, (_, i) => `SYM${String.fromCharCode(65 + i)}`);
const config = parseConfig({
  symbols: { allowed: [...symbols, 'AAPL'] },
  risk: {
    marketHours: 'regular',
    maxOpenPositions: 25,
    maxOrdersPerMinute: 1000,
    maxOrdersPerMinutePerSymbol: 1000,
    maxGrossExposure: '10000000',
    maxGrossExposurePercent: 1000,
  },
});
const positions: Record<string, Position> = Object.fromEntries(
  symbols.map((symbol, i) => [
    symbol,
    {
      symbol,
      quantity: String(10 + i),
      averageCost: `${100 + i}.25`,
      realizedPnl: '12.34',
      pendingQuantity: i % 4 === 0 ? '5' : '0',
    },
  ]),
);
const recentOrders: RecentOrder[] = Array.from({ length: 200 }, (_, i) => ({
  symbol: symbols[i % 20] as string,
  side: i % 2 === 0 ? 'buy' : 'sell',
  signalId: `s${i}`,
  at: new Date(NOW.getTime() - (i % 59) * 1000).toISOString(),
}));
const snapshot: PortfolioSnapshot = {
  tradingState: 'ACTIVE',
  breaker: { highWaterMark: '260000.00', session: { date: '2026-11-24', startEquity: '255000.00' } },
  account: {
    cash: '250000.00',
    reservedCash: '1234.56',
    realizedPnl: '987.65',
    commissions: '12.00',
    recentOrders,
    dayTrades: [],
    lossStreak: [],
    failureStreak: [],
  },
  positions,
  prices: Object.fromEntries(symbols.map((s, i) => [s, { price: `${101 + i}.5`, at: NOW.toISOString() }])),
};
const signal: Signal = {
  symbol: 'AAPL',
  action: 'buy',
  quantity: '10',
  quantityType: 'fixed_quantity',
  orderType: 'market',
  price: '187.5',
  timeInForce: 'day',
  extendedHours: false,
  time: new Date(NOW.getTime() - 1000).toISOString(),
  prevMarketPosition: 'flat',
};
// Each decision gets its own snapshot object, as each RiskCheck reads a fresh one: nothing
// cached per snapshot carries over from one decision to the next.
const fresh = (): PortfolioSnapshot => structuredClone(snapshot);
const decide = (view = fresh()) =>
  evaluateRisk({ signal, signalId: 'sbench', snapshot: view, config, now: NOW });

if (!decide().approved) throw new Error(`benchmark decision must be approved: ${JSON.stringify(decide())}`);
for (let i = 0; i < 20_000; i++) decide(); // warm-up: JIT

const samples: number[] = [];
for (let i = 0; i < DECISIONS; i++) {
  const view = fresh();
  const start = process.hrtime.bigint();
  decide(view);
  samples.push(Number(process.hrtime.bigint() - start) / 1000);
}
const s = summarize(samples);
const us = (v: number) => v.toFixed(1);
const figures = table(
  ['Decisions', 'p50 µs', 'p90 µs', 'p99 µs', 'max µs', 'mean µs', 'Target p99 ≤ 50 µs'],
  [[String(s.count), us(s.p50), us(s.p90), us(s.p99), us(s.max), us(s.mean), s.p99 <= 50 ? 'pass' : 'FAIL']],
);
const section = [
  HEADING,
  '',
  '_Written by `npm run bench` (bench/risk-engine.ts); overwritten on every run._',
  '',
  `- Date: ${new Date().toISOString()}; Node ${process.version}; ${cpus()[0]?.model ?? 'unknown CPU'}, ${cpus().length} cores, ${(totalmem() / 2 ** 30).toFixed(1)} GiB`,
  '- Portfolio: 20 positions with last prices, 200 orders in the approved-order memory, a buy of a new symbol that passes every check (market hours on, so the NYSE calendar is consulted)',
  '- Clock: `process.hrtime` around each `evaluateRisk` call, after 20,000 unmeasured decisions',
  '',
  figures,
  '',
].join('\n');
writeFileSync(DOC, replaceLatestRun(readFileSync(DOC, 'utf8'), section, HEADING));
writeFigures('risk-engine', { decisions: s.count, p50Us: s.p50, p99Us: s.p99 });
process.stdout.write(`${figures}\n`);
