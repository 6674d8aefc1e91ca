/**
 * A fake Alpaca (Trading API + the market-data latest trade) over real HTTP on 127.0.0.1, for tests and
 * local development. It keeps real state (./broker.ts), enforces Alpaca's authentication and rate
 * limit, injects faults on demand, and validates every request and response against Alpaca's OpenAPI
 * spec (./contract.ts): violations land in `contractViolations`, which tests assert is empty.
 *
 *   const fake = await startFakeAlpaca({ prices: { AAPL: '187.5' } });
 *   const config = new trading.Configuration({ basePath: fake.url, keyId: fake.keyId, secret: fake.secretKey });
 *   await new trading.AccountsApi(config).getAccount();
 *   await fake.stop();
 */
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { Broker, BrokerError, decimalString, notFound, type OrderEffects } from './broker.js';
import { type AlpacaContract, type ContractViolation, loadContract, SPEC_PATH } from './contract.js';
import { calendarBetween, clockAt, DEFAULT_CALENDAR_RANGE } from './market-clock.js';
import {
  type AlpacaAccount,
  type AlpacaError,
  type AlpacaLatestTrade,
  type AlpacaOrder,
  type AlpacaPosition,
  ERROR_CODES,
} from './wire.js';

export type { ContractViolation } from './contract.js';
export { SPEC_ERRATA } from './contract.js';
export type * from './wire.js';

/** Obviously fake credentials; the fake accepts only the pair it was started with. */
export const DEFAULT_KEY_ID = 'PKFAKEALPACA00000001';
export const DEFAULT_SECRET_KEY = 'fake-alpaca-secret-not-a-real-key';

export interface FakeAlpacaOptions {
  /** Required value of the APCA-API-KEY-ID header. Default DEFAULT_KEY_ID. */
  keyId?: string;
  /** Required value of the APCA-API-SECRET-KEY header. Default DEFAULT_SECRET_KEY. */
  secretKey?: string;
  /** 'paper' accounts have an account_number starting with "PA", 'live' ones do not. Default 'paper'. */
  mode?: 'paper' | 'live';
  /** Starting cash, a decimal string. Default '100000'. */
  cash?: string;
  /** Latest trade price per symbol; orders for symbols without a price are refused (422 asset not found). */
  prices?: Readonly<Record<string, string | number>>;
  /** The fake's notion of now (timestamps, /v2/clock, the rate-limit window). Default: the system clock. */
  clock?: () => Date;
  /** Requests per key per rolling minute, counted separately for trading and market data. Default 200. */
  rateLimitPerMinute?: number;
  /** 2 (default): Reg T margin account, shorting enabled. 1: cash account, no shorting. */
  multiplier?: 1 | 2;
  /**
   * What POST /v2/orders (and DELETE /v2/positions/{symbol}) answer with:
   * 'ack' (default) — the order as accepted (status 'accepted', filled_qty '0'), as real Alpaca answers
   *   before fills arrive; the state moves on at once, so the next GET sees the fill;
   * 'current' — the order as it stands after immediate matching (e.g. already 'filled').
   */
  orderResponse?: 'ack' | 'current';
  /** TCP port on 127.0.0.1; 0 (default) picks a free one. */
  port?: number;
  /** The OpenAPI file to validate against. Default: the vendored copy (SPEC_PATH). */
  specPath?: string;
  /** Called for every contract violation as it is recorded (e.g. to log it in main.ts). */
  onContractViolation?: (violation: ContractViolation) => void;
  /** Called once per request with a one-line summary (method, path, status). */
  onRequest?: (request: RecordedRequest) => void;
}

/** A fault that needs no parameters can be given by name. */
export type FaultName =
  | 'timeoutAfterAccept'
  | 'dropBeforeAccept'
  | 'duplicateOnFirstTry'
  | 'holdFills'
  | 'rejectAfterAccept';

