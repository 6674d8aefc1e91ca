import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../shared/config/load.js';
import type { Config } from '../../shared/config/schema.js';
import type { Signal } from '../../shared/domain/alert.js';
import { clientOrderIdOf, dedupKeyOf, signalIdOf } from '../../shared/domain/ids.js';
import {
  cancelDenials,
  type Denial,
  type DenialCode,
  evaluateRisk,
  type RiskDecision,
} from '../../shared/domain/risk.js';
import type { OrderIntent, PortfolioSnapshot } from '../../shared/domain/trading.js';
import { anAccount, aPosition, aSignal, aSnapshot } from '../fixtures/builders.js';

const NOW = new Date('2024-03-15T14:30:00.000Z');
const secondsAgo = (seconds: number): string => new Date(NOW.getTime() - seconds * 1000).toISOString();
const SIGNAL_ID = signalIdOf(dedupKeyOf('tv-alert-1', '{}'), NOW.toISOString());

interface Case {
  signal?: Signal;
  snapshot?: PortfolioSnapshot;
  config?: Config;
  signalId?: string;
}

/**
 * Defaults, except the portfolio-wide limits (order notional, gross exposure) opened wide and
 * pyramiding on, so each test exercises the check it names; those have their own tests below.
 */
function roomy(input: { risk?: Record<string, unknown>; symbols?: Record<string, unknown> } = {}) {
  return parseConfig({
    ...input,
    risk: {
      pyramiding: true,
      maxOrderNotional: '1000000000',
      maxGrossExposure: '1000000000',
      maxGrossExposurePercent: 1000,
      ...input.risk,
    },
  });
}

function evaluate({
  signal = aSignal(),
  snapshot = aSnapshot(),
  config = roomy(),
  signalId = SIGNAL_ID,
}: Case) {
  return evaluateRisk({ signal, signalId, snapshot, config, now: NOW });
}

function approvedIntent(decision: RiskDecision): OrderIntent {
  if (!decision.approved) throw new Error(`expected approval, got ${JSON.stringify(decision.denials)}`);
  return decision.intent;
}

function denialsOf(decision: RiskDecision): Denial[] {
  if (decision.approved) throw new Error(`expected a denial, got intent ${JSON.stringify(decision.intent)}`);
  return decision.denials;
}

const codesOf = (decision: RiskDecision): DenialCode[] => denialsOf(decision).map((d) => d.code);

const long = (symbol: string, quantity: string, averageCost = '100') => ({
  positions: { [symbol]: aPosition(symbol, quantity, averageCost) },
});

describe('evaluateRisk: checks on the signal', () => {
  it('denies everything while HALTED with TRADING_HALTED', () => {
    const decision = evaluate({ snapshot: aSnapshot({ tradingState: 'HALTED' }) });

    expect(codesOf(decision)).toEqual(['TRADING_HALTED']);
  });

  it('denies a symbol outside symbols.allowed with SYMBOL_NOT_ALLOWED', () => {
    const decision = evaluate({ signal: aSignal({ symbol: 'XYZ' }) });

    expect(codesOf(decision)).toEqual(['SYMBOL_NOT_ALLOWED']);
    expect(denialsOf(decision)[0]?.detail).toContain('XYZ');
  });

  it('never sizes a cancel as an order (UNSUPPORTED_ACTION): a cancel is the workflow’s CancelOrders step', () => {
    const decision = evaluate({ signal: aSignal({ action: 'cancel', quantity: undefined }) });

    expect(codesOf(decision)).toEqual(['UNSUPPORTED_ACTION']);
  });

  it('records every signal-level denial, the first one being the reason shown', () => {
    const decision = evaluate({
      signal: aSignal({ symbol: 'XYZ', action: 'cancel' }),
      snapshot: aSnapshot({ tradingState: 'HALTED' }),
    });

    expect(codesOf(decision)).toEqual(['TRADING_HALTED', 'SYMBOL_NOT_ALLOWED', 'UNSUPPORTED_ACTION']);
  });
});

describe('evaluateRisk: the reference price', () => {
  it('denies NO_FRESH_PRICE when the alert has no price and no last price is known', () => {
    const decision = evaluate({ signal: aSignal({ price: undefined }) });

    expect(codesOf(decision)).toEqual(['NO_FRESH_PRICE']);
  });

  it('denies NO_FRESH_PRICE when the last price is older than risk.maxPriceAgeSeconds', () => {
    const snapshot = aSnapshot({ prices: { AAPL: { price: '187.37', at: secondsAgo(301) } } });

    const decision = evaluate({ signal: aSignal({ price: undefined }), snapshot });

    expect(codesOf(decision)).toEqual(['NO_FRESH_PRICE']);
  });

  it('ignores a fresh price of another symbol', () => {
    const snapshot = aSnapshot({ prices: { MSFT: { price: '400', at: secondsAgo(1) } } });

    const decision = evaluate({ signal: aSignal({ price: undefined }), snapshot });

    expect(codesOf(decision)).toEqual(['NO_FRESH_PRICE']);
  });

  it.each([60, 300])('uses a last price %i s old (within the limit) as the reference price', (age) => {
    const snapshot = aSnapshot({ prices: { AAPL: { price: '187.37', at: secondsAgo(age) } } });

    const intent = approvedIntent(evaluate({ signal: aSignal({ price: undefined }), snapshot }));

    expect(intent.referencePrice).toBe('187.37');
    expect(intent.reservedCash).toBe('1873.7');
  });

  it('prefers the price in the alert over the last price', () => {
    const snapshot = aSnapshot({ prices: { AAPL: { price: '187.37', at: secondsAgo(1) } } });

    const intent = approvedIntent(evaluate({ signal: aSignal({ price: '190' }), snapshot }));

    expect(intent.referencePrice).toBe('190');
  });

  it('uses the limit price of a limit order that carries no price', () => {
    const signal = aSignal({ price: undefined, orderType: 'limit', limitPrice: '185.5' });

    const intent = approvedIntent(evaluate({ signal }));

    expect(intent).toMatchObject({ referencePrice: '185.5', limitPrice: '185.5', orderType: 'limit' });
  });
});

