import type { Signal } from '../domain/alert.js';
import { clientOrderIdOf } from '../domain/ids.js';
import { dec } from '../domain/money.js';
import { approvalBookkeeping, sizeOrder } from '../domain/risk.js';
import { isFinal, type PortfolioSnapshot, TERMINAL_SIGNAL_STATUSES } from '../domain/trading.js';
import { haltTrading } from './breaker.js';
import { cancelOpenOrder, withRetries } from './cancel-orders.js';
import { recordDerivedSignal, type TradeFlowDeps } from './trade-flow.js';

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

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * The emergency stop.
 *
 *  1. HALTED at once (recorded, announced): no signal gets an order after this commits; only a
 *     manual reset ends it.
 *  2. Every open order is cancelled at the broker and the outcome booked (a fill that won the race
 *     is booked as a fill).
 *  3. With `flatten`, every position is closed by a market order of its own, recorded like any
 *     order (one per position: a second stop at the same time waits for it; a stop run again
 *     after it ended without closing places the next one).
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
    const { outcome, ok } = await cancelOpenOrder(deps, order, 'emergency stop');
    items.push({
      kind: 'cancel',
      symbol: order.intent.symbol,
      clientOrderId: order.clientOrderId,
      outcome,
      ok,
    });
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

/** How many closing orders one halt may place per symbol, each after the one before has ended. */
const FLATTEN_ATTEMPTS = 20;
/** How long a stop waits for a concurrent stop's closing order to end before reporting it open. */
const CONCURRENT_FLATTEN_WAIT_MS = 15_000;

/**
 * Closes one position with a market order, recorded as a signal and an order like any other, so
 * the fill is booked once and the audit trail shows it. The dedup key names the halt and the
 * attempt: two stops racing for the same halt place one order (the second waits for the first's
 * outcome and reports it), and a stop run again after an attempt has ended (the runbook's "run
 * the same command again" once the broker is back) places a new closing order for what is still
 * held. Never reported ok without a filled closing order or a position already flat.
 */
async function flattenPosition(deps: TradeFlowDeps, symbol: string, haltedSince: string): Promise<StopItem> {
  const item: StopItem = { kind: 'flatten', symbol, clientOrderId: '', outcome: '', ok: false };
  for (let attempt = 1; attempt <= FLATTEN_ATTEMPTS; attempt++) {
    const receivedAt = deps.clock.now().toISOString();
    const snapshot = await deps.store.snapshot();
    const signal = closingSignal(snapshot, symbol);
    const { signalId, fresh } = await recordDerivedSignal(
      deps.signals,
      signal,
      `flatten#${symbol}#${haltedSince}#${attempt}`,
      receivedAt,
    );
    if (fresh) return placeClosingOrder(deps, signal, signalId, snapshot, item);
    const earlier = await settledSignal(deps, signalId);
    if (earlier === undefined || !TERMINAL_SIGNAL_STATUSES.includes(earlier.status)) {
      item.clientOrderId = clientOrderIdOf(signalId);
      item.outcome = `a concurrent stop's closing order is still ${earlier?.status ?? 'unrecorded'}`;
      return item;
    }
    if (earlier.status === 'filled' && (await isFlat(deps, symbol))) {
      item.clientOrderId = clientOrderIdOf(signalId);
      item.outcome = 'filled';
      item.ok = true;
      return item;
    }
    // That attempt has ended and the position is still there: the next attempt closes it.
  }
  item.outcome = `failed: ${FLATTEN_ATTEMPTS} closing orders in this halt did not close it`;
  return item;
}

/** A market exit of the whole position, priced at the last known price for the audit trail. */
function closingSignal(snapshot: PortfolioSnapshot, symbol: string): Signal {
  const last = snapshot.prices[symbol]?.price ?? snapshot.positions[symbol]?.averageCost ?? '0';
  return {
    symbol,
    action: 'exit',
    quantityType: 'fixed_quantity',
    orderType: 'market',
    price: last,
    timeInForce: 'day',
    extendedHours: false,
    comment: 'emergency stop: flatten',
  };
}

const isFlat = async (deps: TradeFlowDeps, symbol: string): Promise<boolean> =>
  dec((await deps.store.snapshot()).positions[symbol]?.quantity ?? '0').isZero();

/** The signal once it has ended, or as it is when a concurrent stop is still working on it. */
async function settledSignal(deps: TradeFlowDeps, signalId: string) {
  const deadline = Date.now() + CONCURRENT_FLATTEN_WAIT_MS;
  for (;;) {
    const record = await deps.signals.get(signalId);
    if (record !== undefined && TERMINAL_SIGNAL_STATUSES.includes(record.status)) return record;
    if (Date.now() >= deadline) return record;
    await pause(100);
  }
}

async function placeClosingOrder(
  deps: TradeFlowDeps,
  signal: Signal,
  signalId: string,
  snapshot: PortfolioSnapshot,
  item: StopItem,
): Promise<StopItem> {
  try {
    const now = deps.clock.now();
    // Sized like an exit (what is held once orders in flight complete), bypassing the checks:
    // HALTED denies new risk, and closing is exactly what the stop is for.
    const sized = sizeOrder({ signal, signalId, snapshot, config: deps.config, now });
    if ('code' in sized) {
      await deps.store.reject(signalId, [sized], now.toISOString());
      const flat = dec(snapshot.positions[signal.symbol]?.quantity ?? '0').isZero();
      item.ok = flat;
      item.outcome = flat
        ? 'already flat'
        : sized.code === 'NOTHING_TO_CLOSE'
          ? `failed: an earlier closing order is still unresolved (its fate at the broker is unknown); ${signal.symbol} ${snapshot.positions[signal.symbol]?.quantity} held`
          : `${sized.code}: ${sized.detail}`;
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
