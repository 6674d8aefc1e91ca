import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { chromium } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import { parseCandlesCsv } from '../../shared/backtest/candles.js';
import { runBacktest } from '../../shared/backtest/engine.js';
import { renderHtml } from '../../shared/backtest/report.js';
import { smaCross } from '../../shared/backtest/strategies.js';
import { parseConfig } from '../../shared/config/load.js';

const library = readFileSync(
  join(
    dirname(createRequire(import.meta.url).resolve('lightweight-charts/package.json')),
    'dist',
    'lightweight-charts.standalone.production.js',
  ),
  'utf8',
);

describe('the HTML report in headless Chromium', () => {
  it('draws the price, equity and drawdown charts with no console errors and no network', async () => {
    const candles = parseCandlesCsv(readFileSync('docs/examples/GOOG.csv', 'utf8'));
    const result = await runBacktest({
      candles,
      symbol: 'GOOG',
      config: parseConfig({}),
      source: {
        kind: 'strategy',
        strategy: smaCross({ fast: 10, slow: 20, longShort: false }),
        sizing: { quantityType: 'dollar_amount', quantity: '10000' },
      },
    });
    const file = join(mkdtempSync(join(tmpdir(), 'pb-report-')), 'report.html');
    writeFileSync(file, renderHtml(result, library));

    const browser = await chromium.launch({
      executablePath: '/usr/bin/chromium',
      args: [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
    });
    try {
      const page = await browser.newPage({ viewport: { width: 1200, height: 1600 } });
      const problems: string[] = [];
      const requests: string[] = [];
      page.on('console', (message) => {
        if (message.type() === 'error') problems.push(message.text());
      });
      page.on('pageerror', (error) => problems.push(String(error)));
      page.on('request', (request) => {
        if (!request.url().startsWith('file:')) requests.push(request.url());
      });

      await page.goto(pathToFileURL(file).href);
      await page.waitForFunction('window.pinebridgeChartsReady === true');

      for (const id of ['price', 'equity', 'drawdown']) {
        const box = await page.locator(`#${id} canvas`).first().boundingBox();
        expect(box?.width ?? 0).toBeGreaterThan(100);
        expect(box?.height ?? 0).toBeGreaterThan(100);
      }
      // The price chart's canvas is not blank: candles were drawn on it.
      // Evaluated in the page (a string: this project's TypeScript has no DOM types).
      const painted = await page.evaluate(`[...document.querySelectorAll('#price canvas')].some((canvas) => {
        const context = canvas.getContext('2d');
        if (context === null || canvas.width === 0) return false;
        const pixels = context.getImageData(0, 0, canvas.width, canvas.height).data;
        for (let i = 0; i < pixels.length; i += 4) {
          const [r, g, b] = [pixels[i], pixels[i + 1], pixels[i + 2]];
          if ((r === 38 && g === 166 && b === 154) || (r === 239 && g === 83 && b === 80)) return true;
        }
        return false;
      })`);
      expect(painted).toBe(true);
      expect(await page.locator('h2', { hasText: 'Metrics' }).count()).toBe(1);
      expect(problems).toEqual([]);
      expect(requests).toEqual([]);
    } finally {
      await browser.close();
    }
  });
});
