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

const SAFE = Number.MAX_SAFE_INTEGER;
// Powers of ten as exact doubles (10^22 is the largest one); parsed, since `10 ** n` may round.
const POW10: readonly number[] = Array.from({ length: 23 }, (_, n) => Number(`1e${n}`));
// More digits than this may not fit a safe integer.
const FAST_DIGITS = 15;

/** m / 10^s written out, as `toFixed()` writes it. */
function plain(m: number, s: number): string {
  const digits = String(Math.abs(m));
  const sign = m < 0 || Object.is(m, -0) ? '-' : '';
  if (s === 0) return `${sign}${digits}`;
  const padded = digits.padStart(s + 1, '0');
  const point = padded.length - s;
  return `${sign}${padded.slice(0, point)}.${padded.slice(point)}`;
}

/**
 * The risk engine's arithmetic: the same values as decimal.js, without its cost where it is not
 * needed. Most amounts are a few digits long, and sums and products of those are held exactly as
 * a safe-integer mantissa and a number of decimal places. Any step that would not fit one (too many
 * digits, a division other than by a power of ten, an exponent or non-finite input) is done by
 * decimal.js itself from then on, on the Decimal the same steps would have produced.
 *
 * Results are therefore those of the Decimal code they replace, operation for operation: exact
 * results are exact in both (at most 16 digits, well within any precision), and the rest are
 * computed by decimal.js in the class its arithmetic would have used — `Dec` (precision 40,
 * ROUND_HALF_EVEN) for `dec()` values, and base `Decimal` (precision 20, ROUND_HALF_UP) for what
 * `Decimal.max`/`Decimal.min` return and for arithmetic on it (decimal.js gives a result the class
 * of the operand it is called on). Zeros keep their sign as decimal.js keeps it (IEEE arithmetic
 * on signed zeros agrees with decimal.js's plus, minus and times).
 */
export class Exact {
  private constructor(
    /** The mantissa, a safe integer (unused when `big` holds the value). */
    private readonly m: number,
    /** Decimal places of the mantissa, >= 0. */
    private readonly s: number,
    /** The value as decimal.js holds it, once the fast form does not fit. */
    private readonly big: Decimal | undefined,
    /** Whether decimal.js would hold this value in its base class (see above). */
    private readonly base: boolean,
  ) {}

  /** `dec(text)`: a plain decimal string of up to 15 digits is read directly. */
  static parse(text: string): Exact {
    if (text === '0') return Exact.ZERO;
    const n = text.length;
    let i = text.charCodeAt(0) === 45 ? 1 : 0; // '-'
    const first = i;
    let m = 0;
    let point = -1;
    for (; i < n; i++) {
      const c = text.charCodeAt(i);
      if (c >= 48 && c <= 57) m = m * 10 + (c - 48);
      else if (c === 46 && point === -1 && i > first && i < n - 1) point = i;
      else return Exact.of(dec(text));
    }
    const digits = n - first - (point === -1 ? 0 : 1);
    if (digits === 0 || digits > FAST_DIGITS) return Exact.of(dec(text));
    return new Exact(first === 1 ? -m : m, point === -1 ? 0 : n - point - 1, undefined, false);
  }

  /** The number 0, as `dec(0)` holds it. */
  static readonly ZERO: Exact = new Exact(0, 0, undefined, false);

  /** `dec(value)` for a number (as decimal.js reads it: its shortest string), or a Decimal as it is. */
  static of(value: number | Decimal): Exact {
    if (typeof value !== 'number') return new Exact(0, 0, value, value.constructor === Decimal);
    if (Number.isSafeInteger(value)) return new Exact(value, 0, undefined, false);
    return Exact.parse(String(value));
  }

  /** `Decimal.max(a, b)`. */
  static max(a: Exact, b: Exact): Exact {
    if (a.big !== undefined || b.big !== undefined)
      return Exact.of(Decimal.max(a.toDecimal(), b.toDecimal()));
    // As decimal.js picks: b when greater, or equal while a is negative (so max(-0, 0) is 0).
    const k = a.cmp(b);
    const best = k < 0 || (k === 0 && a.negative()) ? b : a;
    return new Exact(best.m, best.s, undefined, true);
  }

