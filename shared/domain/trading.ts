import * as z from 'zod';
import { Decimal, dec, str, toCents } from './money.js';

export const ORDER_SIDES = ['buy', 'sell'] as const;
export type OrderSide = (typeof ORDER_SIDES)[number];

export const TRADING_STATES = ['ACTIVE', 'REDUCING', 'HALTED'] as const;
export type TradingState = (typeof TRADING_STATES)[number];

/**
 * Where a signal is in its life. Terminal: rejected, filled, cancelled (its order was), failed, and
 * completed (a signal that places no order — a `cancel` — did what it asked).
 */
export const SIGNAL_STATUSES = [
  'received',
  'approved',
  'submitted',
  'rejected',
  'filled',
  'cancelled',
  'failed',
  'completed',
] as const;
export type SignalStatus = (typeof SIGNAL_STATUSES)[number];
export const TERMINAL_SIGNAL_STATUSES: readonly SignalStatus[] = [
  'rejected',
  'filled',
  'cancelled',
  'failed',
  'completed',
];

/** What the broker says of an order. `new` means it rests at the venue; the rest are final. */
export const BROKER_ORDER_STATUSES = [
  'new',
  'partially_filled',
  'filled',
  'cancelled',
  'expired',
  'rejected',
] as const;
export type BrokerOrderStatus = (typeof BROKER_ORDER_STATUSES)[number];

/** Whether the broker is done with an order: everything but `new` and `partially_filled`. */
export const isFinal = (status: BrokerOrderStatus): boolean =>
  status !== 'new' && status !== 'partially_filled';

/** One order Pinebridge decided to send: the output of the risk check, the input of SubmitOrder. */
export const OrderIntentSchema = z.object({
  clientOrderId: z.string().max(48),
  signalId: z.string(),
  symbol: z.string(),
  side: z.enum(ORDER_SIDES),
  quantity: z.string(),
  orderType: z.enum(['market', 'limit', 'stop', 'stop_limit']),
  limitPrice: z.string().optional(),
  stopPrice: z.string().optional(),
  timeInForce: z.enum(['day', 'gtc', 'ioc', 'fok', 'opg', 'cls']),
  extendedHours: z.boolean(),
  /** Price the risk check sized and limited the order with; the paper broker's market price. */
  referencePrice: z.string(),
  /** Cash set aside for the order while it is in flight (its opening notional). */
  reservedCash: z.string(),
  /** A reversal's second leg: the quantity to open the other way once this closing order fills. */
  reversalRemainder: z.string().optional(),
});
export type OrderIntent = z.infer<typeof OrderIntentSchema>;

export const BrokerOrderSchema = z.object({
  clientOrderId: z.string(),
  brokerOrderId: z.string(),
  status: z.enum(BROKER_ORDER_STATUSES),
  filledQuantity: z.string(),
  averageFillPrice: z.string().optional(),
  commission: z.string(),
  reason: z.string().optional(),
});
export type BrokerOrder = z.infer<typeof BrokerOrderSchema>;

export interface Position {
  symbol: string;
  /** Signed: positive long, negative short. */
  quantity: string;
  averageCost: string;
  realizedPnl: string;
  /** Signed quantity of orders approved but not yet final; counts against the position limits. */
  pendingQuantity: string;
  /**
   * The session in which an order opened (or added to) this position with no closing order since:
   * a closing order in that same session is a day trade (FINRA's counting, see risk.ts).
   */
  openedInSession?: string;
  /**
   * An order on this symbol whose fate the broker could not tell (`unknown`): no new order for the
   * symbol until the reconciler settles it (RECONCILIATION_PENDING).
   */
  unresolvedOrder?: string;
  /** Orders approved on this symbol in the last few minutes, newest last (see rememberOrder). */
  recentOrders?: RecentOrder[];
  /** What this symbol adds to the account's exposure counter: |committed| × its price when committed. */
  exposure?: string;
  /** As read: moved by every write that changes what a decision on this symbol reads (ledger.ts). */
  seq?: number;
  /** As read: moved by every booking of a fill. */
  fills?: number;
}

export interface Account {
  cash: string;
  /** Cash set aside for orders in flight; buying power is cash minus this. */
  reservedCash: string;
  realizedPnl: string;
  commissions: string;
  /**
   * Gross exposure as committed: Σ over symbols of |quantity held and in flight| × the price it
   * was committed at. Approvals that grow it are held within the exposure limit by the store
   * (ledger.ts); the risk check counts the larger of this and the exposure at last prices.
   */
  exposure?: string;
  /** How many symbols have a position or an order in flight (the open-positions limit's counter). */
  openSymbols?: number;
  /** Orders approved in the last few minutes, oldest first (every symbol's): the order-rate and duplicate checks' memory. */
  recentOrders: RecentOrder[];
  /** Day trades of the last few business days, oldest first (the day-trade limiter's memory). */
  dayTrades: DayTrade[];
  /** When each losing close of the current losing streak ended, oldest first; a winning close clears it. */
  lossStreak: string[];
  /** When each failed signal of the current failure streak ended; a booked broker report clears it. */
  failureStreak: string[];
  /** As read: the versions of the day-trade log and of the streaks (ledger.ts). */
  dayTradesSeq?: number;
  streaksSeq?: number;
}

