import { describe, expect, it } from 'vitest';
import {
  bookFill,
  equityOf,
  flatPosition,
  type OrderSide,
  type Position,
} from '../../shared/domain/trading.js';
import { anAccount, aPosition, at, googDailyBars, seededRandom } from '../fixtures/builders.js';
import { cents, D } from '../fixtures/exact.js';

describe('bookFill: long positions', () => {
  it('opening a long sets the average cost to the fill price and pays the notional', () => {
    const booking = bookFill(flatPosition('AAPL'), 'buy', '10', '187.37', '0');

    expect(booking.position).toMatchObject({
      symbol: 'AAPL',
      quantity: '10',
      averageCost: '187.37',
      realizedPnl: '0',
    });
    expect(booking.cashDelta).toBe('-1873.7');
    expect(booking.realizedPnlDelta).toBe('0');
  });

  it('adding to a long averages the cost by quantity', () => {
    const booking = bookFill(aPosition('AAPL', '10', '100'), 'buy', '30', '120', '0');

    expect(booking.position.quantity).toBe('40');
    expect(booking.position.averageCost).toBe('115');
    expect(booking.cashDelta).toBe('-3600');
    expect(booking.realizedPnlDelta).toBe('0');
  });

  it('keeps a non-terminating average cost to 10 decimal places', () => {
    const booking = bookFill(aPosition('AAPL', '1', '100'), 'buy', '2', '101', '0');

    expect(booking.position.averageCost).toBe('100.6666666667');
  });

  it('a partial close realizes (price − average cost) × quantity and keeps the average cost', () => {
    const booking = bookFill(aPosition('AAPL', '10', '100', { realizedPnl: '25' }), 'sell', '4', '110', '0');

    expect(booking.realizedPnlDelta).toBe('40');
    expect(booking.position).toMatchObject({ quantity: '6', averageCost: '100', realizedPnl: '65' });
    expect(booking.cashDelta).toBe('440');
  });

  it('a partial close at a loss realizes a negative P&L', () => {
    const booking = bookFill(aPosition('AAPL', '10', '100'), 'sell', '4', '95.5', '0');

    expect(booking.realizedPnlDelta).toBe('-18');
    expect(booking.position.quantity).toBe('6');
  });

  it('a full close flattens the position: quantity "0" and average cost "0"', () => {
    const booking = bookFill(aPosition('AAPL', '10', '100'), 'sell', '10', '90', '0');

    expect(booking.position.quantity).toBe('0');
    expect(booking.position.averageCost).toBe('0');
    expect(booking.realizedPnlDelta).toBe('-100');
    expect(booking.cashDelta).toBe('900');
  });

  it('rounds realized P&L to the cent', () => {
    // (10.3367 − 10.3333) × 3 = 0.0102 → 0.01
    const booking = bookFill(aPosition('AAPL', '3', '10.3333'), 'sell', '3', '10.3367', '0');

    expect(booking.realizedPnlDelta).toBe('0.01');
    expect(booking.cashDelta).toBe('31.01');
  });

  it('keeps the symbol and the in-flight pending quantity untouched', () => {
    const booking = bookFill(aPosition('MSFT', '5', '300', { pendingQuantity: '7' }), 'buy', '5', '310', '0');

    expect(booking.position.symbol).toBe('MSFT');
    expect(booking.position.pendingQuantity).toBe('7');
  });
});

describe('bookFill: short positions and reversals', () => {
  it('opening a short records a negative quantity and receives the proceeds', () => {
    const booking = bookFill(flatPosition('TSLA'), 'sell', '10', '50', '0');

    expect(booking.position).toMatchObject({ quantity: '-10', averageCost: '50' });
    expect(booking.cashDelta).toBe('500');
    expect(booking.realizedPnlDelta).toBe('0');
  });

  it('adding to a short averages the cost', () => {
    const booking = bookFill(aPosition('TSLA', '-10', '50'), 'sell', '10', '60', '0');

    expect(booking.position).toMatchObject({ quantity: '-20', averageCost: '55' });
  });

  it('covering a short realizes (average cost − price) × quantity', () => {
    const booking = bookFill(aPosition('TSLA', '-10', '50'), 'buy', '10', '45', '0');

    expect(booking.realizedPnlDelta).toBe('50');
    expect(booking.position).toMatchObject({ quantity: '0', averageCost: '0' });
    expect(booking.cashDelta).toBe('-450');
  });

  it('a partial cover above the average cost realizes a loss and keeps the average cost', () => {
    const booking = bookFill(aPosition('TSLA', '-10', '50'), 'buy', '4', '55', '0');

    expect(booking.realizedPnlDelta).toBe('-20');
    expect(booking.position).toMatchObject({ quantity: '-6', averageCost: '50' });
  });

  it('a reversal (long 10, sell 20) closes 10 realizing P&L and opens a short 10 at the fill price', () => {
    const booking = bookFill(aPosition('AAPL', '10', '100'), 'sell', '20', '110', '0');

    expect(booking.realizedPnlDelta).toBe('100');
    expect(booking.position).toMatchObject({ quantity: '-10', averageCost: '110', realizedPnl: '100' });
    expect(booking.cashDelta).toBe('2200');
  });

  it('a reversal (short 10, buy 25) covers 10 and opens a long 15 at the fill price', () => {
    const booking = bookFill(aPosition('TSLA', '-10', '50'), 'buy', '25', '40', '0');

    expect(booking.realizedPnlDelta).toBe('100');
    expect(booking.position).toMatchObject({ quantity: '15', averageCost: '40' });
    expect(booking.cashDelta).toBe('-1000');
  });
});

