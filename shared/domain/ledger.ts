/**
 * The ledger: every booking rule of the book, as pure functions. Each takes the book's items as
 * read and returns the change to commit — the writes, each with the conditions it must be
 * committed on — or nothing when there is nothing to change. A store only persists: it reads
 * items, and commits a change all or nothing, refusing it when a condition no longer holds
 * (shared/ports BookStore). Use cases read, ask the ledger, commit, and read again on a refusal
 * (shared/usecases/book.ts).
 *
 * The write model (docs/ARCHITECTURE.md, "The book"): racing signals on different symbols must not
 * invalidate each other's decision. So nothing every approval rewrites carries a version:
 * - the account holds counters (cash, reserved cash, buying power, exposure, open symbols) that
 *   approvals and bookings only ever *add* to, commutatively; an approval adds its reservation on
 *   the condition that the counters still leave room for it (buying power ≥ the reservation,
 *   exposure and open symbols within their limits), evaluated by the store at commit time;
 * - each symbol's position carries what decisions on that symbol read (committed quantity,
 *   approved-order memory, the session it was opened in) under its own `seq`, which an approval
 *   is conditioned on; fills move units from pending to held under a separate `fills` version and
 *   leave `seq` alone, so a fill never invalidates an approval;
 * - orders per minute are counted in a per-minute counter; day trades in their own item,
 *   conditioned only for approvals that are day trades; loss and failure streaks in theirs.
 */
import * as z from 'zod';
import { Decimal, dec, str, toCents } from './money.js';
import type { ApprovalBookkeeping, Denial } from './risk.js';
import {
  type Account,
  BREAKER_TRIPS,
  BROKER_ORDER_STATUSES,
  type Breaker,
  type BrokerOrder,
  bookFill,
  flatPosition,
  isFinal,
  type LastPrice,
  ORDER_SIDES,
  type OrderIntent,
  OrderIntentSchema,
  type PortfolioSnapshot,
  type Position,
  type RecentOrder,
  SIGNAL_STATUSES,
  type SignalStatus,
  signedQuantity,
  TRADING_STATES,
  type TradingState,
} from './trading.js';

// ---------------------------------------------------------------------------------------------
// The items of the book and the language of a change

/** One item of the book. */
export type Entity =
  | { kind: 'account' }
  | { kind: 'tradingState' }
  | { kind: 'streaks' }
  | { kind: 'dayTrades' }
  | { kind: 'position'; symbol: string }
  | { kind: 'price'; symbol: string }
  /** Orders approved in one UTC minute (`YYYY-MM-DDTHH:MM`). */
  | { kind: 'rate'; minute: string }
  | { kind: 'order'; clientOrderId: string }
  | { kind: 'signal'; signalId: string }
  | { kind: 'transition'; at: string; id: string };

export const ACCOUNT: Entity = { kind: 'account' };
export const TRADING_STATE: Entity = { kind: 'tradingState' };
export const STREAKS: Entity = { kind: 'streaks' };
export const DAY_TRADES: Entity = { kind: 'dayTrades' };
export const positionOf = (symbol: string): Entity => ({ kind: 'position', symbol });
export const priceOf = (symbol: string): Entity => ({ kind: 'price', symbol });
export const orderOf = (clientOrderId: string): Entity => ({ kind: 'order', clientOrderId });
export const signalOf = (signalId: string): Entity => ({ kind: 'signal', signalId });

/** A stored item: field → value. Numbers the ledger adds to are read back as decimal strings. */
export type Doc = Record<string, unknown>;

/** What must hold of an item for a write to be committed. A missing counter counts as 0. */
export type Check =
  | { item: 'exists' | 'absent' }
  | { field: string; is: 'absent' }
  | { field: string; eq: string | boolean }
  | { field: string; oneOf: readonly string[] }
  /** The field is absent or none of these. */
  | { field: string; noneOf: readonly string[] }
  | { field: string; atLeast: string }
  | { field: string; atMost: string }
  /** A version counter: equal to `count` (absent counts as 0). */
  | { field: string; count: number }
  /** An ISO instant: absent, or not later than this one. */
  | { field: string; notAfter: string };

/**
 * One item's write: fields set, fields set only if absent, counters added to (exact decimal
 * deltas), fields removed, all under `when`. A write with nothing to change is a pure condition.
 * `replace` writes the whole item (a schema upgrade), its `numbers` as counters.
 */
export interface Write {
  to: Entity;
  set?: Doc;
  setIfAbsent?: Doc;
  add?: Record<string, string>;
  remove?: readonly string[];
  replace?: { fields: Doc; numbers: Record<string, string> };
  when?: readonly Check[];
}

export type Change = readonly Write[];

/** A commit: all of it, or nothing with the index of every write whose condition failed. */
export type CommitResult = { ok: true } | { ok: false; refused: readonly number[] };

/** The fields of a nested path (`session.date`). */
export const pathOf = (field: string): string[] => field.split('.');

