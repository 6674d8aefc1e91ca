import { EventBridgeClient, PutEventsCommand } from '@aws-sdk/client-eventbridge';
import type { SignalPublisher, SignalReceived } from '../ports/index.js';

/** The event contract between the webhook and the workflow; the rule in infra matches exactly this. */
export const SIGNAL_EVENT = { source: 'pinebridge.webhook', detailType: 'Signal Received' } as const;

export class PublishError extends Error {
  override readonly name = 'PublishError';
}

export class EventBridgePublisher implements SignalPublisher {
  constructor(
    private readonly busName: string,
    private readonly client = new EventBridgeClient({ maxAttempts: 2 }),
  ) {}

  async publish(event: SignalReceived): Promise<void> {
    const result = await this.client.send(
      new PutEventsCommand({
        Entries: [
          {
            EventBusName: this.busName,
            Source: SIGNAL_EVENT.source,
            DetailType: SIGNAL_EVENT.detailType,
            Detail: JSON.stringify(event),
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
}