describe('evaluateRisk: closing positions', () => {
  it('denies an exit while flat with NOTHING_TO_CLOSE', () => {
    const decision = evaluate({ signal: aSignal({ action: 'exit', quantity: undefined }) });

    expect(codesOf(decision)).toEqual(['NOTHING_TO_CLOSE']);
  });

  it('denies a sell without quantity while flat with NOTHING_TO_CLOSE (it would close a long)', () => {
    const decision = evaluate({ signal: aSignal({ action: 'sell', quantity: undefined }) });

    expect(codesOf(decision)).toEqual(['NOTHING_TO_CLOSE']);
  });

  it('denies buy + sentiment flat while flat with NOTHING_TO_CLOSE', () => {
    const decision = evaluate({ signal: aSignal({ action: 'buy', sentiment: 'flat' }) });

    expect(codesOf(decision)).toEqual(['NOTHING_TO_CLOSE']);
  });

  it('denies sell + sentiment flat while short: a sell cannot close a short', () => {
    const snapshot = aSnapshot(long('AAPL', '-5'));

    const decision = evaluate({ signal: aSignal({ action: 'sell', sentiment: 'flat' }), snapshot });

    expect(codesOf(decision)).toEqual(['NOTHING_TO_CLOSE']);
  });

  it('turns an exit while long 10 into sell 10 with nothing reserved', () => {
    const snapshot = aSnapshot(long('AAPL', '10'));

    const intent = approvedIntent(
      evaluate({ signal: aSignal({ action: 'exit', quantity: undefined }), snapshot }),
    );

    expect(intent).toMatchObject({ side: 'sell', quantity: '10', reservedCash: '0' });
  });

  it('turns an exit while short 5 into buy 5', () => {
    const snapshot = aSnapshot(long('AAPL', '-5'));

    const intent = approvedIntent(
      evaluate({ signal: aSignal({ action: 'exit', quantity: undefined }), snapshot }),
    );

    expect(intent).toMatchObject({ side: 'buy', quantity: '5', reservedCash: '0' });
  });

  it('closes only the quantity an exit names, up to the position', () => {
    const snapshot = aSnapshot(long('AAPL', '10'));

    const partial = approvedIntent(
      evaluate({ signal: aSignal({ action: 'exit', quantity: '4' }), snapshot }),
    );
    const capped = approvedIntent(
      evaluate({ signal: aSignal({ action: 'exit', quantity: '40' }), snapshot }),
    );

    expect(partial).toMatchObject({ side: 'sell', quantity: '4' });
    expect(capped).toMatchObject({ side: 'sell', quantity: '10' });
  });

  it('turns a sell without quantity while long into a close of the whole long', () => {
    const snapshot = aSnapshot(long('AAPL', '10'));

    const intent = approvedIntent(
      evaluate({ signal: aSignal({ action: 'sell', quantity: undefined }), snapshot }),
    );

    expect(intent).toMatchObject({ side: 'sell', quantity: '10', reservedCash: '0' });
  });

  it('covers a short on buy + sentiment flat, without reversing into a long', () => {
    const snapshot = aSnapshot(long('AAPL', '-5'));

    const intent = approvedIntent(
      evaluate({ signal: aSignal({ action: 'buy', sentiment: 'flat', quantity: '10' }), snapshot }),
    );

    expect(intent).toMatchObject({ side: 'buy', quantity: '5', reservedCash: '0' });
  });
});

describe('evaluateRisk: TradersPost semantics (docs/ALERTS.md, Migrating from TradersPost)', () => {
  it('sizes an entry without a quantity by risk.defaultQuantity: 1 share by default, or the configured dollars', () => {
    const byDefault = approvedIntent(evaluate({ signal: aSignal({ quantity: undefined, price: '100' }) }));
    const inDollars = approvedIntent(
      evaluate({
        signal: aSignal({ quantity: undefined, price: '100' }),
        config: roomy({ risk: { defaultQuantity: '1000', defaultQuantityType: 'dollar_amount' } }),
      }),
    );

    expect(byDefault).toMatchObject({ side: 'buy', quantity: '1' });
    expect(inDollars).toMatchObject({ side: 'buy', quantity: '10' });
  });

  it('sentiment flat closes the whole position whatever quantity the alert sends', () => {
    const snapshot = aSnapshot(long('AAPL', '10'));

    const intent = approvedIntent(
      evaluate({ signal: aSignal({ action: 'sell', sentiment: 'flat', quantity: '3' }), snapshot }),
    );

    expect(intent).toMatchObject({ side: 'sell', quantity: '10' });
  });

  it('refuses a buy while long with ALREADY_IN_POSITION, and adds with risk.pyramiding or the add action', () => {
    const snapshot = aSnapshot(long('AAPL', '10'));

    const byDefault = roomy({ risk: { pyramiding: false } });

    const refused = evaluate({ signal: aSignal({ quantity: '5' }), snapshot, config: byDefault });
    const pyramided = approvedIntent(evaluate({ signal: aSignal({ quantity: '5' }), snapshot }));
    const added = approvedIntent(
      evaluate({ signal: aSignal({ action: 'add', quantity: '5' }), snapshot, config: byDefault }),
    );

    expect(codesOf(refused)).toEqual(['ALREADY_IN_POSITION']);
    expect(pyramided).toMatchObject({ side: 'buy', quantity: '5' });
    expect(added).toMatchObject({ side: 'buy', quantity: '5' });
  });

  it('adds to a short with add (a sell), and refuses add with no position (NO_POSITION_TO_ADD)', () => {
    const shortConfig = roomy({ risk: { allowShort: true } });

    const added = approvedIntent(
      evaluate({
        signal: aSignal({ action: 'add', quantity: '2' }),
        snapshot: aSnapshot(long('AAPL', '-5')),
        config: shortConfig,
      }),
    );
    const nothing = evaluate({ signal: aSignal({ action: 'add', quantity: '2' }) });

    expect(added).toMatchObject({ side: 'sell', quantity: '2' });
    expect(codesOf(nothing)).toEqual(['NO_POSITION_TO_ADD']);
  });

  it('reverse closes the position and opens the same size the other way, in two legs', () => {
    const intent = approvedIntent(
      evaluate({
        signal: aSignal({ action: 'reverse', quantity: undefined }),
        snapshot: aSnapshot(long('AAPL', '10')),
        config: roomy({ risk: { allowShort: true } }),
      }),
    );
    const flat = evaluate({ signal: aSignal({ action: 'reverse', quantity: undefined }) });

    expect(intent).toMatchObject({ side: 'sell', quantity: '10', reversalRemainder: '10' });
    expect(codesOf(flat)).toEqual(['NOTHING_TO_CLOSE']);
  });

  it('places a limit order sent without limitPrice at the checked price', () => {
    const intent = approvedIntent(
      evaluate({ signal: aSignal({ orderType: 'limit', limitPrice: undefined, price: '187.5' }) }),
    );

    expect(intent).toMatchObject({ orderType: 'limit', limitPrice: '187.5' });
  });

  it('never trades a test alert (TEST_SIGNAL), and refuses one past its expiresAt (SIGNAL_EXPIRED)', () => {
    const test = evaluate({ signal: aSignal({ test: true }) });
    const expired = evaluate({ signal: aSignal({ expiresAt: secondsAgo(1) }) });
    const live = approvedIntent(
      evaluate({ signal: aSignal({ expiresAt: new Date(NOW.getTime() + 1000).toISOString() }) }),
    );

    expect(codesOf(test)).toEqual(['TEST_SIGNAL']);
    expect(codesOf(expired)).toEqual(['SIGNAL_EXPIRED']);
    expect(live.side).toBe('buy');
  });
});

