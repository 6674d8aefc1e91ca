import { describe, expect, it } from 'vitest';
import type { ApprovalBookkeeping, Denial } from '../../shared/domain/risk.js';
import type { BrokerOrder, OrderIntent } from '../../shared/domain/trading.js';
import type { NewSignal, SignalStore, TradingStore } from '../../shared/ports/index.js';
import { anIntent, aSignal } from '../fixtures/builders.js';

/** The stores one adapter provides, empty: the book opens with CONTRACT_STARTING_CASH. */
export interface Stores {
  store: TradingStore;
  signals: SignalStore;
}

/** The cash every store under contract must open the account with. */
export const CONTRACT_STARTING_CASH = '100000';

const START = Date.UTC(2025, 0, 2, 15, 0, 0);
/** The n-th moment of a test: one second apart, so "oldest" and "newest" have one answer. */
const timeOf = (n: number) => new Date(START + n * 1000).toISOString();

const NO_BOOKKEEPING: ApprovalBookkeeping = { recentOrders: [], dayTrades: [], openedInSession: undefined };

/** An alert received at timeOf(n), its dedup marker live for five minutes. */
const newSignal = (n: number, overrides: Partial<NewSignal> = {}): NewSignal => ({
  signalId: `s${n}`,
  signal: aSignal(),
  receivedAt: timeOf(n),
  dedupKey: `alert-${n}`,
  payloadHash: `payload-${n}`,
  dedupExpiresAt: new Date(START + n * 1000 + 300_000),
  ...overrides,
});

async function receive({ signals }: Stores, n: number): Promise<string> {
  const input = newSignal(n);
  const result = await signals.recordNew(input);
  if (result.kind !== 'recorded') throw new Error(`fixture: signal ${input.signalId} was ${result.kind}`);
  return input.signalId;
}

/** By default buy 10 AAPL at market, $1,000 reserved: the order for that signal. */
const intentFor = (signalId: string, overrides: Partial<OrderIntent> = {}): OrderIntent =>
  anIntent({ clientOrderId: `pb-${signalId}`, signalId, ...overrides });

/** Receives a signal at timeOf(n) and approves its order against a fresh snapshot. */
async function approveOrder(
  stores: Stores,
  n: number,
  overrides: Partial<OrderIntent> = {},
): Promise<OrderIntent> {
  const intent = intentFor(await receive(stores, n), overrides);
  const result = await stores.store.approve(intent, await stores.store.snapshot(), timeOf(n), NO_BOOKKEEPING);
  if (result !== 'approved') throw new Error(`fixture: order ${intent.clientOrderId} was ${result}`);
  return intent;
}

/** The broker's report: cumulative filled quantity and average price. */
const brokerReport = (
  intent: OrderIntent,
  status: BrokerOrder['status'],
  filledQuantity: string,
  averageFillPrice = '100',
): BrokerOrder => ({
  clientOrderId: intent.clientOrderId,
  brokerOrderId: `b-${intent.clientOrderId}`,
  status,
  filledQuantity,
  averageFillPrice,
  commission: '0',
});

const denial = (detail: string): Denial => ({ code: 'MAX_POSITION', detail });

/**
 * The behaviours every TradingStore and SignalStore adapter must show, whatever it keeps the book
 * in. `makeStores` gives a fresh, empty pair for each test, the account opening with
 * CONTRACT_STARTING_CASH.
 */
