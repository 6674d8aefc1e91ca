import { describe, expect, it } from 'vitest';
import {
  type AlertParseResult,
  dueAt,
  parseAlertJson,
  SignalSchema,
  validateAlert,
  wantsCancel,
} from '../../shared/domain/alert.js';

/** Parses a raw body the way the webhook does and validates it; fails the test if it is not JSON. */
function acceptBody(rawBody: string): AlertParseResult {
  const parsed = parseAlertJson(rawBody);
  if (!parsed.ok) throw new Error(`expected JSON, got: ${parsed.error}`);
  return validateAlert(parsed.value);
}

function expectSignal(result: AlertParseResult) {
  if (!result.ok) throw new Error(`expected a valid alert, got 400: ${result.error}`);
  return result.signal;
}

function expectRefusal(result: AlertParseResult) {
  if (result.ok) throw new Error(`expected a 400, got a signal: ${JSON.stringify(result.signal)}`);
  return result;
}

const BUY_AAPL = { ticker: 'AAPL', action: 'buy', quantity: 10 };
const SECRET = 'pb-Zq8rT3vW9xK2mN7s';

describe('parseAlertJson: TradingView delivery quirks', () => {
  it('parses JSON delivered as a text/plain body string', () => {
    const body = '{"ticker":"AAPL","action":"buy","quantity":"10"}';

    const parsed = parseAlertJson(body);

    expect(parsed).toEqual({ ok: true, value: { ticker: 'AAPL', action: 'buy', quantity: '10' } });
  });

  it.each([
    ['a trailing LF', '{"ticker":"AAPL","action":"buy","quantity":10}\n'],
    ['a trailing CRLF', '{"ticker":"AAPL","action":"buy","quantity":10}\r\n'],
    ['a leading byte-order mark', '\uFEFF{"ticker":"AAPL","action":"buy","quantity":10}'],
    ['a BOM and a trailing CRLF', '\uFEFF{"ticker":"AAPL","action":"buy","quantity":10}\r\n'],
    ['surrounding blank lines and spaces', '\n  {"ticker":"AAPL","action":"buy","quantity":10}  \r\n\r\n'],
  ])('tolerates %s', (_label, body) => {
    const signal = expectSignal(acceptBody(body));

    expect(signal).toMatchObject({ symbol: 'AAPL', action: 'buy', quantity: '10' });
  });

  it.each([
    ['an empty body', ''],
    ['a body of only whitespace', ' \r\n'],
    ['a JSON array', '[{"ticker":"AAPL"}]'],
    ['a bare string', '"buy AAPL"'],
    ['plain text', 'buy 10 AAPL'],
  ])('refuses %s because the alert message must be a JSON object', (_label, body) => {
    const parsed = parseAlertJson(body);

    expect(parsed.ok).toBe(false);
    expect(parsed.ok ? '' : parsed.error).toMatch(/must be JSON/);
  });

  describe('malformed JSON is refused without echoing any part of the body', () => {
    it.each([
      ['a trailing comma', `{"ticker":"AAPL","action":"buy","quantity":10,"secret":"${SECRET}",}`],
      ['NaN as a number', `{"ticker":"AAPL","action":"buy","quantity":NaN,"secret":"${SECRET}"}`],
      ['a body truncated after a key', `{"secret":"${SECRET}","ticker":"AAPL","quantity":`],
      ['a body truncated inside the secret', `{"ticker":"AAPL","secret":"${SECRET}`],
      ['a missing comma right after the secret', `{"secret":"${SECRET}" "ticker":"AAPL"}`],
      ['single-quoted strings', `{'ticker':'AAPL','secret':'${SECRET}'}`],
    ])('%s → error naming the problem, not the content', (_label, body) => {
      const parsed = parseAlertJson(body);

      expect(parsed.ok).toBe(false);
      const error = parsed.ok ? '' : parsed.error;
      expect(error).toMatch(/not valid JSON/);
      expect(error).not.toContain(SECRET);
      expect(error).not.toContain(SECRET.slice(0, 6));
      for (let i = 0; i + 6 <= body.length; i++) {
        expect(error, `error quotes body fragment ${JSON.stringify(body.slice(i, i + 6))}`).not.toContain(
          body.slice(i, i + 6),
        );
      }
    });

    it('points at the character where parsing broke', () => {
      const body = '{"ticker":"AAPL",}';

      const parsed = parseAlertJson(body);

      expect(parsed).toEqual({ ok: false, error: 'body is not valid JSON near character 18' });
    });
  });
});

