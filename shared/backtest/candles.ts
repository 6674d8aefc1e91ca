import { CALENDAR_YEARS, newYorkInstant, sessionOf } from '../domain/calendar.js';

const CALENDAR_START = Date.UTC(CALENDAR_YEARS.first, 0, 2);
const CALENDAR_END = Date.UTC(CALENDAR_YEARS.last, 11, 30);

/**
 * OHLCV candles in columns (one Float64Array per field): a million bars take 56 MB this way,
 * against several hundred as one object per bar, and the engine reads them in a tight loop.
 */
export interface Candles {
  length: number;
  /** When each bar opens, epoch milliseconds, strictly increasing. */
  time: Float64Array;
  /** When each bar closes (the moment a `close` fill or a strategy's decision happens). */
  closeTime: Float64Array;
  open: Float64Array;
  high: Float64Array;
  low: Float64Array;
  close: Float64Array;
  volume: Float64Array;
  /** Rows were dates without a time of day (daily, weekly or monthly bars). */
  dateOnly: boolean;
}

/** A CSV file that cannot be read as candles; the message names the line at fault. */
export class CandleFormatError extends Error {
  override readonly name = 'CandleFormatError';
}

const DATE_ONLY = /^\d{4}-\d{2}-\d{2}$/;
const LOCAL_DATE_TIME = /^(\d{4}-\d{2}-\d{2})[ T](\d{2}):(\d{2})(?::(\d{2})(\.\d+)?)?$/;
const ZONED = /^\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})$/;
const UNIX = /^\d{9,13}(\.\d+)?$/;

/**
 * A time cell as epoch milliseconds, or undefined when it is none of the accepted forms:
 * - a date (`2004-08-19`): the NYSE session's open that day, 09:30 New York time — so the risk
 *   engine's sessions, market hours and day-trade counting see the bar where the market traded it;
 * - a date and time without a zone (`2017-04-19 09:00:00`): read as UTC;
 * - ISO 8601 with `Z` or an offset;
 * - unix time, in seconds (TradingView's chart export) or milliseconds.
 */
export function parseTime(text: string): number | undefined {
  const cell = text.trim();
  if (DATE_ONLY.test(cell)) return dayOpen(cell);
  const local = LOCAL_DATE_TIME.exec(cell);
  if (local !== null) {
    const ms = Date.parse(`${local[1]}T${local[2]}:${local[3]}:${local[4] ?? '00'}${local[5] ?? ''}Z`);
    return Number.isNaN(ms) ? undefined : ms;
  }
  if (ZONED.test(cell)) {
    const ms = Date.parse(cell.replace(' ', 'T'));
    return Number.isNaN(ms) ? undefined : ms;
  }
  if (UNIX.test(cell)) {
    const value = Number(cell);
    return value < 1e11 ? Math.round(value * 1000) : Math.round(value);
  }
  return undefined;
}

/** 09:30 New York time on a date (the NYSE open; also used for non-trading days such as a crypto weekend). */
function dayOpen(date: string): number | undefined {
  try {
    return newYorkInstant(date, 9, 30).getTime();
  } catch {
    return undefined;
  }
}

/** One minute before the regular session ends that day (the closing auction accepts orders until then). */
function dayClose(date: string): number {
  const session = sessionOf(date);
  const close = session?.close ?? newYorkInstant(date, 16, 0);
  return close.getTime() - 60_000;
}

const HEADER_NAMES = {
  time: ['', 'time', 'date', 'datetime', 'date/time', 'timestamp', 'index'],
  open: ['open'],
  high: ['high'],
  low: ['low'],
  close: ['close', 'adj close'],
  volume: ['volume', 'vol'],
} as const;
type Field = keyof typeof HEADER_NAMES;

function columnsOf(header: string[]): Record<Field, number> {
  const names = header.map((h) => h.trim().replace(/^"|"$/g, '').toLowerCase());
  const find = (field: Field): number => {
    const wanted: readonly string[] = HEADER_NAMES[field];
    // The first column holds the time whatever its name (pandas writes an empty header there).
    if (field === 'time') return 0;
    return names.findIndex((n) => wanted.includes(n));
  };
  const columns = {
    time: find('time'),
    open: find('open'),
    high: find('high'),
    low: find('low'),
    close: names.indexOf('close') !== -1 ? names.indexOf('close') : find('close'),
    volume: find('volume'),
  };
  const missing = (['open', 'high', 'low', 'close'] as const).filter((f) => columns[f] === -1);
  if (missing.length > 0) {
    throw new CandleFormatError(
      `line 1: no ${missing.join(', ')} column; expected a header such as ",Open,High,Low,Close,Volume" or "time,open,high,low,close,Volume"`,
    );
  }
  return columns;
}

/**
 * Reads candles from CSV text: the layout of pandas/yfinance exports (`,Open,High,Low,Close,Volume`,
 * the first column a date or date-time) and TradingView's chart-data export
 * (`time,open,high,low,close,Volume`, unix seconds or ISO time; extra indicator columns ignored).
 * Bars must be in time order; a row with a missing or non-positive price is an error naming its line.
 */