export type Fault =
  /**
   * Delay the response by `ms`, then handle the request normally (or apply the next matching fault).
   * With `stale`, the request is handled at once and only its answer waits: it arrives carrying the
   * state as it was, after the answers to later requests (an out-of-order report). Keep `ms` below
   * the client's timeout.
   */
  | { kind: 'latency'; ms: number; stale?: boolean }
  /**
   * Answer `status` with an Alpaca error body instead of handling the request; nothing changes.
   * For a 429, `resetInMs` says when the allowance comes back (X-RateLimit-Reset, with
   * X-RateLimit-Remaining 0, as when it is spent); by default the headers describe the real window.
   */
  | { kind: 'status'; status: FaultStatus; code?: number; message?: string; resetInMs?: number }
  /** Handle the request (the order IS recorded) but never answer: the socket is held until the client gives up. */
  | { kind: 'timeoutAfterAccept' }
  /** Destroy the socket before handling: nothing is recorded, the client sees a network error. */
  | { kind: 'dropBeforeAccept' }
  /** Record the order, yet answer this very POST with 422 "client_order_id must be unique". */
  | { kind: 'duplicateOnFirstTry' }
  /**
   * Fill `qty` of the order and leave it partially_filled; with `remainder`, the unfilled rest is then
   * canceled or expired by the broker (filled_qty stays `qty`).
   */
  | { kind: 'partialFill'; qty: string | number; remainder?: 'cancel' | 'expire' }
  /** Do not fill the order until fillPending(); it stays `accepted` (default) or `new`. */
  | { kind: 'holdFills'; status?: 'accepted' | 'new' }
  /** Accept the order, then reject it (status 'rejected', failed_at set). */
  | { kind: 'rejectAfterAccept' };

export type FaultKind = Fault['kind'];

/** Statuses a `status` fault can answer with. */
export type FaultStatus = 401 | 403 | 404 | 422 | 429 | 500 | 502 | 503;

export interface FaultMatcher {
  /** HTTP method, e.g. 'POST'. */
  method?: string;
  /** Exact path (no query) or a pattern, e.g. '/v2/orders' or /^\/v2\/orders\//. */
  path?: string | RegExp;
  /** client_order_id of the request body (POST) or query (by_client_order_id). */
  clientOrderId?: string | RegExp;
}

export interface FaultInjection {
  fault: Fault | FaultName;
  /** How many times the fault fires (requests for transport faults, orders for order faults). Default 1. */
  times?: number;
  /**
   * Which requests it applies to. Defaults: latency and status — every request; timeoutAfterAccept,
   * dropBeforeAccept and duplicateOnFirstTry — POST /v2/orders; partialFill, holdFills and
   * rejectAfterAccept — every request that creates orders (POST /v2/orders, DELETE /v2/positions[/…]).
   */
  when?: FaultMatcher;
}

export interface InjectedFault {
  readonly fault: Fault;
  /** Times it has fired so far. */
  readonly fired: number;
  /** Times it may still fire. */
  readonly remaining: number;
  cancel(): void;
}

export interface RecordedRequest {
  method: string;
  path: string;
  /** Raw query string without '?'. */
  query: string;
  clientOrderId?: string;
  /** Status sent; undefined when no response was delivered. */
  status?: number;
  /**
   * responded — a response was sent; dropped — the socket was destroyed before handling;
   * held — handled, response withheld, client still waiting; abandoned — held until the client gave up.
   */
  outcome: 'pending' | 'responded' | 'dropped' | 'held' | 'abandoned';
  /** The fault that shaped this request, if any. */
  fault?: FaultKind;
  /** Set when the fake itself failed (answered 500). */
  error?: string;
}

