/**
 * /v2/clock and /v2/calendar from the project's NYSE calendar (shared/domain/calendar.ts), in the
 * shapes Alpaca sends: clock timestamps with the New York offset ("2026-11-27T10:00:00.000-05:00"),
 * calendar times as "HH:MM" (open/close) and "HHMM" (session_open/session_close).
 */
import {
  CALENDAR_YEARS,
  isEarlyClose,
  isTradingDay,
  nextSessionOpen,
  nextTradingDay,
  type SessionDate,
  sessionDateOf,
  sessionOf,
} from '../../../shared/domain/calendar.js';
import type { AlpacaCalendarDay, AlpacaClock } from './wire.js';

const NEW_YORK = new Intl.DateTimeFormat('en-US', {
  timeZone: 'America/New_York',
  hourCycle: 'h23',
  year: 'numeric',
  month: '2-digit',
  day: '2-digit',
  hour: '2-digit',
  minute: '2-digit',
  second: '2-digit',
  timeZoneName: 'longOffset',
});

/** An instant as New York wall time with its UTC offset, e.g. 2026-11-27T10:00:00.000-05:00. */
export function newYorkIso(instant: Date): string {
  const parts = NEW_YORK.formatToParts(instant);
  const part = (type: Intl.DateTimeFormatPartTypes): string =>
    parts.find((p) => p.type === type)?.value ?? '';
  const offset = part('timeZoneName').replace('GMT', '') || '+00:00';
  const ms = String(instant.getUTCMilliseconds()).padStart(3, '0');
  return `${part('year')}-${part('month')}-${part('day')}T${part('hour')}:${part('minute')}:${part('second')}.${ms}${offset}`;
}

export function clockAt(now: Date): AlpacaClock {
  const today = sessionOf(sessionDateOf(now));
  const isOpen = today !== undefined && now >= today.open && now < today.close;
  const nextOpen = nextSessionOpen(now);
  const closing = isOpen ? today : sessionOf(sessionDateOf(nextOpen));
  if (!closing) throw new Error(`no session on ${sessionDateOf(nextOpen)}`);
  return {
    timestamp: newYorkIso(now),
    is_open: isOpen,
    next_open: newYorkIso(nextOpen),
    next_close: newYorkIso(closing.close),
  };
}

/** Alpaca's legacy calendar serves 1970–2029 when no range is given; the NYSE calendar here starts in 2000. */
export const DEFAULT_CALENDAR_RANGE = { start: `${CALENDAR_YEARS.first}-01-01`, end: '2029-12-31' } as const;

const DAY_MS = 86_400_000;

export function calendarDay(date: SessionDate): AlpacaCalendarDay {
  const early = isEarlyClose(date);
  return {
    date,
    open: '09:30',
    close: early ? '13:00' : '16:00',
    session_open: '0400',
    // NYSE's late sessions end at 17:00 on early-close days (see shared/domain/calendar.ts).
    session_close: early ? '1700' : '2000',
    // T+1 on the NYSE calendar (bank holidays on which NYSE trades are not modelled).
    settlement_date: nextTradingDay(date),
  };
}

/** Trading days from start to end inclusive, both 'YYYY-MM-DD', clamped to the calendar's years. */
export function calendarBetween(start: SessionDate, end: SessionDate): AlpacaCalendarDay[] {
  const first = Math.max(Date.parse(`${start}T00:00:00Z`), Date.UTC(CALENDAR_YEARS.first, 0, 1));
  const last = Math.min(Date.parse(`${end}T00:00:00Z`), Date.UTC(CALENDAR_YEARS.last, 11, 30));
  const days: AlpacaCalendarDay[] = [];
  for (let t = first; t <= last; t += DAY_MS) {
    const date = new Date(t).toISOString().slice(0, 10);
    if (isTradingDay(date)) days.push(calendarDay(date));
  }
  return days;
}