/** Whether `doc` (undefined: no such item) satisfies `check`: the reference every store follows. */
export function holds(doc: Doc | undefined, check: Check): boolean {
  if ('item' in check) return check.item === 'exists' ? doc !== undefined : doc === undefined;
  let value: unknown = doc;
  for (const part of pathOf(check.field))
    value = value === undefined || value === null ? undefined : (value as Doc)[part];
  if ('is' in check) return value === undefined;
  if ('eq' in check) return value === check.eq;
  if ('oneOf' in check) return typeof value === 'string' && check.oneOf.includes(value);
  if ('noneOf' in check) return value === undefined || !check.noneOf.includes(String(value));
  if ('notAfter' in check) return value === undefined || String(value) <= check.notAfter;
  const number = dec(value === undefined ? '0' : String(value));
  if ('atLeast' in check) return number.gte(dec(check.atLeast));
  if ('atMost' in check) return number.lte(dec(check.atMost));
  return number.eq(check.count);
}

/** `doc` after `write` (holding its conditions is the caller's): the reference every store follows. */
export function applied(doc: Doc | undefined, write: Write): Doc {
  if (write.replace) return { ...write.replace.fields, ...write.replace.numbers };
  const next: Doc = { ...(doc ?? {}) };
  for (const [field, value] of Object.entries(write.setIfAbsent ?? {}))
    if (next[field] === undefined) next[field] = value;
  Object.assign(next, write.set ?? {});
  for (const [field, delta] of Object.entries(write.add ?? {}))
    next[field] = str(dec(next[field] === undefined ? '0' : String(next[field])).plus(dec(delta)));
  for (const field of write.remove ?? []) delete next[field];
  return next;
}

// ---------------------------------------------------------------------------------------------
// Reading items

const Amount = z.string();
const RecentOrderSchema = z.object({
  symbol: z.string(),
  side: z.enum(ORDER_SIDES),
  signalId: z.string(),
  at: z.string(),
});
const DayTradeSchema = z.object({ session: z.string(), symbol: z.string(), signalId: z.string() });

const AccountDoc = z.object({
  cash: Amount,
  reservedCash: Amount,
  realizedPnl: Amount,
  commissions: Amount,
  exposure: Amount.default('0'),
  openSymbols: Amount.default('0'),
});
const PositionDoc = z.object({
  symbol: z.string(),
  quantity: Amount,
  averageCost: Amount,
  realizedPnl: Amount,
  pendingQuantity: Amount,
  openedInSession: z.string().optional(),
  unresolvedOrder: z.string().optional(),
  recentOrders: z.array(RecentOrderSchema).default([]),
  exposure: Amount.default('0'),
  seq: Amount.default('0'),
  fills: Amount.default('0'),
});
const PriceDoc = z.object({ price: z.string(), at: z.string() });
const StreaksDoc = z.object({
  lossStreak: z.array(z.string()).default([]),
  failureStreak: z.array(z.string()).default([]),
  seq: Amount.default('0'),
});
const DayTradesDoc = z.object({ trades: z.array(DayTradeSchema).default([]), seq: Amount.default('0') });
export const TradingStateDoc = z.object({
  state: z.enum(TRADING_STATES),
  since: z.string().optional(),
  reason: z.string().optional(),
  source: z.string().optional(),
  trip: z.enum(BREAKER_TRIPS).optional(),
  resetAt: z.string().optional(),
  highWaterMark: z.string().optional(),
  session: z.object({ date: z.string(), startEquity: z.string() }).optional(),
  streaksClearedAt: z.string().optional(),
});
export type TradingStateRecord = z.infer<typeof TradingStateDoc>;

export const ORDER_STATUSES = [...BROKER_ORDER_STATUSES, 'pending_submit', 'unknown'] as const;

/** An order as the book keeps it: the record, plus what booking needs to book each unit once. */
export const OrderDoc = z.object({
  clientOrderId: z.string(),
  signalId: z.string(),
  intent: OrderIntentSchema,
  status: z.enum(ORDER_STATUSES),
  brokerOrderId: z.string().optional(),
  filledQuantity: z.string(),
  bookedQuantity: z.string(),
  bookedCommission: z.string(),
  /** Realized P&L and closed quantity booked so far: a final closing order ends or extends a losing streak. */
  realizedPnl: z.string().default('0'),
  closedQuantity: z.string().default('0'),
  averageFillPrice: z.string().optional(),
  /** When SubmitOrder was cleared to send it: after this the broker may have it. */
  submitClaimedAt: z.string().optional(),
  reservedCashRemaining: z.string(),
  final: z.boolean(),
  createdAt: z.string(),
  updatedAt: z.string(),
});
export type BookedOrder = z.infer<typeof OrderDoc>;

export const TransitionDoc = z.object({
  from: z.enum(TRADING_STATES),
  to: z.enum(TRADING_STATES),
  reason: z.string(),
  source: z.string(),
  at: z.string(),
  trip: z.enum(BREAKER_TRIPS).optional(),
  resetAt: z.string().optional(),
});

const SignalDoc = z.object({
  status: z.enum(SIGNAL_STATUSES),
  clientOrderId: z.string().optional(),
});

