import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../shared/config/load.js';
import type { Config } from '../../shared/config/schema.js';
import { riskMarksOf } from '../../shared/domain/breaker.js';
import { holidayName, isEarlyClose, sessionDateOf, tradingDaysBack } from '../../shared/domain/calendar.js';
import { dec, str } from '../../shared/domain/money.js';
import {
  approvalBookkeeping,
  type DenialCode,
  dayTradeCheck,
  dayTradesInWindow,
  evaluateRisk,
  isDayTrade,
  type RiskContext,
  type RiskDecision,
} from '../../shared/domain/risk.js';
import {
  bookFill,
  type DayTrade,
  flatPosition,
  type OrderSide,
  type PortfolioSnapshot,
  type Position,
} from '../../shared/domain/trading.js';
import { anAccount, anIntent, aPosition, aSignal, aSnapshot } from '../fixtures/builders.js';

// Thanksgiving week 2026 (New York is on EST, UTC-5): 15:00Z is 10:00 in New York.
const MONDAY = new Date('2026-11-23T15:00:00.000Z');
const TUESDAY = new Date('2026-11-24T15:00:00.000Z');
const WEDNESDAY = new Date('2026-11-25T15:00:00.000Z');
const NEXT_TUESDAY = new Date('2026-12-01T15:00:00.000Z');
const minutesAfter = (start: Date, minutes: number): Date => new Date(start.getTime() + minutes * 60_000);

/**
 * Defaults for the day-trade limiter; every other limit opened wide so only the limiter (and the
 * sizing of closes and reversals) can shape a sequence of orders.
 */
function wide(dayTrades: Record<string, unknown> = {}): Config {
  return parseConfig({
    symbols: { allowed: ['AAPL', 'ABC', 'XYZ'] },
    risk: {
      allowShort: true,
      pyramiding: true,
      duplicateWindowSeconds: 0,
      maxOrdersPerMinute: 1000,
      maxOrdersPerMinutePerSymbol: 1000,
      maxOrderNotional: '1000000000',
      maxGrossExposure: '1000000000',
      maxGrossExposurePercent: 1000,
      maxPositionQuantity: 1_000_000,
      maxPositionNotional: '1000000000',
      dayTrades,
    },
  });
}

interface Step {
  side: OrderSide;
  quantity: number;
  symbol?: string;
  /** When the order is decided; by default one minute after the previous step, from MONDAY. */
  at?: Date;
}

interface Simulation {
  snapshot: PortfolioSnapshot;
  /** The day trades the approvals recorded, in order (signal ids are `s<step index>`). */
  dayTrades: DayTrade[];
}

/**
 * Runs orders through evaluateRisk one by one, each approved order booked as an immediate fill at
 * its reference price together with the approval's bookkeeping (the store's job, done purely).
 * Snapshots are never mutated: the risk code caches figures per snapshot object.
 */
function simulate(
  steps: readonly Step[],
  start: PortfolioSnapshot = aSnapshot({ account: anAccount({ cash: '1000000' }) }),
  config: Config = wide(),
): Simulation {
  let snapshot = start;
  let now = MONDAY;
  steps.forEach((step, i) => {
    now = step.at ?? (i === 0 ? MONDAY : minutesAfter(now, 1));
    const signal = aSignal({
      symbol: step.symbol ?? 'AAPL',
      action: step.side,
      quantity: String(step.quantity),
      quantityType: 'fixed_quantity',
      price: '100',
    });
    const ctx: RiskContext = { signal, signalId: `s${i}`, snapshot, config, now };
    const decision = evaluateRisk(ctx);
    if (!decision.approved) throw new Error(`step ${i} denied: ${JSON.stringify(decision.denials)}`);
    const { intent } = decision;
    if (intent.reversalRemainder !== undefined) throw new Error(`step ${i} is a reversal; split it`);
    const bookkeeping = approvalBookkeeping(intent, ctx);
    const before = snapshot.positions[intent.symbol] ?? flatPosition(intent.symbol);
    const booking = bookFill(before, intent.side, intent.quantity, intent.referencePrice, '0');
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
    };
  });
  return { snapshot, dayTrades: snapshot.account.dayTrades };
}

const buy = (quantity: number, symbol?: string): Step => ({ side: 'buy', quantity, symbol });
const sell = (quantity: number, symbol?: string): Step => ({ side: 'sell', quantity, symbol });
const signalIdsOf = (trades: readonly DayTrade[]): string[] => trades.map((t) => t.signalId);
const dayTradeOn = (session: string, signalId = `dt-${session}`): DayTrade => ({
  session,
  symbol: 'AAPL',
  signalId,
});