  /** `Decimal.min(a, b)`. */
  static min(a: Exact, b: Exact): Exact {
    if (a.big !== undefined || b.big !== undefined)
      return Exact.of(Decimal.min(a.toDecimal(), b.toDecimal()));
    // As decimal.js picks: b when smaller, or equal while a is positive (so min(0, -0) is -0).
    const k = a.cmp(b);
    const best = k > 0 || (k === 0 && !a.negative()) ? b : a;
    return new Exact(best.m, best.s, undefined, true);
  }

  /** The sign, as decimal.js keeps it: a zero may be negative. */
  private negative(): boolean {
    return this.m < 0 || Object.is(this.m, -0);
  }

  /** `Decimal.min(a)`: the value in the base class. */
  static min1(a: Exact): Exact {
    return a.big === undefined ? new Exact(a.m, a.s, undefined, true) : Exact.of(Decimal.min(a.big));
  }

  /**
   * `start.plus(xs[0].times(ys[0])).plus(xs[1].times(ys[1]))…` over the first `count` terms (with
   * `xs[i].abs()` when `absolute`): the same value, without an object per step while the sum fits
   * the fast form.
   */
  static sumOfProducts(
    start: Exact,
    xs: readonly Exact[],
    ys: readonly Exact[],
    count: number,
    absolute: boolean,
  ): Exact {
    let m = start.m;
    let s = start.s;
    let i = 0;
    if (start.big === undefined) {
      for (; i < count; i++) {
        const x = xs[i] as Exact;
        const y = ys[i] as Exact;
        if (x.big !== undefined || y.big !== undefined) break;
        const product = (absolute ? Math.abs(x.m) : x.m) * y.m;
        const ps = x.s + y.s;
        const to = Math.max(s, ps);
        const a = s < to ? m * (POW10[to - s] ?? Number.NaN) : m;
        const b = ps < to ? product * (POW10[to - ps] ?? Number.NaN) : product;
        const sum = a + b;
        // As in add(): every step is exact while it stays a safe integer.
        if (
          !(Math.abs(product) <= SAFE && Math.abs(a) <= SAFE && Math.abs(b) <= SAFE && Math.abs(sum) <= SAFE)
        )
          break;
        m = sum;
        s = to;
      }
    }
    let total = i === 0 ? start : start.with(m, s);
    for (; i < count; i++) {
      const x = xs[i] as Exact;
      total = total.plus((absolute ? x.abs() : x).times(ys[i] as Exact));
    }
    return total;
  }

  /** The Decimal the replaced code would hold: `Dec`, or base `Decimal` (see above). */
  toDecimal(): Decimal {
    if (this.big !== undefined) return this.big;
    const text = plain(this.m, this.s);
    return this.base ? new Decimal(text) : new Dec(text);
  }

  /** `str(value)`: canonical decimal string. */
  toString(): string {
    if (this.big !== undefined) return str(this.big);
    if (this.m === 0) return '0';
    let { m, s } = this;
    while (s > 0 && m % 10 === 0) {
      m /= 10;
      s -= 1;
    }
    return plain(m, s);
  }

  private with(m: number, s: number): Exact {
    return new Exact(m, s, undefined, this.base);
  }

  private slow(result: Decimal): Exact {
    return new Exact(0, 0, result, result.constructor === Decimal);
  }

  plus(y: Exact): Exact {
    return this.add(y, 1) ?? this.slow(this.toDecimal().plus(y.toDecimal()));
  }

  minus(y: Exact): Exact {
    return this.add(y, -1) ?? this.slow(this.toDecimal().minus(y.toDecimal()));
  }

  /** this + sign × y in the fast form, or undefined when it does not fit. */
  private add(y: Exact, sign: 1 | -1): Exact | undefined {
    if (this.big !== undefined || y.big !== undefined) return undefined;
    // x ± 0 is x (a zero x is left to the arithmetic below: IEEE's signed zeros are decimal.js's).
    if (y.m === 0 && this.m !== 0) return this;
    const s = Math.max(this.s, y.s);
    const a = this.s < s ? this.m * (POW10[s - this.s] ?? Number.NaN) : this.m;
    const b = y.s < s ? y.m * (POW10[s - y.s] ?? Number.NaN) : y.m;
    // Each step is exact while its true result is a safe integer, and lands outside otherwise.
    if (!(Math.abs(a) <= SAFE && Math.abs(b) <= SAFE)) return undefined;
    const sum = sign === 1 ? a + b : a - b;
    return Math.abs(sum) <= SAFE ? this.with(sum, s) : undefined;
  }

