import type { RiskConfig } from '../config/schema.js';
import { nextTradingDay, sessionDateOf, sessionOf } from './calendar.js';
import { Decimal, dec } from './money.js';
import {
  type BreakerTrip,
  type PortfolioSnapshot,
  type SnapshotFigures,
  snapshotEquityOf,
  type TradingState,
} from './trading.js';

/**
 * What the loss limits are measured against at one instant. A session is a New York calendar day;
 * it begins at the first decision, fill or breaker evaluation of the day, with the equity of that
 * moment (positions marked at their last prices). The high-water mark is the highest equity any of
 * those moments has seen.
 */
export interface RiskMarks {
  equity: Decimal;
  /** The session the instant belongs to and the equity it began with (now, if it begins now). */
  session: { date: string; startEquity: string };
  highWaterMark: Decimal;
  /** Equity minus the session's starting equity: realized and unrealized P&L of the session. */
  sessionPnl: Decimal;
  /** The session rolled over or equity made a new high: the breaker record should be updated. */
  changed: boolean;
}

const parse = Decimal.parse; // read once (see risk.ts)
const ZERO = Decimal.ZERO;
const HUNDRED = dec(100);

/** The marks at `now`, kept in `figures` for the other checks of the same decision. */
export function riskMarksOf(snapshot: PortfolioSnapshot, now: Date, figures?: SnapshotFigures): RiskMarks {
  const kept = figures?.snapshot === snapshot ? figures : undefined;
  if (kept?.marks?.at === now.getTime()) return kept.marks.marks as RiskMarks;
  const equity = snapshotEquityOf(snapshot, kept);
  const date = sessionDateOf(now);
  const recorded = snapshot.breaker.session;
  const session = recorded?.date === date ? recorded : { date, startEquity: equity.toString() };
  const recordedMark =
    snapshot.breaker.highWaterMark === undefined ? undefined : parse(snapshot.breaker.highWaterMark);
  const highWaterMark = recordedMark === undefined ? equity : Decimal.max(recordedMark, equity);
  const marks: RiskMarks = {
    equity,
    session,
    highWaterMark,
    sessionPnl: equity.minus(parse(session.startEquity)),
    changed: session !== recorded || recordedMark === undefined || highWaterMark.gt(recordedMark),
  };
  if (kept) kept.marks = { at: now.getTime(), marks };
  return marks;
}

/** How far equity is below its high-water mark, in percent (0 at a new high). */
export function drawdownPercentOf(marks: RiskMarks): Decimal {
  const { highWaterMark, equity } = marks;
  return highWaterMark.gt(ZERO)
    ? Decimal.max(highWaterMark.minus(equity).div(highWaterMark).times(HUNDRED), ZERO)
    : ZERO;
}

/** The session loss that trips the daily limit: the smaller of the dollar and percentage limits. */
export function dailyLossLimitOf(config: RiskConfig, sessionStartEquity: string): Decimal | undefined {
  const limits: Decimal[] = [];
  const maxLoss = parse(config.risk.maxDailyLoss);
  if (maxLoss.gt(ZERO)) limits.push(maxLoss);
  // A percentage of nothing is no limit (an account that began the session empty).
  if (config.risk.maxDailyLossPercent > 0) {
    const start = parse(sessionStartEquity);
    if (start.gt(ZERO)) limits.push(start.times(dec(config.risk.maxDailyLossPercent)).div(HUNDRED).toCents());
  }
  const [first, second] = limits;
  if (first === undefined) return undefined;
  return second === undefined ? first : Decimal.min(first, second);
}

/** The session's loss and limit when the loss has reached it; undefined while within it. */
export function dailyLossBreach(
  marks: RiskMarks,
  config: RiskConfig,
): { loss: Decimal; limit: Decimal } | undefined {
  const limit = dailyLossLimitOf(config, marks.session.startEquity);
  const loss = marks.sessionPnl.neg();
  return limit !== undefined && loss.gt(ZERO) && loss.gte(limit) ? { loss, limit } : undefined;
}

/**
 * True when drawdownPercentOf(marks) is certainly below `max`, told without its division; false
 * when it is not, or cannot be told that way (then ask drawdownPercentOf).
 */
export function drawdownBelow(marks: RiskMarks, max: number): boolean {
  const limit = dec(max);
  if (!limit.gt(ZERO)) return false;
  const { highWaterMark, equity } = marks;
  // drawdownPercent is 0 then.
  if (!highWaterMark.gt(ZERO)) return true;
  // (mark − equity) / mark × 100 < max, as (mark − equity) × 100 / mark: the same digits, rounded alike.
  return highWaterMark.minus(equity).times(HUNDRED).divBelow(highWaterMark, limit);
}

/** When a daily-loss trip ends: the open of the trading day after the losing session's date. */
export const dailyLossResetOf = (sessionDate: string): Date => {
  const next = sessionOf(nextTradingDay(sessionDate));
  if (next === undefined) throw new Error(`no session after ${sessionDate}`);
  return next.open;
};

