import * as z from 'zod';
import type { Config } from '../config/schema.js';
import { type Signal, wantsCancel } from '../domain/alert.js';
import { canonicalJson, sha256, signalIdOf } from '../domain/ids.js';
import { failureNotice, fillNotice, orderEndedNotice, refusalNotice } from '../domain/notification.js';
import {
  alertPriceBelieved,
  approvalBookkeeping,
  cancelDenials,
  type Denial,
  evaluateRisk,
  type MarketData,
} from '../domain/risk.js';
import {
  type BrokerOrder,
  BrokerOrderSchema,
  isFinal,
  type LastPrice,
  type OrderIntent,
  type PortfolioSnapshot,
} from '../domain/trading.js';
import {
  type Booked,
  type Broker,
  BrokerAuthError,
  type Clock,
  type Log,
  type Notices,
  type SignalPublisher,
  type SignalStore,
  type SubmitGuard,
  type TradingMetricsSink,
  type TradingStateEvents,
  type TradingStore,
} from '../ports/index.js';
import { signalEvent } from './accept-signal.js';
import { evaluateBreaker, haltForBroker } from './breaker.js';

/**
 * The workflow's task contracts. Every task parses its input with these schemas, so the state
 * machine definition and the handlers cannot drift apart silently. Nothing here carries a secret:
 * the workflow only ever sees ids, decisions and broker order reports.
 */
export const SignalEventSchema = z.object({
  signalId: z.string(),
  symbol: z.string(),
  receivedAt: z.string(),
  /** A delayed signal's due time: the workflow's Delay state has waited for it. */
  notBefore: z.string().optional(),
});

const DenialSchema = z.object({ code: z.string(), detail: z.string() });

export const RiskCheckOutputSchema = z.discriminatedUnion('decision', [
  z.object({
    decision: z.literal('approved'),
    signalId: z.string(),
    clientOrderId: z.string(),
    symbol: z.string().optional(),
  }),
  z.object({ decision: z.literal('rejected'), signalId: z.string(), denials: z.array(DenialSchema).min(1) }),
  /** The signal cancels the symbol's open orders first (CancelOrders), then comes back here if it trades. */
  z.object({
    decision: z.literal('cancel'),
    signalId: z.string(),
    symbol: z.string(),
    receivedAt: z.string(),
  }),
  /** The signal was already decided (the event arrived twice): nothing more to do. */
  z.object({ decision: z.literal('skipped'), signalId: z.string(), reason: z.string() }),
]);
export type RiskCheckOutput = z.infer<typeof RiskCheckOutputSchema>;

/** The order a workflow follows; `symbol` lets the booking read everything it needs at once (absent in older executions). */
export const OrderRefSchema = z.object({
  signalId: z.string(),
  clientOrderId: z.string(),
  symbol: z.string().optional(),
});

export const OrderStateSchema = OrderRefSchema.extend({
  order: BrokerOrderSchema,
  /** `final` drives the workflow's Choice: true → record the outcome, false → wait and poll. */
  final: z.boolean(),
  pollSeconds: z.number().int().positive(),
  deadline: z.string(),
});
export type OrderState = z.infer<typeof OrderStateSchema>;

export const RecordRejectionInputSchema = z.object({
  signalId: z.string(),
  denials: z.array(DenialSchema).min(1),
});

export const RecordFailureInputSchema = z.object({
  signalId: z.string(),
  clientOrderId: z.string().optional(),
  error: z.object({ Error: z.string(), Cause: z.unknown().optional() }),
});

export interface TradeFlowDeps {
  config: Config;
  signals: SignalStore;
  store: TradingStore;
  broker: Broker;
  clock: Clock;
  events: TradingStateEvents;
  log: Log;
  /** Puts follow-up signals (a reversal's second leg) on the bus, as the webhook does. */
  publisher: SignalPublisher;
  /** Counts rejections and order outcomes for the dashboard and alarms (absent locally). */
  metrics?: TradingMetricsSink;
  /** Tells the trader what happened: fills, refusals, failures (absent: no channel configured). */
  notices?: Notices;
}

