import * as z from 'zod';
import type { Signal } from '../domain/alert.js';
import { failureNotice } from '../domain/notification.js';
import { type BrokerOrder, isFinal } from '../domain/trading.js';
import type { OrderRecord } from '../ports/index.js';
import { inFlightWaitMs, SignalEventSchema, type TradeFlowDeps } from './trade-flow.js';

const ATTEMPTS = 3;
/** How many times a cancel not yet final at the broker is looked at again, 250 ms apart. */
const CONFIRM_POLLS = 20;
const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** A broker action tried a few times (a cancel must get through a blip), then reported as failed. */
export async function withRetries<T>(action: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await action();
    } catch (error) {
      if (attempt >= ATTEMPTS) throw error;
      await pause(200 * attempt);
    }
  }
}

/**
 * The broker's view of an open order. One cleared to send (SubmitOrder's claim) may still be on
 * its way there: look again until the in-flight wait ends, or until the workflow has booked it
 * final itself (its submit saw HALTED and sent nothing).
 */
async function lookUp(deps: TradeFlowDeps, order: OrderRecord): Promise<BrokerOrder | 'booked' | undefined> {
  const deadline = Date.now() + (order.submitClaimedAt === undefined ? 0 : inFlightWaitMs(deps.config));
  for (;;) {
    const known = await withRetries(() => deps.broker.getOrder(order.clientOrderId));
    if (known !== undefined || Date.now() >= deadline) return known;
    if ((await deps.store.getOrder(order.clientOrderId))?.final) return 'booked';
    await pause(100);
  }
}

/** How one open order's cancel ended: the status booked, or `failed: <why>` (it may still be open). */
export interface CancelOutcome {
  outcome: string;
  ok: boolean;
}

/**
 * Cancels one open order wherever it is, and books the outcome through the ledger (the
 * reservation is released; a fill that won the race is booked as a fill):
 *
 *  1. Not yet cleared to send: cancelled in the book, on condition that it still is not — the
 *     claim that comes after finds it final and sends nothing.
 *  2. Cleared to send: asked of the broker (waiting out a request that may still be on its way),
 *     cancelled there if still open, and the broker's report booked.
 *  3. Cleared to send and not at the broker after the wait: left as it is (it may still land);
 *     the workflow or the reconciler settles it. Reported as failed.
 *
 * The emergency stop and a signal's cancel step both cancel this way.
 */
export async function cancelOpenOrder(
  deps: TradeFlowDeps,
  order: OrderRecord,
  reason: string,
): Promise<CancelOutcome> {
  const at = () => deps.clock.now().toISOString();
  try {
    let current: OrderRecord | undefined = order;
    if (current.submitClaimedAt === undefined) {
      const unsent = await deps.store.cancelUnsent(current.clientOrderId, reason, at());
      if (unsent === 'cancelled') return { outcome: 'cancelled', ok: true };
      current = await deps.store.getOrder(order.clientOrderId);
      if (unsent === 'final' || current === undefined || current.final)
        return { outcome: current?.status ?? 'cancelled', ok: true };
    }
    const known = await lookUp(deps, current);
    if (known === 'booked') {
      // The workflow booked it final meanwhile.
      return { outcome: (await deps.store.getOrder(order.clientOrderId))?.status ?? 'cancelled', ok: true };
    }
    if (known === undefined)
      return {
        outcome: 'failed: its submission was in flight and the broker does not show it yet',
        ok: false,
      };
    let report = isFinal(known.status)
      ? known
      : await withRetries(() => deps.broker.cancelOrder(order.clientOrderId));
    // A broker may take a moment to confirm a cancel (Alpaca: pending_cancel).
    for (let poll = 0; !isFinal(report.status) && poll < CONFIRM_POLLS; poll++) {
      await pause(250);
      report = (await withRetries(() => deps.broker.getOrder(order.clientOrderId))) ?? report;
    }
    await deps.store.applyBrokerOrder({ ...report, reason: report.reason ?? reason }, at());
    return { outcome: report.status, ok: isFinal(report.status) };
  } catch (error) {
    return { outcome: `failed: ${(error as Error).message}`, ok: false };
  }
}

