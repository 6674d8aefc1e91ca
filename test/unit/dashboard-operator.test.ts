import { describe, expect, it } from 'vitest';
import { BrokerUnreachableError, brokerPingThrough, dashboardOperator } from '../../functions/dashboard.js';
import { BookNotOpenError } from '../../functions/lambda-deps.js';
import { MemoryPaperOrderBook } from '../../shared/adapters/memory/paper-orders.js';
import { MemorySignalStore } from '../../shared/adapters/memory/signal-store.js';
import { MemoryTradingStore } from '../../shared/adapters/memory/trading-store.js';
import type { OperatorRequestInput } from '../../shared/adapters/operator-client.js';
import { PaperBroker } from '../../shared/adapters/paper/paper-broker.js';
import { parseConfig } from '../../shared/config/load.js';
import type { PortfolioSnapshot } from '../../shared/domain/trading.js';
import type { Log, TradingStateEvents } from '../../shared/ports/index.js';
import { OperatorRequest } from '../../shared/usecases/operator.js';
import type { TradeFlowDeps } from '../../shared/usecases/trade-flow.js';

/**
 * The web dashboard's operator requests in AWS (functions/dashboard.ts): the function holds no
 * broker keys and no write grant, so every write is the admin function's, and reads are its own.
 */
const silent: Log = { info() {}, warn() {}, error() {} };
const noEvents: TradingStateEvents = {
  transitioned: async () => {},
  positionsMismatched: async () => {},
  orderUnknown: async () => {},
  stopIncomplete: async () => {},
};

/** A book in memory; `snapshot` as given (a fresh deployment's refuses with BookNotOpenError). */
function deps(snapshot?: () => Promise<PortfolioSnapshot>): TradeFlowDeps {
  const config = parseConfig({});
  const signals = new MemorySignalStore();
  const store = new MemoryTradingStore(signals, '100000');
  if (snapshot) store.snapshot = snapshot;
  return {
    config,
    signals,
    store,
    broker: new PaperBroker(new MemoryPaperOrderBook(), config.paper, store),
    clock: { now: () => new Date('2026-03-02T15:00:00Z') },
    events: noEvents,
    log: silent,
    publisher: { publish: async () => {} },
  };
}

/** The admin function as the dashboard sees it: what it was asked, and a canned answer. */
function fakeAdmin(answer: unknown = { from: 'admin' }) {
  const asked: { request: OperatorRequestInput; requestedBy: string }[] = [];
  return {
    asked,
    send: async (request: OperatorRequestInput, requestedBy: string) => {
      asked.push({ request, requestedBy });
      return answer;
    },
  };
}

const SOURCE = 'operator (dashboard session 1a2b3c4d from 198.51.100.4: stop)';

describe('the dashboard’s operator requests in AWS', () => {
  it.each([
    OperatorRequest.parse({ action: 'stop', reason: 'from the dashboard' }),
    OperatorRequest.parse({ action: 'resume', reason: 'reviewed' }),
    OperatorRequest.parse({ action: 'reset-breaker', reason: 'reviewed' }),
  ])('$action goes to the admin function with who asked, and is not done here', async (request) => {
    const book = deps();
    const admin = fakeAdmin();

    const answer = await dashboardOperator(book, admin)(request, SOURCE);

    expect(answer).toEqual({ from: 'admin' });
    expect(admin.asked).toEqual([{ request, requestedBy: SOURCE }]);
    expect((await book.store.snapshot()).tradingState).toBe('ACTIVE');
    expect(await book.store.tradingStateHistory(10)).toEqual([]);
  });

  it('answers the reads from the stores itself, without the admin function', async () => {
    const admin = fakeAdmin();
    const operator = dashboardOperator(deps(), admin);

    const status = (await operator(OperatorRequest.parse({ action: 'status' }), 'dashboard')) as {
      tradingState: string;
      broker: { name: string; reachable: boolean };
    };
    await operator(OperatorRequest.parse({ action: 'orders', open: true }), 'dashboard');

    expect(status.tradingState).toBe('ACTIVE');
    expect(status.broker).toEqual({ name: 'paper', reachable: true });
    expect(admin.asked).toEqual([]);
  });

  it('a read that finds the book not yet open goes to the admin function, which may open it', async () => {
    const admin = fakeAdmin({ tradingState: 'ACTIVE', opened: 'by the admin function' });
    const fresh = deps(() => Promise.reject(new BookNotOpenError('the book is not open yet')));
    const request = OperatorRequest.parse({ action: 'status' });

    const answer = await dashboardOperator(fresh, admin)(request, 'dashboard');

    expect(answer).toEqual({ tradingState: 'ACTIVE', opened: 'by the admin function' });
    expect(admin.asked).toEqual([{ request, requestedBy: 'dashboard' }]);
  });

  it('any other failure of a read is the read’s, not hidden behind the admin function', async () => {
    const admin = fakeAdmin();
    const failing = deps(() => Promise.reject(new Error('DynamoDB is unreachable')));

    await expect(
      dashboardOperator(failing, admin)(OperatorRequest.parse({ action: 'positions' }), 'dashboard'),
    ).rejects.toThrow('DynamoDB is unreachable');
    expect(admin.asked).toEqual([]);
  });
});

describe('the broker’s health, through the admin function (which holds the keys)', () => {
  it('is ok when the admin function reached the broker, and asks it once for a burst of pings', async () => {
    const admin = fakeAdmin({ tradingState: 'ACTIVE', broker: { name: 'alpaca', reachable: true } });
    const ping = brokerPingThrough(admin);

    await Promise.all([ping(), ping()]);
    await ping();

    expect(admin.asked).toEqual([
      { request: { action: 'status' }, requestedBy: 'dashboard (broker health)' },
    ]);
  });

  it('fails by name when the admin function could not reach the broker', async () => {
    const admin = fakeAdmin({ broker: { name: 'alpaca', reachable: false } });

    await expect(brokerPingThrough(admin)()).rejects.toBeInstanceOf(BrokerUnreachableError);
  });
});