export const orderFrom = (doc: Doc): BookedOrder => OrderDoc.parse(doc);
export const tradingStateFrom = (doc: Doc | undefined): TradingStateRecord | undefined =>
  doc === undefined ? undefined : TradingStateDoc.parse(doc);

const positionFrom = (doc: Doc): Position => {
  const { seq, fills, ...position } = PositionDoc.parse(doc);
  return { ...position, seq: Number(seq), fills: Number(fills) };
};

/** The breaker record as the risk checks see it (the state itself is `tradingState`). */
const breakerOf = (record: TradingStateRecord | undefined): Breaker => {
  if (record === undefined) return {};
  const { state: _state, source: _source, ...breaker } = record;
  return breaker;
};

/** A book written by the first schema keeps a versioned account with its lists (see upgrade). */
export const isLegacyAccount = (doc: Doc | undefined): boolean => doc !== undefined && 'version' in doc;

/** The items a snapshot is assembled from. */
export interface BookItems {
  account: Doc;
  tradingState: Doc | undefined;
  streaks: Doc | undefined;
  dayTrades: Doc | undefined;
  positions: readonly Doc[];
  prices: Record<string, Doc>;
}

/** The book as the risk checks read it. */
export function snapshotOf(items: BookItems): PortfolioSnapshot {
  const account = AccountDoc.parse(items.account);
  const streaks = StreaksDoc.parse(items.streaks ?? {});
  const dayTrades = DayTradesDoc.parse(items.dayTrades ?? {});
  const state = tradingStateFrom(items.tradingState);
  const positions: Record<string, Position> = {};
  const recentOrders: RecentOrder[] = [];
  for (const doc of items.positions) {
    const position = positionFrom(doc);
    positions[position.symbol] = position;
    recentOrders.push(...(position.recentOrders ?? []));
  }
  const prices: Record<string, LastPrice> = {};
  for (const [symbol, doc] of Object.entries(items.prices)) prices[symbol] = PriceDoc.parse(doc);
  recentOrders.sort((a, b) => (a.at < b.at ? -1 : a.at > b.at ? 1 : 0));
  const snapshotAccount: Account = {
    cash: account.cash,
    reservedCash: account.reservedCash,
    realizedPnl: account.realizedPnl,
    commissions: account.commissions,
    exposure: account.exposure,
    openSymbols: Number(account.openSymbols),
    recentOrders,
    dayTrades: dayTrades.trades,
    dayTradesSeq: Number(dayTrades.seq),
    lossStreak: streaks.lossStreak,
    failureStreak: streaks.failureStreak,
    streaksSeq: Number(streaks.seq),
  };
  return {
    tradingState: state?.state ?? 'ACTIVE',
    breaker: breakerOf(state),
    account: snapshotAccount,
    positions,
    prices,
  };
}

// ---------------------------------------------------------------------------------------------
// Opening the account, and the first schema's book

/** Opens the account with its starting cash, once. */
export function openAccount(startingCash: string): Change {
  const cash = str(toCents(dec(startingCash)));
  return [
    {
      to: ACCOUNT,
      add: {
        cash,
        buyingPower: cash,
        reservedCash: '0',
        realizedPnl: '0',
        commissions: '0',
        exposure: '0',
        openSymbols: '0',
      },
      when: [{ item: 'absent' }],
    },
  ];
}

const committedOf = (p: Pick<Position, 'quantity' | 'pendingQuantity'>): Decimal =>
  dec(p.quantity).plus(dec(p.pendingQuantity));

/** What a symbol's committed quantity adds to the account's exposure counter, at `price`. */
const exposureAt = (committed: Decimal, price: string): Decimal =>
  committed.isZero() ? dec(0) : toCents(committed.abs().times(dec(price)));

const heldOf = (committed: Decimal): number => (committed.isZero() ? 0 : 1);

/**
 * The first schema kept the whole book's memory in one versioned account item (amounts as text,
 * the order memory, day trades and streaks as lists in it). Moves it into the items above, on the
 * condition that nothing wrote the old items since they were read.
 */
