import type { RiskConfig } from '../config/schema.js';
import { dueAt, type Signal } from './alert.js';
import { dailyLossBreach, drawdownBelow, drawdownPercentOf, riskMarksOf } from './breaker.js';
import { marketPhaseAt, sessionDateOf, tradingDaysBack } from './calendar.js';
import { clientOrderIdOf } from './ids.js';
import { Decimal, dec } from './money.js';
import {
  type DayTrade,
  flatPosition,
  holdingsOf,
  type OrderIntent,
  type OrderSide,
  type PortfolioSnapshot,
  type Position,
  type RecentOrder,
  rememberOrder,
  SnapshotFigures,
  snapshotEquityOf,
} from './trading.js';

/** Every reason Pinebridge refuses a signal. One name per reason across code, logs, metrics and docs. */
export const DENIAL_CODES = [
  'TRADING_HALTED',
  'TRADING_REDUCING',
  'SYMBOL_NOT_ALLOWED',
  'UNSUPPORTED_ACTION',
  'STALE_SIGNAL',
  'STATE_MISMATCH',
  'RECONCILIATION_PENDING',
  'MARKET_CLOSED',
  'NO_FRESH_PRICE',
  'PRICE_COLLAR',
  'NOTHING_TO_CLOSE',
  'ALREADY_IN_POSITION',
  'NO_POSITION_TO_ADD',
  'TEST_SIGNAL',
  'SIGNAL_EXPIRED',
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
  config: RiskConfig;
  now: Date;
  /**
   * Where market prices come from. `broker`: the broker's market data (Alpaca's latest trade) puts
   * the price in `snapshot.prices`; an alert's `price` is only a hint, checked against it, and with
   * no fresh market price nothing is approved. `alerts` (the default): there is no market data but
   * what alerts carry (the paper broker, backtests): the alert's price is checked against the last
   * fresh price, and with none it is taken as the market price (docs/RISK.md, "Prices").
   */
  marketData?: MarketData;
  /** When Pinebridge recorded the signal (the webhook's receipt): bounds its age without `time`. */
  receivedAt?: string;
  /** Where one decision keeps its figures (see DecisionFigures). */
  figures?: DecisionFigures;
}

export type MarketData = 'broker' | 'alerts';

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

// Decimal.parse is read once: tsx runs these modules as CommonJS, where every use of an imported
// binding calls a getter, a cost the per-position loops notice.
const parse = Decimal.parse;
const ZERO = Decimal.ZERO;
const HUNDRED = dec(100);

const signed = (side: OrderSide, quantity: string): Decimal =>
  side === 'buy' ? parse(quantity) : parse(quantity).neg();

/** Position including orders already approved and in flight, so racing signals are counted. */
const committedQuantity = (p: Position): Decimal => parse(p.quantity).plus(parse(p.pendingQuantity));

/** The part of an order that grows the absolute position (the rest closes). */
function openingQuantity(intent: Pick<OrderIntent, 'side' | 'quantity'>, position: Position): Decimal {
  const before = committedQuantity(position);
  return openingOf(before, before.plus(signed(intent.side, intent.quantity)));
}

/** openingQuantity from the committed quantity before and after the order. */
function openingOf(before: Decimal, after: Decimal): Decimal {
  // Crossing through flat (a reversal) opens only the part beyond flat.
  if (!before.isZero() && before.gt(ZERO) !== after.gt(ZERO)) return after.abs();
  return Decimal.max(after.abs().minus(before.abs()), ZERO);
}

/**
 * The figures of one decision, computed when a check first asks and kept for the other checks of
 * the same decision (evaluateRisk makes one per decision; a check called alone computes afresh):
 * the snapshot's (holdings, equity, marks) and the order's. Snapshots and intents are never
 * mutated, so nothing kept goes stale.
 */
export class DecisionFigures extends SnapshotFigures {
  order: OrderPosition | undefined;
  recent: RecentOrders | undefined;
  book: Book | undefined;
}

/** What the checks of one order need to know of its symbol's position. */
interface OrderPosition {
  intent: OrderIntent;
  snapshot: PortfolioSnapshot;
  /** Committed quantity after the order. */
  after: Decimal;
  /** The order opens (grows the absolute position). */
  opens: boolean;
}

/** The decision's figures, when they are for this snapshot. */
const keptFor = (ctx: RiskContext): DecisionFigures | undefined =>
  ctx.figures?.snapshot === ctx.snapshot ? ctx.figures : undefined;

function orderPositionOf(intent: OrderIntent, ctx: RiskContext): OrderPosition {
  const kept = keptFor(ctx);
  const memo = kept?.order;
  if (memo?.intent === intent && memo.snapshot === ctx.snapshot) return memo;
  const before = committedQuantity(positionOf(ctx, intent.symbol));
  const after = before.plus(signed(intent.side, intent.quantity));
  const figures: OrderPosition = {
    intent,
    snapshot: ctx.snapshot,
    after,
    opens: openingOf(before, after).gt(ZERO),
  };
  if (kept) kept.order = figures;
  return figures;
}

