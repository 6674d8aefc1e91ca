import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  bookFill,
  equityOf,
  type FillBooking,
  flatPosition,
  type OrderSide,
  type Position,
} from '../../shared/domain/trading.js';
import { anAccount, aPosition } from '../fixtures/builders.js';
import { cents, D } from '../fixtures/exact.js';

/**
 * Property-based tests for the portfolio accounting in shared/domain/trading.ts.
 *
 * The expected values are computed with the test's own exact arithmetic (60 significant digits,
 * and BigInt cents where the exact answer is an integer number of cents), independent of
 * shared/domain/money.ts. Every property runs with a fixed seed so failures reproduce.
 */
const SEED = 42;

/** `units / 10^decimals` as a canonical decimal string (no exponent, no trailing zeros). */
const scaled = (units: number | bigint, decimals: number): string =>
  new D(units.toString()).div(new D(10).pow(decimals)).toFixed();

/** A BigInt number of cents as a dollar string with exactly two decimals. */
const dollars = (amount: bigint): string => {
  const magnitude = amount < 0n ? -amount : amount;
  return `${amount < 0n ? '-' : ''}${magnitude / 100n}.${(magnitude % 100n).toString().padStart(2, '0')}`;
};

/** A decimal string that must be a whole number of cents, as BigInt cents. */
const toBigCents = (value: string): bigint => {
  const hundredfold = new D(value).times(100);
  if (!hundredfold.isInteger()) throw new Error(`${value} is not a whole number of cents`);
  return BigInt(hundredfold.toFixed());
};

// ---------------------------------------------------------------------------------------------
// Arbitraries
// ---------------------------------------------------------------------------------------------

const sideArb = fc.constantFrom<OrderSide>('buy', 'sell');

/** 0.000001 … 10,000 units with up to 6 decimals: whole lots, fractional shares, tiny crypto lots. */
const quantityArb = fc.oneof(
  { arbitrary: fc.integer({ min: 1, max: 1_000 }).map(String), weight: 2 },
  { arbitrary: fc.bigInt({ min: 1n, max: 10_000_000_000n }).map((n) => scaled(n, 6)), weight: 3 },
  { arbitrary: fc.integer({ min: 1, max: 1_000_000 }).map((n) => scaled(n, 6)), weight: 1 },
);

/** $0.0001 … $50,000 with up to 4 decimals, sub-dollar prices included. */
const priceArb = fc.oneof(
  { arbitrary: fc.integer({ min: 1, max: 10_000 }).map((n) => scaled(n, 4)), weight: 1 },
  { arbitrary: fc.integer({ min: 1, max: 500_000_000 }).map((n) => scaled(n, 4)), weight: 3 },
  { arbitrary: fc.integer({ min: 1, max: 5_000_000 }).map((n) => scaled(n, 2)), weight: 2 },
);

/** $0 … $10 in whole cents, with plenty of zero-commission fills. */
const commissionArb = fc.oneof(
  fc.constant('0'),
  fc.integer({ min: 0, max: 1_000 }).map((n) => scaled(n, 2)),
);

/** Starting cash: $0 … $10,000,000 in whole cents. */
const cashArb = fc.bigInt({ min: 0n, max: 1_000_000_000n }).map((n) => scaled(n, 2));

/** Any mark: zero, a tradeable price, or an arbitrary 6-decimal price up to $100,000. */
const markArb = fc.oneof(
  fc.constant('0'),
  priceArb,
  fc.bigInt({ min: 0n, max: 100_000_000_000n }).map((n) => scaled(n, 6)),
);

interface Fill {
  side: OrderSide;
  quantity: string;
  price: string;
  commission: string;
}

const fillArb: fc.Arbitrary<Fill> = fc.record({
  side: sideArb,
  quantity: quantityArb,
  price: priceArb,
  commission: commissionArb,
});

const signedOf = (fill: Pick<Fill, 'side' | 'quantity'>): D =>
  fill.side === 'buy' ? new D(fill.quantity) : new D(fill.quantity).neg();

