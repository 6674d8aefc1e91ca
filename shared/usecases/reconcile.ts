import { dueAt } from '../domain/alert.js';
import { dec } from '../domain/money.js';
import type { PositionMismatch } from '../ports/index.js';
import { signalEvent } from './accept-signal.js';
import { recordFailure, type TradeFlowDeps } from './trade-flow.js';

export interface ReconcileReport {
  /** Signals never decided, put on the bus again (the workflow skips any decided meanwhile). */
  republished: string[];
  /** Orders left in flight, settled against the broker: signal id → the signal's status after. */
  settled: Record<string, string>;
  /** Orders whose fate the broker could not tell (unreachable): still `unknown`, reservation kept. */
  unresolved: string[];
  /** Positions that differ from the broker's (reported, never overwritten). */
  mismatches: PositionMismatch[];
}

/** How often a running reconciler makes a complete pass (see `completePassDue`). */
export const COMPLETE_PASS_INTERVAL_MS = 60 * 60 * 1000;

/**
 * Whether a reconciliation should list open orders the complete way (a consistent scan in
 * DynamoDB) rather than from the index: at the first run of a Lambda container or a local bot —
 * so the first run after an upgrade finds, and indexes, orders an older version wrote — then
 * hourly. The index misses only orders approved moments ago, which are not settled anyway; the
 * complete pass is the safety net for whatever else it might lack.
 */
export const completePassDue = (lastCompletePass: Date | undefined, now: Date): boolean =>
  lastCompletePass === undefined || now.getTime() - lastCompletePass.getTime() >= COMPLETE_PASS_INTERVAL_MS;

/**
 * The reconciler: nothing stays in flight after a crash, a lost execution or a broker outage.
 *
 *  1. Signals still `received` after `settleAfterMs` (counted from when a delayed signal falls
 *     due) are published again, however many newer signals there are (RiskCheck then decides
 *     them, `STALE_SIGNAL` past risk.maxQueueSeconds).
 *  2. Orders not final, untouched for `settleAfterMs` (no workflow is working on them any more),
 *     are settled by client order id through the same compensation as RecordFailure: adopted
 *     (booked) if the broker has them, cancelled if still open, released if it never saw them.
 *     If the broker cannot be reached they stay `unknown` with their reservation. They are
 *     listed from the index, or completely when `complete` (see `completePassDue`).
 *  3. With a real broker, positions are compared with the broker's; differences are announced
 *     (event, metric) and left for a human — never silently overwritten.
 *  4. A completed run leaves a heartbeat metric; its absence raises an alarm in AWS.
 *
 * Runs at the local bot's start (settleAfterMs 0: nothing else is running), every minute locally,
 * and on a schedule in AWS.
 */
export async function reconcile(
  deps: TradeFlowDeps,
  options: { settleAfterMs: number; complete?: boolean },
): Promise<ReconcileReport> {
  const now = deps.clock.now().getTime();
  const settled = (iso: string) => now - Date.parse(iso) >= options.settleAfterMs;
  const report: ReconcileReport = { republished: [], settled: {}, unresolved: [], mismatches: [] };

  const settledBefore = new Date(now - options.settleAfterMs).toISOString();
  const stuck = new Map((await deps.signals.undecided(settledBefore)).map((r) => [r.signalId, r]));
  if (options.complete) {
    // Signals recorded before the byUndecided index existed are not in it: the newest of the last
    // days are looked at too, as before.
    for (const record of await deps.signals.recent(500, deps.clock.now()))
      if (record.status === 'received' && settled(record.receivedAt)) stuck.set(record.signalId, record);
  }
  for (const record of stuck.values()) {
    // A delayed signal is not stuck while it waits (its workflow's Delay state is waiting), unless
    // nothing is running (settleAfterMs 0: a local start), when its wait was lost with the process:
    // published again, it waits out the rest (the event carries when it falls due).
    if (options.settleAfterMs > 0 && !settled(dueAt(record.signal, record.receivedAt))) continue;
    await deps.publisher.publish(signalEvent(record.signalId, record.signal, record.receivedAt));
    report.republished.push(record.signalId);
  }

  for (const order of await deps.store.listOpenOrders({ complete: options.complete ?? false })) {
    if (!settled(order.updatedAt)) continue;
    const outcome = await recordFailure(
      {
        signalId: order.signalId,
        clientOrderId: order.clientOrderId,
        error: {
          Error: 'Reconciled',
          Cause: `order ${order.status} with no workflow working on it since ${order.updatedAt}`,
        },
      },
      deps,
    );
    report.settled[order.signalId] = outcome.status;
    const after = await deps.store.getOrder(order.clientOrderId);
    if (after !== undefined && !after.final) report.unresolved.push(order.clientOrderId);
  }

  if (deps.broker.positions !== undefined) {
    const [theirs, snapshot] = await Promise.all([deps.broker.positions(), deps.store.snapshot()]);
    const broker = new Map(theirs.map((p) => [p.symbol, dec(p.quantity)]));
    const symbols = new Set([...broker.keys(), ...Object.keys(snapshot.positions)]);
    for (const symbol of symbols) {
      const ours = snapshot.positions[symbol];
      // Orders in flight move both sides at slightly different moments: compare only at rest.
      if (ours !== undefined && !dec(ours.pendingQuantity).isZero()) continue;
      const ourQuantity = dec(ours?.quantity ?? '0');
      const brokerQuantity = broker.get(symbol) ?? dec(0);
      if (!ourQuantity.eq(brokerQuantity)) {
        report.mismatches.push({ symbol, ours: ourQuantity.toString(), broker: brokerQuantity.toString() });
      }
    }
    if (report.mismatches.length > 0) await deps.events.positionsMismatched(report.mismatches);
  }
  if (report.republished.length + Object.keys(report.settled).length + report.mismatches.length > 0)
    deps.log.warn('reconciled', { ...report });
  deps.metrics?.reconcilerHeartbeat();
  return report;
}