export function upgrade(account: Doc, positions: readonly Doc[], prices: Record<string, Doc>): Change {
  const legacy = z
    .object({
      cash: z.string(),
      reservedCash: z.string(),
      realizedPnl: z.string(),
      commissions: z.string(),
      version: z.union([z.number(), z.string()]),
      recentOrders: z.array(RecentOrderSchema).default([]),
      dayTrades: z.array(DayTradeSchema).default([]),
      lossStreak: z.array(z.string()).default([]),
      failureStreak: z.array(z.string()).default([]),
    })
    .parse(account);
  let exposure = dec(0);
  let open = 0;
  const writes: Write[] = positions.map((doc) => {
    const p = PositionDoc.parse(doc);
    const committed = committedOf(p);
    const mark = PriceDoc.safeParse(prices[p.symbol]).data?.price ?? p.averageCost;
    const contribution = exposureAt(committed, mark);
    exposure = exposure.plus(contribution);
    open += heldOf(committed);
    return {
      to: positionOf(p.symbol),
      replace: {
        fields: {
          symbol: p.symbol,
          quantity: p.quantity,
          averageCost: p.averageCost,
          realizedPnl: p.realizedPnl,
          ...(p.openedInSession === undefined ? {} : { openedInSession: p.openedInSession }),
          ...(p.unresolvedOrder === undefined ? {} : { unresolvedOrder: p.unresolvedOrder }),
          recentOrders: legacy.recentOrders.filter((o) => o.symbol === p.symbol),
          exposure: str(contribution),
        },
        numbers: { pendingQuantity: p.pendingQuantity, seq: '1', fills: '0' },
      },
      when: [
        { field: 'quantity', eq: p.quantity },
        { field: 'pendingQuantity', eq: p.pendingQuantity },
      ],
    };
  });
  return [
    {
      to: ACCOUNT,
      replace: {
        fields: {},
        numbers: {
          cash: legacy.cash,
          reservedCash: legacy.reservedCash,
          buyingPower: str(dec(legacy.cash).minus(dec(legacy.reservedCash))),
          realizedPnl: legacy.realizedPnl,
          commissions: legacy.commissions,
          exposure: str(exposure),
          openSymbols: String(open),
        },
      },
      when: [{ field: 'version', count: Number(legacy.version) }],
    },
    ...writes,
    {
      to: STREAKS,
      replace: {
        fields: { lossStreak: legacy.lossStreak, failureStreak: legacy.failureStreak },
        numbers: { seq: '1' },
      },
    },
    { to: DAY_TRADES, replace: { fields: { trades: legacy.dayTrades }, numbers: { seq: '1' } } },
  ];
}

// ---------------------------------------------------------------------------------------------
// Deciding a signal

/** The UTC minute of an instant: the order-rate counter's bucket. */
export const minuteOf = (at: string): string => at.slice(0, 16);

/**
 * Approves an order: the signal moves received → approved, the order is written once, the
 * position and account reserve for it, and the memories the checks read are updated — on the
 * conditions that the signal is undecided, the trading state is still the one the decision read,
 * the symbol's position is as read, and the account's counters still leave room for the order
 * (ApprovalBookkeeping.limits). Writes: 0 signal, 1 order, 2 trading state, 3 position, 4 account,
 * then the order-rate counter and (a day trade) the day-trade log.
 */
export function approval(
  intent: OrderIntent,
  snapshot: PortfolioSnapshot,
  at: string,
  bookkeeping: ApprovalBookkeeping,
  notes: readonly Denial[] = [],
): Change {
  const read = snapshot.positions[intent.symbol];
  const position = read ?? flatPosition(intent.symbol);
  const signed = signedQuantity(intent.side, intent.quantity);
  const before = committedOf(position);
  const after = before.plus(signed);
  const contribution = exposureAt(after, intent.referencePrice);
  const exposureDelta = contribution.minus(dec(position.exposure ?? '0'));
  const openDelta = heldOf(after) - heldOf(before);
  const reserved = dec(intent.reservedCash);
  const limits = bookkeeping.limits;

  const room: Check[] = [];
  if (limits?.buyingPower && reserved.gt(0)) room.push({ field: 'buyingPower', atLeast: str(reserved) });
  if (limits?.maxExposure !== undefined && exposureDelta.gt(0))
    room.push({ field: 'exposure', atMost: str(dec(limits.maxExposure).minus(exposureDelta)) });
  if (limits?.maxOpenPositions !== undefined && openDelta > 0)
    room.push({ field: 'openSymbols', atMost: String(limits.maxOpenPositions - openDelta) });

  const writes: Write[] = [
    {
      to: signalOf(intent.signalId),
      set: {
        status: 'approved',
        clientOrderId: intent.clientOrderId,
        updatedAt: at,
        ...(notes.length > 0 ? { denials: notes } : {}),
      },
      when: [{ field: 'status', oneOf: ['received'] }],
    },
    {
      to: orderOf(intent.clientOrderId),
      replace: {
        numbers: {},
        fields: {
          clientOrderId: intent.clientOrderId,
          signalId: intent.signalId,
          intent,
          status: 'pending_submit',
          filledQuantity: '0',
          bookedQuantity: '0',
          bookedCommission: '0',
          realizedPnl: '0',
          closedQuantity: '0',
          reservedCashRemaining: intent.reservedCash,
          final: false,
          createdAt: at,
          updatedAt: at,
        } satisfies BookedOrder,
      },
      when: [{ item: 'absent' }],
    },
    {
      to: TRADING_STATE,
      // The state the risk check saw must still hold: a HALT or REDUCING that lands between the
      // check and the commit makes the approval run again against it.
      when:
        snapshot.tradingState === 'ACTIVE'
          ? [{ field: 'state', noneOf: ['REDUCING', 'HALTED'] }]
          : [{ field: 'state', eq: snapshot.tradingState }],
    },
    {
      to: positionOf(intent.symbol),
      set: {
        symbol: intent.symbol,
        recentOrders: bookkeeping.recentOrders,
        exposure: str(contribution),
        ...(bookkeeping.openedInSession === undefined
          ? {}
          : { openedInSession: bookkeeping.openedInSession }),
      },
      setIfAbsent: { quantity: '0', averageCost: '0', realizedPnl: '0' },
      add: { pendingQuantity: str(signed), seq: '1' },
      ...(bookkeeping.openedInSession === undefined ? { remove: ['openedInSession'] } : {}),
      when: [{ field: 'seq', count: read?.seq ?? 0 }],
    },
    {
      to: ACCOUNT,
      add: {
        reservedCash: str(reserved),
        buyingPower: str(reserved.neg()),
        exposure: str(exposureDelta),
        openSymbols: String(openDelta),
      },
      when: [{ item: 'exists' }, ...room],
    },
  ];
  if (limits?.maxOrdersPerMinute !== undefined)
    writes.push({
      to: { kind: 'rate', minute: minuteOf(at) },
      add: { count: '1' },
      when: [{ field: 'count', atMost: String(limits.maxOrdersPerMinute - 1) }],
    });
  if (bookkeeping.dayTrade)
    writes.push({
      to: DAY_TRADES,
      set: { trades: bookkeeping.dayTrades },
      add: { seq: '1' },
      when: [{ field: 'seq', count: snapshot.account.dayTradesSeq ?? 0 }],
    });
  return writes;
}

