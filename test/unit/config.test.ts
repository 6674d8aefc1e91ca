import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  ConfigError,
  configJsonSchema,
  defaultConfig,
  parseConfig,
  parseConfigText,
} from '../../shared/config/load.js';
import { allowListEnabled } from '../../shared/config/schema.js';

/** Runs fn, expects a ConfigError, and returns its message. */
function configErrorOf(fn: () => unknown): string {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as ConfigError).message;
  }
  throw new Error('expected a ConfigError, but the configuration was accepted');
}

const SECRET_VALUE = 'AKq7Zr2Wx9Lm4Pv8';

describe('config defaults', () => {
  it('an empty object yields a complete, usable configuration without any file', () => {
    const config = parseConfig({});

    // No broker named: the built-in paper broker, or Alpaca paper when its keys are in the environment.
    expect(config.broker).toBeUndefined();
    expect(config.alpaca).toEqual({
      mode: 'paper',
      requestsPerMinute: 200,
      requestTimeoutMs: 3000,
      submitBudgetMs: 8000,
    });
    expect(config.symbols.allowed).toContain('AAPL');
    expect(config.risk.buyingPowerCheck).toBe(true);
    expect(config.paper).toEqual({ startingCash: '100000', slippageBps: 0, commissionPerOrder: '0' });
    expect(config.risk).toEqual({
      maxPositionQuantity: 1000,
      maxPositionNotional: '25000',
      allowShort: false,
      pyramiding: false,
      defaultQuantity: '1',
      defaultQuantityType: 'fixed_quantity',
      buyingPowerCheck: true,
      maxPriceAgeSeconds: 300,
      maxOrderNotional: '10000',
      maxGrossExposure: '100000',
      maxGrossExposurePercent: 100,
      maxOpenPositions: 10,
      marketHours: 'any',
      duplicateWindowSeconds: 10,
      maxOrdersPerMinute: 30,
      maxOrdersPerMinutePerSymbol: 6,
      maxSignalAgeSeconds: 90,
      maxQueueSeconds: 120,
      maxFutureSkewSeconds: 5,
      priceCollarPercent: 10,
      maxDailyLoss: '3000',
      maxDailyLossPercent: 3,
      maxDrawdownPercent: 10,
      drawdownCooldownHours: 24,
      lossStreak: { count: 4, windowMinutes: 240, cooldownMinutes: 60 },
      maxConsecutiveFailures: 3,
      dayTrades: { enabled: true, maxDayTrades: 3, windowDays: 5, minEquity: '25000' },
    });
    expect(config.symbols.quantityDecimals).toBe(0);
  });

  it('the webhook’s source allow-list is on by default for prod and off for dev, unless the config says', () => {
    expect(parseConfig({}).api.allowList.enabled).toBeUndefined();
    expect(allowListEnabled(parseConfig({}), 'prod')).toBe(true);
    expect(allowListEnabled(parseConfig({}), 'dev')).toBe(false);
    expect(allowListEnabled(parseConfig({ api: { allowList: { enabled: false } } }), 'prod')).toBe(false);
    expect(allowListEnabled(parseConfig({ api: { allowList: { enabled: true } } }), 'dev')).toBe(true);
  });

  it('defaultConfig() and the text "{}" give the same configuration as parseConfig({})', () => {
    expect(defaultConfig()).toEqual(parseConfig({}));
    expect(parseConfigText('{}\n')).toEqual(parseConfig({}));
  });

  it('refuses an Express workflow whose order timeout outlives an Express execution', () => {
    expect(() => parseConfig({ workflow: { type: 'EXPRESS', orderTimeoutSeconds: 300 } })).toThrow(
      /workflow\.orderTimeoutSeconds: must be at most 240 with workflow\.type EXPRESS/,
    );
  });

  it('refuses an order-rate limit above 2,000 a minute, naming the key and why', () => {
    expect(() => parseConfig({ risk: { maxOrdersPerMinute: 2_001 } })).toThrow(
      /risk\.maxOrdersPerMinute: at most 2000 orders a minute: the approval memory must fit one DynamoDB item/,
    );
    expect(() => parseConfig({ risk: { maxOrdersPerMinutePerSymbol: 10_000 } })).toThrow(
      /risk\.maxOrdersPerMinutePerSymbol: at most 2000/,
    );
    expect(parseConfig({ risk: { maxOrdersPerMinute: 2_000 } }).risk.maxOrdersPerMinute).toBe(2_000);
  });

  it('a partial section keeps the defaults of the keys it leaves out', () => {
    const config = parseConfig({ risk: { maxPositionQuantity: 50 } });

    expect(config.risk.maxPositionQuantity).toBe(50);
    expect(config.risk.maxPositionNotional).toBe('25000');
  });

  it('a config that spells out every key is accepted (no key is mistaken for a secret)', () => {
    const full = {
      $schema: './config.schema.json',
      broker: 'paper',
      paper: { startingCash: '50000.00', slippageBps: 5, commissionPerOrder: '0.35' },
      symbols: { allowed: ['AAPL', 'BTCUSD', 'BRK.B'], quantityDecimals: 4 },
      risk: {
        maxPositionQuantity: 10,
        maxPositionNotional: '5000',
        allowShort: true,
        pyramiding: true,
        defaultQuantity: '500',
        defaultQuantityType: 'dollar_amount',
        buyingPowerCheck: false,
        maxPriceAgeSeconds: 60,
        maxOrderNotional: '2500',
        maxGrossExposure: '20000',
        maxGrossExposurePercent: 150,
        maxOpenPositions: 4,
        marketHours: 'extended',
        duplicateWindowSeconds: 0,
        maxOrdersPerMinute: 12,
        maxOrdersPerMinutePerSymbol: 3,
        maxSignalAgeSeconds: 30,
        maxQueueSeconds: 60,
        maxFutureSkewSeconds: 2,
        priceCollarPercent: 3,
        maxDailyLoss: '500',
        maxDailyLossPercent: 2.5,
        maxDrawdownPercent: 8,
        drawdownCooldownHours: 0,
        lossStreak: { count: 3, windowMinutes: 60, cooldownMinutes: 30 },
        maxConsecutiveFailures: 2,
        dayTrades: { enabled: false, maxDayTrades: 3, windowDays: 5, minEquity: '25000.00' },
      },
      alpaca: { mode: 'live', requestsPerMinute: 150, requestTimeoutMs: 2000, submitBudgetMs: 6000 },
      notifications: {
        telegram: { events: ['fill', 'refusal', 'daily-summary'], minSeverity: 'info', quiet: false },
        discord: { events: 'all', minSeverity: 'critical', quiet: true },
        slack: { events: ['trading-state'], minSeverity: 'warning', quiet: false },
        webhook: { events: 'all', minSeverity: 'info', quiet: false },
        email: 'trader@example.com',
      },
      webhook: {
        maxBodyBytes: 4096,
        dedupWindowSeconds: 600,
        alertIdRetentionDays: 7,
        provisionedConcurrency: 1,
      },
      api: {
        throttle: { rateLimit: 5, burstLimit: 10 },
        allowList: { enabled: true, addresses: ['52.89.214.238', '203.0.113.0/24'] },
        waf: { enabled: true, rateLimit: 120, dashboardRateLimit: 600 },
      },
      dashboard: { enabled: false },
      monitoring: { healthCheck: true, authFailureThreshold: 3, webhookLatencyP99Ms: 1500 },
      local: { store: 'dynamodb-local', synchronous: 'full', retentionDays: 400 },
      workflow: { type: 'EXPRESS', orderPollSeconds: 2, orderTimeoutSeconds: 120 },
    };

    const config = parseConfig(full);

    expect(config).toEqual(full);
  });
});

