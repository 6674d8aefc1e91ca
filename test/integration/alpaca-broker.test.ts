import { afterEach, describe, expect, it } from 'vitest';
import { AlpacaBroker, type AlpacaCredentials } from '../../shared/adapters/alpaca/alpaca-broker.js';
import { BrokerAuthError, BrokerUnavailableError, systemClock } from '../../shared/ports/index.js';
import { type FakeAlpaca, type FakeAlpacaOptions, startFakeAlpaca } from '../fakes/alpaca/server.js';
import { anIntent } from '../fixtures/builders.js';
import { silentLog } from '../support/flow.js';

let fake: FakeAlpaca | undefined;

afterEach(async () => {
  // Whatever a test did, every request and response on the wire followed Alpaca's spec.
  expect(fake?.contractViolations ?? []).toEqual([]);
  await fake?.stop();
  fake = undefined;
});

async function setUp(
  fakeOptions: FakeAlpacaOptions = {},
  brokerOptions: { mode?: 'paper' | 'live'; submitBudgetMs?: number; keys?: AlpacaCredentials[] } = {},
) {
  fake = await startFakeAlpaca({ prices: { AAPL: '100', MSFT: '400' }, ...fakeOptions });
  const keys = brokerOptions.keys ?? [{ keyId: fake.keyId, secretKey: fake.secretKey }];
  let reads = 0;
  const broker = new AlpacaBroker({
    mode: brokerOptions.mode ?? 'paper',
    credentials: {
      get: async () => keys[Math.min(reads, keys.length - 1)] as AlpacaCredentials,
      refresh: async () => keys[Math.min(++reads, keys.length - 1)] as AlpacaCredentials,
    },
    tradingUrl: fake.url,
    dataUrl: fake.url,
    requestsPerMinute: 200,
    requestTimeoutMs: 300,
    submitBudgetMs: brokerOptions.submitBudgetMs ?? 3_000,
    clock: systemClock,
    log: silentLog,
  });
  return { fake, broker };
}

const postsTo = (f: FakeAlpaca) => f.requests.filter((r) => r.method === 'POST' && r.path === '/v2/orders');
const buy = (clientOrderId: string, quantity = '10') => anIntent({ clientOrderId, quantity });