describe('bookFill: commission', () => {
  it('reduces cash and realized P&L on a closing fill', () => {
    const booking = bookFill(
      aPosition('AAPL', '10', '100', { realizedPnl: '5' }),
      'sell',
      '10',
      '110',
      '1.50',
    );

    expect(booking.cashDelta).toBe('1098.5');
    expect(booking.realizedPnlDelta).toBe('98.5');
    expect(booking.position.realizedPnl).toBe('103.5');
  });

  it('reduces cash and realized P&L on an opening fill, leaving the average cost at the fill price', () => {
    const booking = bookFill(flatPosition('AAPL'), 'buy', '10', '100', '0.35');

    expect(booking.cashDelta).toBe('-1000.35');
    expect(booking.realizedPnlDelta).toBe('-0.35');
    expect(booking.position.averageCost).toBe('100');
  });
});

interface Trade {
  side: OrderSide;
  quantity: string;
  price: string;
  commission: string;
}

interface Ledger {
  position: Position;
  /** Cash accumulated from bookFill's cashDelta. */
  cash: D;
  /** Cash computed independently: Σ ±cents(quantity × price) − commission. */
  expectedCash: D;
  /** Signed quantity computed independently. */
  expectedQuantity: D;
  /** Worst-case gap between equity change and realized + unrealized P&L (see boundOf). */
  bound: D;
  reversals: number;
  /** Every cash value or cash delta with more than 2 decimals (must stay empty). */
  subCentCash: string[];
  /** Every booked position that is flat with a non-zero average cost, or open with a non-positive one. */
  badAverageCost: string[];
}

/**
 * Books every trade with bookFill and, next to it, computes what must hold independently.
 *
 * The gap between "equity change" and "realized + unrealized" comes only from rounding:
 *  - cash is rounded to the cent on each fill: |e_i| = |cents(x_i) − x_i|, known exactly here;
 *  - realized P&L is rounded to the cent on each fill that closes something: at most 0.005 each;
 *  - the average cost is stored at 10 decimals after each fill that adds to a position: the cost
 *    basis moves by at most |quantity after| × 0.5e-10 (plus 40-significant-digit division noise).
 * A reversal's opening leg and an open from flat store the fill price itself, exactly.
 */
function runLedger(trades: readonly Trade[], startingCash: string): Ledger {
  const ledger: Ledger = {
    position: flatPosition('SIM'),
    cash: new D(startingCash),
    expectedCash: new D(startingCash),
    expectedQuantity: new D(0),
    bound: new D(0),
    reversals: 0,
    subCentCash: [],
    badAverageCost: [],
  };
  trades.forEach((trade, i) => {
    const before = ledger.expectedQuantity;
    const signed = trade.side === 'buy' ? new D(trade.quantity) : new D(trade.quantity).neg();
    const after = before.plus(signed);
    const exactCash = signed.neg().times(trade.price);

    const booking = bookFill(ledger.position, trade.side, trade.quantity, trade.price, trade.commission);

    ledger.position = booking.position;
    ledger.cash = ledger.cash.plus(booking.cashDelta);
    ledger.expectedCash = ledger.expectedCash.plus(cents(exactCash)).minus(trade.commission);
    ledger.expectedQuantity = after;
    if (new D(booking.cashDelta).decimalPlaces() > 2)
      ledger.subCentCash.push(`trade ${i}: delta ${booking.cashDelta}`);
    if (ledger.cash.decimalPlaces() > 2) ledger.subCentCash.push(`trade ${i}: cash ${ledger.cash.toFixed()}`);
    const avg = new D(booking.position.averageCost);
    if (after.isZero() ? !avg.isZero() : !avg.isPositive()) {
      ledger.badAverageCost.push(
        `trade ${i}: quantity ${booking.position.quantity} avg ${booking.position.averageCost}`,
      );
    }

    const closes = !before.isZero() && before.isPositive() !== signed.isPositive();
    const adds = !before.isZero() && before.isPositive() === signed.isPositive();
    if (closes && !after.isZero() && after.isPositive() !== before.isPositive()) ledger.reversals++;
    ledger.bound = ledger.bound.plus(cents(exactCash).minus(exactCash).abs());
    if (closes) ledger.bound = ledger.bound.plus('0.005');
    if (adds) ledger.bound = ledger.bound.plus(after.abs().times('5e-11')).plus('1e-30');
  });
  return ledger;
}

