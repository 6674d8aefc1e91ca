/**
 * The NYSE trading calendar: full-day closures, 13:00 early closes and the New York wall clock.
 *
 * Holidays are computed by rule for 2000–2100 (NYSE Rule 7.2 observance), plus the ad-hoc closures
 * below. Checked against NYSE Group's published calendars for 2022–2028 (press releases of
 * 2021-12-27, 2024-11-08 and 2025-12-23). Time always comes in as an argument; nothing here reads a clock.
 */

/** A New York calendar date, 'YYYY-MM-DD'. */
export type SessionDate = string;

export const MARKET_PHASES = ['pre', 'regular', 'post', 'closed'] as const;
export type MarketPhase = (typeof MARKET_PHASES)[number];

export interface Session {
  date: SessionDate;
  /** 09:30 New York time. */
  open: Date;
  /** 16:00 New York time, 13:00 on early-close days. */
  close: Date;
  earlyClose: boolean;
}

/** The span the observance rules below were checked for; other years throw rather than guess. */
export const CALENDAR_YEARS = { first: 2000, last: 2100 } as const;

/** Market-wide closures no rule predicts. */
const SPECIAL_CLOSURES: Readonly<Record<SessionDate, string>> = {
  '2001-09-11': 'September 11 attacks',
  '2001-09-12': 'September 11 attacks',
  '2001-09-13': 'September 11 attacks',
  '2001-09-14': 'September 11 attacks',
  '2004-06-11': 'National Day of Mourning for President Ronald Reagan',
  '2007-01-02': 'National Day of Mourning for President Gerald R. Ford',
  '2012-10-29': 'Hurricane Sandy',
  '2012-10-30': 'Hurricane Sandy',
  '2018-12-05': 'National Day of Mourning for President George H. W. Bush',
  '2025-01-09': 'National Day of Mourning for President Jimmy Carter',
};

const HOURS = {
  preOpen: [4, 0],
  open: [9, 30],
  close: [16, 0],
  earlyClose: [13, 0],
  postClose: [20, 0],
  // NYSE's releases: on early-close days the late (post-market) sessions close at 5:00 p.m.
  earlyPostClose: [17, 0],
} as const satisfies Record<string, readonly [number, number]>;

const MS_PER_DAY = 86_400_000;
const WEEKDAY = { sunday: 0, monday: 1, wednesday: 3, thursday: 4, friday: 5, saturday: 6 } as const;

// ---- civil dates (UTC arithmetic on day numbers, so no time zone can leak in) ----

const dayNumber = (year: number, month: number, day: number): number =>
  Date.UTC(year, month - 1, day) / MS_PER_DAY;
const fromDayNumber = (n: number): SessionDate => new Date(n * MS_PER_DAY).toISOString().slice(0, 10);
const weekdayOf = (n: number): number => new Date(n * MS_PER_DAY).getUTCDay();
const isWeekend = (n: number): boolean =>
  weekdayOf(n) === WEEKDAY.saturday || weekdayOf(n) === WEEKDAY.sunday;

function parse(date: SessionDate): { year: number; day: number } {
  const match = /^(\d{4})-(\d{2})-(\d{2})$/.exec(date);
  const [year, month, day] = (match ?? []).slice(1).map(Number);
  if (
    year === undefined ||
    month === undefined ||
    day === undefined ||
    fromDayNumber(dayNumber(year, month, day)) !== date
  ) {
    throw new RangeError(`Not a session date (YYYY-MM-DD): '${date}'`);
  }
  if (year < CALENDAR_YEARS.first || year > CALENDAR_YEARS.last) {
    throw new RangeError(
      `${date} is outside the calendar's ${CALENDAR_YEARS.first}–${CALENDAR_YEARS.last} range`,
    );
  }
  return { year, day: dayNumber(year, month, day) };
}

/** Day number of the nth (1-based) given weekday of a month; n = -1 is the last one. */
function nthWeekday(year: number, month: number, weekday: number, n: number): number {
  if (n < 0) {
    const last = dayNumber(year, month + 1, 0);
    return last - ((weekdayOf(last) - weekday + 7) % 7);
  }
  const first = dayNumber(year, month, 1);
  return first + ((weekday - weekdayOf(first) + 7) % 7) + 7 * (n - 1);
}

