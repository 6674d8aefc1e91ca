/**
 * Ports: what the use cases need from the outside world. Adapters in shared/adapters implement
 * them for DynamoDB, EventBridge, Secrets Manager and the brokers; unit tests implement them by hand.
 */
import type { Signal } from '../domain/alert.js';
import type {
  ApprovalResult,
  CancelReport,
  Change,
  CommitResult,
  Doc,
  Entity,
  ORDER_STATUSES,
  TradingStateChange,
  TradingStateTransition,
} from '../domain/ledger.js';
import type { ChannelType, Notice } from '../domain/notification.js';
import type { ApprovalBookkeeping, Denial } from '../domain/risk.js';
import type {
  Breaker,
  BrokerOrder,
  OrderIntent,
  PortfolioSnapshot,
  SignalStatus,
  TradingState,
} from '../domain/trading.js';

/** Structured log lines: a message and ids/codes, never bodies or secrets. Powertools' Logger fits. */
export interface Log {
  info(message: string, ...extra: Record<string, unknown>[]): void;
  warn(message: string, ...extra: Record<string, unknown>[]): void;
  error(message: string, ...extra: Record<string, unknown>[]): void;
}

export interface Clock {
  now(): Date;
}
export const systemClock: Clock = { now: () => new Date() };

export interface SignalRecord {
  signalId: string;
  status: SignalStatus;
  signal: Signal;
  receivedAt: string;
  updatedAt: string;
  /** First denial or failure, as `CODE: detail`; absent while the signal is in flight or filled. */
  reason?: string;
  denials?: Denial[];
  clientOrderId?: string;
  filledQuantity?: string;
  averageFillPrice?: string;
  /** What the signal's cancel step did (a `cancel`, or `"cancel": true`), once it has run. */
  cancels?: CancelReport;
}

export interface NewSignal {
  signalId: string;
  signal: Signal;
  receivedAt: string;
  dedupKey: string;
  payloadHash: string;
  dedupExpiresAt: Date;
}

export type RecordSignalResult =
  | { kind: 'recorded' }
  | { kind: 'duplicate'; signalId: string }
  | { kind: 'conflict'; signalId: string };

export interface SignalStore {
  /** Records a new signal and its dedup marker atomically: both are written, or neither. */
  recordNew(input: NewSignal): Promise<RecordSignalResult>;
  get(signalId: string): Promise<SignalRecord | undefined>;
  /**
   * Most recent first, over the few days before `now` (the caller's clock: a workflow on
   * simulated time looks back from its own now, not the machine's).
   */
  recent(limit: number, now: Date): Promise<SignalRecord[]>;
  /**
   * Every signal still undecided (`received`) that arrived before `receivedBefore`, oldest first,
   * however many newer signals there are: what the reconciler must finish.
   */
  undecided(receivedBefore: string): Promise<SignalRecord[]>;
  /** Every signal received on a UTC day (YYYY-MM-DD), oldest first: record keeping and audit. */
  receivedOn(day: string): Promise<SignalRecord[]>;
}

export interface OrderRecord {
  clientOrderId: string;
  signalId: string;
  intent: OrderIntent;
  status: (typeof ORDER_STATUSES)[number];
  brokerOrderId?: string;
  filledQuantity: string;
  bookedQuantity: string;
  averageFillPrice?: string;
  /** Set once SubmitOrder is cleared to send the order: from then on the broker may have it. */
  submitClaimedAt?: string;
  /** Booked so far: commission paid and P&L realized by what this order closed. */
  commission: string;
  realizedPnl: string;
  /** How much of a position this order closed (a round trip's end when above zero). */
  closedQuantity?: string;
  final: boolean;
  createdAt: string;
  updatedAt: string;
}

export type SubmissionClaim = 'send' | 'halted' | 'final';

export interface Booked {
  status: SignalStatus;
  order: OrderRecord;
  /** This booking closed (part of) a position: realized P&L moved, so the loss limits may have. */
  closed: boolean;
}