export const tradingStateCheck: SignalCheck = (ctx) =>
  ctx.snapshot.tradingState === 'HALTED'
    ? { code: 'TRADING_HALTED', detail: 'trading is HALTED; no new orders until it is resumed' }
    : undefined;

export const symbolAllowedCheck: SignalCheck = ({ signal, config }) =>
  config.symbols.allowed.includes(signal.symbol)
    ? undefined
    : { code: 'SYMBOL_NOT_ALLOWED', detail: `${signal.symbol} is not in symbols.allowed` };

/** A `cancel` places no order: it is the workflow's CancelOrders step, never sized as an order. */
export const supportedActionCheck: SignalCheck = ({ signal }) =>
  signal.action === 'cancel'
    ? { code: 'UNSUPPORTED_ACTION', detail: 'a cancel signal places no order' }
    : undefined;

/** A test alert (`"test": true`) goes through every check and is recorded, but never trades. */
export const testSignalCheck: SignalCheck = ({ signal }) =>
  signal.test === true
    ? { code: 'TEST_SIGNAL', detail: 'a test alert ("test": true): checked and recorded, not traded' }
    : undefined;

/** An alert that names an expiry (`expiresAt`) is not traded after it. */
export const expiryCheck: SignalCheck = ({ signal, now }) =>
  signal.expiresAt !== undefined && now.getTime() > Date.parse(signal.expiresAt)
    ? {
        code: 'SIGNAL_EXPIRED',
        detail: `the alert expired at ${signal.expiresAt}, before it could be decided`,
      }
    : undefined;

export const reducingCheck: IntentCheck = (intent, ctx) =>
  ctx.snapshot.tradingState === 'REDUCING' && orderPositionOf(intent, ctx).opens
    ? {
        code: 'TRADING_REDUCING',
        detail: 'trading is REDUCING: only orders that shrink a position are allowed',
      }
    : undefined;

export const maxPositionCheck: IntentCheck = (intent, ctx) => {
  const order = orderPositionOf(intent, ctx);
  if (!order.opens) return undefined;
  const after = order.after.abs();
  const { maxPositionQuantity, maxPositionNotional } = ctx.config.risk;
  if (after.gt(dec(maxPositionQuantity))) {
    return {
      code: 'MAX_POSITION',
      detail: `${intent.symbol} position would be ${after.toString()}, above risk.maxPositionQuantity ${maxPositionQuantity}`,
    };
  }
  const notional = after.times(parse(intent.referencePrice)).toCents();
  if (notional.gt(parse(maxPositionNotional))) {
    return {
      code: 'MAX_POSITION',
      detail: `${intent.symbol} position would be $${notional.toFixed(2)}, above risk.maxPositionNotional $${maxPositionNotional}`,
    };
  }
  return undefined;
};

export const shortingCheck: IntentCheck = (intent, ctx) => {
  if (ctx.config.risk.allowShort) return undefined;
  const { after } = orderPositionOf(intent, ctx);
  return after.lt(ZERO)
    ? {
        code: 'SHORT_NOT_ALLOWED',
        detail: `selling ${intent.quantity} ${intent.symbol} would leave a short position of ${after.abs().toString()}; risk.allowShort is false`,
      }
    : undefined;
};

export const buyingPowerCheck: IntentCheck = (intent, ctx) => {
  if (!ctx.config.risk.buyingPowerCheck) return undefined;
  const needed = parse(intent.reservedCash);
  const available = parse(ctx.snapshot.account.cash).minus(parse(ctx.snapshot.account.reservedCash));
  return needed.gt(available)
    ? {
        code: 'INSUFFICIENT_BUYING_POWER',
        detail: `order needs $${needed.toFixed(2)}, buying power is $${Decimal.max(available, ZERO).toFixed(2)}`,
      }
    : undefined;
};

/**
 * A signal is decided while it is fresh: one that waited too long since Pinebridge received it (a
 * backlog, a dead-letter replay, a republish after a crash) is refused whether or not the alert
 * says when it fired; one that does say must be recent, and not from the future.
 */
