import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../shared/config/load.js';
import { MAX_ORDERS_PER_MINUTE } from '../../shared/config/schema.js';
import { dedupKeyOf, signalIdOf } from '../../shared/domain/ids.js';
import { duplicativeOrderCheck, orderRateCheck, type RiskContext } from '../../shared/domain/risk.js';
import { type RecentOrder, rememberOrder } from '../../shared/domain/trading.js';
import { anAccount, anIntent, aSignal, aSnapshot, seededRandom } from '../fixtures/builders.js';

/**
 * The approved-order memory (the order-rate and duplicate checks' data) lives in the account item
 * that every approval rewrites: it must stay small whatever the config, and forgetting must never
 * change what the two checks decide.
 */
const NOW = new Date('2026-11-24T15:00:00.000Z');
const iso = (ms: number) => new Date(ms).toISOString();
const SYMBOLS = ['AAPL', 'MSFT', 'SPY'] as const;

/** An hour of approvals, one every `everyMs`, across three symbols and both sides, oldest first. */
function anHourOfOrders(everyMs: number, seed: number): RecentOrder[] {
  const random = seededRandom(seed);
  const orders: RecentOrder[] = [];
  for (let t = NOW.getTime() - 3_600_000; t < NOW.getTime(); t += everyMs)
    orders.push({
      symbol: SYMBOLS[Math.floor(random.next() * SYMBOLS.length)] ?? 'AAPL',
      side: random.next() < 0.5 ? 'buy' : 'sell',
      signalId: `sig-${orders.length}`,
      at: iso(t),
    });
  return orders;
}

/**
 * Who asks the duplicate check about a symbol and side: a new signal, and every pairing of the
 * newest signals on that symbol and side in the memory, older than a minute and within it, as the
 * asking signal and the signal it follows (a reversal leg) — so that the newest signals kept can
 * be exactly the asking one and the followed one.
 */
function askers(
  memory: readonly RecentOrder[],
  symbol: string,
  side: string,
): [string, string | undefined][] {
  const minuteAgo = NOW.getTime() - 60_000;
  const onKey = memory.filter((o) => o.symbol === symbol && o.side === side);
  const newest = (orders: RecentOrder[]) => [...new Set(orders.map((o) => o.signalId))].slice(-4);
  const ids = [
    ...newest(onKey.filter((o) => Date.parse(o.at) < minuteAgo)),
    ...newest(onKey.filter((o) => Date.parse(o.at) >= minuteAgo)),
  ];
  const pairs: [string, string | undefined][] = [['a-new-signal', undefined]];
  for (const asking of [...ids, 'a-reversal-leg'])
    for (const followed of [undefined, ...ids]) if (asking !== followed) pairs.push([asking, followed]);
  return pairs;
}