/** A move of the trading state, with what the breaker record becomes. */
export interface Transition {
  to: TradingState;
  /** Why the state moves; absent for resets. */
  trip?: BreakerTrip;
  reason: string;
  /** When the new state ends by itself; absent means manual reset only (or no trip). */
  resetAt?: string;
  /** A reset starts the tripped measure afresh: the high-water mark or the session at today's equity. */
  rebase?: 'highWaterMark' | 'session';
}

const SEVERITY: Record<TradingState, number> = { ACTIVE: 0, REDUCING: 1, HALTED: 2 };

/** Events of a streak that still count: after the last reset and, when given, within the window. */
export function streakLength(
  events: readonly string[],
  clearedAt: string | undefined,
  since?: string,
): number {
  const floor = clearedAt !== undefined && (since === undefined || clearedAt > since) ? clearedAt : since;
  return floor === undefined ? events.length : events.filter((at) => at > floor).length;
}

/**
 * The circuit breaker as a pure function: the transition the portfolio calls for at `now`, if any.
 * An automatic reset falls due first; otherwise the most severe trip that would raise the state.
 * Trips only ever raise the state (ACTIVE → REDUCING → HALTED); lowering it is a reset.
 */
export function breakerStep(
  snapshot: PortfolioSnapshot,
  config: RiskConfig,
  now: Date,
): Transition | undefined {
  const { breaker, tradingState } = snapshot;
  if (
    tradingState !== 'ACTIVE' &&
    breaker.resetAt !== undefined &&
    now.getTime() >= Date.parse(breaker.resetAt)
  ) {
    return {
      to: 'ACTIVE',
      reason: `${breaker.trip ?? 'breaker'} reset: cool-down ended at ${breaker.resetAt}`,
      ...(breaker.trip === 'DRAWDOWN' ? { rebase: 'highWaterMark' as const } : {}),
    };
  }
  const trip = tripOf(snapshot, config, now);
  return trip && SEVERITY[trip.to] > SEVERITY[tradingState] ? trip : undefined;
}

function tripOf(snapshot: PortfolioSnapshot, config: RiskConfig, now: Date): Transition | undefined {
  const { risk } = config;
  const marks = riskMarksOf(snapshot, now);
  const iso = (ms: number) => new Date(ms).toISOString();
  const percent = (d: Decimal) => d.toDecimalPlaces(2).toString();

  if (risk.maxDrawdownPercent > 0 && drawdownPercentOf(marks).gte(risk.maxDrawdownPercent)) {
    return {
      to: 'HALTED',
      trip: 'DRAWDOWN',
      reason: `equity $${marks.equity.toFixed(2)} is ${percent(drawdownPercentOf(marks))}% below its high-water mark $${marks.highWaterMark.toFixed(2)} (risk.maxDrawdownPercent ${risk.maxDrawdownPercent})`,
      ...(risk.drawdownCooldownHours > 0
        ? { resetAt: iso(now.getTime() + risk.drawdownCooldownHours * 3_600_000) }
        : {}),
    };
  }
  const failures = streakLength(snapshot.account.failureStreak, snapshot.breaker.streaksClearedAt);
  if (risk.maxConsecutiveFailures > 0 && failures >= risk.maxConsecutiveFailures) {
    return {
      to: 'HALTED',
      trip: 'BROKER_FAILURES',
      reason: `${failures} signals in a row failed at the broker or ended with the order's fate unknown (risk.maxConsecutiveFailures ${risk.maxConsecutiveFailures}); reconcile, then reset the breaker`,
    };
  }
  const breach = dailyLossBreach(marks, config);
  if (breach !== undefined) {
    return {
      to: 'REDUCING',
      trip: 'DAILY_LOSS',
      reason: `session ${marks.session.date} has lost $${breach.loss.toFixed(2)}, at or above the daily loss limit $${breach.limit.toFixed(2)}`,
      resetAt: dailyLossResetOf(marks.session.date).toISOString(),
    };
  }
  const { count, windowMinutes, cooldownMinutes } = risk.lossStreak;
  const losses = streakLength(
    snapshot.account.lossStreak,
    snapshot.breaker.streaksClearedAt,
    iso(now.getTime() - windowMinutes * 60_000),
  );
  if (count > 0 && losses >= count) {
    return {
      to: 'REDUCING',
      trip: 'LOSS_STREAK',
      reason: `${losses} losing trades in a row within ${windowMinutes} minutes (risk.lossStreak.count ${count})`,
      resetAt: iso(now.getTime() + cooldownMinutes * 60_000),
    };
  }
  return undefined;
}

/** A reset by the operator: back to ACTIVE, starting afresh the measure that tripped. */
export function manualReset(snapshot: PortfolioSnapshot, reason: string): Transition {
  const trip = snapshot.breaker.trip;
  return {
    to: 'ACTIVE',
    reason,
    ...(trip === 'DRAWDOWN'
      ? { rebase: 'highWaterMark' as const }
      : trip === 'DAILY_LOSS'
        ? { rebase: 'session' as const }
        : {}),
  };
}