export const staleSignalCheck: SignalCheck = ({ signal, config, now, receivedAt }) => {
  // A delayed signal is as fresh as it was when it fell due: its wait is the trader's, not a backlog.
  const waited =
    receivedAt === undefined ? 0 : Date.parse(dueAt(signal, receivedAt)) - Date.parse(receivedAt);
  if (receivedAt !== undefined) {
    const queuedSeconds = (now.getTime() - Date.parse(receivedAt) - waited) / 1000;
    if (queuedSeconds > config.risk.maxQueueSeconds) {
      return {
        code: 'STALE_SIGNAL',
        detail: `${waited > 0 ? 'due' : 'received'} ${queuedSeconds.toFixed(1)}s ago and not decided until now, more than risk.maxQueueSeconds ${config.risk.maxQueueSeconds}`,
      };
    }
  }
  if (signal.time === undefined) return undefined;
  const ageSeconds = (now.getTime() - Date.parse(signal.time) - waited) / 1000;
  if (ageSeconds > config.risk.maxSignalAgeSeconds) {
    return {
      code: 'STALE_SIGNAL',
      detail: `alert fired ${ageSeconds.toFixed(1)}s ${waited > 0 ? 'before it fell due' : 'ago'}, more than risk.maxSignalAgeSeconds ${config.risk.maxSignalAgeSeconds}`,
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
  quantity.gt(ZERO) ? 'long' : quantity.lt(ZERO) ? 'short' : 'flat';

/** Nothing new on a symbol while one of its orders has an unknown fate: the position is not known either. */
export const reconciliationCheck: SignalCheck = (ctx) => {
  const pending = ctx.snapshot.positions[ctx.signal.symbol]?.unresolvedOrder;
  return pending === undefined
    ? undefined
    : {
        code: 'RECONCILIATION_PENDING',
        detail: `order ${pending} on ${ctx.signal.symbol} has an unknown fate at the broker; ${ctx.signal.symbol} is blocked until the reconciler settles it`,
      };
};

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
export const recentOrderMemorySeconds = (config: RiskConfig): number =>
  Math.max(60, config.risk.duplicateWindowSeconds);

// `at` is always an ISO-8601 UTC string of one format, so comparing strings compares instants
// (and is far cheaper than parsing 200 dates per check). Orders approved after the horizon count.
const horizonOf = (ctx: RiskContext, seconds: number): string =>
  new Date(ctx.now.getTime() - seconds * 1000).toISOString();

/** What the approved-order memory holds for one order: a twin, and the orders of the last minute. */
interface RecentOrders {
  intent: OrderIntent;
  ctx: Pick<RiskContext, 'snapshot' | 'config'> & { at: number };
  /**
   * The first order of the duplicate window on the same symbol and side, for another signal (not
   * the one a reversal leg follows).
   */
  twin: RecentOrder | undefined;
  /** Orders approved in the last 60 s, and those of them for the order's symbol. */
  lastMinute: number;
  forSymbol: number;
}

/** The duplicate and order-rate checks' figures, from one pass over the memory. */
function recentOrdersOf(intent: OrderIntent, ctx: RiskContext): RecentOrders {
  const kept = keptFor(ctx);
  const memo = kept?.recent;
  if (
    memo?.intent === intent &&
    memo.ctx.snapshot === ctx.snapshot &&
    memo.ctx.config === ctx.config &&
    memo.ctx.at === ctx.now.getTime()
  )
    return memo;
  const window = ctx.config.risk.duplicateWindowSeconds;
  const twinHorizon = window === 0 ? undefined : horizonOf(ctx, window);
  const minuteHorizon = horizonOf(ctx, 60);
  let twin: RecentOrder | undefined;
  let lastMinute = 0;
  let forSymbol = 0;
  const { symbol } = intent;
  // Most orders are for other symbols, whose first letters differ: cheaper to test than the strings.
  const initial = symbol.length > 0 ? symbol.charCodeAt(0) : undefined;
  for (const o of ctx.snapshot.account.recentOrders) {
    const other = o.symbol;
    const sameSymbol =
      (initial === undefined || typeof other !== 'string' || other.charCodeAt(0) === initial) &&
      other === symbol;
    if (
      sameSymbol &&
      twin === undefined &&
      twinHorizon !== undefined &&
      o.side === intent.side &&
      o.at > twinHorizon &&
      o.signalId !== intent.signalId &&
      // A reversal's opening leg follows its own closing leg on the same side: not a twin.
      o.signalId !== ctx.signal.followsSignalId
    )
      twin = o;
    if (o.at > minuteHorizon) {
      lastMinute += 1;
      if (sameSymbol) forSymbol += 1;
    }
  }
  const figures: RecentOrders = {
    intent,
    ctx: { snapshot: ctx.snapshot, config: ctx.config, at: ctx.now.getTime() },
    twin,
    lastMinute,
    forSymbol,
  };
  if (kept) kept.recent = figures;
  return figures;
}

/** The same trade fired twice (a double alert, two strategies on one chart) is taken once. */
export const duplicativeOrderCheck: IntentCheck = (intent, ctx) => {
  const window = ctx.config.risk.duplicateWindowSeconds;
  if (window === 0) return undefined;
  const { twin } = recentOrdersOf(intent, ctx);
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
  const { lastMinute, forSymbol } = recentOrdersOf(intent, ctx);
  if (lastMinute >= maxOrdersPerMinute) {
    return {
      code: 'ORDER_RATE_LIMIT',
      detail: `${lastMinute} orders approved in the last 60 s, risk.maxOrdersPerMinute is ${maxOrdersPerMinute}`,
    };
  }
  return forSymbol >= maxOrdersPerMinutePerSymbol
    ? {
        code: 'ORDER_RATE_LIMIT',
        detail: `${forSymbol} ${intent.symbol} orders approved in the last 60 s, risk.maxOrdersPerMinutePerSymbol is ${maxOrdersPerMinutePerSymbol}`,
      }
    : undefined;
};

/** Fat-finger guard on what an order opens; a close is never blocked by its size. */
export const maxOrderNotionalCheck: IntentCheck = (intent, ctx) => {
  const opening = parse(intent.reservedCash);
  const limit = parse(ctx.config.risk.maxOrderNotional);
  return opening.gt(limit)
    ? {
        code: 'MAX_ORDER_NOTIONAL',
        detail: `order opens $${opening.toFixed(2)}, above risk.maxOrderNotional $${ctx.config.risk.maxOrderNotional}`,
      }
    : undefined;
};

/** Committed quantity per symbol after an order, as a Map keyed by symbol would hold them. */
interface Book {
  intent: OrderIntent;
  snapshot: PortfolioSnapshot;
  symbols: readonly string[];
  quantities: readonly Decimal[];
  /** Entry i is position i (each position's key is its symbol, so none repeats). */
  byKey: boolean;
  /** How many symbols would have a position. */
  held: number;
}

/** Committed quantity per symbol after this order, for the portfolio-wide limits. */
function committedAfter(intent: OrderIntent, ctx: RiskContext): Book {
  const kept = keptFor(ctx);
  const memo = kept?.book;
  if (memo?.intent === intent && memo.snapshot === ctx.snapshot) return memo;
  const holdings = holdingsOf(ctx.snapshot, kept);
  const { keys, positions } = holdings;
  // committedQuantity of each position (its quantity read once), keyed by the position's own symbol.
  let quantities: Decimal[] = [];
  // While every key is its position's symbol (as the store writes them), no symbol repeats and the
  // keys are those symbols (the same strings, but property names: quicker to look up).
  let byKey = true;
  for (let i = 0; i < positions.length; i++) {
    const position = positions[i] as Position;
    quantities.push(holdings.quantity(i).plus(parse(position.pendingQuantity)));
    if (position.symbol !== keys[i]) byKey = false;
  }
  let symbols: readonly string[] = keys;
  if (!byKey) {
    // As a Map does: one entry per symbol, where it first appears, holding the last quantity.
    const index = new Map<string, number>();
    const distinct: string[] = [];
    const bySymbol: Decimal[] = [];
    positions.forEach((position, i) => {
      const quantity = quantities[i] as Decimal;
      const slot = index.get(position.symbol);
      if (slot !== undefined) bySymbol[slot] = quantity;
      else {
        index.set(position.symbol, distinct.length);
        distinct.push(position.symbol);
        bySymbol.push(quantity);
      }
    });
    symbols = distinct;
    quantities = bySymbol;
  }
  const found = symbols.indexOf(intent.symbol);
  const after = (quantities[found] ?? ZERO).plus(signed(intent.side, intent.quantity));
  if (found === -1) {
    symbols = [...symbols, intent.symbol];
    quantities.push(after);
  } else quantities[found] = after;
  let held = 0;
  for (const quantity of quantities) if (!quantity.isZero()) held += 1;
  const book: Book = { intent, snapshot: ctx.snapshot, symbols, quantities, byKey, held };
  if (kept) kept.book = book;
  return book;
}

/** Σ |committed quantity| × mark over the symbols held after the order, this order at its own price. */
function grossAfter(intent: OrderIntent, ctx: RiskContext): Decimal {
  const { symbols, quantities, byKey } = committedAfter(intent, ctx);
  const { prices, positions } = ctx.snapshot;
  // Entry i is position i when keyed by symbol, whose mark (last price, else average cost) equity reads too.
  const holdings = byKey ? holdingsOf(ctx.snapshot, keptFor(ctx)) : undefined;
  const held = new Array<Decimal>(quantities.length);
  const marks = new Array<Decimal>(quantities.length);
  let count = 0;
  for (let i = 0; i < quantities.length; i++) {
    const quantity = quantities[i] as Decimal;
    if (quantity.isZero()) continue;
    const symbol = symbols[i] as string;
    held[count] = quantity;
    marks[count] =
      symbol === intent.symbol
        ? parse(intent.referencePrice)
        : holdings !== undefined && i < holdings.positions.length
          ? holdings.mark(i)
          : parse(prices[symbol]?.price ?? positions[symbol]?.averageCost ?? '0');
    count += 1;
  }
  return Decimal.sumOfProducts(ZERO, held, marks, count, true);
}

export const maxOpenPositionsCheck: IntentCheck = (intent, ctx) => {
  if (!orderPositionOf(intent, ctx).opens) return undefined;
  const open = committedAfter(intent, ctx).held;
  return open > ctx.config.risk.maxOpenPositions
    ? {
        code: 'MAX_OPEN_POSITIONS',
        detail: `${open} symbols would have positions, above risk.maxOpenPositions ${ctx.config.risk.maxOpenPositions}`,
      }
    : undefined;
};

/** The exposure limit: risk.maxGrossExposure, or risk.maxGrossExposurePercent of equity if lower. */
function exposureLimit(ctx: RiskContext): Decimal {
  const { risk } = ctx.config;
  const relative = snapshotEquityOf(ctx.snapshot, keptFor(ctx))
    .times(dec(risk.maxGrossExposurePercent))
    .div(HUNDRED)
    .toCents();
  return Decimal.min(parse(risk.maxGrossExposure), relative);
}

/**
 * Gross exposure: every position (orders in flight counted) at its last price, this order at its
 * own — or, if larger, the account's exposure counter (each symbol at the price it was committed
 * at) with this order: what the store holds approvals to (ledger.ts), so a check and its commit agree.
 */
export const maxExposureCheck: IntentCheck = (intent, ctx) => {
  if (!orderPositionOf(intent, ctx).opens) return undefined;
  const { risk } = ctx.config;
  const marked = grossAfter(intent, ctx).toCents();
  const counted = ctx.snapshot.account.exposure;
  const gross =
    counted === undefined
      ? marked
      : Decimal.max(
          marked,
          parse(counted)
            .minus(parse(positionOf(ctx, intent.symbol).exposure ?? '0'))
            .plus(orderPositionOf(intent, ctx).after.abs().times(parse(intent.referencePrice)).toCents()),
        );
  const limit = exposureLimit(ctx);
  return gross.gt(limit)
    ? {
        code: 'MAX_EXPOSURE',
        detail: `gross exposure would be $${gross.toFixed(2)}, above $${limit.toFixed(2)} (risk.maxGrossExposure $${risk.maxGrossExposure}, risk.maxGrossExposurePercent ${risk.maxGrossExposurePercent}% of equity)`,
      }
    : undefined;
};

/**
 * An alert's price, limit or stop far from the market is a typo, a bad tick or a forged alert, not
 * a trade: `{"price": 1}` for a stock trading at 187.50 must not size a $187,500 order as $1,000.
 */
export const priceCollarCheck: SignalCheck = (ctx) => {
  const percent = ctx.config.risk.priceCollarPercent;
  if (percent === 0) return undefined;
  const market = marketPriceOf(ctx);
  if (market === undefined) return undefined;
  const { signal } = ctx;
  for (const [name, price] of [
    ['price', signal.price],
    ['limitPrice', signal.limitPrice],
    ['stopPrice', signal.stopPrice],
  ] as const) {
    const denial = price === undefined ? undefined : collarDenial(name, price, market, percent);
    if (denial !== undefined) return denial;
  }
  return undefined;
};

function collarDenial(name: string, price: string, market: string, percent: number): Denial | undefined {
  // |price − market| / market > percent / 100, compared without dividing (every decision asks).
  const marketPrice = parse(market);
  const gap = parse(price).minus(marketPrice).abs().times(HUNDRED);
  if (!gap.gt(marketPrice.times(dec(percent)))) return undefined;
  const away = dec(price).minus(dec(market)).abs().div(dec(market)).times(100);
  return {
    code: 'PRICE_COLLAR',
    detail: `${name} ${price} is ${away.toDecimalPlaces(2).toString()}% from the market price ${market}, beyond risk.priceCollarPercent ${percent}`,
  };
}

/**
 * With no market data but alerts (the paper broker, backtests), an alert's price is the market's
 * once it is believed: when no fresh price is known, or it is within the collar of the one that is.
 * The caller then marks the portfolio with it (equity, the loss limits and the breaker see the market
 * as the alert reports it) and records it for later alerts and resting orders.
 */
export function alertPriceBelieved(ctx: RiskContext): boolean {
  const { signal, config } = ctx;
  if (ctx.marketData === 'broker' || signal.price === undefined) return false;
  const market = marketPriceOf(ctx);
  const percent = config.risk.priceCollarPercent;
  return (
    market === undefined ||
    percent === 0 ||
    collarDenial('price', signal.price, market, percent) === undefined
  );
}

/** After a bad session, orders may only shrink positions until the next one. */
export const dailyLossCheck: IntentCheck = (intent, ctx) => {
  if (!orderPositionOf(intent, ctx).opens) return undefined;
  const marks = riskMarksOf(ctx.snapshot, ctx.now, keptFor(ctx));
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
  if (max === 0 || !orderPositionOf(intent, ctx).opens) return undefined;
  const marks = riskMarksOf(ctx.snapshot, ctx.now, keptFor(ctx));
  if (drawdownBelow(marks, max)) return undefined;
  const drawdown = drawdownPercentOf(marks);
  return drawdown.gte(max)
    ? {
        code: 'MAX_DRAWDOWN',
        detail: `equity $${marks.equity.toFixed(2)} is ${drawdown.toDecimalPlaces(2).toString()}% below its high-water mark $${marks.highWaterMark.toFixed(2)}, risk.maxDrawdownPercent is ${max}`,
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
  if (position.openedInSession !== session) return false;
  return parse(intent.quantity).minus(openingQuantity(intent, position)).gt(ZERO);
}

/** The session a position was last opened in, after this order (see isDayTrade). */
function openedInSessionAfter(intent: OrderIntent, position: Position, session: string): string | undefined {
  if (openingQuantity(intent, position).gt(ZERO)) return session;
  return parse(intent.quantity).gt(ZERO) ? undefined : position.openedInSession;
}

/** Day trades counted in the limiter's window: `windowDays` NYSE business days up to today. */
export function dayTradesInWindow(dayTrades: readonly DayTrade[], config: RiskConfig, now: Date): DayTrade[] {
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
  const startEquity = parse(riskMarksOf(ctx.snapshot, ctx.now, keptFor(ctx)).session.startEquity);
  if (startEquity.gte(parse(rule.minEquity))) return undefined;
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
  expiryCheck,
  marketHoursCheck,
  reconciliationCheck,
  stateMismatchCheck,
  priceCollarCheck,
  testSignalCheck,
];
/**
 * What a cancel must pass before it touches the broker: a symbol Pinebridge trades, a real alert,
 * fresh and unexpired. Cancelling takes risk off, so the trading state, market hours and the
 * limits do not stop it (an emergency stop cancels everything anyway).
 */
export const CANCEL_CHECKS: readonly SignalCheck[] = [
  symbolAllowedCheck,
  staleSignalCheck,
  expiryCheck,
  testSignalCheck,
];

/** The denials of a cancel (empty: it may cancel). */
export const cancelDenials = (ctx: RiskContext): Denial[] =>
  CANCEL_CHECKS.map((check) => check(ctx)).filter((denial): denial is Denial => denial !== undefined);

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

/** What an approval changes besides the reservation: the memories later checks read, and the limits its commit is held to. */
export interface ApprovalBookkeeping {
  /** The symbol's approved-order memory after this order. */
  recentOrders: RecentOrder[];
  /** The day-trade log after this order. */
  dayTrades: DayTrade[];
  /** The order is a day trade: the log is written (conditioned on it as read). */
  dayTrade?: boolean;
  /** The position's openedInSession after this order (undefined: no opening since a close). */
  openedInSession: string | undefined;
  /** The portfolio-wide limits the store holds the commit to (ledger.ts, approval); none: unconditioned. */
  limits?: ApprovalLimits;
}

export interface ApprovalLimits {
  /** The reservation must fit the buying power (risk.buyingPowerCheck). */
  buyingPower: boolean;
  /** The exposure limit as read, for an order that opens. */
  maxExposure?: string;
  /** risk.maxOpenPositions, for an order that opens. */
  maxOpenPositions?: number;
  maxOrdersPerMinute: number;
}

export function approvalBookkeeping(intent: OrderIntent, ctx: RiskContext): ApprovalBookkeeping {
  const { snapshot, config, now } = ctx;
  const session = sessionDateOf(now);
  const position = positionOf(ctx, intent.symbol);
  const kept = dayTradesInWindow(snapshot.account.dayTrades, config, now);
  const dayTrade = isDayTrade(intent, position, session);
  const opens = orderPositionOf(intent, ctx).opens;
  return {
    recentOrders: rememberOrder(
      position.recentOrders ?? [],
      { symbol: intent.symbol, side: intent.side, signalId: intent.signalId, at: now.toISOString() },
      now,
      recentOrderMemorySeconds(config),
    ),
    dayTrades: dayTrade ? [...kept, { session, symbol: intent.symbol, signalId: intent.signalId }] : kept,
    dayTrade,
    openedInSession: openedInSessionAfter(intent, position, session),
    limits: {
      buyingPower: config.risk.buyingPowerCheck,
      ...(opens
        ? {
            maxExposure: exposureLimit(ctx).toFixed(2),
            maxOpenPositions: config.risk.maxOpenPositions,
          }
        : {}),
      maxOrdersPerMinute: config.risk.maxOrdersPerMinute,
    },
  };
}

/**
 * The market price: the symbol's last known price if it is fresh enough (the broker's latest trade,
 * or an earlier alert's price that passed the collar). With no market data but alerts, and no fresh
 * price, the alert's own price is the market's.
 */
function marketPriceOf(ctx: RiskContext): string | undefined {
  const { signal, snapshot, config, now } = ctx;
  const last = snapshot.prices[signal.symbol];
  if (last !== undefined && (now.getTime() - Date.parse(last.at)) / 1000 <= config.risk.maxPriceAgeSeconds)
    return last.price;
  return ctx.marketData === 'broker' ? undefined : signal.price;
}

/**
 * The price an order is sized and checked at (notional, exposure, buying power): the larger of the
 * market price and the alert's, so an alert that understates the price cannot pass a limit it would
 * break. A limit order sent without a price is bounded by its own limit.
 */
function referencePriceOf(ctx: RiskContext): string | undefined {
  const { signal } = ctx;
  if (
    signal.price === undefined &&
    signal.limitPrice !== undefined &&
    (signal.orderType === 'limit' || signal.orderType === 'stop_limit')
  )
    return signal.limitPrice;
  const market = marketPriceOf(ctx);
  if (market === undefined || signal.price === undefined) return market;
  return parse(signal.price).gt(parse(market)) ? signal.price : market;
}

/**
 * The quantity the signal asks for, by its quantityType. (Not a closure in sizeOrder: tsx, which
 * keeps function names, names every closure it creates, at a cost per call.)
 */
function requestedQuantity(ctx: RiskContext, price: string, open: Decimal): Decimal {
  const { signal, config } = ctx;
  // An entry without a quantity is sized by the configured default (TradersPost: 1 share).
  const given = signal.quantity !== undefined;
  const amount = parse(given ? (signal.quantity as string) : config.risk.defaultQuantity);
  switch (given ? signal.quantityType : config.risk.defaultQuantityType) {
    case 'fixed_quantity':
      return amount;
    case 'dollar_amount':
      return amount.div(parse(price));
    case 'percent_of_equity':
      return snapshotEquityOf(ctx.snapshot, keptFor(ctx)).times(amount).div(HUNDRED).div(parse(price));
    case 'percent_of_position':
      return open.abs().times(amount).div(HUNDRED);
  }
}

/** Turns a signal into one order: side and quantity from action, sentiment and quantityType. */
export function sizeOrder(ctx: RiskContext): { intent: OrderIntent; notes: Denial[] } | Denial {
  const { signal, config } = ctx;
  const price = referencePriceOf(ctx);
  if (price === undefined) {
    return {
      code: 'NO_FRESH_PRICE',
      detail:
        ctx.marketData === 'broker'
          ? `no market price for ${signal.symbol} from the broker or within risk.maxPriceAgeSeconds ${config.risk.maxPriceAgeSeconds}s${signal.price === undefined ? '' : "; the alert's price is never traded on unchecked"}`
          : `no price in the alert and no last price for ${signal.symbol} within ${config.risk.maxPriceAgeSeconds}s`,
    };
  }
  // Size against the position as it will be once orders in flight complete, so a second exit
  // racing the first finds nothing left to close instead of flipping the position.
  const open = committedQuantity(positionOf(ctx, signal.symbol));
  const closing =
    signal.action === 'exit' ||
    signal.sentiment === 'flat' ||
    (signal.action === 'sell' && signal.quantity === undefined);

  let side: OrderSide;
  let quantity: Decimal;
  if (signal.action === 'reverse') {
    // Close the whole position and open the same size (or `quantity`) the other way: one order
    // for both, which the reversal split below turns into a close and a follow-up entry.
    if (open.isZero())
      return { code: 'NOTHING_TO_CLOSE', detail: `no position in ${signal.symbol} to reverse` };
    side = open.gt(ZERO) ? 'sell' : 'buy';
    quantity = open
      .abs()
      .plus(signal.quantity === undefined ? open.abs() : requestedQuantity(ctx, price, open));
  } else if (signal.action === 'add') {
    // Adds to the open position, long or short, whatever risk.pyramiding says.
    if (open.isZero())
      return {
        code: 'NO_POSITION_TO_ADD',
        detail: `add needs an open position in ${signal.symbol}; send buy or sell to open one`,
      };
    side = open.gt(ZERO) ? 'buy' : 'sell';
    quantity = requestedQuantity(ctx, price, open);
  } else if (closing) {
    // Close only in the direction the alert names: sell closes a long, buy covers a short, exit either.
    const closable =
      (signal.action === 'sell' && open.gt(ZERO)) ||
      (signal.action === 'buy' && open.lt(ZERO)) ||
      (signal.action === 'exit' && !open.isZero());
    if (!closable) {
      const which = signal.action === 'buy' ? 'short ' : signal.action === 'sell' ? 'long ' : '';
      return { code: 'NOTHING_TO_CLOSE', detail: `no ${which}position in ${signal.symbol} left to close` };
    }
    side = open.gt(ZERO) ? 'sell' : 'buy';
    // sentiment flat closes the whole position whatever quantity is sent (TradersPost).
    quantity =
      signal.quantity === undefined || signal.sentiment === 'flat'
        ? open.abs()
        : Decimal.min(requestedQuantity(ctx, price, open), open.abs());
  } else {
    side = signal.action === 'sell' ? 'sell' : 'buy';
    // A buy while long (a sell while short) adds to the position only with risk.pyramiding.
    if (!config.risk.pyramiding && !open.isZero() && open.gt(ZERO) === (side === 'buy')) {
      return {
        code: 'ALREADY_IN_POSITION',
        detail: `already ${open.gt(ZERO) ? 'long' : 'short'} ${open.abs().toString()} ${signal.symbol}; send add, or set risk.pyramiding, to add to it`,
      };
    }
    quantity = requestedQuantity(ctx, price, open);
  }
  quantity = quantity.toDecimalPlaces(config.symbols.quantityDecimals, Decimal.ROUND_DOWN);
  // A reversal (sell 20 while long 10) is split: this order closes, and the rest opens the other
  // way as a follow-up signal once the close has filled. Brokers such as Alpaca reject one order
  // that flips a position, and each leg then passes its own risk check.
  const notes: Denial[] = [];
  let remainder: Decimal | undefined;
  if (!open.isZero() && open.gt(ZERO) !== (side === 'buy') && quantity.gt(open.abs())) {
    remainder = quantity.minus(open.abs());
    quantity = open.abs();
    if (side === 'sell' && !config.risk.allowShort) {
      notes.push({
        code: 'SHORT_NOT_ALLOWED',
        detail: `the reversal's short leg (${remainder.toString()} ${signal.symbol}) was not sent; risk.allowShort is false. The long position is closed.`,
      });
      remainder = undefined;
    }
  }
  if (!quantity.gt(ZERO)) {
    return {
      code: 'QUANTITY_TOO_SMALL',
      detail: `order for ${signal.symbol} rounds to zero at ${config.symbols.quantityDecimals} decimal places`,
    };
  }
  const ordered = quantity.toString();
  // openingQuantity of this order, `open` being the position's committed quantity.
  const after = open.plus(signed(side, ordered));
  const opening = openingOf(open, after);
  const intent: OrderIntent = {
    clientOrderId: clientOrderIdOf(ctx.signalId),
    signalId: ctx.signalId,
    symbol: signal.symbol,
    side,
    quantity: ordered,
    orderType: signal.orderType,
    // A limit or stop order sent without its price is placed at the checked price (TradersPost:
    // "the current market price will be used").
    ...(signal.orderType === 'limit' || signal.orderType === 'stop_limit'
      ? { limitPrice: signal.limitPrice ?? price }
      : {}),
    ...(signal.orderType === 'stop' || signal.orderType === 'stop_limit'
      ? { stopPrice: signal.stopPrice ?? price }
      : {}),
    timeInForce: signal.timeInForce,
    extendedHours: signal.extendedHours,
    referencePrice: price,
    reservedCash: opening.times(parse(price)).toCents().toString(),
    ...(remainder === undefined ? {} : { reversalRemainder: remainder.toString() }),
  };
  // What the checks of this order will ask first (orderPositionOf), known now.
  const kept = keptFor(ctx);
  if (kept) kept.order = { intent, snapshot: ctx.snapshot, after, opens: opening.gt(ZERO) };
  return { intent, notes };
}

const isDenial = (value: { intent: OrderIntent; notes: Denial[] } | Denial): value is Denial =>
  'code' in value;

/**
 * The pre-trade risk check: every check runs, every denial is recorded, the first is the reason
 * shown. A pure function of the signal, the portfolio, the config and the time.
 */
export function evaluateRisk(context: RiskContext): RiskDecision {
  const ctx = keptFor(context) ? context : { ...context, figures: new DecisionFigures(context.snapshot) };
  const denials: Denial[] = [];
  for (const check of SIGNAL_CHECKS) {
    const denial = check(ctx);
    if (denial !== undefined) denials.push(denial);
  }
  if (denials.length > 0) return { approved: false, denials };
  const sized = sizeOrder(ctx);
  if (isDenial(sized)) return { approved: false, denials: [sized] };
  const { intent, notes } = sized;
  for (const check of INTENT_CHECKS) {
    const denial = check(intent, ctx);
    if (denial !== undefined) denials.push(denial);
  }
  return denials.length > 0 ? { approved: false, denials } : { approved: true, intent, notes };
}