describe('rememberOrder', () => {
  it('keeps every order of the last minute, and older ones only for the newest three signals per symbol and side', () => {
    const recent = anHourOfOrders(5_000, 1);
    const order: RecentOrder = { symbol: 'AAPL', side: 'buy', signalId: 'new', at: NOW.toISOString() };

    const kept = rememberOrder(recent, order, NOW, 3600);

    const lastMinute = recent.filter((o) => Date.parse(o.at) >= NOW.getTime() - 60_000);
    expect(kept.filter((o) => Date.parse(o.at) >= NOW.getTime() - 60_000)).toEqual([...lastMinute, order]);
    const older = kept.filter((o) => Date.parse(o.at) < NOW.getTime() - 60_000);
    expect(older).toHaveLength(SYMBOLS.length * 2 * 3);
    for (const symbol of SYMBOLS)
      for (const side of ['buy', 'sell'] as const) {
        const all = recent.filter(
          (o) => o.symbol === symbol && o.side === side && Date.parse(o.at) < NOW.getTime() - 60_000,
        );
        expect(older.filter((o) => o.symbol === symbol && o.side === side)).toEqual(all.slice(-3));
      }
    expect(kept.at(-1)).toBe(order);
  });

  it('forgets everything older than the window', () => {
    const recent = anHourOfOrders(10_000, 2);

    const kept = rememberOrder(recent, recent.at(-1) as RecentOrder, NOW, 60);

    expect(kept.every((o) => Date.parse(o.at) >= NOW.getTime() - 60_000)).toBe(true);
  });

  it('the duplicate and order-rate checks decide exactly as with the whole memory, at any later moment', () => {
    const config = parseConfig({
      risk: { duplicateWindowSeconds: 3600, maxOrdersPerMinute: 12, maxOrdersPerMinutePerSymbol: 5 },
    });
    for (const seed of [3, 4, 5]) {
      const whole = anHourOfOrders(7_000, seed);
      const trimmed = rememberOrder(whole.slice(0, -1), whole.at(-1) as RecentOrder, NOW, 3600);
      for (const laterMs of [0, 1_000, 30_000, 59_999, 60_000, 90_000, 600_000, 3_599_000]) {
        const now = new Date(NOW.getTime() + laterMs);
        for (const symbol of [...SYMBOLS, 'GOOG'])
          for (const side of ['buy', 'sell'] as const)
            for (const [signalId, followsSignalId] of askers(whole, symbol, side)) {
              const intent = anIntent({ symbol, side, signalId });
              const ctx = (recentOrders: RecentOrder[]): RiskContext => ({
                signal: aSignal({ symbol, ...(followsSignalId ? { followsSignalId } : {}) }),
                signalId,
                snapshot: aSnapshot({ account: anAccount({ recentOrders }) }),
                config,
                now,
              });
              const decide = (recentOrders: RecentOrder[]) =>
                [duplicativeOrderCheck, orderRateCheck].map(
                  (check) => check(intent, ctx(recentOrders))?.code,
                );
              expect(
                decide(trimmed),
                `${seed} +${laterMs} ${symbol} ${side} ${signalId} ${followsSignalId}`,
              ).toEqual(decide(whole));
            }
      }
    }
  });

  it('at the highest order rate the config allows, with the longest duplicate window and every symbol, it fits one DynamoDB item with room to spare', () => {
    const allowed = Array.from({ length: 90 }, (_, i) => `SYMBOL${String(i).padStart(14, '0')}`);
    const config = parseConfig({
      symbols: { allowed },
      risk: {
        duplicateWindowSeconds: 3600,
        maxOrdersPerMinute: MAX_ORDERS_PER_MINUTE,
        maxOrdersPerMinutePerSymbol: MAX_ORDERS_PER_MINUTE,
      },
    });
    // Three minutes at the limit, 2,000 approvals a minute, each a new signal, every symbol and
    // side, after an hour's worth of older orders: past the first minute the size no longer grows.
    let memory: RecentOrder[] = anHourOfOrders(1_000, 6).map((o) => ({
      ...o,
      at: iso(Date.parse(o.at) - 180_000),
    }));
    const start = NOW.getTime() - 180_000;
    const every = 60_000 / config.risk.maxOrdersPerMinute;
    for (let i = 0; start + i * every < NOW.getTime(); i++) {
      const at = new Date(start + i * every);
      const order: RecentOrder = {
        symbol: allowed[i % allowed.length] as string,
        side: i % 2 ? 'sell' : 'buy',
        signalId: signalIdOf(dedupKeyOf(`alert-${i}`, '{}'), at.toISOString()),
        at: at.toISOString(),
      };
      memory = rememberOrder(memory, order, at, config.risk.duplicateWindowSeconds);
    }

    expect(memory.length).toBeLessThanOrEqual(MAX_ORDERS_PER_MINUTE + 1 + allowed.length * 2 * 3);
    // JSON is larger than DynamoDB's own size of the same map (it adds quotes, braces, commas).
    expect(Buffer.byteLength(JSON.stringify(memory))).toBeLessThan(320 * 1024);
  });
});
