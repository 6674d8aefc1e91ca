import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../shared/config/load.js';
import type { Config } from '../../shared/config/schema.js';
import {
  breakerStep,
  dailyLossLimitOf,
  drawdownPercentOf,
  manualReset,
  riskMarksOf,
  streakLength,
} from '../../shared/domain/breaker.js';
import { nextSessionOpen } from '../../shared/domain/calendar.js';
import type { Breaker, PortfolioSnapshot, TradingState } from '../../shared/domain/trading.js';
import { anAccount, aPosition, aSnapshot, at } from '../fixtures/builders.js';

// Wednesday before Thanksgiving 2026, 10:00 New York (EST). The next session opens on Friday
// 2026-11-27 at 09:30 New York, 14:30Z: Thursday is a holiday.
const NOW = new Date('2026-11-25T15:00:00.000Z');
const TODAY = '2026-11-25';
const YESTERDAY = '2026-11-24';
const NEXT_OPEN = '2026-11-27T14:30:00.000Z';
const HOUR = 3_600_000;
const minutesAgo = (minutes: number): string => new Date(NOW.getTime() - minutes * 60_000).toISOString();

const configWith = (risk: Record<string, unknown> = {}): Config => parseConfig({ risk });

/** A flat portfolio whose equity is its cash. */
function portfolio(
  equity: string,
  breaker: Breaker = {},
  overrides: { tradingState?: TradingState; lossStreak?: string[]; failureStreak?: string[] } = {},
): PortfolioSnapshot {
  const { tradingState = 'ACTIVE', lossStreak = [], failureStreak = [] } = overrides;
  return aSnapshot({
    tradingState,
    breaker,
    account: anAccount({ cash: equity, lossStreak, failureStreak }),
  });
}

const sessionStartedAt = (startEquity: string): Breaker => ({ session: { date: TODAY, startEquity } });

