import type { ChannelSettings } from '../config/schema.js';
import {
  atLeast,
  type ChannelType,
  digestNotice,
  mismatchNotice,
  type Notice,
  splitNotice,
  stopIncompleteNotice,
  tradingStateNotice,
  unknownOrderNotice,
} from '../domain/notification.js';
import type {
  Channel,
  ChannelError,
  Log,
  Notices,
  PositionMismatch,
  StopIncomplete,
  TradingStateEvents,
  TradingStateTransition,
} from '../ports/index.js';

export interface NotifierOptions {
  channels: readonly Channel[];
  /** Per channel: which notices it gets. A channel without settings gets everything. */
  settings?: Partial<Record<ChannelType, ChannelSettings>>;
  log: Log;
  /** Called once when a channel starts failing (and again only after it has recovered). */
  onChannelFailing?: (channel: ChannelType, error: string) => void;
  /** The fewest milliseconds between two messages to one channel (default: each service's documented pace). */
  minIntervalMs?: Partial<Record<ChannelType, number>>;
  /** The first back-off after a failure, doubling up to 60 s (default 1 s). */
  backoffMs?: number;
  /** Attempts per message before it is dropped (default 5). */
  maxAttempts?: number;
}

/**
 * Each service's pace: Telegram asks for at most about one message a second in one chat, Discord
 * allows 5 requests per 2 s per webhook, Slack about one a second per incoming webhook.
 */
const PACE_MS: Record<ChannelType, number> = { telegram: 1000, discord: 400, slack: 1000, webhook: 0 };
/** Consecutive dropped messages after which a channel is reported failing. */
const FAILING_AFTER = 2;
const MAX_BACKOFF_MS = 60_000;