/** Easter Sunday by the Anonymous Gregorian computus (Meeus/Jones/Butcher). */
function easterSunday(year: number): number {
  const a = year % 19;
  const b = Math.floor(year / 100);
  const c = year % 100;
  const d = Math.floor(b / 4);
  const e = b % 4;
  const f = Math.floor((b + 8) / 25);
  const g = Math.floor((b - f + 1) / 3);
  const h = (19 * a + b - d - g + 15) % 30;
  const i = Math.floor(c / 4);
  const k = c % 4;
  const l = (32 + 2 * e + 2 * i - h - k) % 7;
  const m = Math.floor((a + 11 * h + 22 * l) / 451);
  const month = Math.floor((h + l - 7 * m + 114) / 31);
  return dayNumber(year, month, ((h + l - 7 * m + 114) % 31) + 1);
}

/**
 * NYSE Rule 7.2: a holiday on Sunday moves to Monday, on Saturday to the Friday before — except
 * New Year's Day, which is not observed at all when it falls on a Saturday (2011, 2022, 2028).
 */
function observed(n: number, saturdayMovesToFriday: boolean): number | undefined {
  if (weekdayOf(n) === WEEKDAY.sunday) return n + 1;
  if (weekdayOf(n) === WEEKDAY.saturday) return saturdayMovesToFriday ? n - 1 : undefined;
  return n;
}

interface YearCalendar {
  closures: Map<SessionDate, string>;
  earlyCloses: Set<SessionDate>;
}

function buildYear(year: number): YearCalendar {
  const closures = new Map<SessionDate, string>();
  const add = (n: number | undefined, name: string, actual?: number): void => {
    if (n === undefined) return;
    closures.set(fromDayNumber(n), actual === undefined || n === actual ? name : `${name} (observed)`);
  };
  const fixed = (month: number, day: number, name: string, saturdayMovesToFriday = true): void => {
    const actual = dayNumber(year, month, day);
    add(observed(actual, saturdayMovesToFriday), name, actual);
  };
  fixed(1, 1, "New Year's Day", false);
  add(nthWeekday(year, 1, WEEKDAY.monday, 3), 'Martin Luther King, Jr. Day');
  add(nthWeekday(year, 2, WEEKDAY.monday, 3), "Washington's Birthday");
  add(easterSunday(year) - 2, 'Good Friday');
  add(nthWeekday(year, 5, WEEKDAY.monday, -1), 'Memorial Day');
  if (year >= 2022) fixed(6, 19, 'Juneteenth National Independence Day');
  fixed(7, 4, 'Independence Day');
  add(nthWeekday(year, 9, WEEKDAY.monday, 1), 'Labor Day');
  const thanksgiving = nthWeekday(year, 11, WEEKDAY.thursday, 4);
  add(thanksgiving, 'Thanksgiving Day');
  fixed(12, 25, 'Christmas Day');
  for (const [date, name] of Object.entries(SPECIAL_CLOSURES)) {
    if (date.startsWith(`${year}-`)) closures.set(date, name);
  }

  // Early closes follow NYSE's published practice (cross-checked with pandas_market_calendars):
  // July 3 when it is Mon–Thu (a Wednesday only since 2013; before that a Thursday July 4 moved the
  // early close to Friday July 5, e.g. 2002); the day after Thanksgiving; Dec 24 when it is Mon–Thu.
  // No early close when the eve is itself the observed holiday (July 3 2026, Dec 24 2027) or when
  // the holiday is observed on a Monday (no July 2 2027, no Dec 23 2022).
  const earlyCloses = new Set<SessionDate>([fromDayNumber(thanksgiving + 1)]);
  const july3 = dayNumber(year, 7, 3);
  const july3Weekday = weekdayOf(july3);
  if (july3Weekday >= WEEKDAY.monday && july3Weekday <= WEEKDAY.thursday) {
    earlyCloses.add(fromDayNumber(july3Weekday === WEEKDAY.wednesday && year < 2013 ? july3 + 2 : july3));
  }
  const christmasEve = dayNumber(year, 12, 24);
  if (weekdayOf(christmasEve) >= WEEKDAY.monday && weekdayOf(christmasEve) <= WEEKDAY.thursday) {
    earlyCloses.add(fromDayNumber(christmasEve));
  }
  return { closures, earlyCloses };
}