export type { ApprovalResult, CancelReport, TradingStateChange, TradingStateTransition };

/**
 * Where the book is kept: items read and changes committed, nothing decided. Every booking rule
 * is the ledger's (shared/domain/ledger.ts); the Book (shared/usecases/book.ts) reads through
 * this port, asks the ledger, and commits. Each adapter passes the store contract
 * (test/contract/store-contract.ts).
 */
export interface BookStore {
  /** The items, read together as one consistent view (undefined: no such item). */
  read(entities: readonly Entity[]): Promise<(Doc | undefined)[]>;
  /**
   * Every position and price item. Not one consistent view: a snapshot reads the positions again
   * with `read`, which is.
   */
  listBook(): Promise<{ positions: Doc[]; prices: Record<string, Doc> }>;
  /**
   * Commits every write or none: refused, with the index of each write whose conditions failed,
   * when one does not hold at commit time (a store that cannot tell them all may name one).
   */
  commit(change: Change): Promise<CommitResult>;
  /** The newest `limit` orders, open or final, newest first (may lag the last moments' writes). */
  listOrders(limit: number): Promise<Doc[]>;
  /** Orders not yet final, each as it is now; `complete` misses none committed before the call. */
  listOpenOrders(options?: { complete?: boolean }): Promise<Doc[]>;
  /** Trading-state transitions, newest first. */
  transitions(limit: number): Promise<Doc[]>;
}

export interface TradingStore {
  /** The whole book, read consistently. Creates the account with `startingCash` on first use. */
  snapshot(): Promise<PortfolioSnapshot>;
  /** The trading state alone, read consistently: what a poll or a send asks, without the whole book. */
  tradingState(): Promise<TradingState>;
  recordPrice(symbol: string, price: string, at: string): Promise<void>;
  /**
   * Commits an approval in one transaction: the signal moves received → approved, the order
   * intent is written once, cash and position are reserved, and only if the account is unchanged
   * since `snapshot` was read (its version) and the trading state is still the snapshot's.
   * `conflict` (the book moved) and `state_changed` (the trading state moved) both mean "evaluate
   * again"; when both moved, an adapter may answer either.
   */
  approve(
    intent: OrderIntent,
    snapshot: PortfolioSnapshot,
    at: string,
    bookkeeping: ApprovalBookkeeping,
    notes?: Denial[],
  ): Promise<ApprovalResult>;
  /** received → rejected; false when the signal was already decided. */
  reject(signalId: string, denials: Denial[], at: string): Promise<boolean>;
  getOrder(clientOrderId: string): Promise<OrderRecord | undefined>;
  /**
   * The most recently created orders, newest first. For reading, not deciding: in DynamoDB it
   * comes from an index, so a write of the last moments may not show yet.
   */
  listOrders(limit: number): Promise<OrderRecord[]>;
  /**
   * Orders not yet final (in flight, or `unknown`), each as it is now. By default an order
   * approved in the last moments may be missing (DynamoDB: an eventually consistent index);
   * `complete` finds every order committed before the call, at a cost that grows with the order
   * history (DynamoDB: a consistent scan) — for the emergency stop and the reconciler's periodic
   * complete pass.
   */
  listOpenOrders(options?: { complete?: boolean }): Promise<OrderRecord[]>;
  /**
   * Clears an approved order to be sent, atomically with the trading state not being HALTED: the
   * line after which an emergency stop can no longer keep the order from the broker. `halted`: the
   * stop came first and the order must not be sent; `final`: it has ended already (cancelled).
   */
  claimSubmission(clientOrderId: string, at: string): Promise<SubmissionClaim>;
  markSubmitted(order: BrokerOrder, at: string): Promise<void>;
  /**
   * Books what the broker reports: fills not yet booked move position and cash (each unit once,
   * whatever order reports arrive in); a final status releases the rest of the reservation and
   * ends the signal. Returns the signal's status afterwards.
   */
  applyBrokerOrder(order: BrokerOrder, at: string): Promise<SignalStatus>;
  /** applyBrokerOrder, also answering with the order as booked and whether this booking closed (part of) a position. */
  bookBrokerOrder(
    order: BrokerOrder,
    at: string,
    /** The order's symbol and signal as the caller knows them: read with the order, in one read. */
    known?: { symbol: string; signalId: string },
  ): Promise<Booked>;
  /**
   * Cancels an order SubmitOrder has not been cleared to send (booked cancelled, reservation
   * released). `claimed`: it has been, so the broker may have it — cancel it there; `final`: it
   * had ended already.
   */
  cancelUnsent(clientOrderId: string, reason: string, at: string): Promise<'cancelled' | 'claimed' | 'final'>;
  /**
   * Keeps what a signal's cancel step did on the undecided signal; `completes` ends it `completed`
   * (a signal that only cancels). False when the signal was decided already.
   */
  recordCancels(signalId: string, report: CancelReport, completes: boolean, at: string): Promise<boolean>;
  /** Ends a signal as failed. The order (if any) is marked unknown and keeps its reservation. */
  markFailed(signalId: string, reason: string, at: string): Promise<void>;
  /**
   * Moves the trading state and records the transition with its reason, source and time. Returns
   * the transition, or undefined when nothing moved (already there, or `expectedSince` is stale).
   */
  setTradingState(change: TradingStateChange, at: string): Promise<TradingStateTransition | undefined>;
  /** Keeps the session's starting equity and the high-water mark, unless they moved since `read`. */
  saveRiskMarks(
    marks: { session: { date: string; startEquity: string }; highWaterMark: string },
    read: Breaker,
  ): Promise<boolean>;
  /** Recorded transitions, newest first. */
  tradingStateHistory(limit: number): Promise<TradingStateTransition[]>;
}