describe('evaluateRisk: position limits', () => {
  const priced10 = (quantity: string) => aSignal({ quantity, price: '10' });

  it('counts the pending quantity of in-flight orders against risk.maxPositionQuantity', () => {
    const snapshot = aSnapshot({
      positions: { AAPL: aPosition('AAPL', '900', '10', { pendingQuantity: '90' }) },
    });

    const decision = evaluate({ signal: priced10('20'), snapshot });

    expect(codesOf(decision)).toEqual(['MAX_POSITION']);
    expect(denialsOf(decision)[0]?.detail).toContain('risk.maxPositionQuantity');
  });

  it('allows the same buy when nothing is in flight', () => {
    const snapshot = aSnapshot({ positions: { AAPL: aPosition('AAPL', '900', '10') } });

    const intent = approvedIntent(evaluate({ signal: priced10('20'), snapshot }));

    expect(intent.quantity).toBe('20');
  });

  it('allows a position of exactly risk.maxPositionQuantity', () => {
    const snapshot = aSnapshot({
      positions: { AAPL: aPosition('AAPL', '900', '10', { pendingQuantity: '80' }) },
    });

    const intent = approvedIntent(evaluate({ signal: priced10('20'), snapshot }));

    expect(intent.quantity).toBe('20');
  });

  it('limits a short the same way as a long', () => {
    const decision = evaluate({
      signal: aSignal({ action: 'sell', quantity: '1001', price: '10' }),
      config: roomy({ risk: { allowShort: true } }),
    });

    expect(codesOf(decision)).toEqual(['MAX_POSITION']);
  });

  it('denies a position above risk.maxPositionNotional at the order price (never clips it)', () => {
    const decision = evaluate({ signal: aSignal({ quantity: '251', price: '100' }) });

    expect(codesOf(decision)).toEqual(['MAX_POSITION']);
    expect(denialsOf(decision)[0]?.detail).toContain('risk.maxPositionNotional');
  });

  it('allows a position of exactly risk.maxPositionNotional', () => {
    const intent = approvedIntent(evaluate({ signal: aSignal({ quantity: '250', price: '100' }) }));

    expect(intent.quantity).toBe('250');
  });

  it('never denies a sell that shrinks a long already above the limits', () => {
    // e.g. the limit was lowered after the position was built
    const snapshot = aSnapshot({ positions: { AAPL: aPosition('AAPL', '1200', '10') } });

    const intent = approvedIntent(
      evaluate({ signal: aSignal({ action: 'sell', quantity: '100', price: '10' }), snapshot }),
    );

    expect(intent).toMatchObject({ side: 'sell', quantity: '100', reservedCash: '0' });
  });
});

describe('evaluateRisk: buying power', () => {
  it('counts cash already reserved by in-flight orders', () => {
    const snapshot = aSnapshot({ account: anAccount({ cash: '10000', reservedCash: '9500' }) });

    const decision = evaluate({ signal: aSignal({ quantity: '10', price: '100' }), snapshot });

    expect(codesOf(decision)).toEqual(['INSUFFICIENT_BUYING_POWER']);
    expect(denialsOf(decision)[0]?.detail).toBe('order needs $1000.00, buying power is $500.00');
  });

  it('allows an order that uses exactly the remaining buying power', () => {
    const snapshot = aSnapshot({ account: anAccount({ cash: '10000', reservedCash: '9000' }) });

    const intent = approvedIntent(evaluate({ signal: aSignal({ quantity: '10', price: '100' }), snapshot }));

    expect(intent.reservedCash).toBe('1000');
  });

  it('is skipped when risk.buyingPowerCheck is false', () => {
    // All cash is reserved by orders in flight: no buying power, equity unchanged.
    const snapshot = aSnapshot({ account: anAccount({ cash: '100000', reservedCash: '100000' }) });
    const config = roomy({ risk: { buyingPowerCheck: false } });

    const intent = approvedIntent(
      evaluate({ signal: aSignal({ quantity: '10', price: '100' }), snapshot, config }),
    );

    expect(intent.quantity).toBe('10');
  });

  it('does not need buying power to close a position', () => {
    const snapshot = aSnapshot({ account: anAccount({ cash: '0' }), ...long('AAPL', '10') });

    const intent = approvedIntent(
      evaluate({ signal: aSignal({ action: 'exit', quantity: undefined }), snapshot }),
    );

    expect(intent.reservedCash).toBe('0');
  });
});

describe('evaluateRisk: REDUCING', () => {
  const reducing = (quantity: string) => aSnapshot({ tradingState: 'REDUCING', ...long('AAPL', quantity) });

  it('allows a sell that shrinks a long', () => {
    const intent = approvedIntent(
      evaluate({ signal: aSignal({ action: 'sell', quantity: '5' }), snapshot: reducing('10') }),
    );

    expect(intent).toMatchObject({ side: 'sell', quantity: '5' });
  });

  it('allows a sell of the whole long', () => {
    const intent = approvedIntent(
      evaluate({ signal: aSignal({ action: 'sell', quantity: '10' }), snapshot: reducing('10') }),
    );

    expect(intent).toMatchObject({ side: 'sell', quantity: '10' });
  });

  it('denies a buy with TRADING_REDUCING', () => {
    const decision = evaluate({
      signal: aSignal({ action: 'buy', quantity: '1' }),
      snapshot: reducing('10'),
    });

    expect(codesOf(decision)).toEqual(['TRADING_REDUCING']);
  });

  it.each([
    ['15', '5'],
    ['20', '10'],
    ['25', '15'],
  ])(
    'approves only the closing leg of sell %s while long 10; the short leg of %s follows as its own signal',
    (quantity, remainder) => {
      const intent = approvedIntent(
        evaluate({
          signal: aSignal({ action: 'sell', quantity }),
          snapshot: reducing('10'),
          config: roomy({ risk: { allowShort: true } }),
        }),
      );

      expect(intent).toMatchObject({ side: 'sell', quantity: '10', reservedCash: '0' });
      expect(intent.reversalRemainder).toBe(remainder);
    },
  );

  it('records every intent-level denial, the first one being the reason shown', () => {
    const snapshot = aSnapshot({ tradingState: 'REDUCING', account: anAccount({ cash: '1000' }) });

    const decision = evaluate({ signal: aSignal({ quantity: '2000', price: '100' }), snapshot });

    expect(codesOf(decision)).toEqual([
      'TRADING_REDUCING',
      'MAX_POSITION',
      'MAX_EXPOSURE',
      'INSUFFICIENT_BUYING_POWER',
    ]);
    expect(denialsOf(decision)[0]?.code).toBe('TRADING_REDUCING');
  });
});