describe('breakerStep: daily loss', () => {
  it('does not trip at a session loss one cent short of $3,000', () => {
    const snapshot = portfolio('97000.01', sessionStartedAt('100000'));

    const transition = breakerStep(snapshot, configWith({ maxDailyLoss: '3000' }), NOW);

    expect(transition).toBeUndefined();
  });

  it('trips to REDUCING until the next session open at a session loss of exactly $3,000', () => {
    const snapshot = portfolio('97000', sessionStartedAt('100000'));

    const transition = breakerStep(snapshot, configWith({ maxDailyLoss: '3000' }), NOW);

    expect(transition).toEqual({
      to: 'REDUCING',
      trip: 'DAILY_LOSS',
      reason: expect.stringContaining('$3000.00'),
      resetAt: nextSessionOpen(NOW).toISOString(),
    });
    expect(transition?.resetAt).toBe(NEXT_OPEN);
  });

  it("holds a pre-market trip through the whole session: it resets at the next trading day, not at today's open", () => {
    const preMarket = new Date('2026-11-25T12:00:00.000Z'); // 07:00 New York
    const snapshot = portfolio('96000', sessionStartedAt('100000'));

    const transition = breakerStep(snapshot, configWith(), preMarket);

    expect(transition).toMatchObject({ to: 'REDUCING', trip: 'DAILY_LOSS', resetAt: NEXT_OPEN });
  });

  it('does not trip an account that began the session with nothing and has lost nothing', () => {
    const snapshot = portfolio('0', sessionStartedAt('0'));

    const transition = breakerStep(snapshot, configWith({ maxDailyLoss: '0', maxDailyLossPercent: 3 }), NOW);

    expect(transition).toBeUndefined();
    expect(dailyLossLimitOf(configWith({ maxDailyLoss: '0' }), '0')).toBeUndefined();
  });

  it('measures unrealized losses: positions are marked at their last price', () => {
    const snapshot = aSnapshot({
      breaker: sessionStartedAt('100000'),
      account: anAccount({ cash: '90000' }),
      positions: { AAPL: aPosition('AAPL', '100', '100') },
      prices: { AAPL: { price: '70', at: NOW.toISOString() } },
    });

    const transition = breakerStep(snapshot, configWith(), NOW);

    expect(transition).toMatchObject({ to: 'REDUCING', trip: 'DAILY_LOSS' });
  });

  it('applies the dollar limit when it is the smaller one', () => {
    const config = configWith({ maxDailyLoss: '2000', maxDailyLossPercent: 3 });

    const under = breakerStep(portfolio('98000.01', sessionStartedAt('100000')), config, NOW);
    const atLimit = breakerStep(portfolio('98000', sessionStartedAt('100000')), config, NOW);

    expect(dailyLossLimitOf(config, '100000')?.toFixed(2)).toBe('2000.00');
    expect(under).toBeUndefined();
    expect(atLimit).toMatchObject({ to: 'REDUCING', trip: 'DAILY_LOSS' });
  });

  it('applies the percentage limit when it is the smaller one', () => {
    const config = configWith({ maxDailyLoss: '5000', maxDailyLossPercent: 2 });

    const under = breakerStep(portfolio('98000.01', sessionStartedAt('100000')), config, NOW);
    const atLimit = breakerStep(portfolio('98000', sessionStartedAt('100000')), config, NOW);

    expect(dailyLossLimitOf(config, '100000')?.toFixed(2)).toBe('2000.00');
    expect(under).toBeUndefined();
    expect(atLimit).toMatchObject({ to: 'REDUCING', trip: 'DAILY_LOSS' });
  });

  it('takes the percentage of the equity the session began with, rounded to the cent', () => {
    const config = configWith({ maxDailyLoss: '100000', maxDailyLossPercent: 3 });

    const limit = dailyLossLimitOf(config, '12345.67');

    expect(limit?.toFixed(2)).toBe('370.37');
  });

  it('turns the dollar limit off with "0", leaving the percentage', () => {
    const config = configWith({ maxDailyLoss: '0', maxDailyLossPercent: 2 });

    const transition = breakerStep(portfolio('98000', sessionStartedAt('100000')), config, NOW);

    expect(dailyLossLimitOf(config, '100000')?.toFixed(2)).toBe('2000.00');
    expect(transition).toMatchObject({ to: 'REDUCING', trip: 'DAILY_LOSS' });
  });

  it('turns the percentage limit off with 0, leaving the dollar limit', () => {
    const config = configWith({ maxDailyLoss: '4000', maxDailyLossPercent: 0 });

    const under = breakerStep(portfolio('96000.01', sessionStartedAt('100000')), config, NOW);
    const atLimit = breakerStep(portfolio('96000', sessionStartedAt('100000')), config, NOW);

    expect(dailyLossLimitOf(config, '100000')?.toFixed(2)).toBe('4000.00');
    expect(under).toBeUndefined();
    expect(atLimit).toMatchObject({ to: 'REDUCING', trip: 'DAILY_LOSS' });
  });

  it('never trips on a daily loss when both limits are off', () => {
    const config = configWith({ maxDailyLoss: '0', maxDailyLossPercent: 0 });

    const transition = breakerStep(portfolio('50000', sessionStartedAt('100000')), config, NOW);

    expect(dailyLossLimitOf(config, '100000')).toBeUndefined();
    expect(transition).toBeUndefined();
  });

  it("does not count yesterday's loss: a new session starts at the current equity", () => {
    const snapshot = portfolio('90000', { session: { date: YESTERDAY, startEquity: '100000' } });

    const transition = breakerStep(snapshot, configWith(), NOW);

    expect(transition).toBeUndefined();
  });
});

