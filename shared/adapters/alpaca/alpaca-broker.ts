import {
  ApiError,
  AuthError,
  marketData,
  NotFoundError,
  PermissionError,
  RateLimitError,
  trading,
  ValidationError,
} from '@alpacahq/alpaca-trade-api/rest';
import * as z from 'zod';
import type { BrokerOrder, BrokerOrderStatus, OrderIntent } from '../../domain/trading.js';
import {
  type Broker,
  BrokerAuthError,
  BrokerUnavailableError,
  type Clock,
  type Log,
  type SubmitGuard,
} from '../../ports/index.js';

export type AlpacaMode = 'paper' | 'live';

export interface AlpacaCredentials {
  keyId: string;
  secretKey: string;
}

/** Where the keys come from: the environment locally, Secrets Manager in AWS. */
export interface AlpacaCredentialSource {
  get(): Promise<AlpacaCredentials>;
  /** Reads the keys again (after a 401: they may have been rotated). */
  refresh(): Promise<AlpacaCredentials>;
}

export const ALPACA_HOSTS = {
  paper: 'https://paper-api.alpaca.markets',
  live: 'https://api.alpaca.markets',
  data: 'https://data.alpaca.markets',
} as const;

export interface AlpacaBrokerOptions {
  mode: AlpacaMode;
  credentials: AlpacaCredentialSource;
  /** Overrides for the fake Alpaca server in tests; the real hosts by default. */
  tradingUrl?: string;
  dataUrl?: string;
  /** Client-side limit, per key (Alpaca allows about 200 a minute). */
  requestsPerMinute: number;
  /** Each HTTP request's deadline. */
  requestTimeoutMs: number;
  /** How long one submit may keep trying (backing off a 429, resolving a lost answer). */
  submitBudgetMs: number;
  clock: Clock;
  log: Log;
}

interface Clients {
  orders: trading.OrdersApi;
  account: trading.AccountsApi;
  clock: trading.ClockApi;
  positions: trading.PositionsApi;
  stocks: marketData.StockApi;
}

/** Every order status Alpaca's Trading API documents (OrderStatus in its OpenAPI spec). */
const ALPACA_ORDER_STATUSES = [
  'new',
  'partially_filled',
  'filled',
  'done_for_day',
  'canceled',
  'expired',
  'replaced',
  'pending_cancel',
  'pending_replace',
  'accepted',
  'pending_new',
  'accepted_for_bidding',
  'stopped',
  'rejected',
  'suspended',
  'calculated',
] as const;

/** The fields of an Alpaca order Pinebridge books from, parsed: nothing is guessed. */
const AlpacaOrderSchema = z.object({
  id: z.string().min(1),
  clientOrderId: z.string().min(1),
  status: z.enum(ALPACA_ORDER_STATUSES),
  filledQty: z.string().regex(/^\d+(\.\d+)?$/),
  filledAvgPrice: z
    .string()
    .regex(/^\d+(\.\d+)?$/)
    .nullish(),
});

/** Alpaca answered with an order Pinebridge cannot book as it stands: its fate is for the reconciler. */
export class AlpacaOrderUnreadableError extends Error {
  override readonly name = 'AlpacaOrderUnreadableError';
}

/**
 * Alpaca's order as Pinebridge's report. Every documented status is mapped on purpose: final ones
 * to their final state; the ones still working at the venue (accepted, pending, done for the day,
 * stopped, calculated) to `new`, or `partially_filled` once something has filled. `replaced` is
 * never Pinebridge's doing (it replaces nothing): the fills go on under another order, so it is
 * refused like an undocumented status or a missing field — the order becomes `unknown` and the
 * reconciler and a human settle it, instead of being polled as if it were still working.
 */
