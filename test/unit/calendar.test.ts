import { describe, expect, it } from 'vitest';
import {
  holidayName,
  isEarlyClose,
  isTradingDay,
  marketPhaseAt,
  newYorkInstant,
  nextSessionOpen,
  nextTradingDay,
  previousTradingDay,
  type SessionDate,
  sessionDateOf,
  sessionOf,
  tradingDaysBack,
} from '../../shared/domain/calendar.js';

/**
 * NYSE Group's published holiday and early-close calendars (press releases of 2021-12-27 for 2022–2024,
 * 2024-11-08 for 2025–2027, 2025-12-23 for 2026–2028), plus the Carter day of mourning (2025-01-09).
 */
const PUBLISHED: Record<number, { closures: string[]; earlyCloses: string[] }> = {
  2022: {
    closures: ['01-17', '02-21', '04-15', '05-30', '06-20', '07-04', '09-05', '11-24', '12-26'],
    earlyCloses: ['11-25'],
  },
  2023: {
    closures: ['01-02', '01-16', '02-20', '04-07', '05-29', '06-19', '07-04', '09-04', '11-23', '12-25'],
    earlyCloses: ['07-03', '11-24'],
  },
  2024: {
    closures: ['01-01', '01-15', '02-19', '03-29', '05-27', '06-19', '07-04', '09-02', '11-28', '12-25'],
    earlyCloses: ['07-03', '11-29', '12-24'],
  },
  2025: {
    closures: [
      '01-01',
      '01-09',
      '01-20',
      '02-17',
      '04-18',
      '05-26',
      '06-19',
      '07-04',
      '09-01',
      '11-27',
      '12-25',
    ],
    earlyCloses: ['07-03', '11-28', '12-24'],
  },
  2026: {
    closures: ['01-01', '01-19', '02-16', '04-03', '05-25', '06-19', '07-03', '09-07', '11-26', '12-25'],
    earlyCloses: ['11-27', '12-24'],
  },
  2027: {
    closures: ['01-01', '01-18', '02-15', '03-26', '05-31', '06-18', '07-05', '09-06', '11-25', '12-24'],
    earlyCloses: ['11-26'],
  },
  2028: {
    closures: ['01-17', '02-21', '04-14', '05-29', '06-19', '07-04', '09-04', '11-23', '12-25'],
    earlyCloses: ['07-03', '11-24'],
  },
};

function weekdaysOf(year: number): SessionDate[] {
  const days: SessionDate[] = [];
  for (let t = Date.UTC(year, 0, 1); t < Date.UTC(year + 1, 0, 1); t += 86_400_000) {
    const day = new Date(t);
    if (day.getUTCDay() !== 0 && day.getUTCDay() !== 6) days.push(day.toISOString().slice(0, 10));
  }
  return days;
}

const at = (iso: string): Date => new Date(iso);

