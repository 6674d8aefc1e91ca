import type * as z from 'zod';
import { executePaper, type PaperTerms } from '../../domain/paper.js';
import {
  type BrokerOrder,
  BrokerOrderSchema,
  type OrderIntent,
  OrderIntentSchema,
} from '../../domain/trading.js';
import type { Broker } from '../../ports/index.js';

/** Where the paper broker gets its market price for orders that rest (the latest alert price). */
export interface PriceSource {
  lastPrice(symbol: string): Promise<string | undefined>;
}

/** An order at the paper venue: the broker's report and the intent it was placed with. */
export const PaperOrderSchema = BrokerOrderSchema.extend({ intent: OrderIntentSchema });
export type PaperOrder = z.infer<typeof PaperOrderSchema>;

/**
 * Where the paper venue keeps its orders (DynamoDB in AWS, SQLite locally): a table by client
 * order id, with the two conditional writes a venue needs.
 */
export interface PaperOrderBook {
  /** Records a new order; when its client order id is taken, answers the order already there. */
  insert(order: PaperOrder): Promise<PaperOrder | undefined>;
  get(clientOrderId: string): Promise<PaperOrder | undefined>;
  /** Moves a resting (`new`) order to `next`; when it has moved already, answers it as it is. */
  settle(next: PaperOrder): Promise<PaperOrder>;
  /** Throws when the venue's storage does not answer. */
  ping(): Promise<void>;
}

export class PaperOrderNotFoundError extends Error {
  override readonly name = 'PaperOrderNotFoundError';
}

/**
 * The built-in paper broker. Its order book lives in its own store so it behaves the same in
 * Lambda and locally, survives restarts, and answers a repeated client order id with the order
 * it already has — the same uniqueness rule as a real broker.
 */
export class PaperBroker implements Broker {
  readonly name = 'paper';

  constructor(
    private readonly orders: PaperOrderBook,
    private readonly terms: PaperTerms,
    private readonly prices: PriceSource,
  ) {}

  async submitOrder(intent: OrderIntent): Promise<BrokerOrder> {
    const execution = executePaper(intent, await this.marketPrice(intent), this.terms);
    const order: PaperOrder = {
      clientOrderId: intent.clientOrderId,
      brokerOrderId: `paper-${intent.clientOrderId}`,
      status: execution.status,
      filledQuantity: execution.status === 'filled' ? intent.quantity : '0',
      ...(execution.fillPrice !== undefined ? { averageFillPrice: execution.fillPrice } : {}),
      commission: execution.commission,
      ...(execution.reason !== undefined ? { reason: execution.reason } : {}),
      intent,
    };
    return strip((await this.orders.insert(order)) ?? order);
  }

  async getOrder(clientOrderId: string): Promise<BrokerOrder | undefined> {
    const item = await this.orders.get(clientOrderId);
    if (item === undefined || item.status !== 'new') return item && strip(item);
    // A resting order is re-evaluated against the latest price each time it is looked at.
    const execution = executePaper(item.intent, await this.marketPrice(item.intent), this.terms);
    if (execution.status !== 'filled' || execution.fillPrice === undefined) return strip(item);
    return strip(
      await this.orders.settle({
        ...item,
        status: 'filled',
        filledQuantity: item.intent.quantity,
        averageFillPrice: execution.fillPrice,
        commission: execution.commission,
      }),
    );
  }

  async cancelOrder(clientOrderId: string): Promise<BrokerOrder> {
    const item = await this.orders.get(clientOrderId);
    if (item === undefined) throw new PaperOrderNotFoundError(`no paper order ${clientOrderId}`);
    if (item.status !== 'new') return strip(item);
    return strip(await this.orders.settle({ ...item, status: 'cancelled' }));
  }

  async ping(): Promise<void> {
    await this.orders.ping();
  }

  /**
   * The market: the latest recorded price (an alert's once it passed the collar); never the order's
   * own limit, which would fill it at once. A market order with none recorded fills at the price it
   * was checked at.
   */
  private async marketPrice(intent: OrderIntent): Promise<string | undefined> {
    const last = await this.prices.lastPrice(intent.symbol);
    return last ?? (intent.orderType === 'market' ? intent.referencePrice : undefined);
  }
}

const strip = (item: PaperOrder): BrokerOrder => {
  const { intent: _intent, ...order } = item;
  return BrokerOrderSchema.parse(order);
};