/** (equity now − starting equity) − (realized + unrealized), with equity marked exactly at `mark`. */
function pnlGap(ledger: Ledger, startingCash: string, mark: string): D {
  const quantity = new D(ledger.position.quantity);
  const equityChange = ledger.cash.plus(quantity.times(mark)).minus(startingCash);
  const realized = new D(ledger.position.realizedPnl);
  const unrealized = quantity.times(new D(mark).minus(ledger.position.averageCost));
  return equityChange.minus(realized.plus(unrealized));
}

describe('bookFill over many trades: cash stays exact to the cent', () => {
  const rng = seededRandom(20240315);
  const commissions = ['0', '0.35', '1'];
  const trades: Trade[] = Array.from({ length: 1000 }, () => ({
    side: rng.next() < 0.5 ? 'buy' : 'sell',
    // 0.001 … 100 units, up to 3 decimals
    quantity: new D(rng.int(1, 100_000)).div(1000).toFixed(),
    // $0.0001 … $500, up to 4 decimals (sub-dollar prices included)
    price: new D(rng.int(1, 5_000_000)).div(10_000).toFixed(),
    commission: at(commissions, rng.int(0, 2)),
  }));
  const mark = new D(rng.int(1, 5_000_000)).div(10_000).toFixed();
  const startingCash = '100000';
  const ledger = runLedger(trades, startingCash);

  it('the sequence exercises longs, shorts, closes and reversals', () => {
    expect(trades.filter((t) => t.side === 'buy').length).toBeGreaterThan(400);
    expect(trades.filter((t) => t.side === 'sell').length).toBeGreaterThan(400);
    expect(trades.some((t) => new D(t.quantity).decimalPlaces() === 3)).toBe(true);
    expect(trades.some((t) => new D(t.price).decimalPlaces() === 4)).toBe(true);
    expect(ledger.reversals).toBeGreaterThan(10);
  });

  it('final cash equals the independently computed sum of cents-rounded notionals ± commissions', () => {
    expect(ledger.cash.toFixed(2)).toBe(ledger.expectedCash.toFixed(2));
    expect(ledger.cash.eq(ledger.expectedCash)).toBe(true);
  });

  it('cash and every cash delta have at most 2 decimals', () => {
    expect(ledger.subCentCash).toEqual([]);
  });

  it('the position quantity equals the sum of signed fills', () => {
    expect(new D(ledger.position.quantity).eq(ledger.expectedQuantity)).toBe(true);
  });

  it('the average cost is "0" exactly when flat and positive otherwise', () => {
    expect(ledger.badAverageCost).toEqual([]);
  });

  it('realized + unrealized P&L at the final mark equals the equity change, within the rounding bound', () => {
    const gap = pnlGap(ledger, startingCash, mark);

    expect(ledger.bound.lt(10)).toBe(true);
    expect(gap.abs().lte(ledger.bound), `gap ${gap.toFixed()} exceeds bound ${ledger.bound.toFixed()}`).toBe(
      true,
    );
  });
});

