import { Decimal as DecimalJs } from 'decimal.js';

/**
 * Exact decimal arithmetic for money and quantities: the domain's one number type. Amounts travel
 * as decimal strings and are only turned into numbers for display; cash is rounded to the cent at
 * each booking.
 *
 * `Decimal` gives decimal.js's results (precision 40, ROUND_HALF_EVEN) operation for operation,
 * without its cost where it is not needed. Most amounts are a few digits long, and sums and
 * products of those are held exactly as a safe-integer mantissa and a number of decimal places.
 * Any step that would not fit one (too many digits, a division other than by a power of ten, an
 * exponent or non-finite input) is done by decimal.js itself from then on, on the value the same
 * steps would have produced. Exact results are exact in both (at most 16 digits, well within the
 * precision); zeros keep their sign as decimal.js keeps it (IEEE arithmetic on signed zeros agrees
 * with decimal.js's plus, minus and times). decimal.js stays inside this module.
 *
 * Beware: as in decimal.js, compare with `gt(0)` / `lt(0)`; a zero may be negative.
 */
const Big = DecimalJs.clone({ precision: 40, rounding: DecimalJs.ROUND_HALF_EVEN });
type Big = DecimalJs;

/** decimal.js's rounding modes (the same numbers). */
export type Rounding = 0 | 1 | 2 | 3 | 4 | 5 | 6 | 7 | 8;

/** A value arithmetic accepts: a Decimal, a decimal string or a number (read as its shortest string). */
export type Numeric = Decimal | string | number;

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

export class Decimal {
  static readonly ROUND_UP = 0 as const;
  static readonly ROUND_DOWN = 1 as const;
  static readonly ROUND_CEIL = 2 as const;
  static readonly ROUND_FLOOR = 3 as const;
  static readonly ROUND_HALF_UP = 4 as const;
  static readonly ROUND_HALF_EVEN = 6 as const;

  private constructor(
    /** The mantissa, a safe integer (unused when `big` holds the value). */
    private readonly m: number,
    /** Decimal places of the mantissa, >= 0. */
    private readonly s: number,
    /** The value as decimal.js holds it, once the fast form does not fit. */
    private readonly big: Big | undefined,
  ) {}

  /** A decimal string: one of up to 15 plain digits is read directly. */
  static parse(text: string): Decimal {
    if (text === '0') return Decimal.ZERO;
    const n = text.length;
    let i = text.charCodeAt(0) === 45 ? 1 : 0; // '-'
    const first = i;
    let m = 0;
    let point = -1;
    for (; i < n; i++) {
      const c = text.charCodeAt(i);
      if (c >= 48 && c <= 57) m = m * 10 + (c - 48);
      else if (c === 46 && point === -1 && i > first && i < n - 1) point = i;
      else return Decimal.slow(new Big(text));
    }
    const digits = n - first - (point === -1 ? 0 : 1);
    if (digits === 0 || digits > FAST_DIGITS) return Decimal.slow(new Big(text));
    return new Decimal(first === 1 ? -m : m, point === -1 ? 0 : n - point - 1, undefined);
  }

  static readonly ZERO: Decimal = new Decimal(0, 0, undefined);

  /** Any Numeric as a Decimal (a number as decimal.js reads it: its shortest string). */
  static from(value: Numeric): Decimal {
    if (value instanceof Decimal) return value;
    if (typeof value === 'string') return Decimal.parse(value);
    if (Number.isSafeInteger(value)) return new Decimal(value, 0, undefined);
    return Number.isFinite(value) ? Decimal.parse(String(value)) : Decimal.slow(new Big(value));
  }

  private static slow(value: Big): Decimal {
    return new Decimal(0, 0, value);
  }

  /** The larger of the two (b when equal while a is negative, so max(-0, 0) is 0, as decimal.js). */
  static max(a: Numeric, b: Numeric): Decimal {
    const x = Decimal.from(a);
    const y = Decimal.from(b);
    if (x.big !== undefined || y.big !== undefined) return Decimal.slow(Big.max(x.toBig(), y.toBig()));
    const k = x.cmp(y);
    return k < 0 || (k === 0 && x.negative()) ? y : x;
  }

  /** The smaller of the two (b when equal while a is positive, so min(0, -0) is -0, as decimal.js). */
  static min(a: Numeric, b: Numeric): Decimal {
    const x = Decimal.from(a);
    const y = Decimal.from(b);
    if (x.big !== undefined || y.big !== undefined) return Decimal.slow(Big.min(x.toBig(), y.toBig()));
    const k = x.cmp(y);
    return k > 0 || (k === 0 && !x.negative()) ? y : x;
  }

  /** The sign, as decimal.js keeps it: a zero may be negative. */
  private negative(): boolean {
    return this.big === undefined ? this.m < 0 || Object.is(this.m, -0) : this.big.isNegative();
  }

