import type { Config } from '../config/schema.js';
import type { Signal } from './alert.js';
import { dailyLossBreach, riskMarksOf } from './breaker.js';
import { marketPhaseAt, sessionDateOf, tradingDaysBack } from './calendar.js';
import { clientOrderIdOf } from './ids.js';
import { Decimal, dec, str, toCents } from './money.js';
import {
  type DayTrade,
  equityOf,
  flatPosition,
  type OrderIntent,
  type OrderSide,
  type PortfolioSnapshot,
  type Position,
  type RecentOrder,
  rememberOrder,
  signedQuantity,
} from './trading.js';

/** Every reason Pinebridge refuses a signal. One name per reason across code, logs, metrics and docs. */
export const DENIAL_CODES = [
  'TRADING_HALTED',
  'TRADING_REDUCING',
  'SYMBOL_NOT_ALLOWED',
  'UNSUPPORTED_ACTION',
  'STALE_SIGNAL',
  'STATE_MISMATCH',
  'MARKET_CLOSED',
  'NO_FRESH_PRICE',
  'PRICE_COLLAR',
  'NOTHING_TO_CLOSE',
  'QUANTITY_TOO_SMALL',
  'SHORT_NOT_ALLOWED',
  'DUPLICATIVE_ORDER',
  'ORDER_RATE_LIMIT',
  'MAX_ORDER_NOTIONAL',
  'MAX_POSITION',
  'MAX_OPEN_POSITIONS',
  'MAX_EXPOSURE',
  'INSUFFICIENT_BUYING_POWER',
  'DAILY_LOSS_LIMIT',
  'MAX_DRAWDOWN',
  'DAY_TRADE_LIMIT',
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

/**
 * Approved with an intent, or denied with every denial. An approval may carry `notes`: denials of
 * a part of the signal that was dropped (the short leg of a reversal when shorting is off).
 */
export type RiskDecision =
  | { approved: true; intent: OrderIntent; notes: Denial[] }
  | { approved: false; denials: Denial[] };

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

/** An alert that says when it fired must be recent, and not from the future. */
export const staleSignalCheck: SignalCheck = ({ signal, config, now }) => {
  if (signal.time === undefined) return undefined;
  const ageSeconds = (now.getTime() - Date.parse(signal.time)) / 1000;
  if (ageSeconds > config.risk.maxSignalAgeSeconds) {
    return {
      code: 'STALE_SIGNAL',
      detail: `alert fired ${ageSeconds.toFixed(1)}s ago, more than risk.maxSignalAgeSeconds ${config.risk.maxSignalAgeSeconds}`,
    };
  }
  if (-ageSeconds > config.risk.maxFutureSkewSeconds) {
    return {
      code: 'STALE_SIGNAL',
      detail: `alert time is ${(-ageSeconds).toFixed(1)}s in the future, more than risk.maxFutureSkewSeconds ${config.risk.maxFutureSkewSeconds}`,
    };
  }
  return undefined;
};

const sideOf = (quantity: Decimal): 'long' | 'short' | 'flat' =>
  quantity.gt(0) ? 'long' : quantity.lt(0) ? 'short' : 'flat';

/** The strategy's view of the position before this alert must match ours (orders in flight counted). */
export const stateMismatchCheck: SignalCheck = (ctx) => {
  const expected = ctx.signal.prevMarketPosition;
  if (expected === undefined) return undefined;
  const ours = sideOf(committedQuantity(positionOf(ctx, ctx.signal.symbol)));
  return ours === expected
    ? undefined
    : {
        code: 'STATE_MISMATCH',
        detail: `the alert says the position was ${expected}, Pinebridge has it ${ours}; reconcile before trading`,
      };
};

/** NYSE hours: regular session, or extended hours for alerts that ask for them when allowed. */
export const marketHoursCheck: SignalCheck = ({ signal, config, now }) => {
  const policy = config.risk.marketHours;
  if (policy === 'any') return undefined;
  const phase = marketPhaseAt(now);
  if (phase === 'regular') return undefined;
  if (policy === 'extended' && signal.extendedHours && (phase === 'pre' || phase === 'post'))
    return undefined;
  return {
    code: 'MARKET_CLOSED',
    detail:
      phase === 'closed'
        ? `the market is closed (NYSE, ${sessionDateOf(now)} New York time)`
        : `outside regular hours (${phase}-market) and ${policy === 'extended' ? 'the alert did not ask for extendedHours' : 'risk.marketHours is "regular"'}`,
  };
};

/** How long approved orders must be remembered for the order-rate and duplicate checks. */
export const recentOrderMemorySeconds = (config: Config): number =>
  Math.max(60, config.risk.duplicateWindowSeconds);

// `at` is always an ISO-8601 UTC string of one format, so comparing strings compares instants
// (and is far cheaper than parsing 200 dates per check).
const approvedWithin = (ctx: RiskContext, seconds: number) => {
  const horizon = new Date(ctx.now.getTime() - seconds * 1000).toISOString();
  return ctx.snapshot.account.recentOrders.filter((o) => o.at > horizon);
};

/** The same trade fired twice (a double alert, two strategies on one chart) is taken once. */
export const duplicativeOrderCheck: IntentCheck = (intent, ctx) => {
  const window = ctx.config.risk.duplicateWindowSeconds;
  if (window === 0) return undefined;
  const twin = approvedWithin(ctx, window).find(
    (o) => o.symbol === intent.symbol && o.side === intent.side && o.signalId !== intent.signalId,
  );
  return twin
    ? {
        code: 'DUPLICATIVE_ORDER',
        detail: `a ${intent.side} ${intent.symbol} order was approved at ${twin.at} for signal ${twin.signalId}, within risk.duplicateWindowSeconds ${window}`,
      }
    : undefined;
};

/** A runaway strategy (or alert loop) is stopped at a fixed number of orders a minute. */
export const orderRateCheck: IntentCheck = (intent, ctx) => {
  const { maxOrdersPerMinute, maxOrdersPerMinutePerSymbol } = ctx.config.risk;
  const lastMinute = approvedWithin(ctx, 60);
  if (lastMinute.length >= maxOrdersPerMinute) {
    return {
      code: 'ORDER_RATE_LIMIT',
      detail: `${lastMinute.length} orders approved in the last 60 s, risk.maxOrdersPerMinute is ${maxOrdersPerMinute}`,
    };
  }
  const forSymbol = lastMinute.filter((o) => o.symbol === intent.symbol).length;
  return forSymbol >= maxOrdersPerMinutePerSymbol
    ? {
        code: 'ORDER_RATE_LIMIT',
        detail: `${forSymbol} ${intent.symbol} orders approved in the last 60 s, risk.maxOrdersPerMinutePerSymbol is ${maxOrdersPerMinutePerSymbol}`,
      }
    : undefined;
};

/** Fat-finger guard on what an order opens; a close is never blocked by its size. */
export const maxOrderNotionalCheck: IntentCheck = (intent, ctx) => {
  const opening = dec(intent.reservedCash);
  const limit = dec(ctx.config.risk.maxOrderNotional);
  return opening.gt(limit)
    ? {
        code: 'MAX_ORDER_NOTIONAL',
        detail: `order opens $${opening.toFixed(2)}, above risk.maxOrderNotional $${ctx.config.risk.maxOrderNotional}`,
      }
    : undefined;
};

// Several checks need the same derived figures of one decision; snapshots are never mutated, so
// they are computed once per snapshot (and intent) and kept while that object lives.
const committedBooks = new WeakMap<OrderIntent, Map<string, Decimal>>();
const equities = new WeakMap<PortfolioSnapshot, Decimal>();
const equityOfSnapshot = (snapshot: PortfolioSnapshot): Decimal => {
  let equity = equities.get(snapshot);
  if (equity === undefined) {
    equity = equityOf(snapshot);
    equities.set(snapshot, equity);
  }
  return equity;
};

/** Committed quantity per symbol after this order, for the portfolio-wide limits. */
function committedAfter(intent: OrderIntent, ctx: RiskContext): Map<string, Decimal> {
  const cached = committedBooks.get(intent);
  if (cached) return cached;
  const book = new Map<string, Decimal>();
  for (const position of Object.values(ctx.snapshot.positions))
    book.set(position.symbol, committedQuantity(position));
  const current = book.get(intent.symbol) ?? dec(0);
  book.set(intent.symbol, current.plus(signedQuantity(intent.side, intent.quantity)));
  committedBooks.set(intent, book);
  return book;
}

const holding = (book: Map<string, Decimal>) => [...book.entries()].filter(([, q]) => !q.isZero());

export const maxOpenPositionsCheck: IntentCheck = (intent, ctx) => {
  if (!openingQuantity(intent, positionOf(ctx, intent.symbol)).gt(0)) return undefined;
  const open = holding(committedAfter(intent, ctx)).length;
  return open > ctx.config.risk.maxOpenPositions
    ? {
        code: 'MAX_OPEN_POSITIONS',
        detail: `${open} symbols would have positions, above risk.maxOpenPositions ${ctx.config.risk.maxOpenPositions}`,
      }
    : undefined;
};

/** Gross exposure: every position (orders in flight counted) at its last price, this order at its own. */
export const maxExposureCheck: IntentCheck = (intent, ctx) => {
  if (!openingQuantity(intent, positionOf(ctx, intent.symbol)).gt(0)) return undefined;
  const { risk } = ctx.config;
  const markOf = (symbol: string) =>
    symbol === intent.symbol
      ? dec(intent.referencePrice)
      : dec(ctx.snapshot.prices[symbol]?.price ?? ctx.snapshot.positions[symbol]?.averageCost ?? '0');
  const gross = toCents(
    holding(committedAfter(intent, ctx)).reduce(
      (sum, [symbol, q]) => sum.plus(q.abs().times(markOf(symbol))),
      dec(0),
    ),
  );
  const absolute = dec(risk.maxGrossExposure);
  const relative = toCents(equityOfSnapshot(ctx.snapshot).times(risk.maxGrossExposurePercent).div(100));
  const limit = Decimal.min(absolute, relative);
  return gross.gt(limit)
    ? {
        code: 'MAX_EXPOSURE',
        detail: `gross exposure would be $${gross.toFixed(2)}, above $${limit.toFixed(2)} (risk.maxGrossExposure $${risk.maxGrossExposure}, risk.maxGrossExposurePercent ${risk.maxGrossExposurePercent}% of equity)`,
      }
    : undefined;
};

/** A limit or stop price far from the market is a typo or a bad tick, not a trade. */
export const priceCollarCheck: SignalCheck = (ctx) => {
  const percent = ctx.config.risk.priceCollarPercent;
  if (percent === 0) return undefined;
  const market = marketPriceOf(ctx);
  if (market === undefined) return undefined;
  const { signal } = ctx;
  for (const [name, price] of [
    ['limitPrice', signal.limitPrice],
    ['stopPrice', signal.stopPrice],
  ] as const) {
    if (price === undefined) continue;
    const away = dec(price).minus(dec(market)).abs().div(dec(market)).times(100);
    if (away.gt(percent)) {
      return {
        code: 'PRICE_COLLAR',
        detail: `${name} ${price} is ${away.toDecimalPlaces(2).toString()}% from the market price ${market}, beyond risk.priceCollarPercent ${percent}`,
      };
    }
  }
  return undefined;
};

/** After a bad session, orders may only shrink positions until the next one. */
export const dailyLossCheck: IntentCheck = (intent, ctx) => {
  if (!openingQuantity(intent, positionOf(ctx, intent.symbol)).gt(0)) return undefined;
  const marks = riskMarksOf(ctx.snapshot, ctx.now);
  const breach = dailyLossBreach(marks, ctx.config);
  return breach
    ? {
        code: 'DAILY_LOSS_LIMIT',
        detail: `session ${marks.session.date} has lost $${breach.loss.toFixed(2)}, at or above the daily loss limit $${breach.limit.toFixed(2)} (risk.maxDailyLoss $${ctx.config.risk.maxDailyLoss}, risk.maxDailyLossPercent ${ctx.config.risk.maxDailyLossPercent}%)`,
      }
    : undefined;
};

/** Equity too far below its high-water mark: no new risk until someone looks. */
export const drawdownCheck: IntentCheck = (intent, ctx) => {
  const max = ctx.config.risk.maxDrawdownPercent;
  if (max === 0 || !openingQuantity(intent, positionOf(ctx, intent.symbol)).gt(0)) return undefined;
  const marks = riskMarksOf(ctx.snapshot, ctx.now);
  return marks.drawdownPercent.gte(max)
    ? {
        code: 'MAX_DRAWDOWN',
        detail: `equity $${marks.equity.toFixed(2)} is ${marks.drawdownPercent.toDecimalPlaces(2).toString()}% below its high-water mark $${marks.highWaterMark.toFixed(2)}, risk.maxDrawdownPercent is ${max}`,
      }
    : undefined;
};

/**
 * Whether an order is a day trade under FINRA's counting (Regulatory Notice 21-13): a closing
 * order counts once when the position was opened or added to earlier in the same session with no
 * closing order in between. So buy, buy, sell is one day trade; buy, sell, buy, sell is two; a
 * position held overnight and closed before any new purchase is none. Orders in flight count.
 */
export function isDayTrade(
  intent: Pick<OrderIntent, 'side' | 'quantity'>,
  position: Position,
  session: string,
): boolean {
  const closing = dec(intent.quantity).minus(openingQuantity(intent, position));
  return closing.gt(0) && position.openedInSession === session;
}

/** The session a position was last opened in, after this order (see isDayTrade). */
function openedInSessionAfter(intent: OrderIntent, position: Position, session: string): string | undefined {
  if (openingQuantity(intent, position).gt(0)) return session;
  return dec(intent.quantity).gt(0) ? undefined : position.openedInSession;
}

/** Day trades counted in the limiter's window: `windowDays` NYSE business days up to today. */
export function dayTradesInWindow(dayTrades: readonly DayTrade[], config: Config, now: Date): DayTrade[] {
  const today = sessionDateOf(now);
  const first = tradingDaysBack(today, config.risk.dayTrades.windowDays)[0] ?? today;
  return dayTrades.filter((t) => t.session >= first && t.session <= today);
}

/** The legacy pattern-day-trader rule: no 4th day trade in 5 business days below $25,000. */
export const dayTradeCheck: IntentCheck = (intent, ctx) => {
  const rule = ctx.config.risk.dayTrades;
  if (!rule.enabled) return undefined;
  const session = sessionDateOf(ctx.now);
  if (!isDayTrade(intent, positionOf(ctx, intent.symbol), session)) return undefined;
  const startEquity = dec(riskMarksOf(ctx.snapshot, ctx.now).session.startEquity);
  if (startEquity.gte(dec(rule.minEquity))) return undefined;
  const counted = dayTradesInWindow(ctx.snapshot.account.dayTrades, ctx.config, ctx.now).length;
  return counted >= rule.maxDayTrades
    ? {
        code: 'DAY_TRADE_LIMIT',
        detail: `closing ${intent.symbol} opened this session would be day trade ${counted + 1} in ${rule.windowDays} business days with session equity $${startEquity.toFixed(2)} below $${rule.minEquity} (risk.dayTrades.maxDayTrades ${rule.maxDayTrades})`,
      }
    : undefined;
};

/** The checks, in the order their denials are reported. Adding a check is adding it here. */
export const SIGNAL_CHECKS: readonly SignalCheck[] = [
  tradingStateCheck,
  symbolAllowedCheck,
  supportedActionCheck,
  staleSignalCheck,
  marketHoursCheck,
  stateMismatchCheck,
  priceCollarCheck,
];
export const INTENT_CHECKS: readonly IntentCheck[] = [
  reducingCheck,
  shortingCheck,
  duplicativeOrderCheck,
  orderRateCheck,
  maxOrderNotionalCheck,
  maxPositionCheck,
  maxOpenPositionsCheck,
  maxExposureCheck,
  buyingPowerCheck,
  dailyLossCheck,
  drawdownCheck,
  dayTradeCheck,
];

/** What an approval changes besides the reservation: the memories later checks read. */
export interface ApprovalBookkeeping {
  recentOrders: RecentOrder[];
  dayTrades: DayTrade[];
  /** The position's openedInSession after this order (undefined: no opening since a close). */
  openedInSession: string | undefined;
}

export function approvalBookkeeping(intent: OrderIntent, ctx: RiskContext): ApprovalBookkeeping {
  const { snapshot, config, now } = ctx;
  const session = sessionDateOf(now);
  const position = positionOf(ctx, intent.symbol);
  const kept = dayTradesInWindow(snapshot.account.dayTrades, config, now);
  return {
    recentOrders: rememberOrder(
      snapshot.account.recentOrders,
      { symbol: intent.symbol, side: intent.side, signalId: intent.signalId, at: now.toISOString() },
      now,
      recentOrderMemorySeconds(config),
    ),
    dayTrades: isDayTrade(intent, position, session)
      ? [...kept, { session, symbol: intent.symbol, signalId: intent.signalId }]
      : kept,
    openedInSession: openedInSessionAfter(intent, position, session),
  };
}

/** The market price: the alert's own, else the symbol's last price if it is fresh enough. */
function marketPriceOf(ctx: RiskContext): string | undefined {
  const { signal, snapshot, config, now } = ctx;
  if (signal.price !== undefined) return signal.price;
  const last = snapshot.prices[signal.symbol];
  if (last === undefined) return undefined;
  const ageSeconds = (now.getTime() - Date.parse(last.at)) / 1000;
  return ageSeconds <= config.risk.maxPriceAgeSeconds ? last.price : undefined;
}

/** The price to size and check the order with: the market price, else a limit order's own limit. */
function referencePriceOf(ctx: RiskContext): string | undefined {
  const { signal } = ctx;
  if (signal.price === undefined && (signal.orderType === 'limit' || signal.orderType === 'stop_limit'))
    return signal.limitPrice;
  return marketPriceOf(ctx);
}

/** Turns a signal into one order: side and quantity from action, sentiment and quantityType. */
export function sizeOrder(ctx: RiskContext): { intent: OrderIntent; notes: Denial[] } | Denial {
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
        return equityOfSnapshot(ctx.snapshot).times(amount).div(100).div(dec(price));
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
  // A reversal (sell 20 while long 10) is split: this order closes, and the rest opens the other
  // way as a follow-up signal once the close has filled. Brokers such as Alpaca reject one order
  // that flips a position, and each leg then passes its own risk check.
  const notes: Denial[] = [];
  let remainder: Decimal | undefined;
  if (!open.isZero() && open.gt(0) !== (side === 'buy') && quantity.gt(open.abs())) {
    remainder = quantity.minus(open.abs());
    quantity = open.abs();
    if (side === 'sell' && !config.risk.allowShort) {
      notes.push({
        code: 'SHORT_NOT_ALLOWED',
        detail: `the reversal's short leg (${str(remainder)} ${signal.symbol}) was not sent; risk.allowShort is false. The long position is closed.`,
      });
      remainder = undefined;
    }
  }
  if (!quantity.gt(0)) {
    return {
      code: 'QUANTITY_TOO_SMALL',
      detail: `order for ${signal.symbol} rounds to zero at ${config.symbols.quantityDecimals} decimal places`,
    };
  }
  const draft = { side, quantity: str(quantity) };
  const opening = openingQuantity(draft, positionOf(ctx, signal.symbol));
  const intent: OrderIntent = {
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
    ...(remainder === undefined ? {} : { reversalRemainder: str(remainder) }),
  };
  return { intent, notes };
}

const isDenial = (value: { intent: OrderIntent; notes: Denial[] } | Denial): value is Denial =>
  'code' in value;

/**
 * The pre-trade risk check: every check runs, every denial is recorded, the first is the reason
 * shown. A pure function of the signal, the portfolio, the config and the time.
 */
export function evaluateRisk(ctx: RiskContext): RiskDecision {
  const denials = SIGNAL_CHECKS.map((check) => check(ctx)).filter((d): d is Denial => d !== undefined);
  if (denials.length > 0) return { approved: false, denials };
  const sized = sizeOrder(ctx);
  if (isDenial(sized)) return { approved: false, denials: [sized] };
  const { intent, notes } = sized;
  const intentDenials = INTENT_CHECKS.map((check) => check(intent, ctx)).filter(
    (d): d is Denial => d !== undefined,
  );
  return intentDenials.length > 0
    ? { approved: false, denials: intentDenials }
    : { approved: true, intent, notes };
}