export const CancelOrdersOutputSchema = SignalEventSchema.extend({
  /** True: the signal goes on to its risk check (it trades after cancelling); false: it has ended. */
  decide: z.boolean(),
});
export type CancelOrdersOutput = z.infer<typeof CancelOrdersOutputSchema>;

/**
 * CancelOrders: a signal's cancel step (the `cancel` action, or `"cancel": true` before an entry
 * or exit), after RiskCheck let it through.
 *
 *  1. List the symbol's open orders completely (one approved a moment ago included), keeping
 *     those of signals received before this one — a late cancel never takes out an order its
 *     trader sent after it — and of the `cancelOrderType`, if named.
 *  2. Cancel each (cancelOpenOrder) and book each outcome through the ledger.
 *  3. All cancelled: record the step on the signal; a `cancel` ends `completed`, anything else
 *     goes back to RiskCheck to be decided against the book as the cancels left it.
 *  4. One failed: the signal ends failed, naming it — an entry is not placed beside an order it
 *     was meant to replace.
 */
export async function cancelOrders(input: unknown, deps: TradeFlowDeps): Promise<CancelOrdersOutput> {
  const event = SignalEventSchema.parse(input);
  const record = await deps.signals.get(event.signalId);
  if (record === undefined) throw new Error(`signal ${event.signalId} is not recorded`);
  const onlyCancels = record.signal.action === 'cancel';
  // Run before (a retried task, a second event): nothing more to cancel.
  if (record.status !== 'received' || record.cancels !== undefined)
    return { ...event, decide: record.status === 'received' && !onlyCancels };

  const targets: OrderRecord[] = [];
  for (const order of await deps.store.listOpenOrders({ complete: true })) {
    if (!cancels(record.signal, order) || order.signalId === event.signalId) continue;
    const placedBy = await deps.signals.get(order.signalId);
    if (placedBy !== undefined && placedBy.receivedAt >= record.receivedAt) continue;
    targets.push(order);
  }
  const reason = `cancelled by signal ${event.signalId}`;
  const orders: { clientOrderId: string; outcome: string }[] = [];
  const failed: { clientOrderId: string; outcome: string }[] = [];
  for (const order of targets) {
    const { outcome, ok } = await cancelOpenOrder(deps, order, reason);
    orders.push({ clientOrderId: order.clientOrderId, outcome });
    if (!ok) failed.push({ clientOrderId: order.clientOrderId, outcome });
  }
  const at = deps.clock.now().toISOString();
  if (failed.length > 0) {
    const what = failed.map((o) => `${o.clientOrderId} ${o.outcome}`).join('; ');
    await deps.store.markFailed(
      event.signalId,
      `CANCEL_FAILED: ${failed.length} of ${orders.length} open orders on ${record.signal.symbol} could not be cancelled${onlyCancels ? '' : ', so nothing was placed'} (${what})`.slice(
        0,
        1000,
      ),
      at,
    );
    deps.metrics?.orderFailed();
    deps.notices?.notify(
      failureNotice({
        signalId: event.signalId,
        symbol: record.signal.symbol,
        reason: `CANCEL_FAILED: ${failed.length} of ${orders.length} open orders could not be cancelled (${what})`,
        at,
      }),
    );
    return { ...event, decide: false };
  }
  await deps.store.recordCancels(event.signalId, { at, orders }, onlyCancels, at);
  deps.log.info('open orders cancelled', { signalId: event.signalId, cancelled: orders.length });
  return { ...event, decide: !onlyCancels };
}

/** Whether a signal's cancel step takes this open order: same symbol, and the type it names (if any). */
const cancels = (signal: Signal, order: OrderRecord): boolean =>
  order.intent.symbol === signal.symbol &&
  (signal.cancelOrderType === undefined || order.intent.orderType === signal.cancelOrderType);
