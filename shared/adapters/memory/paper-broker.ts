import { executePaper, type PaperTerms } from '../../domain/paper.js';
import type { BrokerOrder, OrderIntent } from '../../domain/trading.js';
import type { Broker } from '../../ports/index.js';
import type { PriceSource } from '../paper/paper-broker.js';

export class MemoryPaperOrderNotFoundError extends Error {
  override readonly name = 'MemoryPaperOrderNotFoundError';
}

interface Item {
  order: BrokerOrder;
  intent: OrderIntent;
}

/**
 * The paper broker with its order book in memory: the same fill model (`executePaper`) and the same
 * rules as PaperBroker — an order executes against the latest recorded price (a market order
 * without one at the price it was checked at), an order that rests each time it is looked at, and a repeated client order
 * id returns the order already there.
 */
export class MemoryPaperBroker implements Broker {
  readonly name = 'paper';
  private async marketPrice(intent: OrderIntent): Promise<string | undefined> {
    const last = await this.prices.lastPrice(intent.symbol);
    return last ?? (intent.orderType === 'market' ? intent.referencePrice : undefined);
  }

  private readonly book = new Map<string, Item>();

  constructor(
    private readonly terms: PaperTerms,
    private readonly prices: PriceSource,
  ) {}

  async submitOrder(intent: OrderIntent): Promise<BrokerOrder> {
    const existing = this.book.get(intent.clientOrderId);
    if (existing !== undefined) return existing.order;
    const execution = executePaper(intent, await this.marketPrice(intent), this.terms);
    const order: BrokerOrder = {
      clientOrderId: intent.clientOrderId,
      brokerOrderId: `paper-${intent.clientOrderId}`,
      status: execution.status,
      filledQuantity: execution.status === 'filled' ? intent.quantity : '0',
      ...(execution.fillPrice !== undefined ? { averageFillPrice: execution.fillPrice } : {}),
      commission: execution.commission,
      ...(execution.reason !== undefined ? { reason: execution.reason } : {}),
    };
    this.book.set(intent.clientOrderId, { order, intent });
    return order;
  }

  async getOrder(clientOrderId: string): Promise<BrokerOrder | undefined> {
    const item = this.book.get(clientOrderId);
    if (item === undefined || item.order.status !== 'new') return item?.order;
    const execution = executePaper(item.intent, await this.marketPrice(item.intent), this.terms);
    if (execution.status !== 'filled' || execution.fillPrice === undefined) return item.order;
    return this.transition(item, {
      status: 'filled',
      filledQuantity: item.intent.quantity,
      averageFillPrice: execution.fillPrice,
      commission: execution.commission,
    });
  }

  async cancelOrder(clientOrderId: string): Promise<BrokerOrder> {
    const item = this.book.get(clientOrderId);
    if (item === undefined) throw new MemoryPaperOrderNotFoundError(`no paper order ${clientOrderId}`);
    if (item.order.status !== 'new') return item.order;
    return this.transition(item, { status: 'cancelled' });
  }

  async ping(): Promise<void> {}

  private transition(item: Item, change: Partial<BrokerOrder>): BrokerOrder {
    const order: BrokerOrder = { ...item.order, ...change };
    this.book.set(order.clientOrderId, { order, intent: item.intent });
    return order;
  }

  /** Drops an order that is final (see MemorySignalStore.forget). */
  forget(clientOrderId: string): void {
    if (this.book.get(clientOrderId)?.order.status !== 'new') this.book.delete(clientOrderId);
  }
}
