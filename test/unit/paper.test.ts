import { describe, expect, it } from 'vitest';
import { executePaper, type PaperTerms } from '../../shared/domain/paper.js';
import { anIntent } from '../fixtures/builders.js';

const NO_COSTS: PaperTerms = { slippageBps: 0, commissionPerOrder: '0' };
const FIVE_BPS: PaperTerms = { slippageBps: 5, commissionPerOrder: '0' };

describe('executePaper: market orders', () => {
  it('fills at the market price when there is no slippage', () => {
    const execution = executePaper(anIntent({ side: 'buy' }), '187.37', NO_COSTS);

    expect(execution).toEqual({ status: 'filled', fillPrice: '187.37', commission: '0' });
  });

  it('fills a buy above the market, rounded up to the cent', () => {
    // 187.37 × 1.0005 = 187.463685 → 187.47
    const execution = executePaper(anIntent({ side: 'buy' }), '187.37', FIVE_BPS);

    expect(execution.status).toBe('filled');
    expect(execution.fillPrice).toBe('187.47');
  });

  it('fills a sell below the market, rounded down to the cent', () => {
    // 187.37 × 0.9995 = 187.276315 → 187.27
    const execution = executePaper(anIntent({ side: 'sell' }), '187.37', FIVE_BPS);

    expect(execution.fillPrice).toBe('187.27');
  });

  it('rounds a sub-dollar buy up to 4 decimals', () => {
    // 0.5123 × 1.001 = 0.5128123 → 0.5129
    const execution = executePaper(anIntent({ side: 'buy' }), '0.5123', {
      slippageBps: 10,
      commissionPerOrder: '0',
    });

    expect(execution.fillPrice).toBe('0.5129');
  });

  it('rounds a sub-dollar sell down to 4 decimals', () => {
    // 0.5123 × 0.999 = 0.5117877 → 0.5117
    const execution = executePaper(anIntent({ side: 'sell' }), '0.5123', {
      slippageBps: 10,
      commissionPerOrder: '0',
    });

    expect(execution.fillPrice).toBe('0.5117');
  });

  it('never fills a buy below, or a sell above, the market price', () => {
    const prices = ['0.0123', '0.9999', '1', '1.005', '19.99', '187.37', '4123.456'];
    for (const price of prices) {
      for (const slippageBps of [0, 1, 5, 50]) {
        const terms = { slippageBps, commissionPerOrder: '0' };

        const buy = executePaper(anIntent({ side: 'buy' }), price, terms);
        const sell = executePaper(anIntent({ side: 'sell' }), price, terms);

        expect(Number(buy.fillPrice), `buy at ${price}, ${slippageBps} bps`).toBeGreaterThanOrEqual(
          Number(price),
        );
        expect(Number(sell.fillPrice), `sell at ${price}, ${slippageBps} bps`).toBeLessThanOrEqual(
          Number(price),
        );
      }
    }
  });

  it('charges the configured commission on a fill', () => {
    const execution = executePaper(anIntent(), '100', { slippageBps: 0, commissionPerOrder: '0.35' });

    expect(execution).toEqual({ status: 'filled', fillPrice: '100', commission: '0.35' });
  });
});

describe('executePaper: no price', () => {
  it.each(['market', 'limit', 'stop'] as const)(
    'rejects a %s order with NO_FRESH_PRICE and no commission',
    (orderType) => {
      const intent = anIntent({ orderType, limitPrice: '100', stopPrice: '100' });

      const execution = executePaper(intent, undefined, { slippageBps: 5, commissionPerOrder: '1' });

      expect(execution.status).toBe('rejected');
      expect(execution.reason).toMatch(/^NO_FRESH_PRICE/);
      expect(execution.commission).toBe('0');
      expect(execution.fillPrice).toBeUndefined();
    },
  );
});

