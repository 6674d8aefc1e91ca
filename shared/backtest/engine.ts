import type { Config } from '../config/schema.js';
import { newYorkInstant } from '../domain/calendar.js';
import { dec, str, toCents } from '../domain/money.js';
import type { TradingStateTransition } from '../ports/index.js';
import { type Delivery, type SignalEnd, SimulatedBot } from './bot.js';
import type { Candles } from './candles.js';
import { computeMetrics, type Metrics } from './metrics.js';
import type { ReplaySignal } from './signals.js';
import type { Strategy } from './strategies.js';
import { type ClosedTrade, type OpenLot, TradeLedger } from './trades.js';

/**
 * When an order executes, and at what price:
 * - `next-open`: a decision taken at a bar's close (or an alert that arrives during a bar) executes
 *   at the next bar's open, at its open price — backtesting.py's and TradingView's default;
 * - `close`: it executes at the close of the bar it arrives in, at the close price.
 */
export type FillModel = 'next-open' | 'close';

/** How a built-in strategy sizes its entries: the alert's `quantity` and `quantityType`. */
export interface Sizing {
  quantityType: 'fixed_quantity' | 'dollar_amount' | 'percent_of_equity';
  quantity: string;
}

export type SignalSource =
  | { kind: 'strategy'; strategy: Strategy; sizing: Sizing }
  | { kind: 'signals'; signals: readonly ReplaySignal[]; name?: string };

export interface BacktestInput {
  candles: Candles;
  symbol: string;
  /** The bot's config: its risk limits, and `paper` for starting cash, slippage and commission. */
  config: Config;
  source: SignalSource;
  fill?: FillModel;
  /** A commission in percent of each fill's notional, on top of `config.paper.commissionPerOrder`. */
  commissionPercent?: number;
  /**
   * When the scheduled circuit-breaker evaluation runs: `when-due` (default) at a bar's close when
   * it could change something; `every-bar` at every bar's close. Both give the same results (a test
   * holds them to it); `when-due` skips the evaluations that provably do nothing.
   */
  breakerSchedule?: 'when-due' | 'every-bar';
  /** Keeps every signal's outcome in `decisions` (tests; the report only needs the counts). */
  recordDecisions?: boolean;
  /** Called every `progressEvery` bars (default 65,536) and at the end. */
  onProgress?: (done: number, total: number) => void;
  progressEvery?: number;
}

/** One signal as the backtest saw it: what was sent, when, and how it ended. */
export interface Decision {
  time: number;
  action: string;
  status: SignalEnd['status'] | 'not_accepted' | 'not_executed';
  code?: string;
  detail?: string;
  origin?: string;
  followsSignalId?: string;
}

export interface BacktestResult {
  symbol: string;
  strategy: string;
  fill: FillModel;
  bars: number;
  candles: Candles;
  /** Equity at each bar's close (cash plus the position at the close price), one per bar. */
  equity: Float64Array;
  trades: ClosedTrade[];
  open: OpenLot[];
  fills: number;
  signals: {
    sent: number;
    filled: number;
    /** Not filled, by the reason's code (the first denial, or the broker's, webhook's or backtest's code). */
    byReason: Record<string, number>;
    /** Every denial recorded, counted by code (a rejected signal may carry several). */
    denials: Record<string, number>;
    /** Notes on approved signals (a reversal's dropped short leg: SHORT_NOT_ALLOWED). */
    notes: Record<string, number>;
    /** The first rejections in full, for the report. */
    samples: Decision[];
  };
  decisions: Decision[];
  transitions: TradingStateTransition[];
  account: { cash: string; realizedPnl: string; commissions: string; position: string; equity: string };
  metrics: Metrics;
  /** Wall-clock milliseconds the simulation took (set by the caller that measured it, else 0). */
  elapsedMs: number;
}

const SAMPLE_LIMIT = 500;

/** The price a bar gives an alert, as the decimal string the CSV had (shortest round-trip form). */
const priceText = (value: number): string => {
  const text = String(value);
  return text.includes('e') ? value.toFixed(9).replace(/0+$/, '').replace(/\.$/, '') : text;
};

/**
 * Runs a backtest: every bar in order, every signal through the live bot's webhook and workflow
 * on simulated time (SimulatedBot), and the metrics of the equity curve and trades at the end.
 * Per bar: at its open, queued signals execute at the open price and resting orders are looked at;
 * at its close, the price is recorded, resting orders are looked at again, the scheduled breaker
 * runs, the strategy decides, and `close` fills execute; then the bar's equity is taken.
 */