describe('breakerStep: drawdown', () => {
  const highAt100k: Breaker = { highWaterMark: '100000' };

  it('does not trip one cent short of a 10% drawdown', () => {
    const snapshot = portfolio('90000.01', highAt100k);

    const transition = breakerStep(snapshot, configWith({ maxDrawdownPercent: 10 }), NOW);

    expect(transition).toBeUndefined();
  });

  it('trips to HALTED for 24 hours at exactly a 10% drawdown', () => {
    const snapshot = portfolio('90000', highAt100k);

    const transition = breakerStep(snapshot, configWith({ maxDrawdownPercent: 10 }), NOW);

    expect(transition).toEqual({
      to: 'HALTED',
      trip: 'DRAWDOWN',
      reason: expect.stringContaining('10% below its high-water mark $100000.00'),
      resetAt: new Date(NOW.getTime() + 24 * HOUR).toISOString(),
    });
    expect(transition?.resetAt).toBe('2026-11-26T15:00:00.000Z');
  });

  it('follows risk.drawdownCooldownHours', () => {
    const snapshot = portfolio('90000', highAt100k);

    const transition = breakerStep(snapshot, configWith({ drawdownCooldownHours: 2 }), NOW);

    expect(transition?.resetAt).toBe('2026-11-25T17:00:00.000Z');
  });

  it('has no resetAt (manual reset only) when risk.drawdownCooldownHours is 0', () => {
    const snapshot = portfolio('90000', highAt100k);

    const transition = breakerStep(snapshot, configWith({ drawdownCooldownHours: 0 }), NOW);

    expect(transition).toMatchObject({ to: 'HALTED', trip: 'DRAWDOWN' });
    expect(transition).not.toHaveProperty('resetAt');
  });

  it('never trips on drawdown when risk.maxDrawdownPercent is 0', () => {
    const snapshot = portfolio('10000', highAt100k);

    const transition = breakerStep(snapshot, configWith({ maxDrawdownPercent: 0 }), NOW);

    expect(transition).toBeUndefined();
  });
});

describe('breakerStep: cool-down expiry', () => {
  const RESET_AT = new Date(NOW.getTime() + 24 * HOUR);
  const halted = portfolio(
    '85000',
    { trip: 'DRAWDOWN', resetAt: RESET_AT.toISOString(), highWaterMark: '100000' },
    { tradingState: 'HALTED' },
  );

  it('does nothing one millisecond before resetAt, though equity is still in drawdown', () => {
    const justBefore = new Date(RESET_AT.getTime() - 1);

    const transition = breakerStep(halted, configWith(), justBefore);

    expect(transition).toBeUndefined();
  });

  it('returns to ACTIVE at exactly resetAt, rebasing the high-water mark', () => {
    const transition = breakerStep(halted, configWith(), RESET_AT);

    expect(transition).toEqual({
      to: 'ACTIVE',
      reason: expect.stringContaining('DRAWDOWN reset'),
      rebase: 'highWaterMark',
    });
  });

  it('returns a REDUCING daily-loss trip to ACTIVE at resetAt without a rebase', () => {
    const reducing = portfolio(
      '100000',
      { trip: 'DAILY_LOSS', resetAt: NEXT_OPEN, session: { date: TODAY, startEquity: '100000' } },
      { tradingState: 'REDUCING' },
    );

    const transition = breakerStep(reducing, configWith(), new Date(NEXT_OPEN));

    expect(transition).toEqual({ to: 'ACTIVE', reason: expect.stringContaining('DAILY_LOSS reset') });
  });

  it('falls due before any trip: a reset at resetAt wins over a loss that is still there', () => {
    const reducing = portfolio(
      '95000',
      { trip: 'LOSS_STREAK', resetAt: NOW.toISOString(), session: sessionStartedAt('100000').session },
      { tradingState: 'REDUCING' },
    );

    const transition = breakerStep(reducing, configWith(), NOW);

    expect(transition).toMatchObject({ to: 'ACTIVE' });
    expect(transition).not.toHaveProperty('trip');
    expect(transition).not.toHaveProperty('rebase');
  });

  it('never resets by itself a HALTED state with no resetAt', () => {
    const stopped = portfolio('100000', { trip: 'EMERGENCY_STOP' }, { tradingState: 'HALTED' });

    const transition = breakerStep(stopped, configWith(), new Date('2030-01-02T15:00:00.000Z'));

    expect(transition).toBeUndefined();
  });
});