// ---------------------------------------------------------------------------------------------
// 1. Single symbol: cash + quantity × mark = starting cash + realized + unrealized (± rounding)
// ---------------------------------------------------------------------------------------------

/**
 * The exact identity, with no rounding anywhere, is (per fill of signed quantity s at price p):
 *   Δcash = −s·p − commission,   Δrealized = r − commission,   Δ(quantity × averageCost) = s·p + r
 * so cash − C − realized + Q·A is invariant (0), and Q·mark cancels on both sides for any mark.
 * (Check the last one case by case: opening/adding r = 0, basis grows by s·p; a close of c units
 * from Q realizes (p − A)·(−s) and the basis moves by s·A; a reversal realizes (p − A)·Q and the
 * basis becomes (Q + s)·p.) bookFill deviates from it only through three roundings:
 *  (a) cashDelta = cents(−s·p) − commission: error |cents(x) − x| ≤ 0.005, known exactly here;
 *  (b) realizedPnlDelta = cents(r) − commission: error ≤ 0.005, and only on fills that close
 *      something (r = 0 exactly, so no error, on fills that only open or add);
 *  (c) averageCost stored at 10 decimals after a fill that adds to an open position: the basis
 *      moves by |Q after| × |δ|, with |δ| ≤ 0.5e-10 plus the 40-significant-digit division noise
 *      (≤ 5e-35 for averages under $100,000), so ≤ |Q after| × (5e-11 + 1e-34). Opening from
 *      flat and a reversal's opening leg store the fill price itself, exactly.
 * Hence |gap| ≤ Σ (a) + 0.005 × (#closing fills) + Σ (c) ≤ 0.01 per fill + Σ (c).
 */
interface Ledger {
  position: Position;
  cash: D;
  realizedSum: D;
  expectedQuantity: D;
  bound: D;
  /** The part of `bound` from (c), the 10-decimal average cost. */
  averageDrift: D;
  closes: number;
  reversals: number;
  adds: number;
}

function runLedger(fills: readonly Fill[], startingCash: string): Ledger {
  const ledger: Ledger = {
    position: flatPosition('SIM'),
    cash: new D(startingCash),
    realizedSum: new D(0),
    expectedQuantity: new D(0),
    bound: new D(0),
    averageDrift: new D(0),
    closes: 0,
    reversals: 0,
    adds: 0,
  };
  for (const fill of fills) {
    const before = ledger.expectedQuantity;
    const signed = signedOf(fill);
    const after = before.plus(signed);
    const exactCash = signed.neg().times(fill.price);

    const booking = bookFill(ledger.position, fill.side, fill.quantity, fill.price, fill.commission);

    expect(new D(booking.cashDelta).decimalPlaces()).toBeLessThanOrEqual(2);
    expect(new D(booking.realizedPnlDelta).decimalPlaces()).toBeLessThanOrEqual(2);
    expect(new D(booking.position.quantity).eq(after)).toBe(true);
    ledger.position = booking.position;
    ledger.cash = ledger.cash.plus(booking.cashDelta);
    ledger.realizedSum = ledger.realizedSum.plus(booking.realizedPnlDelta);
    ledger.expectedQuantity = after;
    expect(ledger.cash.decimalPlaces()).toBeLessThanOrEqual(2);

    const closes = !before.isZero() && before.gt(0) !== signed.gt(0);
    const adds = !before.isZero() && before.gt(0) === signed.gt(0);
    ledger.bound = ledger.bound.plus(cents(exactCash).minus(exactCash).abs());
    if (closes) {
      ledger.closes++;
      ledger.bound = ledger.bound.plus('0.005');
      if (!after.isZero() && after.gt(0) !== before.gt(0)) ledger.reversals++;
    }
    if (adds) {
      ledger.adds++;
      const drift = after.abs().times('5e-11').plus(after.abs().times('1e-34'));
      ledger.averageDrift = ledger.averageDrift.plus(drift);
      ledger.bound = ledger.bound.plus(drift);
    }
  }
  return ledger;
}

