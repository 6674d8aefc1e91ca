import { Decimal } from 'decimal.js';

/**
 * Beware: decimal.js `isPositive()` is true for zero; compare with `gt(0)` / `lt(0)` instead.
 *
 * Exact decimal arithmetic for money and quantities. Amounts travel as decimal strings and are
 * only turned into numbers for display; cash is rounded to the cent at each booking.
 */
export const Dec = Decimal.clone({ precision: 40, rounding: Decimal.ROUND_HALF_EVEN });
export type Dec = Decimal;

export const dec = (value: string | number | Decimal): Decimal => new Dec(value);

/** Rounds a cash amount to the cent (banker's rounding, so errors do not drift one way). */
export const toCents = (value: Decimal): Decimal => value.toDecimalPlaces(2, Decimal.ROUND_HALF_EVEN);

/** A price rounded to the increment brokers accept: cents at or above $1, 4 decimals below. */
export const toPriceIncrement = (
  value: Decimal,
  rounding: Decimal.Rounding = Decimal.ROUND_HALF_EVEN,
): Decimal => (value.gte(1) ? value.toDecimalPlaces(2, rounding) : value.toDecimalPlaces(4, rounding));

export const money = (value: Decimal): string => toCents(value).toFixed(2);

/** Canonical decimal string: no exponent, no trailing zeros. */
export const str = (value: Decimal): string => {
  const fixed = value.toFixed();
  return fixed.includes('.') ? fixed.replace(/0+$/, '').replace(/\.$/, '') : fixed;
};

export { Decimal };
