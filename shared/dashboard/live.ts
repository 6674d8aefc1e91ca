import type { ServerResponse } from 'node:http';
import { LoggedTradingStateEvents } from '../adapters/events.js';
import type { Log, TradingStateTransition } from '../ports/index.js';
import type { Session } from './auth.js';

/** Where a live update comes from: the operator's status read (with the page's filter) and the health check. */
export interface LiveSource {
  status(rejectedOnly: boolean): Promise<unknown>;
  health(): Promise<unknown>;
  /** The session is still within its lifetime and not logged out. */
  isLive(session: Session): boolean;
  log: Log;
}

interface Listener {
  response: ServerResponse;
  session: Session;
  rejectedOnly: boolean;
}

/**
 * Server-Sent Events for the dashboards open on the local bot (`GET /events`). Each `notify()`
 * — a workflow execution ended, the trading state changed, an operator acted, or the heartbeat —
 * sends every page an `update` with a fresh status and health. Notifications that arrive while one
 * is being sent are folded into one more send, so a burst of fills costs two reads, not one per fill.
 * A session that expired or logged out gets `expired` and its stream ends.
 */
export class LiveUpdates {
  private readonly listeners = new Set<Listener>();
  private dirty = false;
  private sending = false;
  private readonly heartbeat: NodeJS.Timeout;

  constructor(
    private readonly source: LiveSource,
    heartbeatMs = 30_000,
  ) {
    // Catches what changes without an event (prices aging, the reconciler's bookings, a cool-down
    // ending) and keeps proxies from closing an idle stream.
    this.heartbeat = setInterval(() => this.notify(), heartbeatMs);
    this.heartbeat.unref();
  }

  get connected(): number {
    return this.listeners.size;
  }

  attach(response: ServerResponse, session: Session, rejectedOnly: boolean): void {
    response.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-store',
      'x-content-type-options': 'nosniff',
      connection: 'keep-alive',
    });
    // The browser reconnects by itself after this many milliseconds when the stream drops.
    response.write('retry: 2000\n\n');
    const listener: Listener = { response, session, rejectedOnly };
    this.listeners.add(listener);
    response.on('close', () => this.listeners.delete(listener));
    this.notify();
  }

  notify(): void {
    this.dirty = true;
    if (this.sending || this.listeners.size === 0) return;
    this.sending = true;
    void this.drain();
  }

  /** Ends the streams of one session (logout), or all of them (shutdown). */
  end(sessionId?: string): void {
    for (const listener of this.listeners) {
      if (sessionId !== undefined && listener.session.id !== sessionId) continue;
      this.listeners.delete(listener);
      listener.response.end('event: expired\ndata: {}\n\n');
    }
  }

  stop(): void {
    clearInterval(this.heartbeat);
    this.end();
  }

  private async drain(): Promise<void> {
    try {
      while (this.dirty && this.listeners.size > 0) {
        this.dirty = false;
        await this.send();
      }
    } catch (error) {
      this.source.log.error('dashboard live update failed', { error: (error as Error).message });
    } finally {
      // Set before any await can interleave: a notify() from here on starts a new drain.
      this.sending = false;
    }
  }

  private async send(): Promise<void> {
    const listeners = [...this.listeners];
    const filters = [...new Set(listeners.map((l) => l.rejectedOnly))];
    const [health, ...statuses] = await Promise.allSettled([
      this.source.health(),
      ...filters.map((rejectedOnly) => this.source.status(rejectedOnly)),
    ]);
    for (const failed of [health, ...statuses].filter((r) => r.status === 'rejected'))
      this.source.log.warn('dashboard live update could not read', { error: String(failed.reason) });
    const value = (result: PromiseSettledResult<unknown> | undefined) =>
      result?.status === 'fulfilled' ? result.value : null;
    for (const listener of listeners) {
      if (!this.listeners.has(listener)) continue;
      if (!this.source.isLive(listener.session)) {
        this.listeners.delete(listener);
        listener.response.end('event: expired\ndata: {}\n\n');
        continue;
      }
      // A reader that has not taken the last update yet gets the next one instead of a queue.
      if (listener.response.writableNeedDrain) continue;
      const status = value(statuses[filters.indexOf(listener.rejectedOnly)]);
      listener.response.write(
        `event: update\ndata: ${JSON.stringify({ status, health: value(health) })}\n\n`,
      );
    }
  }
}

/**
 * Local mode's trading-state announcements: logged as before, and then `onTransition` — how the
 * dashboard hears of every change of state, whoever made it (breaker, emergency stop, resume).
 */
export class ObservedTradingStateEvents extends LoggedTradingStateEvents {
  constructor(
    log: Log,
    private readonly onTransition: (transition: TradingStateTransition) => void,
  ) {
    super(log);
  }

  override async transitioned(transition: TradingStateTransition): Promise<void> {
    await super.transitioned(transition);
    this.onTransition(transition);
  }
}