describe('Alpaca adapter: the submit protocol against the fake Alpaca server', () => {
  it('places a market order once and reports the fill when asked by client order id', async () => {
    const { fake, broker } = await setUp();

    const submitted = await broker.submitOrder(buy('pb-s1'));
    const later = await broker.getOrder('pb-s1');

    expect(submitted).toMatchObject({ clientOrderId: 'pb-s1', commission: '0' });
    expect(later).toMatchObject({ status: 'filled', filledQuantity: '10', averageFillPrice: '100' });
    expect(fake.orders).toHaveLength(1);
    expect(fake.orders[0]).toMatchObject({
      client_order_id: 'pb-s1',
      symbol: 'AAPL',
      qty: '10',
      side: 'buy',
    });
  });

  it('adopts the order when the answer is lost after Alpaca accepted it (timeout): one order (scenario 33)', async () => {
    const { fake, broker } = await setUp();
    fake.inject({ fault: 'timeoutAfterAccept' });

    const report = await broker.submitOrder(buy('pb-s33'));

    expect(report.clientOrderId).toBe('pb-s33');
    expect(fake.orders).toHaveLength(1);
    expect(postsTo(fake)).toHaveLength(1);
  });

  it('re-sends with the same id when the order never reached Alpaca: one order (scenario 34)', async () => {
    const { fake, broker } = await setUp();
    fake.inject({ fault: 'dropBeforeAccept' });

    const report = await broker.submitOrder(buy('pb-s34'));

    expect(report.clientOrderId).toBe('pb-s34');
    expect(fake.orders).toHaveLength(1);
    expect(postsTo(fake)).toHaveLength(2);
  });

  it('adopts the existing order on "client_order_id must be unique" at the first try (scenario 35)', async () => {
    const { fake, broker } = await setUp();
    fake.inject({ fault: 'duplicateOnFirstTry' });

    const report = await broker.submitOrder(buy('pb-s35'));

    expect(report.clientOrderId).toBe('pb-s35');
    expect(report.brokerOrderId).toBe(fake.orders[0]?.id);
    expect(fake.orders).toHaveLength(1);
  });

  it('a 5xx that recorded nothing is resolved by the lookup and one re-send', async () => {
    const { fake, broker } = await setUp();
    fake.inject({ fault: { kind: 'status', status: 503 }, when: { method: 'POST' } });

    await broker.submitOrder(buy('pb-s5xx'));

    expect(fake.orders).toHaveLength(1);
  });

  it("rejects with the broker's reason on 403 insufficient buying power, sending nothing again (scenario 30)", async () => {
    const { fake, broker } = await setUp({ cash: '500' });

    const report = await broker.submitOrder(buy('pb-s30', '100'));

    expect(report).toMatchObject({ status: 'rejected', filledQuantity: '0' });
    expect(report.reason).toMatch(/^Alpaca 403: .*buying power/);
    expect(fake.orders).toHaveLength(0);
    expect(postsTo(fake)).toHaveLength(1);
  });

  it("rejects with the broker's message on 422 validation, e.g. a sub-penny limit (scenario 31)", async () => {
    const { fake, broker } = await setUp();

    const report = await broker.submitOrder(
      anIntent({ clientOrderId: 'pb-s31', orderType: 'limit', limitPrice: '99.123' }),
    );

    expect(report.status).toBe('rejected');
    expect(report.reason).toMatch(/^Alpaca 422: .*sub-penny/);
    expect(postsTo(fake)).toHaveLength(1);
  });

  it('backs off a 429 as long as Alpaca says and then places the order once (scenario 32)', async () => {
    // The fake's clock lags 59 s, so its rate-limit window resets about a second from now.
    const { fake, broker } = await setUp({ clock: () => new Date(Date.now() - 59_000) });
    fake.inject({ fault: { kind: 'status', status: 429 }, when: { method: 'POST' } });
    const started = Date.now();

    const report = await broker.submitOrder(buy('pb-s32'));

    expect(report.status).not.toBe('expired');
    expect(Date.now() - started).toBeGreaterThanOrEqual(500);
    expect(fake.orders).toHaveLength(1);
    expect(postsTo(fake)).toHaveLength(2);
  });

  it('ends the order expired, unsent, when the 429 outlasts the submit budget (scenario 32)', async () => {
    const { fake, broker } = await setUp({}, { submitBudgetMs: 1_000 });
    fake.inject({ fault: { kind: 'status', status: 429 }, when: { method: 'POST' } });

    const report = await broker.submitOrder(buy('pb-s32b'));

    expect(report).toMatchObject({ status: 'expired', filledQuantity: '0' });
    expect(report.reason).toMatch(/429/);
    expect(fake.orders).toHaveLength(0);
    expect(postsTo(fake)).toHaveLength(1);
  });

  it('sends nothing again once trading is HALTED during a 429 back-off, and reports the order unsent', async () => {
    const { fake, broker } = await setUp();
    fake.inject({
      fault: { kind: 'status', status: 429, resetInMs: 200 },
      when: { method: 'POST', path: '/v2/orders' },
    });
    const answers = [true, false];

    const report = await broker.submitOrder(buy('pb-s1'), { maySend: async () => answers.shift() ?? false });

    expect(report).toMatchObject({ status: 'cancelled', reason: expect.stringMatching(/^TRADING_HALTED/) });
    expect(postsTo(fake).map((r) => r.status)).toEqual([429]);
    expect(fake.orders).toHaveLength(0);
  });

  it('once HALTED after a lost answer, re-sends nothing and leaves the fate unknown (the request may still land), never "cancelled"', async () => {
    const { fake, broker } = await setUp();
    fake.inject({ fault: 'dropBeforeAccept' });
    const answers = [true, false];

    const outcome = broker.submitOrder(buy('pb-s1'), { maySend: async () => answers.shift() ?? false });

    await expect(outcome).rejects.toBeInstanceOf(BrokerUnavailableError);
    expect(postsTo(fake)).toHaveLength(1);
  });

  it('fails with BrokerUnavailableError when Alpaca stays down, having placed nothing (scenario 37)', async () => {
    const { fake, broker } = await setUp({}, { submitBudgetMs: 1_000 });
    await broker.ping();
    fake.inject({ fault: { kind: 'status', status: 503 }, times: Number.POSITIVE_INFINITY });

    await expect(broker.submitOrder(buy('pb-s37'))).rejects.toBeInstanceOf(BrokerUnavailableError);
    expect(fake.orders).toHaveLength(0);
  });

  it('reads the keys again once on a 401 (rotated keys) and carries on', async () => {
    const { fake, broker } = await setUp(
      {},
      {
        keys: [
          { keyId: 'PKOLD', secretKey: 'rotated-away' },
          { keyId: 'PKFAKEALPACA00000001', secretKey: 'fake-alpaca-secret-not-a-real-key' },
        ],
      },
    );

    await broker.submitOrder(buy('pb-rotated'));

    expect(fake.orders).toHaveLength(1);
  });

  it('stops with BrokerAuthError on keys Alpaca refuses, without a retry loop (scenario 40)', async () => {
    const { fake, broker } = await setUp({}, { keys: [{ keyId: 'PKWRONG', secretKey: 'wrong' }] });

    await expect(broker.submitOrder(buy('pb-s40'))).rejects.toBeInstanceOf(BrokerAuthError);
    expect(fake.orders).toHaveLength(0);
    expect(fake.requests.length).toBeLessThanOrEqual(2);
  });

  it('refuses to trade when the keys belong to a live account but alpaca.mode is paper (the self-check)', async () => {
    const { fake, broker } = await setUp({ mode: 'live' }, { mode: 'paper' });

    const failure = broker.submitOrder(buy('pb-mode'));

    await expect(failure).rejects.toBeInstanceOf(BrokerAuthError);
    await expect(failure).rejects.toThrow(/live account but alpaca\.mode is "paper"/);
    expect(fake.orders).toHaveLength(0);
  });

  it('cancels a partly filled order and reports what filled (scenario 38)', async () => {
    const { fake, broker } = await setUp();
    fake.inject({ fault: { kind: 'partialFill', qty: 4 } });
    await broker.submitOrder(buy('pb-s38'));

    const cancelled = await broker.cancelOrder('pb-s38');

    expect(cancelled).toMatchObject({ status: 'cancelled', filledQuantity: '4', averageFillPrice: '100' });
  });

  it('answers undefined for an order Alpaca has never seen, and gives the latest trade price', async () => {
    const { broker } = await setUp();

    expect(await broker.getOrder('pb-never')).toBeUndefined();
    expect(await broker.latestPrice('MSFT')).toMatchObject({ price: '400' });
  });

  it('reads the account and the positions, shorts signed negative', async () => {
    const { broker } = await setUp();
    await broker.submitOrder(buy('pb-long', '3'));
    await broker.submitOrder(
      anIntent({ clientOrderId: 'pb-short', symbol: 'MSFT', side: 'sell', quantity: '2' }),
    );

    const positions = await broker.positions();

    expect(positions).toEqual(
      expect.arrayContaining([
        { symbol: 'AAPL', quantity: '3', averageCost: '100' },
        { symbol: 'MSFT', quantity: '-2', averageCost: '400' },
      ]),
    );
    expect(Number((await broker.account()).cash)).toBeCloseTo(100_000 - 300 + 800, 2);
  });
});