export async function runBacktest(input: BacktestInput): Promise<BacktestResult> {
  const { candles, symbol, config, source } = input;
  const fill = input.fill ?? 'next-open';
  const n = candles.length;
  const bot = new SimulatedBot(config, {
    ...config.paper,
    ...(input.commissionPercent ? { commissionPercent: input.commissionPercent } : {}),
  });
  const clock = bot.clock;
  const ledger = new TradeLedger();
  const equity = new Float64Array(n);
  const decisions: Decision[] = [];
  const counts = {
    sent: 0,
    filled: 0,
    fills: 0,
    byReason: {} as Record<string, number>,
    denials: {} as Record<string, number>,
    notes: {} as Record<string, number>,
    samples: [] as Decision[],
  };
  const bump = (table: Record<string, number>, code: string) => {
    table[code] = (table[code] ?? 0) + 1;
  };
  const note = (decision: Decision) => {
    if (input.recordDecisions) decisions.push(decision);
    if (decision.status === 'filled') return;
    bump(counts.byReason, decision.code ?? decision.status.toUpperCase());
    if (counts.samples.length < SAMPLE_LIMIT) counts.samples.push(decision);
  };

  // What the equity of each bar is computed from, refreshed from the store after every change.
  let cash = 0;
  let quantity = 0;
  const refresh = () => {
    const snapshot = bot.store.peekSnapshot();
    cash = Number(snapshot.account.cash);
    quantity = Number(snapshot.positions[symbol]?.quantity ?? '0');
    gate.read(snapshot);
  };
  const gate = new BreakerGate(config);

  const record = (ends: readonly SignalEnd[], time: number, action: string, origin?: string) => {
    for (const end of ends) {
      for (const denial of end.denials) {
        // An approved signal's denials are notes (a reversal's dropped leg); a rejected one's are why.
        bump(end.status === 'rejected' ? counts.denials : counts.notes, denial.code);
      }
      if (end.status === 'filled') counts.filled += 1;
      if (end.fill !== undefined) {
        counts.fills += 1;
        ledger.add({
          time: clock.ms,
          side: end.fill.side,
          quantity: Number(end.fill.quantity),
          price: Number(end.fill.price),
          commission: Number(end.fill.commission),
        });
      }
      note({
        time,
        action: end.followsSignalId === undefined ? action : 'reversal leg',
        status: end.status,
        ...(end.code !== undefined ? { code: end.code } : {}),
        ...(end.reason !== undefined ? { detail: end.reason } : {}),
        ...(origin !== undefined ? { origin } : {}),
        ...(end.followsSignalId !== undefined ? { followsSignalId: end.followsSignalId } : {}),
      });
    }
  };

  const deliver = async (alert: Record<string, unknown>, price: number, origin?: string) => {
    const { price: _price, signalPrice: _signalPrice, ...rest } = alert;
    // The fill model's price is the market's: it replaces any price the alert carried. A built-in
    // strategy's alert carries the time it is sent, as {{timenow}} would (so equal alerts a few
    // minutes apart are not taken for re-deliveries).
    const sent = {
      ...rest,
      price: priceText(price),
      ...(origin === undefined ? { time: clock.now().toISOString() } : {}),
    };
    counts.sent += 1;
    const delivery: Delivery = await bot.deliver(sent);
    const action = String(alert.action ?? '?');
    if (delivery.accepted) record(delivery.ends, clock.ms, action, origin);
    else
      note({
        time: clock.ms,
        action,
        status: 'not_accepted',
        code: delivery.code,
        detail: delivery.detail,
        ...(origin !== undefined ? { origin } : {}),
      });
    refresh();
  };

  const notExecuted = (signal: ReplaySignal, code: 'NO_NEXT_BAR' | 'OUTSIDE_DATA', detail: string) => {
    counts.sent += 1;
    note({
      time: signal.at,
      action: String(signal.alert.action ?? '?'),
      status: 'not_executed',
      code,
      detail,
      origin: signal.origin,
    });
  };

  const setPrice = async (price: number) => {
    await bot.store.recordPrice(symbol, priceText(price), clock.now().toISOString());
  };

  const poll = async () => {
    if (bot.resting.length === 0) return;
    record(await bot.pollResting(), clock.ms, 'resting order');
    refresh();
  };

  // Replayed signals, each placed at the bar event where it executes.
  const replay =
    source.kind === 'signals' ? placeSignals(source.signals, candles, fill, notExecuted) : undefined;
  let nextReplay = 0;

  const strategy = source.kind === 'strategy' ? source.strategy : undefined;
  let belief: 'long' | 'short' | 'flat' = 'flat';
  let queued: Record<string, unknown>[] = [];
  const everyBar = input.breakerSchedule === 'every-bar';
  const progressEvery = input.progressEvery ?? 65_536;

  refresh();
  for (let i = 0; i < n; i++) {
    // The bar opens.
    clock.ms = candles.time[i] as number;
    const open = candles.open[i] as number;
    if (queued.length > 0 || bot.resting.length > 0 || replay?.openAt(nextReplay, i)) {
      await setPrice(open);
      await poll();
      for (const alert of queued) await deliver(alert, open);
      queued = [];
      while (replay?.openAt(nextReplay, i)) {
        const signal = replay.signal(nextReplay++);
        await deliver(signal.alert, open, signal.origin);
      }
    }

    // The bar closes.
    clock.ms = candles.closeTime[i] as number;
    const close = candles.close[i] as number;
    if (quantity !== 0 || bot.resting.length > 0 || everyBar) {
      await setPrice(close);
      await poll();
      if (everyBar || gate.due(clock.ms, cash + quantity * close)) {
        await bot.evaluateBreaker();
        refresh();
      }
    }
    if (strategy !== undefined) {
      const target = strategy.next(candles, i);
      if (target !== 'hold' && target !== belief) {
        const alerts = alertsFor(
          symbol,
          belief,
          target,
          source.kind === 'strategy' ? source.sizing : undefined,
          strategy.name,
        );
        belief = target;
        if (fill === 'close') for (const alert of alerts) await deliver(alert, close);
        else if (i + 1 < n) queued = alerts;
        else
          for (const alert of alerts)
            notExecuted(
              { at: clock.ms, alert, origin: 'last bar' },
              'NO_NEXT_BAR',
              'decided at the last bar; no bar left to fill at its open',
            );
      }
    }
    while (replay?.closeAt(nextReplay, i)) {
      const signal = replay.signal(nextReplay++);
      const at = clock.ms;
      clock.ms = Math.max(at, signal.at);
      await deliver(signal.alert, close, signal.origin);
      clock.ms = at;
    }
    equity[i] = cash + quantity * close;
    if (input.onProgress && (i + 1) % progressEvery === 0) input.onProgress(i + 1, n);
  }
  input.onProgress?.(n, n);

  const snapshot = bot.store.peekSnapshot();
  const position = snapshot.positions[symbol]?.quantity ?? '0';
  const lastClose = priceText(candles.close[n - 1] as number);
  const exactEquity = toCents(dec(snapshot.account.cash).plus(dec(position).times(dec(lastClose))));
  const trades = ledger.closed;
  const open = ledger.open();
  const metrics = computeMetrics({
    times: candles.time,
    equity,
    trades,
    openTrades: open,
    initialEquity: Number(toCents(dec(config.paper.startingCash))),
    buyAndHold: { first: candles.close[0] as number, last: candles.close[n - 1] as number },
  });
  return {
    symbol,
    strategy: strategy?.name ?? (source.kind === 'signals' ? (source.name ?? 'signals') : 'signals'),
    fill,
    bars: n,
    candles,
    equity,
    trades,
    open,
    fills: counts.fills,
    signals: {
      sent: counts.sent,
      filled: counts.filled,
      byReason: counts.byReason,
      denials: counts.denials,
      notes: counts.notes,
      samples: counts.samples,
    },
    decisions,
    transitions: bot.transitions,
    account: {
      cash: snapshot.account.cash,
      realizedPnl: snapshot.account.realizedPnl,
      commissions: snapshot.account.commissions,
      position,
      equity: str(exactEquity),
    },
    metrics,
    elapsedMs: 0,
  };
}