export type ApprovalResult = 'approved' | 'conflict' | 'already_decided' | 'state_changed';

/**
 * What a refused approval means: `already_decided` (the signal or its order), `state_changed`
 * (the trading state moved), else `conflict` — the symbol's position moved, or the account's room
 * is gone — both of which mean "evaluate again against what is there now".
 */
export function approvalOutcome(result: CommitResult): ApprovalResult {
  if (result.ok) return 'approved';
  if (result.refused.includes(0) || result.refused.includes(1)) return 'already_decided';
  if (result.refused.includes(2)) return 'state_changed';
  return 'conflict';
}

/** received → rejected with every denial, the first as the reason. */
export function rejection(signalId: string, denials: readonly Denial[], at: string): Change {
  const first = denials[0];
  return [
    {
      to: signalOf(signalId),
      set: {
        status: 'rejected',
        reason: first ? `${first.code}: ${first.detail}` : 'REJECTED',
        denials,
        updatedAt: at,
      },
      when: [{ field: 'status', oneOf: ['received'] }],
    },
  ];
}

// ---------------------------------------------------------------------------------------------
// Sending an order

/**
 * Clears an approved order to be sent, atomically with the trading state not being HALTED: the
 * line after which an emergency stop can no longer keep the order from the broker. Writes: 0 the
 * order (not final), 1 the trading state (not HALTED).
 */
export function submissionClaim(clientOrderId: string, at: string): Change {
  return [
    {
      to: orderOf(clientOrderId),
      setIfAbsent: { submitClaimedAt: at },
      when: [{ field: 'final', eq: false }],
    },
    { to: TRADING_STATE, when: [{ field: 'state', noneOf: ['HALTED'] }] },
  ];
}

/**
 * A refused claim: the order has ended (`final`), or trading is HALTED — where a claim made before
 * the halt stands, as that order may be at the broker already.
 */
export function claimOutcome(
  result: CommitResult,
  order: BookedOrder | undefined,
): 'send' | 'halted' | 'final' {
  if (result.ok) return 'send';
  if (result.refused.includes(0) || order === undefined || order.final) return 'final';
  return order.submitClaimedAt === undefined ? 'halted' : 'send';
}

/** The broker has the order: its id and status, and the signal approved → submitted (both or neither). */
export function submission(order: BookedOrder, report: BrokerOrder, at: string): Change {
  return [
    {
      to: orderOf(order.clientOrderId),
      set: { brokerOrderId: report.brokerOrderId, status: report.status, updatedAt: at },
      when: [{ field: 'final', eq: false }],
    },
    {
      to: signalOf(order.signalId),
      set: { status: 'submitted', updatedAt: at },
      when: [{ field: 'status', oneOf: ['approved'] }],
    },
  ];
}

// ---------------------------------------------------------------------------------------------
// Booking what the broker reports

/** What a booking reads besides the order: its symbol's position, the streaks. */
export interface BookingRead {
  order: BookedOrder;
  position: Position | undefined;
  account: Pick<Account, 'lossStreak' | 'failureStreak' | 'streaksSeq'>;
}

export const streaksOf = (doc: Doc | undefined): BookingRead['account'] => {
  const streaks = StreaksDoc.parse(doc ?? {});
  return {
    lossStreak: streaks.lossStreak,
    failureStreak: streaks.failureStreak,
    streaksSeq: Number(streaks.seq),
  };
};
export const positionFromDoc = (doc: Doc | undefined): Position | undefined =>
  doc === undefined ? undefined : positionFrom(doc);
export const signalStatusOf = (doc: Doc | undefined): SignalStatus | undefined =>
  doc === undefined ? undefined : SignalDoc.parse(doc).status;

/**
 * Books a broker report: fills not yet booked move position and cash (each unit once, whatever
 * order reports arrive in: idempotent per cumulative filled quantity); the reservation is released
 * in step with what fills, and all of it once the order is final, which also ends the signal and
 * moves the streaks. Returns the change, the signal's status and the order as they will be once it
 * is committed, and whether it books a close (realized P&L moved).
 */
