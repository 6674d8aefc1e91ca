import {
  applied,
  type Change,
  type CommitResult,
  type Doc,
  type Entity,
  holds,
} from '../../domain/ledger.js';
import type { BookStore, SignalRecord } from '../../ports/index.js';
import type { MemorySignalStore } from './signal-store.js';

/**
 * The book's items in memory: a plain mirror of what the DynamoDB store keeps, for the backtester
 * and unit tests. One process owns it and commits one change at a time, so a change's conditions
 * are checked and its writes applied with nothing in between. Items are replaced, never mutated:
 * a document handed out stays as it was read.
 */
export class MemoryBookStore implements BookStore {
  private readonly singles = new Map<string, Doc>();
  private readonly positions = new Map<string, Doc>();
  private readonly prices = new Map<string, Doc>();
  private readonly orders = new Map<string, Doc>();
  private readonly rates = new Map<string, Doc>();
  private readonly log: Doc[] = [];
  /** Moves with every commit: what a cached view is keyed on. */
  generation = 0;

  constructor(private readonly signals: MemorySignalStore) {}

  /** read(), synchronously. */
  readNow(entities: readonly Entity[]): (Doc | undefined)[] {
    return entities.map((entity) => this.get(entity));
  }

  private get(entity: Entity): Doc | undefined {
    switch (entity.kind) {
      case 'signal':
        return this.signals.peek(entity.signalId) as Doc | undefined;
      case 'position':
        return this.positions.get(entity.symbol);
      case 'price':
        return this.prices.get(entity.symbol);
      case 'order':
        return this.orders.get(entity.clientOrderId);
      case 'rate':
        return this.rates.get(entity.minute);
      case 'transition':
        return undefined;
      default:
        return this.singles.get(entity.kind);
    }
  }

  private put(entity: Entity, doc: Doc): void {
    switch (entity.kind) {
      case 'signal':
        this.signals.replace(doc as unknown as SignalRecord);
        return;
      case 'position':
        this.positions.set(entity.symbol, doc);
        return;
      case 'price':
        this.prices.set(entity.symbol, doc);
        return;
      case 'order':
        this.orders.set(entity.clientOrderId, doc);
        return;
      case 'rate':
        // Only the current minute's counter is ever read.
        this.rates.clear();
        this.rates.set(entity.minute, doc);
        return;
      case 'transition':
        this.log.push(doc);
        return;
      default:
        this.singles.set(entity.kind, doc);
    }
  }

  async read(entities: readonly Entity[]): Promise<(Doc | undefined)[]> {
    return this.readNow(entities);
  }

  /** listBook(), synchronously. */
  bookNow(): { positions: Doc[]; prices: Record<string, Doc> } {
    return { positions: [...this.positions.values()], prices: Object.fromEntries(this.prices) };
  }

  async listBook(): Promise<{ positions: Doc[]; prices: Record<string, Doc> }> {
    return this.bookNow();
  }

  /** commit(), synchronously. */
  commitNow(change: Change): CommitResult {
    const refused: number[] = [];
    change.forEach((write, i) => {
      const doc = this.get(write.to);
      if (!(write.when ?? []).every((check) => holds(doc, check))) refused.push(i);
    });
    if (refused.length > 0) return { ok: false, refused };
    for (const write of change) {
      const writes = write.set ?? write.setIfAbsent ?? write.add ?? write.remove ?? write.replace;
      if (writes !== undefined) this.put(write.to, applied(this.get(write.to), write));
    }
    this.generation += 1;
    return { ok: true };
  }

  async commit(change: Change): Promise<CommitResult> {
    return this.commitNow(change);
  }

  async listOrders(limit: number): Promise<Doc[]> {
    return [...this.orders.values()]
      .sort((a, b) => (String(a.createdAt) < String(b.createdAt) ? 1 : -1))
      .slice(0, limit);
  }

  /** Always complete: memory has no index to lag behind. */
  async listOpenOrders(): Promise<Doc[]> {
    return [...this.orders.values()].filter((doc) => doc.final !== true);
  }

  async transitions(limit: number): Promise<Doc[]> {
    return this.log.slice(-limit).reverse();
  }

  /** Drops a final order (see MemorySignalStore.forget). */
  forgetOrder(clientOrderId: string): void {
    if (this.orders.get(clientOrderId)?.final === true) this.orders.delete(clientOrderId);
  }
}