function codesOf(decision: RiskDecision): DenialCode[] {
  return decision.approved ? [] : decision.denials.map((d) => d.code);
}

describe('day-trade counting: FINRA Regulatory Notice 21-13 examples (one symbol, one session)', () => {
  it('A: buy 250, buy 250, sell 500 is one day trade', () => {
    const steps = [buy(250), buy(250), sell(500)];

    const { dayTrades, snapshot } = simulate(steps);

    expect(signalIdsOf(dayTrades)).toEqual(['s2']);
    expect(dayTrades[0]).toEqual({ session: '2026-11-23', symbol: 'AAPL', signalId: 's2' });
    expect(snapshot.positions.AAPL?.quantity).toBe('0');
  });

  it('B: buy 100, sell 100, buy 100, sell 100 is two day trades', () => {
    const steps = [buy(100), sell(100), buy(100), sell(100)];

    const { dayTrades } = simulate(steps);

    expect(signalIdsOf(dayTrades)).toEqual(['s1', 's3']);
  });

  it('C: buy 500, sell 100, sell 100, sell 300 is one day trade (only the first sale counts)', () => {
    const steps = [buy(500), sell(100), sell(100), sell(300)];

    const { dayTrades } = simulate(steps);

    expect(signalIdsOf(dayTrades)).toEqual(['s1']);
  });

  it('D: buy 250, buy 300, buy 100, sell 150, sell 175 is one day trade', () => {
    const steps = [buy(250), buy(300), buy(100), sell(150), sell(175)];

    const { dayTrades, snapshot } = simulate(steps);

    expect(signalIdsOf(dayTrades)).toEqual(['s3']);
    expect(snapshot.positions.AAPL?.quantity).toBe('325');
  });

  it('E: buy 199, buy 142, sell 1, buy 45, sell 100, sell 200 is two day trades', () => {
    const steps = [buy(199), buy(142), sell(1), buy(45), sell(100), sell(200)];

    const { dayTrades, snapshot } = simulate(steps);

    expect(signalIdsOf(dayTrades)).toEqual(['s2', 's4']);
    expect(snapshot.positions.AAPL?.quantity).toBe('85');
  });

  it('F: buy 200 ABC, buy 100 XYZ, sell 100 ABC, sell 100 XYZ is two day trades, one per symbol', () => {
    const steps = [buy(200, 'ABC'), buy(100, 'XYZ'), sell(100, 'ABC'), sell(100, 'XYZ')];

    const { dayTrades } = simulate(steps);

    expect(dayTrades).toEqual([
      { session: '2026-11-23', symbol: 'ABC', signalId: 's2' },
      { session: '2026-11-23', symbol: 'XYZ', signalId: 's3' },
    ]);
  });
});

describe('day-trade counting across sessions and sides', () => {
  it('does not count a position bought on Monday and sold on Tuesday', () => {
    const steps: Step[] = [
      { side: 'buy', quantity: 100, at: MONDAY },
      { side: 'sell', quantity: 100, at: TUESDAY },
    ];

    const { dayTrades, snapshot } = simulate(steps);

    expect(dayTrades).toEqual([]);
    expect(snapshot.positions.AAPL?.quantity).toBe('0');
  });

  it('counts one day trade when an overnight position is added to and then sold the same day', () => {
    const steps: Step[] = [
      { side: 'buy', quantity: 100, at: MONDAY },
      { side: 'buy', quantity: 50, at: TUESDAY },
      { side: 'sell', quantity: 150, at: minutesAfter(TUESDAY, 5) },
    ];

    const { dayTrades } = simulate(steps);

    expect(dayTrades).toEqual([{ session: '2026-11-24', symbol: 'AAPL', signalId: 's2' }]);
  });

  it('does not count the sale of an overnight position made before any purchase that day', () => {
    const steps: Step[] = [
      { side: 'buy', quantity: 100, at: MONDAY },
      { side: 'sell', quantity: 40, at: TUESDAY },
      { side: 'sell', quantity: 60, at: minutesAfter(TUESDAY, 1) },
    ];

    const { dayTrades } = simulate(steps);

    expect(dayTrades).toEqual([]);
  });

  it('counts a short sale covered in the same session as one day trade', () => {
    const steps = [sell(100), buy(100)];

    const { dayTrades, snapshot } = simulate(steps);

    expect(signalIdsOf(dayTrades)).toEqual(['s1']);
    expect(snapshot.positions.AAPL?.quantity).toBe('0');
  });

  it('counts only the closing leg of a reversal, which closes a position opened this session', () => {
    const snapshot = aSnapshot({
      positions: { AAPL: aPosition('AAPL', '10', '100', { openedInSession: '2026-11-23' }) },
    });
    const ctx: RiskContext = {
      signal: aSignal({ action: 'sell', quantity: '20', price: '100' }),
      signalId: 'rev',
      snapshot,
      config: wide(),
      now: MONDAY,
    };

    const decision = evaluateRisk(ctx);
    if (!decision.approved) throw new Error(JSON.stringify(decision.denials));
    const bookkeeping = approvalBookkeeping(decision.intent, ctx);

    expect(decision.intent).toMatchObject({ side: 'sell', quantity: '10', reversalRemainder: '10' });
    expect(bookkeeping.dayTrades).toEqual([{ session: '2026-11-23', symbol: 'AAPL', signalId: 'rev' }]);
    expect(bookkeeping.openedInSession).toBeUndefined();
  });

  it('counts orders in flight: selling a position whose buy is still pending is a day trade', () => {
    const position = aPosition('AAPL', '0', '0', { pendingQuantity: '10', openedInSession: '2026-11-23' });

    const closing = isDayTrade({ side: 'sell', quantity: '10' }, position, '2026-11-23');
    const opening = isDayTrade({ side: 'buy', quantity: '10' }, position, '2026-11-23');

    expect(closing).toBe(true);
    expect(opening).toBe(false);
  });
});