export function booking(
  read: BookingRead,
  report: BrokerOrder,
  at: string,
): { change: Change; status: SignalStatus; order: BookedOrder; closed: boolean } {
  const { order } = read;
  const intent = order.intent;
  const filled = dec(report.filledQuantity);
  const booked = dec(order.bookedQuantity);
  const newly = filled.gt(booked) ? filled.minus(booked) : dec(0);
  const final = isFinal(report.status);
  const position = read.position ?? flatPosition(intent.symbol);

  let nextPosition: Position = position;
  let cashDelta = dec(0);
  let realizedDelta = dec(0);
  let commissionDelta = dec(0);
  let commissionCharged = dec(order.bookedCommission);
  let orderRealized = dec(order.realizedPnl);
  let orderClosed = dec(order.closedQuantity);
  if (newly.gt(0)) {
    // The broker reports a cumulative average; the price of the new units is what it adds.
    const previousNotional = booked.times(dec(order.averageFillPrice ?? '0'));
    const newlyPrice = filled
      .times(dec(report.averageFillPrice ?? '0'))
      .minus(previousNotional)
      .div(newly);
    commissionDelta = dec(report.commission).minus(commissionCharged);
    const fill = bookFill(position, intent.side, str(newly), str(newlyPrice), str(commissionDelta));
    commissionCharged = dec(report.commission);
    orderRealized = orderRealized.plus(dec(fill.realizedPnlDelta));
    orderClosed = orderClosed.plus(dec(fill.closedQuantity));
    nextPosition = fill.position;
    cashDelta = dec(fill.cashDelta);
    realizedDelta = dec(fill.realizedPnlDelta);
  }
  // Release the reservation in step with what is filled, and all of it once the order is final.
  const remaining = dec(order.reservedCashRemaining);
  const release = final
    ? remaining
    : Decimal.min(
        Decimal.max(toCents(dec(intent.reservedCash).times(newly).div(dec(intent.quantity))), 0),
        remaining,
      );
  const unfilled = final ? Decimal.max(dec(intent.quantity).minus(filled), 0) : dec(0);
  const pendingRelease = signedQuantity(intent.side, newly.plus(unfilled));

  // Fills move units from pending to held: the committed quantity, what decisions read, moves only
  // when an order ends short of its quantity. Only then is the position's `seq` moved.
  const committedBefore = committedOf(position);
  const committedAfter = committedBefore.minus(signedQuantity(intent.side, unfilled));
  const committedMoves = !committedAfter.eq(committedBefore);
  const settlesUnresolved = final && position.unresolvedOrder === order.clientOrderId;
  const unitPrice = committedBefore.isZero()
    ? intent.referencePrice
    : str(dec(position.exposure ?? '0').div(committedBefore.abs()));
  const contribution = committedMoves ? exposureAt(committedAfter, unitPrice) : dec(position.exposure ?? '0');
  const exposureDelta = contribution.minus(dec(position.exposure ?? '0'));
  const openDelta = heldOf(committedAfter) - heldOf(committedBefore);

  const status: SignalStatus = !final
    ? 'submitted'
    : filled.gte(dec(intent.quantity))
      ? 'filled'
      : report.status === 'rejected' && filled.isZero()
        ? 'rejected'
        : 'cancelled';

  const writes: Write[] = [
    {
      to: orderOf(order.clientOrderId),
      set: {
        status: report.status,
        brokerOrderId: report.brokerOrderId,
        filledQuantity: str(Decimal.max(filled, booked)),
        bookedQuantity: str(Decimal.max(filled, booked)),
        bookedCommission: str(commissionCharged),
        realizedPnl: str(orderRealized),
        closedQuantity: str(orderClosed),
        averageFillPrice: report.averageFillPrice ?? order.averageFillPrice ?? '0',
        reservedCashRemaining: str(remaining.minus(release)),
        final,
        updatedAt: at,
      },
      // Booked by nobody else since the read: each unit once.
      when: [
        { field: 'bookedQuantity', eq: order.bookedQuantity },
        { field: 'final', eq: false },
      ],
    },
    {
      to: signalOf(order.signalId),
      set: {
        status,
        filledQuantity: str(filled),
        averageFillPrice: report.averageFillPrice ?? '0',
        updatedAt: at,
        ...(status === 'rejected'
          ? { reason: `BROKER_REJECTED: ${report.reason ?? 'rejected by the broker'}` }
          : status === 'cancelled'
            ? {
                reason: `ORDER_${report.status.toUpperCase()}: ${report.reason ?? `filled ${str(filled)} of ${intent.quantity}`}`,
              }
            : {}),
      },
      when: [{ item: 'exists' }],
    },
  ];
  // Only what moved is written: a report that books nothing new leaves position and account alone.
  if (newly.gt(0) || unfilled.gt(0) || release.gt(0) || settlesUnresolved)
    writes.push(
      {
        to: positionOf(intent.symbol),
        set: {
          symbol: intent.symbol,
          quantity: nextPosition.quantity,
          averageCost: nextPosition.averageCost,
          realizedPnl: nextPosition.realizedPnl,
          ...(committedMoves ? { exposure: str(contribution) } : {}),
        },
        add: {
          pendingQuantity: str(pendingRelease.neg()),
          fills: '1',
          ...(committedMoves || settlesUnresolved ? { seq: '1' } : {}),
        },
        ...(settlesUnresolved ? { remove: ['unresolvedOrder'] } : {}),
        when: [
          { field: 'fills', count: position.fills ?? 0 },
          // What decisions read moves: conditioned on it as read, as an approval is.
          ...(committedMoves ? [{ field: 'seq', count: position.seq ?? 0 }] : []),
        ],
      },
      {
        to: ACCOUNT,
        add: {
          cash: str(cashDelta),
          reservedCash: str(release.neg()),
          buyingPower: str(cashDelta.plus(release)),
          realizedPnl: str(realizedDelta),
          commissions: str(commissionDelta),
          exposure: str(exposureDelta),
          openSymbols: String(openDelta),
        },
      },
    );
  if (final) {
    // The broker answered: the failure streak ends. A closing order that lost extends the losing
    // streak; one that did not lose ends it.
    const { lossStreak, failureStreak, streaksSeq } = read.account;
    const nextLoss = orderClosed.gt(0)
      ? orderRealized.lt(0)
        ? [...lossStreak, at].slice(-100)
        : []
      : lossStreak;
    if (failureStreak.length > 0 || nextLoss !== lossStreak)
      writes.push({
        to: STREAKS,
        set: { lossStreak: nextLoss, failureStreak: [] },
        add: { seq: '1' },
        when: [{ field: 'seq', count: streaksSeq ?? 0 }],
      });
  }
  const afterwards = { ...order, ...(writes[0]?.set as Partial<BookedOrder>) };
  return { change: writes, status, order: afterwards, closed: orderClosed.gt(dec(order.closedQuantity)) };
}