export interface DayTrade {
  /** New York session date (YYYY-MM-DD). */
  session: string;
  symbol: string;
  signalId: string;
}

export const BREAKER_TRIPS = [
  'DAILY_LOSS',
  'DRAWDOWN',
  'LOSS_STREAK',
  'BROKER_FAILURES',
  'EMERGENCY_STOP',
  'MANUAL',
] as const;
export type BreakerTrip = (typeof BREAKER_TRIPS)[number];

/**
 * The circuit breaker's record, kept with the trading state: why the state is what it is, when it
 * resets by itself, and the marks the loss limits are measured from.
 */
export interface Breaker {
  since?: string;
  reason?: string;
  trip?: BreakerTrip;
  /** When the state returns to ACTIVE by itself; absent means only a manual reset ends it. */
  resetAt?: string;
  /** Highest equity seen (the drawdown limit's reference). */
  highWaterMark?: string;
  /** The trading session the daily loss is measured in, and the equity it started with. */
  session?: { date: string; startEquity: string };
  /** Losses and failures at or before this instant no longer count towards a streak (set by resets). */
  streaksClearedAt?: string;
}

export interface RecentOrder {
  symbol: string;
  side: OrderSide;
  signalId: string;
  at: string;
}

/**
 * Remembers an approved order and forgets what no check can need any more: orders older than
 * `keepSeconds` (the duplicate window, at least a minute), and, of those older than a minute, all
 * but the newest three signals' orders per symbol and side.
 *
 * The order-rate check counts the last minute's orders, all kept (and held by that very check to
 * risk.maxOrdersPerMinute). The duplicate check asks only whether an order on the same symbol and
 * side lies in its window for a signal other than the asking one and the one it follows (a
 * reversal leg): the newest three signals answer that exactly as all of them would (one of the
 * three is neither, and all are at least as recent as any forgotten one). So the memory, kept per
 * symbol in the position item an approval rewrites, stays within the per-symbol rate limit plus
 * six orders, whatever the duplicate window — far inside DynamoDB's 400 KB item limit
 * (test/unit/trading-memory.test.ts).
 */
export function rememberOrder(
  recent: readonly RecentOrder[],
  order: RecentOrder,
  now: Date,
  keepSeconds: number,
): RecentOrder[] {
  const horizon = now.getTime() - keepSeconds * 1000;
  const lastMinute = now.getTime() - 60_000;
  const olderSignals = new Map<string, string[]>();
  const kept: RecentOrder[] = [];
  for (const o of [...recent].reverse()) {
    const at = Date.parse(o.at);
    if (at < horizon) continue;
    if (at < lastMinute) {
      const key = `${o.symbol} ${o.side}`;
      const signals = olderSignals.get(key) ?? [];
      if (!signals.includes(o.signalId)) {
        if (signals.length >= 3) continue;
        olderSignals.set(key, [...signals, o.signalId]);
      }
    }
    kept.push(o);
  }
  return [...kept.reverse(), order];
}

export interface LastPrice {
  price: string;
  at: string;
}

export interface PortfolioSnapshot {
  tradingState: TradingState;
  breaker: Breaker;
  account: Account;
  positions: Record<string, Position>;
  prices: Record<string, LastPrice>;
}

export const flatPosition = (symbol: string): Position => ({
  symbol,
  quantity: '0',
  averageCost: '0',
  realizedPnl: '0',
  pendingQuantity: '0',
});

export const signedQuantity = (side: OrderSide, quantity: string | Decimal): Decimal =>
  side === 'buy' ? dec(quantity) : dec(quantity).neg();

export interface FillBooking {
  position: Position;
  /** How much of the fill closed an existing position (the rest opened or added). */
  closedQuantity: string;
  /** Change to cash, rounded to the cent: proceeds of sales minus cost of purchases minus commission. */
  cashDelta: string;
  realizedPnlDelta: string;
}

/**
 * Books one fill against a position: average cost on opening, realized P&L on closing, and a
 * reversal (sell 20 while long 10) handled as a close followed by an open at the fill price.
 */
