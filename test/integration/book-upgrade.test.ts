import { GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import { describe, expect, it } from 'vitest';
import { DynamoBookStore } from '../../shared/adapters/dynamodb/book-store.js';
import { Book } from '../../shared/usecases/book.js';
import { anIntent } from '../fixtures/builders.js';
import { documentClient, freshTables } from '../support/dynamo.js';

const AT = '2026-12-04T15:00:00.000Z';

describe('a book written by the first schema (one versioned account item)', () => {
  it('is moved into the new items on first read, whole, and then books as any other', async () => {
    const { tables } = await freshTables();
    const db = documentClient();
    const portfolio = (sk: string, item: Record<string, unknown>) =>
      db.send(new PutCommand({ TableName: tables.portfolio, Item: { pk: 'PORTFOLIO', sk, ...item } }));
    // As the previous version left it: 3 AAPL held, a buy of 3 more in flight ($300 reserved).
    await portfolio('ACCOUNT', {
      cash: '10000',
      reservedCash: '300',
      realizedPnl: '5',
      commissions: '1',
      version: 7,
      recentOrders: [{ symbol: 'AAPL', side: 'buy', signalId: 's-open', at: AT }],
      dayTrades: [{ session: '2026-12-04', symbol: 'MSFT', signalId: 's-day' }],
      lossStreak: ['2026-12-04T14:00:00.000Z'],
      failureStreak: ['2026-12-04T14:30:00.000Z'],
    });
    await portfolio('POSITION#AAPL', {
      symbol: 'AAPL',
      quantity: '3',
      averageCost: '100',
      realizedPnl: '0',
      pendingQuantity: '3',
      openedInSession: '2026-12-04',
    });
    await portfolio('PRICE#AAPL', { price: '100', at: AT });
    const intent = anIntent({
      clientOrderId: 'pb-s-open',
      signalId: 's-open',
      quantity: '3',
      reservedCash: '300',
    });
    await db.send(
      new PutCommand({
        TableName: tables.orders,
        Item: {
          clientOrderId: intent.clientOrderId,
          signalId: intent.signalId,
          intent,
          status: 'new',
          filledQuantity: '0',
          bookedQuantity: '0',
          bookedCommission: '0',
          realizedPnl: '0',
          closedQuantity: '0',
          reservedCashRemaining: '300',
          final: false,
          lifecycle: 'open',
          createdAt: AT,
          updatedAt: AT,
        },
      }),
    );
    await db.send(
      new PutCommand({
        TableName: tables.signals,
        Item: { pk: 's-open', signalId: 's-open', status: 'submitted', receivedAt: AT, updatedAt: AT },
      }),
    );
    const book = new Book(new DynamoBookStore(db, tables), { startingCash: '1', tradableSymbols: ['AAPL'] });

    const snapshot = await book.snapshot();

    expect(snapshot.account).toMatchObject({
      cash: '10000',
      reservedCash: '300',
      realizedPnl: '5',
      commissions: '1',
      exposure: '600',
      openSymbols: 1,
      recentOrders: [{ symbol: 'AAPL', side: 'buy', signalId: 's-open', at: AT }],
      dayTrades: [{ session: '2026-12-04', symbol: 'MSFT', signalId: 's-day' }],
      lossStreak: ['2026-12-04T14:00:00.000Z'],
      failureStreak: ['2026-12-04T14:30:00.000Z'],
    });
    expect(snapshot.positions.AAPL).toMatchObject({
      quantity: '3',
      pendingQuantity: '3',
      openedInSession: '2026-12-04',
    });
    const account = await db.send(
      new GetCommand({ TableName: tables.portfolio, Key: { pk: 'PORTFOLIO', sk: 'ACCOUNT' } }),
    );
    expect(account.Item?.version).toBeUndefined();
    expect(account.Item?.cash).toBe(10000);

    // The order in flight fills after the upgrade: booked once, against the moved items.
    const status = await book.applyBrokerOrder(
      {
        clientOrderId: intent.clientOrderId,
        brokerOrderId: 'b-1',
        status: 'filled',
        filledQuantity: '3',
        averageFillPrice: '100',
        commission: '0',
      },
      '2026-12-04T15:01:00.000Z',
    );

    expect(status).toBe('filled');
    const after = await book.snapshot();
    expect(after.account).toMatchObject({ cash: '9700', reservedCash: '0', failureStreak: [] });
    expect(after.positions.AAPL).toMatchObject({ quantity: '6', pendingQuantity: '0', averageCost: '100' });
  });
});
