import { SIGNAL_EVENT } from '../../shared/adapters/events.js';
import type { SignalPublisher } from '../../shared/ports/index.js';

/**
 * An in-process stand-in for the EventBridge bus: applies the deployed rule's pattern (exact
 * string matching on each listed field, nested as in the pattern) and hands matching events to
 * the target without blocking the publisher — as PutEvents returns before the workflow runs.
 */
export interface BusEvent {
  source: string;
  'detail-type': string;
  detail: Record<string, unknown>;
}

export function matchesPattern(pattern: Record<string, unknown>, event: Record<string, unknown>): boolean {
  return Object.entries(pattern).every(([key, expected]) => {
    const actual = event[key];
    if (Array.isArray(expected)) return expected.includes(actual);
    if (expected !== null && typeof expected === 'object') {
      return (
        actual !== null &&
        typeof actual === 'object' &&
        matchesPattern(expected as Record<string, unknown>, actual as Record<string, unknown>)
      );
    }
    return false;
  });
}

export class LocalEventBus {
  constructor(
    private readonly pattern: Record<string, unknown>,
    private readonly target: (detail: Record<string, unknown>) => void,
  ) {}

  put(event: BusEvent): boolean {
    if (!matchesPattern(this.pattern, event as unknown as Record<string, unknown>)) return false;
    setImmediate(() => this.target(event.detail));
    return true;
  }
}

/** The webhook's SignalPublisher in local mode: puts the event on the in-process bus. */
export const localPublisher = (bus: LocalEventBus): SignalPublisher => ({
  publish: async (event) => {
    bus.put({ source: SIGNAL_EVENT.source, 'detail-type': SIGNAL_EVENT.detailType, detail: { ...event } });
  },
});