describe('property: cash + quantity × mark = starting cash + realized + unrealized', () => {
  it('holds for any fill sequence on one symbol and any mark, within the per-fill rounding bound', () => {
    const seen = { runs: 0, fills: 0, closes: 0, reversals: 0, adds: 0, worstGap: new D(0) };
    fc.assert(
      fc.property(
        fc.array(fillArb, { minLength: 1, maxLength: 60 }),
        cashArb,
        markArb,
        (fills, startingCash, mark) => {
          const ledger = runLedger(fills, startingCash);
          const quantity = new D(ledger.position.quantity);
          const realized = new D(ledger.position.realizedPnl);
          const unrealized = new D(mark).minus(ledger.position.averageCost).times(quantity);

          const equity = ledger.cash.plus(quantity.times(mark));
          const explained = new D(startingCash).plus(realized).plus(unrealized);
          const gap = equity.minus(explained);

          expect(ledger.cash.decimalPlaces()).toBeLessThanOrEqual(2);
          expect(realized.eq(ledger.realizedSum)).toBe(true);
          expect(
            gap.abs().lte(ledger.bound),
            `gap ${gap.toFixed()} exceeds bound ${ledger.bound.toFixed()}`,
          ).toBe(true);
          // The derived bound is never looser than 0.01 per fill plus the 10-decimal average drift.
          expect(ledger.bound.lte(new D('0.01').times(fills.length).plus(ledger.averageDrift))).toBe(true);

          seen.runs++;
          seen.fills += fills.length;
          seen.closes += ledger.closes;
          seen.reversals += ledger.reversals;
          seen.adds += ledger.adds;
          if (gap.abs().gt(seen.worstGap)) seen.worstGap = gap.abs();
        },
      ),
      { seed: SEED, numRuns: 400 },
    );
    // The generated sequences exercise every branch of bookFill.
    expect(seen.runs).toBe(400);
    expect(seen.closes).toBeGreaterThan(1_000);
    expect(seen.reversals).toBeGreaterThan(200);
    expect(seen.adds).toBeGreaterThan(1_000);
    expect(seen.worstGap.gt(0)).toBe(true);
  });
});

// ---------------------------------------------------------------------------------------------
// 2. Multi-symbol: equityOf = cash + Σ quantity × mark, to the cent
// ---------------------------------------------------------------------------------------------

const SYMBOLS = ['AAPL', 'MSFT', 'TSLA', 'GOOG', 'BTCUSD'] as const;

describe('property: equityOf = cash + market value', () => {
  it('holds for any fills over 1–5 symbols, marked at their last price or else their average cost', () => {
    const portfolioArb = fc.integer({ min: 1, max: SYMBOLS.length }).chain((count) =>
      fc.record({
        symbols: fc.constant(SYMBOLS.slice(0, count)),
        fills: fc.array(fc.record({ symbol: fc.integer({ min: 0, max: count - 1 }), fill: fillArb }), {
          minLength: 0,
          maxLength: 40,
        }),
        marks: fc.array(fc.option(markArb, { nil: undefined }), { minLength: count, maxLength: count }),
      }),
    );

    fc.assert(
      fc.property(portfolioArb, cashArb, ({ symbols, fills, marks }, startingCash) => {
        const positions: Record<string, Position> = {};
        let cash = new D(startingCash);
        for (const { symbol: index, fill } of fills) {
          const symbol = symbols[index] ?? 'MISSING';
          const booking: FillBooking = bookFill(
            positions[symbol] ?? flatPosition(symbol),
            fill.side,
            fill.quantity,
            fill.price,
            fill.commission,
          );
          positions[symbol] = booking.position;
          cash = cash.plus(booking.cashDelta);
        }
        const prices: Record<string, { price: string; at: string }> = {};
        symbols.forEach((symbol, i) => {
          const mark = marks[i];
          if (mark !== undefined) prices[symbol] = { price: mark, at: '2024-03-15T14:30:00.000Z' };
        });

        const equity = equityOf({ account: anAccount({ cash: cash.toFixed() }), positions, prices });

        let expected = cash;
        for (const [symbol, position] of Object.entries(positions)) {
          const mark = prices[symbol]?.price ?? position.averageCost;
          expected = expected.plus(new D(position.quantity).times(mark));
        }
        expect(cash.decimalPlaces()).toBeLessThanOrEqual(2);
        expect(equity.toString().split('.')[1]?.length ?? 0).toBeLessThanOrEqual(2);
        expect(equity.toFixed(2)).toBe(cents(expected).toFixed(2));
      }),
      { seed: SEED, numRuns: 400 },
    );
  });
});