export function parseCandlesCsv(text: string): Candles {
  const lines = text.replace(/^\uFEFF/, '').split(/\r?\n/);
  const header = lines[0];
  if (header === undefined || header.trim() === '') throw new CandleFormatError('the file is empty');
  const columns = columnsOf(header.split(','));
  const capacity = lines.length - 1;
  const time = new Float64Array(capacity);
  const open = new Float64Array(capacity);
  const high = new Float64Array(capacity);
  const low = new Float64Array(capacity);
  const close = new Float64Array(capacity);
  const volume = new Float64Array(capacity);
  let n = 0;
  let dateOnly = true;
  for (let i = 1; i < lines.length; i++) {
    const line = lines[i] as string;
    if (line.trim() === '') continue;
    const cells = line.split(',');
    const where = `line ${i + 1}`;
    const timeCell = cells[columns.time] ?? '';
    const t = parseTime(timeCell);
    if (t === undefined) {
      throw new CandleFormatError(
        `${where}: "${timeCell.slice(0, 40)}" is not a time (a date, a date-time, ISO 8601 or unix seconds); dates must lie in 2000–2100`,
      );
    }
    if (!DATE_ONLY.test(timeCell.trim())) dateOnly = false;
    if (n > 0 && t <= (time[n - 1] as number)) {
      throw new CandleFormatError(`${where}: bars must be in time order without repeats`);
    }
    const price = (field: 'open' | 'high' | 'low' | 'close'): number => {
      const value = Number(cells[columns[field]]);
      if (!(Number.isFinite(value) && value > 0)) {
        throw new CandleFormatError(
          `${where}: ${field} "${cells[columns[field]] ?? ''}" is not a positive number`,
        );
      }
      return value;
    };
    time[n] = t;
    open[n] = price('open');
    high[n] = price('high');
    low[n] = price('low');
    close[n] = price('close');
    const v = columns.volume === -1 ? 0 : Number(cells[columns.volume]);
    volume[n] = Number.isFinite(v) ? v : 0;
    n += 1;
  }
  if (n === 0) throw new CandleFormatError('the file has a header but no bars');
  return candlesFrom(
    {
      time: time.subarray(0, n),
      open: open.subarray(0, n),
      high: high.subarray(0, n),
      low: low.subarray(0, n),
      close: close.subarray(0, n),
      volume: volume.subarray(0, n),
    },
    dateOnly,
  );
}

/**
 * Candles from columns already in memory (the benchmark's synthetic series). Each bar closes when
 * the next opens, or after the typical bar length (the median spacing) if that comes first; a
 * date-only bar closes a minute before that day's NYSE close.
 */
export function candlesFrom(
  columns: Pick<Candles, 'time' | 'open' | 'high' | 'low' | 'close' | 'volume'>,
  dateOnly = false,
): Candles {
  const n = columns.time.length;
  const first = columns.time[0];
  const last = columns.time[n - 1];
  if (first !== undefined && last !== undefined && (first < CALENDAR_START || last >= CALENDAR_END)) {
    throw new CandleFormatError(
      `bars run from ${new Date(first).toISOString()} to ${new Date(last).toISOString()}; the risk engine's NYSE calendar covers ${CALENDAR_YEARS.first}–${CALENDAR_YEARS.last}`,
    );
  }
  const closeTime = new Float64Array(n);
  if (dateOnly) {
    for (let i = 0; i < n; i++) {
      // A date-only bar opens at 09:30 New York time, the same UTC date.
      const date = new Date(columns.time[i] as number).toISOString().slice(0, 10);
      closeTime[i] = Math.max(dayClose(date), (columns.time[i] as number) + 1);
    }
  } else {
    const spacing = medianSpacing(columns.time);
    for (let i = 0; i < n; i++) {
      const t = columns.time[i] as number;
      const next = i + 1 < n ? (columns.time[i + 1] as number) : Number.POSITIVE_INFINITY;
      closeTime[i] = Math.min(t + spacing, next);
    }
  }
  return { length: n, ...columns, closeTime, dateOnly };
}

/** The median gap between bars (one minute when there is a single bar), sampled over up to 10,001 bars. */
export function medianSpacing(time: Float64Array): number {
  const n = time.length;
  if (n < 2) return 60_000;
  const step = Math.max(1, Math.floor((n - 1) / 10_000));
  const gaps: number[] = [];
  for (let i = step; i < n; i += step) gaps.push((time[i] as number) - (time[i - step] as number));
  gaps.sort((a, b) => a - b);
  return (gaps[Math.floor(gaps.length / 2)] as number) / step;
}

/** The symbol a data file's name suggests: `GOOG.csv` → GOOG, TradingView's `NASDAQ_GOOG, 1D.csv` → GOOG. */
export function symbolFromFileName(fileName: string): string | undefined {
  const base = (fileName.split(/[\\/]/).pop() ?? '').replace(/\.[^.]*$/, '');
  const beforeComma = base.split(',')[0] ?? '';
  const afterExchange = beforeComma.includes('_') ? (beforeComma.split('_').pop() ?? '') : beforeComma;
  const symbol = afterExchange.trim().toUpperCase();
  return /^[A-Z0-9./-]{1,20}$/.test(symbol) ? symbol : undefined;
}