describe('evaluateRisk: sizing', () => {
  it('sizes dollar_amount by the reference price, rounding down to whole shares', () => {
    // $1000 / $150 = 6.67 → 6 (never rounds up past the amount)
    const signal = aSignal({ quantity: '1000', quantityType: 'dollar_amount', price: '150' });

    const intent = approvedIntent(evaluate({ signal }));

    expect(intent.quantity).toBe('6');
    expect(intent.reservedCash).toBe('900');
  });

  it('rounds dollar_amount down to symbols.quantityDecimals', () => {
    // $1000 / $187.5 = 5.3333… → 5.33
    const signal = aSignal({ quantity: '1000', quantityType: 'dollar_amount', price: '187.5' });
    const config = roomy({ symbols: { quantityDecimals: 2 } });

    const intent = approvedIntent(evaluate({ signal, config }));

    expect(intent.quantity).toBe('5.33');
    expect(intent.reservedCash).toBe('999.38');
  });

  it('denies QUANTITY_TOO_SMALL when dollar_amount rounds to zero shares', () => {
    const signal = aSignal({ quantity: '50', quantityType: 'dollar_amount', price: '187.5' });

    const decision = evaluate({ signal });

    expect(codesOf(decision)).toEqual(['QUANTITY_TOO_SMALL']);
  });

  it('denies QUANTITY_TOO_SMALL when a fractional fixed quantity rounds to zero whole shares', () => {
    const decision = evaluate({ signal: aSignal({ quantity: '0.5' }) });

    expect(codesOf(decision)).toEqual(['QUANTITY_TOO_SMALL']);
  });

  it('truncates a fixed quantity to symbols.quantityDecimals', () => {
    const intent = approvedIntent(evaluate({ signal: aSignal({ quantity: '10.9' }) }));

    expect(intent.quantity).toBe('10');
  });

  it('sizes percent_of_equity from cash at the reference price', () => {
    const signal = aSignal({ quantity: '10', quantityType: 'percent_of_equity', price: '100' });

    const intent = approvedIntent(evaluate({ signal }));

    expect(intent.quantity).toBe('100');
  });

  it('sizes percent_of_position from the current position', () => {
    const signal = aSignal({ action: 'sell', quantity: '50', quantityType: 'percent_of_position' });

    const intent = approvedIntent(evaluate({ signal, snapshot: aSnapshot(long('AAPL', '10')) }));

    expect(intent).toMatchObject({ side: 'sell', quantity: '5' });
  });
});

describe('evaluateRisk: the order intent', () => {
  it('has a clientOrderId of at most 48 characters, derived from the signal id', () => {
    const intent = approvedIntent(evaluate({}));

    expect(intent.clientOrderId.length).toBeLessThanOrEqual(48);
    expect(intent.clientOrderId).toBe(clientOrderIdOf(SIGNAL_ID));
    expect(intent.signalId).toBe(SIGNAL_ID);
  });

  it('is deterministic: the same inputs give the same intent, another signal id another clientOrderId', () => {
    const first = approvedIntent(evaluate({}));
    const again = approvedIntent(evaluate({}));
    const other = approvedIntent(
      evaluate({ signalId: signalIdOf(dedupKeyOf('tv-alert-2', '{}'), NOW.toISOString()) }),
    );

    expect(again).toEqual(first);
    expect(other.clientOrderId).not.toBe(first.clientOrderId);
  });

  it('carries the order terms of the signal', () => {
    const signal = aSignal({
      orderType: 'stop_limit',
      stopPrice: '101',
      limitPrice: '102',
      timeInForce: 'gtc',
      extendedHours: true,
    });

    const intent = approvedIntent(evaluate({ signal }));

    expect(intent).toEqual({
      clientOrderId: clientOrderIdOf(SIGNAL_ID),
      signalId: SIGNAL_ID,
      symbol: 'AAPL',
      side: 'buy',
      quantity: '10',
      orderType: 'stop_limit',
      limitPrice: '102',
      stopPrice: '101',
      timeInForce: 'gtc',
      extendedHours: true,
      referencePrice: '100',
      reservedCash: '1000',
    });
  });

  it('reserves the opening notional of a buy, to the cent', () => {
    const intent = approvedIntent(evaluate({ signal: aSignal({ quantity: '10', price: '187.37' }) }));

    expect(intent.reservedCash).toBe('1873.7');
  });

  it('reserves nothing for a pure close', () => {
    const snapshot = aSnapshot(long('AAPL', '10'));

    const intent = approvedIntent(evaluate({ signal: aSignal({ action: 'sell', quantity: '4' }), snapshot }));

    expect(intent.reservedCash).toBe('0');
  });

  it.each([
    ['15', '5'],
    ['20', '10'],
    ['25', '15'],
  ])(
    'splits a reversal: sell %s while long 10 closes 10 now (nothing reserved) and leaves %s to open short after the fill',
    (quantity, remainder) => {
      const snapshot = aSnapshot(long('AAPL', '10'));

      const decision = evaluate({
        signal: aSignal({ action: 'sell', quantity, price: '100' }),
        snapshot,
        config: roomy({ risk: { allowShort: true } }),
      });

      const intent = approvedIntent(decision);
      expect(intent).toMatchObject({ side: 'sell', quantity: '10', reservedCash: '0' });
      expect(intent.reversalRemainder).toBe(remainder);
      expect(decision).toMatchObject({ notes: [] });
    },
  );

  it('splits a buy that crosses from short to long the same way', () => {
    const snapshot = aSnapshot({ positions: { AAPL: aPosition('AAPL', '-10', '100') } });

    const intent = approvedIntent(
      evaluate({ signal: aSignal({ action: 'buy', quantity: '12', price: '100' }), snapshot }),
    );

    expect(intent).toMatchObject({ side: 'buy', quantity: '10', reversalRemainder: '2' });
  });

  it.each(['15', '20'])(
    'closes the long and drops the short leg of sell %s while long 10 with a SHORT_NOT_ALLOWED note when shorting is off (the default)',
    (quantity) => {
      const decision = evaluate({
        signal: aSignal({ action: 'sell', quantity, price: '100' }),
        snapshot: aSnapshot(long('AAPL', '10')),
      });

      const intent = approvedIntent(decision);
      expect(intent).toMatchObject({ side: 'sell', quantity: '10' });
      expect(intent.reversalRemainder).toBeUndefined();
      expect(decision).toMatchObject({ notes: [{ code: 'SHORT_NOT_ALLOWED' }] });
    },
  );

  it('denies a sell from flat with SHORT_NOT_ALLOWED when shorting is off', () => {
    const decision = evaluate({ signal: aSignal({ action: 'sell', quantity: '5', price: '100' }) });

    expect(codesOf(decision)).toEqual(['SHORT_NOT_ALLOWED']);
  });

  it('allows a sell of exactly the long position when shorting is off', () => {
    const intent = approvedIntent(
      evaluate({
        signal: aSignal({ action: 'sell', quantity: '10', price: '100' }),
        snapshot: aSnapshot(long('AAPL', '10')),
      }),
    );

    expect(intent).toMatchObject({ side: 'sell', quantity: '10', reservedCash: '0' });
  });

  it('finds nothing left to close when an exit is already in flight for the whole position', () => {
    const snapshot = aSnapshot({
      positions: { AAPL: aPosition('AAPL', '10', '100', { pendingQuantity: '-10' }) },
    });

    const decision = evaluate({
      signal: aSignal({ action: 'exit', quantity: undefined, price: '100' }),
      snapshot,
    });

    expect(codesOf(decision)).toEqual(['NOTHING_TO_CLOSE']);
  });

  it('closes a percentage of the position when an exit says percent_of_position', () => {
    const intent = approvedIntent(
      evaluate({
        signal: aSignal({
          action: 'exit',
          quantity: '50',
          quantityType: 'percent_of_position',
          price: '100',
        }),
        snapshot: aSnapshot(long('AAPL', '10')),
      }),
    );

    expect(intent).toMatchObject({ side: 'sell', quantity: '5' });
  });
});