/** Whether a channel's settings let a notice through: its kinds, its floor, and quiet (critical only). */
export function admits(settings: ChannelSettings | undefined, notice: Notice): boolean {
  if (settings === undefined) return true;
  if (notice.kind === 'test') return true;
  // A digest is made of notices each channel already let through.
  if (notice.kind === 'digest') return true;
  if (settings.quiet && notice.severity !== 'critical') return false;
  if (!atLeast(notice.severity, settings.minSeverity)) return false;
  return settings.events === 'all' || (settings.events as readonly string[]).includes(notice.kind);
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** One channel's queue: sent one message at a time at the channel's pace; a backlog is folded into a digest. */
class ChannelQueue {
  private readonly queue: Notice[] = [];
  private pumping: Promise<void> | undefined;
  private lastSentAt = 0;
  private dropped = 0;
  private failing = false;
  sent = 0;

  constructor(
    readonly channel: Channel,
    private readonly options: Required<Pick<NotifierOptions, 'backoffMs' | 'maxAttempts'>> &
      Pick<NotifierOptions, 'log' | 'onChannelFailing'> & { paceMs: number },
  ) {}

  push(notice: Notice): void {
    this.queue.push(notice);
    this.pumping ??= this.pump().finally(() => {
      this.pumping = undefined;
    });
  }

  idle(): Promise<void> {
    return this.pumping ?? Promise.resolve();
  }

  private async pump(): Promise<void> {
    while (this.queue.length > 0) {
      // A notice too long for one message goes as parts, each paced and retried on its own.
      for (const part of splitNotice(this.next(), this.channel.name)) {
        const wait = this.lastSentAt + this.options.paceMs - Date.now();
        if (wait > 0) await sleep(wait);
        await this.deliver(part);
        this.lastSentAt = Date.now();
      }
    }
  }

  /**
   * The next message: the one notice waiting, or — when several piled up while the channel was
   * busy, slow or paced — one digest of them all (critical notices first, each on its own).
   */
  private next(): Notice {
    const critical = this.queue.findIndex((n) => n.severity === 'critical');
    if (critical >= 0) return this.queue.splice(critical, 1)[0] as Notice;
    if (this.queue.length === 1) return this.queue.shift() as Notice;
    return digestNotice(this.queue.splice(0), new Date().toISOString());
  }

  private async deliver(message: Notice): Promise<void> {
    let backoff = this.options.backoffMs;
    for (let attempt = 1; attempt <= this.options.maxAttempts; attempt++) {
      try {
        await this.channel.send(message);
        this.sent++;
        this.dropped = 0;
        if (this.failing) {
          this.failing = false;
          this.options.log.info('notification channel recovered', { channel: this.channel.name });
        }
        return;
      } catch (error) {
        const failure = error as ChannelError;
        // 4xx other than 429: the request itself is refused (a wrong token or URL); no retry helps.
        const permanent = failure.status >= 400 && failure.status < 500 && failure.status !== 429;
        if (permanent || attempt === this.options.maxAttempts) {
          this.drop(message, failure);
          return;
        }
        const wait = failure.retryAfterMs ?? backoff;
        backoff = Math.min(backoff * 2, MAX_BACKOFF_MS);
        await sleep(Math.min(wait, MAX_BACKOFF_MS));
      }
    }
  }

  private drop(message: Notice, failure: ChannelError): void {
    this.dropped++;
    this.options.log.warn('notification not delivered', {
      channel: this.channel.name,
      kind: message.kind,
      error: failure.message,
    });
    if (this.dropped >= FAILING_AFTER && !this.failing) {
      this.failing = true;
      this.options.log.error('notification channel failing', {
        channel: this.channel.name,
        error: failure.message,
      });
      this.options.onChannelFailing?.(this.channel.name, failure.message);
    }
  }
}

/**
 * The notifier: hands each notice to every channel that wants it and returns at once. Sending
 * happens after the fact, one message at a time per channel at its pace, retried with back-off
 * (a 429's `retry_after` honoured); what piles up meanwhile goes out as one digest. A channel that
 * keeps failing is reported once (a log line, an alarm) and never becomes a trading error.
 */
export class Notifier implements Notices {
  private readonly queues: ChannelQueue[];

  constructor(private readonly options: NotifierOptions) {
    this.queues = options.channels.map(
      (channel) =>
        new ChannelQueue(channel, {
          backoffMs: options.backoffMs ?? 1000,
          maxAttempts: options.maxAttempts ?? 5,
          log: options.log,
          ...(options.onChannelFailing ? { onChannelFailing: options.onChannelFailing } : {}),
          paceMs: options.minIntervalMs?.[channel.name] ?? PACE_MS[channel.name],
        }),
    );
  }

  get channelNames(): ChannelType[] {
    return this.queues.map((q) => q.channel.name);
  }

  notify(notice: Notice): void {
    for (const queue of this.queues)
      if (admits(this.options.settings?.[queue.channel.name], notice)) queue.push(notice);
  }

  /** Resolves once every queued message has been sent or dropped (tests, a clean shutdown). */
  async flush(): Promise<void> {
    await Promise.all(this.queues.map((q) => q.idle()));
  }

  /** Messages delivered so far, per channel. */
  delivered(): Partial<Record<ChannelType, number>> {
    return Object.fromEntries(this.queues.map((q) => [q.channel.name, q.sent]));
  }
}

/** `pinebridge notify test`: one test message to each channel (or one), sent now, each result reported. */
export async function sendTestNotices(
  channels: readonly Channel[],
  only?: ChannelType,
): Promise<{ channel: ChannelType; ok: boolean; error?: string }[]> {
  const notice: Notice = {
    kind: 'test',
    severity: 'info',
    title: 'Pinebridge test message',
    lines: ['If you can read this, Pinebridge can reach you here.'],
    at: new Date().toISOString(),
  };
  const results: { channel: ChannelType; ok: boolean; error?: string }[] = [];
  for (const channel of channels) {
    if (only !== undefined && channel.name !== only) continue;
    try {
      await channel.send(notice);
      results.push({ channel: channel.name, ok: true });
    } catch (error) {
      results.push({ channel: channel.name, ok: false, error: (error as Error).message });
    }
  }
  return results;
}

/** Trading-state events, also told to the trader: a trip, a halt, an unknown order, a mismatch, an incomplete stop. */
export class NotifyingTradingStateEvents implements TradingStateEvents {
  constructor(
    private readonly inner: TradingStateEvents,
    private readonly notices: Notices,
  ) {}

  async transitioned(transition: TradingStateTransition): Promise<void> {
    this.notices.notify(tradingStateNotice(transition));
    await this.inner.transitioned(transition);
  }

  async positionsMismatched(mismatches: PositionMismatch[]): Promise<void> {
    this.notices.notify(mismatchNotice(mismatches, new Date().toISOString()));
    await this.inner.positionsMismatched(mismatches);
  }

  async orderUnknown(order: { clientOrderId: string; signalId: string; symbol: string; reason: string }) {
    this.notices.notify(unknownOrderNotice({ ...order, at: new Date().toISOString() }));
    await this.inner.orderUnknown(order);
  }

  async stopIncomplete(report: StopIncomplete): Promise<void> {
    this.notices.notify(stopIncompleteNotice({ ...report, at: new Date().toISOString() }));
    await this.inner.stopIncomplete(report);
  }
}
