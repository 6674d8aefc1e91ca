import { Decimal, dec, str, toCents } from '../../domain/money.js';
import type { ApprovalBookkeeping, Denial } from '../../domain/risk.js';
import {
  type Account,
  type Breaker,
  type BrokerOrder,
  bookFill,
  flatPosition,
  type LastPrice,
  type OrderIntent,
  type PortfolioSnapshot,
  type Position,
  type SignalStatus,
  signedQuantity,
  type TradingState,
} from '../../domain/trading.js';
import type {
  ApprovalResult,
  OrderRecord,
  TradingStateChange,
  TradingStateTransition,
  TradingStore,
} from '../../ports/index.js';
import type { MemorySignalStore } from './signal-store.js';

/** The orders table's item: the record plus what the booking keeps to book each unit once. */
export interface MemoryOrder {
  clientOrderId: string;
  signalId: string;
  intent: OrderIntent;
  status: OrderRecord['status'];
  brokerOrderId?: string;
  filledQuantity: string;
  bookedQuantity: string;
  bookedCommission: string;
  realizedPnl: string;
  closedQuantity: string;
  averageFillPrice?: string;
  /** When SubmitOrder was cleared to send it (see claimSubmission). */
  submitClaimedAt?: string;
  reservedCashRemaining: string;
  final: boolean;
  createdAt: string;
  updatedAt: string;
}

interface TradingStateRecord extends Breaker {
  state: TradingState;
  source?: string;
}

const FINAL_REPORTS: readonly BrokerOrder['status'][] = ['filled', 'cancelled', 'expired', 'rejected'];

const toOrderRecord = (item: MemoryOrder): OrderRecord => {
  const { bookedCommission, reservedCashRemaining: _r, closedQuantity: _q, ...record } = item;
  const withCommission = { ...record, commission: bookedCommission };
  return withCommission;
};

/**
 * The portfolio, orders and trading-state tables in memory, for the backtester: the same
 * TradingStore contract, and the same bookkeeping, as DynamoTradingStore (an approval reserves cash
 * and pending quantity; a broker report books only units not yet booked with `bookFill`, releases
 * the reservation, and moves the loss and failure streaks; a state change is recorded with its
 * transition). One process owns the book and calls one at a time, so every optimistic condition of
 * the DynamoDB store holds by construction; they are still checked, so a caller that breaks the
 * contract gets the same answer as from DynamoDB.
 *
 * Stored objects are replaced, never mutated: a snapshot handed out stays valid, and the risk
 * engine's per-snapshot memos (which key on the snapshot object) stay correct. While nothing
 * changes, `snapshot()` returns the same object.
 */
export class MemoryTradingStore implements TradingStore {
  private account: Account | undefined;
  private stateRecord: TradingStateRecord | undefined;
  private positions: Record<string, Position> = {};
  private prices: Record<string, LastPrice> = {};
  private readonly orders = new Map<string, MemoryOrder>();
  private readonly history: TradingStateTransition[] = [];
  private cached: PortfolioSnapshot | undefined;

  constructor(
    private readonly signals: MemorySignalStore,
    /** The cash the account opens with (the paper broker's starting cash). */
    private readonly startingCash: string,
  ) {}

  async snapshot(): Promise<PortfolioSnapshot> {
    return this.peekSnapshot();
  }

  /** snapshot(), synchronously: the backtester reads the book between bars. */
  peekSnapshot(): PortfolioSnapshot {
    if (this.cached !== undefined) return this.cached;
    this.account ??= this.openAccount();
    const record = this.stateRecord;
    let breaker: Breaker = {};
    if (record !== undefined) {
      const { state: _state, source: _source, ...rest } = record;
      breaker = rest;
    }
    this.cached = {
      tradingState: record?.state ?? 'ACTIVE',
      breaker,
      account: this.account,
      positions: this.positions,
      prices: this.prices,
    };
    return this.cached;
  }

  private openAccount(): Account {
    return {
      cash: str(toCents(dec(this.startingCash))),
      reservedCash: '0',
      realizedPnl: '0',
      commissions: '0',
      version: 0,
      recentOrders: [],
      dayTrades: [],
      lossStreak: [],
      failureStreak: [],
    };
  }

  private changed(): void {
    this.cached = undefined;
  }

  /** The paper broker's market price: the latest recorded price of the symbol. */
  async lastPrice(symbol: string): Promise<string | undefined> {
    return this.prices[symbol]?.price;
  }

  async recordPrice(symbol: string, price: string, at: string): Promise<void> {
    // Only ever forward in time, as the DynamoDB store's condition `#at <= :at`.
    const known = this.prices[symbol];
    if (known !== undefined && known.at > at) return;
    if (known !== undefined && known.at === at && known.price === price) return;
    this.prices = { ...this.prices, [symbol]: { price, at } };
    this.changed();
  }

