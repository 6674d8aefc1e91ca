import { defaultProvider } from '@aws-sdk/credential-provider-node';
import { Hash } from '@smithy/hash-node';
import { SignatureV4 } from '@smithy/signature-v4';
import type { Context } from 'aws-lambda';
import * as z from 'zod';
import { requireEnv } from '../shared/adapters/dependencies.js';
import { LIVE_CHANNEL, type LiveHint } from '../shared/dashboard/live.js';
import { logger } from '../shared/logger.js';

/** An event on Pinebridge's bus, as far as a hint needs it: what kind, and when. */
const BusEvent = z.object({
  source: z.string().startsWith('pinebridge.'),
  'detail-type': z.string().max(128),
  time: z.string().max(64).optional(),
});

/**
 * The hint an event on the bus becomes: its kind (`signal-received`, `notice`,
 * `trading-state-changed`…) and time. Never its detail: pages read what changed through the API.
 */
export function hintOf(event: unknown): LiveHint | undefined {
  const parsed = BusEvent.safeParse(event);
  if (!parsed.success) return undefined;
  return {
    kind: parsed.data['detail-type'].toLowerCase().replaceAll(/[^a-z0-9]+/g, '-'),
    at: parsed.data.time ?? new Date().toISOString(),
  };
}

export class LivePublishError extends Error {
  override readonly name = 'LivePublishError';
}

const PublishAnswer = z.object({
  successful: z.array(z.unknown()).optional(),
  failed: z.array(z.unknown()).optional(),
});

/**
 * Publishes to an AppSync Events API over its HTTP endpoint (`POST https://<http domain>/event`,
 * `{channel, events}` with each event a JSON string, at most five), signed with SigV4 for the
 * `appsync` service: publishing is IAM-only, so no key exists to leak.
 */
export class AppSyncEventsPublisher {
  private readonly signer: SignatureV4;

  constructor(
    private readonly endpoint: URL,
    region: string,
    credentials: ReturnType<typeof defaultProvider> = defaultProvider(),
    private readonly timeoutMs = 5_000,
  ) {
    this.signer = new SignatureV4({
      service: 'appsync',
      region,
      credentials,
      sha256: Hash.bind(null, 'sha256'),
    });
  }

  async publish(channel: string, events: readonly unknown[]): Promise<void> {
    if (events.length === 0 || events.length > 5)
      throw new LivePublishError(`AppSync Events takes 1 to 5 events per publish, not ${events.length}`);
    const body = JSON.stringify({ channel, events: events.map((e) => JSON.stringify(e)) });
    const signed = await this.signer.sign({
      method: 'POST',
      protocol: this.endpoint.protocol,
      hostname: this.endpoint.hostname,
      ...(this.endpoint.port === '' ? {} : { port: Number(this.endpoint.port) }),
      path: this.endpoint.pathname,
      query: {},
      headers: { host: this.endpoint.host, 'content-type': 'application/json' },
      body,
    });
    const response = await fetch(this.endpoint, {
      method: 'POST',
      headers: signed.headers,
      body,
      signal: AbortSignal.timeout(this.timeoutMs),
    });
    const text = await response.text();
    if (!response.ok) throw new LivePublishError(`AppSync Events answered ${response.status} to a publish`);
    const answer = PublishAnswer.safeParse(safeJson(text));
    const failed = answer.success ? (answer.data.failed?.length ?? 0) : 0;
    if (failed > 0) throw new LivePublishError(`AppSync Events refused ${failed} of ${events.length} events`);
  }
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/**
 * Tells open dashboards that something changed: one hint on LIVE_CHANNEL per event on the bus
 * (signal received, notice, trading state changed…). A failed publish throws, and Lambda's
 * asynchronous retries send it again; a hint lost for good costs the pages at most their once-a-minute read.
 */
export const createLivePublisher =
  (publisher: Pick<AppSyncEventsPublisher, 'publish'>) =>
  async (event: unknown): Promise<{ published: boolean }> => {
    const hint = hintOf(event);
    if (hint === undefined) {
      logger.warn('live updates: not an event of Pinebridge, nothing published');
      return { published: false };
    }
    await publisher.publish(LIVE_CHANNEL, [hint]);
    return { published: true };
  };

let instance: ReturnType<typeof createLivePublisher> | undefined;

/** Environment: LIVE_HTTP_DOMAIN (the Event API's HTTP domain) and AWS_REGION (set by Lambda). */
export const handler = (event: unknown, context?: Context): Promise<{ published: boolean }> => {
  logger.resetKeys();
  if (context) logger.addContext(context);
  instance ??= createLivePublisher(
    new AppSyncEventsPublisher(
      new URL(`https://${requireEnv('LIVE_HTTP_DOMAIN')}/event`),
      requireEnv('AWS_REGION'),
    ),
  );
  return instance(event);
};