describe('validateAlert: numbers sent as strings normalize to canonical decimal strings', () => {
  it.each([
    ['"10"', '10', '10'],
    ['10', 10, '10'],
    ['" 10 "', ' 10 ', '10'],
    ['"10.0"', '10.0', '10'],
    ['"007"', '007', '7'],
    ['"0.5"', '0.5', '0.5'],
    ['0.25', 0.25, '0.25'],
    ['1e-7 (a number JS prints with an exponent)', 1e-7, '0.0000001'],
    ['"0.123456789" (nine decimals, the most allowed)', '0.123456789', '0.123456789'],
    ['"1000000000" (the largest quantity allowed)', '1000000000', '1000000000'],
  ])('quantity %s → "%s"', (_label, quantity, expected) => {
    const signal = expectSignal(validateAlert({ ...BUY_AAPL, quantity }));

    expect(signal.quantity).toBe(expected);
  });

  it('normalizes prices the same way: "187.50" → "187.5"', () => {
    const alert = {
      ...BUY_AAPL,
      orderType: 'stop_limit',
      limitPrice: '187.50',
      stopPrice: '187.00',
      price: '187.250',
    };

    const signal = expectSignal(validateAlert(alert));

    expect(signal).toMatchObject({ limitPrice: '187.5', stopPrice: '187', price: '187.25' });
  });

  it('takes signalPrice as the price when price is absent', () => {
    const signal = expectSignal(validateAlert({ ...BUY_AAPL, signalPrice: '101.10' }));

    expect(signal.price).toBe('101.1');
  });

  it('accepts booleans sent as strings', () => {
    const signal = expectSignal(validateAlert({ ...BUY_AAPL, extendedHours: 'true' }));

    expect(signal.extendedHours).toBe(true);
  });

  it('accepts enum values in any case, as TradingView renders them', () => {
    const signal = expectSignal(
      validateAlert({
        ...BUY_AAPL,
        action: 'BUY',
        sentiment: ' Long ',
        orderType: 'Market',
        timeInForce: 'GTC',
      }),
    );

    expect(signal).toMatchObject({
      action: 'buy',
      sentiment: 'long',
      orderType: 'market',
      timeInForce: 'gtc',
    });
  });

  it('fills the TradersPost defaults: fixed quantity, market, day, regular hours', () => {
    const signal = expectSignal(validateAlert(BUY_AAPL));

    expect(signal).toEqual({
      symbol: 'AAPL',
      action: 'buy',
      quantity: '10',
      quantityType: 'fixed_quantity',
      orderType: 'market',
      timeInForce: 'day',
      extendedHours: false,
    });
  });

  it('turns a numeric alert id into a string', () => {
    const signal = expectSignal(validateAlert({ ...BUY_AAPL, id: 42 }));

    expect(signal.alertId).toBe('42');
  });
});

describe('validateAlert: ticker', () => {
  it.each([
    ['NASDAQ:aapl', 'AAPL'],
    ['NYSE:BRK.B', 'BRK.B'],
    ['  msft ', 'MSFT'],
    ['BATS_DLY:spy', 'SPY'],
  ])('"%s" becomes "%s" (exchange prefix dropped, upper-cased)', (ticker, expected) => {
    const signal = expectSignal(validateAlert({ ...BUY_AAPL, ticker }));

    expect(signal.symbol).toBe(expected);
  });

  it.each([
    ['an empty ticker', ''],
    ['a ticker with spaces inside', 'AA PL'],
    ['a ticker longer than 20 characters', 'A'.repeat(21)],
  ])('refuses %s with a 400 naming ticker', (_label, ticker) => {
    const refusal = expectRefusal(validateAlert({ ...BUY_AAPL, ticker }));

    expect(refusal.status).toBe(400);
    expect(refusal.fields).toContain('ticker');
  });
});

