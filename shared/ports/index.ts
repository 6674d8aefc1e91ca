/**
 * Ports: what the use cases need from the outside world. Adapters in shared/adapters implement
 * them for DynamoDB, EventBridge, Secrets Manager and the brokers; unit tests implement them by hand.
 */
import type { Signal } from '../domain/alert.js';
import type { Denial } from '../domain/risk.js';
import type {
  BrokerOrder,
  BrokerOrderStatus,
  OrderIntent,
  PortfolioSnapshot,
  RecentOrder,
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
  /** Most recent first, over the last few days. */
  recent(limit: number): Promise<SignalRecord[]>;
}

export interface OrderRecord {
  clientOrderId: string;
  signalId: string;
  intent: OrderIntent;
  status: BrokerOrderStatus | 'pending_submit' | 'unknown';
  brokerOrderId?: string;
  filledQuantity: string;
  bookedQuantity: string;
  averageFillPrice?: string;
  final: boolean;
  createdAt: string;
  updatedAt: string;
}

export type ApprovalResult = 'approved' | 'conflict' | 'already_decided' | 'state_changed';

export interface TradingStore {
  /** The whole book, read consistently. Creates the account with `startingCash` on first use. */
  snapshot(): Promise<PortfolioSnapshot>;
  recordPrice(symbol: string, price: string, at: string): Promise<void>;
  /**
   * Commits an approval in one transaction: the signal moves received → approved, the order
   * intent is written once, cash and position are reserved, and only if the account is unchanged
   * since `snapshot` was read (its version) and the trading state is still the snapshot's.
   */
  approve(
    intent: OrderIntent,
    snapshot: PortfolioSnapshot,
    at: string,
    recentOrders: RecentOrder[],
  ): Promise<ApprovalResult>;
  /** received → rejected; false when the signal was already decided. */
  reject(signalId: string, denials: Denial[], at: string): Promise<boolean>;
  getOrder(clientOrderId: string): Promise<OrderRecord | undefined>;
  listOrders(limit: number): Promise<OrderRecord[]>;
  markSubmitted(order: BrokerOrder, at: string): Promise<void>;
  /**
   * Books what the broker reports: fills not yet booked move position and cash (each unit once,
   * whatever order reports arrive in); a final status releases the rest of the reservation and
   * ends the signal. Returns the signal's status afterwards.
   */
  applyBrokerOrder(order: BrokerOrder, at: string): Promise<SignalStatus>;
  /** Ends a signal as failed. The order (if any) is marked unknown and keeps its reservation. */
  markFailed(signalId: string, reason: string, at: string): Promise<void>;
  /** Moves the trading state and records the transition with its reason, source and time. */
  setTradingState(state: TradingState, reason: string, source: string, at: string): Promise<void>;
  /** Recorded transitions, newest first. */
  tradingStateHistory(
    limit: number,
  ): Promise<{ from: TradingState; to: TradingState; reason: string; source: string; at: string }[]>;
}

export interface Broker {
  readonly name: string;
  /** Submits once. The same client order id twice returns the existing order, never a second one. */
  submitOrder(intent: OrderIntent): Promise<BrokerOrder>;
  /** Looks an order up by client order id; undefined when the broker has never seen it. */
  getOrder(clientOrderId: string): Promise<BrokerOrder | undefined>;
  cancelOrder(clientOrderId: string): Promise<BrokerOrder>;
  /** Throws when the broker cannot be reached. */
  ping(): Promise<void>;
}

/** What the webhook publishes: an id, never the payload or the secret. */
export interface SignalReceived {
  signalId: string;
  symbol: string;
  receivedAt: string;
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
