import { describe, expect, it } from 'vitest';
import { reconcile } from '../../shared/usecases/reconcile.js';
import { flowHarness } from '../support/flow.js';

const buy = (ticker: string, quantity: number, price: number) => ({ ticker, action: 'buy', quantity, price });

describe('the reconciler and signals left undecided', () => {
  it('finds a stuck signal however many newer ones there are, and its late decision is STALE_SIGNAL, no order', async () => {
    const flow = await flowHarness();
    const now = flow.deps.clock.now();
    // Received ten minutes ago; its workflow never ran (a crash, an execution lost, a dead letter).
    const stuck = await flow.record(buy('AAPL', 1, 100), new Date(now.getTime() - 600_000));
    // More than the 500 newest signals the reconciler used to look at, each decided.
    const decidedNewer = async (i: number) => {
      const newer = await flow.record(buy('MSFT', 1, 400), new Date(now.getTime() - 300_000 + i * 100));
      await flow.deps.store.reject(
        newer,
        [{ code: 'SYMBOL_NOT_ALLOWED', detail: 'test' }],
        now.toISOString(),
      );
    };
    for (let i = 0; i < 520; i += 20)
      await Promise.all(Array.from({ length: 20 }, (_, j) => decidedNewer(i + j)));

    const report = await reconcile(flow.deps, { settleAfterMs: 60_000 });

    expect(report.republished).toEqual([stuck]);
    await expect.poll(async () => (await flow.deps.signals.get(stuck))?.status).toBe('rejected');
    expect((await flow.deps.signals.get(stuck))?.reason).toMatch(
      /^STALE_SIGNAL: received 6\d\d\.\ds ago .*risk\.maxQueueSeconds 120/,
    );
    expect((await flow.deps.store.listOrders(10)).length).toBe(0);
  });
});