describe('approvalBookkeeping: openedInSession', () => {
  const ctxOf = (position: Position, now: Date): RiskContext => ({
    signal: aSignal(),
    signalId: 'sig',
    snapshot: aSnapshot({ positions: { AAPL: position } }),
    config: wide(),
    now,
  });

  it('sets the session date when an order adds to a position opened on an earlier day', () => {
    const ctx = ctxOf(aPosition('AAPL', '10', '100', { openedInSession: '2026-11-23' }), TUESDAY);

    const bookkeeping = approvalBookkeeping(anIntent({ side: 'buy', quantity: '5' }), ctx);

    expect(bookkeeping.openedInSession).toBe('2026-11-24');
    expect(bookkeeping.dayTrades).toEqual([]);
  });

  it('clears the session date on a partial close', () => {
    const ctx = ctxOf(aPosition('AAPL', '10', '100', { openedInSession: '2026-11-24' }), TUESDAY);

    const bookkeeping = approvalBookkeeping(anIntent({ side: 'sell', quantity: '5' }), ctx);

    expect(bookkeeping.openedInSession).toBeUndefined();
    expect(signalIdsOf(bookkeeping.dayTrades)).toEqual(['stest']);
  });

  it('uses the New York date: 03:00Z on Wednesday is still Tuesday in New York', () => {
    const lateTuesday = new Date('2026-11-25T03:00:00.000Z');
    const ctx = ctxOf(aPosition('AAPL', '10', '100', { openedInSession: '2026-11-24' }), lateTuesday);

    const bookkeeping = approvalBookkeeping(anIntent({ side: 'sell', quantity: '10' }), ctx);

    expect(bookkeeping.dayTrades).toEqual([{ session: '2026-11-24', symbol: 'AAPL', signalId: 'stest' }]);
  });
});