describe('executePaper: limit orders', () => {
  it('fills a marketable buy limit at the slipped price when that is inside the limit', () => {
    const intent = anIntent({ side: 'buy', orderType: 'limit', limitPrice: '101' });

    const execution = executePaper(intent, '100', { slippageBps: 10, commissionPerOrder: '0' });

    expect(execution).toEqual({ status: 'filled', fillPrice: '100.1', commission: '0' });
  });

  it('fills a marketable buy limit never above the limit', () => {
    const intent = anIntent({ side: 'buy', orderType: 'limit', limitPrice: '100.05' });

    const execution = executePaper(intent, '100', { slippageBps: 10, commissionPerOrder: '0' });

    expect(execution.status).toBe('filled');
    expect(execution.fillPrice).toBe('100.05');
  });

  it('fills a marketable sell limit never below the limit', () => {
    const intent = anIntent({ side: 'sell', orderType: 'limit', limitPrice: '99.95' });

    const execution = executePaper(intent, '100', { slippageBps: 10, commissionPerOrder: '0' });

    expect(execution.status).toBe('filled');
    expect(execution.fillPrice).toBe('99.95');
  });

  it('fills a buy limit exactly at the market price', () => {
    const intent = anIntent({ side: 'buy', orderType: 'limit', limitPrice: '100' });

    const execution = executePaper(intent, '100', FIVE_BPS);

    expect(execution.fillPrice).toBe('100');
  });

  it('rests a buy limit below the market (status "new", no commission)', () => {
    const intent = anIntent({ side: 'buy', orderType: 'limit', limitPrice: '99' });

    const execution = executePaper(intent, '100', { slippageBps: 0, commissionPerOrder: '1' });

    expect(execution).toEqual({ status: 'new', commission: '0' });
  });

  it('rests a sell limit above the market', () => {
    const intent = anIntent({ side: 'sell', orderType: 'limit', limitPrice: '101' });

    const execution = executePaper(intent, '100', NO_COSTS);

    expect(execution.status).toBe('new');
    expect(execution.fillPrice).toBeUndefined();
  });

  it('charges the commission on a limit fill', () => {
    const intent = anIntent({ side: 'sell', orderType: 'limit', limitPrice: '95' });

    const execution = executePaper(intent, '100', { slippageBps: 0, commissionPerOrder: '1.25' });

    expect(execution).toEqual({ status: 'filled', fillPrice: '100', commission: '1.25' });
  });
});

describe('executePaper: stop orders', () => {
  it('rests a buy stop while the market is below the stop', () => {
    const intent = anIntent({ side: 'buy', orderType: 'stop', stopPrice: '105' });

    const execution = executePaper(intent, '100', NO_COSTS);

    expect(execution).toEqual({ status: 'new', commission: '0' });
  });

  it('rests a sell stop while the market is above the stop', () => {
    const intent = anIntent({ side: 'sell', orderType: 'stop', stopPrice: '95' });

    const execution = executePaper(intent, '100', NO_COSTS);

    expect(execution.status).toBe('new');
  });

  it('fills a triggered buy stop like a market order, with slippage and commission', () => {
    const intent = anIntent({ side: 'buy', orderType: 'stop', stopPrice: '105' });

    const execution = executePaper(intent, '106', { slippageBps: 10, commissionPerOrder: '1' });

    // 106 × 1.001 = 106.106 → 106.11
    expect(execution).toEqual({ status: 'filled', fillPrice: '106.11', commission: '1' });
  });

  it('fills a triggered sell stop below the market', () => {
    const intent = anIntent({ side: 'sell', orderType: 'stop', stopPrice: '95' });

    const execution = executePaper(intent, '94', { slippageBps: 10, commissionPerOrder: '0' });

    // 94 × 0.999 = 93.906 → 93.9
    expect(execution).toEqual({ status: 'filled', fillPrice: '93.9', commission: '0' });
  });

  it('rests a triggered stop_limit whose limit is not marketable', () => {
    const intent = anIntent({ side: 'buy', orderType: 'stop_limit', stopPrice: '105', limitPrice: '105.5' });

    const execution = executePaper(intent, '106', NO_COSTS);

    expect(execution.status).toBe('new');
  });

  it('fills a triggered, marketable stop_limit never through the limit', () => {
    const intent = anIntent({ side: 'buy', orderType: 'stop_limit', stopPrice: '105', limitPrice: '106.05' });

    const execution = executePaper(intent, '106', { slippageBps: 10, commissionPerOrder: '0' });

    expect(execution).toEqual({ status: 'filled', fillPrice: '106.05', commission: '0' });
  });
});