export function reportOf(order: unknown, clientOrderId: string): BrokerOrder {
  const parsed = AlpacaOrderSchema.safeParse(order);
  if (!parsed.success) {
    throw new AlpacaOrderUnreadableError(
      `order ${clientOrderId}: Alpaca's answer is not a readable order (${parsed.error.issues.map((i) => i.path.join('.') || 'the order').join(', ')})`,
    );
  }
  const { id, status, filledQty, filledAvgPrice } = parsed.data;
  if (status === 'replaced')
    throw new AlpacaOrderUnreadableError(`order ${clientOrderId} was replaced at Alpaca by another order`);
  const working: BrokerOrderStatus = Number(filledQty) > 0 ? 'partially_filled' : 'new';
  const mapped: Record<Exclude<(typeof ALPACA_ORDER_STATUSES)[number], 'replaced'>, BrokerOrderStatus> = {
    new: working,
    partially_filled: 'partially_filled',
    filled: 'filled',
    done_for_day: working,
    canceled: 'cancelled',
    expired: 'expired',
    pending_cancel: working,
    pending_replace: working,
    accepted: working,
    pending_new: working,
    accepted_for_bidding: working,
    stopped: working,
    rejected: 'rejected',
    suspended: 'rejected',
    calculated: working,
  };
  return {
    clientOrderId: parsed.data.clientOrderId,
    brokerOrderId: id,
    status: mapped[status],
    filledQuantity: filledQty,
    ...(filledAvgPrice ? { averageFillPrice: filledAvgPrice } : {}),
    // Alpaca charges no commission on equities; regulatory fees appear as account activities.
    commission: '0',
  };
}

/** A refusal that never reached the market: booked as rejected, its reservation released. */
const refused = (
  clientOrderId: string,
  status: 'rejected' | 'expired' | 'cancelled',
  reason: string,
): BrokerOrder => ({
  clientOrderId,
  brokerOrderId: 'not-accepted',
  status,
  filledQuantity: '0',
  commission: '0',
  reason,
});

const isUniqueViolation = (error: unknown): boolean =>
  error instanceof ApiError && /client_order_id must be unique/i.test(error.message);

/** The answer was lost (timeout, reset, 5xx) or the id was already taken: the order may exist. */
const isAmbiguous = (error: unknown): boolean =>
  !(error instanceof ApiError) || error.status >= 500 || isUniqueViolation(error);

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Alpaca through its official SDK. Exactly once: the client order id is derived from the signal id,
 * the order POST is never retried blindly (the SDK never retries POSTs), and an ambiguous outcome
 * is resolved by looking the order up by that id — adopted when found, re-sent with the same id when
 * not (Alpaca refuses a second order with it). If the fate still cannot be established the submit
 * fails with BrokerUnavailableError, and the workflow records the order `unknown`.
 */
export class AlpacaBroker implements Broker {
  readonly name: string;
  private clients?: Promise<Clients>;
  private verified?: Promise<void>;
  private rateLimited: () => void = () => {};

  constructor(private readonly options: AlpacaBrokerOptions) {
    this.name = `alpaca-${options.mode}`;
  }

  private build(credentials: AlpacaCredentials): Clients {
    const { mode, requestsPerMinute, requestTimeoutMs } = this.options;
    const common = {
      keyId: credentials.keyId,
      secret: credentials.secretKey,
      timeoutMs: requestTimeoutMs,
      rateLimit: { maxRequests: requestsPerMinute, intervalMs: 60_000 },
      // Safe verbs only (GET); the SDK never replays an order POST.
      retry: { maxRetries: 2, retryDelayMs: 200, maxDelayMs: 2_000, respectRetryAfter: true },
    };
    const tradingConfig = new trading.Configuration({
      ...common,
      basePath: this.options.tradingUrl ?? ALPACA_HOSTS[mode],
    });
    const dataConfig = new marketData.Configuration({
      ...common,
      basePath: this.options.dataUrl ?? ALPACA_HOSTS.data,
    });
    return {
      orders: new trading.OrdersApi(tradingConfig),
      account: new trading.AccountsApi(tradingConfig),
      clock: new trading.ClockApi(tradingConfig),
      positions: new trading.PositionsApi(tradingConfig),
      stocks: new marketData.StockApi(dataConfig),
    };
  }

  /** Called on every 429 that reaches Pinebridge (after the SDK's own back-off on safe requests). */
  observeRateLimits(listener: () => void): void {
    this.rateLimited = listener;
  }