describe('config validation names the dotted key at fault', () => {
  it.each([
    ['risk.maxPositionQuantity', { risk: { maxPositionQuantity: -1 } }],
    ['risk.maxPositionNotional', { risk: { maxPositionNotional: 25000 } }],
    ['paper.startingCash', { paper: { startingCash: '-5' } }],
    ['paper.slippageBps', { paper: { slippageBps: 5000 } }],
    ['symbols.allowed.1', { symbols: { allowed: ['AAPL', 'aapl'] } }],
    ['symbols.quantityDecimals', { symbols: { quantityDecimals: 1.5 } }],
    ['api.throttle.burstLimit', { api: { throttle: { burstLimit: 0 } } }],
    ['workflow.type', { workflow: { type: 'FAST' } }],
    ['broker', { broker: 'alpaca-live' }],
    ['alpaca.mode', { alpaca: { mode: 'real' } }],
    ['notifications.email', { notifications: { email: 'not-an-address' } }],
  ])('%s', (key, raw) => {
    const message = configErrorOf(() => parseConfig(raw, 'config.json'));

    expect(message).toMatch(/^config\.json is invalid:/);
    expect(message).toContain(`- ${key}:`);
  });

  it('lists every problem, not just the first', () => {
    const message = configErrorOf(() =>
      parseConfig({ risk: { maxPositionQuantity: 0 }, webhook: { maxBodyBytes: 10 } }),
    );

    expect(message).toContain('risk.maxPositionQuantity');
    expect(message).toContain('webhook.maxBodyBytes');
  });

  it.each([
    ['a misspelled top-level key', { riskk: { maxPositionQuantity: 5 } }, 'riskk'],
    ['a key the section does not have', { risk: { maxDailyLos: '500' } }, 'maxDailyLos'],
  ])('refuses %s', (_label, raw, key) => {
    const message = configErrorOf(() => parseConfig(raw));

    expect(message).toContain(key);
  });
});