// Memoised per year: the rules are pure, and callers walk day by day.
const years = new Map<number, YearCalendar>();
function yearOf(year: number): YearCalendar {
  let calendar = years.get(year);
  if (!calendar) {
    calendar = buildYear(year);
    years.set(year, calendar);
  }
  return calendar;
}

// ---- New York wall clock ----

const NEW_YORK = new Intl.DateTimeFormat('en-US', {
  timeZone: 'America/New_York',
  hourCycle: 'h23',
  year: 'numeric',
  month: '2-digit',
  day: '2-digit',
  hour: '2-digit',
  minute: '2-digit',
  second: '2-digit',
});

/** The New York wall-clock reading of an instant, expressed as if it were a UTC timestamp. */
function newYorkWallMs(instant: Date): number {
  const parts = NEW_YORK.formatToParts(instant);
  const part = (type: Intl.DateTimeFormatPartTypes): number =>
    Number(parts.find((p) => p.type === type)?.value);
  const t = instant.getTime();
  const wall = Date.UTC(
    part('year'),
    part('month') - 1,
    part('day'),
    part('hour'),
    part('minute'),
    part('second'),
  );
  return wall + (((t % 1000) + 1000) % 1000);
}

const offsetMs = (t: number): number => newYorkWallMs(new Date(t)) - t;

/**
 * The instant at which New York clocks read `hour:minute` on `date`. Around the 2 a.m. DST changes it
 * resolves like Temporal's 'compatible': a time skipped in spring maps forward (02:30 → 03:30 EDT), a
 * time repeated in autumn maps to its first (EDT) occurrence.
 */
export function newYorkInstant(date: SessionDate, hour: number, minute: number): Date {
  const wall = parse(date).day * MS_PER_DAY + (hour * 60 + minute) * 60_000;
  const guess = wall - offsetMs(wall);
  const refined = wall - offsetMs(guess);
  return new Date(newYorkWallMs(new Date(refined)) === wall ? refined : guess);
}

const at = (date: SessionDate, [hour, minute]: readonly [number, number]): Date =>
  newYorkInstant(date, hour, minute);

// ---- public calendar ----

/** The New York calendar date of an instant (so 2026-01-06T03:00Z is still '2026-01-05'). */
export function sessionDateOf(instant: Date): SessionDate {
  const t = instant.getTime();
  const hour = utcHourOf(t);
  return hour.date ?? new Date(t + hour.offset).toISOString().slice(0, 10);
}

// New York's UTC offset only changes on a whole UTC hour (06:00 or 07:00 UTC), so it is constant
// within each UTC hour and can be kept per hour instead of formatted on every call. So is the New
// York date, unless the hour straddles a New York midnight (offsets of a whole number of hours
// never do; the local mean time before 1883 does).
interface UtcHour {
  offset: number;
  /** The New York date all hour long, if it is one. */
  date: SessionDate | undefined;
}
const utcHours = new Map<number, UtcHour>();

function utcHourOf(t: number): UtcHour {
  const index = Math.floor(t / 3_600_000);
  let hour = utcHours.get(index);
  if (hour === undefined) {
    const start = index * 3_600_000;
    const offset = offsetMs(start);
    const first = start + offset;
    const last = first + 3_599_999;
    const oneDate =
      Math.floor(first / MS_PER_DAY) === Math.floor(last / MS_PER_DAY) && Math.abs(first) < 8e15;
    hour = { offset, date: oneDate ? new Date(first).toISOString().slice(0, 10) : undefined };
    if (utcHours.size > 4096) utcHours.clear();
    utcHours.set(index, hour);
  }
  return hour;
}

/** Name of the NYSE full-day closure on `date` (an observed holiday or a special closure), if any. */
export function holidayName(date: SessionDate): string | undefined {
  return yearOf(parse(date).year).closures.get(date);
}