describe('breakerStep: loss streak', () => {
  const fourLosses = [minutesAgo(200), minutesAgo(150), minutesAgo(90), minutesAgo(10)];

  it('trips to REDUCING for risk.lossStreak.cooldownMinutes after 4 losses within the window', () => {
    const snapshot = portfolio('100000', {}, { lossStreak: fourLosses });

    const transition = breakerStep(snapshot, configWith(), NOW);

    expect(transition).toEqual({
      to: 'REDUCING',
      trip: 'LOSS_STREAK',
      reason: expect.stringContaining('4 losing trades in a row within 240 minutes'),
      resetAt: '2026-11-25T16:00:00.000Z',
    });
  });

  it('does nothing after 3 losses', () => {
    const snapshot = portfolio('100000', {}, { lossStreak: fourLosses.slice(1) });

    const transition = breakerStep(snapshot, configWith(), NOW);

    expect(transition).toBeUndefined();
  });

  it('does not count a loss older than risk.lossStreak.windowMinutes', () => {
    const snapshot = portfolio('100000', {}, { lossStreak: [minutesAgo(241), ...fourLosses.slice(1)] });

    const transition = breakerStep(snapshot, configWith(), NOW);

    expect(transition).toBeUndefined();
  });

  it('follows the configured count, window and cool-down', () => {
    const config = configWith({ lossStreak: { count: 2, windowMinutes: 30, cooldownMinutes: 15 } });
    const snapshot = portfolio(
      '100000',
      {},
      { lossStreak: [minutesAgo(100), minutesAgo(20), minutesAgo(5)] },
    );

    const transition = breakerStep(snapshot, config, NOW);

    expect(transition).toMatchObject({
      to: 'REDUCING',
      trip: 'LOSS_STREAK',
      resetAt: '2026-11-25T15:15:00.000Z',
    });
  });

  it('does not count losses at or before breaker.streaksClearedAt', () => {
    const clearedAtFirstLoss = portfolio(
      '100000',
      { streaksClearedAt: at(fourLosses, 0) },
      { lossStreak: fourLosses },
    );
    const clearedJustBefore = portfolio(
      '100000',
      { streaksClearedAt: minutesAgo(200.001) },
      { lossStreak: fourLosses },
    );

    const atTheLoss = breakerStep(clearedAtFirstLoss, configWith(), NOW);
    const beforeTheLoss = breakerStep(clearedJustBefore, configWith(), NOW);

    expect(atTheLoss).toBeUndefined();
    expect(beforeTheLoss).toMatchObject({ trip: 'LOSS_STREAK' });
  });

  it('never trips on losses when risk.lossStreak.count is 0', () => {
    const snapshot = portfolio('100000', {}, { lossStreak: fourLosses });

    const transition = breakerStep(snapshot, configWith({ lossStreak: { count: 0 } }), NOW);

    expect(transition).toBeUndefined();
  });
});

describe('breakerStep: broker failures', () => {
  const threeFailures = [minutesAgo(30), minutesAgo(20), minutesAgo(10)];

  it('trips to HALTED with no resetAt after 3 consecutive failures', () => {
    const snapshot = portfolio('100000', {}, { failureStreak: threeFailures });

    const transition = breakerStep(snapshot, configWith(), NOW);

    expect(transition).toEqual({
      to: 'HALTED',
      trip: 'BROKER_FAILURES',
      reason: expect.stringContaining('3 signals in a row failed'),
    });
    expect(transition).not.toHaveProperty('resetAt');
  });

  it('counts failures however old they are', () => {
    const snapshot = portfolio(
      '100000',
      {},
      { failureStreak: ['2026-11-01T15:00:00.000Z', ...threeFailures.slice(1)] },
    );

    const transition = breakerStep(snapshot, configWith(), NOW);

    expect(transition).toMatchObject({ to: 'HALTED', trip: 'BROKER_FAILURES' });
  });

  it('does nothing after 2 failures', () => {
    const snapshot = portfolio('100000', {}, { failureStreak: threeFailures.slice(1) });

    const transition = breakerStep(snapshot, configWith(), NOW);

    expect(transition).toBeUndefined();
  });

  it('does not count failures at or before breaker.streaksClearedAt', () => {
    const snapshot = portfolio(
      '100000',
      { streaksClearedAt: at(threeFailures, 0) },
      { failureStreak: threeFailures },
    );

    const transition = breakerStep(snapshot, configWith(), NOW);

    expect(transition).toBeUndefined();
  });

  it('never trips on failures when risk.maxConsecutiveFailures is 0', () => {
    const snapshot = portfolio('100000', {}, { failureStreak: threeFailures });

    const transition = breakerStep(snapshot, configWith({ maxConsecutiveFailures: 0 }), NOW);

    expect(transition).toBeUndefined();
  });
});

