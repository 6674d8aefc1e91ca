import { randomUUID } from 'node:crypto';
import {
  type DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  QueryCommand,
  ScanCommand,
  TransactGetCommand,
  TransactWriteCommand,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import * as z from 'zod';
import { Decimal, dec, str, toCents } from '../../domain/money.js';
import type { ApprovalBookkeeping, Denial } from '../../domain/risk.js';
import {
  type Account,
  BREAKER_TRIPS,
  BROKER_ORDER_STATUSES,
  type Breaker,
  type BrokerOrder,
  bookFill,
  flatPosition,
  type LastPrice,
  ORDER_SIDES,
  type OrderIntent,
  OrderIntentSchema,
  type PortfolioSnapshot,
  type Position,
  SIGNAL_STATUSES,
  type SignalStatus,
  signedQuantity,
  TRADING_STATES,
  type TradingState,
} from '../../domain/trading.js';
import type {
  ApprovalResult,
  OrderRecord,
  SubmissionClaim,
  TradingStateChange,
  TradingStateTransition,
  TradingStore,
} from '../../ports/index.js';
import { cancellationReasons } from './client.js';
import type { TableNames } from './tables.js';

const PK = 'PORTFOLIO';
const ACCOUNT = { pk: PK, sk: 'ACCOUNT' };
const TRADING_STATE = { pk: PK, sk: 'TRADING_STATE' };
const positionKey = (symbol: string) => ({ pk: PK, sk: `POSITION#${symbol}` });
const priceKey = (symbol: string) => ({ pk: PK, sk: `PRICE#${symbol}` });

const AccountItem = z.object({
  cash: z.string(),
  reservedCash: z.string(),
  realizedPnl: z.string(),
  commissions: z.string(),
  version: z.number().int(),
  recentOrders: z
    .array(z.object({ symbol: z.string(), side: z.enum(ORDER_SIDES), signalId: z.string(), at: z.string() }))
    .default([]),
  dayTrades: z.array(z.object({ session: z.string(), symbol: z.string(), signalId: z.string() })).default([]),
  lossStreak: z.array(z.string()).default([]),
  failureStreak: z.array(z.string()).default([]),
});
const PositionItem = z.object({
  symbol: z.string(),
  quantity: z.string(),
  averageCost: z.string(),
  realizedPnl: z.string(),
  pendingQuantity: z.string(),
  openedInSession: z.string().optional(),
  unresolvedOrder: z.string().optional(),
});
const PriceItem = z.object({ price: z.string(), at: z.string() });
const TradingStateItem = z.object({
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
type TradingStateItem = z.infer<typeof TradingStateItem>;

/** The breaker record as the risk checks see it (the state itself is `tradingState`). */
const breakerOf = (item: TradingStateItem | undefined): Breaker => {
  if (item === undefined) return {};
  const { state: _state, source: _source, ...breaker } = item;
  return breaker;
};

/**
 * An order's partition in the orders table's `byLifecycle` index (sort key `createdAt`): `open`
 * while it is not final, `final` from the write that makes it final. Every write to an order item
 * sets `lifecycle` together with `final`, in the same write, so the two never disagree.
 *
 * One index with two partitions rather than two indexes (all orders by time, plus a sparse one
 * of the open ones): CloudFormation adds one index per table per deployment, and each order
 * write then updates one index entry, not two.
 */
const ORDER_LIFECYCLES = ['open', 'final'] as const;
type OrderLifecycle = (typeof ORDER_LIFECYCLES)[number];
const lifecycleOf = (final: boolean): OrderLifecycle => (final ? 'final' : 'open');
const BY_LIFECYCLE = 'byLifecycle';
/** How many orders written before the index the complete listing stamps at a time. */
const STAMP_CONCURRENCY = 16;

const newestFirst = (a: OrderRecord, b: OrderRecord) => (a.createdAt < b.createdAt ? 1 : -1);

const OrderItem = z.object({
  clientOrderId: z.string(),
  signalId: z.string(),
  intent: OrderIntentSchema,
  status: z.enum([...BROKER_ORDER_STATUSES, 'pending_submit', 'unknown']),
  brokerOrderId: z.string().optional(),
  filledQuantity: z.string(),
  bookedQuantity: z.string(),
  bookedCommission: z.string(),
  /** Realized P&L and closed quantity booked so far: a final closing order ends or extends a losing streak. */
  realizedPnl: z.string().default('0'),
  closedQuantity: z.string().default('0'),
  averageFillPrice: z.string().optional(),
  /** When SubmitOrder was cleared to send it: after this the broker may have it (see claimSubmission). */
  submitClaimedAt: z.string().optional(),
  reservedCashRemaining: z.string(),
  final: z.boolean(),
  /** Absent on orders written before the `byLifecycle` index existed (see scanOpenOrders). */
  lifecycle: z.enum(ORDER_LIFECYCLES).optional(),
  createdAt: z.string(),
  updatedAt: z.string(),
});
type OrderItem = z.infer<typeof OrderItem>;

const toOrderRecord = (item: OrderItem): OrderRecord => {
  const {
    bookedCommission,
    reservedCashRemaining: _r,
    closedQuantity: _q,
    lifecycle: _lifecycle,
    ...record
  } = item;
  return { ...record, commission: bookedCommission };
};

const MAX_CONFLICT_RETRIES = 20;

/**
 * A condition that the position item is exactly as it was read. Reads of several items (a Query,
 * or two GetItems) are not one snapshot: a concurrent transaction can be seen on one item and not
 * yet on another. Conditioning every item a decision read — not only the account version — makes
 * a torn read fail the commit and re-run instead of breaching a limit or losing an update.
 */
function positionUnchanged(
  position: Position,
  existed: boolean,
): { condition: string; values: Record<string, string> } {
  return existed
    ? {
        condition: 'quantity = :readQuantity AND pendingQuantity = :readPending',
        values: { ':readQuantity': position.quantity, ':readPending': position.pendingQuantity },
      }
    : { condition: 'attribute_not_exists(pk)', values: {} };
}

export class OptimisticConflictError extends Error {
  override readonly name = 'OptimisticConflictError';
}

export class DynamoTradingStore implements TradingStore {
  constructor(
    private readonly db: DynamoDBDocumentClient,
    private readonly tables: TableNames,
    /** The cash the account opens with: the paper broker's setting, or the broker account's cash. */
    private readonly startingCash: string | (() => Promise<string>),
    /** Symbols that may gain a position: always read, so a position created concurrently is seen. */
    private readonly tradableSymbols: readonly string[] = [],
  ) {}

  async snapshot(): Promise<PortfolioSnapshot> {
    const items: Record<string, unknown>[] = [];
    let startKey: Record<string, unknown> | undefined;
    do {
      const page = await this.db.send(
        new QueryCommand({
          TableName: this.tables.portfolio,
          // Positions and prices only (POSITION# … PRICE#): not the trading-state history.
          KeyConditionExpression: 'pk = :pk AND sk BETWEEN :from AND :to',
          ExpressionAttributeValues: { ':pk': PK, ':from': 'POSITION#', ':to': 'PRICE#\uffff' },
          ConsistentRead: true,
          ExclusiveStartKey: startKey,
        }),
      );
      items.push(...(page.Items ?? []));
      startKey = page.LastEvaluatedKey;
    } while (startKey);

    // A Query is read-committed per item, not a snapshot: it can see one item after a concurrent
    // transaction and another before it. What the risk checks decide on (account, trading state,
    // every position) is therefore read again with TransactGetItems, which is serializable with
    // every TransactWriteItems; the approval's version condition then covers all of it.
    const symbols = new Set(this.tradableSymbols);
    for (const item of items) {
      const sk = String(item.sk);
      if (sk.startsWith('POSITION#')) symbols.add(sk.slice('POSITION#'.length));
    }
    const keys = [ACCOUNT, TRADING_STATE, ...[...symbols].map(positionKey)];
    if (keys.length > 100) throw new Error(`${keys.length - 2} positions exceed one consistent read (98)`);
    const consistent = await this.db.send(
      new TransactGetCommand({
        TransactItems: keys.map((Key) => ({ Get: { TableName: this.tables.portfolio, Key } })),
      }),
    );
    const decided = (consistent.Responses ?? []).flatMap((r) => (r.Item ? [r.Item] : []));
    const pricesOnly = items.filter((item) => String(item.sk).startsWith('PRICE#'));

    let account: Account | undefined;
    let stateItem: TradingStateItem | undefined;
    const positions: Record<string, Position> = {};
    const prices: Record<string, LastPrice> = {};
    for (const item of [...decided, ...pricesOnly]) {
      const sk = String(item.sk);
      if (sk === 'ACCOUNT') account = AccountItem.parse(item);
      else if (sk === 'TRADING_STATE') stateItem = TradingStateItem.parse(item);
      else if (sk.startsWith('POSITION#')) {
        const position = PositionItem.parse(item);
        positions[position.symbol] = position;
      } else if (sk.startsWith('PRICE#')) prices[sk.slice('PRICE#'.length)] = PriceItem.parse(item);
    }
    return {
      tradingState: stateItem?.state ?? 'ACTIVE',
      breaker: breakerOf(stateItem),
      account: account ?? (await this.openAccount()),
      positions,
      prices,
    };
  }

  private async openAccount(): Promise<Account> {
    const account: Account = {
      cash: str(
        toCents(dec(typeof this.startingCash === 'string' ? this.startingCash : await this.startingCash())),
      ),
      reservedCash: '0',
      realizedPnl: '0',
      commissions: '0',
      version: 0,
      recentOrders: [],
      dayTrades: [],
      lossStreak: [],
      failureStreak: [],
    };
    try {
      await this.db.send(
        new PutCommand({
          TableName: this.tables.portfolio,
          Item: { ...ACCOUNT, ...account },
          ConditionExpression: 'attribute_not_exists(pk)',
        }),
      );
      return account;
    } catch (error) {
      if ((error as Error).name !== 'ConditionalCheckFailedException') throw error;
      const existing = await this.db.send(
        new GetCommand({ TableName: this.tables.portfolio, Key: ACCOUNT, ConsistentRead: true }),
      );
      return AccountItem.parse(existing.Item);
    }
  }

  /** The paper broker's market price: the latest price any alert carried for the symbol. */
  async lastPrice(symbol: string): Promise<string | undefined> {
    const result = await this.db.send(
      new GetCommand({ TableName: this.tables.portfolio, Key: priceKey(symbol), ConsistentRead: true }),
    );
    return result.Item === undefined ? undefined : PriceItem.parse(result.Item).price;
  }

  async recordPrice(symbol: string, price: string, at: string): Promise<void> {
    // Only ever move the price forward in time: a late-arriving old alert must not overwrite it.
    try {
      await this.db.send(
        new PutCommand({
          TableName: this.tables.portfolio,
          Item: { ...priceKey(symbol), price, at },
          ConditionExpression: 'attribute_not_exists(pk) OR #at <= :at',
          ExpressionAttributeNames: { '#at': 'at' },
          ExpressionAttributeValues: { ':at': at },
        }),
      );
    } catch (error) {
      if ((error as Error).name !== 'ConditionalCheckFailedException') throw error;
    }
  }

  async approve(
    intent: OrderIntent,
    snapshot: PortfolioSnapshot,
    at: string,
    bookkeeping: ApprovalBookkeeping,
    notes: Denial[] = [],
  ): Promise<ApprovalResult> {
    const signed = signedQuantity(intent.side, intent.quantity);
    const position = snapshot.positions[intent.symbol] ?? flatPosition(intent.symbol);
    const unchanged = positionUnchanged(position, snapshot.positions[intent.symbol] !== undefined);
    try {
      await this.db.send(
        new TransactWriteCommand({
          TransactItems: [
            {
              Update: {
                TableName: this.tables.signals,
                Key: { pk: intent.signalId },
                UpdateExpression: `SET #status = :approved, clientOrderId = :coid, updatedAt = :at${notes.length > 0 ? ', denials = :notes' : ''} REMOVE undecided`,
                ConditionExpression: '#status = :received',
                ExpressionAttributeNames: { '#status': 'status' },
                ExpressionAttributeValues: {
                  ':approved': 'approved',
                  ':received': 'received',
                  ':coid': intent.clientOrderId,
                  ':at': at,
                  ...(notes.length > 0 ? { ':notes': notes } : {}),
                },
              },
            },
            {
              Put: {
                TableName: this.tables.orders,
                Item: {
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
                  lifecycle: lifecycleOf(false),
                  createdAt: at,
                  updatedAt: at,
                } satisfies OrderItem,
                ConditionExpression: 'attribute_not_exists(clientOrderId)',
              },
            },
            {
              Update: {
                TableName: this.tables.portfolio,
                Key: ACCOUNT,
                UpdateExpression:
                  'SET reservedCash = :reserved, recentOrders = :recent, dayTrades = :dayTrades, version = version + :one',
                ConditionExpression: 'version = :version',
                ExpressionAttributeValues: {
                  ':reserved': str(dec(snapshot.account.reservedCash).plus(dec(intent.reservedCash))),
                  ':recent': bookkeeping.recentOrders,
                  ':dayTrades': bookkeeping.dayTrades,
                  ':version': snapshot.account.version,
                  ':one': 1,
                },
              },
            },
            {
              Update: {
                TableName: this.tables.portfolio,
                Key: positionKey(intent.symbol),
                UpdateExpression:
                  'SET symbol = :symbol, quantity = if_not_exists(quantity, :zero), averageCost = if_not_exists(averageCost, :zero), realizedPnl = if_not_exists(realizedPnl, :zero), pendingQuantity = :pending' +
                  (bookkeeping.openedInSession === undefined
                    ? ' REMOVE openedInSession'
                    : ', openedInSession = :opened'),
                ExpressionAttributeValues: {
                  ':symbol': intent.symbol,
                  ':zero': '0',
                  ':pending': str(dec(position.pendingQuantity).plus(signed)),
                  ...(bookkeeping.openedInSession === undefined
                    ? {}
                    : { ':opened': bookkeeping.openedInSession }),
                  ...unchanged.values,
                },
                ConditionExpression: unchanged.condition,
              },
            },
            {
              ConditionCheck: {
                TableName: this.tables.portfolio,
                Key: TRADING_STATE,
                // The state the risk check saw must still hold: a HALT or REDUCING that lands
                // between the check and the commit makes the approval re-run against it.
                ConditionExpression:
                  snapshot.tradingState === 'ACTIVE'
                    ? 'attribute_not_exists(pk) OR #state = :state'
                    : '#state = :state',
                ExpressionAttributeNames: { '#state': 'state' },
                ExpressionAttributeValues: { ':state': snapshot.tradingState },
              },
            },
          ],
        }),
      );
      return 'approved';
    } catch (error) {
      const reasons = cancellationReasons(error);
      if (reasons === undefined) throw error;
      if (reasons[0] === 'ConditionalCheckFailed' || reasons[1] === 'ConditionalCheckFailed')
        return 'already_decided';
      if (reasons[4] === 'ConditionalCheckFailed') return 'state_changed';
      // The account moved (another approval or a fill) or a concurrent transaction touched the same items.
      return 'conflict';
    }
  }

  async reject(signalId: string, denials: Denial[], at: string): Promise<boolean> {
    const first = denials[0];
    try {
      await this.db.send(
        new UpdateCommand({
          TableName: this.tables.signals,
          Key: { pk: signalId },
          UpdateExpression:
            'SET #status = :rejected, reason = :reason, denials = :denials, updatedAt = :at REMOVE undecided',
          ConditionExpression: '#status = :received',
          ExpressionAttributeNames: { '#status': 'status' },
          ExpressionAttributeValues: {
            ':rejected': 'rejected',
            ':received': 'received',
            ':reason': first ? `${first.code}: ${first.detail}` : 'REJECTED',
            ':denials': denials,
            ':at': at,
          },
        }),
      );
      return true;
    } catch (error) {
      if ((error as Error).name === 'ConditionalCheckFailedException') return false;
      throw error;
    }
  }

  private async readOrder(clientOrderId: string): Promise<OrderItem | undefined> {
    const result = await this.db.send(
      new GetCommand({ TableName: this.tables.orders, Key: { clientOrderId }, ConsistentRead: true }),
    );
    return result.Item === undefined ? undefined : OrderItem.parse(result.Item);
  }

  async getOrder(clientOrderId: string): Promise<OrderRecord | undefined> {
    const item = await this.readOrder(clientOrderId);
    return item && toOrderRecord(item);
  }

  /**
   * The newest `limit` orders, from the `byLifecycle` index: the newest `limit` of each partition,
   * merged. Its cost follows `limit`, not the order history. An index is eventually consistent: a
   * write of the last moments may not show yet, and an order just made final may show in both
   * partitions (the later copy is kept) or, for a moment, in neither. Fine for what reads this
   * list (the status read, the dashboard, the operator's `orders`), which decides nothing.
   */
  async listOrders(limit: number): Promise<OrderRecord[]> {
    if (limit <= 0) return [];
    const [final, open] = await Promise.all([
      this.queryLifecycle('final', limit),
      this.queryLifecycle('open', limit),
    ]);
    const latest = new Map<string, OrderRecord>();
    for (const order of [...final, ...open].map(toOrderRecord)) {
      const seen = latest.get(order.clientOrderId);
      if (seen === undefined || order.updatedAt > seen.updatedAt) latest.set(order.clientOrderId, order);
    }
    return [...latest.values()].sort(newestFirst).slice(0, limit);
  }

  /**
   * Orders not yet final (in flight, or `unknown`).
   *
   * By default from the `byLifecycle` index, each order then read again consistently: none
   * returned is final and each is as it is now, but an order approved in the last moments may be
   * missing (the index is eventually consistent). The reconciler and the operator's view can live
   * with that: the reconciler settles only orders untouched for minutes, and its periodic
   * complete pass finds whatever the index lacks.
   *
   * `complete` is for the emergency stop, which cannot: an order approved and cleared to send just
   * before the halt may be at the broker, and an order the stop does not see it does not cancel.
   * It scans the table with a consistent read, so every order committed before the call is seen —
   * at a cost that grows with the order history, which only the rare stop and the reconciler's
   * hourly pass pay.
   */
  async listOpenOrders(options: { complete?: boolean } = {}): Promise<OrderRecord[]> {
    if (options.complete) return this.scanOpenOrders();
    const listed = await this.queryLifecycle('open');
    const current = await Promise.all(listed.map((order) => this.readOrder(order.clientOrderId)));
    return current.flatMap((order) => (order === undefined || order.final ? [] : [toOrderRecord(order)]));
  }

  /** One partition of `byLifecycle`, newest first: every page until `limit` orders (all by default). */
  private async queryLifecycle(
    lifecycle: OrderLifecycle,
    limit = Number.POSITIVE_INFINITY,
  ): Promise<OrderItem[]> {
    const orders: OrderItem[] = [];
    let startKey: Record<string, unknown> | undefined;
    do {
      const page = await this.db.send(
        new QueryCommand({
          TableName: this.tables.orders,
          IndexName: BY_LIFECYCLE,
          KeyConditionExpression: '#lifecycle = :lifecycle',
          ExpressionAttributeNames: { '#lifecycle': 'lifecycle' },
          ExpressionAttributeValues: { ':lifecycle': lifecycle },
          ScanIndexForward: false,
          ...(Number.isFinite(limit) ? { Limit: limit - orders.length } : {}),
          ExclusiveStartKey: startKey,
        }),
      );
      orders.push(...(page.Items ?? []).map((item) => OrderItem.parse(item)));
      startKey = page.LastEvaluatedKey;
    } while (startKey !== undefined && orders.length < limit);
    return orders;
  }

  /**
   * Every open order, by a consistent scan of the whole table (a scan returns at most 1 MB at a
   * time). Orders written before the `byLifecycle` index existed have no `lifecycle`: the scan
   * returns those too and stamps them, so the index lists them from then on (a one-off cost per
   * order). Stamping is best effort and never fails the listing: what it misses, the next
   * complete listing stamps.
   */
  private async scanOpenOrders(): Promise<OrderRecord[]> {
    const open: OrderRecord[] = [];
    const unindexed: OrderItem[] = [];
    let startKey: Record<string, unknown> | undefined;
    do {
      const page = await this.db.send(
        new ScanCommand({
          TableName: this.tables.orders,
          FilterExpression: '#final = :false OR attribute_not_exists(#lifecycle)',
          ExpressionAttributeNames: { '#final': 'final', '#lifecycle': 'lifecycle' },
          ExpressionAttributeValues: { ':false': false },
          ConsistentRead: true,
          ExclusiveStartKey: startKey,
        }),
      );
      for (const item of (page.Items ?? []).map((raw) => OrderItem.parse(raw))) {
        if (item.lifecycle === undefined) unindexed.push(item);
        if (!item.final) open.push(toOrderRecord(item));
      }
      startKey = page.LastEvaluatedKey;
    } while (startKey);
    for (let i = 0; i < unindexed.length; i += STAMP_CONCURRENCY)
      await Promise.all(unindexed.slice(i, i + STAMP_CONCURRENCY).map((item) => this.stampLifecycle(item)));
    return open;
  }

  /**
   * Gives an order written before the index its `lifecycle`, only if it is still unstamped and
   * as final as it was read: a write since then has stamped it itself (every write does), and an
   * older version's write that changed `final` leaves it for the next complete listing.
   */
  private async stampLifecycle(item: OrderItem): Promise<void> {
    await this.db
      .send(
        new UpdateCommand({
          TableName: this.tables.orders,
          Key: { clientOrderId: item.clientOrderId },
          UpdateExpression: 'SET #lifecycle = :lifecycle',
          ConditionExpression: 'attribute_not_exists(#lifecycle) AND #final = :final',
          ExpressionAttributeNames: { '#lifecycle': 'lifecycle', '#final': 'final' },
          ExpressionAttributeValues: { ':lifecycle': lifecycleOf(item.final), ':final': item.final },
        }),
      )
      .catch(() => undefined);
  }

  async claimSubmission(clientOrderId: string, at: string): Promise<SubmissionClaim> {
    try {
      await this.db.send(
        new TransactWriteCommand({
          TransactItems: [
            {
              Update: {
                TableName: this.tables.orders,
                Key: { clientOrderId },
                UpdateExpression:
                  'SET submitClaimedAt = if_not_exists(submitClaimedAt, :at), #lifecycle = :open',
                ConditionExpression: '#final = :false',
                ExpressionAttributeNames: { '#final': 'final', '#lifecycle': 'lifecycle' },
                ExpressionAttributeValues: { ':at': at, ':false': false, ':open': lifecycleOf(false) },
              },
            },
            {
              ConditionCheck: {
                TableName: this.tables.portfolio,
                Key: TRADING_STATE,
                ConditionExpression: 'attribute_not_exists(#state) OR #state <> :halted',
                ExpressionAttributeNames: { '#state': 'state' },
                ExpressionAttributeValues: { ':halted': 'HALTED' },
              },
            },
          ],
        }),
      );
      return 'send';
    } catch (error) {
      const reasons = cancellationReasons(error);
      if (reasons === undefined) throw error;
      if (reasons[0] === 'ConditionalCheckFailed') return 'final';
      // HALTED now; but a claim made before the halt stands: that order may be at the broker already.
      return (await this.readOrder(clientOrderId))?.submitClaimedAt === undefined ? 'halted' : 'send';
    }
  }

  async markSubmitted(order: BrokerOrder, at: string): Promise<void> {
    const existing = await this.readOrder(order.clientOrderId);
    if (existing === undefined) throw new Error(`order ${order.clientOrderId} was never approved`);
    await this.db
      .send(
        new TransactWriteCommand({
          TransactItems: [
            {
              Update: {
                TableName: this.tables.orders,
                Key: { clientOrderId: order.clientOrderId },
                UpdateExpression:
                  'SET brokerOrderId = :bid, #status = :status, updatedAt = :at, #lifecycle = :open',
                ConditionExpression: '#final = :false',
                ExpressionAttributeNames: {
                  '#status': 'status',
                  '#final': 'final',
                  '#lifecycle': 'lifecycle',
                },
                ExpressionAttributeValues: {
                  ':bid': order.brokerOrderId,
                  ':status': order.status,
                  ':at': at,
                  ':false': false,
                  ':open': lifecycleOf(false),
                },
              },
            },
            {
              Update: {
                TableName: this.tables.signals,
                Key: { pk: existing.signalId },
                UpdateExpression: 'SET #status = :submitted, updatedAt = :at',
                ConditionExpression: '#status = :approved',
                ExpressionAttributeNames: { '#status': 'status' },
                ExpressionAttributeValues: { ':submitted': 'submitted', ':approved': 'approved', ':at': at },
              },
            },
          ],
        }),
      )
      .catch((error: unknown) => {
        // Already submitted or already final: recording it again changes nothing.
        if (cancellationReasons(error) === undefined) throw error;
      });
  }

  async applyBrokerOrder(report: BrokerOrder, at: string): Promise<SignalStatus> {
    for (let attempt = 0; attempt < MAX_CONFLICT_RETRIES; attempt++) {
      const order = await this.readOrder(report.clientOrderId);
      if (order === undefined) throw new Error(`order ${report.clientOrderId} was never approved`);
      if (order.final) return this.signalStatusOf(order.signalId);

      const intent = order.intent;
      const filled = dec(report.filledQuantity);
      const booked = dec(order.bookedQuantity);
      const newly = filled.gt(booked) ? filled.minus(booked) : dec(0);
      const final = ['filled', 'cancelled', 'expired', 'rejected'].includes(report.status);
      // Two reads at once; the booking is conditioned on both as read, so their order is free.
      const [accountRead, positionRead] = await Promise.all([
        this.db.send(
          new GetCommand({ TableName: this.tables.portfolio, Key: ACCOUNT, ConsistentRead: true }),
        ),
        this.db.send(
          new GetCommand({
            TableName: this.tables.portfolio,
            Key: positionKey(intent.symbol),
            ConsistentRead: true,
          }),
        ),
      ]);
      const snapshotAccount = AccountItem.parse(accountRead.Item);
      const position =
        positionRead.Item === undefined ? flatPosition(intent.symbol) : PositionItem.parse(positionRead.Item);
      const positionCheck = positionUnchanged(position, positionRead.Item !== undefined);

      let account = { ...snapshotAccount };
      let nextPosition: Position = position;
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
        const commissionDelta = dec(report.commission).minus(commissionCharged);
        const booking = bookFill(position, intent.side, str(newly), str(newlyPrice), str(commissionDelta));
        commissionCharged = dec(report.commission);
        orderRealized = orderRealized.plus(dec(booking.realizedPnlDelta));
        orderClosed = orderClosed.plus(dec(booking.closedQuantity));
        nextPosition = booking.position;
        account = {
          ...account,
          cash: str(dec(account.cash).plus(dec(booking.cashDelta))),
          realizedPnl: str(dec(account.realizedPnl).plus(dec(booking.realizedPnlDelta))),
          commissions: str(dec(account.commissions).plus(commissionDelta)),
        };
      }
      // Release the reservation in step with what is filled, and all of it once the order is final.
      const remaining = dec(order.reservedCashRemaining);
      const release = final
        ? remaining
        : toCents(dec(intent.reservedCash).times(newly).div(dec(intent.quantity))).clampedTo(0, remaining);
      const unfilledPendingRelease = final ? dec(intent.quantity).minus(filled) : dec(0);
      const pendingRelease = signedQuantity(intent.side, newly.plus(Decimal.max(unfilledPendingRelease, 0)));
      account.reservedCash = str(dec(account.reservedCash).minus(release));
      if (final) {
        // The broker answered: the failure streak ends. A closing order that lost extends the
        // losing streak; one that did not lose ends it.
        account.failureStreak = [];
        if (orderClosed.gt(0))
          account.lossStreak = orderRealized.lt(0) ? [...account.lossStreak, at].slice(-100) : [];
      }
      nextPosition = {
        ...nextPosition,
        pendingQuantity: str(dec(position.pendingQuantity).minus(pendingRelease)),
      };
      // The order that blocked the symbol is settled: the symbol trades again.
      if (final && nextPosition.unresolvedOrder === order.clientOrderId) {
        const { unresolvedOrder: _settled, ...unblocked } = nextPosition;
        nextPosition = unblocked;
      }
      // A block set meanwhile (another order turned unknown) must not be overwritten.
      const blockCheck =
        position.unresolvedOrder === undefined
          ? { condition: 'attribute_not_exists(unresolvedOrder)', values: {} }
          : { condition: 'unresolvedOrder = :readBlock', values: { ':readBlock': position.unresolvedOrder } };
      const positionCondition = {
        condition: `${positionCheck.condition} AND ${blockCheck.condition}`,
        values: { ...positionCheck.values, ...blockCheck.values },
      };

      const signalStatus: SignalStatus = !final
        ? 'submitted'
        : filled.gte(dec(intent.quantity))
          ? 'filled'
          : report.status === 'rejected' && filled.isZero()
            ? 'rejected'
            : 'cancelled';

      try {
        await this.db.send(
          new TransactWriteCommand({
            TransactItems: [
              {
                Update: {
                  TableName: this.tables.orders,
                  Key: { clientOrderId: order.clientOrderId },
                  UpdateExpression:
                    'SET #status = :status, brokerOrderId = :bid, filledQuantity = :filled, bookedQuantity = :filled, bookedCommission = :commission, realizedPnl = :realized, closedQuantity = :closed, averageFillPrice = :avg, reservedCashRemaining = :remaining, #final = :final, #lifecycle = :lifecycle, updatedAt = :at',
                  ConditionExpression: 'bookedQuantity = :booked AND #final = :false',
                  // `lifecycle` moves with `final`: the order leaves the open list in this write.
                  ExpressionAttributeNames: {
                    '#status': 'status',
                    '#final': 'final',
                    '#lifecycle': 'lifecycle',
                  },
                  ExpressionAttributeValues: {
                    ':status': report.status,
                    ':bid': report.brokerOrderId,
                    ':filled': str(Decimal.max(filled, booked)),
                    ':commission': str(commissionCharged),
                    ':realized': str(orderRealized),
                    ':closed': str(orderClosed),
                    ':avg': report.averageFillPrice ?? order.averageFillPrice ?? '0',
                    ':remaining': str(remaining.minus(release)),
                    ':final': final,
                    ':lifecycle': lifecycleOf(final),
                    ':booked': order.bookedQuantity,
                    ':false': false,
                    ':at': at,
                  },
                },
              },
              {
                Put: {
                  TableName: this.tables.portfolio,
                  Item: { ...ACCOUNT, ...account, version: snapshotAccount.version + 1 },
                  ConditionExpression: 'version = :version',
                  ExpressionAttributeValues: { ':version': snapshotAccount.version },
                },
              },
              {
                Put: {
                  TableName: this.tables.portfolio,
                  Item: { ...positionKey(intent.symbol), ...nextPosition },
                  ConditionExpression: positionCondition.condition,
                  ...(positionCondition.condition.includes(':')
                    ? { ExpressionAttributeValues: positionCondition.values }
                    : {}),
                },
              },
              {
                Update: {
                  TableName: this.tables.signals,
                  Key: { pk: order.signalId },
                  UpdateExpression:
                    'SET #status = :status, filledQuantity = :filled, averageFillPrice = :avg, updatedAt = :at' +
                    (signalStatus === 'rejected' || signalStatus === 'cancelled' ? ', reason = :reason' : ''),
                  ExpressionAttributeNames: { '#status': 'status' },
                  ExpressionAttributeValues: {
                    ':status': signalStatus,
                    ':filled': str(filled),
                    ':avg': report.averageFillPrice ?? '0',
                    ':at': at,
                    ...(signalStatus === 'rejected'
                      ? { ':reason': `BROKER_REJECTED: ${report.reason ?? 'rejected by the broker'}` }
                      : signalStatus === 'cancelled'
                        ? {
                            ':reason': `ORDER_${report.status.toUpperCase()}: ${report.reason ?? `filled ${str(filled)} of ${intent.quantity}`}`,
                          }
                        : {}),
                  },
                },
              },
            ],
          }),
        );
        return signalStatus;
      } catch (error) {
        if (cancellationReasons(error) === undefined) throw error;
        // Someone else booked first or the account moved: read again and recompute.
        await new Promise((resolve) => setTimeout(resolve, Math.random() * 5 * (attempt + 1)));
      }
    }
    throw new OptimisticConflictError(
      `could not book order ${report.clientOrderId} after ${MAX_CONFLICT_RETRIES} attempts`,
    );
  }

  private async signalStatusOf(signalId: string): Promise<SignalStatus> {
    const result = await this.db.send(
      new GetCommand({ TableName: this.tables.signals, Key: { pk: signalId }, ConsistentRead: true }),
    );
    return z
      .object({
        status: z.enum(SIGNAL_STATUSES),
      })
      .parse(result.Item).status;
  }

  async markFailed(signalId: string, reason: string, at: string): Promise<void> {
    const signal = await this.db.send(
      new GetCommand({ TableName: this.tables.signals, Key: { pk: signalId }, ConsistentRead: true }),
    );
    const clientOrderId = z
      .object({ clientOrderId: z.string().optional() })
      .parse(signal.Item ?? {}).clientOrderId;
    const order = clientOrderId === undefined ? undefined : await this.readOrder(clientOrderId);
    const orderStillOpen = order !== undefined && !order.final;
    const failedNow = await this.db
      .send(
        new TransactWriteCommand({
          TransactItems: [
            {
              Update: {
                TableName: this.tables.signals,
                Key: { pk: signalId },
                UpdateExpression: 'SET #status = :failed, reason = :reason, updatedAt = :at REMOVE undecided',
                // A fill is never overwritten; a broker rejection or cancel found while compensating
                // is. A signal already failed is not failed (and counted) twice.
                ConditionExpression: 'attribute_exists(pk) AND #status <> :filled AND #status <> :failed',
                ExpressionAttributeNames: { '#status': 'status' },
                ExpressionAttributeValues: {
                  ':failed': 'failed',
                  ':reason': reason,
                  ':at': at,
                  ':filled': 'filled',
                },
              },
            },

            ...(orderStillOpen
              ? [
                  {
                    Update: {
                      TableName: this.tables.orders,
                      Key: { clientOrderId: order.clientOrderId },
                      UpdateExpression: 'SET #status = :unknown, updatedAt = :at, #lifecycle = :open',
                      ConditionExpression: '#final = :false',
                      ExpressionAttributeNames: {
                        '#status': 'status',
                        '#final': 'final',
                        '#lifecycle': 'lifecycle',
                      },
                      ExpressionAttributeValues: {
                        ':unknown': 'unknown',
                        ':at': at,
                        ':false': false,
                        ':open': lifecycleOf(false),
                      },
                    },
                  },
                  {
                    // The symbol is blocked until the reconciler settles the order (RECONCILIATION_PENDING).
                    Update: {
                      TableName: this.tables.portfolio,
                      Key: positionKey(order.intent.symbol),
                      UpdateExpression: 'SET unresolvedOrder = :coid',
                      ConditionExpression: 'attribute_exists(pk)',
                      ExpressionAttributeValues: { ':coid': order.clientOrderId },
                    },
                  },
                ]
              : []),
          ],
        }),
      )
      .then(
        () => true,
        (error: unknown) => {
          if (cancellationReasons(error) === undefined) throw error;
          return false;
        },
      );
    if (failedNow) await this.countFailure(at);
  }

  /** One more failure in a row for the circuit breaker (best effort: the streak is a safeguard). */
  private async countFailure(at: string): Promise<void> {
    await this.db
      .send(
        new UpdateCommand({
          TableName: this.tables.portfolio,
          Key: ACCOUNT,
          UpdateExpression:
            'SET failureStreak = list_append(if_not_exists(failureStreak, :none), :failure), version = version + :one',
          ConditionExpression: 'attribute_exists(pk)',
          ExpressionAttributeValues: { ':none': [], ':failure': [at], ':one': 1 },
        }),
      )
      .catch((error: unknown) => {
        if ((error as Error).name !== 'ConditionalCheckFailedException') throw error;
      });
  }

  /**
   * Moves the trading state and records the transition (from, to, why, who, when) in the same
   * transaction, so the state and its history never disagree. Nothing is written when the state
   * and its trip are already as asked (a second stop, a repeated resume), or when `expectedSince`
   * is given and the state has moved since it was read (an automatic step decided on stale state).
   */
  async tradingState(): Promise<TradingState> {
    const read = await this.db.send(
      new GetCommand({ TableName: this.tables.portfolio, Key: TRADING_STATE, ConsistentRead: true }),
    );
    return read.Item === undefined ? 'ACTIVE' : TradingStateItem.parse(read.Item).state;
  }

  async setTradingState(
    change: TradingStateChange,
    at: string,
    attempt = 0,
  ): Promise<TradingStateTransition | undefined> {
    const read = await this.db.send(
      new GetCommand({ TableName: this.tables.portfolio, Key: TRADING_STATE, ConsistentRead: true }),
    );
    const current = read.Item === undefined ? undefined : TradingStateItem.parse(read.Item);
    const from = current?.state ?? 'ACTIVE';
    if (change.expectedSince !== undefined && (current?.since ?? '') !== change.expectedSince)
      return undefined;
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
    const sets = ['#state = :state', 'since = :at', 'reason = :reason', '#source = :source'];
    const removes: string[] = [];
    const values: Record<string, unknown> = {
      ':state': change.state,
      ':at': at,
      ':reason': change.reason,
      ':source': change.source,
    };
    const optional = (name: string, value: unknown) => {
      if (value === undefined) removes.push(name);
      else {
        sets.push(`${name} = :${name}`);
        values[`:${name}`] = value;
      }
    };
    optional('trip', change.trip);
    optional('resetAt', change.resetAt);
    if (change.highWaterMark !== undefined) optional('highWaterMark', change.highWaterMark);
    if (change.session !== undefined) {
      sets.push('#session = :session');
      values[':session'] = change.session;
    }
    if (change.clearStreaks) optional('streaksClearedAt', at);
    try {
      await this.db.send(
        new TransactWriteCommand({
          TransactItems: [
            {
              Update: {
                TableName: this.tables.portfolio,
                Key: TRADING_STATE,
                UpdateExpression: `SET ${sets.join(', ')}${removes.length > 0 ? ` REMOVE ${removes.join(', ')}` : ''}`,
                // Another transition since the read above would make this one's `from` wrong.
                ConditionExpression:
                  current === undefined
                    ? 'attribute_not_exists(pk)'
                    : current.since === undefined
                      ? '#state = :from AND attribute_not_exists(since)'
                      : '#state = :from AND since = :since',
                ExpressionAttributeNames: {
                  '#state': 'state',
                  '#source': 'source',
                  ...(change.session !== undefined ? { '#session': 'session' } : {}),
                },
                ExpressionAttributeValues: {
                  ...values,
                  ...(current === undefined ? {} : { ':from': from }),
                  ...(current?.since === undefined ? {} : { ':since': current.since }),
                },
              },
            },
            {
              Put: {
                TableName: this.tables.portfolio,
                Item: { pk: PK, sk: `TRADING_STATE_LOG#${at}#${randomUUID().slice(0, 8)}`, ...transition },
              },
            },
          ],
        }),
      );
      return transition;
    } catch (error) {
      if (cancellationReasons(error) === undefined) throw error;
      // Another transition won the race. An automatic step read a state that is gone: nothing
      // moved, as when `expectedSince` is stale before the write. A deliberate change (a halt, a
      // reset) is applied to the state as it is now — or is done, if that state is its target.
      if (change.expectedSince !== undefined) return undefined;
      if (attempt >= 10) throw error;
      return this.setTradingState(change, at, attempt + 1);
    }
  }

  /**
   * Keeps the breaker's marks: the session's starting equity and the high-water mark. Written only
   * if they are still as `read` saw them, so a concurrent evaluation cannot lower the mark; false
   * when that evaluation won (the caller re-reads).
   */
  async saveRiskMarks(
    marks: { session: { date: string; startEquity: string }; highWaterMark: string },
    read: Breaker,
  ): Promise<boolean> {
    const conditions: string[] = [];
    const values: Record<string, unknown> = {
      ':session': marks.session,
      ':hwm': marks.highWaterMark,
      ':active': 'ACTIVE',
    };
    if (read.highWaterMark === undefined) conditions.push('attribute_not_exists(highWaterMark)');
    else {
      conditions.push('highWaterMark = :readHwm');
      values[':readHwm'] = read.highWaterMark;
    }
    if (read.session === undefined) conditions.push('attribute_not_exists(#session)');
    else {
      conditions.push('#session.#date = :readDate AND #session.startEquity = :readStart');
      values[':readDate'] = read.session.date;
      values[':readStart'] = read.session.startEquity;
    }
    try {
      await this.db.send(
        new UpdateCommand({
          TableName: this.tables.portfolio,
          Key: TRADING_STATE,
          UpdateExpression:
            'SET #state = if_not_exists(#state, :active), #session = :session, highWaterMark = :hwm',
          ConditionExpression: conditions.join(' AND '),
          ExpressionAttributeNames: {
            '#state': 'state',
            '#session': 'session',
            ...(read.session === undefined ? {} : { '#date': 'date' }),
          },
          ExpressionAttributeValues: values,
        }),
      );
      return true;
    } catch (error) {
      if ((error as Error).name === 'ConditionalCheckFailedException') return false;
      throw error;
    }
  }

  /** Trading-state transitions, newest first. */
  async tradingStateHistory(limit: number): Promise<TradingStateTransition[]> {
    const result = await this.db.send(
      new QueryCommand({
        TableName: this.tables.portfolio,
        KeyConditionExpression: 'pk = :pk AND begins_with(sk, :log)',
        ExpressionAttributeValues: { ':pk': PK, ':log': 'TRADING_STATE_LOG#' },
        ScanIndexForward: false,
        Limit: limit,
        ConsistentRead: true,
      }),
    );
    return (result.Items ?? []).map((item) => TransitionItem.parse(item));
  }
}

const TransitionItem = z.object({
  from: z.enum(TRADING_STATES),
  to: z.enum(TRADING_STATES),
  reason: z.string(),
  source: z.string(),
  at: z.string(),
  trip: z.enum(BREAKER_TRIPS).optional(),
  resetAt: z.string().optional(),
});
