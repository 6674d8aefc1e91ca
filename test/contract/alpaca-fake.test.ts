import {
  Alpaca,
  ApiError,
  AuthError,
  FetchError,
  marketData,
  NotFoundError,
  OrdersApi,
  PermissionError,
  RateLimitError,
  trading,
  ValidationError,
  withResponse,
} from '@alpacahq/alpaca-trade-api';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { loadContract } from '../fakes/alpaca/contract.js';
import { type FakeAlpaca, type FakeAlpacaOptions, startFakeAlpaca } from '../fakes/alpaca/server.js';

/** Friday after Thanksgiving 2026, 10:00 New York: an early-close session (13:00). */
const FRIDAY_10AM = new Date('2026-11-27T15:00:00Z');
const PRICES = { AAPL: '187.5', MSFT: '400', TSLA: '250' };

/** The official SDK's raw Api classes, pointed at the fake by `basePath` (retry and rate limiting are off by default). */
function sdkFor(fake: FakeAlpaca, overrides: { keyId?: string; secret?: string; timeoutMs?: number } = {}) {
  const parameters = {
    basePath: fake.url,
    keyId: overrides.keyId ?? fake.keyId,
    secret: overrides.secret ?? fake.secretKey,
    timeoutMs: overrides.timeoutMs ?? 5_000,
  };
  const tradingConfig = new trading.Configuration(parameters);
  const dataConfig = new marketData.Configuration(parameters);
  return {
    account: new trading.AccountsApi(tradingConfig),
    orders: new OrdersApi(tradingConfig),
    positions: new trading.PositionsApi(tradingConfig),
    clock: new trading.ClockApi(tradingConfig),
    calendar: new trading.CalendarApi(tradingConfig),
    stocks: new marketData.StockApi(dataConfig),
  };
}

async function rejectionOf(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error('expected the call to fail');
}

async function withFake<T>(options: FakeAlpacaOptions, use: (fake: FakeAlpaca) => Promise<T>): Promise<T> {
  const fake = await startFakeAlpaca(options);
  try {
    const result = await use(fake);
    expect(fake.contractViolations).toEqual([]);
    return result;
  } finally {
    await fake.stop();
  }
}