// ---------------------------------------------------------------------------------------------
// 3. 10,000 round trips in whole cents: realized P&L and cash are exact, with zero drift
// ---------------------------------------------------------------------------------------------

interface RoundTrip {
  side: OrderSide;
  quantity: number;
  openCents: number;
  closeCents: number;
  openCommissionCents: number;
  closeCommissionCents: number;
}

const roundTripArb: fc.Arbitrary<RoundTrip> = fc.record({
  side: sideArb,
  quantity: fc.integer({ min: 1, max: 10_000 }),
  openCents: fc.integer({ min: 1, max: 10_000_000 }),
  closeCents: fc.integer({ min: 1, max: 10_000_000 }),
  openCommissionCents: fc.integer({ min: 0, max: 500 }),
  closeCommissionCents: fc.integer({ min: 0, max: 500 }),
});

/** Books one round trip; returns the booked and the BigInt-exact figures side by side. */
function bookRoundTrip(position: Position, trip: RoundTrip) {
  const quantity = String(trip.quantity);
  const open = dollars(BigInt(trip.openCents));
  const close = dollars(BigInt(trip.closeCents));
  const direction = trip.side === 'buy' ? 1n : -1n;
  const exact =
    direction * BigInt(trip.closeCents - trip.openCents) * BigInt(trip.quantity) -
    BigInt(trip.openCommissionCents) -
    BigInt(trip.closeCommissionCents);

  const opened = bookFill(position, trip.side, quantity, open, dollars(BigInt(trip.openCommissionCents)));
  const closed = bookFill(
    opened.position,
    trip.side === 'buy' ? 'sell' : 'buy',
    quantity,
    close,
    dollars(BigInt(trip.closeCommissionCents)),
  );
  const realized = toBigCents(opened.realizedPnlDelta) + toBigCents(closed.realizedPnlDelta);
  const cash = toBigCents(opened.cashDelta) + toBigCents(closed.cashDelta);
  const observed = {
    averageCostAfterOpen: opened.position.averageCost,
    quantityAfterClose: closed.position.quantity,
    averageCostAfterClose: closed.position.averageCost,
    realized: dollars(realized),
    cash: dollars(cash),
  };
  const wanted = {
    averageCostAfterOpen: new D(open).toFixed(),
    quantityAfterClose: '0',
    averageCostAfterClose: '0',
    realized: dollars(exact),
    cash: dollars(exact),
  };
  const ok =
    observed.averageCostAfterOpen === wanted.averageCostAfterOpen &&
    observed.quantityAfterClose === '0' &&
    observed.averageCostAfterClose === '0' &&
    realized === exact &&
    cash === exact;
  return { position: closed.position, realized, cash, exact, observed, wanted, ok };
}

const ROUND_TRIPS = 10_000;
const ROUND_TRIP_RUNS = 4;

