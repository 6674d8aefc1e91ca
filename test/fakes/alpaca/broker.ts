/**
 * The brokerage behind the fake: orders, fills, positions (long and short) and the cash account, with
 * the validations Alpaca applies when an order is submitted. No HTTP here: the server turns requests
 * into calls and results into responses. Amounts are exact decimals (decimal.js); on the wire they are
 * canonical decimal strings ("98125", "187.5").
 *
 * Margin model (guessed from the spec's field descriptions, see `buying_power`):
 *  - multiplier 2 (default, a Reg T margin account like Alpaca paper accounts): shorting enabled,
 *    initial margin 50 % and maintenance margin 30 % of gross market value,
 *    buying_power = max(equity − initial_margin, 0) × 2 − open opening orders;
 *  - multiplier 1 (cash account): no shorting, buying_power = cash − open buy orders.
 * An order never crosses zero: selling more than a long (or buying more than a short) is refused with
 * 403 "insufficient qty available for order", as Alpaca does; reversals take two orders.
 */
import { createHash, randomUUID } from 'node:crypto';
import { Decimal } from 'decimal.js';
import {
  type AlpacaAccount,
  type AlpacaCanceledOrder,
  type AlpacaError,
  type AlpacaOrder,
  type AlpacaPosition,
  type AlpacaPositionClosed,
  ERROR_CODES,
  type OrderSide,
  type OrderStatus,
  type OrderType,
  type PositionIntent,
  type TimeInForce,
} from './wire.js';

const D = Decimal.clone({ precision: 40, rounding: Decimal.ROUND_HALF_EVEN });
type Dec = Decimal;
const ZERO = new D(0);

/** Canonical decimal string: no exponent, no trailing zeros. */
export const decimalString = (value: Dec): string => {
  const fixed = value.toFixed();
  return fixed.includes('.') ? fixed.replace(/0+$/, '').replace(/\.$/, '') : fixed;
};
const cents = (value: Dec): Dec => value.toDecimalPlaces(2, Decimal.ROUND_HALF_EVEN);
const money = (value: Dec): string => decimalString(cents(value));

/** Alpaca's limit on client_order_id per the spec (Order.client_order_id maxLength). */
export const CLIENT_ORDER_ID_MAX_LENGTH = 48;

const ORDER_TYPES: readonly OrderType[] = ['market', 'limit', 'stop', 'stop_limit'];
const TIMES_IN_FORCE: readonly TimeInForce[] = ['day', 'gtc', 'opg', 'cls', 'ioc', 'fok'];
const OPEN_STATUSES: ReadonlySet<OrderStatus> = new Set(['new', 'accepted', 'partially_filled']);
const DAY_ORDERS: ReadonlySet<TimeInForce> = new Set(['day', 'opg', 'cls', 'ioc', 'fok']);

export class BrokerError extends Error {
  constructor(
    readonly status: number,
    readonly body: AlpacaError,
  ) {
    super(`${status} ${body.message}`);
  }
}

const unprocessable = (message: string, code: number = ERROR_CODES.unprocessable) =>
  new BrokerError(422, { code, message });
const forbidden = (message: string, extra: Record<string, string> = {}) =>
  new BrokerError(403, { code: ERROR_CODES.forbidden, message, ...extra });
export const notFound = (message: string) => new BrokerError(404, { code: ERROR_CODES.notFound, message });

/** What a fault injection does to an order the broker accepts. */
export interface OrderEffects {
  /** Do not match the order until fillPending(); it stays in this status. */
  hold?: 'accepted' | 'new';
  /** Fill at most this quantity, then optionally cancel or expire the rest. */
  partialFill?: { qty: string | number; remainder?: 'cancel' | 'expire' };
  /** Accept, then reject the order (status rejected, failed_at set). */
  reject?: boolean;
}

