/**
 * How the page writes amounts and times. Amounts arrive as exact decimal strings; they become
 * numbers only here, for display, where a float's last digits cannot matter. Browser-safe.
 */

const usd = new Intl.NumberFormat('en-US', { style: 'currency', currency: 'USD' });
const quantity = new Intl.NumberFormat('en-US', { maximumFractionDigits: 8 });

export const formatMoney = (value: string | null | undefined): string =>
  value === null || value === undefined || value === '' ? '—' : usd.format(Number(value));

/** P&L with its sign, so a gain and a loss differ without colour too. */
export const formatPnl = (value: string | null | undefined): string => {
  if (value === null || value === undefined || value === '') return '—';
  const n = Number(value);
  return n > 0 ? `+${usd.format(n)}` : usd.format(n);
};

export const pnlClass = (value: string | null | undefined): string => {
  const n = Number(value ?? 0);
  return n > 0 ? 'gain' : n < 0 ? 'loss' : '';
};

export const formatQuantity = (value: string | null | undefined): string =>
  value === null || value === undefined || value === '' ? '—' : quantity.format(Number(value));

export const formatPercent = (value: number): string => `${value.toFixed(2)} %`;

/** Local time; today's as hh:mm:ss, older ones with the date. */
export function formatTime(iso: string | null | undefined, now = new Date()): string {
  if (iso === null || iso === undefined) return '—';
  const at = new Date(iso);
  if (Number.isNaN(at.getTime())) return iso;
  const time = at.toLocaleTimeString('en-GB', { hour: '2-digit', minute: '2-digit', second: '2-digit' });
  return at.toDateString() === now.toDateString()
    ? time
    : `${at.toLocaleDateString('en-GB', { day: 'numeric', month: 'short' })} ${time}`;
}

/** When the breaker's state ends by itself, as the CLI says it. */
export const formatResets = (tradingState: string, resetAt: string | null): string =>
  resetAt !== null ? formatTime(resetAt) : tradingState === 'ACTIVE' ? '—' : 'manual reset only';

export interface ChartPoint {
  time: number;
  value: number;
}

/**
 * The equity curve as the chart takes it: seconds since the epoch, strictly increasing. Points in
 * the same second keep the last (the chart refuses repeated times).
 */
export function chartPoints(curve: readonly { at: string; equity: string }[]): ChartPoint[] {
  const points: ChartPoint[] = [];
  for (const point of curve) {
    const time = Math.floor(Date.parse(point.at) / 1000);
    if (!Number.isFinite(time)) continue;
    const value = Number(point.equity);
    const last = points.at(-1);
    if (last !== undefined && time <= last.time) last.value = value;
    else points.push({ time, value });
  }
  return points;
}
