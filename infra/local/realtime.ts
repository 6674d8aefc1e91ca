import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { type WebSocket, WebSocketServer } from 'ws';
import { EVENTS_SUBPROTOCOL, REALTIME_PATH } from '../../shared/dashboard/live.js';
import type { Log } from '../../shared/ports/index.js';

export type RealtimeOperation = 'connect' | 'subscribe';

export interface RealtimeOptions {
  /**
   * Whether an `Authorization` value may connect, or subscribe to a channel: what AppSync asks
   * its Lambda authorizer (functions/live-authorizer.ts) at EVENT_CONNECT and EVENT_SUBSCRIBE.
   */
  authorize(
    token: string | undefined,
    operation: RealtimeOperation,
    channel?: string,
  ): boolean | Promise<boolean>;
  /** Between keep-alive (`ka`) messages (AppSync: every minute). */
  keepAliveMs?: number;
  /** Told to the client in `connection_ack`: the silence after which it treats the link as dead. */
  connectionTimeoutMs?: number;
  log?: Log;
}

/**
 * A channel path: a namespace and up to four more segments; AppSync lets a subscription end in `*`,
 * which passes here and is then refused by the authorizer (pages subscribe to one channel).
 */
const CHANNEL = /^\/[A-Za-z0-9-]{1,50}(\/[A-Za-z0-9-]{1,50}){0,3}(\/([A-Za-z0-9-]{1,50}|\*))?$/;

interface Connection {
  readonly socket: WebSocket;
  /** Subscription id → channel. */
  readonly subscriptions: Map<string, string>;
  keepAlive?: NodeJS.Timeout;
}

/**
 * The subset of AWS AppSync Events' realtime WebSocket protocol the dashboard uses, served by the
 * local bot, so the page has one way to hear of changes locally and in AWS (docs/DASHBOARD.md):
 *
 *  1. The upgrade offers the subprotocols `aws-appsync-event-ws` and `header-<base64url JSON>`,
 *     the JSON holding `host` and `Authorization`; one that may not connect is refused (401).
 *  2. `connection_init` → `connection_ack` with `connectionTimeoutMs`; then `ka` every minute.
 *  3. `subscribe` {id, channel, authorization} → `subscribe_success` or `subscribe_error`;
 *     `unsubscribe` {id} → `unsubscribe_success`.
 *  4. `publish(channel, events)` (in-process: the bot is the only publisher) sends each subscriber
 *     of the channel one `data` message per event, the event as a JSON string. Publishing over the socket is refused, as the API's IAM-only publishing is.
 */
export class RealtimeServer {
  private readonly wss = new WebSocketServer({
    noServer: true,
    maxPayload: 16 * 1024,
    handleProtocols: (offered) => (offered.has(EVENTS_SUBPROTOCOL) ? EVENTS_SUBPROTOCOL : false),
  });
  private readonly connections = new Set<Connection>();
  private readonly keepAliveMs: number;
  private readonly connectionTimeoutMs: number;

  constructor(private readonly options: RealtimeOptions) {
    this.keepAliveMs = options.keepAliveMs ?? 60_000;
    this.connectionTimeoutMs = options.connectionTimeoutMs ?? 300_000;
  }

  /** Takes over an HTTP upgrade to REALTIME_PATH (anything else is refused with 404). */
  async upgrade(request: IncomingMessage, socket: Duplex, head: Buffer): Promise<void> {
    const path = new URL(request.url ?? '/', 'http://localhost').pathname;
    if (path !== REALTIME_PATH) return refuse(socket, 404, 'Not Found');
    const offered = (request.headers['sec-websocket-protocol'] ?? '').split(',').map((p) => p.trim());
    const auth = authHeaderOf(offered);
    if (!offered.includes(EVENTS_SUBPROTOCOL) || auth === undefined)
      return refuse(socket, 400, 'Bad Request');
    let allowed = false;
    try {
      allowed = await this.options.authorize(auth.Authorization, 'connect');
    } catch (error) {
      this.options.log?.warn('realtime authorization failed', { error: (error as Error).message });
    }
    if (!allowed) return refuse(socket, 401, 'Unauthorized');
    this.wss.handleUpgrade(request, socket, head, (ws) => this.accept(ws));
  }