export interface FakeAlpaca {
  /** http://127.0.0.1:<port> — the basePath for both the trading and the market-data SDK Configuration. */
  readonly url: string;
  readonly keyId: string;
  readonly secretKey: string;
  readonly mode: 'paper' | 'live';
  /** Every order the broker accepted, oldest first, as it stands now (wire shape). */
  readonly orders: AlpacaOrder[];
  /** Open positions, by symbol (wire shape). */
  readonly positions: AlpacaPosition[];
  /** The account as GET /v2/account would answer now. */
  readonly account: AlpacaAccount;
  /** Every request received, in arrival order. */
  readonly requests: readonly RecordedRequest[];
  /** Every contract violation recorded (requests and responses); tests assert it is empty. */
  readonly contractViolations: readonly ContractViolation[];
  /** Returns the violations recorded so far and forgets them. */
  takeContractViolations(): ContractViolation[];
  inject(injection: FaultInjection): InjectedFault;
  clearFaults(): void;
  /** Sets the latest trade price; resting orders the price moves through fill. Returns the orders filled. */
  setPrice(symbol: string, price: string | number): AlpacaOrder[];
  /** Releases orders held by holdFills and matches them at the current price. Returns the orders filled. */
  fillPending(): AlpacaOrder[];
  /** Ends the session: open day/opg/cls/ioc/fok orders expire. Returns them. */
  expireDayOrders(): AlpacaOrder[];
  /** Back to the starting state: orders, positions, cash, prices, faults, requests, violations, rate limits. */
  reset(): void;
  stop(): Promise<void>;
}

// ---- rate limit: a rolling one-minute window per key ----

const WINDOW_MS = 60_000;

class RateLimiter {
  private readonly windows = new Map<string, number[]>();

  constructor(private readonly limit: number) {}

  private windowOf(key: string, now: number): number[] {
    const window = (this.windows.get(key) ?? []).filter((t) => t > now - WINDOW_MS);
    this.windows.set(key, window);
    return window;
  }

  /** Counts a request when allowed; the headers describe the window after it. */
  take(key: string, now: number, count: boolean): { allowed: boolean; headers: Record<string, string> } {
    const window = this.windowOf(key, now);
    const allowed = window.length < this.limit;
    if (allowed && count) window.push(now);
    const oldest = window[0] ?? now;
    return {
      allowed,
      headers: {
        'X-RateLimit-Limit': String(this.limit),
        'X-RateLimit-Remaining': String(Math.max(this.limit - window.length, 0)),
        'X-RateLimit-Reset': String(Math.ceil((oldest + WINDOW_MS) / 1000)),
      },
    };
  }

  clear(): void {
    this.windows.clear();
  }
}

// ---- faults ----

const ORDER_FAULTS: ReadonlySet<FaultKind> = new Set([
  'duplicateOnFirstTry',
  'partialFill',
  'holdFills',
  'rejectAfterAccept',
]);

const DEFAULT_ERRORS = {
  401: { code: ERROR_CODES.unauthorized, message: 'request is not authorized' },
  403: { code: ERROR_CODES.forbidden, message: 'forbidden' },
  404: { code: ERROR_CODES.notFound, message: 'not found' },
  422: { code: ERROR_CODES.unprocessable, message: 'request is not valid' },
  429: { code: ERROR_CODES.rateLimited, message: 'rate limit exceeded' },
  500: { code: ERROR_CODES.internal, message: 'internal server error occurred' },
  502: { code: 50210000, message: 'bad gateway' },
  503: { code: 50310000, message: 'service unavailable' },
} as const satisfies Record<FaultStatus, AlpacaError>;

const isOrderCreating = (method: string, path: string): boolean =>
  (method === 'POST' && path === '/v2/orders') || (method === 'DELETE' && path.startsWith('/v2/positions'));

class FaultEntry implements InjectedFault {
  fired = 0;

  constructor(
    readonly fault: Fault,
    private times: number,
    private readonly when: FaultMatcher | undefined,
    private readonly registry: Set<FaultEntry>,
  ) {}

  get remaining(): number {
    return this.times - this.fired;
  }

  cancel(): void {
    this.times = this.fired;
    this.registry.delete(this);
  }