  private api(): Promise<Clients> {
    this.clients ??= this.options.credentials.get().then((c) => this.build(c));
    return this.clients;
  }

  /**
   * Runs one call; on a 401 reads the keys once more (they may have been rotated) and tries again,
   * then gives up with BrokerAuthError. Never a retry loop.
   */
  private async call<T>(fn: (clients: Clients) => Promise<T>): Promise<T> {
    try {
      return await fn(await this.api());
    } catch (error) {
      if (error instanceof RateLimitError) this.rateLimited();
      if (!(error instanceof AuthError)) throw error;
      this.clients = this.options.credentials.refresh().then((c) => this.build(c));
      try {
        return await fn(await this.clients);
      } catch (again) {
        if (again instanceof AuthError)
          throw new BrokerAuthError(`Alpaca refused the ${this.options.mode} keys (401): ${again.message}`);
        throw again;
      }
    }
  }

  /**
   * The self-check: the keys must belong to an account of the configured mode (Alpaca paper
   * account numbers start with "PA"). Done once per process, before the first order.
   */
  verify(): Promise<void> {
    this.verified ??= this.call((c) => c.account.getAccount()).then(
      (account) => {
        const paper = (account.accountNumber ?? '').startsWith('PA');
        if (paper !== (this.options.mode === 'paper')) {
          throw new BrokerAuthError(
            `the Alpaca keys belong to a ${paper ? 'paper' : 'live'} account but alpaca.mode is "${this.options.mode}"; refusing to trade`,
          );
        }
      },
      (error: unknown) => {
        if (error instanceof BrokerAuthError) throw error;
        throw new BrokerUnavailableError(`Alpaca account check failed: ${describe(error)}`);
      },
    );
    this.verified.catch(() => {
      this.verified = undefined;
    });
    return this.verified;
  }

  async submitOrder(intent: OrderIntent, guard?: SubmitGuard): Promise<BrokerOrder> {
    await this.verify();
    const { clock, submitBudgetMs } = this.options;
    const deadline = clock.now().getTime() + submitBudgetMs;
    const body: trading.PostOrderRequest = {
      symbol: intent.symbol,
      qty: intent.quantity,
      side: intent.side,
      type: intent.orderType,
      timeInForce: intent.timeInForce,
      clientOrderId: intent.clientOrderId,
      extendedHours: intent.extendedHours,
      ...(intent.limitPrice !== undefined ? { limitPrice: intent.limitPrice } : {}),
      ...(intent.stopPrice !== undefined ? { stopPrice: intent.stopPrice } : {}),
    } as trading.PostOrderRequest;
    // Whether an earlier request of this loop may have reached Alpaca (its answer was lost).
    let maybeSent = false;
    for (let attempt = 1; ; attempt++) {
      if (guard !== undefined && !(await guard.maySend())) {
        // An emergency stop committed: nothing more is sent. A request whose answer was lost may
        // still have placed the order, so its fate is left to the stop and the reconciler.
        if (maybeSent)
          throw new BrokerUnavailableError(
            `order ${intent.clientOrderId}: trading is HALTED, not re-sent; an earlier request's answer was lost`,
          );
        return refused(intent.clientOrderId, 'cancelled', 'TRADING_HALTED: not sent; trading is HALTED');
      }
      try {
        const order = await this.call((c) => c.orders.postOrder({ postOrderRequest: body }));
        return reportOf(order, intent.clientOrderId);
      } catch (error) {
        if (error instanceof BrokerAuthError) throw error;
        if (error instanceof RateLimitError) {
          // Not accepted: wait as long as Alpaca says, if the signal's budget allows it.
          const waitMs = Math.max(error.retryAfterMs ?? 1_000, 100);
          if (clock.now().getTime() + waitMs > deadline) {
            return refused(
              intent.clientOrderId,
              'expired',
              `rate limited by Alpaca (429) beyond the order's ${submitBudgetMs} ms budget; not sent`,
            );
          }
          this.options.log.warn('alpaca rate limited the order; backing off', { waitMs, attempt });
          await sleep(waitMs);
          continue;
        }
        if (!isAmbiguous(error)) {
          // 403 (buying power, account blocked), 422 (validation): Alpaca's own words, no retry.
          const status = (error as ApiError).status;
          return refused(intent.clientOrderId, 'rejected', `Alpaca ${status}: ${(error as Error).message}`);
        }
        maybeSent = true;
        const found = await this.lookup(intent.clientOrderId);
        if (found !== undefined) return found;
        if (isUniqueViolation(error) || attempt >= 3 || clock.now().getTime() > deadline) {
          throw new BrokerUnavailableError(
            `order ${intent.clientOrderId}: ${describe(error)}; not found by its client order id`,
          );
        }
        // Never received: send it again with the same id (a second copy would be refused as a duplicate).
        this.options.log.warn(
          'alpaca order answer lost and the order not found; resubmitting with the same id',
          {
            clientOrderId: intent.clientOrderId,
            attempt,
          },
        );
      }
    }
  }