/**
 * How long after SubmitOrder's claim a request for the order may still reach the broker: the
 * submit re-checks HALTED before every request, so what can be in flight is at most the submit
 * budget plus a request and a lookup with Alpaca; a few seconds for the paper broker, whose
 * submit is one write. Until then, the broker not showing the order proves nothing.
 */
export function inFlightWaitMs(config: Config): number {
  return config.broker === 'alpaca'
    ? config.alpaca.submitBudgetMs + 2 * config.alpaca.requestTimeoutMs
    : 3_000;
}

/** Raised for a fault the workflow may retry (before any broker call). */
export class TransientStoreError extends Error {
  override readonly name = 'TransientStoreError';
}

/**
 * How long RiskCheck keeps re-running a check whose approval lost a race: well inside the
 * Lambda's 12 s and the Task's 15 s, so a burst of racing signals is decided, not failed.
 */
const APPROVAL_BUDGET_MS = 8_000;

/**
 * Exponential backoff with full jitter between optimistic retries: a random pause of up to
 * 5 ms × 2^attempt, at most 500 ms. A fixed small window collapses under many contenders — they
 * all come back together and collide again (the storm test starved approvals that way); a window
 * that doubles spreads them out until each gets its turn.
 */
export const jitter = (attempt: number): Promise<void> =>
  new Promise((resolve) => setTimeout(resolve, Math.random() * Math.min(500, 5 * 2 ** attempt)));

/**
 * RiskCheck.
 *
 * Primary course:
 *  1. Load the signal; skip it if it is already decided (the event arrived twice).
 *  1a. A signal that cancels open orders (the `cancel` action, `"cancel": true`) and has not yet:
 *     if it is fresh, real and for a traded symbol, on to CancelOrders (which sends it back here
 *     when it trades after cancelling); else rejected.
 *  2. Read the portfolio. Unless trading is HALTED, ask the broker's market data for the symbol's
 *     latest trade and record it (Alpaca); the alert's own price is only a hint, collared against
 *     the market before it is believed.
 *  3. With no market data but alerts (the paper broker), an alert's price that passes the collar
 *     is the market's: mark the portfolio with it and record it.
 *  4. Let the circuit breaker trip or reset on the portfolio, and evaluate every check.
 *  5. Approved: commit intent + reservation in one transaction conditioned on the portfolio
 *     version; a conflict (a racing signal or fill) re-reads and re-checks.
 *  6. Denied: return the denials for RecordRejection.
 */