  async approve(
    intent: OrderIntent,
    snapshot: PortfolioSnapshot,
    at: string,
    bookkeeping: ApprovalBookkeeping,
    notes: Denial[] = [],
  ): Promise<ApprovalResult> {
    if (this.signals.peek(intent.signalId)?.status !== 'received' || this.orders.has(intent.clientOrderId))
      return 'already_decided';
    const account = this.account ?? this.openAccount();
    const readPosition = snapshot.positions[intent.symbol];
    const position = this.positions[intent.symbol];
    const positionAsRead =
      readPosition === undefined
        ? position === undefined
        : position !== undefined &&
          position.quantity === readPosition.quantity &&
          position.pendingQuantity === readPosition.pendingQuantity;
    if (account.version !== snapshot.account.version || !positionAsRead) return 'conflict';
    if ((this.stateRecord?.state ?? 'ACTIVE') !== snapshot.tradingState) return 'state_changed';

    this.signals.transition(intent.signalId, ['received'], {
      status: 'approved',
      clientOrderId: intent.clientOrderId,
      updatedAt: at,
      ...(notes.length > 0 ? { denials: notes } : {}),
    });
    this.orders.set(intent.clientOrderId, {
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
    });
    this.account = {
      ...account,
      reservedCash: str(dec(snapshot.account.reservedCash).plus(dec(intent.reservedCash))),
      recentOrders: bookkeeping.recentOrders,
      dayTrades: bookkeeping.dayTrades,
      version: account.version + 1,
    };
    const base = position ?? flatPosition(intent.symbol);
    const { openedInSession: _opened, ...rest } = base;
    this.positions = {
      ...this.positions,
      [intent.symbol]: {
        ...rest,
        symbol: intent.symbol,
        pendingQuantity: str(dec(base.pendingQuantity).plus(signedQuantity(intent.side, intent.quantity))),
        ...(bookkeeping.openedInSession === undefined
          ? {}
          : { openedInSession: bookkeeping.openedInSession }),
      },
    };
    this.changed();
    return 'approved';
  }

  async reject(signalId: string, denials: Denial[], at: string): Promise<boolean> {
    const first = denials[0];
    return this.signals.transition(signalId, ['received'], {
      status: 'rejected',
      reason: first ? `${first.code}: ${first.detail}` : 'REJECTED',
      denials,
      updatedAt: at,
    });
  }

  async getOrder(clientOrderId: string): Promise<OrderRecord | undefined> {
    const item = this.orders.get(clientOrderId);
    return item && toOrderRecord(item);
  }

  /** The order as stored, with what has been booked (commission, realized P&L, closed quantity). */
  peekOrder(clientOrderId: string): MemoryOrder | undefined {
    return this.orders.get(clientOrderId);
  }

  async listOrders(limit: number): Promise<OrderRecord[]> {
    return [...this.orders.values()]
      .map(toOrderRecord)
      .sort((a, b) => (a.createdAt < b.createdAt ? 1 : -1))
      .slice(0, limit);
  }

  /** Always complete: memory has no index to lag behind. */
  async listOpenOrders(_options: { complete?: boolean } = {}): Promise<OrderRecord[]> {
    return [...this.orders.values()].filter((o) => !o.final).map(toOrderRecord);
  }

  /**
   * Clears an order to be sent unless trading is HALTED (an emergency stop came first): `send`,
   * `halted`, or `final` when the order has ended already. A claim made before a halt stands.
   */
  async claimSubmission(clientOrderId: string, at: string): Promise<'send' | 'halted' | 'final'> {
    const order = this.orders.get(clientOrderId);
    if (order === undefined || order.final) return 'final';
    if (this.stateRecord?.state === 'HALTED') return order.submitClaimedAt === undefined ? 'halted' : 'send';
    if (order.submitClaimedAt === undefined)
      this.orders.set(clientOrderId, { ...order, submitClaimedAt: at });
    return 'send';
  }

  async markSubmitted(order: BrokerOrder, at: string): Promise<void> {
    const existing = this.orders.get(order.clientOrderId);
    if (existing === undefined) throw new Error(`order ${order.clientOrderId} was never approved`);
    // Both changes or neither, as the DynamoDB store's transaction.
    if (existing.final || this.signals.peek(existing.signalId)?.status !== 'approved') return;
    this.orders.set(order.clientOrderId, {
      ...existing,
      brokerOrderId: order.brokerOrderId,
      status: order.status,
      updatedAt: at,
    });
    this.signals.transition(existing.signalId, ['approved'], { status: 'submitted', updatedAt: at });
  }