describe('validateAlert: unrendered TradingView placeholders', () => {
  it('refuses "{{strategy.order.action}}" with a 400 naming the field', () => {
    const alert = { ticker: 'AAPL', action: '{{strategy.order.action}}', quantity: 10 };

    const refusal = expectRefusal(validateAlert(alert));

    expect(refusal.status).toBe(400);
    expect(refusal.fields).toEqual(['action']);
    expect(refusal.error).toBe('unrendered TradingView placeholder in action');
  });

  it('names every field that still holds a placeholder', () => {
    const alert = { ticker: '{{ticker}}', action: 'buy', quantity: '{{strategy.order.contracts}}' };

    const refusal = expectRefusal(validateAlert(alert));

    expect(refusal.fields).toEqual(['ticker', 'quantity']);
    expect(refusal.error).toContain('ticker');
    expect(refusal.error).toContain('quantity');
  });

  it('finds a placeholder embedded in a longer string', () => {
    const refusal = expectRefusal(validateAlert({ ...BUY_AAPL, comment: 'entry at {{close}}' }));

    expect(refusal.fields).toEqual(['comment']);
  });
});

describe('validateAlert: bad quantities are refused with a 400 naming quantity', () => {
  it.each([
    ['0', 0],
    ['"0"', '0'],
    ['"0.000"', '0.000'],
    ['-5', -5],
    ['"-5"', '-5'],
    ['"abc"', 'abc'],
    ['"Infinity"', 'Infinity'],
    ['Infinity (a number)', Number.POSITIVE_INFINITY],
    ['NaN (a number)', Number.NaN],
    ['"1e3" (exponent in a string)', '1e3'],
    ['10 decimal places as a string', '0.1234567891'],
    ['10 decimal places as a number', 0.1234567891],
    ['1e-10 (a number with 10 decimal places)', 1e-10],
    ['1e12 (absurdly large)', 1e12],
    ['"1000000000000" (absurdly large)', '1000000000000'],
    ['1000000001 (just above the cap)', 1_000_000_001],
    ['true', true],
    ['null', null],
    ['an object', { value: 10 }],
  ])('quantity %s', (_label, quantity) => {
    const refusal = expectRefusal(validateAlert({ ...BUY_AAPL, quantity }));

    expect(refusal.status).toBe(400);
    expect(refusal.fields).toEqual(['quantity']);
    expect(refusal.error).toMatch(/^quantity: /);
  });

  it('refuses 1e400 in the raw body (JSON.parse turns it into Infinity)', () => {
    const result = acceptBody('{"ticker":"AAPL","action":"buy","quantity":1e400}');

    const refusal = expectRefusal(result);
    expect(refusal.fields).toEqual(['quantity']);
  });

  it('refuses a percentage above 100', () => {
    const refusal = expectRefusal(
      validateAlert({ ...BUY_AAPL, quantity: '150', quantityType: 'percent_of_equity' }),
    );

    expect(refusal.fields).toEqual(['quantity']);
    expect(refusal.error).toMatch(/at most 100/);
  });
});