describe('breakerStep: trips only raise the state, the most severe first', () => {
  const lossToday = sessionStartedAt('100000');

  it('leaves REDUCING alone on a daily loss', () => {
    const snapshot = portfolio(
      '96000',
      { ...lossToday, trip: 'DAILY_LOSS', resetAt: NEXT_OPEN },
      { tradingState: 'REDUCING' },
    );

    const transition = breakerStep(snapshot, configWith(), NOW);

    expect(transition).toBeUndefined();
  });

  it('raises REDUCING to HALTED on a drawdown', () => {
    const snapshot = portfolio(
      '90000',
      { ...lossToday, highWaterMark: '100000', trip: 'DAILY_LOSS', resetAt: NEXT_OPEN },
      { tradingState: 'REDUCING' },
    );

    const transition = breakerStep(snapshot, configWith(), NOW);

    expect(transition).toMatchObject({ to: 'HALTED', trip: 'DRAWDOWN' });
  });

  it('leaves an EMERGENCY_STOP HALTED state alone on a drawdown', () => {
    const snapshot = portfolio(
      '80000',
      { highWaterMark: '100000', trip: 'EMERGENCY_STOP' },
      { tradingState: 'HALTED' },
    );

    const transition = breakerStep(snapshot, configWith(), NOW);

    expect(transition).toBeUndefined();
  });

  it('reports the drawdown (HALTED) when a drawdown and a daily loss happen at once', () => {
    const snapshot = portfolio('90000', { ...lossToday, highWaterMark: '100000' });

    const transition = breakerStep(snapshot, configWith(), NOW);

    expect(transition).toMatchObject({ to: 'HALTED', trip: 'DRAWDOWN' });
  });

  it('reports broker failures (HALTED) over a daily loss and a loss streak (REDUCING)', () => {
    const snapshot = portfolio('96000', lossToday, {
      lossStreak: [minutesAgo(40), minutesAgo(30), minutesAgo(20), minutesAgo(10)],
      failureStreak: [minutesAgo(3), minutesAgo(2), minutesAgo(1)],
    });

    const transition = breakerStep(snapshot, configWith(), NOW);

    expect(transition).toMatchObject({ to: 'HALTED', trip: 'BROKER_FAILURES' });
  });

  it('does nothing for a healthy portfolio', () => {
    const snapshot = portfolio('101000', { ...lossToday, highWaterMark: '101000' });

    const transition = breakerStep(snapshot, configWith(), NOW);

    expect(transition).toBeUndefined();
  });
});

