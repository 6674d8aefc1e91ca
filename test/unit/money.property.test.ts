import { Decimal as DecimalJs } from 'decimal.js';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Decimal } from '../../shared/domain/money.js';

/**
 * The domain's number type must give exactly what decimal.js gives (precision 40, half-even),
 * operation for operation, on every kind of input: short and long, negative, many decimal places,
 * zero. decimal.js is the reference here, read directly.
 */
const Reference = DecimalJs.clone({ precision: 40, rounding: DecimalJs.ROUND_HALF_EVEN });
const dec = (text: string) => new Reference(text);
const str = (value: DecimalJs): string => {
  const fixed = value.toFixed();
  return fixed.includes('.') ? fixed.replace(/0+$/, '').replace(/\.$/, '') : fixed;
};
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

const same = (exact: Decimal, decimal: DecimalJs) => expect(exact.toString()).toBe(str(decimal));

describe('Decimal equals decimal.js', () => {
  it('plus, minus, times, neg and abs', () => {
    fc.assert(
      fc.property(decimalText, decimalText, (a, b) => {
        const [x, y] = [Decimal.parse(a), Decimal.parse(b)];
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
        const [x, y] = [Decimal.parse(a), Decimal.parse(b)];
        if (!dec(b).isZero()) same(x.div(y), dec(a).div(dec(b)));
        same(x.toCents(), dec(a).toDecimalPlaces(2, DecimalJs.ROUND_HALF_EVEN));
        same(
          x.toDecimalPlaces(places, Decimal.ROUND_DOWN),
          dec(a).toDecimalPlaces(places, DecimalJs.ROUND_DOWN),
        );
        same(x.toDecimalPlaces(places, Decimal.ROUND_UP), dec(a).toDecimalPlaces(places, DecimalJs.ROUND_UP));
        expect(x.toFixed(places)).toBe(dec(a).toFixed(places));
        expect(x.toFixed()).toBe(dec(a).toFixed());
        expect(x.toNumber()).toBe(dec(a).toNumber());
      }),
      { numRuns: 10_000, seed: 12 },
    );
  });

  it('comparisons, max and min', () => {
    fc.assert(
      fc.property(decimalText, decimalText, (a, b) => {
        const [x, y] = [Decimal.parse(a), Decimal.parse(b)];
        expect(x.cmp(y)).toBe(dec(a).cmp(dec(b)));
        expect([x.gt(y), x.gte(y), x.lt(y), x.lte(y)]).toEqual([
          dec(a).gt(dec(b)),
          dec(a).gte(dec(b)),
          dec(a).lt(dec(b)),
          dec(a).lte(dec(b)),
        ]);
        same(Decimal.max(x, y), Reference.max(dec(a), dec(b)));
        expect(x.eq(y)).toBe(dec(a).eq(dec(b)));
        expect(x.isNegative()).toBe(dec(a).isNegative());
        same(Decimal.min(x, y), Reference.min(dec(a), dec(b)));
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
          const xs = pairs.map(([q]) => Decimal.parse(q));
          const ys = pairs.map(([, p]) => Decimal.parse(p));
          const expected = pairs.reduce((sum, [q, p]) => sum.plus(dec(q).abs().times(dec(p))), dec(start));
          same(Decimal.sumOfProducts(Decimal.parse(start), xs, ys, pairs.length, true), expected);
        },
      ),
      { numRuns: 3_000, seed: 14 },
    );
  });
});
