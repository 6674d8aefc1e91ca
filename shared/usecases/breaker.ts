import type { Config } from '../config/schema.js';
import { breakerStep, manualReset, riskMarksOf, type Transition } from '../domain/breaker.js';
import { str } from '../domain/money.js';
import type { PortfolioSnapshot } from '../domain/trading.js';
import type {
  Clock,
  Log,
  TradingStateChange,
  TradingStateEvents,
  TradingStateTransition,
  TradingStore,
} from '../ports/index.js';

export interface BreakerDeps {
  config: Config;
  store: TradingStore;
  clock: Clock;
  events: TradingStateEvents;
  log: Log;
}

/**
 * Persists a transition, then announces it. A reset starts afresh the measure that tripped (the
 * high-water mark, or the session) at the equity of this moment, and clears the loss and failure
 * streaks. `automatic` transitions are conditioned on the state being still as read.
 */
async function applyTransition(
  deps: BreakerDeps,
  snapshot: PortfolioSnapshot,
  transition: Transition,
  source: string,
  automatic: boolean,
): Promise<TradingStateTransition | undefined> {
  const now = deps.clock.now();
  const marks = riskMarksOf(snapshot, now);
  const change: TradingStateChange = {
    state: transition.to,
    reason: transition.reason,
    source,
    ...(transition.trip ? { trip: transition.trip } : {}),
    ...(transition.resetAt ? { resetAt: transition.resetAt } : {}),
    ...(automatic ? { expectedSince: snapshot.breaker.since ?? '' } : {}),
    ...(transition.rebase === 'highWaterMark' ? { highWaterMark: str(marks.equity) } : {}),
    ...(transition.rebase === 'session'
      ? { session: { date: marks.session.date, startEquity: str(marks.equity) } }
      : {}),
    ...(transition.to === 'ACTIVE' ? { clearStreaks: true } : {}),
  };
  const moved = await deps.store.setTradingState(change, now.toISOString());
  if (moved) {
    deps.log.warn('trading state changed', { ...moved });
    // The state is recorded; a lost notification must not undo or fail it.
    await deps.events.transitioned(moved).catch((error: unknown) => {
      deps.log.error('trading state notification failed', { error: (error as Error).name });
    });
  }
  return moved;
}

/**
 * The circuit breaker: trips on the loss limits and streaks, resets when a cool-down ends, and
 * keeps the session's starting equity and the high-water mark. Runs before every risk check,
 * after every booked order and failure, and on a schedule. Returns the snapshot it settled on.
 */
export async function evaluateBreaker(
  deps: BreakerDeps,
  snapshot?: PortfolioSnapshot,
): Promise<PortfolioSnapshot> {
  let current = snapshot;
  for (let attempt = 0; ; attempt++) {
    current ??= await deps.store.snapshot();
    if (attempt >= 5) return current;
    const now = deps.clock.now();
    const step = breakerStep(current, deps.config, now);
    if (step !== undefined) {
      await applyTransition(deps, current, step, 'breaker', true);
      current = undefined;
      continue;
    }
    const marks = riskMarksOf(current, now);
    if (!marks.changed) return current;
    const saved = await deps.store.saveRiskMarks(
      { session: marks.session, highWaterMark: str(marks.highWaterMark) },
      current.breaker,
    );
    if (saved) return current;
    current = undefined;
  }
}

/** The operator's reset (reset-breaker, resume): back to ACTIVE whatever tripped. */
export async function resetBreaker(
  deps: BreakerDeps,
  reason: string,
  source: string,
): Promise<TradingStateTransition | undefined> {
  const snapshot = await deps.store.snapshot();
  return applyTransition(deps, snapshot, manualReset(snapshot, reason), source, false);
}

/** The broker refused the keys (or they are for the other mode): HALTED until an operator resets it. */
export async function haltForBroker(
  deps: BreakerDeps,
  reason: string,
): Promise<TradingStateTransition | undefined> {
  const snapshot = await deps.store.snapshot();
  return applyTransition(
    deps,
    snapshot,
    { to: 'HALTED', trip: 'BROKER_FAILURES', reason: `broker refused the credentials: ${reason}` },
    'broker',
    false,
  );
}

/** The emergency stop's first step: HALTED at once, and only a manual reset ends it. */
export async function haltTrading(
  deps: BreakerDeps,
  reason: string,
  source: string,
): Promise<TradingStateTransition | undefined> {
  const snapshot = await deps.store.snapshot();
  return applyTransition(deps, snapshot, { to: 'HALTED', trip: 'EMERGENCY_STOP', reason }, source, false);
}