/** The alerts a strategy sends when its target changes: an exit, an entry, or both for a flip. */
function alertsFor(
  symbol: string,
  from: 'long' | 'short' | 'flat',
  to: 'long' | 'short' | 'flat',
  sizing: Sizing | undefined,
  strategy: string,
): Record<string, unknown>[] {
  const alerts: Record<string, unknown>[] = [];
  const tag = { strategy: strategy.slice(0, 64) };
  if (from !== 'flat') alerts.push({ ticker: symbol, action: 'exit', ...tag });
  if (to !== 'flat' && sizing !== undefined) {
    alerts.push({
      ticker: symbol,
      action: to === 'long' ? 'buy' : 'sell',
      quantity: sizing.quantity,
      quantityType: sizing.quantityType,
      ...tag,
    });
  }
  return alerts;
}

interface Placement {
  /** Whether signal k executes at bar i's open. */
  openAt(k: number, i: number): boolean;
  closeAt(k: number, i: number): boolean;
  signal(k: number): ReplaySignal;
}

/**
 * Places replayed signals in time order at the bar event where they execute: `next-open`, the
 * first bar opening at or after the signal; `close`, the close of the last bar opened at or before
 * it. Signals with no such bar are reported as not executed.
 */
function placeSignals(
  signals: readonly ReplaySignal[],
  candles: Candles,
  fill: FillModel,
  notExecuted: (signal: ReplaySignal, code: 'NO_NEXT_BAR' | 'OUTSIDE_DATA', detail: string) => void,
): Placement {
  const sorted = [...signals].sort((a, b) => a.at - b.at);
  const placed: { signal: ReplaySignal; bar: number }[] = [];
  const n = candles.length;
  const first = candles.time[0] as number;
  const lastClose = candles.closeTime[n - 1] as number;
  let bar = 0;
  for (const signal of sorted) {
    if (fill === 'next-open') {
      while (bar < n && (candles.time[bar] as number) < signal.at) bar += 1;
      if (bar >= n) notExecuted(signal, 'NO_NEXT_BAR', 'no bar opens after this signal');
      else placed.push({ signal, bar });
    } else {
      while (bar + 1 < n && (candles.time[bar + 1] as number) <= signal.at) bar += 1;
      if (signal.at < first || signal.at > lastClose)
        notExecuted(signal, 'OUTSIDE_DATA', 'the signal falls outside the bars of the data file');
      else placed.push({ signal, bar });
    }
  }
  const at = (k: number, i: number) => placed[k]?.bar === i;
  return {
    openAt: (k, i) => fill === 'next-open' && at(k, i),
    closeAt: (k, i) => fill === 'close' && at(k, i),
    signal: (k) => (placed[k] as { signal: ReplaySignal }).signal,
  };
}

