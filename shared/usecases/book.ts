import { randomUUID } from 'node:crypto';
import {
  ACCOUNT,
  approval,
  approvalOutcome,
  type BookedOrder,
  booking,
  type CancelReport,
  type Change,
  cancelsRecorded,
  claimOutcome,
  DAY_TRADES,
  type Doc,
  failure,
  isLegacyAccount,
  openAccount,
  orderFrom,
  orderOf,
  positionFromDoc,
  positionOf,
  price,
  priceOf,
  rejection,
  riskMarks,
  STREAKS,
  signalOf,
  signalStatusOf,
  snapshotOf,
  stateTransition,
  streaksOf,
  submission,
  submissionClaim,
  TRADING_STATE,
  TransitionDoc,
  tradingStateFrom,
  unsentCancellation,
  upgrade,
} from '../domain/ledger.js';
import type { ApprovalBookkeeping, Denial } from '../domain/risk.js';
import type {
  Breaker,
  BrokerOrder,
  OrderIntent,
  PortfolioSnapshot,
  SignalStatus,
  TradingState,
} from '../domain/trading.js';
import type {
  ApprovalResult,
  Booked,
  BookStore,
  OrderRecord,
  SubmissionClaim,
  TradingStateChange,
  TradingStateTransition,
  TradingStore,
} from '../ports/index.js';

/** How many times a booking is read and computed again after its commit was refused. */
const MAX_ATTEMPTS = 20;

export class OptimisticConflictError extends Error {
  override readonly name = 'OptimisticConflictError';
}

/** A short random pause before reading again, growing with the attempt (full jitter). */
const pause = (attempt: number): Promise<void> =>
  new Promise((resolve) => setTimeout(resolve, Math.random() * Math.min(200, 5 * 2 ** attempt)));

export const toOrderRecord = (order: BookedOrder): OrderRecord => {
  const { bookedCommission, reservedCashRemaining: _r, ...record } = order;
  return { ...record, commission: bookedCommission };
};

export interface BookOptions {
  /** The cash the account opens with: the paper broker's setting, or the broker account's cash. */
  startingCash: string | (() => Promise<string>);
  /** Symbols that may gain a position: always read, so a position created concurrently is seen. */
  tradableSymbols?: readonly string[];
}

/**
 * The TradingStore the use cases work with: reads the book through a BookStore, asks the ledger
 * what each step changes, and commits it. A commit refused because the book moved is read and
 * computed again; an approval's refusal goes back to the risk check, which decides again.
 */
export class Book implements TradingStore {
  constructor(
    protected readonly items: BookStore,
    private readonly options: BookOptions,
  ) {}