export function bookFill(
  position: Position,
  side: OrderSide,
  quantity: string,
  price: string,
  commission: string,
): FillBooking {
  const q = dec(position.quantity);
  const avg = dec(position.averageCost);
  const fillQty = dec(quantity);
  const fillPrice = dec(price);
  const signed = signedQuantity(side, fillQty);

  let newQty = q.plus(signed);
  let newAvg: Decimal;
  let realized = dec(0);
  let closedQuantity = dec(0);

  if (q.isZero() || q.gt(0) === signed.gt(0)) {
    newAvg = q.abs().times(avg).plus(fillQty.times(fillPrice)).div(newQty.abs());
  } else {
    const closing = Decimal.min(fillQty, q.abs());
    closedQuantity = closing;
    realized = fillPrice
      .minus(avg)
      .times(closing)
      .times(q.gt(0) ? 1 : -1);
    const opening = fillQty.minus(closing);
    newAvg = opening.gt(0) ? fillPrice : newQty.isZero() ? dec(0) : avg;
  }
  if (newQty.isZero()) {
    newQty = dec(0);
    newAvg = dec(0);
  }
  const realizedCents = toCents(realized).minus(dec(commission));
  return {
    position: {
      ...position,
      quantity: str(newQty),
      averageCost: str(newAvg.toDecimalPlaces(10)),
      realizedPnl: str(dec(position.realizedPnl).plus(realizedCents)),
    },
    closedQuantity: str(closedQuantity),
    cashDelta: str(toCents(signed.neg().times(fillPrice)).minus(dec(commission))),
    realizedPnlDelta: str(realizedCents),
  };
}

/** Equity = cash + every position marked at its last price (average cost when none is known). */
export function equityOf(snapshot: Pick<PortfolioSnapshot, 'account' | 'positions' | 'prices'>): Decimal {
  return equityFrom(snapshot.account.cash, new Holdings(snapshot));
}

// Read once: tsx runs these modules as CommonJS, where every use of an imported binding calls a
// getter, a cost the per-position loops of the risk checks notice.
const parse = Decimal.parse;

function equityFrom(cash: string, holdings: Holdings): Decimal {
  const start = parse(cash);
  const count = holdings.positions.length;
  const quantities = new Array<Decimal>(count);
  const marks = new Array<Decimal>(count);
  for (let i = 0; i < count; i++) {
    quantities[i] = holdings.quantity(i);
    marks[i] = holdings.mark(i);
  }
  return Decimal.sumOfProducts(start, quantities, marks, count, false).toCents();
}

/**
 * A snapshot's positions in the order of Object.values(positions), with the amounts the risk
 * checks read: each read once, when first asked for.
 */
export class Holdings {
  /** Object.keys(positions): the symbols, as property names (quicker to look up than other strings). */
  readonly keys: string[];
  readonly positions: Position[];
  private readonly quantities: (Decimal | undefined)[];
  private readonly marks: (Decimal | undefined)[];

  constructor(readonly snapshot: Pick<PortfolioSnapshot, 'positions' | 'prices'>) {
    this.keys = Object.keys(snapshot.positions);
    // In the order of the keys (both list the own enumerable properties, in the same order).
    this.positions = Object.values(snapshot.positions);
    this.quantities = new Array<Decimal | undefined>(this.keys.length).fill(undefined);
    this.marks = new Array<Decimal | undefined>(this.keys.length).fill(undefined);
  }

  /** Position i's quantity. */
  quantity(i: number): Decimal {
    let quantity = this.quantities[i];
    if (quantity === undefined) {
      quantity = parse((this.positions[i] as Position).quantity);
      this.quantities[i] = quantity;
    }
    return quantity;
  }

  /** Position i's mark: its last price, else its average cost. */
  mark(i: number): Decimal {
    let mark = this.marks[i];
    if (mark === undefined) {
      const position = this.positions[i] as Position;
      const key = this.keys[i] as string;
      // The key when it is the symbol: the same string, quicker to look up.
      const symbol = position.symbol === key ? key : position.symbol;
      mark = parse(this.snapshot.prices[symbol]?.price ?? position.averageCost);
      this.marks[i] = mark;
    }
    return mark;
  }
}

/**
 * A snapshot's figures, computed when first asked for and kept by whoever holds this object — one
 * decision (RiskContext.figures): every check of a decision asks about the same snapshot. Without
 * one, each call computes afresh. Snapshots are never mutated, so figures never go stale.
 */
export class SnapshotFigures {
  holdings: Holdings | undefined;
  equity: Decimal | undefined;
  /** The loss limits' marks at one instant (see breaker.ts). */
  marks: { at: number; marks: unknown } | undefined;
  constructor(readonly snapshot: PortfolioSnapshot) {}
}

const figuresFor = (snapshot: PortfolioSnapshot, figures: SnapshotFigures | undefined) =>
  figures?.snapshot === snapshot ? figures : undefined;

/** The snapshot's holdings, read once per `figures`. */
export function holdingsOf(snapshot: PortfolioSnapshot, figures?: SnapshotFigures): Holdings {
  const kept = figuresFor(snapshot, figures);
  if (kept === undefined) return new Holdings(snapshot);
  kept.holdings ??= new Holdings(snapshot);
  return kept.holdings;
}

/** equityOf the snapshot, computed once per `figures`. */
export function snapshotEquityOf(snapshot: PortfolioSnapshot, figures?: SnapshotFigures): Decimal {
  const kept = figuresFor(snapshot, figures);
  if (kept === undefined) return equityFrom(snapshot.account.cash, new Holdings(snapshot));
  kept.equity ??= equityFrom(snapshot.account.cash, holdingsOf(snapshot, kept));
  return kept.equity;
}
