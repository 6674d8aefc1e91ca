/**
 * Alpaca's wire shapes as the fake sends them: snake_case JSON, decimals as strings, exactly the
 * field names of the Trading API spec (test/fakes/alpaca/trading-openapi.yaml) plus the few fields
 * real Alpaca sends that the spec does not list (marked below). The contract validator checks every
 * response against the spec, so these types and the spec cannot drift apart unnoticed.
 */

export type OrderSide = 'buy' | 'sell';
export type OrderType = 'market' | 'limit' | 'stop' | 'stop_limit';
export type TimeInForce = 'day' | 'gtc' | 'opg' | 'cls' | 'ioc' | 'fok';
export type OrderStatus =
  | 'new'
  | 'accepted'
  | 'partially_filled'
  | 'filled'
  | 'canceled'
  | 'expired'
  | 'rejected';
/** Not in the spec file; real Alpaca and the SDK's Order model carry it. */
export type PositionIntent = 'buy_to_open' | 'buy_to_close' | 'sell_to_open' | 'sell_to_close';

/** Spec schema `Order`. */
export interface AlpacaOrder {
  id: string;
  client_order_id: string;
  created_at: string;
  updated_at: string;
  submitted_at: string;
  filled_at: string | null;
  expired_at: string | null;
  canceled_at: string | null;
  failed_at: string | null;
  replaced_at: string | null;
  replaced_by: string | null;
  replaces: string | null;
  asset_id: string;
  symbol: string;
  asset_class: 'us_equity';
  notional: string | null;
  qty: string | null;
  filled_qty: string;
  filled_avg_price: string | null;
  order_class: '';
  /** Deprecated twin of `type`; Alpaca still sends it. */
  order_type: OrderType;
  type: OrderType;
  side: OrderSide;
  position_intent: PositionIntent;
  time_in_force: TimeInForce;
  limit_price: string | null;
  stop_price: string | null;
  status: OrderStatus;
  extended_hours: boolean;
  legs: null;
  /** null for non-trailing orders, as Alpaca sends them (the spec says non-nullable string: erratum E2). */
  trail_percent: null;
  trail_price: null;
  hwm: null;
}

/** Spec schema `Position`. Short positions have a negative `qty` and `side: 'short'`. */
export interface AlpacaPosition {
  asset_id: string;
  symbol: string;
  exchange: 'NASDAQ';
  asset_class: 'us_equity';
  asset_marginable: boolean;
  avg_entry_price: string;
  qty: string;
  qty_available: string;
  side: 'long' | 'short';
  market_value: string;
  cost_basis: string;
  unrealized_pl: string;
  unrealized_plpc: string;
  unrealized_intraday_pl: string;
  unrealized_intraday_plpc: string;
  current_price: string;
  lastday_price: string;
  change_today: string;
}

/**
 * Spec schema `Account`, without the fields Alpaca removed in July 2026 (`pattern_day_trader`,
 * `daytrade_count`, `daytrading_buying_power`). The spec lists them as optional, so omitting them is valid.
 */
export interface AlpacaAccount {
  id: string;
  account_number: string;
  status: 'ACTIVE';
  crypto_status: 'ACTIVE';
  currency: 'USD';
  cash: string;
  portfolio_value: string;
  equity: string;
  last_equity: string;
  long_market_value: string;
  short_market_value: string;
  buying_power: string;
  regt_buying_power: string;
  non_marginable_buying_power: string;
  initial_margin: string;
  maintenance_margin: string;
  last_maintenance_margin: string;
  sma: string;
  multiplier: string;
  accrued_fees: string;
  pending_transfer_in: string;
  pending_transfer_out: string;
  shorting_enabled: boolean;
  trade_suspended_by_user: boolean;
  trading_blocked: boolean;
  transfers_blocked: boolean;
  account_blocked: boolean;
  created_at: string;
}

/** Spec schema `Clock`; timestamps in New York offset form, as Alpaca sends them. */
export interface AlpacaClock {
  timestamp: string;
  is_open: boolean;
  next_open: string;
  next_close: string;
}

/** Spec schema `Calendar`, plus `settlement_date`, which Alpaca sends and the SDK requires. */
export interface AlpacaCalendarDay {
  date: string;
  open: string;
  close: string;
  session_open: string;
  session_close: string;
  settlement_date: string;
}

/** Spec schema `CanceledOrderResponse`, plus the `body` Alpaca sends. */
export interface AlpacaCanceledOrder {
  id: string;
  status: number;
  body?: AlpacaOrder;
}

/** Spec schema `PositionClosedReponse` (sic); `status` is an integer as Alpaca sends it (erratum E3). */
export interface AlpacaPositionClosed {
  symbol: string;
  status: number;
  body?: AlpacaOrder;
}

/** Market-data API, `GET /v2/stocks/{symbol}/trades/latest` (local schema `LocalLatestTrade`). */
export interface AlpacaLatestTrade {
  symbol: string;
  trade: {
    t: string;
    x: string;
    p: number;
    s: number;
    c: string[];
    i: number;
    z: 'A' | 'B' | 'C' | 'N' | 'O';
  };
}

/** Alpaca's error envelope (local schema `LocalError`); a few errors carry extra fields. */
export interface AlpacaError {
  code: number;
  message: string;
  [extra: string]: unknown;
}

/** Alpaca's error codes as the fake uses them. */
export const ERROR_CODES = {
  badRequest: 40010000,
  unprocessable: 40010001,
  unauthorized: 40110000,
  forbidden: 40310000,
  notFound: 40410000,
  invalidValue: 42210000,
  rateLimited: 42910000,
  internal: 50010000,
  notImplemented: 50110000,
} as const;
