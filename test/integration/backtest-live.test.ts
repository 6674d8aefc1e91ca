import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseCandlesCsv } from '../../shared/backtest/candles.js';
import { runBacktest } from '../../shared/backtest/engine.js';
import { parseSignalsFile } from '../../shared/backtest/signals.js';
import { parseConfig } from '../../shared/config/load.js';
import type { ConfigInput } from '../../shared/config/schema.js';
import type { Clock } from '../../shared/ports/index.js';
import { evaluateBreaker } from '../../shared/usecases/breaker.js';
import { flowHarness } from '../support/flow.js';

const example = (name: string) =>
  readFileSync(new URL(`../../docs/examples/${name}`, import.meta.url), 'utf8');
const candles = parseCandlesCsv(example('GOOG.csv'));
const signals = parseSignalsFile(example('GOOG-alerts.jsonl'), 'GOOG');

class ManualClock implements Clock {
  ms = 0;
  now(): Date {
    return new Date(this.ms);
  }
}

const codeOf = (status: string, reason: string | undefined) =>
  status === 'filled' ? 'filled' : (/^[A-Z_]+/.exec(reason ?? '')?.[0] ?? status);

/**
 * The live side: the same alerts, at the same simulated instants and prices, recorded as the webhook
 * records them and run through the synthesized state machine on DynamoDB Local; and, while a position
 * is open, the scheduled breaker at every bar's close with that close as the last price.
 */
async function live(config: ConfigInput) {
  const clock = new ManualClock();
  const flow = await flowHarness(config, clock);
  // next-open: each alert executes at the open of the first bar opening at or after it.
  const placed = signals.map((s) => ({ signal: s, bar: candles.time.findIndex((t) => t >= s.at) }));
  const first = placed[0]?.bar ?? 0;
  const last = placed[placed.length - 1]?.bar ?? 0;
  const decisions: string[] = [];
  for (let i = first; i <= last; i++) {
    clock.ms = candles.time[i] as number;
    for (const { signal } of placed.filter((p) => p.bar === i)) {
      const signalId = await flow.record({ ...signal.alert, price: String(candles.open[i]) });
      await flow.run(signalId);
      const record = await flow.deps.signals.get(signalId);
      decisions.push(codeOf(record?.status ?? '?', record?.reason));
    }
    clock.ms = candles.closeTime[i] as number;
    const snapshot = await flow.deps.store.snapshot();
    if ((snapshot.positions.GOOG?.quantity ?? '0') !== '0') {
      await flow.deps.store.recordPrice('GOOG', String(candles.close[i]), clock.now().toISOString());
      await evaluateBreaker(flow.deps);
    }
  }
  const snapshot = await flow.deps.store.snapshot();
  const transitions = (await flow.deps.store.tradingStateHistory(100))
    .reverse()
    .map((t) => ({ from: t.from, to: t.to, trip: t.trip, at: t.at }));
  return {
    decisions,
    cash: snapshot.account.cash,
    position: snapshot.positions.GOOG?.quantity ?? '0',
    transitions,
    until: candles.closeTime[last] as number,
  };
}

async function backtest(config: ConfigInput) {
  const result = await runBacktest({
    candles,
    symbol: 'GOOG',
    config: parseConfig(config),
    source: { kind: 'signals', signals },
    recordDecisions: true,
  });
  return {
    decisions: result.decisions.map((d) => codeOf(d.status, d.detail)),
    cash: result.account.cash,
    position: result.account.position,
    transitions: result.transitions.map((t) => ({ from: t.from, to: t.to, trip: t.trip, at: t.at })),
  };
}

describe('the backtester decides as the live trade flow does', () => {
  it('with the default risk limits: the same approvals, the same denials, the same book', async () => {
    const expected = await live({});

    const actual = await backtest({});

    expect(actual.decisions).toEqual(expected.decisions);
    expect(expected.decisions).toContain('MAX_ORDER_NOTIONAL');
    expect(actual.cash).toBe(expected.cash);
    expect(actual.position).toBe(expected.position);
  });

  it('with a tight drawdown limit: the same breaker trips at the same instants, and the same decisions', async () => {
    const config: ConfigInput = { risk: { maxDrawdownPercent: 0.3, drawdownCooldownHours: 24 } };
    const expected = await live(config);

    const actual = await backtest(config);

    expect(expected.transitions.length).toBeGreaterThan(0);
    // The live run stops at the last alert's bar; the backtest goes on to the end of the data.
    expect(actual.transitions.filter((t) => Date.parse(t.at) <= expected.until)).toEqual(
      expected.transitions,
    );
    expect(actual.decisions).toEqual(expected.decisions);
    expect(actual.cash).toBe(expected.cash);
    expect(actual.position).toBe(expected.position);
  });
});