interface Order {
  seq: number;
  id: string;
  clientOrderId: string;
  symbol: string;
  side: OrderSide;
  type: OrderType;
  timeInForce: TimeInForce;
  qty: Dec | null;
  notional: Dec | null;
  limitPrice: Dec | null;
  stopPrice: Dec | null;
  extendedHours: boolean;
  positionIntent: PositionIntent;
  status: OrderStatus;
  filledQty: Dec;
  filledValue: Dec;
  createdAt: Date;
  updatedAt: Date;
  filledAt: Date | null;
  canceledAt: Date | null;
  expiredAt: Date | null;
  failedAt: Date | null;
  held: boolean;
  triggered: boolean;
  fillCap: Dec | null;
  afterPartialFill: 'cancel' | 'expire' | undefined;
}

interface Position {
  qty: Dec;
  avgEntry: Dec;
}

export interface BrokerOptions {
  mode: 'paper' | 'live';
  keyId: string;
  cash: string;
  prices: Readonly<Record<string, string | number>>;
  clock: () => Date;
  multiplier: 1 | 2;
}

export interface OrderQuery {
  status?: string;
  limit?: number;
  after?: string;
  until?: string;
  direction?: string;
  symbols?: string;
  side?: string;
}

/** A deterministic UUID (v4 layout) from a name, so asset and account ids are stable across runs. */
function stableUuid(name: string): string {
  const hex = createHash('sha256').update(name).digest('hex');
  const variant = ((Number.parseInt(hex.charAt(16), 16) & 0x3) | 0x8).toString(16);
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-4${hex.slice(13, 16)}-${variant}${hex.slice(17, 20)}-${hex.slice(20, 32)}`;
}

export const assetIdOf = (symbol: string): string => stableUuid(`asset:${symbol}`);

function accountNumberOf(mode: 'paper' | 'live', keyId: string): string {
  const digest = createHash('sha256').update(`account:${mode}:${keyId}`).digest();
  const alphabet = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ';
  const chars = Array.from(digest.subarray(0, 10), (byte) => alphabet.charAt(byte % alphabet.length)).join(
    '',
  );
  // Paper account numbers start with "PA"; live ones are alphanumeric and start with a digit.
  return mode === 'paper' ? `PA${chars}` : `${((digest[10] ?? 0) % 9) + 1}${chars.slice(1)}`;
}

/** A JSON number or numeric string as a decimal; anything else is undefined. */
function decimalOf(value: unknown): Dec | undefined {
  if (typeof value === 'number' && Number.isFinite(value)) return new D(value);
  if (typeof value === 'string' && /^\s*-?(\d+\.?\d*|\.\d+)\s*$/.test(value)) return new D(value.trim());
  return undefined;
}

function priceField(body: Record<string, unknown>, field: 'limit_price' | 'stop_price'): Dec | undefined {
  const raw = body[field];
  if (raw === undefined || raw === null) return undefined;
  const price = decimalOf(raw);
  if (!price || price.lte(0)) throw unprocessable(`invalid ${field}`, ERROR_CODES.invalidValue);
  // Alpaca: at least $1, prices take 2 decimals; below $1, 4 decimals.
  const maxDecimals = price.gte(1) ? 2 : 4;
  if (price.decimalPlaces() > maxDecimals) {
    throw unprocessable(
      `invalid ${field} ${decimalString(price)}. sub-penny increment does not fulfill minimum pricing criteria`,
      ERROR_CODES.invalidValue,
    );
  }
  return price;
}

export class Broker {
  private cash: Dec;
  private readonly prices = new Map<string, { price: Dec; lastday: Dec; at: Date }>();
  private readonly positions = new Map<string, Position>();
  private readonly orders: Order[] = [];
  private readonly byId = new Map<string, Order>();
  private readonly byClientId = new Map<string, Order>();
  private readonly createdAt: Date;
  private tradeSeq = 0;

  constructor(private readonly options: BrokerOptions) {
    this.cash = new D(options.cash);
    this.createdAt = options.clock();
    for (const [symbol, price] of Object.entries(options.prices)) this.setPrice(symbol, price);
  }

  private now(): Date {
    return this.options.clock();
  }

  // ---- prices ----

  priceOf(symbol: string): Dec | undefined {
    return this.prices.get(symbol)?.price;
  }

  /** Sets the latest trade price and fills every resting order it moves through. */
  setPrice(symbol: string, price: string | number): AlpacaOrder[] {
    const value = decimalOf(price);
    if (!value || value.lte(0))
      throw new RangeError(`price of ${symbol} must be a positive number, got ${price}`);
    const known = this.prices.get(symbol);
    this.tradeSeq += 1;
    this.prices.set(symbol, { price: value, lastday: known?.lastday ?? value, at: this.now() });
    const filled: AlpacaOrder[] = [];
    for (const order of this.orders) {
      if (order.symbol === symbol && this.isOpen(order) && !order.held && this.match(order)) {
        filled.push(this.wire(order));
      }
    }
    return filled;
  }

  latestTrade(symbol: string): { price: Dec; at: Date; id: number } | undefined {
    const known = this.prices.get(symbol);
    return known && { price: known.price, at: known.at, id: this.tradeSeq };
  }

  // ---- orders ----

  private isOpen(order: Order): boolean {
    return OPEN_STATUSES.has(order.status);
  }

  private remaining(order: Order, price: Dec): Dec {
    if (order.qty) return order.qty.minus(order.filledQty);
    const notional = order.notional ?? ZERO;
    return notional.minus(order.filledValue).div(price).toDecimalPlaces(9, Decimal.ROUND_DOWN);
  }

  private referencePrice(order: Pick<Order, 'type' | 'limitPrice' | 'stopPrice' | 'symbol'>): Dec {
    if (order.limitPrice) return order.limitPrice;
    if (order.stopPrice) return order.stopPrice;
    return this.priceOf(order.symbol) ?? ZERO;
  }

  /** Buying power an open order ties up: only orders that open or extend a position need it. */
  private reserved(): Dec {
    let total = ZERO;
    for (const order of this.orders) {
      if (!this.isOpen(order) || !order.positionIntent.endsWith('_to_open')) continue;
      if (order.notional) total = total.plus(order.notional.minus(order.filledValue));
      else if (order.qty)
        total = total.plus(order.qty.minus(order.filledQty).times(this.referencePrice(order)));
    }
    return total;
  }

  /** Quantity of open orders of `side` on `symbol` still to be filled. */
  private openQty(symbol: string, side: OrderSide): Dec {
    let total = ZERO;
    for (const order of this.orders) {
      if (order.symbol !== symbol || order.side !== side || !this.isOpen(order)) continue;
      const price = this.priceOf(symbol);
      total = total.plus(price ? this.remaining(order, price) : ZERO);
    }
    return total;
  }

  findOrder(id: string): AlpacaOrder | undefined {
    const order = this.byId.get(id);
    return order && this.wire(order);
  }

  findOrderByClientId(clientOrderId: string): AlpacaOrder | undefined {
    const order = this.byClientId.get(clientOrderId);
    return order && this.wire(order);
  }

  /** Every order accepted so far, oldest first. */
  allOrders(): AlpacaOrder[] {
    return this.orders.map((order) => this.wire(order));
  }

  /**
   * Validates and accepts an order as Alpaca would, then matches it unless held. Returns the order as
   * acknowledged (status accepted, nothing filled: Alpaca reports fills asynchronously) and as it
   * stands after matching.
   */
  submit(body: unknown, effectsOf: () => OrderEffects): { ack: AlpacaOrder; current: AlpacaOrder } {
    if (typeof body !== 'object' || body === null || Array.isArray(body)) {
      throw new BrokerError(400, { code: ERROR_CODES.badRequest, message: 'request body format is invalid' });
    }
    const input = body as Record<string, unknown>;
    const symbol = input.symbol;
    if (typeof symbol !== 'string' || symbol.trim() === '') throw unprocessable('symbol is required');
    const side = input.side;
    if (side !== 'buy' && side !== 'sell') throw unprocessable(`invalid side: ${JSON.stringify(side)}`);
    const type = input.type;
    if (typeof type !== 'string' || !ORDER_TYPES.includes(type as OrderType)) {
      throw unprocessable(
        type === 'trailing_stop'
          ? 'trailing_stop orders are not supported by the fake'
          : `invalid order type: ${JSON.stringify(type)}`,
      );
    }
    const orderType = type as OrderType;
    const tif = input.time_in_force;
    if (typeof tif !== 'string' || !TIMES_IN_FORCE.includes(tif as TimeInForce)) {
      throw unprocessable(`invalid time_in_force: ${JSON.stringify(tif)}`);
    }
    const timeInForce = tif as TimeInForce;

    const hasQty = input.qty !== undefined && input.qty !== null;
    const hasNotional = input.notional !== undefined && input.notional !== null;
    if (hasQty === hasNotional) throw unprocessable('qty or notional is required, not both');
    const qty = hasQty ? decimalOf(input.qty) : null;
    const notional = hasNotional ? decimalOf(input.notional) : null;
    if (qty === undefined || qty?.lte(0)) throw unprocessable('qty must be > 0', ERROR_CODES.invalidValue);
    if (notional === undefined || notional?.lte(0)) {
      throw unprocessable('notional must be > 0', ERROR_CODES.invalidValue);
    }
    if (notional && (orderType !== 'market' || timeInForce !== 'day')) {
      throw unprocessable(
        'notional orders must be market orders with time_in_force day',
        ERROR_CODES.invalidValue,
      );
    }

    const limitPrice =
      orderType === 'limit' || orderType === 'stop_limit' ? priceField(input, 'limit_price') : undefined;
    const stopPrice =
      orderType === 'stop' || orderType === 'stop_limit' ? priceField(input, 'stop_price') : undefined;
    if ((orderType === 'limit' || orderType === 'stop_limit') && !limitPrice) {
      throw unprocessable('limit_price is required for limit orders', ERROR_CODES.invalidValue);
    }
    if ((orderType === 'stop' || orderType === 'stop_limit') && !stopPrice) {
      throw unprocessable('stop_price is required for stop orders', ERROR_CODES.invalidValue);
    }

    const extendedHours = input.extended_hours === true;
    if (extendedHours && (orderType !== 'limit' || timeInForce !== 'day')) {
      throw unprocessable('extended hours order must be DAY limit orders', ERROR_CODES.invalidValue);
    }

    const rawClientId = input.client_order_id;
    if (rawClientId !== undefined && rawClientId !== null && typeof rawClientId !== 'string') {
      throw unprocessable('client_order_id must be a string');
    }
    const clientOrderId = rawClientId ?? randomUUID();
    if (clientOrderId.length > CLIENT_ORDER_ID_MAX_LENGTH) {
      throw unprocessable(`client_order_id must be at most ${CLIENT_ORDER_ID_MAX_LENGTH} characters`);
    }
    if (this.byClientId.has(clientOrderId)) throw unprocessable('client_order_id must be unique');

    const price = this.priceOf(symbol);
    if (!price) throw unprocessable(`asset "${symbol}" not found`);

    const positionIntent = this.checkBuyingPowerAndQty({
      symbol,
      side,
      qty,
      notional,
      cost: notional ?? (qty ?? ZERO).times(limitPrice ?? stopPrice ?? price),
    });

    const effects = effectsOf();
    const fillCap = effects.partialFill ? decimalOf(effects.partialFill.qty) : null;
    if (fillCap === undefined || fillCap?.lte(0))
      throw new RangeError('partialFill qty must be a positive number');
    const now = this.now();
    const order: Order = {
      seq: this.orders.length + 1,
      id: randomUUID(),
      clientOrderId,
      symbol,
      side,
      type: orderType,
      timeInForce,
      qty,
      notional,
      limitPrice: limitPrice ?? null,
      stopPrice: stopPrice ?? null,
      extendedHours,
      positionIntent,
      status: 'accepted',
      filledQty: ZERO,
      filledValue: ZERO,
      createdAt: now,
      updatedAt: now,
      filledAt: null,
      canceledAt: null,
      expiredAt: null,
      failedAt: null,
      held: effects.hold !== undefined,
      triggered: false,
      fillCap,
      afterPartialFill: effects.partialFill?.remainder,
    };
    this.orders.push(order);
    this.byId.set(order.id, order);
    this.byClientId.set(order.clientOrderId, order);
    const ack = this.wire(order);

    if (effects.reject) {
      order.status = 'rejected';
      order.failedAt = now;
      order.updatedAt = now;
    } else if (effects.hold) {
      order.status = effects.hold;
    } else {
      order.status = 'new';
      this.match(order);
      this.applyTimeInForce(order);
    }
    return { ack, current: this.wire(order) };
  }

  private checkBuyingPowerAndQty(order: {
    symbol: string;
    side: OrderSide;
    qty: Dec | null;
    notional: Dec | null;
    cost: Dec;
  }): PositionIntent {
    const held = this.positions.get(order.symbol)?.qty ?? ZERO;
    const requested = order.qty ?? ZERO;
    const closing = order.side === 'buy' ? held.lt(0) : held.gt(0);
    if (closing) {
      const available = held.abs().minus(this.openQty(order.symbol, order.side));
      const wanted = order.qty ?? order.notional?.div(this.priceOf(order.symbol) ?? 1) ?? ZERO;
      if (wanted.gt(available)) {
        throw forbidden(
          `insufficient qty available for order (requested: ${decimalString(wanted)}, available: ${decimalString(available.gt(0) ? available : ZERO)})`,
        );
      }
      return order.side === 'buy' ? 'buy_to_close' : 'sell_to_close';
    }
    if (order.side === 'sell') {
      if (this.options.multiplier === 1) {
        throw forbidden(
          `insufficient qty available for order (requested: ${decimalString(requested)}, available: 0)`,
        );
      }
      if (order.notional || !requested.isInteger()) throw forbidden('fractional orders cannot be sold short');
    }
    const buyingPower = this.buyingPower();
    if (order.cost.gt(buyingPower)) {
      throw forbidden('insufficient buying power', {
        buying_power: money(buyingPower),
        cost_basis: money(order.cost),
      });
    }
    return order.side === 'buy' ? 'buy_to_open' : 'sell_to_open';
  }

  /** Matches an open order against the current price; true when something was filled. */
  private match(order: Order): boolean {
    const price = this.priceOf(order.symbol);
    if (!price || !this.isOpen(order) || order.held) return false;
    const buy = order.side === 'buy';
    if (order.stopPrice && !order.triggered) {
      if (buy ? price.lt(order.stopPrice) : price.gt(order.stopPrice)) return false;
      order.triggered = true;
    }
    let fillPrice = price;
    if (order.limitPrice) {
      if (buy ? price.gt(order.limitPrice) : price.lt(order.limitPrice)) return false;
      fillPrice = buy ? Decimal.min(price, order.limitPrice) : Decimal.max(price, order.limitPrice);
    }
    let qty = this.remaining(order, fillPrice);
    if (order.fillCap) qty = Decimal.min(qty, order.fillCap.minus(order.filledQty));
    if (qty.lte(0)) return false;
    this.fill(order, qty, fillPrice);
    return true;
  }

  private fill(order: Order, qty: Dec, price: Dec): void {
    const now = this.now();
    const signed = order.side === 'buy' ? qty : qty.neg();
    this.cash = this.cash.minus(cents(signed.times(price)));
    const position = this.positions.get(order.symbol) ?? { qty: ZERO, avgEntry: ZERO };
    const after = position.qty.plus(signed);
    if (after.isZero()) {
      this.positions.delete(order.symbol);
    } else if (position.qty.isZero() || position.qty.isNegative() === signed.isNegative()) {
      const cost = position.qty.abs().times(position.avgEntry).plus(qty.times(price));
      this.positions.set(order.symbol, { qty: after, avgEntry: cost.div(after.abs()) });
    } else if (after.isNegative() === position.qty.isNegative()) {
      this.positions.set(order.symbol, { qty: after, avgEntry: position.avgEntry });
    } else {
      this.positions.set(order.symbol, { qty: after, avgEntry: price });
    }

    order.filledQty = order.filledQty.plus(qty);
    order.filledValue = order.filledValue.plus(qty.times(price));
    order.updatedAt = now;
    const complete = order.qty
      ? order.filledQty.gte(order.qty)
      : order.filledValue.gte(order.notional ?? ZERO);
    const capped = order.fillCap !== null && order.filledQty.gte(order.fillCap);
    if (complete || (order.notional && !capped)) {
      order.status = 'filled';
      order.filledAt = now;
    } else {
      order.status = 'partially_filled';
      if (capped && order.afterPartialFill === 'cancel') this.cancelOrder(order);
      if (capped && order.afterPartialFill === 'expire') this.expireOrder(order);
    }
  }

  /** ioc and fok orders do not rest: whatever did not fill at once is canceled. */
  private applyTimeInForce(order: Order): void {
    if ((order.timeInForce === 'ioc' || order.timeInForce === 'fok') && this.isOpen(order))
      this.cancelOrder(order);
  }

  private cancelOrder(order: Order): void {
    order.status = 'canceled';
    order.canceledAt = this.now();
    order.updatedAt = order.canceledAt;
  }

  private expireOrder(order: Order): void {
    order.status = 'expired';
    order.expiredAt = this.now();
    order.updatedAt = order.expiredAt;
  }

  cancel(id: string): void {
    const order = this.byId.get(id);
    if (!order) throw notFound(`order not found for ${id}`);
    if (!this.isOpen(order)) {
      throw new BrokerError(422, {
        code: ERROR_CODES.invalidValue,
        message: `order is already in "${order.status}" state`,
      });
    }
    this.cancelOrder(order);
  }

  cancelAll(): AlpacaCanceledOrder[] {
    return this.orders
      .filter((order) => this.isOpen(order))
      .map((order) => {
        this.cancelOrder(order);
        return { id: order.id, status: 200, body: this.wire(order) };
      });
  }

  /** Releases held orders and matches them at the current price; returns the orders that filled. */
  fillPending(): AlpacaOrder[] {
    const filled: AlpacaOrder[] = [];
    for (const order of this.orders) {
      if (!order.held) continue;
      order.held = false;
      if (!this.isOpen(order)) continue;
      order.status = 'new';
      if (this.match(order)) filled.push(this.wire(order));
      this.applyTimeInForce(order);
    }
    return filled;
  }

  /** The session ends: open day orders (day/opg/cls/ioc/fok) expire, gtc orders rest. */
  expireDayOrders(): AlpacaOrder[] {
    const expired = this.orders.filter((order) => this.isOpen(order) && DAY_ORDERS.has(order.timeInForce));
    for (const order of expired) this.expireOrder(order);
    return expired.map((order) => this.wire(order));
  }

  listOrders(query: OrderQuery): AlpacaOrder[] {
    const status = query.status ?? 'open';
    const symbols = query.symbols ? new Set(query.symbols.split(',').map((s) => s.trim())) : undefined;
    const after = query.after ? Date.parse(query.after) : undefined;
    const until = query.until ? Date.parse(query.until) : undefined;
    const limit = Math.min(Math.max(query.limit ?? 50, 1), 500);
    const selected = this.orders.filter(
      (order) =>
        (status === 'all' || (status === 'open') === this.isOpen(order)) &&
        (!symbols || symbols.has(order.symbol)) &&
        (!query.side || order.side === query.side) &&
        (after === undefined || order.createdAt.getTime() > after) &&
        (until === undefined || order.createdAt.getTime() < until),
    );
    const sorted = query.direction === 'asc' ? selected : [...selected].reverse();
    return sorted.slice(0, limit).map((order) => this.wire(order));
  }

  // ---- positions ----

  private positionOf(symbolOrAssetId: string): [string, Position] | undefined {
    for (const entry of this.positions) {
      if (entry[0] === symbolOrAssetId || assetIdOf(entry[0]) === symbolOrAssetId) return entry;
    }
    return undefined;
  }

  listPositions(): AlpacaPosition[] {
    return [...this.positions.keys()].sort().map((symbol) => this.position(symbol));
  }

  position(symbolOrAssetId: string): AlpacaPosition {
    const entry = this.positionOf(symbolOrAssetId);
    if (!entry) throw notFound('position does not exist');
    const [symbol, position] = entry;
    const known = this.prices.get(symbol);
    const price = known?.price ?? position.avgEntry;
    const lastday = known?.lastday ?? price;
    const long = position.qty.gt(0);
    const marketValue = position.qty.times(price);
    const costBasis = position.qty.times(position.avgEntry);
    const pl = marketValue.minus(costBasis);
    const plpc = costBasis.isZero() ? ZERO : pl.div(costBasis.abs());
    const closingSide: OrderSide = long ? 'sell' : 'buy';
    const available = position.qty.abs().minus(this.openQty(symbol, closingSide));
    // All positions of the fake were opened this session, so the intraday figures equal the totals.
    return {
      asset_id: assetIdOf(symbol),
      symbol,
      exchange: 'NASDAQ',
      asset_class: 'us_equity',
      asset_marginable: true,
      avg_entry_price: decimalString(position.avgEntry.toDecimalPlaces(9)),
      qty: decimalString(position.qty),
      qty_available: decimalString(long ? Decimal.max(available, 0) : Decimal.max(available, 0).neg()),
      side: long ? 'long' : 'short',
      market_value: money(marketValue),
      cost_basis: money(costBasis),
      unrealized_pl: money(pl),
      unrealized_plpc: decimalString(plpc.toSignificantDigits(12)),
      unrealized_intraday_pl: money(pl),
      unrealized_intraday_plpc: decimalString(plpc.toSignificantDigits(12)),
      current_price: decimalString(price),
      lastday_price: decimalString(lastday),
      change_today: decimalString(price.minus(lastday).div(lastday).toSignificantDigits(12)),
    };
  }

  /** The order body that closes (part of) a position, or an error when there is none. */
  closingOrder(symbolOrAssetId: string, qty?: number, percentage?: number): Record<string, string> {
    const entry = this.positionOf(symbolOrAssetId);
    if (!entry) throw notFound('position does not exist');
    const [symbol, position] = entry;
    let amount = position.qty.abs();
    if (qty !== undefined && percentage !== undefined)
      throw unprocessable('qty and percentage cannot both be set');
    if (qty !== undefined) amount = new D(qty);
    if (percentage !== undefined) {
      if (percentage <= 0 || percentage > 100) throw unprocessable('percentage must be between 0 and 100');
      amount = amount.times(percentage).div(100).toDecimalPlaces(9, Decimal.ROUND_DOWN);
    }
    return {
      symbol,
      qty: decimalString(amount),
      side: position.qty.gt(0) ? 'sell' : 'buy',
      type: 'market',
      time_in_force: 'day',
    };
  }

  openPositionSymbols(): string[] {
    return [...this.positions.keys()].sort();
  }

  // ---- account ----

  private marketValues(): { long: Dec; short: Dec } {
    let long = ZERO;
    let short = ZERO;
    for (const [symbol, position] of this.positions) {
      const value = position.qty.times(this.priceOf(symbol) ?? position.avgEntry);
      if (value.gt(0)) long = long.plus(value);
      else short = short.plus(value);
    }
    return { long, short };
  }

  private buyingPower(): Dec {
    const { long, short } = this.marketValues();
    const reserved = this.reserved();
    if (this.options.multiplier === 1) return Decimal.max(this.cash.minus(reserved), 0);
    const equity = this.cash.plus(long).plus(short);
    const initialMargin = long.plus(short.abs()).times('0.5');
    return Decimal.max(Decimal.max(equity.minus(initialMargin), 0).times(2).minus(reserved), 0);
  }

  account(): AlpacaAccount {
    const { long, short } = this.marketValues();
    const equity = this.cash.plus(long).plus(short);
    const gross = long.plus(short.abs());
    const buyingPower = this.buyingPower();
    return {
      id: stableUuid(`account:${this.options.mode}:${this.options.keyId}`),
      account_number: accountNumberOf(this.options.mode, this.options.keyId),
      status: 'ACTIVE',
      crypto_status: 'ACTIVE',
      currency: 'USD',
      cash: money(this.cash),
      portfolio_value: money(equity),
      equity: money(equity),
      last_equity: money(new D(this.options.cash)),
      long_market_value: money(long),
      short_market_value: money(short),
      buying_power: money(buyingPower),
      regt_buying_power: money(buyingPower),
      non_marginable_buying_power: money(Decimal.max(this.cash.minus(this.reserved()), 0)),
      initial_margin: money(this.options.multiplier === 1 ? ZERO : gross.times('0.5')),
      maintenance_margin: money(this.options.multiplier === 1 ? ZERO : gross.times('0.3')),
      last_maintenance_margin: '0',
      sma: '0',
      multiplier: String(this.options.multiplier),
      accrued_fees: '0',
      pending_transfer_in: '0',
      pending_transfer_out: '0',
      shorting_enabled: this.options.multiplier > 1,
      trade_suspended_by_user: false,
      trading_blocked: false,
      transfers_blocked: false,
      account_blocked: false,
      created_at: this.createdAt.toISOString(),
    };
  }

  // ---- wire ----

  private wire(order: Order): AlpacaOrder {
    const iso = (date: Date | null) => (date ? date.toISOString() : null);
    return {
      id: order.id,
      client_order_id: order.clientOrderId,
      created_at: order.createdAt.toISOString(),
      updated_at: order.updatedAt.toISOString(),
      submitted_at: order.createdAt.toISOString(),
      filled_at: iso(order.filledAt),
      expired_at: iso(order.expiredAt),
      canceled_at: iso(order.canceledAt),
      failed_at: iso(order.failedAt),
      replaced_at: null,
      replaced_by: null,
      replaces: null,
      asset_id: assetIdOf(order.symbol),
      symbol: order.symbol,
      asset_class: 'us_equity',
      notional: order.notional && decimalString(order.notional),
      qty: order.qty && decimalString(order.qty),
      filled_qty: decimalString(order.filledQty),
      filled_avg_price: order.filledQty.isZero()
        ? null
        : decimalString(order.filledValue.div(order.filledQty).toDecimalPlaces(9)),
      order_class: '',
      order_type: order.type,
      type: order.type,
      side: order.side,
      position_intent: order.positionIntent,
      time_in_force: order.timeInForce,
      limit_price: order.limitPrice && decimalString(order.limitPrice),
      stop_price: order.stopPrice && decimalString(order.stopPrice),
      status: order.status,
      extended_hours: order.extendedHours,
      legs: null,
      trail_percent: null,
      trail_price: null,
      hwm: null,
    };
  }

  closeAll(submitClose: (body: Record<string, string>) => AlpacaOrder): AlpacaPositionClosed[] {
    return this.openPositionSymbols().map((symbol) => {
      try {
        return { symbol, status: 200, body: submitClose(this.closingOrder(symbol)) };
      } catch (error) {
        if (error instanceof BrokerError) return { symbol, status: error.status };
        throw error;
      }
    });
  }
}