export async function riskCheck(input: unknown, deps: TradeFlowDeps): Promise<RiskCheckOutput> {
  const { signalId } = SignalEventSchema.parse(input);
  const record = await deps.signals.get(signalId);
  if (record === undefined) throw new Error(`signal ${signalId} is not recorded`);
  if (record.status !== 'received')
    return { decision: 'skipped', signalId, reason: `already ${record.status}` };
  const { symbol, price: alertPrice } = record.signal;
  const marketData: MarketData = deps.broker.latestPrice === undefined ? 'alerts' : 'broker';
  let read = await deps.store.snapshot();
  if (wantsCancel(record.signal) && record.cancels === undefined) {
    const denials = cancelDenials({
      signal: record.signal,
      signalId,
      config: deps.config,
      now: deps.clock.now(),
      marketData,
      receivedAt: record.receivedAt,
      snapshot: read,
    });
    return denials.length > 0
      ? { decision: 'rejected', signalId, denials }
      : { decision: 'cancel', signalId, symbol, receivedAt: record.receivedAt };
  }
  let market: LastPrice | undefined;
  // HALTED: nothing is asked of the broker (the denial needs no price).
  if (read.tradingState !== 'HALTED') {
    try {
      market = await brokerPriceOf(symbol, deps);
    } catch (error) {
      if (!(error instanceof BrokerAuthError)) throw error;
      // The broker refused the keys: no order could be placed either. Trading halts until fixed.
      await haltForBroker(deps, error.message);
      return {
        decision: 'rejected',
        signalId,
        denials: [{ code: 'BROKER_REJECTED', detail: error.message }],
      };
    }
  }
  const alertMarket =
    marketData === 'alerts' && alertPrice !== undefined
      ? { price: alertPrice, at: record.signal.time ?? record.receivedAt }
      : undefined;
  // The market price (the broker's, or a believed alert's) is written while the decision is made
  // and has landed before the task answers (SubmitOrder reads it); the snapshot is marked with it
  // meanwhile. Handled where it is awaited (finally): never an unhandled rejection before that.
  let priceRecorded: Promise<void> | undefined;
  const recordPrice = (last: LastPrice) => {
    priceRecorded = deps.store.recordPrice(symbol, last.price, last.at);
    priceRecorded.catch(() => undefined);
  };
  if (market !== undefined) recordPrice(market);
  try {
    const started = Date.now();
    for (let attempt = 0; Date.now() - started < APPROVAL_BUDGET_MS; attempt++) {
      if (attempt > 0) read = await deps.store.snapshot();
      const now = deps.clock.now();
      const base = {
        signal: record.signal,
        signalId,
        config: deps.config,
        now,
        marketData,
        receivedAt: record.receivedAt,
      };
      let marked = market === undefined ? read : withPrice(read, symbol, market);
      if (alertMarket !== undefined && alertPriceBelieved({ ...base, snapshot: marked })) {
        // The paper broker's market is what alerts say, once an alert's price is believed.
        marked = withPrice(marked, symbol, alertMarket);
        if (priceRecorded === undefined) recordPrice(alertMarket);
      }
      const snapshot = await evaluateBreaker(deps, marked);
      const ctx = { ...base, snapshot };
      const decision = evaluateRisk(ctx);
      if (!decision.approved) return { decision: 'rejected', signalId, denials: decision.denials };
      const { intent } = decision;
      const result = await deps.store.approve(
        intent,
        snapshot,
        now.toISOString(),
        approvalBookkeeping(intent, ctx),
        decision.notes,
      );
      if (result === 'approved')
        return { decision: 'approved', signalId, clientOrderId: intent.clientOrderId, symbol: intent.symbol };
      if (result === 'already_decided')
        return { decision: 'skipped', signalId, reason: 'decided concurrently' };
      // 'conflict' or 'state_changed': the world moved under us; evaluate again against fresh state,
      // after a short random pause so racing signals do not collide again in lockstep.
      await jitter(attempt);
    }
    throw new TransientStoreError(`approval of ${signalId} kept conflicting for ${APPROVAL_BUDGET_MS} ms`);
  } finally {
    await priceRecorded;
  }
}

/**
 * The broker's latest trade for the symbol (Alpaca's market data), or undefined when the broker has
 * no market data or cannot answer now (the last recorded price may still be fresh enough). Refused
 * keys are not "no answer": BrokerAuthError goes through.
 */
async function brokerPriceOf(symbol: string, deps: TradeFlowDeps): Promise<LastPrice | undefined> {
  if (deps.broker.latestPrice === undefined) return undefined;
  try {
    return await deps.broker.latestPrice(symbol);
  } catch (error) {
    if (error instanceof BrokerAuthError) throw error;
    deps.log.warn('latest price unavailable from the broker', { symbol, error: (error as Error).name });
    return undefined;
  }
}

/** The snapshot with a symbol's price moved to `last`, unless it already has a later one. */
function withPrice(snapshot: PortfolioSnapshot, symbol: string, last: LastPrice): PortfolioSnapshot {
  const known = snapshot.prices[symbol];
  if (known !== undefined && known.at > last.at) return snapshot;
  return { ...snapshot, prices: { ...snapshot.prices, [symbol]: last } };
}

/** RecordRejection: the signal ends as rejected with every denial; the first is its reason. */
export async function recordRejection(
  input: unknown,
  deps: TradeFlowDeps,
): Promise<{ signalId: string; status: 'rejected' }> {
  const { signalId, denials } = RecordRejectionInputSchema.parse(input);
  const at = deps.clock.now().toISOString();
  const rejected = await deps.store.reject(signalId, denials as Denial[], at);
  // Counted and told once, by the call that moved the signal (a retried task finds it already decided).
  if (rejected) {
    deps.metrics?.signalRejected(denials[0]?.code ?? 'UNKNOWN');
    if (deps.notices !== undefined) {
      const record = await deps.signals.get(signalId);
      deps.notices.notify(
        refusalNotice({
          symbol: record?.signal.symbol ?? '?',
          action: record?.signal.action ?? '?',
          denials,
          signalId,
          at,
        }),
      );
    }
  }
  return { signalId, status: 'rejected' };
}