/**
 * Cancels an order that was never sent: booked as the broker's cancel of an order with nothing
 * filled (the reservation released, the signal ended `cancelled`), on condition that SubmitOrder
 * has not been cleared to send it. Once it has (its claim), the broker may have the order, and only
 * the broker's cancel settles it; a claim that comes after this finds the order final and sends
 * nothing.
 */
export function unsentCancellation(
  read: BookingRead,
  reason: string,
  at: string,
): ReturnType<typeof booking> {
  const booked = booking(
    read,
    {
      clientOrderId: read.order.clientOrderId,
      brokerOrderId: 'never-submitted',
      status: 'cancelled',
      filledQuantity: '0',
      commission: '0',
      reason,
    },
    at,
  );
  const [order, ...rest] = booked.change;
  if (order === undefined) return booked;
  const unclaimed: Write = {
    ...order,
    when: [...(order.when ?? []), { field: 'submitClaimedAt', is: 'absent' }],
  };
  return { ...booked, change: [unclaimed, ...rest] };
}

/** What a signal's cancel step did, order by order: kept on the signal for the audit trail. */
export interface CancelReport {
  at: string;
  orders: { clientOrderId: string; outcome: string }[];
}

/**
 * Records a signal's cancel step on the signal, while it is undecided: a signal that only cancels
 * (action `cancel`) ends `completed` with it; one that goes on to trade (`"cancel": true`) stays
 * undecided for its risk check, which sees the step done.
 */
export function cancelsRecorded(
  signalId: string,
  report: CancelReport,
  completes: boolean,
  at: string,
): Change {
  const cancelled = report.orders.length;
  return [
    {
      to: signalOf(signalId),
      set: {
        cancels: report,
        updatedAt: at,
        ...(completes
          ? {
              status: 'completed',
              reason: `ORDERS_CANCELLED: ${cancelled === 0 ? 'no open orders to cancel' : `${cancelled} open order${cancelled === 1 ? '' : 's'} cancelled`}`,
            }
          : {}),
      },
      when: [{ field: 'status', oneOf: ['received'] }],
    },
  ];
}

// ---------------------------------------------------------------------------------------------
// Failing a signal

/** What failing a signal reads: the signal, its order (if any), the order's position, the streaks. */
export interface FailureRead {
  signalId: string;
  signal: Doc | undefined;
  order: BookedOrder | undefined;
  position: Position | undefined;
  account: BookingRead['account'];
}

/**
 * Ends a signal as failed: never one that filled, never twice (a failure counts once towards the
 * streak). An order still open is marked unknown and keeps its reservation, and its symbol is
 * blocked until the reconciler settles it (RECONCILIATION_PENDING) — which needs the position's
 * item to exist. Undefined: nothing to change.
 */