/** True on weekdays that are not NYSE full-day closures. */
export function isTradingDay(date: SessionDate): boolean {
  return !isWeekend(parse(date).day) && holidayName(date) === undefined;
}

/** True when the regular session of a trading day ends at 13:00 New York time. */
export function isEarlyClose(date: SessionDate): boolean {
  return isTradingDay(date) && yearOf(parse(date).year).earlyCloses.has(date);
}

/** The regular session of `date` as UTC instants, or undefined when the market is closed all day. */
export function sessionOf(date: SessionDate): Session | undefined {
  if (!isTradingDay(date)) return undefined;
  const earlyClose = isEarlyClose(date);
  return {
    date,
    open: at(date, HOURS.open),
    close: at(date, earlyClose ? HOURS.earlyClose : HOURS.close),
    earlyClose,
  };
}

/**
 * The market phase at an instant: 'pre' 04:00–09:30, 'regular' 09:30–close, 'post' close–20:00
 * (close–17:00 on early-close days, when NYSE's late sessions end at 5 p.m.), 'closed' otherwise and
 * all day on weekends and holidays. Each phase includes its start and excludes its end.
 */
export function marketPhaseAt(instant: Date): MarketPhase {
  const bounds = phaseBoundsOf(sessionDateOf(instant));
  if (!bounds) return 'closed';
  const t = instant.getTime();
  if (t < bounds.preOpen) return 'closed';
  if (t < bounds.open) return 'pre';
  if (t < bounds.close) return 'regular';
  return t < bounds.postClose ? 'post' : 'closed';
}

// Every risk check asks for the phase; the time-zone arithmetic behind a day's boundaries is the
// expensive part (Intl formatting), and a day's boundaries never change, so they are kept.
const phaseBounds = new Map<
  SessionDate,
  { preOpen: number; open: number; close: number; postClose: number } | null
>();

function phaseBoundsOf(date: SessionDate) {
  let bounds = phaseBounds.get(date);
  if (bounds === undefined) {
    const session = sessionOf(date);
    bounds = session
      ? {
          preOpen: at(date, HOURS.preOpen).getTime(),
          open: session.open.getTime(),
          close: session.close.getTime(),
          postClose: at(date, session.earlyClose ? HOURS.earlyPostClose : HOURS.postClose).getTime(),
        }
      : null;
    if (phaseBounds.size > 4096) phaseBounds.clear();
    phaseBounds.set(date, bounds);
  }
  return bounds;
}

function stepTradingDay(date: SessionDate, step: 1 | -1): SessionDate {
  let n = parse(date).day + step;
  while (!isTradingDay(fromDayNumber(n))) n += step;
  return fromDayNumber(n);
}

/** The first trading day strictly after `date`. */
export const nextTradingDay = (date: SessionDate): SessionDate => stepTradingDay(date, 1);

/** The last trading day strictly before `date`. */
export const previousTradingDay = (date: SessionDate): SessionDate => stepTradingDay(date, -1);

/**
 * The `n` trading days ending at `date` (inclusive) if it is a trading day, else ending at the
 * trading day before it. Oldest first, so the last element is the most recent session.
 */
export function tradingDaysBack(date: SessionDate, n: number): SessionDate[] {
  if (!Number.isInteger(n) || n < 0) throw new RangeError(`tradingDaysBack needs a count >= 0, got ${n}`);
  const days: SessionDate[] = [];
  let day = isTradingDay(date) ? date : previousTradingDay(date);
  while (days.length < n) {
    days.unshift(day);
    if (days.length < n) day = previousTradingDay(day);
  }
  return days;
}

/**
 * The next regular-session open strictly after `instant`: today's open if the instant is before it on
 * a trading day, otherwise the open of the next trading day.
 */
export function nextSessionOpen(instant: Date): Date {
  const today = sessionOf(sessionDateOf(instant));
  if (today && instant.getTime() < today.open.getTime()) return today.open;
  return at(nextTradingDay(sessionDateOf(instant)), HOURS.open);
}
