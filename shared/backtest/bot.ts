import { MemoryPaperOrderBook } from '../adapters/memory/paper-orders.js';
import { MemorySignalStore } from '../adapters/memory/signal-store.js';
import { MemoryTradingStore } from '../adapters/memory/trading-store.js';
import { PaperBroker } from '../adapters/paper/paper-broker.js';
import type { Config } from '../config/schema.js';
import type { BookedOrder } from '../domain/ledger.js';
import type { PaperTerms } from '../domain/paper.js';
import type { Denial } from '../domain/risk.js';
import type {
  Clock,
  Log,
  SignalReceived,
  TradingStateEvents,
  TradingStateTransition,
} from '../ports/index.js';
import { acceptSignal } from '../usecases/accept-signal.js';
import { evaluateBreaker } from '../usecases/breaker.js';
import type { CancelOrdersOutput } from '../usecases/cancel-orders.js';
import { TRADE_FLOW_TASKS } from '../usecases/tasks.js';
import type { OrderState, RiskCheckOutput, TradeFlowDeps } from '../usecases/trade-flow.js';

/** A clock the backtest moves: every use case reads simulated time from it, never the wall clock. */
export class SimulatedClock implements Clock {
  ms = 0;
  now(): Date {
    return new Date(this.ms);
  }
}

const silent: Log = { info() {}, warn() {}, error() {} };

/** The webhook secret of the simulated bot: alerts are authenticated as TradingView's would be. */
const SECRET = 'backtest';

/** How one signal ended. */
export interface SignalEnd {
  signalId: string;
  status: 'filled' | 'rejected' | 'cancelled' | 'failed' | 'completed';
  /** The reason's code (the first denial, or BROKER_REJECTED, ORDER_CANCELLED, FAILED …); absent when filled. */
  code?: string;
  /** The reason as recorded: `CODE: detail`. */
  reason?: string;
  denials: Denial[];
  /** What the order filled (absent when nothing did). */
  fill?: { side: 'buy' | 'sell'; quantity: string; price: string; commission: string };
  /** Set on a reversal's second leg: the signal whose close it follows. */
  followsSignalId?: string;
}

/** What the webhook said, and for an accepted alert how its signal (and any follow-up leg) ended. */
export type Delivery =
  | { accepted: true; ends: SignalEnd[] }
  | { accepted: false; code: 'DUPLICATE_ALERT' | 'INVALID_ALERT' | 'ALERT_ID_CONFLICT'; detail: string };

/**
 * The live bot in one process, on memory adapters: alerts enter through the webhook's use case
 * (`acceptSignal`: the same parsing, alert schema and dedup), and each signal runs the trade-flow
 * tasks in the order of the state machine (infra/constructs/trade-flow.ts): RiskCheck → Approved? →
 * RecordRejection | SubmitOrder → OrderFinal? → RecordFill | AwaitFill/CheckOrder, any fault →
 * RecordFailure. Risk checks, circuit breaker, booking and the paper fill model are therefore the
 * production code, on simulated time. An order that rests (a limit or stop order) is looked at
 * again at every later bar, as the AwaitFill loop polls it, until it fills or its deadline passes.
 */
export class SimulatedBot {
  readonly clock = new SimulatedClock();
  readonly signals = new MemorySignalStore();
  readonly store: MemoryTradingStore;
  readonly broker: PaperBroker;
  /** The paper venue's order book, which the backtester prunes as signals end. */
  private readonly paperOrders = new MemoryPaperOrderBook();
  readonly deps: TradeFlowDeps;
  readonly transitions: TradingStateTransition[] = [];
  /** Orders resting at the broker, each with the workflow state its AwaitFill loop would hold. */
  resting: OrderState[] = [];
  private readonly published: SignalReceived[] = [];
  private readonly ends: SignalEnd[] = [];
  private delivered = 0;

  constructor(config: Config, terms: PaperTerms) {
    this.store = new MemoryTradingStore(this.signals, config.paper.startingCash);
    this.broker = new PaperBroker(this.paperOrders, terms, this.store);
    const events: TradingStateEvents = {
      transitioned: async (transition) => {
        this.transitions.push(transition);
      },
      positionsMismatched: async () => {},
      orderUnknown: async () => {},
      stopIncomplete: async () => {},
    };
    this.deps = {
      config,
      signals: this.signals,
      store: this.store,
      broker: this.broker,
      clock: this.clock,
      events,
      log: silent,
      publisher: { publish: async (event) => void this.published.push(event) },
    };
  }

  /** Posts an alert to the webhook at the clock's time, then runs the workflow for what it accepted. */
  async deliver(alert: Record<string, unknown>): Promise<Delivery> {
    const response = await acceptSignal(
      { body: JSON.stringify(alert), isBase64Encoded: false, pathSecret: SECRET },
      {
        config: this.deps.config,
        signals: this.signals,
        publisher: this.deps.publisher,
        secrets: { get: async () => ({ current: SECRET }) },
        clock: this.clock,
        log: silent,
      },
    );
    this.delivered += 1;
    if (this.delivered % 4096 === 0) this.signals.sweepMarkers(Math.floor(this.clock.ms / 1000));
    if (response.statusCode === 202) return { accepted: true, ends: await this.drain() };
    const detail = typeof response.body.error === 'string' ? response.body.error : 'refused';
    if (response.statusCode === 200)
      return {
        accepted: false,
        code: 'DUPLICATE_ALERT',
        detail: 'a re-delivery of an alert already received',
      };
    if (response.statusCode === 409) return { accepted: false, code: 'ALERT_ID_CONFLICT', detail };
    return { accepted: false, code: 'INVALID_ALERT', detail };
  }