export function failure(read: FailureRead, reason: string, at: string): Change | undefined {
  const status = signalStatusOf(read.signal);
  if (status === undefined || status === 'filled' || status === 'failed' || status === 'completed')
    return undefined;
  const order = read.order !== undefined && !read.order.final ? read.order : undefined;
  if (order !== undefined && read.position === undefined) return undefined;
  const { failureStreak, streaksSeq } = read.account;
  const writes: Write[] = [
    {
      to: signalOf(read.signalId),
      set: { status: 'failed', reason, updatedAt: at },
      // A fill is never overwritten; a broker rejection or cancel found while compensating is.
      when: [{ item: 'exists' }, { field: 'status', noneOf: ['filled', 'failed'] }],
    },
    {
      to: STREAKS,
      set: { failureStreak: [...failureStreak, at].slice(-100) },
      add: { seq: '1' },
      when: [{ field: 'seq', count: streaksSeq ?? 0 }],
    },
  ];
  if (order !== undefined)
    writes.push(
      {
        to: orderOf(order.clientOrderId),
        set: { status: 'unknown', updatedAt: at },
        when: [{ field: 'final', eq: false }],
      },
      {
        to: positionOf(order.intent.symbol),
        set: { unresolvedOrder: order.clientOrderId },
        add: { seq: '1' },
        when: [{ item: 'exists' }],
      },
    );
  return writes;
}

// ---------------------------------------------------------------------------------------------
// The trading state

/** The trading state's move and what else it changes. */
export interface TradingStateChange {
  state: TradingState;
  reason: string;
  /** Who or what moved it: 'breaker', 'operator', 'emergency-stop', … */
  source: string;
  trip?: (typeof BREAKER_TRIPS)[number];
  resetAt?: string;
  /** Only move if the state record is still the one read at this `since`, '' for never moved (automatic steps). */
  expectedSince?: string;
  /** A reset's fresh start: the high-water mark and/or the session at today's equity. */
  highWaterMark?: string;
  session?: { date: string; startEquity: string };
  /** Losses and failures so far no longer count towards a streak. */
  clearStreaks?: boolean;
}

export interface TradingStateTransition {
  from: TradingState;
  to: TradingState;
  reason: string;
  source: string;
  at: string;
  trip?: (typeof BREAKER_TRIPS)[number];
  resetAt?: string;
}

/**
 * Moves the trading state and records the transition with its reason, source and time, on the
 * condition that the state is still the one read (another transition would make `from` wrong).
 * Nothing moves when the state and its trip are already as asked (a second stop, a repeated
 * resume), or when `expectedSince` is given and the state has moved since it was read. `id` makes
 * the log entry's key unique.
 */
export function stateTransition(
  current: TradingStateRecord | undefined,
  change: TradingStateChange,
  at: string,
  id: string,
): { transition: TradingStateTransition; change: Change } | undefined {
  const from = current?.state ?? 'ACTIVE';
  if (change.expectedSince !== undefined && (current?.since ?? '') !== change.expectedSince) return undefined;
  if (current !== undefined && from === change.state && current.trip === change.trip) return undefined;
  const transition: TradingStateTransition = {
    from,
    to: change.state,
    reason: change.reason,
    source: change.source,
    at,
    ...(change.trip ? { trip: change.trip } : {}),
    ...(change.resetAt ? { resetAt: change.resetAt } : {}),
  };
  const set: Doc = { state: change.state, since: at, reason: change.reason, source: change.source };
  const remove: string[] = [];
  const optional = (field: string, value: unknown) => {
    if (value === undefined) remove.push(field);
    else set[field] = value;
  };
  optional('trip', change.trip);
  optional('resetAt', change.resetAt);
  if (change.highWaterMark !== undefined) set.highWaterMark = change.highWaterMark;
  if (change.session !== undefined) set.session = change.session;
  if (change.clearStreaks) set.streaksClearedAt = at;
  const when: Check[] =
    current === undefined
      ? [{ item: 'absent' }]
      : current.since === undefined
        ? [
            { field: 'state', eq: from },
            { field: 'since', is: 'absent' },
          ]
        : [
            { field: 'state', eq: from },
            { field: 'since', eq: current.since },
          ];
  return {
    transition,
    change: [
      { to: TRADING_STATE, set, remove, when },
      { to: { kind: 'transition', at, id }, set: { ...transition } },
    ],
  };
}

/** Keeps the session's starting equity and the high-water mark, unless they moved since `read`. */
export function riskMarks(
  marks: { session: { date: string; startEquity: string }; highWaterMark: string },
  read: Breaker,
): Change {
  return [
    {
      to: TRADING_STATE,
      set: { session: marks.session, highWaterMark: marks.highWaterMark },
      setIfAbsent: { state: 'ACTIVE' },
      when: [
        read.highWaterMark === undefined
          ? { field: 'highWaterMark', is: 'absent' }
          : { field: 'highWaterMark', eq: read.highWaterMark },
        ...(read.session === undefined
          ? [{ field: 'session', is: 'absent' } as const]
          : [
              { field: 'session.date', eq: read.session.date } as const,
              { field: 'session.startEquity', eq: read.session.startEquity } as const,
            ]),
      ],
    },
  ];
}

/** A symbol's last price, only ever forward in time: a late-arriving old alert must not overwrite it. */
export function price(symbol: string, value: string, at: string): Change {
  return [{ to: priceOf(symbol), set: { price: value, at }, when: [{ field: 'at', notAfter: at }] }];
}