/** Where breaker transitions and reconciliation findings are announced: an event for notifications, a metric for alarms. */
export interface TradingStateEvents {
  transitioned(transition: TradingStateTransition): Promise<void>;
  /** Our positions and the broker's disagree (reported, never silently overwritten). */
  positionsMismatched(mismatches: PositionMismatch[]): Promise<void>;
  /** An order's fate could not be established: it keeps its reservation until the reconciler settles it. */
  orderUnknown(order: {
    clientOrderId: string;
    signalId: string;
    symbol: string;
    reason: string;
  }): Promise<void>;
  /** An emergency stop left orders or positions open (trading is HALTED all the same). */
  stopIncomplete(report: StopIncomplete): Promise<void>;
}

export interface StopIncomplete {
  reason: string;
  /** What failed, item by item: `cancel MSFT: failed: …`. */
  failures: string[];
  openOrders: string[];
  positions: { symbol: string; quantity: string }[];
}

export interface PositionMismatch {
  symbol: string;
  /** Signed quantities. */
  ours: string;
  broker: string;
}

export interface Broker {
  readonly name: string;
  /**
   * Submits once. The same client order id twice returns the existing order, never a second one.
   * A refusal by the broker is a `rejected` report (with its reason), not an error. Throws
   * BrokerAuthError when the broker refuses the keys, BrokerUnavailableError when the order's
   * fate could not be established.
   */
  submitOrder(intent: OrderIntent, guard?: SubmitGuard): Promise<BrokerOrder>;
  /** Looks an order up by client order id; undefined when the broker has never seen it. */
  getOrder(clientOrderId: string): Promise<BrokerOrder | undefined>;
  cancelOrder(clientOrderId: string): Promise<BrokerOrder>;
  /** Throws when the broker cannot be reached. */
  ping(): Promise<void>;
  /** The latest trade price, for alerts that carry none and for the price collar (if the broker has market data). */
  latestPrice?(symbol: string): Promise<{ price: string; at: string } | undefined>;
  /** The broker's own account and positions (a real broker; the reconciler compares them with ours). */
  account?(): Promise<{ cash: string; equity: string; buyingPower: string }>;
  positions?(): Promise<{ symbol: string; quantity: string; averageCost: string }[]>;
}