describe('evaluateRisk: signal age', () => {
  const at = (secondsFromNow: number) => new Date(NOW.getTime() + secondsFromNow * 1000).toISOString();

  it.each([
    [-90, 'approved'],
    [-90.001, 'STALE_SIGNAL'],
    [5, 'approved'],
    [5.001, 'STALE_SIGNAL'],
  ])('an alert fired at now%+ss is %s (90 s max age, 5 s future skew)', (offset, expected) => {
    const decision = evaluate({ signal: aSignal({ time: at(offset), price: '100' }) });

    expect(decision.approved ? 'approved' : codesOf(decision)[0]).toBe(expected);
  });

  it('does not apply the alert-time rule to an alert without a time', () => {
    expect(evaluate({ signal: aSignal({ price: '100' }) }).approved).toBe(true);
  });

  it.each([
    [120, 'approved'],
    [120.001, 'STALE_SIGNAL'],
  ])(
    'a signal received %ss ago and decided only now is %s, with or without a time (risk.maxQueueSeconds 120)',
    (ago, expected) => {
      for (const signal of [aSignal({ price: '100' }), aSignal({ price: '100', time: at(-1) })]) {
        const decision = evaluateRisk({
          signal,
          signalId: SIGNAL_ID,
          snapshot: aSnapshot(),
          config: roomy(),
          now: NOW,
          receivedAt: at(-ago),
        });

        expect(decision.approved ? 'approved' : codesOf(decision)[0]).toBe(expected);
      }
    },
  );

  it('counts a delayed signal’s wait from when it fell due, not from when it arrived', () => {
    const delayed = (ago: number, delaySeconds: number, time?: string) =>
      evaluateRisk({
        signal: aSignal({ price: '100', delay: { seconds: delaySeconds }, ...(time ? { time } : {}) }),
        signalId: SIGNAL_ID,
        snapshot: aSnapshot(),
        config: roomy(),
        now: NOW,
        receivedAt: at(-ago),
      });

    // Received an hour ago with a 59-minute delay: due 60 s ago, inside maxQueueSeconds 120.
    expect(delayed(3600, 3540).approved).toBe(true);
    // The alert fired 2 s before it arrived: 62 s before now, counting from when it fell due.
    expect(delayed(3600, 3540, at(-3602)).approved).toBe(true);
    // Due 121 s ago and still undecided: a backlog like any other.
    const late = delayed(3600, 3479);
    expect(codesOf(late)).toEqual(['STALE_SIGNAL']);
    expect(denialsOf(late)[0]?.detail).toMatch(/^due 121\.0s ago/);
  });

  it('lets a cancel through CANCEL_CHECKS while HALTED, but not when stale, expired, a test or for another symbol', () => {
    const ctx = (signal: Partial<Signal>, receivedAgo = 0) => ({
      signal: aSignal({ action: 'cancel', quantity: undefined, cancel: true, ...signal }),
      signalId: SIGNAL_ID,
      snapshot: aSnapshot({ tradingState: 'HALTED' }),
      config: roomy(),
      now: NOW,
      receivedAt: at(-receivedAgo),
    });

    expect(cancelDenials(ctx({}))).toEqual([]);
    expect(cancelDenials(ctx({}, 121)).map((d) => d.code)).toEqual(['STALE_SIGNAL']);
    expect(cancelDenials(ctx({ expiresAt: at(-1) })).map((d) => d.code)).toEqual(['SIGNAL_EXPIRED']);
    expect(cancelDenials(ctx({ test: true })).map((d) => d.code)).toEqual(['TEST_SIGNAL']);
    expect(cancelDenials(ctx({ symbol: 'XYZ' })).map((d) => d.code)).toEqual(['SYMBOL_NOT_ALLOWED']);
  });

  it('names how long the signal waited and the key', () => {
    const decision = evaluateRisk({
      signal: aSignal({ price: '100' }),
      signalId: SIGNAL_ID,
      snapshot: aSnapshot(),
      config: roomy(),
      now: NOW,
      receivedAt: at(-420),
    });

    expect(denialsOf(decision)[0]?.detail).toMatch(/received 420\.0s ago .*risk\.maxQueueSeconds 120/);
  });
});

