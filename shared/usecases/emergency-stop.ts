import type { Signal } from '../domain/alert.js';
import { dec } from '../domain/money.js';
import { approvalBookkeeping, sizeOrder } from '../domain/risk.js';
import type { BrokerOrder } from '../domain/trading.js';
import type { OrderRecord } from '../ports/index.js';
import { haltTrading } from './breaker.js';
import { isFinal, recordDerivedSignal, type TradeFlowDeps } from './trade-flow.js';

export interface StopItem {
  kind: 'cancel' | 'flatten';
  symbol: string;
  clientOrderId: string;
  /** What the broker reports at the end: cancelled, filled, … or `failed: <why>`. */
  outcome: string;
  ok: boolean;
}

export interface StopReport {
  /** The state is HALTED whatever else happened; `changed` is false when it already was. */
  halted: { changed: boolean; since: string | undefined };
  items: StopItem[];
  /** Orders still open and positions still held after the stop, as Pinebridge records them. */
  remaining: { openOrders: string[]; positions: { symbol: string; quantity: string }[] };
  /** True when every broker action succeeded and nothing remains that was asked to go. */
  complete: boolean;
}

const ATTEMPTS = 3;
/** How long a stop waits for an order that was being sent as it halted to show at the broker. */
const IN_FLIGHT_WAIT_MS = 3_000;
const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** A broker action tried a few times (a stop must get through a blip), then reported as failed. */
async function withRetries<T>(action: () => Promise<T>): Promise<T> {
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
 * The broker's view of an open order. One cleared to send before the halt (SubmitOrder's claim)
 * may still be on its way there: look again for a little while before concluding it is not.
 */
async function lookUp(deps: TradeFlowDeps, order: OrderRecord): Promise<BrokerOrder | undefined> {
  const deadline = Date.now() + (order.submitClaimedAt === undefined ? 0 : IN_FLIGHT_WAIT_MS);
  for (;;) {
    const known = await withRetries(() => deps.broker.getOrder(order.clientOrderId));
    if (known !== undefined || Date.now() >= deadline) return known;
    await pause(100);
  }
}

/**
 * The emergency stop.
 *
 *  1. HALTED at once (recorded, announced): no signal gets an order after this commits; only a
 *     manual reset ends it.
 *  2. Every open order is cancelled at the broker and the outcome booked (a fill that won the race
 *     is booked as a fill).
 *  3. With `flatten`, every position is closed by a market order of its own, recorded like any
 *     order (one per position: a second stop at the same time finds it already placed).
 *  4. What remains open is read back and reported item by item.
 *
 * When the broker cannot be reached the state is still HALTED; the report says what failed and
 * an alert says positions may remain open.
 */
export async function emergencyStop(
  deps: TradeFlowDeps,
  options: { flatten: boolean; reason: string; source: string },
): Promise<StopReport> {
  const moved = await haltTrading(deps, options.reason, options.source);
  const halted = await deps.store.snapshot();
  const items: StopItem[] = [];
  const at = () => deps.clock.now().toISOString();

  // Complete, not from the index: an order approved and cleared to send just before the halt may be
  // at the broker, and an eventually consistent index could still be missing it. An order the stop
  // does not list, it does not cancel.
  for (const order of await deps.store.listOpenOrders({ complete: true })) {
    const item: StopItem = {
      kind: 'cancel',
      symbol: order.intent.symbol,
      clientOrderId: order.clientOrderId,
      outcome: '',
      ok: false,
    };
    try {
      const known = await lookUp(deps, order);
      if (known === undefined && order.submitClaimedAt !== undefined) {
        // Cleared to send before the halt and not at the broker yet: it may still arrive, so it
        // is not booked as cancelled. It keeps its reservation; the reconciler settles it.
        item.outcome = 'failed: its submission was in flight and the broker does not show it yet';
        items.push(item);
        continue;
      }
      const report: BrokerOrder = known
        ? isFinal(known.status)
          ? known
          : await withRetries(() => deps.broker.cancelOrder(order.clientOrderId))
        : {
            clientOrderId: order.clientOrderId,
            brokerOrderId: 'never-submitted',
            status: 'cancelled',
            filledQuantity: '0',
            commission: '0',
            reason: 'emergency stop before the order reached the broker',
          };
      await deps.store.applyBrokerOrder({ ...report, reason: report.reason ?? 'emergency stop' }, at());
      item.outcome = report.status;
      item.ok = isFinal(report.status);
    } catch (error) {
      item.outcome = `failed: ${(error as Error).message}`;
    }
    items.push(item);
  }

  if (options.flatten) {
    const snapshot = await deps.store.snapshot();
    for (const position of Object.values(snapshot.positions)) {
      if (dec(position.quantity).isZero()) continue;
      items.push(await flattenPosition(deps, position.symbol, halted.breaker.since ?? at()));
    }
  }

  const after = await deps.store.snapshot();
  const remaining = {
    openOrders: (await deps.store.listOpenOrders({ complete: true })).map((o) => o.clientOrderId),
    positions: Object.values(after.positions)
      .filter((p) => !dec(p.quantity).isZero())
      .map((p) => ({ symbol: p.symbol, quantity: p.quantity })),
  };
  const complete =
    items.every((i) => i.ok) &&
    remaining.openOrders.length === 0 &&
    (!options.flatten || remaining.positions.length === 0);
  if (!complete) {
    await deps.events
      .stopIncomplete({
        reason: options.reason,
        failures: items.filter((i) => !i.ok).map((i) => `${i.kind} ${i.symbol}: ${i.outcome}`),
        openOrders: remaining.openOrders,
        positions: remaining.positions,
      })
      .catch((error: unknown) =>
        deps.log.error('incomplete-stop alert failed', { error: (error as Error).name }),
      );
  }
  return {
    halted: { changed: moved !== undefined, since: after.breaker.since },
    items,
    remaining,
    complete,
  };
}

