import { type DynamoDBDocumentClient, GetCommand, PutCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
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

const PaperOrderItem = BrokerOrderSchema.extend({ intent: OrderIntentSchema });

export class PaperOrderNotFoundError extends Error {
  override readonly name = 'PaperOrderNotFoundError';
}

/**
 * The built-in paper broker. Its order book lives in its own DynamoDB table so it behaves the
 * same in Lambda and locally, survives restarts, and answers a repeated client order id with the
 * order it already has — the same uniqueness rule as a real broker.
 */
export class PaperBroker implements Broker {
  readonly name = 'paper';

  constructor(
    private readonly db: DynamoDBDocumentClient,
    private readonly tableName: string,
    private readonly terms: PaperTerms,
    private readonly prices: PriceSource,
  ) {}

  async submitOrder(intent: OrderIntent): Promise<BrokerOrder> {
    const execution = executePaper(intent, await this.marketPrice(intent), this.terms);
    const order: z.infer<typeof PaperOrderItem> = {
      clientOrderId: intent.clientOrderId,
      brokerOrderId: `paper-${intent.clientOrderId}`,
      status: execution.status,
      filledQuantity: execution.status === 'filled' ? intent.quantity : '0',
      ...(execution.fillPrice !== undefined ? { averageFillPrice: execution.fillPrice } : {}),
      commission: execution.commission,
      ...(execution.reason !== undefined ? { reason: execution.reason } : {}),
      intent,
    };
    try {
      await this.db.send(
        new PutCommand({
          TableName: this.tableName,
          Item: order,
          ConditionExpression: 'attribute_not_exists(clientOrderId)',
        }),
      );
      return strip(order);
    } catch (error) {
      if ((error as Error).name !== 'ConditionalCheckFailedException') throw error;
      const existing = await this.getOrder(intent.clientOrderId);
      if (existing === undefined) throw error;
      return existing;
    }
  }

  async getOrder(clientOrderId: string): Promise<BrokerOrder | undefined> {
    const item = await this.read(clientOrderId);
    if (item === undefined || item.status !== 'new') return item && strip(item);
    // A resting order is re-evaluated against the latest price each time it is looked at.
    const execution = executePaper(item.intent, await this.marketPrice(item.intent), this.terms);
    if (execution.status !== 'filled' || execution.fillPrice === undefined) return strip(item);
    return this.transition(item, {
      status: 'filled',
      filledQuantity: item.intent.quantity,
      averageFillPrice: execution.fillPrice,
      commission: execution.commission,
    });
  }

  async cancelOrder(clientOrderId: string): Promise<BrokerOrder> {
    const item = await this.read(clientOrderId);
    if (item === undefined) throw new PaperOrderNotFoundError(`no paper order ${clientOrderId}`);
    if (item.status !== 'new') return strip(item);
    return this.transition(item, { status: 'cancelled' });
  }

  async ping(): Promise<void> {
    await this.db.send(new GetCommand({ TableName: this.tableName, Key: { clientOrderId: '__ping__' } }));
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

  private async read(clientOrderId: string) {
    const result = await this.db.send(
      new GetCommand({ TableName: this.tableName, Key: { clientOrderId }, ConsistentRead: true }),
    );
    return result.Item === undefined ? undefined : PaperOrderItem.parse(result.Item);
  }

  /** Moves a resting order to a final state once; a racing transition returns the winner's result. */
  private async transition(
    item: z.infer<typeof PaperOrderItem>,
    change: Partial<Pick<BrokerOrder, 'status' | 'filledQuantity' | 'averageFillPrice' | 'commission'>>,
  ): Promise<BrokerOrder> {
    const next = { ...item, ...change };
    try {
      await this.db.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: { clientOrderId: item.clientOrderId },
          UpdateExpression:
            'SET #status = :status, filledQuantity = :filled, averageFillPrice = :avg, commission = :commission',
          ConditionExpression: '#status = :new',
          ExpressionAttributeNames: { '#status': 'status' },
          ExpressionAttributeValues: {
            ':status': next.status,
            ':filled': next.filledQuantity,
            ':avg': next.averageFillPrice ?? '0',
            ':commission': next.commission,
            ':new': 'new',
          },
        }),
      );
      return strip(next);
    } catch (error) {
      if ((error as Error).name !== 'ConditionalCheckFailedException') throw error;
      const winner = await this.read(item.clientOrderId);
      if (winner === undefined) throw error;
      return strip(winner);
    }
  }
}

const strip = (item: z.infer<typeof PaperOrderItem>): BrokerOrder => {
  const { intent: _intent, ...order } = item;
  return BrokerOrderSchema.parse(order);
};