  /** Sends each event to every subscription of `channel`. */
  publish(channel: string, events: readonly unknown[]): void {
    for (const connection of this.connections)
      for (const [id, subscribed] of connection.subscriptions)
        if (subscribed === channel)
          for (const event of events)
            connection.socket.send(JSON.stringify({ type: 'data', id, event: JSON.stringify(event) }));
  }

  /** Closes every connection (1001, going away), as before the server stops. */
  close(): void {
    for (const connection of this.connections) {
      clearInterval(connection.keepAlive);
      connection.socket.close(1001, 'server stopping');
    }
    this.connections.clear();
    this.wss.close();
  }

  private accept(socket: WebSocket): void {
    const connection: Connection = { socket, subscriptions: new Map() };
    this.connections.add(connection);
    socket.on('close', () => {
      clearInterval(connection.keepAlive);
      this.connections.delete(connection);
    });
    socket.on('error', () => socket.terminate());
    socket.on('message', (data, isBinary) => {
      void this.receive(connection, isBinary ? '' : data.toString()).catch((error: unknown) => {
        this.options.log?.warn('realtime message failed', { error: (error as Error).message });
      });
    });
  }

  private async receive(connection: Connection, text: string): Promise<void> {
    const send = (message: Record<string, unknown>) => connection.socket.send(JSON.stringify(message));
    let message: { type?: unknown; id?: unknown; channel?: unknown; authorization?: unknown };
    try {
      message = JSON.parse(text);
    } catch {
      return send({ type: 'error', errors: [{ errorType: 'BadRequestException', message: 'not JSON' }] });
    }
    const id = typeof message.id === 'string' && message.id.length <= 128 ? message.id : undefined;
    switch (message.type) {
      case 'connection_init':
        send({ type: 'connection_ack', connectionTimeoutMs: this.connectionTimeoutMs });
        clearInterval(connection.keepAlive);
        connection.keepAlive = setInterval(() => send({ type: 'ka' }), this.keepAliveMs);
        connection.keepAlive.unref();
        return;
      case 'subscribe': {
        const channel = typeof message.channel === 'string' ? message.channel : '';
        if (id === undefined || !CHANNEL.test(channel))
          return send({
            type: 'subscribe_error',
            ...(id === undefined ? {} : { id }),
            errors: [
              { errorType: 'BadRequestException', message: 'a subscribe needs an id and a channel path' },
            ],
          });
        const token = tokenOf(message.authorization);
        if (!(await this.options.authorize(token, 'subscribe', channel)))
          return send({
            type: 'subscribe_error',
            id,
            errors: [{ errorType: 'UnauthorizedException', message: 'not authorized to subscribe' }],
          });
        connection.subscriptions.set(id, channel);
        return send({ type: 'subscribe_success', id });
      }
      case 'unsubscribe':
        if (id !== undefined) connection.subscriptions.delete(id);
        return send({ type: 'unsubscribe_success', ...(id === undefined ? {} : { id }) });
      case 'publish':
        return send({
          type: 'publish_error',
          ...(id === undefined ? {} : { id }),
          errors: [{ errorType: 'UnauthorizedException', message: 'only Pinebridge publishes' }],
        });
      default:
        return send({
          type: 'error',
          ...(id === undefined ? {} : { id }),
          errors: [{ errorType: 'UnsupportedOperation', message: `unknown message type` }],
        });
    }
  }
}

/** The `header-<base64url JSON>` subprotocol's header object, or undefined. */
function authHeaderOf(offered: readonly string[]): { host?: string; Authorization?: string } | undefined {
  const encoded = offered.find((p) => p.startsWith('header-'))?.slice('header-'.length);
  if (encoded === undefined) return undefined;
  try {
    const header: unknown = JSON.parse(Buffer.from(encoded, 'base64url').toString('utf8'));
    if (typeof header !== 'object' || header === null || Array.isArray(header)) return undefined;
    return { ...header, Authorization: tokenOf(header) };
  } catch {
    return undefined;
  }
}

function tokenOf(authorization: unknown): string | undefined {
  if (typeof authorization !== 'object' || authorization === null) return undefined;
  const token = (authorization as Record<string, unknown>).Authorization;
  return typeof token === 'string' ? token : undefined;
}

function refuse(socket: Duplex, status: number, text: string): void {
  socket.end(`HTTP/1.1 ${status} ${text}\r\nconnection: close\r\ncontent-length: 0\r\n\r\n`);
}