describe('validateAlert: TradersPost compatibility', () => {
  /** TradersPost's two default templates (docs.traderspost.io, Webhooks), rendered as TradingView would. */
  const INDICATOR_TEMPLATE = {
    ticker: 'NASDAQ:AAPL',
    action: 'buy',
    price: '187.52',
    time: '2026-12-07T14:30:00Z',
    interval: '5',
  };
  const STRATEGY_TEMPLATE = {
    ticker: 'AAPL',
    action: 'sell',
    sentiment: 'flat',
    quantity: '10',
    price: '187.52',
    time: '2026-12-07T14:30:00Z',
    interval: '1D',
  };

  it("accepts TradersPost's indicator template: no quantity (sized by risk.defaultQuantity), interval kept", () => {
    const signal = expectSignal(validateAlert(INDICATOR_TEMPLATE));

    expect(signal).toMatchObject({ symbol: 'AAPL', action: 'buy', price: '187.52', interval: '5' });
    expect(signal).not.toHaveProperty('quantity');
    expect(signal).not.toHaveProperty('ignored');
  });

  it("accepts TradersPost's strategy template", () => {
    const signal = expectSignal(validateAlert(STRATEGY_TEMPLATE));

    expect(signal).toMatchObject({ action: 'sell', sentiment: 'flat', quantity: '10', interval: '1D' });
  });

  it('accepts a field it does not know and names it in `ignored` ("can be sent, but will be ignored")', () => {
    const signal = expectSignal(validateAlert({ ...BUY_AAPL, leverage: 5, note: 'x' }));

    expect(signal.ignored).toEqual(['leverage', 'note']);
    expect(signal).not.toHaveProperty('leverage');
  });

  it('keeps extras, test and expiresAt on the signal', () => {
    const signal = expectSignal(
      validateAlert({
        ...BUY_AAPL,
        extras: { setup: 'breakout', atr: 1.2 },
        test: 'true',
        expiresAt: '2026-12-07T15:00:00+01:00',
      }),
    );

    expect(signal).toMatchObject({
      extras: { setup: 'breakout', atr: 1.2 },
      test: true,
      expiresAt: '2026-12-07T14:00:00.000Z',
    });
  });

  it("refuses sentiment together with action exit, with TradersPost's code", () => {
    const refusal = expectRefusal(validateAlert({ ticker: 'AAPL', action: 'exit', sentiment: 'flat' }));

    expect(refusal.fields).toEqual(['sentiment']);
    expect(refusal.messageCode).toBe('invalid-sentiment-action');
    expect(refusal.error).toContain('exit');
  });

  it.each(['risk_dollar_amount', 'risk_percent'])(
    'refuses quantityType %s, naming the stop loss it needs',
    (type) => {
      const refusal = expectRefusal(validateAlert({ ...BUY_AAPL, quantityType: type }));

      expect(refusal.fields).toEqual(['quantityType']);
      expect(refusal.error).toContain('stop loss');
    },
  );

  it.each([
    ['trailAmount', 1, 'invalid-trailing-stop'],
    ['ignoreTradingWindows', true, 'invalid-payload'],
    ['optionType', 'call', 'invalid-asset-class'],
    ['strikePrice', 600, 'invalid-asset-class'],
  ])(
    'refuses %s (documented by TradersPost, not acted on yet) rather than ignore it',
    (field, value, code) => {
      const refusal = expectRefusal(validateAlert({ ...BUY_AAPL, [field]: value }));

      expect(refusal.fields).toEqual([field]);
      expect(refusal.messageCode).toBe(code);
    },
  );

  it('accepts cancel: false, which asks for nothing', () => {
    const signal = expectSignal(validateAlert({ ...BUY_AAPL, cancel: false }));

    expect(signal.ignored).toBeUndefined();
    expect(signal.cancel).toBeUndefined();
    expect(wantsCancel(signal)).toBe(false);
  });

  it('keeps "cancel": true (also as the string TradingView renders) and cancelOrderType on an entry', () => {
    const signal = expectSignal(validateAlert({ ...BUY_AAPL, cancel: 'true', cancelOrderType: 'LIMIT' }));

    expect(signal.cancel).toBe(true);
    expect(signal.cancelOrderType).toBe('limit');
    expect(wantsCancel(signal)).toBe(true);
  });

  it('reads the cancel action as a signal that cancels, with no quantity needed', () => {
    const signal = expectSignal(validateAlert({ ticker: 'SPY', action: 'cancel', cancelOrderType: 'stop' }));

    expect(signal).toMatchObject({ symbol: 'SPY', action: 'cancel', cancel: true, cancelOrderType: 'stop' });
    expect(wantsCancel(signal)).toBe(true);
  });

  it('refuses cancelOrderType without a cancel (it would filter nothing) and an order type Pinebridge has not', () => {
    const alone = expectRefusal(validateAlert({ ...BUY_AAPL, cancelOrderType: 'limit' }));
    expect(alone.fields).toEqual(['cancelOrderType']);
    expect(alone.error).toContain('"cancel": true');

    const unknown = expectRefusal(
      validateAlert({ ticker: 'SPY', action: 'cancel', cancelOrderType: 'bracket' }),
    );
    expect(unknown.fields).toEqual(['cancelOrderType']);
  });

  it.each([
    [60, { seconds: 60 }],
    ['60', { seconds: 60 }],
    ['+5 minutes', { seconds: 300 }],
    ['90s', { seconds: 90 }],
    ['+1 hour', { seconds: 3600 }],
    ['2 hrs', { seconds: 7200 }],
    ['2026-12-07T15:30:00-05:00', { until: '2026-12-07T20:30:00.000Z' }],
  ])('reads delay %j as %j', (delay, expected) => {
    expect(expectSignal(validateAlert({ ...BUY_AAPL, delay })).delay).toEqual(expected);
  });

  it.each([0, -5, '25 hours', 86_401, 'soon', '2026-12-07T15:30:00', '+5 fortnights'])(
    'refuses delay %j with a message saying what a delay may be',
    (delay) => {
      const refusal = expectRefusal(validateAlert({ ...BUY_AAPL, delay }));

      expect(refusal.fields).toEqual(['delay']);
      expect(refusal.messageCode).toBe('invalid-delay');
    },
  );

  it('dates a delayed signal: received + seconds, an absolute time, or at once when that time has passed', () => {
    const at = '2026-12-07T15:00:00.000Z';
    const seconds = expectSignal(validateAlert({ ...BUY_AAPL, delay: '+5 minutes' }));
    const until = expectSignal(validateAlert({ ...BUY_AAPL, delay: '2026-12-07T15:30:00Z' }));
    const past = expectSignal(validateAlert({ ...BUY_AAPL, delay: '2026-12-07T14:00:00Z' }));

    expect(dueAt(seconds, at)).toBe('2026-12-07T15:05:00.000Z');
    expect(dueAt(until, at)).toBe('2026-12-07T15:30:00.000Z');
    expect(dueAt(past, at)).toBe(at);
    expect(dueAt(expectSignal(validateAlert(BUY_AAPL)), at)).toBe(at);
  });

  it('refuses a trailing stop order type and the breakeven action, each saying why', () => {
    expect(expectRefusal(validateAlert({ ...BUY_AAPL, orderType: 'trailing_stop' })).messageCode).toBe(
      'invalid-trailing-stop',
    );
    expect(expectRefusal(validateAlert({ ticker: 'AAPL', action: 'breakeven' })).error).toContain('stops');
  });

  it.each([
    ['SPY 250624C596', 'an option'],
    ['SPY250624P00596000', 'an option'],
    ['CME_MINI:NQ1!', 'a future'],
    ['MNQU2025', 'a future'],
    ['ESZ24', 'a future'],
    ['BINANCE:BTCUSDT', 'a crypto pair'],
    ['BTC/USD', 'a crypto pair'],
  ])('refuses %s naming its asset class (%s)', (ticker, named) => {
    const refusal = expectRefusal(validateAlert({ ...BUY_AAPL, ticker }));

    expect(refusal.fields).toContain('ticker');
    expect(refusal.error).toContain(named);
    expect(refusal.messageCode).toBe('invalid-asset-class');
  });

  it.each(['AAPL', 'BRK.B', 'SPY', 'NYSE:F'])('still takes %s as a stock', (ticker) => {
    expect(expectSignal(validateAlert({ ...BUY_AAPL, ticker })).symbol).toBe(ticker.replace('NYSE:', ''));
  });

  it('accepts a limit order without limitPrice (placed at the checked price) and reverse', () => {
    expect(expectSignal(validateAlert({ ...BUY_AAPL, orderType: 'limit' })).orderType).toBe('limit');
    expect(expectSignal(validateAlert({ ticker: 'AAPL', action: 'reverse' })).action).toBe('reverse');
  });

  it.each([
    ['takeProfit', { limitPrice: '200' }],
    ['stopLoss', { stopPrice: '180' }],
  ])(
    'refuses %s: bracket legs are not supported yet, so trading without them would be unprotected',
    (key, leg) => {
      const refusal = expectRefusal(validateAlert({ ...BUY_AAPL, [key]: leg }));

      expect(refusal.status).toBe(400);
      expect(refusal.fields).toEqual([key]);
      expect(refusal.error).toContain('not supported');
    },
  );

  it.each(['buy', 'add'])('accepts "%s" without a quantity: sized by risk.defaultQuantity', (action) => {
    const signal = expectSignal(validateAlert({ ticker: 'AAPL', action }));

    expect(signal).not.toHaveProperty('quantity');
  });

  it.each(['exit', 'sell'])('accepts "%s" without a quantity (it closes the position)', (action) => {
    const signal = expectSignal(validateAlert({ ticker: 'AAPL', action }));

    expect(signal.action).toBe(action);
    expect(signal).not.toHaveProperty('quantity');
  });

  it("refuses an unknown action with TradersPost's code", () => {
    const refusal = expectRefusal(validateAlert({ ...BUY_AAPL, action: 'short' }));

    expect(refusal.fields).toEqual(['action']);
    expect(refusal.messageCode).toBe('invalid-action');
  });
});