  matches(method: string, path: string, clientOrderId: string | undefined): boolean {
    if (this.remaining <= 0) return false;
    const when = this.when;
    if (!when) {
      if (this.fault.kind === 'latency' || this.fault.kind === 'status') return true;
      if (ORDER_FAULTS.has(this.fault.kind) && this.fault.kind !== 'duplicateOnFirstTry') {
        return isOrderCreating(method, path);
      }
      return method === 'POST' && path === '/v2/orders';
    }
    const test = (pattern: string | RegExp | undefined, value: string | undefined) =>
      pattern === undefined ||
      (value !== undefined && (typeof pattern === 'string' ? pattern === value : pattern.test(value)));
    return (
      (when.method === undefined || when.method.toUpperCase() === method) &&
      test(when.path, path) &&
      test(when.clientOrderId, clientOrderId)
    );
  }

  consume(): void {
    this.fired += 1;
    if (this.remaining <= 0) this.cancel();
  }
}

function normalizeFault(fault: Fault | FaultName): Fault {
  return typeof fault === 'string' ? ({ kind: fault } as Fault) : fault;
}

// ---- the server ----

interface Reply {
  status: number;
  body?: unknown;
}

interface Exchange {
  req: IncomingMessage;
  res: ServerResponse;
  url: URL;
  method: string;
  path: string;
  body: unknown;
  record: RecordedRequest;
  rateHeaders: Record<string, string>;
  /** Order faults matching this request, consumed as orders are accepted. */
  orderFaults: FaultEntry[];
}

