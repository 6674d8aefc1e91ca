import * as z from 'zod';
import { parseTime } from './candles.js';

/** An alert as it would have reached the webhook, and when. */
export interface ReplaySignal {
  /** When the alert reached the bot, epoch milliseconds. */
  at: number;
  /** The alert payload, exactly as the webhook would receive it (validated later, by the webhook's own rules). */
  alert: Record<string, unknown>;
  /** Where it came from, for messages: `line 3`. */
  origin: string;
}

/** A signals file that cannot be read; the message names the line at fault. */
export class SignalsFormatError extends Error {
  override readonly name = 'SignalsFormatError';
}

const Timed = z.object({ time: z.string(), alert: z.record(z.string(), z.unknown()) }).strict();
const AlertWithTime = z.record(z.string(), z.unknown()).and(z.object({ time: z.string() }));

/**
 * JSON lines, one alert per line, either `{"time": "<ISO>", "alert": {…the alert payload…}}` or the
 * alert payload itself carrying its own `time` (TradingView's `{{timenow}}`). Blank lines and lines
 * starting with `#` or `//` are skipped.
 */
export function parseSignalsJsonLines(text: string): ReplaySignal[] {
  const out: ReplaySignal[] = [];
  const lines = text.replace(/^\uFEFF/, '').split(/\r?\n/);
  lines.forEach((raw, index) => {
    const line = raw.trim();
    const origin = `line ${index + 1}`;
    if (line === '' || line.startsWith('#') || line.startsWith('//')) return;
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch {
      throw new SignalsFormatError(`${origin}: not valid JSON`);
    }
    const timed = Timed.safeParse(value);
    const parsed = timed.success
      ? { time: timed.data.time, alert: timed.data.alert }
      : AlertWithTime.safeParse(value).success
        ? { time: String((value as { time: string }).time), alert: value as Record<string, unknown> }
        : undefined;
    if (parsed === undefined) {
      throw new SignalsFormatError(
        `${origin}: expected {"time": "<ISO time>", "alert": {…}} or an alert with its own "time"`,
      );
    }
    const at = parseTime(parsed.time);
    if (at === undefined)
      throw new SignalsFormatError(`${origin}: time "${parsed.time.slice(0, 40)}" is not a time`);
    out.push({ at, alert: parsed.alert, origin });
  });
  return out;
}

/** Splits one CSV line, honouring double quotes (RFC 4180). */
export function splitCsvLine(line: string): string[] {
  const cells: string[] = [];
  let cell = '';
  let quoted = false;
  for (let i = 0; i < line.length; i++) {
    const c = line[i];
    if (quoted) {
      if (c === '"' && line[i + 1] === '"') {
        cell += '"';
        i += 1;
      } else if (c === '"') quoted = false;
      else cell += c;
    } else if (c === '"') quoted = true;
    else if (c === ',') {
      cells.push(cell);
      cell = '';
    } else cell += c;
  }
  cells.push(cell);
  return cells;
}

interface TradeRow {
  at: number;
  entry: boolean;
  long: boolean;
  quantity: string;
  origin: string;
}

/**
 * TradingView's Strategy Tester "List of trades" export (CSV; both the `Date/Time` … `Contracts`
 * layout and the newer `Date and time` … `Position size (qty)` one). Every row is an order the
 * strategy filled; each becomes the alert that strategy would have sent:
 * - `Entry Long` → buy, `Entry Short` → sell (the row's quantity);
 * - `Exit Long` / `Exit Short` → exit of the row's quantity;
 * - an exit and an entry the other way at the same time — TradingView's reversal, one order — are
 *   one alert, as TradingView sends it: buy or sell of both quantities together;
 * - the exit row of a trade still open at the end (signal `Open`) is not an order and is skipped.
 * The rows' prices are not used: the fill model prices every order from the candles.
 */