/**
 * Asked before every request that would send an order (the first and every re-send after a 429 or
 * a lost answer): false means trading is HALTED and nothing more may be sent. A broker whose
 * submit is a single immediate request need not ask (SubmitOrder's claim covers it).
 */
export interface SubmitGuard {
  maySend(): Promise<boolean>;
}

/** The broker refused the credentials (HTTP 401), or they belong to the other mode (paper/live). */
export class BrokerAuthError extends Error {
  override readonly name = 'BrokerAuthError';
}

/** The broker could not be reached, or an order's fate stays unknown after the submit protocol. */
export class BrokerUnavailableError extends Error {
  override readonly name = 'BrokerUnavailableError';
}

/** What the webhook publishes: an id, never the payload or the secret. */
export interface SignalReceived {
  signalId: string;
  symbol: string;
  receivedAt: string;
  /**
   * When the signal falls due: `receivedAt` unless it is delayed; the workflow waits until then.
   * Always present, so the rule's input transformer always finds the path it maps.
   */
  notBefore: string;
}

export interface SignalPublisher {
  publish(event: SignalReceived): Promise<void>;
}

export interface WebhookSecrets {
  current: string;
  previous?: string;
  /** ISO time after which the previous secret is refused. */
  previousValidUntil?: string;
}

export interface WebhookSecretSource {
  get(): Promise<WebhookSecrets>;
}

/** How the webhook answered one alert (the status codes of DESIGN §4, by cause). */
export type WebhookOutcome =
  | 'accepted'
  | 'duplicate'
  | 'unauthorized'
  | 'malformed'
  | 'invalid'
  | 'too_large'
  | 'id_conflict'
  | 'unavailable';

/**
 * What the use cases count for the dashboard and the alarms (CloudWatch embedded metrics in AWS;
 * absent locally). Dimensions are low-cardinality codes only: never an id, a symbol or a secret.
 */
export interface TradingMetricsSink {
  /** Every alert that reached the webhook, by how it was answered. */
  signalAnswered(outcome: WebhookOutcome): void;
  /** The risk check denied a signal; `reason` is the first denial's code. */
  signalRejected(reason: string): void;
  /** An order went to the broker (whatever the broker then made of it). */
  orderSubmitted(): void;
  /** The broker's final report was booked: `filled`, `cancelled` or `rejected`. */
  orderSettled(status: string): void;
  /** A signal ended `failed` (a fault in or after the risk check, compensated by RecordFailure). */
  orderFailed(): void;
  /** The broker answered 429 (after the client's own back-off on safe requests). */
  brokerRateLimited(): void;
  /** The reconciler completed a run; its absence raises an alarm. */
  reconcilerHeartbeat(): void;
}

/** Where what happened is told to the trader (fills, refusals, trips): never in the way of trading. */
export interface Notices {
  /** Hands a notice over; returns at once and never throws. */
  notify(notice: Notice): void;
  /** Resolves once what was handed over has left (a Lambda awaits it before answering). */
  flush?(): Promise<void>;
}

/** One notification channel (Telegram, Discord, Slack, a signed webhook). */
export interface Channel {
  readonly name: ChannelType;
  /** Sends one message; throws ChannelError (with `retryAfterMs` on a 429). */
  send(notice: Notice): Promise<void>;
}

/** A send that failed: the status (0: no answer) and, on a 429, how long the service asked to wait. */
export class ChannelError extends Error {
  override readonly name = 'ChannelError';
  constructor(
    message: string,
    readonly status: number,
    readonly retryAfterMs?: number,
  ) {
    super(message);
  }
}
