import type { Config } from '../config/schema.js';
import type { Signal } from './alert.js';
import { clientOrderIdOf } from './ids.js';
import { Decimal, dec, str, toCents } from './money.js';
import {
  equityOf,
  flatPosition,
  type OrderIntent,
  type OrderSide,
  type PortfolioSnapshot,
  type Position,
  signedQuantity,
} from './trading.js';

/** Every reason Pinebridge refuses a signal. One name per reason across code, logs, metrics and docs. */
export const DENIAL_CODES = [
  'TRADING_HALTED',
  'TRADING_REDUCING',
  'SYMBOL_NOT_ALLOWED',
  'UNSUPPORTED_ACTION',
  'NO_FRESH_PRICE',
  'NOTHING_TO_CLOSE',
  'QUANTITY_TOO_SMALL',
  'SHORT_NOT_ALLOWED',
  'MAX_POSITION',
  'INSUFFICIENT_BUYING_POWER',
  'BROKER_REJECTED',
] as const;
export type DenialCode = (typeof DENIAL_CODES)[number];

export interface Denial {
  code: DenialCode;
  detail: string;
}

export interface RiskContext {
  signal: Signal;
  signalId: string;
  snapshot: PortfolioSnapshot;
  config: Config;
  now: Date;
}

/** Checks that need only the signal and the portfolio (run before the order is sized). */
export type SignalCheck = (ctx: RiskContext) => Denial | undefined;
/** Checks of a sized order against the portfolio and the limits. */
export type IntentCheck = (intent: OrderIntent, ctx: RiskContext) => Denial | undefined;

export type RiskDecision = { approved: true; intent: OrderIntent } | { approved: false; denials: Denial[] };

const positionOf = (ctx: RiskContext, symbol: string): Position =>
  ctx.snapshot.positions[symbol] ?? flatPosition(symbol);

/** Position including orders already approved and in flight, so racing signals are counted. */
const committedQuantity = (p: Position): Decimal => dec(p.quantity).plus(dec(p.pendingQuantity));

/** The part of an order that grows the absolute position (the rest closes). */
function openingQuantity(intent: Pick<OrderIntent, 'side' | 'quantity'>, position: Position): Decimal {
  const before = committedQuantity(position);
  const after = before.plus(signedQuantity(intent.side, intent.quantity));
  // Crossing through flat (a reversal) opens only the part beyond flat.
  if (!before.isZero() && before.gt(0) !== after.gt(0)) return after.abs();
  return Decimal.max(after.abs().minus(before.abs()), 0);
}

export const tradingStateCheck: SignalCheck = (ctx) =>
  ctx.snapshot.tradingState === 'HALTED'
    ? { code: 'TRADING_HALTED', detail: 'trading is HALTED; no new orders until it is resumed' }
    : undefined;

export const symbolAllowedCheck: SignalCheck = ({ signal, config }) =>
  config.symbols.allowed.includes(signal.symbol)
    ? undefined
    : { code: 'SYMBOL_NOT_ALLOWED', detail: `${signal.symbol} is not in symbols.allowed` };

export const supportedActionCheck: SignalCheck = ({ signal }) =>
  signal.action === 'cancel'
    ? { code: 'UNSUPPORTED_ACTION', detail: 'cancel alerts are not supported yet; nothing was cancelled' }
    : undefined;

export const reducingCheck: IntentCheck = (intent, ctx) =>
  ctx.snapshot.tradingState === 'REDUCING' && openingQuantity(intent, positionOf(ctx, intent.symbol)).gt(0)
    ? {
        code: 'TRADING_REDUCING',
        detail: 'trading is REDUCING: only orders that shrink a position are allowed',
      }
    : undefined;

export const maxPositionCheck: IntentCheck = (intent, ctx) => {
  const position = positionOf(ctx, intent.symbol);
  if (!openingQuantity(intent, position).gt(0)) return undefined;
  const after = committedQuantity(position).plus(signedQuantity(intent.side, intent.quantity)).abs();
  const { maxPositionQuantity, maxPositionNotional } = ctx.config.risk;
  if (after.gt(maxPositionQuantity)) {
    return {
      code: 'MAX_POSITION',
      detail: `${intent.symbol} position would be ${str(after)}, above risk.maxPositionQuantity ${maxPositionQuantity}`,
    };
  }
  const notional = toCents(after.times(dec(intent.referencePrice)));
  if (notional.gt(dec(maxPositionNotional))) {
    return {
      code: 'MAX_POSITION',
      detail: `${intent.symbol} position would be $${notional.toFixed(2)}, above risk.maxPositionNotional $${maxPositionNotional}`,
    };
  }
  return undefined;
};

export const shortingCheck: IntentCheck = (intent, ctx) => {
  if (ctx.config.risk.allowShort) return undefined;
  const after = committedQuantity(positionOf(ctx, intent.symbol)).plus(
    signedQuantity(intent.side, intent.quantity),
  );
  return after.lt(0)
    ? {
        code: 'SHORT_NOT_ALLOWED',
        detail: `selling ${intent.quantity} ${intent.symbol} would leave a short position of ${str(after.abs())}; risk.allowShort is false`,
      }
    : undefined;
};

