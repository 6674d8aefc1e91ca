import { describe, expect, it } from 'vitest';
import type { Change, Entity } from '../../shared/domain/ledger.js';
import type { BookStore } from '../../shared/ports/index.js';

const ACCOUNT: Entity = { kind: 'account' };
const STATE: Entity = { kind: 'tradingState' };
const AAPL: Entity = { kind: 'position', symbol: 'AAPL' };
const MINUTE: Entity = { kind: 'rate', minute: '2025-01-02T15:00' };

/**
 * What every BookStore must do with a change, whatever it keeps items in: the language of
 * shared/domain/ledger.ts (`holds` and `applied` are its reference). The ledger's own rules run
 * through the store contract (store-contract.ts); this pins the persistence underneath, so the
 * next adapter finds out here what a condition or a write means. `makeStore` gives an empty store.
 */
export function describeBookStoreContract(name: string, makeStore: () => Promise<BookStore>): void {
  describe(`book store contract: ${name}`, () => {
    it('a change is committed whole: reads back as written, counters added to from nothing', async () => {
      const store = await makeStore();

      const result = await store.commit([
        { to: ACCOUNT, add: { cash: '100.50', openSymbols: '1' }, when: [{ item: 'absent' }] },
        { to: STATE, set: { state: 'ACTIVE', session: { date: '2025-01-02', startEquity: '100.5' } } },
        {
          to: AAPL,
          set: { symbol: 'AAPL', recentOrders: [{ symbol: 'AAPL', side: 'buy', signalId: 's1', at: 'x' }] },
          setIfAbsent: { quantity: '0' },
          add: { pendingQuantity: '0.25', seq: '1' },
        },
      ]);

      expect(result).toEqual({ ok: true });
      const [account, state, position] = await store.read([ACCOUNT, STATE, AAPL]);
      expect(account).toMatchObject({ cash: '100.5', openSymbols: '1' });
      expect(state).toMatchObject({ state: 'ACTIVE', session: { date: '2025-01-02', startEquity: '100.5' } });
      expect(position).toMatchObject({
        symbol: 'AAPL',
        quantity: '0',
        pendingQuantity: '0.25',
        seq: '1',
        recentOrders: [{ symbol: 'AAPL', side: 'buy', signalId: 's1', at: 'x' }],
      });
    });

    it('a change with one condition failing writes nothing and names every write refused', async () => {
      const store = await makeStore();
      await store.commit([{ to: ACCOUNT, add: { cash: '100' } }]);

      const result = await store.commit([
        { to: ACCOUNT, add: { cash: '-30' }, when: [{ field: 'cash', atLeast: '30' }] },
        { to: AAPL, add: { seq: '1' }, when: [{ field: 'seq', count: 1 }] },
        { to: STATE, when: [{ field: 'state', eq: 'HALTED' }] },
      ]);

      expect(result).toEqual({ ok: false, refused: [1, 2] });
      const [account, position] = await store.read([ACCOUNT, AAPL]);
      expect(account).toMatchObject({ cash: '100' });
      expect(position).toBeUndefined();
    });

    it('a pure condition writes nothing, even where the item is absent', async () => {
      const store = await makeStore();

      expect(await store.commit([{ to: STATE, when: [{ field: 'state', noneOf: ['HALTED'] }] }])).toEqual({
        ok: true,
      });

      expect(await store.read([STATE])).toEqual([undefined]);
    });

    it('counters: a missing one counts as 0 in every bound; adds are exact decimals', async () => {
      const store = await makeStore();
      const bounded = (atMost: string): Change => [
        { to: MINUTE, add: { count: '1' }, when: [{ field: 'count', atMost }] },
      ];

      expect(await store.commit(bounded('0'))).toEqual({ ok: true });
      expect(await store.commit(bounded('0'))).toEqual({ ok: false, refused: [0] });
      expect(await store.commit(bounded('1'))).toEqual({ ok: true });
      await store.commit([{ to: ACCOUNT, add: { cash: '0.1' } }]);
      await store.commit([{ to: ACCOUNT, add: { cash: '0.2' } }]);
      expect((await store.read([ACCOUNT, MINUTE])).map((doc) => doc?.cash ?? doc?.count)).toEqual([
        '0.3',
        '2',
      ]);
      expect(
        await store.commit([{ to: ACCOUNT, add: { cash: '-1' }, when: [{ field: 'cash', atLeast: '1' }] }]),
      ).toEqual({ ok: false, refused: [0] });
      expect(await store.commit([{ to: AAPL, when: [{ field: 'exposure', atLeast: '0' }] }])).toEqual({
        ok: true,
      });
      expect(await store.commit([{ to: AAPL, when: [{ field: 'seq', count: 0 }] }])).toEqual({ ok: true });
    });

    it('conditions on values: eq, oneOf, noneOf, absent, notAfter and nested fields', async () => {
      const store = await makeStore();
      await store.commit([
        {
          to: STATE,
          set: {
            state: 'REDUCING',
            since: '2025-01-02T15:00:00.000Z',
            session: { date: 'd', startEquity: '5' },
          },
        },
      ]);
      const holds = async (when: Change[number]['when']) => (await store.commit([{ to: STATE, when }])).ok;

      expect(await holds([{ field: 'state', eq: 'REDUCING' }])).toBe(true);
      expect(await holds([{ field: 'state', eq: 'ACTIVE' }])).toBe(false);
      expect(await holds([{ field: 'state', oneOf: ['ACTIVE', 'REDUCING'] }])).toBe(true);
      expect(await holds([{ field: 'state', noneOf: ['REDUCING', 'HALTED'] }])).toBe(false);
      expect(await holds([{ field: 'trip', noneOf: ['MANUAL'] }])).toBe(true);
      expect(await holds([{ field: 'trip', is: 'absent' }])).toBe(true);
      expect(await holds([{ field: 'since', is: 'absent' }])).toBe(false);
      expect(await holds([{ field: 'since', notAfter: '2025-01-02T15:00:00.000Z' }])).toBe(true);
      expect(await holds([{ field: 'since', notAfter: '2025-01-02T14:59:59.999Z' }])).toBe(false);
      expect(await holds([{ field: 'resetAt', notAfter: '2000-01-01T00:00:00.000Z' }])).toBe(true);
      expect(
        await holds([
          { field: 'session.date', eq: 'd' },
          { field: 'session.startEquity', eq: '5' },
        ]),
      ).toBe(true);
      expect(await holds([{ field: 'session.date', eq: 'e' }])).toBe(false);
      expect(await holds([{ item: 'exists' }])).toBe(true);
      expect(await holds([{ item: 'absent' }])).toBe(false);
    });

    it('fields set only if absent keep what is there; removed fields are gone; a replace writes the item whole', async () => {
      const store = await makeStore();
      await store.commit([
        { to: AAPL, set: { symbol: 'AAPL', openedInSession: 'd' }, setIfAbsent: { quantity: '5' } },
      ]);

      await store.commit([{ to: AAPL, setIfAbsent: { quantity: '0' }, remove: ['openedInSession'] }]);
      const [kept] = await store.read([AAPL]);
      expect(kept).toMatchObject({ symbol: 'AAPL', quantity: '5' });
      expect(kept?.openedInSession).toBeUndefined();

      await store.commit([
        {
          to: AAPL,
          replace: {
            fields: { symbol: 'AAPL', quantity: '7' },
            numbers: { pendingQuantity: '-2', seq: '3' },
          },
        },
      ]);
      const [replaced] = await store.read([AAPL]);
      expect(replaced).toMatchObject({ symbol: 'AAPL', quantity: '7', pendingQuantity: '-2', seq: '3' });
      await store.commit([{ to: AAPL, add: { pendingQuantity: '2' } }]);
      expect((await store.read([AAPL]))[0]).toMatchObject({ pendingQuantity: '0' });
    });

    it('listBook lists every position and price, and nothing else', async () => {
      const store = await makeStore();
      await store.commit([
        { to: AAPL, set: { symbol: 'AAPL', quantity: '1' } },
        { to: { kind: 'position', symbol: 'MSFT' }, set: { symbol: 'MSFT', quantity: '2' } },
        { to: { kind: 'price', symbol: 'AAPL' }, set: { price: '187.5', at: 't' } },
        { to: ACCOUNT, add: { cash: '1' } },
        { to: MINUTE, add: { count: '1' } },
      ]);

      const { positions, prices } = await store.listBook();

      expect(positions.map((p) => p.symbol).sort()).toEqual(['AAPL', 'MSFT']);
      expect(Object.keys(prices)).toEqual(['AAPL']);
      expect(prices.AAPL).toMatchObject({ price: '187.5', at: 't' });
    });
  });
}