describe('secrets never belong in the config file', () => {
  it.each([
    ['alpaca.apiKey', { alpaca: { apiKey: SECRET_VALUE } }],
    ['webhook.secret', { webhook: { secret: SECRET_VALUE } }],
    ['password', { password: SECRET_VALUE }],
    ['passwd', { passwd: SECRET_VALUE }],
    ['alpaca.secretKey', { broker: 'paper', alpaca: { secretKey: SECRET_VALUE } }],
    ['api_key', { api_key: SECRET_VALUE }],
    ['webhook.passphrase', { webhook: { passphrase: SECRET_VALUE } }],
    ['notify.slack.token', { notify: { slack: { token: SECRET_VALUE } } }],
    ['accounts.0.privateKey', { accounts: [{ privateKey: SECRET_VALUE }] }],
    ['credentials', { credentials: { id: 'x', value: SECRET_VALUE } }],
  ])(
    '"%s" is refused, pointing at the environment / Secrets Manager, without echoing the value',
    (key, raw) => {
      const message = configErrorOf(() => parseConfig(raw, 'config.json'));

      expect(message).toContain(`"${key}"`);
      expect(message).toMatch(/looks like a secret/);
      expect(message).toMatch(/environment/);
      expect(message).toMatch(/Secrets Manager/);
      expect(message).not.toContain(SECRET_VALUE);
      expect(message).not.toContain(SECRET_VALUE.slice(0, 5));
    },
  );

  it('checks for secrets in config text too, naming the source', () => {
    const text = JSON.stringify({ webhook: { secret: SECRET_VALUE } });

    const message = configErrorOf(() => parseConfigText(text, '/srv/pinebridge/config.json'));

    expect(message).toMatch(/^\/srv\/pinebridge\/config\.json: "webhook\.secret" looks like a secret/);
    expect(message).not.toContain(SECRET_VALUE);
  });
});

describe('parseConfigText', () => {
  it.each([
    ['a truncated file', '{"risk": {'],
    ['a trailing comma', '{"broker": "paper",}'],
    ['an empty file', ''],
  ])('refuses %s as invalid JSON, naming the source', (_label, text) => {
    const message = configErrorOf(() => parseConfigText(text, 'local/config.json'));

    expect(message).toMatch(/^local\/config\.json is not valid JSON/);
  });

  it('names the source when valid JSON holds an invalid configuration', () => {
    const message = configErrorOf(() => parseConfigText('{"risk":{"maxPriceAgeSeconds":0}}', 'staging.json'));

    expect(message).toMatch(/^staging\.json is invalid:/);
    expect(message).toContain('risk.maxPriceAgeSeconds');
  });
});

describe('config.schema.json', () => {
  it('is exactly what configJsonSchema() generates, so it cannot drift from the zod schema', () => {
    const checkedIn = readFileSync(new URL('../../config.schema.json', import.meta.url), 'utf8');

    const generated = `${JSON.stringify(configJsonSchema(), null, 2)}\n`;

    expect(checkedIn, 'config.schema.json is out of date: run `npm run schema` and commit the result').toBe(
      generated,
    );
  });

  it('describes the configuration keys for editors', () => {
    const schema = configJsonSchema() as {
      properties: Record<string, unknown>;
      additionalProperties?: unknown;
    };

    expect(Object.keys(schema.properties)).toEqual(
      expect.arrayContaining(['broker', 'paper', 'symbols', 'risk', 'webhook', 'api', 'workflow']),
    );
    expect(schema.additionalProperties).toBe(false);
  });
});
