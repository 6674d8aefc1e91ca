import {
  ACCOUNT,
  type BookedOrder,
  DAY_TRADES,
  openAccount,
  orderFrom,
  orderOf,
  STREAKS,
  snapshotOf,
  TRADING_STATE,
} from '../../domain/ledger.js';
import type { PortfolioSnapshot } from '../../domain/trading.js';
import { Book } from '../../usecases/book.js';
import { MemoryBookStore } from './book-store.js';
import type { MemorySignalStore } from './signal-store.js';

/**
 * The Book over memory (MemoryBookStore), for the backtester and unit tests, with what the
 * backtester reads synchronously between bars. While nothing changes, `snapshot()` returns the
 * same object.
 */
export class MemoryTradingStore extends Book {
  private readonly memory: MemoryBookStore;
  private cached: { generation: number; snapshot: PortfolioSnapshot } | undefined;

  constructor(
    signals: MemorySignalStore,
    /** The cash the account opens with (the paper broker's starting cash). */
    private readonly openingCash: string,
  ) {
    const memory = new MemoryBookStore(signals);
    super(memory, { startingCash: openingCash });
    this.memory = memory;
  }

  override async snapshot(): Promise<PortfolioSnapshot> {
    return this.peekSnapshot();
  }

  /** snapshot(), synchronously. */
  peekSnapshot(): PortfolioSnapshot {
    if (this.cached?.generation === this.memory.generation) return this.cached.snapshot;
    const [account, tradingState, streaks, dayTrades] = this.memory.readNow([
      ACCOUNT,
      TRADING_STATE,
      STREAKS,
      DAY_TRADES,
    ]);
    if (account === undefined) {
      this.memory.commitNow(openAccount(this.openingCash));
      return this.peekSnapshot();
    }
    const { positions, prices } = this.memory.bookNow();
    const snapshot = snapshotOf({ account, tradingState, streaks, dayTrades, positions, prices });
    this.cached = { generation: this.memory.generation, snapshot };
    return snapshot;
  }

  /** The order as stored, with what has been booked (commission, realized P&L, closed quantity). */
  peekOrder(clientOrderId: string): BookedOrder | undefined {
    const [doc] = this.memory.readNow([orderOf(clientOrderId)]);
    return doc === undefined ? undefined : orderFrom(doc);
  }

  /** Drops a final order (see MemorySignalStore.forget). */
  forgetOrder(clientOrderId: string): void {
    this.memory.forgetOrder(clientOrderId);
  }
}