describe('dayTradesInWindow: five NYSE trading days, holidays skipped', () => {
  // Mon 11-23, Tue 11-24, Wed 11-25, Thu 11-26 Thanksgiving (closed), Fri 11-27 (early close),
  // Mon 11-30, Tue 12-01.
  it('the calendar has Thanksgiving 2026 as a holiday and the day after as an early close', () => {
    const window = tradingDaysBack('2026-12-01', 5);

    expect(holidayName('2026-11-26')).toBe('Thanksgiving Day');
    expect(isEarlyClose('2026-11-27')).toBe(true);
    expect(window).toEqual(['2026-11-24', '2026-11-25', '2026-11-27', '2026-11-30', '2026-12-01']);
  });

  it('counts a day trade 5 trading days back (across the holiday) but not one 6 trading days back', () => {
    const trades = [
      dayTradeOn('2026-11-20'),
      dayTradeOn('2026-11-23'),
      dayTradeOn('2026-11-24'),
      dayTradeOn('2026-11-25'),
      dayTradeOn('2026-11-27'),
      dayTradeOn('2026-12-01'),
    ];

    const counted = dayTradesInWindow(trades, wide(), NEXT_TUESDAY);

    expect(counted.map((t) => t.session)).toEqual(['2026-11-24', '2026-11-25', '2026-11-27', '2026-12-01']);
  });

  it('on the early-close Friday the window reaches back to the previous Friday', () => {
    const friday = new Date('2026-11-27T15:00:00.000Z');
    const trades = [dayTradeOn('2026-11-19'), dayTradeOn('2026-11-20'), dayTradeOn('2026-11-27')];

    const counted = dayTradesInWindow(trades, wide(), friday);

    expect(counted.map((t) => t.session)).toEqual(['2026-11-20', '2026-11-27']);
  });

  it('ignores day trades recorded after today', () => {
    const trades = [dayTradeOn('2026-11-24'), dayTradeOn('2026-11-25')];

    const counted = dayTradesInWindow(trades, wide(), TUESDAY);

    expect(counted.map((t) => t.session)).toEqual(['2026-11-24']);
  });

  it('follows risk.dayTrades.windowDays', () => {
    const trades = [dayTradeOn('2026-11-25'), dayTradeOn('2026-11-27'), dayTradeOn('2026-11-30')];

    const counted = dayTradesInWindow(trades, wide({ windowDays: 2 }), NEXT_TUESDAY);

    expect(counted.map((t) => t.session)).toEqual(['2026-11-30']);
  });

  it('approvalBookkeeping forgets day trades that left the window', () => {
    const snapshot = aSnapshot({
      account: anAccount({ dayTrades: [dayTradeOn('2026-11-23'), dayTradeOn('2026-11-24')] }),
      positions: { AAPL: aPosition('AAPL', '10', '100') },
    });
    const ctx: RiskContext = {
      signal: aSignal(),
      signalId: 'x',
      snapshot,
      config: wide(),
      now: NEXT_TUESDAY,
    };

    const bookkeeping = approvalBookkeeping(anIntent({ side: 'sell', quantity: '10' }), ctx);

    expect(bookkeeping.dayTrades).toEqual([dayTradeOn('2026-11-24')]);
  });
});