describe('fake Alpaca, driven through the official SDK and checked against the OpenAPI spec', () => {
  let now = FRIDAY_10AM;
  let fake: FakeAlpaca;
  let sdk: ReturnType<typeof sdkFor>;

  beforeAll(async () => {
    fake = await startFakeAlpaca({ clock: () => now, prices: PRICES });
    sdk = sdkFor(fake);
  });

  beforeEach(() => {
    now = FRIDAY_10AM;
    fake.reset();
  });

  afterEach(() => {
    expect(fake.contractViolations).toEqual([]);
  });

  afterAll(async () => {
    await fake.stop();
  });

  describe('account', () => {
    it('serves a paper account numbered "PA…" without the day-trading fields Alpaca removed', async () => {
      const account = await sdk.account.getAccount();

      expect(account.accountNumber).toMatch(/^PA[0-9A-Z]{10}$/);
      expect(account.status).toBe('ACTIVE');
      expect(account.cash).toBe('100000');
      expect(account.equity).toBe('100000');
      expect(account.buyingPower).toBe('200000');
      expect(account).not.toHaveProperty('pattern_day_trader');
      expect(account).not.toHaveProperty('daytrade_count');
      expect(account).not.toHaveProperty('daytrading_buying_power');
    });

    it('serves a live account whose number does not start with "PA"', async () => {
      const account = await withFake({ mode: 'live', clock: () => now }, (live) =>
        sdkFor(live).account.getAccount(),
      );

      expect(account.accountNumber).toMatch(/^[1-9][0-9A-Z]{9}$/);
    });

    it('answers 401 with Alpaca’s body to wrong keys, on trading and market data alike', async () => {
      const intruder = sdkFor(fake, { secret: 'wrong-secret' });

      const tradingError = await rejectionOf(intruder.account.getAccount());
      const dataError = await rejectionOf(intruder.stocks.stockLatestTradeSingle({ symbol: 'AAPL' }));

      for (const error of [tradingError, dataError]) {
        expect(error).toBeInstanceOf(AuthError);
        expect(error).toMatchObject({ status: 401, code: 40110000, message: 'request is not authorized' });
        expect(error).toMatchObject({ rateLimit: { limit: 200, remaining: 200 } });
      }
      expect(fake.requests.map((r) => r.status)).toEqual([401, 401]);
    });
  });

  describe('orders', () => {
    it('fills a market order at the latest price, then books the position and the cash', async () => {
      const ack = await sdk.orders.market({
        symbol: 'AAPL',
        qty: 10,
        side: 'buy',
        clientOrderId: 'pb-market-1',
      });

      expect(ack).toMatchObject({
        status: 'accepted',
        filledQty: '0',
        clientOrderId: 'pb-market-1',
        qty: '10',
      });
      const order = await sdk.orders.getOrderByOrderID({ orderId: ack.id ?? '' });
      expect(order).toMatchObject({ status: 'filled', filledQty: '10', filledAvgPrice: '187.5' });
      expect(order.filledAt).toEqual(FRIDAY_10AM);
      const position = await sdk.positions.getOpenPosition({ symbolOrAssetId: 'AAPL' });
      expect(position).toMatchObject({
        qty: '10',
        side: 'long',
        avgEntryPrice: '187.5',
        marketValue: '1875',
      });
      const account = await sdk.account.getAccount();
      expect(account.cash).toBe('98125');
      expect(account.longMarketValue).toBe('1875');
      expect(account.buyingPower).toBe('198125');
      expect(fake.orders).toHaveLength(1);
    });

    it('fills a marketable limit order at once, at the better of limit and market price', async () => {
      const ack = await sdk.orders.limit({ symbol: 'AAPL', qty: 2, side: 'buy', limitPrice: 190 });

      const order = await sdk.orders.getOrderByOrderID({ orderId: ack.id ?? '' });
      expect(order).toMatchObject({ status: 'filled', filledAvgPrice: '187.5', limitPrice: '190' });
    });

    it('rests a limit order away from the market and fills it when setPrice moves through the limit', async () => {
      const ack = await sdk.orders.limit({ symbol: 'AAPL', qty: 5, side: 'buy', limitPrice: '180' });
      const resting = await sdk.orders.getOrderByOrderID({ orderId: ack.id ?? '' });
      const reserved = await sdk.account.getAccount();

      fake.setPrice('AAPL', '179.9');

      expect(resting.status).toBe('new');
      expect(reserved.buyingPower).toBe('199100');
      const filled = await sdk.orders.getOrderByOrderID({ orderId: ack.id ?? '' });
      expect(filled).toMatchObject({ status: 'filled', filledQty: '5', filledAvgPrice: '179.9' });
      expect((await sdk.account.getAccount()).cash).toBe('99100.5');
    });

    it('triggers a resting stop order when the price crosses the stop', async () => {
      await sdk.orders.market({ symbol: 'TSLA', qty: 3, side: 'buy' });
      const stop = await sdk.orders.stop({ symbol: 'TSLA', qty: 3, side: 'sell', stopPrice: 240 });

      fake.setPrice('TSLA', '245');
      const untouched = await sdk.orders.getOrderByOrderID({ orderId: stop.id ?? '' });
      fake.setPrice('TSLA', '239.5');

      expect(untouched.status).toBe('new');
      const triggered = await sdk.orders.getOrderByOrderID({ orderId: stop.id ?? '' });
      expect(triggered).toMatchObject({ status: 'filled', filledAvgPrice: '239.5' });
      expect(fake.positions).toEqual([]);
    });

    it('finds an order by client order id and answers 404 for an unknown one', async () => {
      await sdk.orders.market({ symbol: 'MSFT', qty: 1, side: 'buy', clientOrderId: 'pb-lookup-1' });

      const found = await sdk.orders.getOrderByClientOrderId({ clientOrderId: 'pb-lookup-1' });
      const missing = await rejectionOf(
        sdk.orders.getOrderByClientOrderId({ clientOrderId: 'pb-never-sent' }),
      );

      expect(found).toMatchObject({ clientOrderId: 'pb-lookup-1', symbol: 'MSFT', status: 'filled' });
      expect(missing).toBeInstanceOf(NotFoundError);
      expect(missing).toMatchObject({
        status: 404,
        code: 40410000,
        message: 'order not found for pb-never-sent',
      });
    });

    it('refuses a repeated client_order_id with 422 and keeps only the first order', async () => {
      await sdk.orders.market({ symbol: 'AAPL', qty: 1, side: 'buy', clientOrderId: 'pb-dup-1' });

      const error = await rejectionOf(
        sdk.orders.market({ symbol: 'AAPL', qty: 1, side: 'buy', clientOrderId: 'pb-dup-1' }),
      );

      expect(error).toBeInstanceOf(ValidationError);
      expect(error).toMatchObject({ status: 422, code: 40010001, message: 'client_order_id must be unique' });
      expect(fake.orders.map((o) => o.client_order_id)).toEqual(['pb-dup-1']);
    });

    it('refuses a client_order_id longer than 48 characters', async () => {
      const error = await rejectionOf(
        sdk.orders.market({ symbol: 'AAPL', qty: 1, side: 'buy', clientOrderId: 'x'.repeat(49) }),
      );

      expect(error).toMatchObject({ status: 422, message: 'client_order_id must be at most 48 characters' });
      expect(fake.orders).toEqual([]);
      expect(fake.takeContractViolations()).toEqual([
        expect.objectContaining({
          direction: 'request',
          operation: 'postOrder',
          errors: ['/requestBody/client_order_id must NOT have more than 48 characters'],
        }),
      ]);
    });

    it('refuses a buy beyond buying power with 403 and records nothing', async () => {
      const error = await rejectionOf(sdk.orders.market({ symbol: 'AAPL', qty: 1100, side: 'buy' }));

      expect(error).toBeInstanceOf(PermissionError);
      expect(error).toMatchObject({ status: 403, code: 40310000, message: 'insufficient buying power' });
      expect(fake.orders).toEqual([]);
    });

    it('refuses sub-penny limit and stop prices with 422 naming the field', async () => {
      const limitError = await rejectionOf(
        sdk.orders.limit({ symbol: 'AAPL', qty: 1, side: 'buy', limitPrice: '187.123' }),
      );
      const stopError = await rejectionOf(
        sdk.orders.stop({ symbol: 'AAPL', qty: 1, side: 'sell', stopPrice: '150.001' }),
      );

      expect(limitError).toBeInstanceOf(ValidationError);
      expect(limitError).toMatchObject({
        status: 422,
        message: expect.stringContaining('limit_price 187.123'),
      });
      expect(stopError).toMatchObject({
        status: 422,
        message: expect.stringContaining('stop_price 150.001'),
      });
      expect(fake.orders).toEqual([]);
    });

    it('accepts four decimals below one dollar', async () => {
      fake.setPrice('PENNY', '0.5123');

      const order = await sdk.orders.limit({ symbol: 'PENNY', qty: 100, side: 'buy', limitPrice: '0.5011' });

      expect(order.limitPrice).toBe('0.5011');
    });

    it('refuses an unknown symbol with 422 asset not found', async () => {
      const error = await rejectionOf(sdk.orders.market({ symbol: 'ZZZZ', qty: 1, side: 'buy' }));

      expect(error).toMatchObject({ status: 422, message: 'asset "ZZZZ" not found' });
    });

    it('cancels an open order with 204 and refuses to cancel a filled one with 422', async () => {
      const resting = await sdk.orders.limit({ symbol: 'AAPL', qty: 1, side: 'buy', limitPrice: 150 });
      const filled = await sdk.orders.market({ symbol: 'AAPL', qty: 1, side: 'buy' });

      await sdk.orders.deleteOrderByOrderID({ orderId: resting.id ?? '' });
      const error = await rejectionOf(sdk.orders.deleteOrderByOrderID({ orderId: filled.id ?? '' }));

      expect(fake.requests.filter((r) => r.method === 'DELETE').map((r) => r.status)).toEqual([204, 422]);
      expect(await sdk.orders.getOrderByOrderID({ orderId: resting.id ?? '' })).toMatchObject({
        status: 'canceled',
      });
      expect(error).toMatchObject({ status: 422, message: 'order is already in "filled" state' });
    });

    it('cancels every open order with a 207 multi-status', async () => {
      await sdk.orders.limit({ symbol: 'AAPL', qty: 1, side: 'buy', limitPrice: 150 });
      await sdk.orders.limit({ symbol: 'MSFT', qty: 1, side: 'buy', limitPrice: 300 });
      await sdk.orders.market({ symbol: 'TSLA', qty: 1, side: 'buy' });

      const results = await sdk.orders.deleteAllOrders();

      expect(results.map((r) => r.status)).toEqual([200, 200]);
      expect(fake.requests.at(-1)?.status).toBe(207);
      expect(fake.orders.map((o) => o.status)).toEqual(['canceled', 'canceled', 'filled']);
    });

    it('expires open day orders at the end of the session and keeps gtc ones', async () => {
      const day = await sdk.orders.limit({ symbol: 'AAPL', qty: 1, side: 'buy', limitPrice: 150 });
      const gtc = await sdk.orders.limit({
        symbol: 'AAPL',
        qty: 1,
        side: 'buy',
        limitPrice: 150,
        timeInForce: 'gtc',
      });

      const expired = fake.expireDayOrders();

      expect(expired.map((o) => o.id)).toEqual([day.id]);
      expect(await sdk.orders.getOrderByOrderID({ orderId: gtc.id ?? '' })).toMatchObject({ status: 'new' });
    });

    it('answers POST /v2/orders with the order after matching when started with orderResponse "current"', async () => {
      const order = await withFake(
        { orderResponse: 'current', prices: PRICES, clock: () => now },
        (current) => sdkFor(current).orders.market({ symbol: 'AAPL', qty: 2, side: 'buy' }),
      );

      expect(order).toMatchObject({ status: 'filled', filledQty: '2', filledAvgPrice: '187.5' });
    });

    it('lists open and closed orders with status, limit, direction and symbol filters', async () => {
      now = new Date('2026-11-27T15:00:01Z');
      const first = await sdk.orders.market({
        symbol: 'AAPL',
        qty: 1,
        side: 'buy',
        clientOrderId: 'pb-list-1',
      });
      now = new Date('2026-11-27T15:00:02Z');
      await sdk.orders.limit({
        symbol: 'MSFT',
        qty: 1,
        side: 'buy',
        limitPrice: 300,
        clientOrderId: 'pb-list-2',
      });
      now = new Date('2026-11-27T15:00:03Z');
      await sdk.orders.limit({
        symbol: 'AAPL',
        qty: 1,
        side: 'buy',
        limitPrice: 150,
        clientOrderId: 'pb-list-3',
      });

      const open = await sdk.orders.getAllOrders({ status: 'open' });
      const closed = await sdk.orders.getAllOrders({ status: 'closed' });
      const all = await sdk.orders.getAllOrders({ status: 'all', direction: 'asc' });
      const newest = await sdk.orders.getAllOrders({ status: 'all', limit: 1 });
      const apple = await sdk.orders.getAllOrders({ status: 'all', symbols: 'AAPL' });

      expect(open.map((o) => o.clientOrderId)).toEqual(['pb-list-3', 'pb-list-2']);
      expect(closed.map((o) => o.id)).toEqual([first.id]);
      expect(all.map((o) => o.clientOrderId)).toEqual(['pb-list-1', 'pb-list-2', 'pb-list-3']);
      expect(newest.map((o) => o.clientOrderId)).toEqual(['pb-list-3']);
      expect(apple.map((o) => o.clientOrderId)).toEqual(['pb-list-3', 'pb-list-1']);
    });
  });

  describe('positions', () => {
    it('lists and gets long and short positions, and answers 404 when there is none', async () => {
      await sdk.orders.market({ symbol: 'AAPL', qty: 10, side: 'buy' });
      await sdk.orders.market({ symbol: 'TSLA', qty: 4, side: 'sell' });
      fake.setPrice('AAPL', '190');
      fake.setPrice('TSLA', '260');

      const positions = await sdk.positions.getAllOpenPositions();
      const short = await sdk.positions.getOpenPosition({ symbolOrAssetId: 'TSLA' });
      const none = await rejectionOf(sdk.positions.getOpenPosition({ symbolOrAssetId: 'MSFT' }));

      expect(positions.map((p) => [p.symbol, p.side, p.qty, p.unrealizedPl])).toEqual([
        ['AAPL', 'long', '10', '25'],
        ['TSLA', 'short', '-4', '-40'],
      ]);
      expect(short).toMatchObject({
        marketValue: '-1040',
        costBasis: '-1000',
        avgEntryPrice: '250',
        currentPrice: '260',
      });
      expect(none).toBeInstanceOf(NotFoundError);
      expect(none).toMatchObject({ status: 404, code: 40410000, message: 'position does not exist' });
      const account = await sdk.account.getAccount();
      expect(account).toMatchObject({
        cash: '99125',
        longMarketValue: '1900',
        shortMarketValue: '-1040',
        equity: '99985',
      });
    });

    it('closes one position with a market order and returns that order', async () => {
      await sdk.orders.market({ symbol: 'AAPL', qty: 10, side: 'buy' });
      fake.setPrice('AAPL', '200');

      const closing = await sdk.positions.deleteOpenPosition({ symbolOrAssetId: 'AAPL' });

      expect(closing).toMatchObject({ symbol: 'AAPL', side: 'sell', qty: '10', type: 'market' });
      expect(fake.positions).toEqual([]);
      expect(fake.account.cash).toBe('100125');
    });

    it('closes part of a position by percentage', async () => {
      await sdk.orders.market({ symbol: 'AAPL', qty: 10, side: 'buy' });

      const closing = await sdk.positions.deleteOpenPosition({ symbolOrAssetId: 'AAPL', percentage: 30 });

      expect(closing.qty).toBe('3');
      expect(fake.positions.map((p) => p.qty)).toEqual(['7']);
    });

    it('refuses to sell more than the long position holds', async () => {
      await sdk.orders.market({ symbol: 'AAPL', qty: 5, side: 'buy' });

      const error = await rejectionOf(sdk.orders.market({ symbol: 'AAPL', qty: 8, side: 'sell' }));

      expect(error).toMatchObject({
        status: 403,
        message: 'insufficient qty available for order (requested: 8, available: 5)',
      });
    });

    it('closes every position with a 207 multi-status', async () => {
      await sdk.orders.market({ symbol: 'AAPL', qty: 10, side: 'buy' });
      await sdk.orders.market({ symbol: 'TSLA', qty: 4, side: 'sell' });
      await sdk.orders.limit({ symbol: 'MSFT', qty: 1, side: 'buy', limitPrice: 300 });

      const results = await sdk.positions.deleteAllOpenPositions({ cancelOrders: true });

      expect(results.map((r) => [r.symbol, r.status, r.body?.side])).toEqual([
        ['AAPL', 200, 'sell'],
        ['TSLA', 200, 'buy'],
      ]);
      expect(fake.positions).toEqual([]);
      expect(fake.orders.map((o) => o.status)).toEqual(['filled', 'filled', 'canceled', 'filled', 'filled']);
      expect(fake.account.cash).toBe('100000');
    });
  });

  describe('clock, calendar and market data', () => {
    it('tells the market clock from the NYSE calendar, early close included', async () => {
      const open = await sdk.clock.legacyClock();
      now = new Date('2026-11-26T15:00:00Z');
      const thanksgiving = await sdk.clock.legacyClock();

      expect(open).toEqual({
        timestamp: FRIDAY_10AM,
        isOpen: true,
        nextOpen: new Date('2026-11-30T14:30:00Z'),
        nextClose: new Date('2026-11-27T18:00:00Z'),
      });
      expect(thanksgiving).toMatchObject({
        isOpen: false,
        nextOpen: new Date('2026-11-27T14:30:00Z'),
        nextClose: new Date('2026-11-27T18:00:00Z'),
      });
    });

    it('serves the calendar without Thanksgiving and with the 13:00 close the day after', async () => {
      const days = await sdk.calendar.legacyCalendar({
        start: new Date('2026-11-25'),
        end: new Date('2026-11-30'),
      });

      expect(days.map((d) => [d.date.toISOString().slice(0, 10), d.open, d.close])).toEqual([
        ['2026-11-25', '09:30', '16:00'],
        ['2026-11-27', '09:30', '13:00'],
        ['2026-11-30', '09:30', '16:00'],
      ]);
      expect(days[1]?.settlementDate).toEqual(new Date('2026-11-30'));
    });

    it('serves the latest trade on the same port, following setPrice', async () => {
      const before = await sdk.stocks.stockLatestTradeSingle({ symbol: 'AAPL' });
      fake.setPrice('AAPL', '190.25');
      const after = await sdk.stocks.stockLatestTradeSingle({ symbol: 'AAPL', feed: 'iex' });

      expect(before).toMatchObject({
        symbol: 'AAPL',
        trade: { p: 187.5, s: 100, x: 'V', z: 'C', t: FRIDAY_10AM },
      });
      expect(after.trade.p).toBe(190.25);
      expect(after.trade.i).toBeGreaterThan(before.trade.i);
    });
  });

  describe('rate limit', () => {
    it('answers 429 with the X-RateLimit headers once the per-minute allowance is spent', async () => {
      await withFake({ rateLimitPerMinute: 3, clock: () => now }, async (limited) => {
        const client = sdkFor(limited);
        const remaining: (number | undefined)[] = [];
        for (let i = 0; i < 3; i += 1) {
          remaining.push((await withResponse(client.account.getAccountRaw())).rateLimit?.remaining);
        }

        const error = await rejectionOf(client.account.getAccount());

        expect(remaining).toEqual([2, 1, 0]);
        expect(error).toBeInstanceOf(RateLimitError);
        expect(error).toMatchObject({ status: 429, code: 42910000 });
        const headers = error instanceof ApiError ? error.response.headers : new Headers();
        expect(headers.get('X-RateLimit-Limit')).toBe('3');
        expect(headers.get('X-RateLimit-Remaining')).toBe('0');
        expect(headers.get('X-RateLimit-Reset')).toBe(String(FRIDAY_10AM.getTime() / 1000 + 60));
        now = new Date(FRIDAY_10AM.getTime() + 60_001);
        expect((await client.account.getAccount()).status).toBe('ACTIVE');
      });
    });
  });

  describe('fault injection', () => {
    it('timeoutAfterAccept: the broker records the order although the client times out', async () => {
      const impatient = sdkFor(fake, { timeoutMs: 300 });
      fake.inject({ fault: 'timeoutAfterAccept' });

      const error = await rejectionOf(
        impatient.orders.market({ symbol: 'AAPL', qty: 1, side: 'buy', clientOrderId: 'pb-timeout-1' }),
      );

      expect(error).toBeInstanceOf(FetchError);
      expect(fake.orders.map((o) => [o.client_order_id, o.status])).toEqual([['pb-timeout-1', 'filled']]);
      await vi.waitFor(() => expect(fake.requests[0]?.outcome).toBe('abandoned'));
      const reconciled = await sdk.orders.getOrderByClientOrderId({ clientOrderId: 'pb-timeout-1' });
      expect(reconciled.status).toBe('filled');
    });

    it('dropBeforeAccept: the client sees a network error and the broker has no order', async () => {
      fake.inject({ fault: 'dropBeforeAccept' });

      const error = await rejectionOf(
        sdk.orders.market({ symbol: 'AAPL', qty: 1, side: 'buy', clientOrderId: 'pb-drop-1' }),
      );

      expect(error).toBeInstanceOf(FetchError);
      expect(fake.orders).toEqual([]);
      expect(fake.requests[0]).toMatchObject({ outcome: 'dropped', fault: 'dropBeforeAccept' });
      expect(fake.requests[0]?.status).toBeUndefined();
      const lookup = await rejectionOf(sdk.orders.getOrderByClientOrderId({ clientOrderId: 'pb-drop-1' }));
      expect(lookup).toBeInstanceOf(NotFoundError);
    });

    it('duplicateOnFirstTry: the very first POST is recorded yet answered 422 duplicate', async () => {
      fake.inject({ fault: 'duplicateOnFirstTry' });

      const error = await rejectionOf(
        sdk.orders.market({ symbol: 'AAPL', qty: 1, side: 'buy', clientOrderId: 'pb-first-1' }),
      );

      expect(error).toMatchObject({ status: 422, code: 40010001, message: 'client_order_id must be unique' });
      expect(fake.orders.map((o) => o.client_order_id)).toEqual(['pb-first-1']);
      const found = await sdk.orders.getOrderByClientOrderId({ clientOrderId: 'pb-first-1' });
      expect(found.status).toBe('filled');
    });

    it('partialFill: fills part of the order, stays partially_filled, and the client cancels the rest', async () => {
      fake.inject({ fault: { kind: 'partialFill', qty: 4 } });
      const ack = await sdk.orders.market({ symbol: 'AAPL', qty: 10, side: 'buy' });

      const partial = await sdk.orders.getOrderByOrderID({ orderId: ack.id ?? '' });
      fake.setPrice('AAPL', '186');
      const stillPartial = await sdk.orders.getOrderByOrderID({ orderId: ack.id ?? '' });
      await sdk.orders.deleteOrderByOrderID({ orderId: ack.id ?? '' });

      expect(partial).toMatchObject({ status: 'partially_filled', filledQty: '4', filledAvgPrice: '187.5' });
      expect(stillPartial).toMatchObject({ status: 'partially_filled', filledQty: '4' });
      expect(fake.orders[0]).toMatchObject({ status: 'canceled', filled_qty: '4' });
      expect(fake.positions.map((p) => p.qty)).toEqual(['4']);
    });

    it('partialFill with remainder "expire": the broker expires the unfilled rest', async () => {
      fake.inject({ fault: { kind: 'partialFill', qty: '3', remainder: 'expire' } });

      const ack = await sdk.orders.market({ symbol: 'MSFT', qty: 5, side: 'buy' });

      const order = await sdk.orders.getOrderByOrderID({ orderId: ack.id ?? '' });
      expect(order).toMatchObject({ status: 'expired', filledQty: '3' });
      expect(order.expiredAt).toEqual(FRIDAY_10AM);
    });

    it('holdFills: market orders stay accepted until fillPending()', async () => {
      fake.inject({ fault: 'holdFills', times: Number.POSITIVE_INFINITY });
      const first = await sdk.orders.market({ symbol: 'AAPL', qty: 1, side: 'buy' });
      await sdk.orders.market({ symbol: 'MSFT', qty: 1, side: 'buy' });

      const held = await sdk.orders.getOrderByOrderID({ orderId: first.id ?? '' });
      const filled = fake.fillPending();

      expect(held.status).toBe('accepted');
      expect(filled.map((o) => [o.symbol, o.status])).toEqual([
        ['AAPL', 'filled'],
        ['MSFT', 'filled'],
      ]);
      expect((await sdk.positions.getAllOpenPositions()).map((p) => p.symbol)).toEqual(['AAPL', 'MSFT']);
    });

    it('rejectAfterAccept: the order is acknowledged, then rejected', async () => {
      fake.inject({ fault: 'rejectAfterAccept' });

      const ack = await sdk.orders.market({ symbol: 'AAPL', qty: 1, side: 'buy' });

      const order = await sdk.orders.getOrderByOrderID({ orderId: ack.id ?? '' });
      expect(order.status).toBe('rejected');
      expect(order.failedAt).toEqual(FRIDAY_10AM);
      expect(fake.positions).toEqual([]);
    });

    it('status faults answer with an Alpaca error body and change nothing', async () => {
      const statuses = [401, 403, 422, 429, 500, 502, 503] as const;
      const seen: unknown[] = [];
      for (const status of statuses) {
        fake.inject({ fault: { kind: 'status', status }, when: { method: 'POST', path: '/v2/orders' } });
        seen.push(await rejectionOf(sdk.orders.market({ symbol: 'AAPL', qty: 1, side: 'buy' })));
      }

      expect(
        seen.map((e) => (e instanceof ApiError ? [e.status, typeof e.code, e.message.length > 0] : e)),
      ).toEqual(statuses.map((status) => [status, 'number', true]));
      expect(seen[3]).toBeInstanceOf(RateLimitError);
      expect(fake.orders).toEqual([]);
    });

    it('latency delays the matched request only', async () => {
      fake.inject({ fault: { kind: 'latency', ms: 250 }, when: { path: '/v2/clock' } });

      const slowStart = performance.now();
      await sdk.clock.legacyClock();
      const slow = performance.now() - slowStart;
      const fastStart = performance.now();
      await sdk.clock.legacyClock();
      const fast = performance.now() - fastStart;

      expect(slow).toBeGreaterThanOrEqual(240);
      expect(fast).toBeLessThan(240);
    });

    it('latency with stale: an answer handled at once arrives after the answer to a later request', async () => {
      fake.inject({ fault: 'holdFills' });
      await sdk.orders.market({ symbol: 'AAPL', qty: 1, side: 'buy', clientOrderId: 'pb-stale-1' });
      const late = fake.inject({
        fault: { kind: 'latency', ms: 300, stale: true },
        when: { path: '/v2/orders:by_client_order_id' },
      });

      const first = sdk.orders.getOrderByClientOrderId({ clientOrderId: 'pb-stale-1' });
      await vi.waitFor(() => expect(late.fired).toBe(1));
      fake.fillPending();
      const second = await sdk.orders.getOrderByClientOrderId({ clientOrderId: 'pb-stale-1' });

      expect(second.status).toBe('filled');
      expect((await first).status).toBe('accepted');
    });

    it('a 429 status fault with resetInMs says when the allowance comes back', async () => {
      fake.inject({
        fault: { kind: 'status', status: 429, resetInMs: 1_500 },
        when: { path: '/v2/account' },
      });

      const error = await rejectionOf(sdk.account.getAccount());

      expect(error).toBeInstanceOf(RateLimitError);
      const headers = error instanceof ApiError ? error.response.headers : new Headers();
      expect(headers.get('X-RateLimit-Remaining')).toBe('0');
      expect(headers.get('X-RateLimit-Reset')).toBe(String(FRIDAY_10AM.getTime() / 1000 + 2));
    });

    it('matches faults by client_order_id and counts them down', async () => {
      const fault = fake.inject({
        fault: { kind: 'status', status: 500 },
        when: { clientOrderId: /^pb-flaky-/ },
        times: 2,
      });

      const outcomes: unknown[] = [];
      for (const clientOrderId of ['pb-flaky-1', 'pb-steady-1', 'pb-flaky-2', 'pb-flaky-3']) {
        outcomes.push(
          await sdk.orders.market({ symbol: 'AAPL', qty: 1, side: 'buy', clientOrderId }).then(
            (order) => order.status,
            (error: unknown) => (error instanceof ApiError ? error.status : error),
          ),
        );
      }

      expect(outcomes).toEqual([500, 'accepted', 500, 'accepted']);
      expect([fault.fired, fault.remaining]).toEqual([2, 0]);
    });
  });

  describe('contract validation', () => {
    it('records a request that breaks the spec (qty as an object) as a violation', async () => {
      const response = await fetch(`${fake.url}/v2/orders`, {
        method: 'POST',
        headers: {
          'Content-Type': 'application/json',
          'APCA-API-KEY-ID': fake.keyId,
          'APCA-API-SECRET-KEY': fake.secretKey,
        },
        body: JSON.stringify({
          symbol: 'AAPL',
          qty: { shares: 1 },
          side: 'buy',
          type: 'market',
          time_in_force: 'day',
        }),
      });

      expect(response.status).toBe(422);
      expect(fake.takeContractViolations()).toEqual([
        {
          method: 'POST',
          path: '/v2/orders',
          direction: 'request',
          operation: 'postOrder',
          source: 'spec',
          errors: ['/requestBody/qty must be string'],
        },
      ]);
      expect(fake.orders).toEqual([]);
    });

    it('records calls outside the spec and its documented supplement', async () => {
      const response = await fetch(`${fake.url}/v2/orders/by-symbol/AAPL`, {
        headers: { 'APCA-API-KEY-ID': fake.keyId, 'APCA-API-SECRET-KEY': fake.secretKey },
      });

      expect(response.status).toBe(404);
      expect(fake.takeContractViolations()).toMatchObject([
        { direction: 'request', source: 'none', operation: undefined },
      ]);
    });

    it('flags responses that break the spec: a wrong type, a missing required field, an undeclared status', async () => {
      const contract = await loadContract();
      await sdk.orders.market({ symbol: 'AAPL', qty: 1, side: 'buy' });
      const [order] = fake.orders;
      if (!order) throw new Error('the order was not recorded');
      const request = { method: 'GET', path: `/v2/orders/${order.id}` };

      const valid = contract.checkResponse(request, 200, order);
      const wrongType = contract.checkResponse(request, 200, { ...order, filled_qty: 1 });
      const { side: _side, ...withoutSide } = order;
      const missing = contract.checkResponse(request, 200, withoutSide);
      const undeclared = contract.checkResponse({ method: 'POST', path: '/v2/orders' }, 201, order);
      const badError = contract.checkResponse(request, 404, { message: 'not found' });

      expect(valid.errors).toEqual([]);
      expect(wrongType.errors).toEqual(['/filled_qty must be string']);
      expect(missing.errors).toEqual(["(root) must have required property 'side'"]);
      expect(undeclared.errors).toEqual(['status 201 is not declared (declared: 200, 403, 422)']);
      expect(badError.errors).toEqual(["error envelope: (root) must have required property 'code'"]);
    });
  });

  describe('the Alpaca facade', () => {
    it('reaches the fake through a fetchApi that maps Alpaca’s hosts to the fake and refuses anything else', async () => {
      const hosts = ['https://paper-api.alpaca.markets', 'https://data.alpaca.markets'];
      const alpaca = new Alpaca({
        keyId: fake.keyId,
        secret: fake.secretKey,
        retry: false,
        rateLimit: false,
        fetchApi: (url, init) => {
          const host = hosts.find((h) => url.startsWith(`${h}/`));
          if (!host) throw new Error(`refusing to leave loopback: ${url}`);
          return fetch(`${fake.url}${url.slice(host.length)}`, init);
        },
      });

      const account = await alpaca.trading.account.getAccount();
      const price = await alpaca.marketData.getLatestPrice('AAPL');
      const order = await alpaca.trading.orders.market({
        symbol: 'AAPL',
        qty: 1,
        side: 'buy',
        clientOrderId: 'pb-facade-1',
      });

      expect(account.accountNumber).toMatch(/^PA/);
      expect(price).toBe(187.5);
      expect(order.clientOrderId).toBe('pb-facade-1');
    });
  });
});