  /** The order by client order id; undefined when Alpaca has never seen it. Throws when unreachable. */
  private async lookup(clientOrderId: string): Promise<BrokerOrder | undefined> {
    try {
      const order = await this.call((c) => c.orders.getOrderByClientOrderId({ clientOrderId }));
      return reportOf(order, clientOrderId);
    } catch (error) {
      if (error instanceof NotFoundError) return undefined;
      if (error instanceof BrokerAuthError) throw error;
      throw new BrokerUnavailableError(`looking up order ${clientOrderId}: ${describe(error)}`);
    }
  }

  getOrder(clientOrderId: string): Promise<BrokerOrder | undefined> {
    return this.lookup(clientOrderId);
  }

  async cancelOrder(clientOrderId: string): Promise<BrokerOrder> {
    const order = await this.lookup(clientOrderId);
    if (order === undefined)
      throw new BrokerUnavailableError(`cannot cancel ${clientOrderId}: Alpaca has no such order`);
    if (order.status !== 'new' && order.status !== 'partially_filled') return order;
    try {
      await this.call((c) => c.orders.deleteOrderByOrderID({ orderId: order.brokerOrderId }));
    } catch (error) {
      // 422: no longer cancelable (it filled or ended meanwhile); the lookup below says how.
      if (!(error instanceof ValidationError)) throw error;
    }
    return (await this.lookup(clientOrderId)) ?? order;
  }

  async account(): Promise<{ cash: string; equity: string; buyingPower: string }> {
    const account = await this.call((c) => c.account.getAccount());
    return {
      cash: account.cash ?? '0',
      equity: account.equity ?? '0',
      buyingPower: account.buyingPower ?? '0',
    };
  }

  async positions(): Promise<{ symbol: string; quantity: string; averageCost: string }[]> {
    const positions = await this.call((c) => c.positions.getAllOpenPositions());
    return positions.map((p) => ({
      symbol: p.symbol ?? '',
      // Alpaca reports the quantity unsigned with a side; Pinebridge signs it.
      quantity: p.side === 'short' && !String(p.qty).startsWith('-') ? `-${p.qty}` : String(p.qty),
      averageCost: p.avgEntryPrice ?? '0',
    }));
  }

  async ping(): Promise<void> {
    await this.call((c) => c.clock.legacyClock());
  }

  async latestPrice(symbol: string): Promise<{ price: string; at: string } | undefined> {
    try {
      const latest = await this.call((c) => c.stocks.stockLatestTradeSingle({ symbol }));
      const trade = latest.trade;
      if (trade?.p === undefined) return undefined;
      const at = trade.t instanceof Date ? trade.t.toISOString() : String(trade.t);
      return { price: String(trade.p), at };
    } catch (error) {
      if (error instanceof NotFoundError || error instanceof PermissionError) return undefined;
      throw error;
    }
  }
}

const describe = (error: unknown): string =>
  error instanceof ApiError
    ? `Alpaca ${error.status} ${error.message}`
    : `${(error as Error).name}: ${(error as Error).message}`;