function orderState(
  ref: z.infer<typeof OrderRefSchema>,
  order: BrokerOrder,
  deps: TradeFlowDeps,
  deadline: string,
): OrderState {
  return {
    ...ref,
    order,
    final: isFinal(order.status),
    pollSeconds: deps.config.workflow.orderPollSeconds,
    deadline,
  };
}

/**
 * SubmitOrder. Exactly one broker order per signal: the client order id is derived from the
 * signal id and the broker answers a repeated id with the existing order. Never retried blindly.
 */
export async function submitOrder(input: unknown, deps: TradeFlowDeps): Promise<OrderState> {
  const ref = OrderRefSchema.parse(input);
  const record = await deps.store.getOrder(ref.clientOrderId);
  if (record === undefined) throw new Error(`order ${ref.clientOrderId} has no approved intent`);
  const now = deps.clock.now();
  // An emergency stop that committed first keeps this order from the broker (scenario 41 in
  // docs/RELIABILITY.md).
  const claim = await deps.store.claimSubmission(ref.clientOrderId, now.toISOString());
  if (claim !== 'send') {
    // Never sent, so cancelled either way ('final': a stop or a cancel has booked it already).
    const order: BrokerOrder = {
      clientOrderId: ref.clientOrderId,
      brokerOrderId: 'never-submitted',
      status: 'cancelled',
      filledQuantity: '0',
      commission: '0',
      reason:
        claim === 'halted'
          ? 'TRADING_HALTED: the emergency stop committed before this order was sent'
          : 'cancelled before it was sent',
    };
    return orderState(ref, order, deps, now.toISOString());
  }
  let order: BrokerOrder;
  try {
    order = await deps.broker.submitOrder(record.intent, notAfterHalt(deps));
    deps.metrics?.orderSubmitted();
  } catch (error) {
    if (!(error instanceof BrokerAuthError)) throw error;
    // The broker refused the keys: nothing was placed. Trading halts until someone fixes them.
    await haltForBroker(deps, error.message);
    order = {
      clientOrderId: ref.clientOrderId,
      brokerOrderId: 'not-accepted',
      status: 'rejected',
      filledQuantity: '0',
      commission: '0',
      reason: error.message,
    };
  }
  if (!isFinal(order.status)) await deps.store.markSubmitted(order, now.toISOString());
  const deadline = new Date(now.getTime() + deps.config.workflow.orderTimeoutSeconds * 1000).toISOString();
  return orderState(ref, order, deps, deadline);
}

/** Re-checked before every request that would send an order: none goes out once HALTED. */
const notAfterHalt = (deps: TradeFlowDeps): SubmitGuard => ({
  maySend: async () => (await deps.store.tradingState()) !== 'HALTED',
});

/**
 * CheckOrder: the AwaitFill poll. An open order is cancelled past its deadline, and at once when
 * trading is HALTED (an emergency stop that could not cancel it, or a breaker halt, leaves nothing
 * resting at the broker for the workflow to keep polling).
 */
export async function checkOrder(input: unknown, deps: TradeFlowDeps): Promise<OrderState> {
  const state = OrderStateSchema.parse(input);
  const ref = {
    signalId: state.signalId,
    clientOrderId: state.clientOrderId,
    ...(state.symbol === undefined ? {} : { symbol: state.symbol }),
  };
  let order = (await deps.broker.getOrder(state.clientOrderId)) ?? state.order;
  if (!isFinal(order.status)) {
    const expired = deps.clock.now().getTime() >= Date.parse(state.deadline);
    if (expired || (await deps.store.tradingState()) === 'HALTED')
      order = await deps.broker.cancelOrder(state.clientOrderId);
  }
  return orderState(ref, order, deps, state.deadline);
}

