import { type DynamoDBDocumentClient, GetCommand, PutCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { type PaperOrder, type PaperOrderBook, PaperOrderSchema } from '../paper/paper-broker.js';

const isConditionFailure = (error: unknown) => (error as Error).name === 'ConditionalCheckFailedException';

/** The paper venue's orders in their own DynamoDB table, keyed by client order id. */
export class DynamoPaperOrderBook implements PaperOrderBook {
  constructor(
    private readonly db: DynamoDBDocumentClient,
    private readonly tableName: string,
  ) {}

  async insert(order: PaperOrder): Promise<PaperOrder | undefined> {
    try {
      await this.db.send(
        new PutCommand({
          TableName: this.tableName,
          Item: order,
          ConditionExpression: 'attribute_not_exists(clientOrderId)',
        }),
      );
      return undefined;
    } catch (error) {
      if (!isConditionFailure(error)) throw error;
      const existing = await this.get(order.clientOrderId);
      if (existing === undefined) throw error;
      return existing;
    }
  }

  async get(clientOrderId: string): Promise<PaperOrder | undefined> {
    const result = await this.db.send(
      new GetCommand({ TableName: this.tableName, Key: { clientOrderId }, ConsistentRead: true }),
    );
    return result.Item === undefined ? undefined : PaperOrderSchema.parse(result.Item);
  }

  async settle(next: PaperOrder): Promise<PaperOrder> {
    try {
      await this.db.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: { clientOrderId: next.clientOrderId },
          // The order as settled, field for field: no price is stored for an order that has none
          // (a cancel), so what a racing settle reads back is what the winner answered.
          UpdateExpression:
            next.averageFillPrice === undefined
              ? 'SET #status = :status, filledQuantity = :filled, commission = :commission REMOVE averageFillPrice'
              : 'SET #status = :status, filledQuantity = :filled, averageFillPrice = :avg, commission = :commission',
          ConditionExpression: '#status = :new',
          ExpressionAttributeNames: { '#status': 'status' },
          ExpressionAttributeValues: {
            ':status': next.status,
            ':filled': next.filledQuantity,
            ...(next.averageFillPrice === undefined ? {} : { ':avg': next.averageFillPrice }),
            ':commission': next.commission,
            ':new': 'new',
          },
        }),
      );
      return next;
    } catch (error) {
      if (!isConditionFailure(error)) throw error;
      const winner = await this.get(next.clientOrderId);
      if (winner === undefined) throw error;
      return winner;
    }
  }

  async ping(): Promise<void> {
    await this.db.send(new GetCommand({ TableName: this.tableName, Key: { clientOrderId: '__ping__' } }));
  }
}