  /**
   * `start + xs[0]·ys[0] + xs[1]·ys[1] + …` over the first `count` terms (with |xs[i]| when
   * `absolute`): the same value as those steps, without an object per step while the sum fits the
   * fast form.
   */
  static sumOfProducts(
    start: Decimal,
    xs: readonly Decimal[],
    ys: readonly Decimal[],
    count: number,
    absolute: boolean,
  ): Decimal {
    let m = start.m;
    let s = start.s;
    let i = 0;
    if (start.big === undefined) {
      for (; i < count; i++) {
        const x = xs[i] as Decimal;
        const y = ys[i] as Decimal;
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
    let total = i === 0 ? start : new Decimal(m, s, undefined);
    for (; i < count; i++) {
      const x = xs[i] as Decimal;
      total = total.plus((absolute ? x.abs() : x).times(ys[i] as Decimal));
    }
    return total;
  }

  /** The value as decimal.js holds it. */
  private toBig(): Big {
    return this.big ?? new Big(plain(this.m, this.s));
  }

  /** Canonical decimal string: no exponent, no trailing zeros. */
  toString(): string {
    if (this.big !== undefined) {
      const fixed = this.big.toFixed();
      return fixed.includes('.') ? fixed.replace(/0+$/, '').replace(/\.$/, '') : fixed;
    }
    if (this.m === 0) return '0';
    let { m, s } = this;
    while (s > 0 && m % 10 === 0) {
      m /= 10;
      s -= 1;
    }
    return plain(m, s);
  }

  toJSON(): string {
    return this.toString();
  }

  /** Fixed-point text: `places` decimals rounded half-even, or every digit when omitted. */
  toFixed(places?: number): string {
    if (this.big === undefined) {
      if (places === undefined) return this.toString();
      const rounded = this.toDecimalPlaces(places, Decimal.ROUND_HALF_EVEN);
      if (rounded.big === undefined) {
        const text = plain(rounded.m, rounded.s);
        if (rounded.s === places) return text;
        return `${text}${rounded.s === 0 ? '.' : ''}${'0'.repeat(places - rounded.s)}`;
      }
    }
    return places === undefined ? this.toBig().toFixed() : this.toBig().toFixed(places);
  }

  toNumber(): number {
    return this.big === undefined ? Number(plain(this.m, this.s)) : this.big.toNumber();
  }

  plus(y: Numeric): Decimal {
    const other = y instanceof Decimal ? y : Decimal.from(y);
    return this.add(other, 1) ?? Decimal.slow(this.toBig().plus(other.toBig()));
  }

  minus(y: Numeric): Decimal {
    const other = y instanceof Decimal ? y : Decimal.from(y);
    return this.add(other, -1) ?? Decimal.slow(this.toBig().minus(other.toBig()));
  }

  /** this + sign × y in the fast form, or undefined when it does not fit. */
  private add(y: Decimal, sign: 1 | -1): Decimal | undefined {
    if (this.big !== undefined || y.big !== undefined) return undefined;
    // x ± 0 is x (a zero x is left to the arithmetic below: IEEE's signed zeros are decimal.js's).
    if (y.m === 0 && this.m !== 0) return this;
    const s = Math.max(this.s, y.s);
    const a = this.s < s ? this.m * (POW10[s - this.s] ?? Number.NaN) : this.m;
    const b = y.s < s ? y.m * (POW10[s - y.s] ?? Number.NaN) : y.m;
    // Each step is exact while its true result is a safe integer, and lands outside otherwise.
    if (!(Math.abs(a) <= SAFE && Math.abs(b) <= SAFE)) return undefined;
    const sum = sign === 1 ? a + b : a - b;
    return Math.abs(sum) <= SAFE ? new Decimal(sum, s, undefined) : undefined;
  }

  times(y: Numeric): Decimal {
    const other = y instanceof Decimal ? y : Decimal.from(y);
    if (this.big === undefined && other.big === undefined) {
      const product = this.m * other.m;
      if (product <= SAFE && product >= -SAFE) return new Decimal(product, this.s + other.s, undefined);
    }
    return Decimal.slow(this.toBig().times(other.toBig()));
  }

  /** Division: exact for a power of ten, decimal.js otherwise. */
  div(y: Numeric): Decimal {
    const other = y instanceof Decimal ? y : Decimal.from(y);
    if (this.big === undefined && other.big === undefined) {
      const power = POW10.indexOf(Math.abs(other.m));
      if (power !== -1 && power <= FAST_DIGITS) {
        const m = other.m < 0 ? -this.m : this.m;
        const s = this.s + power - other.s;
        if (s >= 0) return new Decimal(m, s, undefined);
        const scaled = m * (POW10[-s] ?? Number.NaN);
        if (scaled <= SAFE && scaled >= -SAFE) return new Decimal(scaled, 0, undefined);
      }
    }
    return Decimal.slow(this.toBig().div(other.toBig()));
  }

  neg(): Decimal {
    return this.big === undefined ? new Decimal(-this.m, this.s, undefined) : Decimal.slow(this.big.neg());
  }

  abs(): Decimal {
    return this.big === undefined
      ? new Decimal(Math.abs(this.m), this.s, undefined)
      : Decimal.slow(this.big.abs());
  }

  /** Rounded to `places` decimals (half-even unless told): fast for ROUND_DOWN and ROUND_HALF_EVEN. */
  toDecimalPlaces(places: number, rounding: Rounding = Decimal.ROUND_HALF_EVEN): Decimal {
    if (this.big === undefined && (rounding === Decimal.ROUND_DOWN || rounding === Decimal.ROUND_HALF_EVEN)) {
      if (this.s <= places) return this;
      const unit = POW10[this.s - places];
      if (unit !== undefined && this.s - places <= FAST_DIGITS) {
        const magnitude = Math.abs(this.m);
        const rest = magnitude % unit; // exact
        let q = (magnitude - rest) / unit; // exact: an integer division without remainder
        if (rounding === Decimal.ROUND_HALF_EVEN && (2 * rest > unit || (2 * rest === unit && q % 2 !== 0)))
          q += 1;
        // The sign is kept, also when the result is zero (as decimal.js keeps it).
        return new Decimal(this.negative() ? -q : q, places, undefined);
      }
    }
    return Decimal.slow(this.toBig().toDecimalPlaces(places, rounding));
  }

  /** Rounded to the cent, half-even. */
  toCents(): Decimal {
    return this.toDecimalPlaces(2, Decimal.ROUND_HALF_EVEN);
  }

  /** Compares as decimal.js does: -1, 0 or 1, and NaN if either is NaN. */
  cmp(y: Numeric): number {
    const other = y instanceof Decimal ? y : Decimal.from(y);
    if (this.big === undefined && other.big === undefined) {
      const s = Math.max(this.s, other.s);
      const a = this.s < s ? this.m * (POW10[s - this.s] ?? Number.NaN) : this.m;
      const b = other.s < s ? other.m * (POW10[s - other.s] ?? Number.NaN) : other.m;
      if (Math.abs(a) <= SAFE && Math.abs(b) <= SAFE) return a > b ? 1 : a < b ? -1 : 0;
    }
    return this.toBig().cmp(other.toBig());
  }

  /**
   * Whether `this.div(y)`, rounded as decimal.js rounds it (to 40 significant digits), is
   * certainly below a positive `bound`: false when it is not, or when that cannot be told without
   * dividing. Told by cross-multiplying: rounding moves the quotient by less than a unit in its
   * 40th significant digit, which for short operands is less than any distance between a quotient
   * below `bound` and `bound` itself (at least 1 / (y × 10^(places of this and bound)) apart).
   */
  divBelow(y: Decimal, bound: Decimal): boolean {
    if (this.big !== undefined || y.big !== undefined || bound.big !== undefined) return false;
    if (!(y.m > 0 && bound.m > 0 && y.m * bound.m * (POW10[this.s] ?? Number.NaN) < 1e18)) return false;
    const product = bound.times(y);
    return product.big === undefined && this.lt(product);
  }

  gt(y: Numeric): boolean {
    return this.cmp(y) > 0;
  }
  gte(y: Numeric): boolean {
    return this.cmp(y) >= 0;
  }
  lt(y: Numeric): boolean {
    return this.cmp(y) < 0;
  }
  lte(y: Numeric): boolean {
    return this.cmp(y) <= 0;
  }
  eq(y: Numeric): boolean {
    return this.cmp(y) === 0;
  }
  isZero(): boolean {
    return this.big === undefined ? this.m === 0 : this.big.isZero();
  }
  isNegative(): boolean {
    return this.negative();
  }
  isFinite(): boolean {
    return this.big === undefined || this.big.isFinite();
  }
}

export const dec = (value: Numeric): Decimal => Decimal.from(value);

/** Rounds a cash amount to the cent (banker's rounding, so errors do not drift one way). */
export const toCents = (value: Decimal): Decimal => value.toCents();

/** A price rounded to the increment brokers accept: cents at or above $1, 4 decimals below. */
export const toPriceIncrement = (value: Decimal, rounding: Rounding = Decimal.ROUND_HALF_EVEN): Decimal =>
  value.gte(1) ? value.toDecimalPlaces(2, rounding) : value.toDecimalPlaces(4, rounding);

export const money = (value: Decimal): string => value.toCents().toFixed(2);

/** Canonical decimal string: no exponent, no trailing zeros. */
export const str = (value: Decimal): string => value.toString();