  async snapshot(): Promise<PortfolioSnapshot> {
    for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
      const listed = await this.items.listBook();
      const symbols = new Set(this.options.tradableSymbols ?? []);
      for (const doc of listed.positions) symbols.add(String(doc.symbol));
      const [account, tradingState, streaks, dayTrades, ...positions] = await this.items.read([
        ACCOUNT,
        TRADING_STATE,
        STREAKS,
        DAY_TRADES,
        ...[...symbols].map(positionOf),
      ]);
      const held = positions.filter((doc): doc is Doc => doc !== undefined);
      if (account === undefined) await this.items.commit(openAccount(await this.startingCash()));
      else if (isLegacyAccount(account)) await this.items.commit(upgrade(account, held, listed.prices));
      else
        return snapshotOf({
          account,
          tradingState,
          streaks,
          dayTrades,
          positions: held,
          prices: listed.prices,
        });
    }
    throw new OptimisticConflictError(`could not read the book after ${MAX_ATTEMPTS} attempts`);
  }

  private async startingCash(): Promise<string> {
    const { startingCash } = this.options;
    return typeof startingCash === 'string' ? startingCash : startingCash();
  }

  async tradingState(): Promise<TradingState> {
    const [doc] = await this.items.read([TRADING_STATE]);
    return tradingStateFrom(doc)?.state ?? 'ACTIVE';
  }

  /** The paper broker's market price: the latest recorded price of the symbol. */
  async lastPrice(symbol: string): Promise<string | undefined> {
    const [doc] = await this.items.read([priceOf(symbol)]);
    return doc === undefined ? undefined : String(doc.price);
  }

  async recordPrice(symbol: string, value: string, at: string): Promise<void> {
    await this.items.commit(price(symbol, value, at));
  }

  async approve(
    intent: OrderIntent,
    snapshot: PortfolioSnapshot,
    at: string,
    bookkeeping: ApprovalBookkeeping,
    notes: Denial[] = [],
  ): Promise<ApprovalResult> {
    return approvalOutcome(await this.items.commit(approval(intent, snapshot, at, bookkeeping, notes)));
  }

  async reject(signalId: string, denials: Denial[], at: string): Promise<boolean> {
    return (await this.items.commit(rejection(signalId, denials, at))).ok;
  }

  protected async readOrder(clientOrderId: string): Promise<BookedOrder | undefined> {
    const [doc] = await this.items.read([orderOf(clientOrderId)]);
    return doc === undefined ? undefined : orderFrom(doc);
  }

  async getOrder(clientOrderId: string): Promise<OrderRecord | undefined> {
    const order = await this.readOrder(clientOrderId);
    return order && toOrderRecord(order);
  }

  async listOrders(limit: number): Promise<OrderRecord[]> {
    return (await this.items.listOrders(limit)).map((doc) => toOrderRecord(orderFrom(doc)));
  }

  async listOpenOrders(options: { complete?: boolean } = {}): Promise<OrderRecord[]> {
    return (await this.items.listOpenOrders(options)).map((doc) => toOrderRecord(orderFrom(doc)));
  }

  async claimSubmission(clientOrderId: string, at: string): Promise<SubmissionClaim> {
    const result = await this.items.commit(submissionClaim(clientOrderId, at));
    return claimOutcome(result, result.ok ? undefined : await this.readOrder(clientOrderId));
  }

  async markSubmitted(report: BrokerOrder, at: string): Promise<void> {
    const order = await this.readOrder(report.clientOrderId);
    if (order === undefined) throw new Error(`order ${report.clientOrderId} was never approved`);
    // Refused: already submitted or already final; recording it again changes nothing.
    await this.items.commit(submission(order, report, at));
  }

  async applyBrokerOrder(report: BrokerOrder, at: string): Promise<SignalStatus> {
    return (await this.bookBrokerOrder(report, at)).status;
  }

  async bookBrokerOrder(
    report: BrokerOrder,
    at: string,
    known?: { symbol: string; signalId: string },
  ): Promise<Booked> {
    for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
      if (attempt > 0) await pause(attempt);
      const read = await this.bookingRead(report.clientOrderId, attempt === 0 ? known : undefined);
      const { order, position, streaks, signal, account } = read;
      if (order.final) {
        const status = signalStatusOf(signal);
        if (status === undefined)
          throw new Error(`signal ${order.signalId} of order ${order.clientOrderId} is gone`);
        return { status, order: toOrderRecord(order), closed: false };
      }
      if (isLegacyAccount(account)) {
        await this.snapshot();
        continue;
      }
      const booked = booking(
        { order, position: positionFromDoc(position), account: streaksOf(streaks) },
        report,
        at,
      );
      if ((await this.items.commit(booked.change)).ok)
        return { status: booked.status, order: toOrderRecord(booked.order), closed: booked.closed };
    }
    throw new OptimisticConflictError(
      `could not book order ${report.clientOrderId} after ${MAX_ATTEMPTS} attempts`,
    );
  }

  async cancelUnsent(
    clientOrderId: string,
    reason: string,
    at: string,
  ): Promise<'cancelled' | 'claimed' | 'final'> {
    for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
      if (attempt > 0) await pause(attempt);
      const { order, position, streaks, account } = await this.bookingRead(clientOrderId, undefined);
      if (order.final) return 'final';
      if (order.submitClaimedAt !== undefined) return 'claimed';
      if (isLegacyAccount(account)) {
        await this.snapshot();
        continue;
      }
      const cancelled = unsentCancellation(
        { order, position: positionFromDoc(position), account: streaksOf(streaks) },
        reason,
        at,
      );
      if ((await this.items.commit(cancelled.change)).ok) return 'cancelled';
    }
    throw new OptimisticConflictError(
      `could not cancel order ${clientOrderId} after ${MAX_ATTEMPTS} attempts`,
    );
  }

  async recordCancels(
    signalId: string,
    report: CancelReport,
    completes: boolean,
    at: string,
  ): Promise<boolean> {
    return (await this.items.commit(cancelsRecorded(signalId, report, completes, at))).ok;
  }

  /**
   * What a booking reads, as one consistent read when the order's symbol and signal are known (and
   * are the order's); else the order first, then the rest.
   */
  private async bookingRead(clientOrderId: string, known: { symbol: string; signalId: string } | undefined) {
    if (known !== undefined) {
      const [doc, position, streaks, signal, account] = await this.items.read([
        orderOf(clientOrderId),
        positionOf(known.symbol),
        STREAKS,
        signalOf(known.signalId),
        ACCOUNT,
      ]);
      const order = doc === undefined ? undefined : orderFrom(doc);
      if (order !== undefined && order.intent.symbol === known.symbol && order.signalId === known.signalId)
        return { order, position, streaks, signal, account };
    }
    const order = await this.readOrder(clientOrderId);
    if (order === undefined) throw new Error(`order ${clientOrderId} was never approved`);
    const [position, streaks, signal, account] = await this.items.read([
      positionOf(order.intent.symbol),
      STREAKS,
      signalOf(order.signalId),
      ACCOUNT,
    ]);
    return { order, position, streaks, signal, account };
  }

  async markFailed(signalId: string, reason: string, at: string): Promise<void> {
    for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
      if (attempt > 0) await pause(attempt);
      const [signal, streaks] = await this.items.read([signalOf(signalId), STREAKS]);
      const clientOrderId = signal?.clientOrderId;
      const order = typeof clientOrderId === 'string' ? await this.readOrder(clientOrderId) : undefined;
      const [position] =
        order === undefined ? [undefined] : await this.items.read([positionOf(order.intent.symbol)]);
      const change: Change | undefined = failure(
        { signalId, signal, order, position: positionFromDoc(position), account: streaksOf(streaks) },
        reason,
        at,
      );
      if (change === undefined || (await this.items.commit(change)).ok) return;
    }
    throw new OptimisticConflictError(`could not fail signal ${signalId} after ${MAX_ATTEMPTS} attempts`);
  }

  async setTradingState(change: TradingStateChange, at: string): Promise<TradingStateTransition | undefined> {
    for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
      const [doc] = await this.items.read([TRADING_STATE]);
      const moved = stateTransition(tradingStateFrom(doc), change, at, randomUUID().slice(0, 8));
      if (moved === undefined) return undefined;
      if ((await this.items.commit(moved.change)).ok) return moved.transition;
      // Another transition won the race. An automatic step read a state that is gone: nothing
      // moved. A deliberate change (a halt, a reset) is applied to the state as it is now — or is
      // done, if that state is its target.
      if (change.expectedSince !== undefined) return undefined;
    }
    throw new OptimisticConflictError(`could not move the trading state after ${MAX_ATTEMPTS} attempts`);
  }

  async saveRiskMarks(
    marks: { session: { date: string; startEquity: string }; highWaterMark: string },
    read: Breaker,
  ): Promise<boolean> {
    return (await this.items.commit(riskMarks(marks, read))).ok;
  }

  async tradingStateHistory(limit: number): Promise<TradingStateTransition[]> {
    return (await this.items.transitions(limit)).map((doc) => TransitionDoc.parse(doc));
  }
}