describe('property: realized P&L over round trips in whole cents is exact to the cent', () => {
  it('one round trip realizes exactly ±(close − open) × quantity − commissions, in realized P&L and in cash', () => {
    // Shrinks to a minimal counterexample, which the 10,000-trip property below cannot afford to.
    fc.assert(
      fc.property(roundTripArb, fc.integer({ min: -1_000_000, max: 1_000_000 }), (trip, priorCents) => {
        const prior = { ...flatPosition('RT'), realizedPnl: dollars(BigInt(priorCents)) };
        const booked = bookRoundTrip(prior, trip);

        expect(booked.observed).toEqual(booked.wanted);
        expect(booked.position.realizedPnl).toBe(new D(dollars(BigInt(priorCents) + booked.exact)).toFixed());
      }),
      { seed: SEED, numRuns: 2_000 },
    );
  });

  it("10,000 round trips: Σ realized, the position's realized P&L and cash have zero drift from the BigInt sum", () => {
    let runs = 0;
    fc.assert(
      fc.property(
        fc.array(roundTripArb, { minLength: ROUND_TRIPS, maxLength: ROUND_TRIPS }),
        fc.bigInt({ min: 0n, max: 1_000_000_000n }),
        (trips, startingCashCents) => {
          let position = flatPosition('RT');
          let cash = startingCashCents;
          let realizedSum = 0n;
          let exact = 0n;
          trips.forEach((trip, index) => {
            const booked = bookRoundTrip(position, trip);
            // Plain comparison in the hot loop (20,000 bookings a run); expect() only on a mismatch.
            if (!booked.ok) {
              throw new Error(
                `round trip #${index} ${JSON.stringify(trip)}: booked ${JSON.stringify(booked.observed)}, ` +
                  `expected ${JSON.stringify(booked.wanted)}`,
              );
            }
            position = booked.position;
            realizedSum += booked.realized;
            cash += booked.cash;
            exact += booked.exact;
          });
          expect(dollars(realizedSum)).toBe(dollars(exact));
          expect(dollars(toBigCents(position.realizedPnl))).toBe(dollars(exact));
          expect(new D(position.realizedPnl).eq(dollars(exact))).toBe(true);
          expect(dollars(cash)).toBe(dollars(startingCashCents + exact));
          runs++;
        },
      ),
      // Shrinking a fixed 10,000-element array would take hours; the failing trip is in the message,
      // and the single-round-trip property above shrinks it.
      {
        seed: SEED,
        numRuns: ROUND_TRIP_RUNS,
        endOnFailure: true,
        // Report the failing trip (in the assertion message), not all 10,000 of them.
        reporter: (run) => {
          if (!run.failed) return;
          const cause =
            run.errorInstance instanceof Error ? run.errorInstance.message : String(run.errorInstance);
          throw new Error(
            `failed on run ${run.numRuns} (seed ${run.seed}, path ${run.counterexamplePath}):\n${cause}`,
          );
        },
      },
    );
    expect(runs).toBe(ROUND_TRIP_RUNS);
  });
});

// ---------------------------------------------------------------------------------------------
// 4. Reversal: long a, sell b > a (or short a, buy b > a)
// ---------------------------------------------------------------------------------------------

/** A stored average cost: $0.0000000001 … $50,000 with up to 10 decimals. */
const averageCostArb = fc.oneof(
  priceArb,
  fc.bigInt({ min: 1n, max: 500_000_000_000_000n }).map((n) => scaled(n, 10)),
);

describe('property: a reversal closes the whole position and opens the rest at the fill price', () => {
  it('long a, sell b > a ⇒ quantity a − b, average cost = price, realized = cents((price − avg) × a) − commission', () => {
    fc.assert(
      fc.property(
        quantityArb,
        quantityArb,
        averageCostArb,
        priceArb,
        commissionArb,
        fc.integer({ min: -1_000_000, max: 1_000_000 }).map((n) => scaled(n, 2)),
        fc.boolean(),
        (a, extra, avg, price, commission, priorRealized, long) => {
          const b = new D(a).plus(extra);
          const start = aPosition('REV', long ? a : new D(a).neg().toFixed(), avg, {
            realizedPnl: priorRealized,
            pendingQuantity: '3',
          });

          const booking = bookFill(start, long ? 'sell' : 'buy', b.toFixed(), price, commission);

          const exactRealized = new D(price)
            .minus(avg)
            .times(a)
            .times(long ? 1 : -1);
          const expectedRealized = cents(exactRealized).minus(commission);
          const expectedQuantity = long ? new D(a).minus(b) : b.minus(a);
          const exactCash = b.times(price).times(long ? 1 : -1);

          expect(booking.position.quantity).toBe(expectedQuantity.toFixed());
          expect(long ? expectedQuantity.lt(0) : expectedQuantity.gt(0)).toBe(true);
          expect(booking.position.averageCost).toBe(new D(price).toFixed());
          expect(booking.realizedPnlDelta).toBe(expectedRealized.toFixed());
          expect(
            new D(booking.realizedPnlDelta).plus(commission).minus(exactRealized).abs().lte('0.005'),
          ).toBe(true);
          expect(booking.position.realizedPnl).toBe(expectedRealized.plus(priorRealized).toFixed());
          expect(booking.cashDelta).toBe(cents(exactCash).minus(commission).toFixed());
          expect(booking.position.symbol).toBe('REV');
          expect(booking.position.pendingQuantity).toBe('3');
        },
      ),
      { seed: SEED, numRuns: 2_000 },
    );
  });
});