describe('riskMarksOf', () => {
  it('starts a new session at the current equity when the recorded one is from yesterday', () => {
    const snapshot = portfolio('95000', {
      session: { date: YESTERDAY, startEquity: '100000' },
      highWaterMark: '100000',
    });

    const marks = riskMarksOf(snapshot, NOW);

    expect(marks.session).toEqual({ date: TODAY, startEquity: '95000' });
    expect(marks.sessionPnl.toFixed(2)).toBe('0.00');
    expect(marks.changed).toBe(true);
  });

  it('keeps the recorded start of the same session', () => {
    const snapshot = portfolio('95000', { ...sessionStartedAt('100000'), highWaterMark: '100000' });

    const marks = riskMarksOf(snapshot, NOW);

    expect(marks.session).toEqual({ date: TODAY, startEquity: '100000' });
    expect(marks.sessionPnl.toFixed(2)).toBe('-5000.00');
    expect(drawdownPercentOf(marks).toFixed(2)).toBe('5.00');
    expect(marks.changed).toBe(false);
  });

  it('raises the high-water mark with equity and reports the change', () => {
    const snapshot = portfolio('105000', { ...sessionStartedAt('100000'), highWaterMark: '100000' });

    const marks = riskMarksOf(snapshot, NOW);

    expect(marks.highWaterMark.toFixed(2)).toBe('105000.00');
    expect(drawdownPercentOf(marks).toFixed(2)).toBe('0.00');
    expect(marks.changed).toBe(true);
  });

  it('never lowers the high-water mark when equity falls', () => {
    const snapshot = portfolio('99000', { ...sessionStartedAt('100000'), highWaterMark: '110000' });

    const marks = riskMarksOf(snapshot, NOW);

    expect(marks.highWaterMark.toFixed(2)).toBe('110000.00');
    expect(drawdownPercentOf(marks).toFixed(2)).toBe('10.00');
    expect(marks.changed).toBe(false);
  });

  it('takes the current equity as the high-water mark when none is recorded', () => {
    const snapshot = portfolio('100000', sessionStartedAt('100000'));

    const marks = riskMarksOf(snapshot, NOW);

    expect(marks.highWaterMark.toFixed(2)).toBe('100000.00');
    expect(marks.changed).toBe(true);
  });
});

describe('manualReset', () => {
  const haltedBy = (trip: Breaker['trip']): PortfolioSnapshot =>
    portfolio('90000', { trip, highWaterMark: '100000' }, { tradingState: 'HALTED' });

  it('rebases the high-water mark after a DRAWDOWN trip', () => {
    const transition = manualReset(haltedBy('DRAWDOWN'), 'operator checked the strategy');

    expect(transition).toEqual({
      to: 'ACTIVE',
      reason: 'operator checked the strategy',
      rebase: 'highWaterMark',
    });
  });

  it('rebases the session after a DAILY_LOSS trip', () => {
    const transition = manualReset(haltedBy('DAILY_LOSS'), 'resume');

    expect(transition).toEqual({ to: 'ACTIVE', reason: 'resume', rebase: 'session' });
  });

  it.each(['EMERGENCY_STOP', 'BROKER_FAILURES', 'LOSS_STREAK', 'MANUAL', undefined] as const)(
    'returns to ACTIVE without a rebase after %s',
    (trip) => {
      const transition = manualReset(haltedBy(trip), 'resume');

      expect(transition).toEqual({ to: 'ACTIVE', reason: 'resume' });
      expect(transition).not.toHaveProperty('rebase');
    },
  );
});

describe('streakLength', () => {
  const events = ['2026-11-25T14:00:00.000Z', '2026-11-25T14:10:00.000Z', '2026-11-25T14:20:00.000Z'];

  it('counts every event with no reset and no window', () => {
    const length = streakLength(events, undefined);

    expect(length).toBe(3);
  });

  it('counts only events strictly after the reset', () => {
    const length = streakLength(events, '2026-11-25T14:10:00.000Z');

    expect(length).toBe(1);
  });

  it('counts only events strictly after the start of the window', () => {
    const length = streakLength(events, undefined, '2026-11-25T14:00:00.000Z');

    expect(length).toBe(2);
  });

  it('uses the later of the reset and the start of the window', () => {
    const resetLater = streakLength(events, '2026-11-25T14:15:00.000Z', '2026-11-25T13:00:00.000Z');
    const windowLater = streakLength(events, '2026-11-25T13:00:00.000Z', '2026-11-25T14:05:00.000Z');

    expect(resetLater).toBe(1);
    expect(windowLater).toBe(2);
  });
});
