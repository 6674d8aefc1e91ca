import type { PaperOrder, PaperOrderBook } from '../paper/paper-broker.js';

/**
 * The paper venue's orders in memory, for the backtester and unit tests: the same two conditional
 * writes as the DynamoDB and SQLite books (insert once per client order id; settle a resting order
 * once). Orders are replaced, never mutated.
 */
export class MemoryPaperOrderBook implements PaperOrderBook {
  private readonly orders = new Map<string, PaperOrder>();

  async insert(order: PaperOrder): Promise<PaperOrder | undefined> {
    const existing = this.orders.get(order.clientOrderId);
    if (existing !== undefined) return existing;
    this.orders.set(order.clientOrderId, order);
    return undefined;
  }

  async get(clientOrderId: string): Promise<PaperOrder | undefined> {
    return this.orders.get(clientOrderId);
  }

  async settle(next: PaperOrder): Promise<PaperOrder> {
    const current = this.orders.get(next.clientOrderId);
    if (current === undefined) throw new Error(`no paper order ${next.clientOrderId}`);
    if (current.status !== 'new') return current;
    this.orders.set(next.clientOrderId, next);
    return next;
  }

  async ping(): Promise<void> {}

  /** Drops an order that is final (see MemorySignalStore.forget). */
  forget(clientOrderId: string): void {
    if (this.orders.get(clientOrderId)?.status !== 'new') this.orders.delete(clientOrderId);
  }
}