  times(y: Exact): Exact {
    if (this.big === undefined && y.big === undefined) {
      const product = this.m * y.m;
      if (product <= SAFE && product >= -SAFE) return this.with(product, this.s + y.s);
    }
    return this.slow(this.toDecimal().times(y.toDecimal()));
  }

  /** Division: exact for a power of ten, decimal.js otherwise. */
  div(y: Exact): Exact {
    if (this.big === undefined && y.big === undefined) {
      const power = POW10.indexOf(Math.abs(y.m));
      if (power !== -1 && power <= FAST_DIGITS) {
        const m = y.m < 0 ? -this.m : this.m;
        const s = this.s + power - y.s;
        if (s >= 0) return this.with(m, s);
        const scaled = m * (POW10[-s] ?? Number.NaN);
        if (scaled <= SAFE && scaled >= -SAFE) return this.with(scaled, 0);
      }
    }
    return this.slow(this.toDecimal().div(y.toDecimal()));
  }

  neg(): Exact {
    return this.big === undefined ? this.with(-this.m, this.s) : this.slow(this.big.neg());
  }

  abs(): Exact {
    return this.big === undefined ? this.with(Math.abs(this.m), this.s) : this.slow(this.big.abs());
  }

  /** `toDecimalPlaces(places, rounding)`, for ROUND_DOWN and ROUND_HALF_EVEN. */
  toDecimalPlaces(
    places: number,
    rounding: typeof Decimal.ROUND_DOWN | typeof Decimal.ROUND_HALF_EVEN,
  ): Exact {
    if (this.big === undefined) {
      if (this.s <= places) return this;
      const unit = POW10[this.s - places];
      if (unit !== undefined && this.s - places <= FAST_DIGITS) {
        const magnitude = Math.abs(this.m);
        const rest = magnitude % unit; // exact
        let q = (magnitude - rest) / unit; // exact: an integer division without remainder
        if (rounding === Decimal.ROUND_HALF_EVEN && (2 * rest > unit || (2 * rest === unit && q % 2 !== 0)))
          q += 1;
        // The sign is kept, also when the result is zero (as decimal.js keeps it).
        return this.with(this.negative() ? -q : q, places);
      }
    }
    return this.slow(this.toDecimal().toDecimalPlaces(places, rounding));
  }

  /** `toCents(value)`. */
  toCents(): Exact {
    return this.toDecimalPlaces(2, Decimal.ROUND_HALF_EVEN);
  }

  /** Compares as decimal.js does: -1, 0 or 1, and NaN if either is NaN. */
  cmp(y: Exact): number {
    if (this.big === undefined && y.big === undefined) {
      const s = Math.max(this.s, y.s);
      const a = this.s < s ? this.m * (POW10[s - this.s] ?? Number.NaN) : this.m;
      const b = y.s < s ? y.m * (POW10[s - y.s] ?? Number.NaN) : y.m;
      if (Math.abs(a) <= SAFE && Math.abs(b) <= SAFE) return a > b ? 1 : a < b ? -1 : 0;
    }
    return this.toDecimal().cmp(y.toDecimal());
  }

  /**
   * Whether `this.div(y)`, rounded as decimal.js rounds it (to 20 or more significant digits), is
   * certainly below a positive `bound`: false when it is not, or when that cannot be told without
   * dividing. Told by cross-multiplying: rounding moves the quotient by less than a unit in its
   * 20th significant digit, which for short operands is less than any distance between a quotient
   * below `bound` and `bound` itself (at least 1 / (y × 10^(places of this and bound)) apart).
   */
  divBelow(y: Exact, bound: Exact): boolean {
    if (this.big !== undefined || y.big !== undefined || bound.big !== undefined) return false;
    if (!(y.m > 0 && bound.m > 0 && y.m * bound.m * (POW10[this.s] ?? Number.NaN) < 1e18)) return false;
    const product = bound.times(y);
    return product.big === undefined && this.lt(product);
  }

  gt(y: Exact): boolean {
    return this.cmp(y) > 0;
  }
  gte(y: Exact): boolean {
    return this.cmp(y) >= 0;
  }
  lt(y: Exact): boolean {
    return this.cmp(y) < 0;
  }
  lte(y: Exact): boolean {
    return this.cmp(y) <= 0;
  }
  isZero(): boolean {
    return this.big === undefined ? this.m === 0 : this.big.isZero();
  }
}