/** RecordFill: book the final broker report (fill, partial fill then cancel, or broker rejection). */
export async function recordFill(
  input: unknown,
  deps: TradeFlowDeps,
): Promise<{ signalId: string; status: string }> {
  const state = OrderStateSchema.parse(input);
  const booked = await deps.store.bookBrokerOrder(
    state.order,
    deps.clock.now().toISOString(),
    state.symbol === undefined ? undefined : { symbol: state.symbol, signalId: state.signalId },
  );
  deps.metrics?.orderSettled(booked.status);
  tellOutcome(deps, booked, state.order.reason);
  await afterBooking(deps, booked);
  return { signalId: state.signalId, status: booked.status };
}

/** Tells the trader how an order ended: a fill (with the P&L it realized), or why it did not fill. */
function tellOutcome(deps: TradeFlowDeps, booked: Booked, reason: string | undefined): void {
  if (deps.notices === undefined) return;
  const { order } = booked;
  const at = deps.clock.now().toISOString();
  if (booked.status === 'filled')
    deps.notices.notify(
      fillNotice({
        side: order.intent.side,
        symbol: order.intent.symbol,
        quantity: order.filledQuantity,
        price: order.averageFillPrice ?? '?',
        realizedPnl: order.realizedPnl,
        closed: booked.closed,
        signalId: order.signalId,
        at,
      }),
    );
  else
    deps.notices.notify(
      orderEndedNotice({
        status: order.status,
        side: order.intent.side,
        symbol: order.intent.symbol,
        quantity: order.intent.quantity,
        filledQuantity: order.filledQuantity,
        reason,
        signalId: order.signalId,
        at,
      }),
    );
}

/**
 * After an order is booked: the breaker looks again if the booking realized P&L (a close; what an
 * opening fill does to equity the breaker sees before the next decision), and a filled reversal
 * close opens its second leg.
 */
async function afterBooking(deps: TradeFlowDeps, booked: Booked): Promise<void> {
  if (booked.closed) await breakerAfter(deps, 'a booked order');
  if (booked.status === 'filled' && booked.order.intent.reversalRemainder !== undefined)
    await openReversalLeg(booked.order.intent, deps);
}

/**
 * A reversal's second leg becomes a signal of its own, recorded and published like an alert, so it
 * passes every risk check against the portfolio as the close left it and gets exactly one order.
 * Recording is idempotent (the dedup key is the first leg's signal id): a retried task re-publishes
 * the same leg if it is still undecided, and never records a second one.
 */
async function openReversalLeg(intent: OrderIntent, deps: TradeFlowDeps): Promise<void> {
  const parent = await deps.signals.get(intent.signalId);
  if (parent === undefined || intent.reversalRemainder === undefined) return;
  const receivedAt = deps.clock.now().toISOString();
  // The leg places its order now: the parent's cancel step and delay are behind it.
  const {
    time: _time,
    alertId: _alertId,
    prevMarketPosition: _prev,
    cancel: _cancel,
    cancelOrderType: _cancelOrderType,
    delay: _delay,
    ...inherited
  } = parent.signal;
  const signal: Signal = {
    ...inherited,
    action: intent.side,
    sentiment: intent.side === 'buy' ? 'long' : 'short',
    quantity: intent.reversalRemainder,
    quantityType: 'fixed_quantity',
    followsSignalId: intent.signalId,
  };
  const leg = await recordDerivedSignal(deps.signals, signal, `reversal#${intent.signalId}`, receivedAt);
  if (!leg.fresh && (await deps.signals.get(leg.signalId))?.status !== 'received') return;
  await deps.publisher.publish(signalEvent(leg.signalId, signal, receivedAt));
}

/**
 * Records a signal Pinebridge derives itself (a reversal's second leg, an emergency flatten) under a
 * dedup key that names what it derives from, so a retry or a racing twin finds the one already
 * recorded instead of adding another. `fresh` is false when it was already there.
 */
export async function recordDerivedSignal(
  signals: SignalStore,
  signal: Signal,
  dedupKey: string,
  receivedAt: string,
): Promise<{ signalId: string; fresh: boolean }> {
  const signalId = signalIdOf(dedupKey, receivedAt);
  const recorded = await signals.recordNew({
    signalId,
    signal,
    receivedAt,
    dedupKey,
    payloadHash: sha256(canonicalJson(signal)).toString('hex'),
    dedupExpiresAt: new Date(Date.parse(receivedAt) + 7 * 86_400_000),
  });
  return recorded.kind === 'recorded'
    ? { signalId, fresh: true }
    : { signalId: recorded.signalId, fresh: false };
}