describe('validateAlert: secrets never reach the signal', () => {
  it.each(['secret', 'passphrase'])(
    'the body %s is returned separately and is not part of the signal',
    (key) => {
      const result = validateAlert({ ...BUY_AAPL, [key]: SECRET });

      if (!result.ok) throw new Error(result.error);
      expect(result.bodySecret).toBe(SECRET);
      expect(result.signal).not.toHaveProperty(key);
      expect(JSON.stringify(result.signal)).not.toContain(SECRET);
      expect(Object.keys(result.signal).every((k) => k in SignalSchema.shape)).toBe(true);
    },
  );

  it('a non-string secret yields no body secret', () => {
    const result = validateAlert({ ...BUY_AAPL, secret: 12345 });

    if (!result.ok) throw new Error(result.error);
    expect(result.bodySecret).toBeUndefined();
    expect(JSON.stringify(result.signal)).not.toContain('12345');
  });

  it('a refusal does not repeat the secret', () => {
    const refusal = expectRefusal(
      validateAlert({ ticker: 'AAPL', action: 'buy', quantity: 'abc', secret: SECRET }),
    );

    expect(refusal.error).not.toContain(SECRET);
    expect(refusal.fields).not.toContain('secret');
  });
});

describe('validateAlert: time', () => {
  it.each([
    ['{{timenow}} rendering', '2024-03-15T14:30:00Z', '2024-03-15T14:30:00.000Z'],
    ['an offset', '2024-03-15T10:30:00-04:00', '2024-03-15T14:30:00.000Z'],
    ['milliseconds', '2024-03-15T14:30:00.123Z', '2024-03-15T14:30:00.123Z'],
  ])('normalizes %s to ISO-8601 UTC', (_label, time, expected) => {
    const signal = expectSignal(validateAlert({ ...BUY_AAPL, time }));

    expect(signal.time).toBe(expected);
  });

  it('refuses a time that is not a timestamp, naming time', () => {
    const refusal = expectRefusal(validateAlert({ ...BUY_AAPL, time: 'yesterday' }));

    expect(refusal.fields).toEqual(['time']);
  });
});