/**
 * Decides when the scheduled breaker evaluation could change anything, so the simulation need not
 * run it at bars where it provably does nothing. It never decides for the breaker: it only lets
 * the real evaluation (shared/usecases/breaker.ts) run when any of these may hold at the bar's
 * close, with floating-point margins far wider than the error of the float equity it compares:
 * - an automatic reset is due (the state is not ACTIVE and its resetAt has passed);
 * - the New York session changed, or the marks were never written (the session and mark roll);
 * - equity is at or near the high-water mark (a new high moves the mark);
 * - the drawdown or the daily loss is at or near its limit (a trip).
 * The streak trips are only ever reached by a booking or a failure, after which the use cases
 * evaluate the breaker themselves; time alone only shrinks a streak's window.
 */
class BreakerGate {
  private state = 'ACTIVE';
  private resetAt = Number.POSITIVE_INFINITY;
  private highWaterMark: number | undefined;
  private sessionDate: string | undefined;
  private sessionStart = 0;
  private sessionFrom = 0;
  private sessionUntil = 0;
  private dailyLimit = Number.POSITIVE_INFINITY;

  constructor(private readonly config: Config) {}

  read(snapshot: {
    tradingState: string;
    breaker: { resetAt?: string; highWaterMark?: string; session?: { date: string; startEquity: string } };
  }): void {
    const { breaker } = snapshot;
    this.state = snapshot.tradingState;
    this.resetAt = breaker.resetAt === undefined ? Number.POSITIVE_INFINITY : Date.parse(breaker.resetAt);
    this.highWaterMark = breaker.highWaterMark === undefined ? undefined : Number(breaker.highWaterMark);
    const session = breaker.session;
    if (session?.date !== this.sessionDate) {
      this.sessionDate = session?.date;
      if (session !== undefined) {
        // The instants the session's New York date spans.
        this.sessionFrom = newYorkInstant(session.date, 0, 0).getTime();
        const next = new Date(Date.parse(`${session.date}T12:00:00Z`) + 86_400_000)
          .toISOString()
          .slice(0, 10);
        this.sessionUntil = newYorkInstant(next, 0, 0).getTime();
      }
    }
    this.sessionStart = session === undefined ? 0 : Number(session.startEquity);
    const { maxDailyLoss, maxDailyLossPercent } = this.config.risk;
    const limits = [Number(maxDailyLoss) > 0 ? Number(maxDailyLoss) : Number.POSITIVE_INFINITY];
    if (maxDailyLossPercent > 0 && this.sessionStart > 0)
      limits.push((this.sessionStart * maxDailyLossPercent) / 100);
    this.dailyLimit = Math.min(...limits);
  }

  due(now: number, equity: number): boolean {
    if (this.state !== 'ACTIVE' && now >= this.resetAt) return true;
    if (this.highWaterMark === undefined || this.sessionDate === undefined) return true;
    // Outside the session's New York date: a new session begins.
    if (now < this.sessionFrom || now >= this.sessionUntil) return true;
    const margin = 1e-9 * Math.max(1, Math.abs(this.highWaterMark));
    if (equity >= this.highWaterMark - margin) return true;
    const maxDrawdown = this.config.risk.maxDrawdownPercent;
    if (maxDrawdown > 0 && ((this.highWaterMark - equity) / this.highWaterMark) * 100 >= maxDrawdown - 1e-6)
      return true;
    return this.sessionStart - equity >= this.dailyLimit - 1e-6 * Math.max(1, this.dailyLimit);
  }
}