// ---------------------------------------------------------------------------------------------
// 5. Well-formed output: canonical finite decimals, and flat means average cost "0"
// ---------------------------------------------------------------------------------------------

/** Canonical decimal: optional minus, no leading zeros, no trailing fractional zeros, no exponent. */
const CANONICAL = /^-?(0|[1-9]\d*)(\.\d*[1-9])?$/;

const expectWellFormed = (booking: FillBooking): void => {
  const fields = {
    quantity: booking.position.quantity,
    averageCost: booking.position.averageCost,
    realizedPnl: booking.position.realizedPnl,
    cashDelta: booking.cashDelta,
    realizedPnlDelta: booking.realizedPnlDelta,
  };
  for (const [name, value] of Object.entries(fields)) {
    expect(value, `${name} = ${JSON.stringify(value)}`).toMatch(CANONICAL);
    expect(value, name).not.toBe('-0');
    expect(value, name).not.toMatch(/NaN|Infinity|e/i);
    expect(Number.isFinite(Number(value)), name).toBe(true);
  }
  const quantity = new D(booking.position.quantity);
  if (booking.position.quantity === '0' || quantity.isZero()) {
    expect(booking.position.quantity).toBe('0');
    expect(booking.position.averageCost).toBe('0');
  } else {
    expect(
      new D(booking.position.averageCost).gt(0),
      `open position with average cost ${fields.averageCost}`,
    ).toBe(true);
  }
};

/** Any price bookFill can be handed, down to 8 decimals (the store derives it by division). */
const anyPriceArb = fc.oneof(
  priceArb,
  fc
    .tuple(fc.integer({ min: 1, max: 1_000_000_000 }), fc.integer({ min: 0, max: 8 }))
    .map(([n, decimals]) => scaled(n, decimals)),
);

/** A starting position: flat, or open either way at a positive 10-decimal average cost. */
const positionArb: fc.Arbitrary<Position> = fc.oneof(
  fc.constant(flatPosition('WF')),
  fc
    .tuple(
      quantityArb,
      fc.boolean(),
      averageCostArb,
      fc.integer({ min: -1_000_000, max: 1_000_000 }).map((n) => scaled(n, 2)),
    )
    .map(([quantity, long, averageCost, realizedPnl]) =>
      aPosition('WF', long ? quantity : new D(quantity).neg().toFixed(), averageCost, { realizedPnl }),
    ),
);

describe('property: bookFill output is always well formed', () => {
  it('never yields NaN, Infinity, "-0" or a non-canonical decimal, and quantity "0" comes with average cost "0"', () => {
    fc.assert(
      fc.property(
        positionArb,
        fc.array(
          fc.record({ side: sideArb, quantity: quantityArb, price: anyPriceArb, commission: commissionArb }),
          { minLength: 1, maxLength: 30 },
        ),
        fc.boolean(),
        (start, fills, closeOut) => {
          let position = start;
          for (const fill of fills) {
            const booking = bookFill(position, fill.side, fill.quantity, fill.price, fill.commission);
            expectWellFormed(booking);
            position = booking.position;
          }
          // End with an exact close-out, so every run also books a flattening fill.
          const quantity = new D(position.quantity);
          if (closeOut && !quantity.isZero()) {
            const booking = bookFill(
              position,
              quantity.gt(0) ? 'sell' : 'buy',
              quantity.abs().toFixed(),
              fills[0]?.price ?? '1',
              '0',
            );
            expectWellFormed(booking);
            expect(booking.position.quantity).toBe('0');
          }
        },
      ),
      { seed: SEED, numRuns: 1_000 },
    );
  });
});