export function parseTradingViewTrades(text: string, symbol: string): ReplaySignal[] {
  const lines = text.replace(/^\uFEFF/, '').split(/\r?\n/);
  const header = splitCsvLine(lines[0] ?? '').map((h) => h.trim().toLowerCase());
  const column = (test: (name: string) => boolean, what: string): number => {
    const index = header.findIndex(test);
    if (index === -1) throw new SignalsFormatError(`line 1: no ${what} column in the List of trades export`);
    return index;
  };
  const typeColumn = column((h) => h === 'type', '"Type"');
  const timeColumn = column((h) => h.startsWith('date'), '"Date/Time"');
  const quantityColumn = column(
    (h) => h === 'contracts' || h === 'quantity' || h === 'qty' || h.startsWith('position size (qty'),
    '"Contracts" (or "Position size (qty)")',
  );
  const signalColumn = header.indexOf('signal');
  const rows: TradeRow[] = [];
  for (let i = 1; i < lines.length; i++) {
    const line = lines[i] as string;
    if (line.trim() === '') continue;
    const origin = `line ${i + 1}`;
    const cells = splitCsvLine(line);
    const type = (cells[typeColumn] ?? '').trim().toLowerCase();
    const match = /^(entry|exit) (long|short)$/.exec(type);
    if (match === null)
      throw new SignalsFormatError(`${origin}: type "${type}" is not Entry/Exit Long/Short`);
    const entry = match[1] === 'entry';
    if (!entry && signalColumn !== -1 && (cells[signalColumn] ?? '').trim().toLowerCase() === 'open')
      continue;
    const timeCell = (cells[timeColumn] ?? '').trim();
    const at = parseTime(timeCell);
    if (at === undefined) {
      throw new SignalsFormatError(
        `${origin}: "${timeCell}" is not a time; export with the chart's time zone set to UTC`,
      );
    }
    const quantity = (cells[quantityColumn] ?? '').trim().replaceAll(',', '');
    if (!/^\d+(\.\d+)?$/.test(quantity) || Number(quantity) <= 0) {
      throw new SignalsFormatError(`${origin}: quantity "${quantity}" is not a positive number`);
    }
    rows.push({ at, entry, long: match[2] === 'long', quantity, origin });
  }
  // In time order; at one instant exits before entries, as the strategy closed before it opened.
  rows.sort((a, b) => a.at - b.at || Number(a.entry) - Number(b.entry));
  const out: ReplaySignal[] = [];
  for (let i = 0; i < rows.length; i++) {
    const row = rows[i] as TradeRow;
    const next = rows[i + 1];
    if (!row.entry && next !== undefined && next.entry && next.at === row.at && next.long !== row.long) {
      out.push({
        at: row.at,
        alert: {
          ticker: symbol,
          action: next.long ? 'buy' : 'sell',
          quantity: sumOf(row.quantity, next.quantity),
        },
        origin: `${row.origin} and ${next.origin}`,
      });
      i += 1;
      continue;
    }
    const alert = row.entry
      ? { ticker: symbol, action: row.long ? 'buy' : 'sell', quantity: row.quantity }
      : { ticker: symbol, action: 'exit', quantity: row.quantity };
    out.push({ at: row.at, alert, origin: row.origin });
  }
  return out;
}

/** The sum of two decimal strings, exactly (quantities of up to 9 decimal places). */
function sumOf(a: string, b: string): string {
  const places = Math.max((a.split('.')[1] ?? '').length, (b.split('.')[1] ?? '').length);
  const scale = 10n ** BigInt(places);
  const toUnits = (s: string) => {
    const [whole = '0', fraction = ''] = s.split('.');
    return BigInt(whole) * scale + BigInt(fraction.padEnd(places, '0') || '0');
  };
  const total = toUnits(a) + toUnits(b);
  if (places === 0) return total.toString();
  const text = total.toString().padStart(places + 1, '0');
  return `${text.slice(0, -places)}.${text.slice(-places)}`.replace(/\.?0+$/, '');
}

/** A signals file by its content: JSON lines when the first line opens an object, else a List of trades CSV. */
export function parseSignalsFile(text: string, symbol: string): ReplaySignal[] {
  const first = text
    .replace(/^\uFEFF/, '')
    .split(/\r?\n/)
    .find((l) => l.trim() !== '' && !l.trim().startsWith('#') && !l.trim().startsWith('//'));
  if (first === undefined) throw new SignalsFormatError('the signals file is empty');
  return first.trim().startsWith('{') ? parseSignalsJsonLines(text) : parseTradingViewTrades(text, symbol);
}