describe('evaluateRisk: state mismatch', () => {
  it.each([
    ['flat', undefined, true],
    ['long', undefined, false],
    ['long', '10', true],
    ['short', '10', false],
    ['flat', '10', false],
    ['short', '-5', true],
  ] as const)('prev_market_position %s with our position %s → approved %s', (expected, ours, approved) => {
    const snapshot = ours === undefined ? aSnapshot() : aSnapshot(long('AAPL', ours));

    const decision = evaluate({
      signal: aSignal({ prevMarketPosition: expected, price: '100', quantity: '1' }),
      snapshot,
      config: roomy({ risk: { allowShort: true } }),
    });

    expect(decision.approved).toBe(approved);
    if (!approved) expect(codesOf(decision)).toEqual(['STATE_MISMATCH']);
  });

  it('counts orders in flight as part of our position', () => {
    const snapshot = aSnapshot({
      positions: { AAPL: aPosition('AAPL', '0', '0', { pendingQuantity: '5' }) },
    });

    const decision = evaluate({ signal: aSignal({ prevMarketPosition: 'long', price: '100' }), snapshot });

    expect(decision.approved).toBe(true);
  });
});

describe('evaluateRisk: portfolio-wide limits', () => {
  it.each([
    ['100', 'approved'],
    ['100.01', 'MAX_ORDER_NOTIONAL'],
  ])('an order opening 100 shares at %s USD against a 10,000 USD order limit is %s', (price, expected) => {
    const decision = evaluate({
      signal: aSignal({ quantity: '100', price }),
      config: parseConfig({ risk: { maxOrderNotional: '10000' } }),
    });

    expect(decision.approved ? 'approved' : codesOf(decision)[0]).toBe(expected);
  });

  it('never limits the size of a close', () => {
    const decision = evaluate({
      signal: aSignal({ action: 'exit', quantity: undefined, price: '100' }),
      snapshot: aSnapshot(long('AAPL', '500')),
      config: parseConfig({ risk: { maxOrderNotional: '1000' } }),
    });

    expect(decision.approved).toBe(true);
  });

  it.each([
    [2, 'approved'],
    [3, 'MAX_OPEN_POSITIONS'],
  ])('a new symbol with %s others held against a limit of 3 is %s', (others, expected) => {
    const positions = Object.fromEntries(
      ['MSFT', 'GOOG', 'AMZN'].slice(0, others).map((s) => [s, aPosition(s, '1', '10')]),
    );

    const decision = evaluate({
      signal: aSignal({ quantity: '1', price: '10' }),
      snapshot: aSnapshot({ positions }),
      config: roomy({ risk: { maxOpenPositions: 3 } }),
    });

    expect(decision.approved ? 'approved' : codesOf(decision)[0]).toBe(expected);
  });

  it('counts a symbol with only an order in flight as an open position', () => {
    const positions = {
      MSFT: aPosition('MSFT', '0', '0', { pendingQuantity: '1' }),
      GOOG: aPosition('GOOG', '1', '10'),
    };

    const decision = evaluate({
      signal: aSignal({ quantity: '1', price: '10' }),
      snapshot: aSnapshot({ positions }),
      config: roomy({ risk: { maxOpenPositions: 2 } }),
    });

    expect(codesOf(decision)).toEqual(['MAX_OPEN_POSITIONS']);
  });

  it.each([
    ['400', 'approved'],
    ['401', 'MAX_EXPOSURE'],
  ])(
    'gross exposure of 60,000 USD held plus %s shares at 100 USD against 100,000 USD is %s',
    (quantity, expected) => {
      // MSFT 200 × $300 (last price) = $60,000 held; equity is ample so the absolute limit binds.
      const snapshot = aSnapshot({
        account: anAccount({ cash: '1000000' }),
        positions: { MSFT: aPosition('MSFT', '200', '250') },
        prices: { MSFT: { price: '300', at: NOW.toISOString() } },
      });

      const decision = evaluate({
        signal: aSignal({ quantity, price: '100' }),
        snapshot,
        config: roomy({
          risk: { maxGrossExposure: '100000', maxGrossExposurePercent: 1000, maxPositionNotional: '1000000' },
        }),
      });

      expect(decision.approved ? 'approved' : codesOf(decision)[0]).toBe(expected);
    },
  );

  it('limits gross exposure to a percentage of equity, shorts counting at their absolute value', () => {
    // Equity: 20,000 cash − 10 × 100 short = 19,000; 100 % of it is the limit.
    const snapshot = aSnapshot({
      account: anAccount({ cash: '20000' }),
      positions: { MSFT: aPosition('MSFT', '-10', '100') },
      prices: { MSFT: { price: '100', at: NOW.toISOString() } },
    });
    const config = roomy({ risk: { maxGrossExposurePercent: 100 } });

    const fits = evaluate({ signal: aSignal({ quantity: '180', price: '100' }), snapshot, config });
    const over = evaluate({ signal: aSignal({ quantity: '181', price: '100' }), snapshot, config });

    expect(fits.approved).toBe(true);
    expect(codesOf(over)).toEqual(['MAX_EXPOSURE']);
  });
});

describe('evaluateRisk: market hours (NYSE, America/New_York)', () => {
  const when = (iso: string) => new Date(iso);
  const decide = (now: Date, marketHours: 'any' | 'regular' | 'extended', extendedHours = false) =>
    evaluateRisk({
      signal: aSignal({ price: '100', extendedHours }),
      signalId: SIGNAL_ID,
      snapshot: aSnapshot(),
      config: roomy({ risk: { marketHours } }),
      now,
    });

  it.each([
    ['2026-11-24T14:29:59.999Z', 'regular', 'MARKET_CLOSED'], // 09:29:59.999 ET
    ['2026-11-24T14:30:00.000Z', 'regular', 'approved'], // 09:30 ET open
    ['2026-11-24T20:59:59.999Z', 'regular', 'approved'], // 15:59:59.999 ET
    ['2026-11-24T21:00:00.000Z', 'regular', 'MARKET_CLOSED'], // 16:00 ET close
    ['2026-11-27T18:00:00.000Z', 'regular', 'MARKET_CLOSED'], // 13:00 ET, early close after Thanksgiving
    ['2026-11-26T16:00:00.000Z', 'regular', 'MARKET_CLOSED'], // Thanksgiving
    ['2026-11-28T16:00:00.000Z', 'regular', 'MARKET_CLOSED'], // Saturday
    ['2026-11-28T16:00:00.000Z', 'any', 'approved'],
  ])('at %s with marketHours %s the order is %s', (iso, policy, expected) => {
    const decision = decide(when(iso), policy as 'any' | 'regular');

    expect(decision.approved ? 'approved' : codesOf(decision)[0]).toBe(expected);
  });

  it('allows pre-market only with marketHours "extended" and an alert that asks for extendedHours', () => {
    const preMarket = when('2026-11-24T13:00:00.000Z'); // 08:00 ET

    expect(decide(preMarket, 'extended', true).approved).toBe(true);
    expect(codesOf(decide(preMarket, 'extended', false))).toEqual(['MARKET_CLOSED']);
    expect(codesOf(decide(preMarket, 'regular', true))).toEqual(['MARKET_CLOSED']);
  });
});