  async applyBrokerOrder(report: BrokerOrder, at: string): Promise<SignalStatus> {
    const order = this.orders.get(report.clientOrderId);
    if (order === undefined) throw new Error(`order ${report.clientOrderId} was never approved`);
    if (order.final) {
      const status = this.signals.peek(order.signalId)?.status;
      if (status === undefined)
        throw new Error(`signal ${order.signalId} of order ${order.clientOrderId} is gone`);
      return status;
    }
    const intent = order.intent;
    const filled = dec(report.filledQuantity);
    const booked = dec(order.bookedQuantity);
    const newly = filled.gt(booked) ? filled.minus(booked) : dec(0);
    const final = FINAL_REPORTS.includes(report.status);
    const snapshotAccount = this.account ?? this.openAccount();
    const position = this.positions[intent.symbol] ?? flatPosition(intent.symbol);

    let account: Account = { ...snapshotAccount };
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
    if (final && nextPosition.unresolvedOrder === order.clientOrderId) {
      const { unresolvedOrder: _settled, ...unblocked } = nextPosition;
      nextPosition = unblocked;
    }

    const signalStatus: SignalStatus = !final
      ? 'submitted'
      : filled.gte(dec(intent.quantity))
        ? 'filled'
        : report.status === 'rejected' && filled.isZero()
          ? 'rejected'
          : 'cancelled';

    this.orders.set(order.clientOrderId, {
      ...order,
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
    });
    this.account = { ...account, version: snapshotAccount.version + 1 };
    this.positions = { ...this.positions, [intent.symbol]: nextPosition };
    this.signals.transition(order.signalId, 'any', {
      status: signalStatus,
      filledQuantity: str(filled),
      averageFillPrice: report.averageFillPrice ?? '0',
      updatedAt: at,
      ...(signalStatus === 'rejected'
        ? { reason: `BROKER_REJECTED: ${report.reason ?? 'rejected by the broker'}` }
        : signalStatus === 'cancelled'
          ? {
              reason: `ORDER_${report.status.toUpperCase()}: ${report.reason ?? `filled ${str(filled)} of ${intent.quantity}`}`,
            }
          : {}),
    });
    this.changed();
    return signalStatus;
  }

  async markFailed(signalId: string, reason: string, at: string): Promise<void> {
    const record = this.signals.peek(signalId);
    if (record === undefined || record.status === 'filled' || record.status === 'failed') return;
    const order = record.clientOrderId === undefined ? undefined : this.orders.get(record.clientOrderId);
    const orderStillOpen = order !== undefined && !order.final;
    // The symbol is blocked until the reconciler settles the order (RECONCILIATION_PENDING); the
    // DynamoDB store's transaction requires the position item to exist.
    if (orderStillOpen && this.positions[order.intent.symbol] === undefined) return;
    this.signals.transition(signalId, 'any', { status: 'failed', reason, updatedAt: at });
    if (orderStillOpen) {
      this.orders.set(order.clientOrderId, { ...order, status: 'unknown', updatedAt: at });
      const position = this.positions[order.intent.symbol] as Position;
      this.positions = {
        ...this.positions,
        [order.intent.symbol]: { ...position, unresolvedOrder: order.clientOrderId },
      };
    }
    if (this.account !== undefined) {
      this.account = {
        ...this.account,
        failureStreak: [...this.account.failureStreak, at],
        version: this.account.version + 1,
      };
    }
    this.changed();
  }

  async setTradingState(change: TradingStateChange, at: string): Promise<TradingStateTransition | undefined> {
    const current = this.stateRecord;
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
    const { trip: _trip, resetAt: _resetAt, ...kept } = current ?? { state: from };
    const next: TradingStateRecord = {
      ...kept,
      state: change.state,
      since: at,
      reason: change.reason,
      source: change.source,
      ...(change.trip !== undefined ? { trip: change.trip } : {}),
      ...(change.resetAt !== undefined ? { resetAt: change.resetAt } : {}),
      ...(change.highWaterMark !== undefined ? { highWaterMark: change.highWaterMark } : {}),
      ...(change.session !== undefined ? { session: change.session } : {}),
      ...(change.clearStreaks ? { streaksClearedAt: at } : {}),
    };
    this.stateRecord = next;
    this.history.push(transition);
    this.changed();
    return transition;
  }

  async saveRiskMarks(
    marks: { session: { date: string; startEquity: string }; highWaterMark: string },
    read: Breaker,
  ): Promise<boolean> {
    const current = this.stateRecord;
    const sameMark = current?.highWaterMark === read.highWaterMark;
    const sameSession =
      read.session === undefined
        ? current?.session === undefined
        : current?.session?.date === read.session.date &&
          current.session.startEquity === read.session.startEquity;
    if (!sameMark || !sameSession) return false;
    this.stateRecord = {
      ...(current ?? { state: 'ACTIVE' }),
      session: marks.session,
      highWaterMark: marks.highWaterMark,
    };
    this.changed();
    return true;
  }

  async tradingState(): Promise<TradingState> {
    return this.stateRecord?.state ?? 'ACTIVE';
  }

  async tradingStateHistory(limit: number): Promise<TradingStateTransition[]> {
    return this.history.slice(-limit).reverse();
  }

  /** Every transition so far, oldest first. */
  transitions(): readonly TradingStateTransition[] {
    return this.history;
  }

  /** Drops a final order (see MemorySignalStore.forget). */
  forgetOrder(clientOrderId: string): void {
    const order = this.orders.get(clientOrderId);
    if (order?.final) this.orders.delete(clientOrderId);
  }
}