describe('dayTradeCheck: no 4th day trade in 5 trading days below $25,000', () => {
  const TODAY = sessionDateOf(WEDNESDAY);
  const THREE = [dayTradeOn('2026-11-23'), dayTradeOn('2026-11-24'), dayTradeOn('2026-11-25')];

  /** Long 10 AAPL at $100 plus cash: equity is `cash` + 1000. */
  function account(input: {
    startEquity?: string;
    sessionDate?: string;
    cash?: string;
    dayTrades?: DayTrade[];
    /** null: no session recorded on the position. */
    openedInSession?: string | null;
  }): PortfolioSnapshot {
    const {
      startEquity = '24999.99',
      sessionDate = TODAY,
      cash = '23999.99',
      dayTrades = THREE,
      openedInSession = TODAY,
    } = input;
    return aSnapshot({
      breaker: { session: { date: sessionDate, startEquity } },
      account: anAccount({ cash, dayTrades }),
      positions: {
        AAPL: aPosition('AAPL', '10', '100', openedInSession === null ? {} : { openedInSession }),
      },
    });
  }

  const decide = (snapshot: PortfolioSnapshot, action: 'buy' | 'sell' = 'sell', config = wide()) =>
    evaluateRisk({
      signal: aSignal({ action, quantity: '10', price: '100' }),
      signalId: 'next',
      snapshot,
      config,
      now: WEDNESDAY,
    });

  it('denies closing a position opened today with DAY_TRADE_LIMIT at 3 day trades and $24,999.99', () => {
    const snapshot = account({});

    const decision = decide(snapshot);

    expect(codesOf(decision)).toEqual(['DAY_TRADE_LIMIT']);
    expect(decision.approved ? '' : decision.denials[0]?.detail).toContain('day trade 4 in 5 business days');
  });

  it.each(['25000', '25000.00'])('approves the same close when the session began with $%s', (startEquity) => {
    const snapshot = account({ startEquity, cash: '24000' });

    const decision = decide(snapshot);

    expect(decision.approved).toBe(true);
  });

  it('approves the close with 2 day trades in the window, which then records the 3rd', () => {
    const snapshot = account({ dayTrades: THREE.slice(0, 2) });
    const ctx: RiskContext = {
      signal: aSignal({ action: 'sell', quantity: '10', price: '100' }),
      signalId: 'next',
      snapshot,
      config: wide(),
      now: WEDNESDAY,
    };

    const decision = evaluateRisk(ctx);
    if (!decision.approved) throw new Error(JSON.stringify(decision.denials));
    const bookkeeping = approvalBookkeeping(decision.intent, ctx);

    expect(bookkeeping.dayTrades).toHaveLength(3);
    expect(bookkeeping.dayTrades.at(-1)).toEqual({ session: TODAY, symbol: 'AAPL', signalId: 'next' });
  });

  it('counts only day trades inside the window: 3 recorded, one 6 trading days back, is approved', () => {
    const snapshot = account({
      dayTrades: [dayTradeOn('2026-11-18'), dayTradeOn('2026-11-24'), dayTradeOn('2026-11-25')],
    });

    const decision = decide(snapshot);

    expect(decision.approved).toBe(true);
  });

  it('approves the close when risk.dayTrades.enabled is false', () => {
    const snapshot = account({});

    const decision = decide(snapshot, 'sell', wide({ enabled: false }));

    expect(decision.approved).toBe(true);
  });

  it('never denies an opening order, even at the limit', () => {
    const snapshot = account({});

    const decision = decide(snapshot, 'buy');
    const direct = dayTradeCheck(anIntent({ side: 'buy', quantity: '10' }), {
      signal: aSignal(),
      signalId: 'next',
      snapshot,
      config: wide(),
      now: WEDNESDAY,
    });

    expect(decision.approved).toBe(true);
    expect(direct).toBeUndefined();
  });

  it('approves closing an overnight position even with 3 day trades in the window', () => {
    const snapshot = account({ openedInSession: '2026-11-24' });

    const decision = decide(snapshot);

    expect(decision.approved).toBe(true);
  });

  it('approves closing a position with no openedInSession even with 3 day trades', () => {
    const snapshot = account({ openedInSession: null });

    const decision = decide(snapshot);

    expect(decision.approved).toBe(true);
  });

  it('measures a new session from current equity, not a stale start from an earlier session', () => {
    // Yesterday began at $30,000; today has not been recorded yet and equity is $24,999.99.
    const snapshot = account({ sessionDate: '2026-11-24', startEquity: '30000' });

    const decision = decide(snapshot);

    expect(riskMarksOf(snapshot, WEDNESDAY).session).toEqual({ date: TODAY, startEquity: '24999.99' });
    expect(codesOf(decision)).toEqual(['DAY_TRADE_LIMIT']);
  });

  it('uses the equity the session began with, not the current equity', () => {
    // Today began at $25,000 and has since lost a cent: the limiter does not apply today.
    const snapshot = account({ startEquity: '25000', cash: '23999.99' });

    const decision = decide(snapshot);

    expect(decision.approved).toBe(true);
  });

  it('counts the limit across the Thanksgiving holiday: 3 day trades Nov 24–27 deny on Dec 1', () => {
    const overHoliday = [dayTradeOn('2026-11-24'), dayTradeOn('2026-11-25'), dayTradeOn('2026-11-27')];
    const snapshot = aSnapshot({
      breaker: { session: { date: '2026-12-01', startEquity: '20000' } },
      account: anAccount({ cash: '19000', dayTrades: overHoliday }),
      positions: { AAPL: aPosition('AAPL', '10', '100', { openedInSession: '2026-12-01' }) },
    });
    const ctx = (dayTrades: DayTrade[]): RiskContext => ({
      signal: aSignal({ action: 'sell', quantity: '10', price: '100' }),
      signalId: 'next',
      snapshot: { ...snapshot, account: { ...snapshot.account, dayTrades } },
      config: wide(),
      now: NEXT_TUESDAY,
    });

    const inWindow = evaluateRisk(ctx(overHoliday));
    const oneOutside = evaluateRisk(ctx([dayTradeOn('2026-11-23'), ...overHoliday.slice(1)]));

    expect(codesOf(inWindow)).toEqual(['DAY_TRADE_LIMIT']);
    expect(oneOutside.approved).toBe(true);
  });

  it('stops the 4th day trade of a simulated session below $25,000', () => {
    const start = aSnapshot({ account: anAccount({ cash: '20000' }) });
    const steps = [buy(10), sell(10), buy(10), sell(10), buy(10), sell(10), buy(10)];
    const { snapshot, dayTrades } = simulate(steps, start);

    const fourth = evaluateRisk({
      signal: aSignal({ action: 'sell', quantity: '10', price: '100' }),
      signalId: 'fourth',
      snapshot,
      config: wide(),
      now: minutesAfter(MONDAY, 10),
    });

    expect(signalIdsOf(dayTrades)).toEqual(['s1', 's3', 's5']);
    expect(codesOf(fourth)).toEqual(['DAY_TRADE_LIMIT']);
  });
});