describe('evaluateRisk: duplicative orders and order rate', () => {
  const secondsAgo = (s: number) => new Date(NOW.getTime() - s * 1000).toISOString();
  const withRecent = (...orders: { symbol: string; side: 'buy' | 'sell'; signalId: string; at: string }[]) =>
    aSnapshot({ account: anAccount({ recentOrders: orders }) });

  it.each([
    [0, 'DUPLICATIVE_ORDER'],
    [9.999, 'DUPLICATIVE_ORDER'],
    [10, 'approved'],
  ])('a buy of the same symbol approved %ss ago for another signal → %s (10 s window)', (ago, expected) => {
    const snapshot = withRecent({ symbol: 'AAPL', side: 'buy', signalId: 'other', at: secondsAgo(ago) });

    const decision = evaluate({ signal: aSignal({ price: '100' }), snapshot });

    expect(decision.approved ? 'approved' : codesOf(decision)[0]).toBe(expected);
  });

  it('does not count the other side, another symbol, or the same signal as a duplicate', () => {
    const snapshot = withRecent(
      { symbol: 'AAPL', side: 'sell', signalId: 'a', at: secondsAgo(1) },
      { symbol: 'MSFT', side: 'buy', signalId: 'b', at: secondsAgo(1) },
      { symbol: 'AAPL', side: 'buy', signalId: SIGNAL_ID, at: secondsAgo(1) },
    );

    expect(evaluate({ signal: aSignal({ price: '100' }), snapshot }).approved).toBe(true);
  });

  it("does not count a reversal's closing leg as a duplicate of the opening leg that follows it; another signal's order still counts", () => {
    const closingLeg = { symbol: 'AAPL', side: 'buy' as const, signalId: 'reversal', at: secondsAgo(1) };
    const openingLeg = aSignal({ price: '100', followsSignalId: 'reversal' });

    const alone = evaluate({ signal: openingLeg, snapshot: withRecent(closingLeg) });
    const withAnother = evaluate({
      signal: openingLeg,
      snapshot: withRecent(closingLeg, { ...closingLeg, signalId: 'another', at: secondsAgo(2) }),
    });

    expect(alone.approved).toBe(true);
    expect(codesOf(withAnother)).toEqual(['DUPLICATIVE_ORDER']);
  });

  it('is off with risk.duplicateWindowSeconds 0', () => {
    const snapshot = withRecent({ symbol: 'AAPL', side: 'buy', signalId: 'other', at: secondsAgo(1) });

    const decision = evaluate({
      signal: aSignal({ price: '100' }),
      snapshot,
      config: roomy({ risk: { duplicateWindowSeconds: 0 } }),
    });

    expect(decision.approved).toBe(true);
  });

  it.each([
    [2, true],
    [3, false],
  ])(
    'with %s orders in the last minute against a limit of 3 the order is approved: %s',
    (count, approved) => {
      const orders = Array.from({ length: count }, (_, i) => ({
        symbol: ['MSFT', 'GOOG', 'AMZN'][i] as string,
        side: 'buy' as const,
        signalId: `s${i}`,
        at: secondsAgo(30),
      }));

      const decision = evaluate({
        signal: aSignal({ price: '100' }),
        snapshot: withRecent(...orders),
        config: roomy({ risk: { maxOrdersPerMinute: 3 } }),
      });

      expect(decision.approved).toBe(approved);
      if (!approved) expect(codesOf(decision)).toEqual(['ORDER_RATE_LIMIT']);
    },
  );

  it('limits orders per symbol per minute, forgetting orders older than 60 s', () => {
    const config = roomy({ risk: { maxOrdersPerMinutePerSymbol: 2, duplicateWindowSeconds: 0 } });
    const twoRecent = withRecent(
      { symbol: 'AAPL', side: 'buy', signalId: 'a', at: secondsAgo(59) },
      { symbol: 'AAPL', side: 'sell', signalId: 'b', at: secondsAgo(1) },
    );
    const oneAged = withRecent(
      { symbol: 'AAPL', side: 'buy', signalId: 'a', at: secondsAgo(60) },
      { symbol: 'AAPL', side: 'sell', signalId: 'b', at: secondsAgo(1) },
    );

    expect(codesOf(evaluate({ signal: aSignal({ price: '100' }), snapshot: twoRecent, config }))).toEqual([
      'ORDER_RATE_LIMIT',
    ]);
    expect(evaluate({ signal: aSignal({ price: '100' }), snapshot: oneAged, config }).approved).toBe(true);
  });
});

describe('evaluateRisk: price collar', () => {
  const collared = (limitPrice: string, price: string | undefined = '100') =>
    evaluate({
      signal: aSignal({
        orderType: 'limit',
        limitPrice,
        ...(price === undefined ? { price: undefined } : { price }),
      }),
      config: roomy({ risk: { priceCollarPercent: 10 } }),
    });

  it.each([
    ['89.99', ['PRICE_COLLAR']],
    ['90', []],
    ['110', []],
    ['110.01', ['PRICE_COLLAR']],
  ])('a limit of %s against a market of 100 with a 10 %% collar → %j', (limitPrice, codes) => {
    const decision = collared(limitPrice);

    expect(decision.approved ? [] : codesOf(decision)).toEqual(codes);
  });

  it('names the price, the distance and the key in the denial', () => {
    expect(denialsOf(collared('1000'))[0]?.detail).toMatch(
      /limitPrice 1000 is 900% from the market price 100.*priceCollarPercent 10/,
    );
  });

  it('measures against a fresh last price when the alert has none, and skips when there is no market price', () => {
    const fresh = aSnapshot({ prices: { AAPL: { price: '100', at: secondsAgo(10) } } });
    const config = roomy({ risk: { priceCollarPercent: 10 } });
    const limitOnly = aSignal({ orderType: 'limit', limitPrice: '150', price: undefined });

    expect(codesOf(evaluate({ signal: limitOnly, snapshot: fresh, config }))).toEqual(['PRICE_COLLAR']);
    expect(evaluate({ signal: limitOnly, config }).approved).toBe(true);
  });

  it('checks a stop price too, and is off at 0', () => {
    const stop = aSignal({ orderType: 'stop', stopPrice: '50' });

    expect(codesOf(evaluate({ signal: stop, config: roomy({ risk: { priceCollarPercent: 10 } }) }))).toEqual([
      'PRICE_COLLAR',
    ]);
    expect(evaluate({ signal: stop, config: roomy({ risk: { priceCollarPercent: 0 } }) }).approved).toBe(
      true,
    );
  });
});