describe('bookFill over real GOOG daily closes', () => {
  // Momentum on the close: buy 2 after an up day, sell 3 after a down day (goes short at times).
  const bars = googDailyBars();
  const trades: Trade[] = bars.slice(1).map((bar, i) => ({
    side: new D(bar.close).gt(at(bars, i).close) ? 'buy' : 'sell',
    quantity: new D(bar.close).gt(at(bars, i).close) ? '2' : '3',
    price: bar.close,
    commission: '1',
  }));
  const startingCash = '1000000';
  const ledger = runLedger(trades, startingCash);
  const lastClose = at(bars, bars.length - 1).close;

  it('uses the whole data set of real prices', () => {
    expect(bars.length).toBeGreaterThan(2000);
    expect(at(bars, 0)).toMatchObject({ date: '2004-08-19', close: '100.34' });
    expect(ledger.reversals).toBeGreaterThan(0);
  });

  it('cash is exact: starting cash + Σ ±quantity × close − $1 per fill, never below a cent', () => {
    const expected = trades.reduce(
      (cash, t) =>
        cash.plus(new D(t.quantity).times(t.price).times(t.side === 'buy' ? -1 : 1)).minus(t.commission),
      new D(startingCash),
    );

    expect(ledger.cash.eq(expected)).toBe(true);
    expect(ledger.cash.eq(ledger.expectedCash)).toBe(true);
    expect(ledger.subCentCash).toEqual([]);
  });

  it('the position is the sum of the fills, with a sane average cost', () => {
    const lowest = D.min(...bars.map((b) => b.close));
    const highest = D.max(...bars.map((b) => b.close));

    expect(new D(ledger.position.quantity).eq(ledger.expectedQuantity)).toBe(true);
    expect(ledger.badAverageCost).toEqual([]);
    if (!ledger.expectedQuantity.isZero()) {
      expect(new D(ledger.position.averageCost).gte(lowest)).toBe(true);
      expect(new D(ledger.position.averageCost).lte(highest)).toBe(true);
    }
  });

  it('realized + unrealized P&L at the last close equals the equity change, within the rounding bound', () => {
    const gap = pnlGap(ledger, startingCash, lastClose);

    expect(gap.abs().lte(ledger.bound), `gap ${gap.toFixed()} exceeds bound ${ledger.bound.toFixed()}`).toBe(
      true,
    );
  });

  it('equityOf at the last close is cash + quantity × close, to the cent', () => {
    const equity = equityOf({
      account: anAccount({ cash: ledger.cash.toFixed() }),
      positions: { SIM: ledger.position },
      prices: { SIM: { price: lastClose, at: '2013-03-01T21:00:00.000Z' } },
    });

    const expected = cents(ledger.cash.plus(new D(ledger.position.quantity).times(lastClose)));
    expect(equity.toFixed(2)).toBe(expected.toFixed(2));
  });
});

describe('equityOf', () => {
  it('marks a position at its last price', () => {
    const equity = equityOf({
      account: anAccount({ cash: '1000' }),
      positions: { AAPL: aPosition('AAPL', '10', '100') },
      prices: { AAPL: { price: '110', at: '2024-03-15T14:30:00.000Z' } },
    });

    expect(equity.toFixed()).toBe('2100');
  });

  it('falls back to the average cost when no price is known', () => {
    const equity = equityOf({
      account: anAccount({ cash: '1000' }),
      positions: { TSLA: aPosition('TSLA', '-5', '50') },
      prices: {},
    });

    expect(equity.toFixed()).toBe('750');
  });

  it('adds every position, long and short, each at its own mark', () => {
    const equity = equityOf({
      account: anAccount({ cash: '10000' }),
      positions: {
        AAPL: aPosition('AAPL', '10', '100'),
        TSLA: aPosition('TSLA', '-5', '50'),
        MSFT: aPosition('MSFT', '0', '0'),
      },
      prices: { AAPL: { price: '90', at: '2024-03-15T14:30:00.000Z' } },
    });

    expect(equity.toFixed()).toBe(String(10000 + 900 - 250));
  });

  it('rounds the result to the cent', () => {
    const equity = equityOf({
      account: anAccount({ cash: '0' }),
      positions: { BTCUSD: aPosition('BTCUSD', '0.333', '10') },
      prices: { BTCUSD: { price: '10.0001', at: '2024-03-15T14:30:00.000Z' } },
    });

    expect(equity.toFixed()).toBe('3.33');
  });

  it('equals cash when there are no positions', () => {
    const equity = equityOf({ account: anAccount({ cash: '123.45' }), positions: {}, prices: {} });

    expect(equity.toFixed(2)).toBe('123.45');
  });
});

describe('rememberOrder', () => {
  it('appends the new order and forgets those older than the memory', async () => {
    const { rememberOrder } = await import('../../shared/domain/trading.js');
    const now = new Date('2026-11-25T15:00:00.000Z');
    const at = (s: number) => new Date(now.getTime() - s * 1000).toISOString();

    const kept = rememberOrder(
      [
        { symbol: 'A', side: 'buy', signalId: 'old', at: at(61) },
        { symbol: 'B', side: 'buy', signalId: 'edge', at: at(60) },
      ],
      { symbol: 'C', side: 'sell', signalId: 'new', at: at(0) },
      now,
      60,
    );

    expect(kept.map((o) => o.signalId)).toEqual(['edge', 'new']);
  });
});
