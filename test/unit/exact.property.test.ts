import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Decimal, dec, Exact, str } from '../../shared/domain/money.js';

/**
 * The risk engine's fast arithmetic must give exactly what decimal.js gives, operation for
 * operation, on every kind of input: short and long, negative, many decimal places, zero.
 */
const decimalText = fc.oneof(
  // Amounts as they occur: prices, quantities, cash.
  fc
    .tuple(fc.bigInt({ min: -(10n ** 12n), max: 10n ** 12n }), fc.integer({ min: 0, max: 6 }))
    .map(([m, s]) => scaled(m, s)),
  // Long ones that do not fit the fast form.
  fc
    .tuple(fc.bigInt({ min: -(10n ** 24n), max: 10n ** 24n }), fc.integer({ min: 0, max: 12 }))
    .map(([m, s]) => scaled(m, s)),
  fc.constantFrom('0', '1', '-1', '0.01', '100', '25000', '0.5', '-0.5', '9007199254740991', '0.000001'),
);

function scaled(m: bigint, s: number): string {
  const negative = m < 0n;
  const digits = (negative ? -m : m).toString().padStart(s + 1, '0');
  const text = s === 0 ? digits : `${digits.slice(0, digits.length - s)}.${digits.slice(digits.length - s)}`;
  return `${negative && m !== 0n ? '-' : ''}${text}`;
}

const same = (exact: Exact, decimal: Decimal) => expect(exact.toString()).toBe(str(decimal));

describe('Exact equals decimal.js', () => {
  it('plus, minus, times, neg and abs', () => {
    fc.assert(
      fc.property(decimalText, decimalText, (a, b) => {
        const [x, y] = [Exact.parse(a), Exact.parse(b)];
        same(x.plus(y), dec(a).plus(dec(b)));
        same(x.minus(y), dec(a).minus(dec(b)));
        same(x.times(y), dec(a).times(dec(b)));
        same(x.neg(), dec(a).neg());
        same(x.abs(), dec(a).abs());
      }),
      { numRuns: 10_000, seed: 11 },
    );
  });

  it('div (by anything non-zero), cents and decimal places', () => {
    fc.assert(
      fc.property(decimalText, decimalText, fc.integer({ min: 0, max: 9 }), (a, b, places) => {
        const [x, y] = [Exact.parse(a), Exact.parse(b)];
        if (!dec(b).isZero()) same(x.div(y), dec(a).div(dec(b)));
        same(x.toCents(), dec(a).toDecimalPlaces(2, Decimal.ROUND_HALF_EVEN));
        same(
          x.toDecimalPlaces(places, Decimal.ROUND_DOWN),
          dec(a).toDecimalPlaces(places, Decimal.ROUND_DOWN),
        );
      }),
      { numRuns: 10_000, seed: 12 },
    );
  });

  it('comparisons, max and min', () => {
    fc.assert(
      fc.property(decimalText, decimalText, (a, b) => {
        const [x, y] = [Exact.parse(a), Exact.parse(b)];
        expect(x.cmp(y)).toBe(dec(a).cmp(dec(b)));
        expect([x.gt(y), x.gte(y), x.lt(y), x.lte(y)]).toEqual([
          dec(a).gt(dec(b)),
          dec(a).gte(dec(b)),
          dec(a).lt(dec(b)),
          dec(a).lte(dec(b)),
        ]);
        same(Exact.max(x, y), Decimal.max(dec(a), dec(b)));
        same(Exact.min(x, y), Decimal.min(dec(a), dec(b)));
      }),
      { numRuns: 10_000, seed: 13 },
    );
  });

  it('chains of operations stay equal (sums of products, as exposure is computed)', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(decimalText, decimalText), { maxLength: 25 }),
        decimalText,
        (pairs, start) => {
          const xs = pairs.map(([q]) => Exact.parse(q));
          const ys = pairs.map(([, p]) => Exact.parse(p));
          const expected = pairs.reduce((sum, [q, p]) => sum.plus(dec(q).abs().times(dec(p))), dec(start));
          same(Exact.sumOfProducts(Exact.parse(start), xs, ys, pairs.length, true), expected);
        },
      ),
      { numRuns: 3_000, seed: 14 },
    );
  });
});
