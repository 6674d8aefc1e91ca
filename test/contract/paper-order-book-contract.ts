import { describe, expect, it } from 'vitest';
import type { PaperOrder, PaperOrderBook } from '../../shared/adapters/paper/paper-broker.js';
import { anIntent } from '../fixtures/builders.js';

/** A resting order at the paper venue, as the paper broker writes it. */
const resting = (clientOrderId: string): PaperOrder => {
  const intent = anIntent({ clientOrderId, orderType: 'limit', limitPrice: '90' });
  return {
    clientOrderId,
    brokerOrderId: `paper-${clientOrderId}`,
    status: 'new',
    filledQuantity: '0',
    commission: '0',
    intent,
  };
};

/**
 * What every store of the paper venue's orders must do (DynamoDB, SQLite, memory): the two
 * conditional writes a venue needs, so one client order id is one order and a resting order
 * ends once. `makeBook` gives an empty book.
 */
export function describePaperOrderBookContract(name: string, makeBook: () => Promise<PaperOrderBook>): void {
  describe(`paper order book contract: ${name}`, () => {
    it('records an order once: a second insert with its client order id answers the first, unchanged', async () => {
      const book = await makeBook();
      const first = resting('pb-1');

      expect(await book.insert(first)).toBeUndefined();
      expect(await book.insert({ ...first, status: 'filled', filledQuantity: '10' })).toEqual(first);
      expect(await book.get('pb-1')).toEqual(first);
      expect(await book.get('pb-unknown')).toBeUndefined();
    });

    it('settles a resting order once: a later settle answers the winner and changes nothing', async () => {
      const book = await makeBook();
      const order = resting('pb-2');
      await book.insert(order);
      const filled: PaperOrder = {
        ...order,
        status: 'filled',
        filledQuantity: '10',
        averageFillPrice: '90',
        commission: '1',
      };

      expect(await book.settle(filled)).toEqual(filled);
      expect(await book.settle({ ...order, status: 'cancelled' })).toEqual(filled);
      expect(await book.get('pb-2')).toEqual(filled);
    });

    it('a cancel that wins stores the order as cancelled, with no fill price, exactly as it answered', async () => {
      const book = await makeBook();
      const order = resting('pb-4');
      await book.insert(order);
      const cancelled: PaperOrder = { ...order, status: 'cancelled' };

      expect(await book.settle(cancelled)).toEqual(cancelled);
      expect(
        await book.settle({ ...order, status: 'filled', filledQuantity: '10', averageFillPrice: '90' }),
      ).toEqual(cancelled);
      expect(await book.get('pb-4')).toEqual(cancelled);
    });

    it('of two settles racing, exactly one wins and both answer it', async () => {
      const book = await makeBook();
      const order = resting('pb-3');
      await book.insert(order);

      const [a, b] = await Promise.all([
        book.settle({ ...order, status: 'cancelled' }),
        book.settle({ ...order, status: 'filled', filledQuantity: '10', averageFillPrice: '90' }),
      ]);

      expect(a).toEqual(b);
      expect(await book.get('pb-3')).toEqual(a);
    });
  });
}