describe('NYSE full-day closures and early closes match the published calendars', () => {
  for (const [year, published] of Object.entries(PUBLISHED)) {
    it(`closes on exactly the published weekdays of ${year}`, () => {
      const closed = weekdaysOf(Number(year)).filter((day) => !isTradingDay(day));

      expect(closed).toEqual(published.closures.map((d) => `${year}-${d}`));
    });

    it(`closes early on exactly the published days of ${year}`, () => {
      const early = weekdaysOf(Number(year)).filter(isEarlyClose);

      expect(early).toEqual(published.earlyCloses.map((d) => `${year}-${d}`));
    });
  }

  it.each([['2024-03-29'], ['2025-04-18'], ['2026-04-03'], ['2027-03-26'], ['2028-04-14']])(
    'closes on Good Friday %s',
    (date) => {
      expect(holidayName(date)).toBe('Good Friday');
    },
  );

  it.each([
    ['2025-01-09', 'National Day of Mourning for President Jimmy Carter'],
    ['2018-12-05', 'National Day of Mourning for President George H. W. Bush'],
    ['2012-10-29', 'Hurricane Sandy'],
    ['2012-10-30', 'Hurricane Sandy'],
    ['2001-09-11', 'September 11 attacks'],
    ['2001-09-14', 'September 11 attacks'],
  ])('closes for the special closure on %s (%s)', (date, name) => {
    expect(isTradingDay(date)).toBe(false);
    expect(holidayName(date)).toBe(name);
  });

  it('names observed holidays as observed', () => {
    expect(holidayName('2026-07-03')).toBe('Independence Day (observed)');
    expect(holidayName('2027-06-18')).toBe('Juneteenth National Independence Day (observed)');
    expect(holidayName('2027-12-24')).toBe('Christmas Day (observed)');
    expect(holidayName('2025-07-04')).toBe('Independence Day');
  });

  it('does not observe a Saturday New Year on the Friday before (NYSE Rule 7.2)', () => {
    expect(isTradingDay('2021-12-31')).toBe(true);
    expect(isTradingDay('2027-12-31')).toBe(true);
    expect(holidayName('2028-01-01')).toBeUndefined();
  });

  it('observes a Sunday New Year on the Monday after', () => {
    expect(holidayName('2023-01-02')).toBe("New Year's Day (observed)");
  });

  it('has no Juneteenth holiday before 2022', () => {
    expect(isTradingDay('2021-06-18')).toBe(true);
  });

  it('closed early on Friday July 5 2002, not on Wednesday July 3, before the 2013 change', () => {
    expect(isEarlyClose('2002-07-05')).toBe(true);
    expect(isEarlyClose('2002-07-03')).toBe(false);
    expect(isEarlyClose('2019-07-03')).toBe(true);
  });

  it('treats weekends as non-trading days without a holiday name', () => {
    expect(isTradingDay('2026-03-07')).toBe(false);
    expect(holidayName('2026-03-07')).toBeUndefined();
  });

  it('rejects malformed dates and years outside 2000–2100', () => {
    expect(() => isTradingDay('2026-02-30')).toThrow(RangeError);
    expect(() => isTradingDay('2026-3-9')).toThrow(RangeError);
    expect(() => isTradingDay('1999-12-31')).toThrow(RangeError);
    expect(() => isTradingDay('2101-01-03')).toThrow(RangeError);
  });
});

describe('sessionOf', () => {
  it('opens at 13:30Z on the Monday after spring-forward (EDT)', () => {
    const session = sessionOf('2026-03-09');

    expect(session).toEqual({
      date: '2026-03-09',
      open: at('2026-03-09T13:30:00.000Z'),
      close: at('2026-03-09T20:00:00.000Z'),
      earlyClose: false,
    });
  });

  it('opens at 14:30Z the Friday before spring-forward (EST)', () => {
    expect(sessionOf('2026-03-06')?.open).toEqual(at('2026-03-06T14:30:00.000Z'));
  });

  it('opens at 14:30Z and closes at 21:00Z on the Monday after fall-back (EST)', () => {
    const session = sessionOf('2026-11-02');

    expect(session?.open).toEqual(at('2026-11-02T14:30:00.000Z'));
    expect(session?.close).toEqual(at('2026-11-02T21:00:00.000Z'));
  });

  it('closes at 18:00Z (13:00 ET) on the early-close day after Thanksgiving 2026', () => {
    const session = sessionOf('2026-11-27');

    expect(session?.close).toEqual(at('2026-11-27T18:00:00.000Z'));
    expect(session?.earlyClose).toBe(true);
  });

  it('closes at 17:00Z (13:00 EDT) on July 3 2025', () => {
    expect(sessionOf('2025-07-03')?.close).toEqual(at('2025-07-03T17:00:00.000Z'));
  });

  it('is undefined on holidays and weekends', () => {
    expect(sessionOf('2026-11-26')).toBeUndefined();
    expect(sessionOf('2026-11-28')).toBeUndefined();
  });
});

describe('New York wall clock', () => {
  it.each([
    ['2026-01-06T04:59:59.999Z', '2026-01-05'],
    ['2026-01-06T05:00:00.000Z', '2026-01-06'],
    ['2026-07-07T03:59:59.999Z', '2026-07-06'],
    ['2026-07-07T04:00:00.000Z', '2026-07-07'],
  ])('dates instant %s to New York day %s', (iso, date) => {
    expect(sessionDateOf(at(iso))).toBe(date);
  });

  it('maps a time skipped by spring-forward to the hour after (02:30 → 03:30 EDT)', () => {
    expect(newYorkInstant('2026-03-08', 2, 30)).toEqual(at('2026-03-08T07:30:00.000Z'));
  });

  it('maps a time repeated by fall-back to its first (EDT) occurrence', () => {
    expect(newYorkInstant('2026-11-01', 1, 30)).toEqual(at('2026-11-01T05:30:00.000Z'));
  });

  it('reads 04:00 on the fall-back Sunday as EST', () => {
    expect(newYorkInstant('2026-11-01', 4, 0)).toEqual(at('2026-11-01T09:00:00.000Z'));
  });
});