const MAX_BODY_BYTES = 1_000_000;
/** A held (timeoutAfterAccept) socket is closed after this long if the client never gives up. */
const MAX_HOLD_MS = 120_000;

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_BODY_BYTES) {
        reject(new Error('request body too large'));
        req.destroy();
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

function parseBody(raw: string): unknown {
  if (raw === '') return undefined;
  try {
    return JSON.parse(raw) as unknown;
  } catch {
    return raw;
  }
}

const header = (req: IncomingMessage, name: string): string | undefined => {
  const value = req.headers[name.toLowerCase()];
  return Array.isArray(value) ? value[0] : value;
};

const errorReply = (status: number, body: AlpacaError): Reply => ({ status, body });

/** A query number Alpaca accepts; a non-number is a 422 (the contract records the violation as well). */
function queryNumber(url: URL, name: string): number | undefined {
  const raw = url.searchParams.get(name);
  if (raw === null || raw === '') return undefined;
  const value = Number(raw);
  if (!Number.isFinite(value)) {
    throw new BrokerError(422, { code: ERROR_CODES.invalidValue, message: `invalid ${name}: ${raw}` });
  }
  return value;
}

function queryDate(url: URL, name: string, fallback: string): string {
  const raw = url.searchParams.get(name);
  if (raw === null || raw === '') return fallback;
  // Alpaca takes a date or an RFC 3339 timestamp; the calendar date as written is used.
  const date = raw.slice(0, 10);
  if (!/^\d{4}-\d{2}-\d{2}$/.test(date) || Number.isNaN(Date.parse(`${date}T00:00:00Z`))) {
    throw new BrokerError(400, { code: ERROR_CODES.badRequest, message: `invalid ${name}: ${raw}` });
  }
  return date;
}

class FakeAlpacaServer implements FakeAlpaca {
  readonly keyId: string;
  readonly secretKey: string;
  readonly mode: 'paper' | 'live';
  url = '';
  private broker: Broker;
  private readonly clock: () => Date;
  private readonly limiter: RateLimiter;
  private readonly faults = new Set<FaultEntry>();
  private readonly requestLog: RecordedRequest[] = [];
  private violations: ContractViolation[] = [];
  private readonly held = new Set<Socket>();
  private readonly server: Server;

  constructor(
    private readonly options: FakeAlpacaOptions,
    private readonly contract: AlpacaContract,
  ) {
    this.keyId = options.keyId ?? DEFAULT_KEY_ID;
    this.secretKey = options.secretKey ?? DEFAULT_SECRET_KEY;
    this.mode = options.mode ?? 'paper';
    this.clock = options.clock ?? (() => new Date());
    this.limiter = new RateLimiter(options.rateLimitPerMinute ?? 200);
    this.broker = this.newBroker();
    this.server = createServer((req, res) => {
      void this.handle(req, res);
    });
  }

  private newBroker(): Broker {
    return new Broker({
      mode: this.mode,
      keyId: this.keyId,
      cash: this.options.cash ?? '100000',
      prices: this.options.prices ?? {},
      clock: this.clock,
      multiplier: this.options.multiplier ?? 2,
    });
  }

  async listen(): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(this.options.port ?? 0, '127.0.0.1', () => {
        this.server.off('error', reject);
        resolve();
      });
    });
    const { port } = this.server.address() as AddressInfo;
    this.url = `http://127.0.0.1:${port}`;
  }

  // ---- public control API ----

  get orders(): AlpacaOrder[] {
    return this.broker.allOrders();
  }

  get positions(): AlpacaPosition[] {
    return this.broker.listPositions();
  }

  get account(): AlpacaAccount {
    return this.broker.account();
  }

  get requests(): readonly RecordedRequest[] {
    return this.requestLog;
  }

  get contractViolations(): readonly ContractViolation[] {
    return this.violations;
  }

  takeContractViolations(): ContractViolation[] {
    const taken = this.violations;
    this.violations = [];
    return taken;
  }

  inject(injection: FaultInjection): InjectedFault {
    const fault = normalizeFault(injection.fault);
    const times = injection.times ?? 1;
    if (!(times > 0)) throw new RangeError(`times must be > 0, got ${times}`);
    if (fault.kind === 'latency' && !(fault.ms >= 0))
      throw new RangeError(`latency ms must be >= 0, got ${fault.ms}`);
    if (fault.kind === 'status' && !(fault.status in DEFAULT_ERRORS)) {
      throw new RangeError(`status fault must be one of ${Object.keys(DEFAULT_ERRORS).join(', ')}`);
    }
    if (fault.kind === 'status' && fault.resetInMs !== undefined) {
      if (fault.status !== 429) throw new RangeError('resetInMs applies to a 429 status fault only');
      if (!(fault.resetInMs >= 0)) throw new RangeError(`resetInMs must be >= 0, got ${fault.resetInMs}`);
    }
    if (fault.kind === 'partialFill' && !(Number(fault.qty) > 0)) {
      throw new RangeError(`partialFill qty must be a positive number, got ${fault.qty}`);
    }
    const entry = new FaultEntry(fault, times, injection.when, this.faults);
    this.faults.add(entry);
    return entry;
  }

  clearFaults(): void {
    for (const entry of [...this.faults]) entry.cancel();
  }

  setPrice(symbol: string, price: string | number): AlpacaOrder[] {
    return this.broker.setPrice(symbol, price);
  }

  fillPending(): AlpacaOrder[] {
    return this.broker.fillPending();
  }

  expireDayOrders(): AlpacaOrder[] {
    return this.broker.expireDayOrders();
  }

  reset(): void {
    this.broker = this.newBroker();
    this.clearFaults();
    this.requestLog.length = 0;
    this.violations = [];
    this.limiter.clear();
  }

  async stop(): Promise<void> {
    for (const socket of this.held) socket.destroy();
    this.held.clear();
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  // ---- request handling ----

  private recordViolation(violation: ContractViolation): void {
    this.violations.push(violation);
    this.options.onContractViolation?.(violation);
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const method = (req.method ?? 'GET').toUpperCase();
    const path = url.pathname;
    const record: RecordedRequest = { method, path, query: url.search.slice(1), outcome: 'pending' };
    this.requestLog.push(record);
    let exchange: Exchange | undefined;
    try {
      const body = parseBody(await readBody(req));
      const clientOrderId =
        typeof body === 'object' &&
        body !== null &&
        'client_order_id' in body &&
        typeof body.client_order_id === 'string'
          ? body.client_order_id
          : (url.searchParams.get('client_order_id') ?? undefined);
      if (clientOrderId !== undefined) record.clientOrderId = clientOrderId;

      const check = this.contract.checkRequest({
        method,
        path,
        query: record.query,
        headers: req.headers,
        body,
      });
      if (check.errors.length > 0) {
        this.recordViolation({
          method,
          path,
          direction: 'request',
          operation: check.operation,
          source: check.source,
          errors: check.errors,
        });
      }

      const keyId = header(req, 'APCA-API-KEY-ID');
      const bucket = `${path.startsWith('/v2/stocks/') ? 'data' : 'trading'}:${keyId ?? ''}`;
      const authorized = keyId === this.keyId && header(req, 'APCA-API-SECRET-KEY') === this.secretKey;
      const rate = this.limiter.take(bucket, this.clock().getTime(), authorized);
      exchange = { req, res, url, method, path, body, record, rateHeaders: rate.headers, orderFaults: [] };
      if (!authorized) return this.send(exchange, errorReply(401, DEFAULT_ERRORS[401]));
      if (!rate.allowed) return this.send(exchange, errorReply(429, DEFAULT_ERRORS[429]));

      let withhold = false;
      let answerDelayMs = 0;
      for (const entry of [...this.faults]) {
        if (!entry.matches(method, path, clientOrderId)) continue;
        const fault = entry.fault;
        if (ORDER_FAULTS.has(fault.kind)) {
          exchange.orderFaults.push(entry);
          continue;
        }
        if (withhold) continue;
        entry.consume();
        record.fault = fault.kind;
        if (fault.kind === 'latency') {
          if (fault.stale) answerDelayMs += fault.ms;
          else await sleep(fault.ms);
        } else if (fault.kind === 'status') {
          const base: AlpacaError = DEFAULT_ERRORS[fault.status];
          if (fault.resetInMs !== undefined) {
            const reset = Math.ceil((this.clock().getTime() + fault.resetInMs) / 1000);
            exchange.rateHeaders = {
              ...exchange.rateHeaders,
              'X-RateLimit-Remaining': '0',
              'X-RateLimit-Reset': String(reset),
            };
          }
          return this.send(
            exchange,
            errorReply(fault.status, {
              code: fault.code ?? base.code,
              message: fault.message ?? base.message,
            }),
          );
        } else if (fault.kind === 'dropBeforeAccept') {
          record.outcome = 'dropped';
          req.socket.destroy();
          this.options.onRequest?.(record);
          return;
        } else if (fault.kind === 'timeoutAfterAccept') {
          withhold = true;
        }
      }

      const reply = this.replyTo(exchange);
      if (withhold) return this.hold(exchange, reply);
      if (answerDelayMs > 0) await sleep(answerDelayMs);
      return this.send(exchange, reply);
    } catch (error) {
      record.error = error instanceof Error ? (error.stack ?? error.message) : String(error);
      const reply = errorReply(500, {
        code: ERROR_CODES.internal,
        message: `fake alpaca failed: ${String(error)}`,
      });
      if (exchange) return this.send(exchange, reply);
      if (!res.headersSent)
        res.writeHead(500, { 'Content-Type': 'application/json' }).end(JSON.stringify(reply.body));
      record.status = 500;
      record.outcome = 'responded';
    }
  }

  /** The route's answer; Alpaca-style errors become error replies, anything else a 500 (recorded in `error`). */
  private replyTo(exchange: Exchange): Reply {
    try {
      return this.route(exchange);
    } catch (error) {
      if (error instanceof BrokerError) return errorReply(error.status, error.body);
      exchange.record.error = error instanceof Error ? (error.stack ?? error.message) : String(error);
      return errorReply(500, { code: ERROR_CODES.internal, message: `fake alpaca failed: ${String(error)}` });
    }
  }

  private checkResponse(exchange: Exchange, reply: Reply): void {
    const check = this.contract.checkResponse(exchange, reply.status, reply.body);
    if (check.errors.length > 0) {
      this.recordViolation({
        method: exchange.method,
        path: exchange.path,
        direction: 'response',
        operation: check.operation,
        source: check.source,
        status: reply.status,
        errors: check.errors,
      });
    }
  }

  private send(exchange: Exchange, reply: Reply): void {
    this.checkResponse(exchange, reply);
    const headers: Record<string, string> = { ...exchange.rateHeaders, 'X-Request-ID': randomUUID() };
    const { res, record } = exchange;
    if (reply.body === undefined) {
      res.writeHead(reply.status, headers).end();
    } else {
      const text = JSON.stringify(reply.body);
      res
        .writeHead(reply.status, {
          ...headers,
          'Content-Type': 'application/json; charset=UTF-8',
          'Content-Length': String(Buffer.byteLength(text)),
        })
        .end(text);
    }
    record.status = reply.status;
    record.outcome = 'responded';
    this.options.onRequest?.(record);
  }

  /** timeoutAfterAccept: the work is done, the answer never leaves; the socket closes when the client gives up. */
  private hold(exchange: Exchange, reply: Reply): void {
    this.checkResponse(exchange, reply);
    const { record, req } = exchange;
    const socket = req.socket;
    record.outcome = 'held';
    this.held.add(socket);
    const timer = setTimeout(() => socket.destroy(), MAX_HOLD_MS);
    timer.unref();
    socket.once('close', () => {
      clearTimeout(timer);
      this.held.delete(socket);
      record.outcome = 'abandoned';
      this.options.onRequest?.(record);
    });
  }

  /** Takes the order faults for one accepted order. */
  private effectsFor(exchange: Exchange): OrderEffects & { duplicate: boolean } {
    const effects: OrderEffects & { duplicate: boolean } = { duplicate: false };
    const used = new Set<FaultKind>();
    for (const entry of exchange.orderFaults) {
      const fault = entry.fault;
      if (entry.remaining <= 0 || used.has(fault.kind)) continue;
      if (
        fault.kind === 'duplicateOnFirstTry' &&
        !(exchange.method === 'POST' && exchange.path === '/v2/orders')
      )
        continue;
      used.add(fault.kind);
      entry.consume();
      exchange.record.fault = fault.kind;
      if (fault.kind === 'duplicateOnFirstTry') effects.duplicate = true;
      if (fault.kind === 'holdFills') effects.hold = fault.status ?? 'accepted';
      if (fault.kind === 'rejectAfterAccept') effects.reject = true;
      if (fault.kind === 'partialFill') {
        effects.partialFill = { qty: fault.qty, remainder: fault.remainder };
      }
    }
    return effects;
  }

  private submit(exchange: Exchange, body: unknown): { order: AlpacaOrder; duplicate: boolean } {
    let duplicate = false;
    const result = this.broker.submit(body, () => {
      const effects = this.effectsFor(exchange);
      duplicate = effects.duplicate;
      return effects;
    });
    return { order: this.options.orderResponse === 'current' ? result.current : result.ack, duplicate };
  }

  private route(exchange: Exchange): Reply {
    const { method, path, url } = exchange;
    const orderId = /^\/v2\/orders\/([^/]+)$/.exec(path)?.[1];
    const positionId = /^\/v2\/positions\/([^/]+)$/.exec(path)?.[1];
    const tradeSymbol = /^\/v2\/stocks\/([^/]+)\/trades\/latest$/.exec(path)?.[1];

    if (method === 'GET' && path === '/v2/account') return { status: 200, body: this.broker.account() };

    if (path === '/v2/orders') {
      if (method === 'POST') {
        const { order, duplicate } = this.submit(exchange, exchange.body);
        if (duplicate)
          return errorReply(422, {
            code: ERROR_CODES.unprocessable,
            message: 'client_order_id must be unique',
          });
        return { status: 200, body: order };
      }
      if (method === 'GET') {
        const status = url.searchParams.get('status') ?? undefined;
        if (status !== undefined && !['open', 'closed', 'all'].includes(status)) {
          return errorReply(422, { code: ERROR_CODES.invalidValue, message: `invalid status: ${status}` });
        }
        const direction = url.searchParams.get('direction') ?? undefined;
        if (direction !== undefined && direction !== 'asc' && direction !== 'desc') {
          return errorReply(422, {
            code: ERROR_CODES.invalidValue,
            message: `invalid direction: ${direction}`,
          });
        }
        const orders = this.broker.listOrders({
          status,
          direction,
          limit: queryNumber(url, 'limit'),
          after: url.searchParams.get('after') ?? undefined,
          until: url.searchParams.get('until') ?? undefined,
          symbols: url.searchParams.get('symbols') ?? undefined,
          side: url.searchParams.get('side') ?? undefined,
        });
        return { status: 200, body: orders };
      }
      if (method === 'DELETE') return { status: 207, body: this.broker.cancelAll() };
    }

    if (method === 'GET' && path === '/v2/orders:by_client_order_id') {
      const clientOrderId = url.searchParams.get('client_order_id') ?? '';
      const order = this.broker.findOrderByClientId(clientOrderId);
      if (!order) throw notFound(`order not found for ${clientOrderId}`);
      return { status: 200, body: order };
    }

    if (orderId !== undefined) {
      const id = decodeURIComponent(orderId);
      if (method === 'GET') {
        const order = this.broker.findOrder(id);
        if (!order) throw notFound(`order not found for ${id}`);
        return { status: 200, body: order };
      }
      if (method === 'DELETE') {
        this.broker.cancel(id);
        return { status: 204 };
      }
      if (method === 'PATCH') {
        return errorReply(501, {
          code: ERROR_CODES.notImplemented,
          message: 'replacing orders is not implemented by the fake',
        });
      }
    }

    if (path === '/v2/positions') {
      if (method === 'GET') return { status: 200, body: this.broker.listPositions() };
      if (method === 'DELETE') {
        if (url.searchParams.get('cancel_orders') === 'true') this.broker.cancelAll();
        return { status: 207, body: this.broker.closeAll((body) => this.submit(exchange, body).order) };
      }
    }

    if (positionId !== undefined) {
      const symbol = decodeURIComponent(positionId);
      if (method === 'GET') return { status: 200, body: this.broker.position(symbol) };
      if (method === 'DELETE') {
        const body = this.broker.closingOrder(
          symbol,
          queryNumber(url, 'qty'),
          queryNumber(url, 'percentage'),
        );
        return { status: 200, body: this.submit(exchange, body).order };
      }
    }

    if (method === 'GET' && path === '/v2/clock') return { status: 200, body: clockAt(this.clock()) };

    if (method === 'GET' && path === '/v2/calendar') {
      const start = queryDate(url, 'start', DEFAULT_CALENDAR_RANGE.start);
      const end = queryDate(url, 'end', DEFAULT_CALENDAR_RANGE.end);
      return { status: 200, body: calendarBetween(start, end) };
    }

    if (method === 'GET' && tradeSymbol !== undefined) {
      const symbol = decodeURIComponent(tradeSymbol);
      const trade = this.broker.latestTrade(symbol);
      if (!trade) throw notFound(`no trade found for ${symbol}`);
      const body: AlpacaLatestTrade = {
        symbol,
        trade: {
          t: trade.at.toISOString(),
          x: 'V',
          p: Number(decimalString(trade.price)),
          s: 100,
          c: ['@'],
          i: trade.id,
          z: 'C',
        },
      };
      return { status: 200, body };
    }

    return errorReply(404, { code: ERROR_CODES.notFound, message: 'endpoint not found' });
  }
}

/** Starts a fake Alpaca on 127.0.0.1 (port 0 = a free port). */
export async function startFakeAlpaca(options: FakeAlpacaOptions = {}): Promise<FakeAlpaca> {
  const contract = await loadContract(options.specPath ?? SPEC_PATH);
  const fake = new FakeAlpacaServer(options, contract);
  await fake.listen();
  return fake;
}