/**
 * The breaker looks again after money moved. Its failure does not fail the task (the order is
 * booked); the next signal or the scheduled evaluation catches up.
 */
async function breakerAfter(deps: TradeFlowDeps, what: string): Promise<void> {
  try {
    await evaluateBreaker(deps);
  } catch (error) {
    deps.log.error(`circuit breaker evaluation after ${what} failed`, { error: (error as Error).name });
  }
}

/**
 * RecordFailure: the compensation branch after a fault in or after SubmitOrder. The order's
 * fate is unknown, so ask the broker: adopt what it has (cancelling an order still open), and
 * release the reservation only when the order was never cleared to send. An order that was
 * (SubmitOrder's claim) and is not found, or whose lookup fails, stays `unknown` with its
 * reservation and the signal ends failed: the reconciler settles it.
 */
export async function recordFailure(
  input: unknown,
  deps: TradeFlowDeps,
): Promise<{ signalId: string; status: string }> {
  const { signalId, clientOrderId, error } = RecordFailureInputSchema.parse(input);
  const reason = `${error.Error}: ${typeof error.Cause === 'string' ? error.Cause.slice(0, 300) : 'task failed'}`;
  const at = () => deps.clock.now().toISOString();
  const recorded = clientOrderId === undefined ? undefined : await deps.store.getOrder(clientOrderId);
  if (clientOrderId !== undefined && recorded !== undefined) {
    try {
      let order = await deps.broker.getOrder(clientOrderId);
      if (order !== undefined && !isFinal(order.status)) order = await deps.broker.cancelOrder(clientOrderId);
      // Cleared to send and not found: while a request may still be on its way, a lookup miss
      // proves nothing. The order stays unknown with its reservation; the reconciler settles it
      // (adopted if it landed, released if not) once no request can land any more.
      if (order === undefined && recorded.submitClaimedAt !== undefined) {
        const claimedMs = deps.clock.now().getTime() - Date.parse(recorded.submitClaimedAt);
        if (claimedMs < inFlightWaitMs(deps.config)) throw new Error('cleared to send, not found yet');
      }
      const report: BrokerOrder = order ?? {
        clientOrderId,
        brokerOrderId: 'never-submitted',
        status: 'rejected',
        filledQuantity: '0',
        commission: '0',
        reason: `not submitted (${reason})`,
      };
      const booked = await deps.store.bookBrokerOrder(report, at());
      if (booked.status === 'filled') {
        deps.metrics?.orderSettled(booked.status);
        tellOutcome(deps, booked, report.reason);
        await afterBooking(deps, booked);
        return { signalId, status: booked.status };
      }
      // Anything short of a fill ends failed below, with the broker's outcome already booked.
    } catch {
      // Fall through: record the failure and keep the reservation until reconciled.
    }
  }
  await deps.store.markFailed(signalId, `FAILED: ${reason}`, at());
  const left = clientOrderId === undefined ? undefined : await deps.store.getOrder(clientOrderId);
  if (left?.status === 'unknown') {
    // An order whose fate nobody knows holds money: say so loudly (event, metric), not just in a log.
    await deps.events
      .orderUnknown({ clientOrderId: left.clientOrderId, signalId, symbol: left.intent.symbol, reason })
      .catch((error: unknown) =>
        deps.log.error('unknown-order notification failed', { error: (error as Error).name }),
      );
  }
  deps.metrics?.orderFailed();
  if (deps.notices !== undefined) {
    // Read only to tell: the signal's symbol and the reason as booked.
    const failed = await deps.signals.get(signalId);
    deps.notices.notify(
      failureNotice({
        signalId,
        symbol: failed?.signal.symbol ?? left?.intent.symbol ?? '?',
        reason: failed?.reason ?? `FAILED: ${reason}`,
        at: at(),
      }),
    );
  }
  await breakerAfter(deps, 'a failure');
  return { signalId, status: 'failed' };
}
