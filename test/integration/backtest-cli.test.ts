import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { backtestCommand } from '../../infra/cli/backtest.js';

function capture() {
  const out: string[] = [];
  const err: string[] = [];
  return {
    io: { stdout: (text: string) => void out.push(text), stderr: (text: string) => void err.push(text) },
    stdout: () => out.join(''),
    stderr: () => err.join(''),
  };
}

const GOOG = 'docs/examples/GOOG.csv';

describe('pinebridge backtest (command module)', () => {
  it('runs the sma-cross 10/20 example on the sample GOOG data, prints the metrics and writes the report', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'pb-backtest-'));
    const report = join(dir, 'report.html');
    const console = capture();

    const code = await backtestCommand(
      ['--data', GOOG, '--strategy', 'sma-cross', '--fast', '10', '--slow', '20', '--report', report],
      console.io,
    );

    expect(code).toBe(0);
    const text = console.stdout();
    expect(text).toMatch(/^Symbol\s+GOOG$/m);
    expect(text).toMatch(/^Strategy\s+sma-cross\(10,20\)$/m);
    expect(text).toMatch(/^Start\s+2004-08-19T13:30:00\.000Z$/m);
    expect(text).toMatch(/^# Trades\s+47$/m);
    expect(text).toMatch(/^Return \[%\]\s+28\.23$/m);
    expect(text).toMatch(/^Buy & Hold Return \[%\]\s+703\.46$/m);
    expect(text).toMatch(/^Win Rate \[%\]\s+63\.83$/m);
    expect(text).toMatch(/^Equity \(exact\) \[\$\]\s+128234\.37$/m);
    expect(text).toMatch(/^Signals not filled\s+0$/m);
    expect(text).toContain(`Report: ${report}`);
    expect(existsSync(report)).toBe(true);
    const html = readFileSync(report, 'utf8');
    expect(html).toContain('LightweightCharts');
    expect(html).not.toMatch(/<script[^>]+src=/);
  });

  it('replays a signals file and prints the rejections by reason, as JSON with --json', async () => {
    const console = capture();

    const code = await backtestCommand(
      ['--data', GOOG, '--signals', 'docs/examples/GOOG-alerts.jsonl', '--json', '--no-report'],
      console.io,
    );

    expect(code).toBe(0);
    const result = JSON.parse(console.stdout());
    expect(result.signals.notFilledByReason).toEqual({
      MAX_ORDER_NOTIONAL: 1,
      NOTHING_TO_CLOSE: 1,
      PRICE_COLLAR: 1,
      SHORT_NOT_ALLOWED: 1,
    });
    expect(result.metrics.trades).toBe(3);
    expect(result.trades[0].entryTime).toBe('2005-03-02T14:30:00.000Z');
  });

  it('answers a usage error with exit code 2 and says what is wrong', async () => {
    const cases: [string[], RegExp][] = [
      [['--strategy', 'sma-cross'], /--data FILE is required/],
      [['--data', GOOG], /either --strategy sma-cross\|rsi or --signals FILE/],
      [['--data', GOOG, '--strategy', 'macd'], /--strategy must be sma-cross or rsi/],
      [['--data', GOOG, '--strategy', 'sma-cross', '--fill', 'vwap'], /--fill must be next-open or close/],
      [['--data', GOOG, '--strategy', 'sma-cross', '--fast', 'ten'], /--fast must be a whole number/],
      [['--data', GOOG, '--strategy', 'sma-cross', '--quantity', '1', '--dollars', '5'], /choose one of/],
      [['--data', GOOG, '--bogus'], /Unknown option '--bogus'/],
    ];
    for (const [args, message] of cases) {
      const console = capture();
      expect(await backtestCommand(args, console.io)).toBe(2);
      expect(console.stderr()).toMatch(message);
    }
  });

  it('answers a missing file with exit code 1, and prints the options with --help', async () => {
    const missing = capture();
    expect(
      await backtestCommand(['--data', 'nope.csv', '--strategy', 'rsi', '--no-report'], missing.io),
    ).toBe(1);
    expect(missing.stderr()).toMatch(/nope\.csv/);
    const help = capture();
    expect(await backtestCommand(['--help'], help.io)).toBe(0);
    expect(help.stdout()).toMatch(/^Usage: pinebridge backtest --data FILE/);
  });
});