  /** Runs every published signal (the alert's, then any follow-up leg it produced) to its end. */
  private async drain(): Promise<SignalEnd[]> {
    for (let event = this.published.shift(); event !== undefined; event = this.published.shift()) {
      await this.execute(event);
    }
    return this.ends.splice(0);
  }

  private async execute(event: SignalReceived): Promise<void> {
    const tasks = TRADE_FLOW_TASKS;
    let decision: RiskCheckOutput;
    try {
      decision = (await tasks.RiskCheck.run({ ...event }, this.deps)) as RiskCheckOutput;
    } catch (error) {
      await this.fail({ signalId: event.signalId }, error);
      return;
    }
    if (decision.decision === 'skipped') return;
    if (decision.decision === 'rejected') {
      try {
        await tasks.RecordRejection.run(decision, this.deps);
      } catch (error) {
        await this.fail(decision, error);
        return;
      }
      this.settled(decision.signalId);
      return;
    }
    if (decision.decision === 'cancel') {
      // CancelOrders, then back to RiskCheck when the signal trades after cancelling.
      let next: CancelOrdersOutput;
      try {
        next = (await tasks.CancelOrders.run(decision, this.deps)) as CancelOrdersOutput;
      } catch (error) {
        await this.fail(decision, error);
        return;
      }
      if (next.decide) await this.execute({ ...next, notBefore: next.notBefore ?? next.receivedAt });
      else this.settled(decision.signalId);
      return;
    }
    let state: OrderState;
    try {
      state = await tasks.SubmitOrder.run(decision, this.deps);
    } catch (error) {
      await this.fail(decision, error);
      return;
    }
    await this.advance(state);
  }

  /** OrderFinal?: record a final order, or leave it resting for the next poll. */
  private async advance(state: OrderState): Promise<void> {
    if (!state.final) {
      this.resting.push(state);
      return;
    }
    try {
      await TRADE_FLOW_TASKS.RecordFill.run(state, this.deps);
    } catch (error) {
      await this.fail(state, error);
      return;
    }
    this.settled(state.signalId);
  }

  /** AwaitFill → CheckOrder for every resting order, at the clock's time; returns how their signals ended. */
  async pollResting(): Promise<SignalEnd[]> {
    const waiting = this.resting;
    this.resting = [];
    for (const state of waiting) {
      let next: OrderState;
      try {
        next = await TRADE_FLOW_TASKS.CheckOrder.run(state, this.deps);
      } catch (error) {
        await this.fail(state, error);
        continue;
      }
      await this.advance(next);
    }
    return this.drain();
  }

  /** The scheduled circuit-breaker evaluation (every minute in AWS) at the clock's time. */
  async evaluateBreaker(): Promise<void> {
    await evaluateBreaker(this.deps);
  }

  /** A task's fault, caught into RecordFailure with the error as the state machine passes it. */
  private async fail(input: { signalId: string; clientOrderId?: string }, error: unknown): Promise<void> {
    const fault = error instanceof Error ? error : new Error(String(error));
    await TRADE_FLOW_TASKS.RecordFailure.run(
      {
        signalId: input.signalId,
        ...(input.clientOrderId !== undefined ? { clientOrderId: input.clientOrderId } : {}),
        error: { Error: fault.name, Cause: fault.message },
      },
      this.deps,
    );
    this.settled(input.signalId);
  }

  /** Notes how a signal ended, then lets its records go (the backtest keeps only what it reports). */
  private settled(signalId: string): void {
    const record = this.signals.peek(signalId);
    if (record === undefined) return;
    const order: BookedOrder | undefined =
      record.clientOrderId === undefined ? undefined : this.store.peekOrder(record.clientOrderId);
    const status = record.status;
    if (
      status !== 'filled' &&
      status !== 'rejected' &&
      status !== 'cancelled' &&
      status !== 'failed' &&
      status !== 'completed'
    )
      return;
    const end: SignalEnd = { signalId, status, denials: record.denials ?? [] };
    if (record.reason !== undefined) {
      end.reason = record.reason;
      end.code = /^[A-Z_]+/.exec(record.reason)?.[0] ?? 'REJECTED';
    }
    if (record.signal.followsSignalId !== undefined) end.followsSignalId = record.signal.followsSignalId;
    if (order !== undefined && order.bookedQuantity !== '0' && order.averageFillPrice !== undefined) {
      end.fill = {
        side: order.intent.side,
        quantity: order.bookedQuantity,
        price: order.averageFillPrice,
        commission: order.bookedCommission,
      };
    }
    this.ends.push(end);
    this.signals.forget(signalId);
    if (order !== undefined) {
      this.store.forgetOrder(order.clientOrderId);
      this.paperOrders.forget(order.clientOrderId);
    }
  }
}