describe("evaluateRisk: the alert's price is a hint, never trusted past the market", () => {
  // AAPL last traded at 187.50; a forged or mistyped alert says 1.
  const market = aSnapshot({ prices: { AAPL: { price: '187.50', at: secondsAgo(5) } } });
  const lowball = aSignal({ quantity: '1000', price: '1' });
  const tight = parseConfig({});

  it.each(['broker', 'alerts'] as const)(
    'denies PRICE_COLLAR an alert price far from the %s market price, whatever the order limit',
    (marketData) => {
      const decision = evaluateRisk({
        signal: lowball,
        signalId: SIGNAL_ID,
        snapshot: market,
        config: tight,
        now: NOW,
        marketData,
      });

      expect(codesOf(decision)).toContain('PRICE_COLLAR');
      expect(denialsOf(decision)[0]?.detail).toMatch(/^price 1 is 99\.47% from the market price 187\.50/);
    },
  );

  it('with the collar off, checks notional at the market price, not the lower alert price', () => {
    const config = parseConfig({ risk: { priceCollarPercent: 0 } });

    const decision = evaluateRisk({
      signal: lowball,
      signalId: SIGNAL_ID,
      snapshot: market,
      config,
      now: NOW,
      marketData: 'broker',
    });

    expect(codesOf(decision)).toContain('MAX_ORDER_NOTIONAL');
  });

  it('sizes and checks at the larger of the alert price and the market price', () => {
    const within = (price: string) =>
      approvedIntent(evaluate({ signal: aSignal({ price }), snapshot: market, config: roomy() }))
        .referencePrice;

    expect(within('180')).toBe('187.50');
    expect(within('195')).toBe('195');
  });

  it('with broker market data and no fresh market price, denies NO_FRESH_PRICE even when the alert has a price', () => {
    const decision = evaluateRisk({
      signal: aSignal({ price: '187.50' }),
      signalId: SIGNAL_ID,
      snapshot: aSnapshot(),
      config: roomy(),
      now: NOW,
      marketData: 'broker',
    });

    expect(codesOf(decision)).toEqual(['NO_FRESH_PRICE']);
    expect(denialsOf(decision)[0]?.detail).toMatch(/never traded on unchecked/);
  });

  it('with alerts as the only market data and no known price, takes the alert price as the market (docs/RISK.md)', () => {
    const intent = approvedIntent(evaluate({ signal: aSignal({ price: '187.50' }), config: roomy() }));

    expect(intent.referencePrice).toBe('187.50');
  });
});

describe('evaluateRisk: daily loss and drawdown', () => {
  const TODAY = '2024-03-15';
  /** Flat portfolio whose equity is `cash`; the session began at 100,000, the high-water mark 100,000. */
  const portfolioAt = (cash: string, positions = {}) =>
    aSnapshot({
      account: anAccount({ cash }),
      breaker: { session: { date: TODAY, startEquity: '100000' }, highWaterMark: '100000' },
      ...positions,
    });
  const lossConfig = roomy({ risk: { maxDailyLoss: '1000', maxDailyLossPercent: 0, maxDrawdownPercent: 0 } });
  const drawdownConfig = roomy({
    risk: { maxDailyLoss: '0', maxDailyLossPercent: 0, maxDrawdownPercent: 5 },
  });

  it.each([
    ['99000.01', []],
    ['99000', ['DAILY_LOSS_LIMIT']],
    ['98999.99', ['DAILY_LOSS_LIMIT']],
  ])('session equity %s against a $1,000 daily loss limit → %j for an opening order', (cash, codes) => {
    const decision = evaluate({ snapshot: portfolioAt(cash), config: lossConfig });

    expect(decision.approved ? [] : codesOf(decision)).toEqual(codes);
  });

  it.each([
    ['95000.01', []],
    ['95000', ['MAX_DRAWDOWN']],
    ['94999.99', ['MAX_DRAWDOWN']],
  ])(
    'equity %s under a 100,000 high-water mark with a 5 %% drawdown limit → %j for an opening order',
    (cash, codes) => {
      const decision = evaluate({ snapshot: portfolioAt(cash), config: drawdownConfig });

      expect(decision.approved ? [] : codesOf(decision)).toEqual(codes);
    },
  );

  it('counts unrealized losses: a position marked below its cost', () => {
    const snapshot = aSnapshot({
      account: anAccount({ cash: '90000' }),
      positions: { MSFT: aPosition('MSFT', '100', '100') },
      prices: { MSFT: { price: '89', at: secondsAgo(1) } },
      breaker: { session: { date: TODAY, startEquity: '100000' }, highWaterMark: '100000' },
    });

    expect(codesOf(evaluate({ snapshot, config: lossConfig }))).toEqual(['DAILY_LOSS_LIMIT']);
  });

  it('never blocks an order that only closes, however bad the day', () => {
    const snapshot = aSnapshot({
      account: anAccount({ cash: '80000' }),
      positions: { AAPL: aPosition('AAPL', '10', '100') },
      breaker: { session: { date: TODAY, startEquity: '100000' }, highWaterMark: '100000' },
    });
    const config = roomy({ risk: { maxDailyLoss: '1000', maxDrawdownPercent: 5 } });

    const intent = approvedIntent(
      evaluate({ signal: aSignal({ action: 'exit', quantity: undefined }), snapshot, config }),
    );

    expect(intent).toMatchObject({ side: 'sell', quantity: '10' });
  });

  it("a new session starts from the current equity: yesterday's loss does not count today", () => {
    const snapshot = aSnapshot({
      account: anAccount({ cash: '90000' }),
      breaker: { session: { date: '2024-03-14', startEquity: '100000' }, highWaterMark: '90000' },
    });

    expect(evaluate({ snapshot, config: lossConfig }).approved).toBe(true);
  });
});

describe('evaluateRisk: reconciliation pending', () => {
  it('denies any order on a symbol whose order has an unknown fate, and only on that symbol', () => {
    const snapshot = aSnapshot({
      positions: { AAPL: aPosition('AAPL', '10', '100', { unresolvedOrder: 'pb-s-unknown' }) },
    });

    const blocked = evaluate({ signal: aSignal({ action: 'exit', quantity: undefined }), snapshot });
    const other = evaluate({ signal: aSignal({ symbol: 'MSFT' }), snapshot });

    expect(codesOf(blocked)).toEqual(['RECONCILIATION_PENDING']);
    expect(denialsOf(blocked)[0]?.detail).toContain('pb-s-unknown');
    expect(other.approved).toBe(true);
  });
});