export const buyingPowerCheck: IntentCheck = (intent, ctx) => {
  if (!ctx.config.risk.buyingPowerCheck) return undefined;
  const needed = dec(intent.reservedCash);
  const available = dec(ctx.snapshot.account.cash).minus(dec(ctx.snapshot.account.reservedCash));
  return needed.gt(available)
    ? {
        code: 'INSUFFICIENT_BUYING_POWER',
        detail: `order needs $${needed.toFixed(2)}, buying power is $${Decimal.max(available, 0).toFixed(2)}`,
      }
    : undefined;
};

/** The checks, in the order their denials are reported. Adding a check is adding it here. */
export const SIGNAL_CHECKS: readonly SignalCheck[] = [
  tradingStateCheck,
  symbolAllowedCheck,
  supportedActionCheck,
];
export const INTENT_CHECKS: readonly IntentCheck[] = [
  reducingCheck,
  shortingCheck,
  maxPositionCheck,
  buyingPowerCheck,
];

/** The price to size and check the order with: the alert's own, else a fresh last price. */
function referencePriceOf(ctx: RiskContext): string | undefined {
  const { signal, snapshot, config, now } = ctx;
  if (signal.price !== undefined) return signal.price;
  if (signal.orderType === 'limit' || signal.orderType === 'stop_limit') return signal.limitPrice;
  const last = snapshot.prices[signal.symbol];
  if (last === undefined) return undefined;
  const ageSeconds = (now.getTime() - Date.parse(last.at)) / 1000;
  return ageSeconds <= config.risk.maxPriceAgeSeconds ? last.price : undefined;
}

/** Turns a signal into one order: side and quantity from action, sentiment and quantityType. */
export function sizeOrder(ctx: RiskContext): OrderIntent | Denial {
  const { signal, config } = ctx;
  const price = referencePriceOf(ctx);
  if (price === undefined) {
    return {
      code: 'NO_FRESH_PRICE',
      detail: `no price in the alert and no last price for ${signal.symbol} within ${config.risk.maxPriceAgeSeconds}s`,
    };
  }
  // Size against the position as it will be once orders in flight complete, so a second exit
  // racing the first finds nothing left to close instead of flipping the position.
  const open = committedQuantity(positionOf(ctx, signal.symbol));
  const closing =
    signal.action === 'exit' ||
    signal.sentiment === 'flat' ||
    (signal.action === 'sell' && signal.quantity === undefined);

  const requested = (): Decimal => {
    const amount = dec(signal.quantity ?? '0');
    switch (signal.quantityType) {
      case 'fixed_quantity':
        return amount;
      case 'dollar_amount':
        return amount.div(dec(price));
      case 'percent_of_equity':
        return equityOf(ctx.snapshot).times(amount).div(100).div(dec(price));
      case 'percent_of_position':
        return open.abs().times(amount).div(100);
    }
  };

  let side: OrderSide;
  let quantity: Decimal;
  if (closing) {
    // Close only in the direction the alert names: sell closes a long, buy covers a short, exit either.
    const closable =
      (signal.action === 'sell' && open.gt(0)) ||
      (signal.action === 'buy' && open.lt(0)) ||
      (signal.action === 'exit' && !open.isZero());
    if (!closable) {
      const which = signal.action === 'buy' ? 'short ' : signal.action === 'sell' ? 'long ' : '';
      return { code: 'NOTHING_TO_CLOSE', detail: `no ${which}position in ${signal.symbol} left to close` };
    }
    side = open.gt(0) ? 'sell' : 'buy';
    quantity = signal.quantity === undefined ? open.abs() : Decimal.min(requested(), open.abs());
  } else {
    side = signal.action === 'sell' ? 'sell' : 'buy';
    quantity = requested();
  }
  quantity = quantity.toDecimalPlaces(config.symbols.quantityDecimals, Decimal.ROUND_DOWN);
  if (!quantity.gt(0)) {
    return {
      code: 'QUANTITY_TOO_SMALL',
      detail: `order for ${signal.symbol} rounds to zero at ${config.symbols.quantityDecimals} decimal places`,
    };
  }
  const draft = { side, quantity: str(quantity) };
  const opening = openingQuantity(draft, positionOf(ctx, signal.symbol));
  return {
    clientOrderId: clientOrderIdOf(ctx.signalId),
    signalId: ctx.signalId,
    symbol: signal.symbol,
    side,
    quantity: str(quantity),
    orderType: signal.orderType,
    ...(signal.limitPrice !== undefined ? { limitPrice: signal.limitPrice } : {}),
    ...(signal.stopPrice !== undefined ? { stopPrice: signal.stopPrice } : {}),
    timeInForce: signal.timeInForce,
    extendedHours: signal.extendedHours,
    referencePrice: price,
    reservedCash: str(toCents(opening.times(dec(price)))),
  };
}

const isDenial = (value: OrderIntent | Denial): value is Denial => 'code' in value;

/**
 * The pre-trade risk check: every check runs, every denial is recorded, the first is the reason
 * shown. A pure function of the signal, the portfolio, the config and the time.
 */
export function evaluateRisk(ctx: RiskContext): RiskDecision {
  const denials = SIGNAL_CHECKS.map((check) => check(ctx)).filter((d): d is Denial => d !== undefined);
  if (denials.length > 0) return { approved: false, denials };
  const sized = sizeOrder(ctx);
  if (isDenial(sized)) return { approved: false, denials: [sized] };
  const intentDenials = INTENT_CHECKS.map((check) => check(sized, ctx)).filter(
    (d): d is Denial => d !== undefined,
  );
  return intentDenials.length > 0
    ? { approved: false, denials: intentDenials }
    : { approved: true, intent: sized };
}