export function describeStoreContract(name: string, makeStores: () => Promise<Stores>): void {
  describe(`store contract: ${name}`, () => {
    describe('recording a signal', () => {
      it('a new signal is recorded as received, with the alert as given', async () => {
        const { signals } = await makeStores();
        const input = newSignal(1);

        const result = await signals.recordNew(input);

        expect(result).toEqual({ kind: 'recorded' });
        expect(await signals.get(input.signalId)).toMatchObject({
          signalId: input.signalId,
          status: 'received',
          signal: input.signal,
          receivedAt: input.receivedAt,
        });
      });

      it('the same dedup key with the same payload is a duplicate of the first signal, and nothing is recorded', async () => {
        const { signals } = await makeStores();
        await signals.recordNew(newSignal(1));
        const redelivery = newSignal(2, { dedupKey: 'alert-1', payloadHash: 'payload-1' });

        const result = await signals.recordNew(redelivery);

        expect(result).toEqual({ kind: 'duplicate', signalId: 's1' });
        expect(await signals.get('s2')).toBeUndefined();
      });

      it('the same dedup key with another payload is a conflict with the first signal, and nothing is recorded', async () => {
        const { signals } = await makeStores();
        await signals.recordNew(newSignal(1));
        const reusedId = newSignal(2, { dedupKey: 'alert-1', payloadHash: 'another payload' });

        const result = await signals.recordNew(reusedId);

        expect(result).toEqual({ kind: 'conflict', signalId: 's1' });
        expect(await signals.get('s2')).toBeUndefined();
      });

      it('undecided(before) lists exactly the signals still received that arrived before the time, oldest first', async () => {
        const stores = await makeStores();
        // Recorded out of order; s2 is decided, s5 arrives after the cut-off.
        for (const n of [3, 5, 1, 2, 4]) await receive(stores, n);
        await stores.store.reject('s2', [denial('too big')], timeOf(6));

        const undecided = await stores.signals.undecided(timeOf(5));

        expect(undecided.map((r) => r.signalId)).toEqual(['s1', 's3', 's4']);
        expect(undecided.every((r) => r.status === 'received')).toBe(true);
      });

      it('a signal leaves the undecided list once approved, rejected or failed', async () => {
        const stores = await makeStores();
        const approved = await approveOrder(stores, 1);
        const rejected = await receive(stores, 2);
        const failed = await receive(stores, 3);
        await stores.store.reject(rejected, [denial('too big')], timeOf(4));
        await stores.store.markFailed(failed, 'FAILED: risk check crashed', timeOf(4));

        const undecided = await stores.signals.undecided(timeOf(10));

        expect(undecided).toEqual([]);
        expect((await stores.signals.get(approved.signalId))?.status).toBe('approved');
        expect((await stores.signals.get(failed))?.status).toBe('failed');
      });
    });

    describe('reading signals back', () => {
      it('recent(limit, now) lists the most recently received signals first, at most `limit`', async () => {
        const stores = await makeStores();
        for (const n of [2, 4, 1, 3]) await receive(stores, n);

        const recent = await stores.signals.recent(3, new Date(timeOf(10)));

        expect(recent.map((r) => r.signalId)).toEqual(['s4', 's3', 's2']);
      });

      it('recent(limit, now) looks back over the seven UTC days ending with the day of `now`', async () => {
        const stores = await makeStores();
        await receive(stores, 1);
        const day = 86_400_000;

        const sixDaysOn = await stores.signals.recent(10, new Date(Date.parse(timeOf(1)) + 6 * day));
        const sevenDaysOn = await stores.signals.recent(10, new Date(Date.parse(timeOf(1)) + 7 * day));
        const dayBefore = await stores.signals.recent(10, new Date(Date.parse(timeOf(1)) - day));

        expect(sixDaysOn.map((r) => r.signalId)).toEqual(['s1']);
        expect(sevenDaysOn).toEqual([]);
        expect(dayBefore).toEqual([]);
      });

      it('receivedOn(day) lists every signal received on that UTC day, oldest first', async () => {
        const stores = await makeStores();
        for (const n of [3, 1, 2]) await receive(stores, n);
        await stores.signals.recordNew(newSignal(4, { receivedAt: '2025-01-03T00:00:00.000Z' }));

        const day = await stores.signals.receivedOn(timeOf(0).slice(0, 10));

        expect(day.map((r) => r.signalId)).toEqual(['s1', 's2', 's3']);
      });
    });

    describe('approval is a conditional commit', () => {
      it('an approved order is readable and its reservation shows in the next snapshot', async () => {
        const stores = await makeStores();
        const signalId = await receive(stores, 1);
        const intent = intentFor(signalId);
        const before = await stores.store.snapshot();

        const result = await stores.store.approve(intent, before, timeOf(2), NO_BOOKKEEPING);

        expect(result).toBe('approved');
        expect(await stores.store.getOrder(intent.clientOrderId)).toEqual({
          clientOrderId: intent.clientOrderId,
          signalId,
          intent,
          status: 'pending_submit',
          filledQuantity: '0',
          bookedQuantity: '0',
          commission: '0',
          realizedPnl: '0',
          closedQuantity: '0',
          final: false,
          createdAt: timeOf(2),
          updatedAt: timeOf(2),
        });
        expect(await stores.signals.get(signalId)).toMatchObject({
          status: 'approved',
          clientOrderId: intent.clientOrderId,
        });
        const after = await stores.store.snapshot();
        expect(after.account).toMatchObject({ cash: CONTRACT_STARTING_CASH, reservedCash: '1000' });
        expect(after.positions.AAPL).toMatchObject({ quantity: '0', pendingQuantity: '10' });
      });

      it('a second approval on the same symbol against the same, now stale, snapshot is refused as a conflict and reserves nothing', async () => {
        const stores = await makeStores();
        const first = intentFor(await receive(stores, 1));
        const second = intentFor(await receive(stores, 2), { reservedCash: '4000' });
        const snapshot = await stores.store.snapshot();
        await stores.store.approve(first, snapshot, timeOf(3), NO_BOOKKEEPING);

        const result = await stores.store.approve(second, snapshot, timeOf(3), NO_BOOKKEEPING);

        expect(result).toBe('conflict');
        expect(await stores.store.getOrder(second.clientOrderId)).toBeUndefined();
        expect((await stores.signals.get(second.signalId))?.status).toBe('received');
        const after = await stores.store.snapshot();
        expect(after.account.reservedCash).toBe('1000');
        expect(after.positions.AAPL).toMatchObject({ pendingQuantity: '10' });
      });

      it('approvals on different symbols against the same snapshot both commit: neither invalidates the other', async () => {
        const stores = await makeStores();
        const first = intentFor(await receive(stores, 1));
        const second = intentFor(await receive(stores, 2), { symbol: 'MSFT', reservedCash: '4000' });
        const snapshot = await stores.store.snapshot();
        const room = { ...NO_BOOKKEEPING, limits: { buyingPower: true, maxOrdersPerMinute: 10 } };
        expect(await stores.store.approve(first, snapshot, timeOf(3), room)).toBe('approved');

        expect(await stores.store.approve(second, snapshot, timeOf(3), room)).toBe('approved');

        const after = await stores.store.snapshot();
        expect(after.account.reservedCash).toBe('5000');
        expect(after.positions.MSFT).toMatchObject({ pendingQuantity: '10' });
      });

      it('an approval on another symbol that no longer fits the buying power left is refused as a conflict', async () => {
        const stores = await makeStores();
        const first = intentFor(await receive(stores, 1), { reservedCash: '60000' });
        const second = intentFor(await receive(stores, 2), { symbol: 'MSFT', reservedCash: '50000' });
        const snapshot = await stores.store.snapshot();
        const room = { ...NO_BOOKKEEPING, limits: { buyingPower: true, maxOrdersPerMinute: 10 } };
        await stores.store.approve(first, snapshot, timeOf(3), room);

        const result = await stores.store.approve(second, snapshot, timeOf(3), room);

        expect(result).toBe('conflict');
        expect((await stores.signals.get(second.signalId))?.status).toBe('received');
        expect((await stores.store.snapshot()).account.reservedCash).toBe('60000');
      });

      it('approvals past the order-rate limit within one minute are refused, whatever their symbols', async () => {
        const stores = await makeStores();
        const snapshot = await stores.store.snapshot();
        const room = { ...NO_BOOKKEEPING, limits: { buyingPower: false, maxOrdersPerMinute: 2 } };
        const results = [];
        for (const [n, symbol] of [
          [1, 'AAPL'],
          [2, 'MSFT'],
          [3, 'NVDA'],
        ] as const) {
          const intent = intentFor(await receive(stores, n), { symbol });
          results.push(await stores.store.approve(intent, snapshot, timeOf(10), room));
        }

        expect(results).toEqual(['approved', 'approved', 'conflict']);
      });

      it('approving a signal already approved is refused as already decided', async () => {
        const stores = await makeStores();
        const intent = await approveOrder(stores, 1);
        const reserved = (await stores.store.snapshot()).account.reservedCash;

        const result = await stores.store.approve(
          intent,
          await stores.store.snapshot(),
          timeOf(2),
          NO_BOOKKEEPING,
        );

        expect(result).toBe('already_decided');
        expect((await stores.store.snapshot()).account.reservedCash).toBe(reserved);
      });

      it('approving a signal already rejected is refused as already decided, and no order is written', async () => {
        const stores = await makeStores();
        const signalId = await receive(stores, 1);
        await stores.store.reject(signalId, [denial('too big')], timeOf(2));
        const intent = intentFor(signalId);

        const result = await stores.store.approve(
          intent,
          await stores.store.snapshot(),
          timeOf(3),
          NO_BOOKKEEPING,
        );

        expect(result).toBe('already_decided');
        expect(await stores.store.getOrder(intent.clientOrderId)).toBeUndefined();
        expect((await stores.signals.get(signalId))?.status).toBe('rejected');
        expect((await stores.store.snapshot()).account.reservedCash).toBe('0');
      });

      it('approving after the trading state changed since the snapshot is refused as state changed', async () => {
        const stores = await makeStores();
        const intent = intentFor(await receive(stores, 1));
        const snapshot = await stores.store.snapshot();
        await stores.store.setTradingState(
          { state: 'HALTED', reason: 'emergency stop', source: 'emergency-stop' },
          timeOf(2),
        );

        const result = await stores.store.approve(intent, snapshot, timeOf(3), NO_BOOKKEEPING);

        expect(result).toBe('state_changed');
        expect(await stores.store.getOrder(intent.clientOrderId)).toBeUndefined();
        expect((await stores.signals.get(intent.signalId))?.status).toBe('received');
        expect((await stores.store.snapshot()).account.reservedCash).toBe('0');
      });
    });

    describe('applying a broker report is idempotent per cumulative filled quantity', () => {
      it('the same partial fill reported twice books position and cash once', async () => {
        const stores = await makeStores();
        const intent = await approveOrder(stores, 1);
        await stores.store.applyBrokerOrder(brokerReport(intent, 'partially_filled', '4'), timeOf(2));

        const status = await stores.store.applyBrokerOrder(
          brokerReport(intent, 'partially_filled', '4'),
          timeOf(3),
        );

        expect(status).toBe('submitted');
        const after = await stores.store.snapshot();
        expect(after.account).toMatchObject({ cash: '99600', reservedCash: '600' });
        expect(after.positions.AAPL).toMatchObject({
          quantity: '4',
          averageCost: '100',
          pendingQuantity: '6',
        });
        expect(await stores.store.getOrder(intent.clientOrderId)).toMatchObject({
          filledQuantity: '4',
          bookedQuantity: '4',
          final: false,
        });
      });

      it('the same final fill reported twice books position and cash once', async () => {
        const stores = await makeStores();
        const intent = await approveOrder(stores, 1);
        await stores.store.applyBrokerOrder(brokerReport(intent, 'filled', '10'), timeOf(2));

        const status = await stores.store.applyBrokerOrder(brokerReport(intent, 'filled', '10'), timeOf(3));

        expect(status).toBe('filled');
        const after = await stores.store.snapshot();
        expect(after.account).toMatchObject({ cash: '99000', reservedCash: '0' });
        expect(after.positions.AAPL).toMatchObject({ quantity: '10', pendingQuantity: '0' });
        expect((await stores.signals.get(intent.signalId))?.status).toBe('filled');
      });

      it('a later report with a larger cumulative quantity books only the difference, at the price it adds', async () => {
        const stores = await makeStores();
        const intent = await approveOrder(stores, 1);
        await stores.store.applyBrokerOrder(brokerReport(intent, 'partially_filled', '4', '100'), timeOf(2));

        // 6 at an average of 101: the 2 new units cost 103 each.
        await stores.store.applyBrokerOrder(brokerReport(intent, 'partially_filled', '6', '101'), timeOf(3));

        const after = await stores.store.snapshot();
        expect(after.account).toMatchObject({ cash: '99394', reservedCash: '400' });
        expect(after.positions.AAPL).toMatchObject({
          quantity: '6',
          averageCost: '101',
          pendingQuantity: '4',
        });
        expect(await stores.store.getOrder(intent.clientOrderId)).toMatchObject({
          status: 'partially_filled',
          filledQuantity: '6',
          averageFillPrice: '101',
        });
      });

      it('a final cancel after a partial fill releases the rest of the reservation and ends the signal cancelled', async () => {
        const stores = await makeStores();
        const intent = await approveOrder(stores, 1);
        await stores.store.applyBrokerOrder(brokerReport(intent, 'partially_filled', '4'), timeOf(2));

        const status = await stores.store.applyBrokerOrder(brokerReport(intent, 'cancelled', '4'), timeOf(3));

        expect(status).toBe('cancelled');
        const after = await stores.store.snapshot();
        expect(after.account).toMatchObject({ cash: '99600', reservedCash: '0' });
        expect(after.positions.AAPL).toMatchObject({ quantity: '4', pendingQuantity: '0' });
        expect(await stores.store.getOrder(intent.clientOrderId)).toMatchObject({
          status: 'cancelled',
          filledQuantity: '4',
          final: true,
        });
        expect(await stores.signals.get(intent.signalId)).toMatchObject({
          status: 'cancelled',
          filledQuantity: '4',
          reason: 'ORDER_CANCELLED: filled 4 of 10',
        });
      });

      it('an older report with a smaller cumulative quantity, after a larger one, changes nothing', async () => {
        const stores = await makeStores();
        const intent = await approveOrder(stores, 1);
        await stores.store.applyBrokerOrder(brokerReport(intent, 'partially_filled', '6'), timeOf(2));
        const before = await stores.store.snapshot();

        await stores.store.applyBrokerOrder(brokerReport(intent, 'partially_filled', '4'), timeOf(3));

        const after = await stores.store.snapshot();
        expect(after.account).toEqual(before.account);
        expect(after.positions).toEqual(before.positions);
        expect(await stores.store.getOrder(intent.clientOrderId)).toMatchObject({
          filledQuantity: '6',
          bookedQuantity: '6',
        });
      });
    });

    describe('reject and markFailed', () => {
      it('reject moves a received signal to rejected with the first denial as its reason, once', async () => {
        const stores = await makeStores();
        const signalId = await receive(stores, 1);
        const denials: Denial[] = [denial('10 AAPL exceeds 5'), { code: 'MAX_EXPOSURE', detail: 'over' }];

        const first = await stores.store.reject(signalId, denials, timeOf(2));
        const second = await stores.store.reject(signalId, [denial('again')], timeOf(3));

        expect(first).toBe(true);
        expect(second).toBe(false);
        expect(await stores.signals.get(signalId)).toMatchObject({
          status: 'rejected',
          reason: 'MAX_POSITION: 10 AAPL exceeds 5',
          denials,
          updatedAt: timeOf(2),
        });
      });

      it('markFailed on an approved order’s signal leaves the order unknown, keeping its reservation and blocking the symbol', async () => {
        const stores = await makeStores();
        const intent = await approveOrder(stores, 1);

        await stores.store.markFailed(intent.signalId, 'FAILED: broker unreachable', timeOf(2));

        expect(await stores.signals.get(intent.signalId)).toMatchObject({
          status: 'failed',
          reason: 'FAILED: broker unreachable',
        });
        expect(await stores.store.getOrder(intent.clientOrderId)).toMatchObject({
          status: 'unknown',
          final: false,
        });
        const after = await stores.store.snapshot();
        expect(after.account.reservedCash).toBe('1000');
        expect(after.positions.AAPL).toMatchObject({
          pendingQuantity: '10',
          unresolvedOrder: intent.clientOrderId,
        });
      });
    });

    describe('the trading state', () => {
      it('tradingState() reads ACTIVE on a fresh book, then each state set, as the snapshot does', async () => {
        const stores = await makeStores();
        const fresh = await stores.store.tradingState();
        await stores.store.setTradingState({ state: 'HALTED', reason: 'test', source: 'test' }, timeOf(1));

        const halted = await stores.store.tradingState();

        expect(fresh).toBe('ACTIVE');
        expect(halted).toBe('HALTED');
        expect((await stores.store.snapshot()).tradingState).toBe(halted);
      });
    });

    describe('claimSubmission', () => {
      it('an approved order is cleared to be sent while trading is active', async () => {
        const stores = await makeStores();
        const intent = await approveOrder(stores, 1);

        const claim = await stores.store.claimSubmission(intent.clientOrderId, timeOf(2));

        expect(claim).toBe('send');
        expect((await stores.store.getOrder(intent.clientOrderId))?.submitClaimedAt).toBe(timeOf(2));
      });

      it('an approved order is not cleared once trading is HALTED', async () => {
        const stores = await makeStores();
        const intent = await approveOrder(stores, 1);
        await stores.store.setTradingState(
          { state: 'HALTED', reason: 'emergency stop', source: 'emergency-stop' },
          timeOf(2),
        );

        const claim = await stores.store.claimSubmission(intent.clientOrderId, timeOf(3));

        expect(claim).toBe('halted');
        expect((await stores.store.getOrder(intent.clientOrderId))?.submitClaimedAt).toBeUndefined();
      });

      it('a claim made before the halt stands: the order may be at the broker already', async () => {
        const stores = await makeStores();
        const intent = await approveOrder(stores, 1);
        await stores.store.claimSubmission(intent.clientOrderId, timeOf(2));
        await stores.store.setTradingState(
          { state: 'HALTED', reason: 'emergency stop', source: 'emergency-stop' },
          timeOf(3),
        );

        const claim = await stores.store.claimSubmission(intent.clientOrderId, timeOf(4));

        expect(claim).toBe('send');
        expect((await stores.store.getOrder(intent.clientOrderId))?.submitClaimedAt).toBe(timeOf(2));
      });

      it('an order that has ended is final, not sent', async () => {
        const stores = await makeStores();
        const intent = await approveOrder(stores, 1);
        await stores.store.applyBrokerOrder(brokerReport(intent, 'cancelled', '0'), timeOf(2));

        const claim = await stores.store.claimSubmission(intent.clientOrderId, timeOf(3));

        expect(claim).toBe('final');
      });
    });

    describe('cancelling an order before it is sent, and a signal’s cancel step', () => {
      it('cancelUnsent cancels an order not yet cleared to send: reservation released, signal cancelled, and a later claim sends nothing', async () => {
        const stores = await makeStores();
        const intent = await approveOrder(stores, 1);

        expect(
          await stores.store.cancelUnsent(intent.clientOrderId, 'cancelled by signal s9', timeOf(2)),
        ).toBe('cancelled');

        const order = await stores.store.getOrder(intent.clientOrderId);
        expect(order).toMatchObject({ status: 'cancelled', final: true, filledQuantity: '0' });
        expect((await stores.store.snapshot()).account.reservedCash).toBe('0');
        const signal = await stores.signals.get(intent.signalId);
        expect(signal?.status).toBe('cancelled');
        expect(signal?.reason).toBe('ORDER_CANCELLED: cancelled by signal s9');
        expect(await stores.store.claimSubmission(intent.clientOrderId, timeOf(3))).toBe('final');
      });

      it('cancelUnsent leaves an order already cleared to send as it is (the broker may have it), and an ended one alone', async () => {
        const stores = await makeStores();
        const claimed = await approveOrder(stores, 1);
        await stores.store.claimSubmission(claimed.clientOrderId, timeOf(2));
        const ended = await approveOrder(stores, 3, { symbol: 'MSFT' });
        await stores.store.applyBrokerOrder(brokerReport(ended, 'filled', ended.quantity), timeOf(4));

        expect(await stores.store.cancelUnsent(claimed.clientOrderId, 'cancel', timeOf(5))).toBe('claimed');
        expect(await stores.store.cancelUnsent(ended.clientOrderId, 'cancel', timeOf(5))).toBe('final');

        expect(await stores.store.getOrder(claimed.clientOrderId)).toMatchObject({ final: false });
        expect(await stores.store.getOrder(ended.clientOrderId)).toMatchObject({ status: 'filled' });
        expect((await stores.store.snapshot()).account.reservedCash).toBe(claimed.reservedCash);
      });

      it('recordCancels keeps the report on an undecided signal; completing ends it completed, and a decided signal is refused', async () => {
        const stores = await makeStores();
        const cancel = await receive(stores, 1);
        const entry = await receive(stores, 2);
        const report = { at: timeOf(3), orders: [{ clientOrderId: 'pb-s0', outcome: 'cancelled' }] };

        expect(await stores.store.recordCancels(cancel, report, true, timeOf(3))).toBe(true);
        expect(await stores.store.recordCancels(entry, report, false, timeOf(3))).toBe(true);
        expect(await stores.store.recordCancels(cancel, report, true, timeOf(4))).toBe(false);

        expect(await stores.signals.get(cancel)).toMatchObject({
          status: 'completed',
          reason: 'ORDERS_CANCELLED: 1 open order cancelled',
          cancels: report,
        });
        expect(await stores.signals.get(entry)).toMatchObject({ status: 'received', cancels: report });
        expect((await stores.signals.undecided(timeOf(9))).map((s) => s.signalId)).toEqual([entry]);
      });
    });

    describe('order listings', () => {
      /** Buy one AAPL, $100 reserved: small enough for a dozen orders. */
      const oneShare = { quantity: '1', reservedCash: '100' };

      it('listOrders returns exactly the `limit` most recently created orders, newest first, open and final alike', async () => {
        const stores = await makeStores();
        const intents: OrderIntent[] = [];
        for (let n = 0; n < 12; n++) intents.push(await approveOrder(stores, n, oneShare));
        // Every third order stays open; the others end filled or cancelled, the oldest last: the
        // listing follows when an order was created, not when it last changed.
        for (const [n, intent] of intents.entries()) {
          if (n % 3 === 1)
            await stores.store.applyBrokerOrder(brokerReport(intent, 'filled', '1'), timeOf(40 - n));
          if (n % 3 === 2)
            await stores.store.applyBrokerOrder(brokerReport(intent, 'cancelled', '0'), timeOf(40 - n));
        }
        const ids = intents.map((intent) => intent.clientOrderId);
        const newestFirst = [...ids].reverse();

        const three = await stores.store.listOrders(3);
        const all = await stores.store.listOrders(100);
        const none = await stores.store.listOrders(0);

        expect(three.map((o) => o.clientOrderId)).toEqual(newestFirst.slice(0, 3));
        expect(three.map((o) => o.final)).toEqual([true, true, false]);
        expect(all.map((o) => o.clientOrderId)).toEqual(newestFirst);
        expect(none).toEqual([]);
      });

      it('listOpenOrders lists every order not final, each as it is now, and the complete listing the same', async () => {
        const stores = await makeStores();
        const filled = await approveOrder(stores, 1, oneShare);
        const submitted = await approveOrder(stores, 2, oneShare);
        const unknown = await approveOrder(stores, 3, oneShare);
        const pending = await approveOrder(stores, 4, oneShare);
        const partial = await approveOrder(stores, 5, oneShare);
        await stores.store.markSubmitted(brokerReport(submitted, 'new', '0'), timeOf(10));
        await stores.store.markFailed(unknown.signalId, 'FAILED: broker unreachable', timeOf(11));
        await stores.store.applyBrokerOrder(brokerReport(partial, 'partially_filled', '0.5'), timeOf(12));
        await stores.store.applyBrokerOrder(brokerReport(filled, 'filled', '1'), timeOf(13));

        const open = await stores.store.listOpenOrders();
        const complete = await stores.store.listOpenOrders({ complete: true });

        const byId = <T extends { clientOrderId: string }>(orders: T[]) =>
          [...orders].sort((x, y) => (x.clientOrderId < y.clientOrderId ? -1 : 1));
        expect(byId(open).map((o) => [o.clientOrderId, o.status, o.filledQuantity])).toEqual([
          [submitted.clientOrderId, 'new', '0'],
          [unknown.clientOrderId, 'unknown', '0'],
          [pending.clientOrderId, 'pending_submit', '0'],
          [partial.clientOrderId, 'partially_filled', '0.5'],
        ]);
        for (const order of open) expect(order).toEqual(await stores.store.getOrder(order.clientOrderId));
        expect(byId(complete)).toEqual(byId(open));
      });
    });
  });
}
