import {
  array,
  boolean,
  minLength,
  nullable,
  number,
  object,
  optional,
  type output,
  positive,
  record,
  string,
  enum as stringEnum,
} from 'zod/mini';

/**
 * What the page reads from the dashboard API, parsed at the page's boundary. The answers are the
 * operator requests' (shared/usecases/operator.ts, docs/API.md); these schemas name only the fields
 * the page shows, so a field added there changes nothing here. Browser code: `zod/mini`, imported
 * by name so the bundle leaves its unused parts out (classic zod's `z` brings ~400 KB of locales).
 */

const Money = string();
const Time = string();

export const Transition = object({
  from: string(),
  to: string(),
  reason: string(),
  source: string(),
  at: Time,
});

export const Position = object({
  symbol: string(),
  quantity: string(),
  pendingQuantity: string(),
  averageCost: Money,
  lastPrice: nullable(Money),
  unrealizedPnl: nullable(Money),
});

export const SignalView = object({
  signalId: string(),
  receivedAt: Time,
  symbol: string(),
  action: string(),
  status: string(),
  reason: nullable(string()),
});

export const OrderView = object({
  clientOrderId: string(),
  symbol: string(),
  side: string(),
  quantity: string(),
  status: string(),
  filledQuantity: string(),
  averageFillPrice: nullable(Money),
  createdAt: Time,
});

export const StatusAnswer = object({
  tradingState: stringEnum(['ACTIVE', 'REDUCING', 'HALTED']),
  breaker: object({
    trip: nullable(string()),
    reason: nullable(string()),
    since: nullable(Time),
    resetAt: nullable(Time),
  }),
  tradingStateHistory: array(Transition),
  account: object({
    cash: Money,
    buyingPower: Money,
    equity: Money,
    realizedPnl: Money,
    sessionStartEquity: Money,
    sessionPnl: Money,
    highWaterMark: Money,
    drawdownPercent: number(),
  }),
  positions: array(Position),
  signals: array(SignalView),
  orders: array(OrderView),
  broker: object({ name: string(), reachable: boolean() }),
  equityCurve: array(object({ at: Time, equity: Money })),
});
export type StatusAnswer = output<typeof StatusAnswer>;

export const HealthAnswer = object({
  ok: boolean(),
  components: record(string(), string()),
});
export type HealthAnswer = output<typeof HealthAnswer>;

export const SessionAnswer = object({
  csrfToken: string().check(minLength(1)),
  /** Epoch seconds. */
  expiresAt: number(),
  /**
   * Where to subscribe to live updates (AppSync Events' realtime protocol, locally and in AWS),
   * with a token of a few minutes; null: poll every `pollSeconds`.
   */
  live: nullable(
    object({
      url: string().check(minLength(1)),
      host: string().check(minLength(1)),
      channel: string().check(minLength(1)),
      token: string().check(minLength(1)),
    }),
  ),
  pollSeconds: number().check(positive()),
});
export type SessionAnswer = output<typeof SessionAnswer>;

/**
 * A message of the realtime endpoint, as far as the page reads one: its type (`connection_ack`,
 * `ka`, `subscribe_success`, `data`, `subscribe_error`…), and with `connection_ack` the silence
 * after which the link counts as dead. A `data` message's event only says that something changed.
 */
export const RealtimeMessage = object({
  type: string(),
  connectionTimeoutMs: optional(number().check(positive())),
});

export const StopAnswer = object({
  halted: object({ changed: boolean() }),
  items: array(object({ kind: string(), symbol: string(), outcome: string(), ok: boolean() })),
  complete: boolean(),
});

export const ResumeAnswer = object({ changed: boolean(), tradingState: string() });

export const ErrorAnswer = object({ error: string() });
