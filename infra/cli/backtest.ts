import { readFile, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { parseArgs } from 'node:util';
import { CandleFormatError, parseCandlesCsv, symbolFromFileName } from '../../shared/backtest/candles.js';
import { type FillModel, runBacktest, type SignalSource, type Sizing } from '../../shared/backtest/engine.js';
import { formatConsole, renderHtml, toJson } from '../../shared/backtest/report.js';
import { parseSignalsFile, SignalsFormatError } from '../../shared/backtest/signals.js';
import { rsiReversion, smaCross } from '../../shared/backtest/strategies.js';
import { ConfigError, parseConfig, parseConfigText } from '../../shared/config/load.js';
import type { Config } from '../../shared/config/schema.js';

export interface CommandIo {
  stdout(text: string): void;
  stderr(text: string): void;
}

export const BACKTEST_USAGE = `Usage: pinebridge backtest --data FILE (--strategy sma-cross|rsi | --signals FILE) [options]

Replays history through Pinebridge's own webhook, risk checks, circuit breaker and paper broker
on simulated time, and reports the metrics and every rejected signal by reason.

Input
  --data FILE              OHLCV candles as CSV: ",Open,High,Low,Close,Volume" (first column a date
                           or date-time) or TradingView's chart export "time,open,high,low,close,Volume"
  --symbol SYMBOL          the ticker the alerts name (default: from the data file's name)
  --strategy NAME          a built-in strategy: sma-cross or rsi
  --signals FILE           replay alerts instead: JSON lines ({"time": ISO, "alert": {...}}) or
                           TradingView's Strategy Tester "List of trades" CSV export

Strategy parameters
  --fast N --slow N        sma-cross periods (default 10 and 20)
  --period N               rsi period (default 14)
  --oversold X --overbought X   rsi levels (default 30 and 70)
  --long-short             go short on the opposite signal (default: long only)
  --quantity N             shares per entry
  --dollars X              dollars per entry (default: risk.maxOrderNotional)
  --percent-of-equity X    percent of equity per entry

Execution
  --fill next-open|close   fill at the next bar's open (default) or at the signal bar's close
  --cash X                 starting cash (default: paper.startingCash, 100000)
  --commission X           commission per order, in dollars (default: paper.commissionPerOrder, 0)
  --commission-percent X   commission in percent of each fill's notional (default 0)
  --slippage-bps N         adverse slippage on market fills (default: paper.slippageBps, 0)
  --config FILE            the bot's config.json: the risk limits to apply (default: built-in defaults)

Output
  --json                   print the result as JSON instead of the table
  --report FILE            write the HTML report here (default backtest-report.html)
  --no-report              write no report
  -h, --help               this text
`;

class UsageError extends Error {
  override readonly name = 'UsageError';
}

const OPTIONS = {
  data: { type: 'string' },
  symbol: { type: 'string' },
  strategy: { type: 'string' },
  signals: { type: 'string' },
  fast: { type: 'string' },
  slow: { type: 'string' },
  period: { type: 'string' },
  oversold: { type: 'string' },
  overbought: { type: 'string' },
  'long-short': { type: 'boolean' },
  quantity: { type: 'string' },
  dollars: { type: 'string' },
  'percent-of-equity': { type: 'string' },
  fill: { type: 'string' },
  cash: { type: 'string' },
  commission: { type: 'string' },
  'commission-percent': { type: 'string' },
  'slippage-bps': { type: 'string' },
  config: { type: 'string' },
  json: { type: 'boolean' },
  report: { type: 'string' },
  'no-report': { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

/** A number option, checked: whole when asked, within bounds. */
function numberOption(
  value: string | undefined,
  name: string,
  fallback: number,
  rule: { integer?: boolean; min?: number; max?: number } = {},
): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  const ok =
    value.trim() !== '' &&
    Number.isFinite(n) &&
    (!rule.integer || Number.isInteger(n)) &&
    (rule.min === undefined || n >= rule.min) &&
    (rule.max === undefined || n <= rule.max);
  if (!ok) {
    const what = rule.integer ? 'a whole number' : 'a number';
    const range =
      rule.min !== undefined && rule.max !== undefined
        ? ` between ${rule.min} and ${rule.max}`
        : rule.min !== undefined
          ? ` of at least ${rule.min}`
          : '';
    throw new UsageError(`--${name} must be ${what}${range} (got "${value}")`);
  }
  return n;
}

/** A money option as the decimal string the config holds. */
function moneyOption(value: string | undefined, name: string): string | undefined {
  if (value === undefined) return undefined;
  if (!/^\d+(\.\d+)?$/.test(value.trim()))
    throw new UsageError(`--${name} must be an amount such as 100000 or 0.35 (got "${value}")`);
  return value.trim();
}

function sizingOf(
  values: { quantity?: string; dollars?: string; 'percent-of-equity'?: string },
  config: Config,
): Sizing {
  const given = (['quantity', 'dollars', 'percent-of-equity'] as const).filter(
    (k) => values[k] !== undefined,
  );
  if (given.length > 1)
    throw new UsageError(
      `choose one of --quantity, --dollars and --percent-of-equity (got ${given.map((g) => `--${g}`).join(' and ')})`,
    );
  if (values.quantity !== undefined) {
    numberOption(values.quantity, 'quantity', 0, { min: Number.MIN_VALUE });
    return { quantityType: 'fixed_quantity', quantity: values.quantity.trim() };
  }
  if (values['percent-of-equity'] !== undefined) {
    numberOption(values['percent-of-equity'], 'percent-of-equity', 0, { min: Number.MIN_VALUE, max: 100 });
    return { quantityType: 'percent_of_equity', quantity: values['percent-of-equity'].trim() };
  }
  const dollars = moneyOption(values.dollars, 'dollars') ?? config.risk.maxOrderNotional;
  if (!(Number(dollars) > 0)) throw new UsageError('--dollars must be greater than 0');
  return { quantityType: 'dollar_amount', quantity: dollars };
}

/** TradingView's lightweight-charts standalone build, read from the installed package. */
async function chartLibrary(): Promise<string> {
  const require = createRequire(import.meta.url);
  const entry = require.resolve('lightweight-charts/package.json');
  return readFile(join(dirname(entry), 'dist', 'lightweight-charts.standalone.production.js'), 'utf8');
}

/** A progress bar on stderr, redrawn in place; only for a terminal. */
function progressBar(io: CommandIo): ((done: number, total: number) => void) | undefined {
  if (!process.stderr.isTTY) return undefined;
  let drawn = -1;
  return (done, total) => {
    const percent = Math.floor((done / total) * 100);
    if (percent === drawn) return;
    drawn = percent;
    const width = 30;
    const full = Math.round((percent / 100) * width);
    io.stderr(
      `\r[${'#'.repeat(full)}${'.'.repeat(width - full)}] ${String(percent).padStart(3)}% of ${total.toLocaleString('en-US')} bars`,
    );
    if (done >= total) io.stderr('\n');
  };
}

/**
 * `pinebridge backtest`: parses the arguments, reads the files, runs the backtest and prints the
 * result. Returns the exit code: 0 done, 2 a usage error (with the reason and a pointer to --help),
 * 1 any other failure (an unreadable file, a bad config).
 */
export async function backtestCommand(args: string[], io: CommandIo): Promise<number> {
  let values: ReturnType<typeof parseArgs<{ options: typeof OPTIONS; strict: true }>>['values'];
  try {
    ({ values } = parseArgs({ args, options: OPTIONS, strict: true, allowPositionals: false }));
  } catch (error) {
    io.stderr(
      `pinebridge backtest: ${(error as Error).message}\nRun "pinebridge backtest --help" for the options.\n`,
    );
    return 2;
  }
  if (values.help) {
    io.stdout(BACKTEST_USAGE);
    return 0;
  }
  try {
    return await run(values, io);
  } catch (error) {
    if (error instanceof UsageError) {
      io.stderr(`pinebridge backtest: ${error.message}\nRun "pinebridge backtest --help" for the options.\n`);
      return 2;
    }
    if (
      error instanceof CandleFormatError ||
      error instanceof SignalsFormatError ||
      error instanceof ConfigError ||
      error instanceof RangeError
    ) {
      io.stderr(`pinebridge backtest: ${error.message}\n`);
      return 1;
    }
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'EACCES' || code === 'EISDIR') {
      io.stderr(`pinebridge backtest: ${(error as Error).message}\n`);
      return 1;
    }
    io.stderr(
      `pinebridge backtest failed: ${error instanceof Error ? `${error.name}: ${error.message}` : String(error)}\n`,
    );
    return 1;
  }
}

async function run(
  values: ReturnType<typeof parseArgs<{ options: typeof OPTIONS; strict: true }>>['values'],
  io: CommandIo,
): Promise<number> {
  if (values.data === undefined) throw new UsageError('--data FILE is required (OHLCV candles as CSV)');
  if ((values.strategy === undefined) === (values.signals === undefined)) {
    throw new UsageError('give either --strategy sma-cross|rsi or --signals FILE');
  }
  const fill = (values.fill ?? 'next-open') as FillModel;
  if (fill !== 'next-open' && fill !== 'close')
    throw new UsageError(`--fill must be next-open or close (got "${values.fill}")`);
  if (values['no-report'] && values.report !== undefined)
    throw new UsageError('--report and --no-report contradict each other');
  const symbol = values.symbol?.trim().toUpperCase() ?? symbolFromFileName(values.data);
  if (symbol === undefined || !/^[A-Z0-9./-]{1,20}$/.test(symbol)) {
    throw new UsageError(`cannot tell the symbol from "${values.data}"; give it with --symbol`);
  }

  const base =
    values.config === undefined
      ? {}
      : JSON.parse(JSON.stringify(parseConfigText(await readFile(values.config, 'utf8'), values.config)));
  const paper = {
    ...(base.paper ?? {}),
    ...(values.cash !== undefined ? { startingCash: moneyOption(values.cash, 'cash') } : {}),
    ...(values.commission !== undefined
      ? { commissionPerOrder: moneyOption(values.commission, 'commission') }
      : {}),
    ...(values['slippage-bps'] !== undefined
      ? { slippageBps: numberOption(values['slippage-bps'], 'slippage-bps', 0, { min: 0, max: 1000 }) }
      : {}),
  };
  const config = parseConfig({ ...base, paper }, values.config ?? 'the built-in defaults');
  const commissionPercent = numberOption(values['commission-percent'], 'commission-percent', 0, {
    min: 0,
    max: 100,
  });

  let source: SignalSource;
  if (values.strategy !== undefined) {
    const longShort = values['long-short'] ?? false;
    const strategy =
      values.strategy === 'sma-cross'
        ? smaCross({
            fast: numberOption(values.fast, 'fast', 10, { integer: true, min: 1 }),
            slow: numberOption(values.slow, 'slow', 20, { integer: true, min: 2 }),
            longShort,
          })
        : values.strategy === 'rsi'
          ? rsiReversion({
              period: numberOption(values.period, 'period', 14, { integer: true, min: 2 }),
              oversold: numberOption(values.oversold, 'oversold', 30, { min: 0, max: 100 }),
              overbought: numberOption(values.overbought, 'overbought', 70, { min: 0, max: 100 }),
              longShort,
            })
          : undefined;
    if (strategy === undefined)
      throw new UsageError(`--strategy must be sma-cross or rsi (got "${values.strategy}")`);
    source = { kind: 'strategy', strategy, sizing: sizingOf(values, config) };
  } else {
    const file = values.signals as string;
    for (const option of [
      'fast',
      'slow',
      'period',
      'oversold',
      'overbought',
      'long-short',
      'quantity',
      'dollars',
      'percent-of-equity',
    ] as const) {
      if (values[option] !== undefined)
        throw new UsageError(`--${option} applies to --strategy, not to a --signals replay`);
    }
    source = {
      kind: 'signals',
      signals: parseSignalsFile(await readFile(file, 'utf8'), symbol),
      name: `signals ${file.split(/[\\/]/).pop()}`,
    };
    const foreign = source.signals.find((s) => {
      const ticker =
        typeof s.alert.ticker === 'string'
          ? s.alert.ticker
              .trim()
              .toUpperCase()
              .replace(/^[A-Z_]+:/, '')
          : undefined;
      return ticker !== undefined && ticker !== symbol;
    });
    if (foreign !== undefined) {
      throw new UsageError(
        `${file} ${foreign.origin}: the alert is for ${String(foreign.alert.ticker)}, the data is ${symbol} (the fill model prices orders from the data)`,
      );
    }
  }

  const candles = parseCandlesCsv(await readFile(values.data, 'utf8'));
  if (!config.symbols.allowed.includes(symbol)) {
    io.stderr(
      `warning: ${symbol} is not in symbols.allowed (${config.symbols.allowed.join(', ')}): every signal will be rejected SYMBOL_NOT_ALLOWED. Allow it in a --config file.\n`,
    );
  }
  const progress = progressBar(io);
  const started = performance.now();
  const result = await runBacktest({
    candles,
    symbol,
    config,
    source,
    fill,
    commissionPercent,
    ...(progress ? { onProgress: progress, progressEvery: 8192 } : {}),
  });
  result.elapsedMs = performance.now() - started;

  if (values.json) io.stdout(`${JSON.stringify(toJson(result), null, 2)}\n`);
  else io.stdout(formatConsole(result));
  if (!values['no-report']) {
    const path = values.report ?? 'backtest-report.html';
    await writeFile(path, renderHtml(result, await chartLibrary()), 'utf8');
    if (!values.json) io.stdout(`Report: ${path}\n`);
  }
  return 0;
}