/**
 * Closes one position with a market order, recorded as a signal and an order like any other, so
 * the fill is booked once and the audit trail shows it. The dedup key names the halt it belongs
 * to: two stops racing for the same halt place one order.
 */
async function flattenPosition(deps: TradeFlowDeps, symbol: string, haltedSince: string): Promise<StopItem> {
  const receivedAt = deps.clock.now().toISOString();
  const snapshot = await deps.store.snapshot();
  const last = snapshot.prices[symbol]?.price ?? snapshot.positions[symbol]?.averageCost ?? '0';
  const signal: Signal = {
    symbol,
    action: 'exit',
    quantityType: 'fixed_quantity',
    orderType: 'market',
    price: last,
    timeInForce: 'day',
    extendedHours: false,
    comment: 'emergency stop: flatten',
  };
  const { signalId, fresh } = await recordDerivedSignal(
    deps.signals,
    signal,
    `flatten#${symbol}#${haltedSince}`,
    receivedAt,
  );
  const item: StopItem = { kind: 'flatten', symbol, clientOrderId: '', outcome: '', ok: false };
  if (!fresh) {
    item.outcome = 'already placed by a concurrent stop';
    item.ok = true;
    return item;
  }
  try {
    const now = deps.clock.now();
    // Sized like an exit (what is held once orders in flight complete), bypassing the checks:
    // HALTED denies new risk, and closing is exactly what the stop is for.
    const sized = sizeOrder({ signal, signalId, snapshot, config: deps.config, now });
    if ('code' in sized) {
      item.outcome = `${sized.code}: ${sized.detail}`;
      item.ok = sized.code === 'NOTHING_TO_CLOSE';
      await deps.store.reject(signalId, [sized], now.toISOString());
      return item;
    }
    const { intent } = sized;
    item.clientOrderId = intent.clientOrderId;
    const approved = await deps.store.approve(
      intent,
      snapshot,
      now.toISOString(),
      approvalBookkeeping(intent, { signal, signalId, snapshot, config: deps.config, now }),
    );
    if (approved !== 'approved') throw new Error(`could not record the closing order (${approved})`);
    let report = await withRetries(() => deps.broker.submitOrder(intent));
    for (let poll = 0; !isFinal(report.status) && poll < 20; poll++) {
      await pause(250);
      report = (await withRetries(() => deps.broker.getOrder(intent.clientOrderId))) ?? report;
    }
    const status = await deps.store.applyBrokerOrder(report, deps.clock.now().toISOString());
    item.outcome = status;
    item.ok = status === 'filled';
  } catch (error) {
    item.outcome = `failed: ${(error as Error).message}`;
    await deps.store.markFailed(
      signalId,
      `FAILED: emergency stop flatten: ${(error as Error).message}`,
      deps.clock.now().toISOString(),
    );
  }
  return item;
}
