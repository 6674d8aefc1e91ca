import { EventBridgeClient, PutEventsCommand } from '@aws-sdk/client-eventbridge';
import type { Notice } from '../domain/notification.js';
import type {
  Log,
  Notices,
  PositionMismatch,
  SignalPublisher,
  SignalReceived,
  StopIncomplete,
  TradingStateEvents,
  TradingStateTransition,
} from '../ports/index.js';

/** The event contract between the webhook and the workflow; the rule in infra matches exactly this. */
export const SIGNAL_EVENT = { source: 'pinebridge.webhook', detailType: 'Signal Received' } as const;

/** Every trip and reset of the circuit breaker; infra routes these to the SNS alert topic. */
export const TRADING_STATE_EVENT = {
  source: 'pinebridge.risk',
  detailType: 'Trading State Changed',
} as const;

/** An order whose fate the broker could not tell; routed to the alert topic. */
export const ORDER_UNKNOWN_EVENT = { source: 'pinebridge.risk', detailType: 'Order Unknown' } as const;

/** The reconciler found our positions and the broker's disagreeing; also routed to the alert topic. */
export const POSITION_MISMATCH_EVENT = {
  source: 'pinebridge.risk',
  detailType: 'Position Mismatch',
} as const;

/** An emergency stop that could not cancel or close everything: positions may remain open. */
export const STOP_INCOMPLETE_EVENT = {
  source: 'pinebridge.risk',
  detailType: 'Emergency Stop Incomplete',
} as const;

/** Something to tell the trader (shared/domain/notification.ts): routed to the notifier's queue. */
export const NOTICE_EVENT = { source: 'pinebridge.notify', detailType: 'Notice' } as const;

export class PublishError extends Error {
  override readonly name = 'PublishError';
}

/** One event on the bus; a refused entry is an error (PutEvents reports it without throwing). */
async function putEvent(
  client: EventBridgeClient,
  busName: string,
  event: { source: string; detailType: string },
  detail: unknown,
): Promise<void> {
  const result = await client.send(
    new PutEventsCommand({
      Entries: [
        {
          EventBusName: busName,
          Source: event.source,
          DetailType: event.detailType,
          Detail: JSON.stringify(detail),
        },
      ],
    }),
  );
  if ((result.FailedEntryCount ?? 0) > 0) {
    throw new PublishError(
      `EventBridge refused the event: ${result.Entries?.[0]?.ErrorCode ?? 'unknown error'}`,
    );
  }
}

export class EventBridgePublisher implements SignalPublisher {
  constructor(
    private readonly busName: string,
    private readonly client = new EventBridgeClient({ maxAttempts: 2 }),
  ) {}

  publish(event: SignalReceived): Promise<void> {
    return putEvent(this.client, this.busName, SIGNAL_EVENT, event);
  }
}

/** Announces breaker transitions on the bus (for notifications) and as metrics (for alarms). */
export class EventBridgeTradingStateEvents implements TradingStateEvents {
  constructor(
    private readonly busName: string,
    private readonly metrics: {
      transitioned(transition: TradingStateTransition): void;
      positionsMismatched(count: number): void;
      orderUnknown(): void;
    },
    private readonly client = new EventBridgeClient({ maxAttempts: 3 }),
  ) {}

  async transitioned(transition: TradingStateTransition): Promise<void> {
    this.metrics.transitioned(transition);
    await this.put(TRADING_STATE_EVENT, transition);
  }

  async positionsMismatched(mismatches: PositionMismatch[]): Promise<void> {
    this.metrics.positionsMismatched(mismatches.length);
    await this.put(POSITION_MISMATCH_EVENT, { mismatches });
  }

  async orderUnknown(order: { clientOrderId: string; signalId: string; symbol: string; reason: string }) {
    this.metrics.orderUnknown();
    await this.put(ORDER_UNKNOWN_EVENT, order);
  }

  async stopIncomplete(report: StopIncomplete): Promise<void> {
    await this.put(STOP_INCOMPLETE_EVENT, report);
  }

  private put(event: { source: string; detailType: string }, detail: unknown): Promise<void> {
    return putEvent(this.client, this.busName, event, detail);
  }
}

/** Local mode: the transition is logged (and kept for /status by the store's history). */
export class LoggedTradingStateEvents implements TradingStateEvents {
  readonly seen: TradingStateTransition[] = [];
  readonly mismatches: PositionMismatch[][] = [];
  constructor(private readonly log: Log) {}

  async transitioned(transition: TradingStateTransition): Promise<void> {
    this.seen.push(transition);
    this.log.warn(`trading state ${transition.from} -> ${transition.to}`, { ...transition });
  }

  async positionsMismatched(mismatches: PositionMismatch[]): Promise<void> {
    this.mismatches.push(mismatches);
    this.log.error('positions differ from the broker', { mismatches });
  }

  readonly unknownOrders: string[] = [];
  async orderUnknown(order: { clientOrderId: string; signalId: string; symbol: string; reason: string }) {
    this.unknownOrders.push(order.clientOrderId);
    this.log.error('order fate unknown; its reservation is kept until the reconciler settles it', {
      ...order,
    });
  }

  readonly incompleteStops: StopIncomplete[] = [];
  async stopIncomplete(report: StopIncomplete): Promise<void> {
    this.incompleteStops.push(report);
    this.log.error('emergency stop incomplete: trading is HALTED, but orders or positions may remain open', {
      ...report,
    });
  }
}

/**
 * In AWS, notices go on the bus (the notifier function sends them from its queue). `notify`
 * returns at once; the function awaits `flush` before it answers, so no PutEvents is left frozen
 * with the container. A notice that cannot be published is logged, never a task's error.
 */
export class EventBridgeNotices implements Notices {
  private pending: Promise<void>[] = [];
  constructor(
    private readonly busName: string,
    private readonly log: Log,
    private readonly client = new EventBridgeClient({ maxAttempts: 3 }),
  ) {}

  notify(notice: Notice): void {
    this.pending.push(
      putEvent(this.client, this.busName, NOTICE_EVENT, notice).catch((error: unknown) =>
        this.log.error('notice not published', { kind: notice.kind, error: (error as Error).name }),
      ),
    );
  }

  async flush(): Promise<void> {
    const pending = this.pending.splice(0);
    await Promise.all(pending);
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