describe('marketPhaseAt', () => {
  it.each([
    ['2026-03-09T07:59:59.999Z', 'closed'],
    ['2026-03-09T08:00:00.000Z', 'pre'],
    ['2026-03-09T13:29:59.999Z', 'pre'],
    ['2026-03-09T13:30:00.000Z', 'regular'],
    ['2026-03-09T19:59:59.000Z', 'regular'],
    ['2026-03-09T20:00:00.000Z', 'post'],
    ['2026-03-09T23:59:59.999Z', 'post'],
    ['2026-03-10T00:00:00.000Z', 'closed'],
  ] as const)('on a normal EDT day, %s is %s', (iso, phase) => {
    expect(marketPhaseAt(at(iso))).toBe(phase);
  });

  it.each([
    ['2026-11-02T14:29:59.999Z', 'pre'],
    ['2026-11-02T14:30:00.000Z', 'regular'],
    ['2026-11-02T21:00:00.000Z', 'post'],
    ['2026-11-03T01:00:00.000Z', 'closed'],
  ] as const)('on a normal EST day, %s is %s', (iso, phase) => {
    expect(marketPhaseAt(at(iso))).toBe(phase);
  });

  it.each([
    ['2026-11-27T17:59:59.999Z', 'regular'],
    ['2026-11-27T18:00:00.000Z', 'post'],
    ['2026-11-27T21:59:59.999Z', 'post'],
    ['2026-11-27T22:00:00.000Z', 'closed'],
  ] as const)('on an early-close day (post-market ends 17:00 ET), %s is %s', (iso, phase) => {
    expect(marketPhaseAt(at(iso))).toBe(phase);
  });

  it('is closed all day on a weekend and on a holiday', () => {
    expect(marketPhaseAt(at('2026-03-07T15:00:00.000Z'))).toBe('closed');
    expect(marketPhaseAt(at('2026-11-26T15:00:00.000Z'))).toBe('closed');
  });
});

describe('trading-day navigation', () => {
  it('steps over a weekend and a holiday', () => {
    expect(nextTradingDay('2026-11-25')).toBe('2026-11-27');
    expect(nextTradingDay('2026-11-27')).toBe('2026-11-30');
    expect(previousTradingDay('2026-11-30')).toBe('2026-11-27');
    expect(previousTradingDay('2026-11-27')).toBe('2026-11-25');
  });

  it('lists 5 trading days ending 2026-11-30, oldest first, skipping Thanksgiving', () => {
    expect(tradingDaysBack('2026-11-30', 5)).toEqual([
      '2026-11-23',
      '2026-11-24',
      '2026-11-25',
      '2026-11-27',
      '2026-11-30',
    ]);
  });

  it('ends at the previous trading day when the date is not a trading day', () => {
    expect(tradingDaysBack('2026-11-26', 2)).toEqual(['2026-11-24', '2026-11-25']);
  });

  it('returns no days for n = 0 and rejects a negative count', () => {
    expect(tradingDaysBack('2026-11-30', 0)).toEqual([]);
    expect(() => tradingDaysBack('2026-11-30', -1)).toThrow(RangeError);
  });
});

describe('nextSessionOpen', () => {
  it("returns today's open when called before it on a trading day", () => {
    expect(nextSessionOpen(at('2026-03-09T12:00:00.000Z'))).toEqual(at('2026-03-09T13:30:00.000Z'));
  });

  it("returns the next day's open exactly at today's open (strictly after)", () => {
    expect(nextSessionOpen(at('2026-03-09T13:30:00.000Z'))).toEqual(at('2026-03-10T13:30:00.000Z'));
  });

  it('skips the weekend, crossing spring-forward, from a Friday afternoon', () => {
    expect(nextSessionOpen(at('2026-03-06T21:00:00.000Z'))).toEqual(at('2026-03-09T13:30:00.000Z'));
  });

  it('skips Thanksgiving to the early-close Friday', () => {
    expect(nextSessionOpen(at('2026-11-25T22:00:00.000Z'))).toEqual(at('2026-11-27T14:30:00.000Z'));
  });

  it('skips a Monday holiday after a weekend', () => {
    expect(nextSessionOpen(at('2027-07-02T20:00:00.000Z'))).toEqual(at('2027-07-06T13:30:00.000Z'));
  });

  it('from late evening New York time (already the next UTC day) goes to the following session', () => {
    expect(nextSessionOpen(at('2026-01-06T03:00:00.000Z'))).toEqual(at('2026-01-06T14:30:00.000Z'));
  });
});
