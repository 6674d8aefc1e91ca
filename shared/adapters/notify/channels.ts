import { createHmac } from 'node:crypto';
import {
  type ChannelType,
  type Notice,
  redact,
  renderDiscord,
  renderSlack,
  renderTelegram,
  renderWebhook,
} from '../../domain/notification.js';
import { type Channel, ChannelError } from '../../ports/index.js';

/**
 * The notification channels: one HTTP request per message, as each service documents it.
 * Credentials (a bot token, a webhook URL) come from the environment or Secrets Manager and never
 * appear in a message, a log line or an error: errors name the channel and the status only.
 */
export interface ChannelCredentials {
  telegram?: { botToken: string; chatId: string; apiUrl?: string };
  discord?: { webhookUrl: string };
  slack?: { webhookUrl: string };
  webhook?: { url: string; signingSecret: string };
}

/** How long one request may take before it counts as no answer. */
const TIMEOUT_MS = 5_000;

/** POSTs JSON; a non-2xx answer becomes a ChannelError carrying what the service said to wait. */
async function postJson(
  channel: ChannelType,
  url: string,
  body: unknown,
  headers: Record<string, string> = {},
  timeoutMs = TIMEOUT_MS,
): Promise<void> {
  let response: Response;
  const text = JSON.stringify(body);
  try {
    response = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...headers },
      body: text,
      signal: AbortSignal.timeout(timeoutMs),
    });
  } catch (error) {
    // The URL holds the credential (a bot token, a webhook token): never in the message.
    throw new ChannelError(`${channel}: no answer (${(error as Error).name})`, 0);
  }
  if (response.ok) {
    await response.body?.cancel();
    return;
  }
  const answer = await response.text().catch(() => '');
  throw new ChannelError(
    `${channel}: HTTP ${response.status}`,
    response.status,
    response.status === 429 ? retryAfterMs(response, answer) : undefined,
  );
}

/**
 * How long a 429 asks to wait: Telegram's `parameters.retry_after` (seconds), Discord's body
 * `retry_after` (seconds, fractional), or the `Retry-After` header (seconds; Slack).
 */
function retryAfterMs(response: Response, answer: string): number {
  try {
    const body = JSON.parse(answer) as { retry_after?: number; parameters?: { retry_after?: number } };
    const seconds = body.parameters?.retry_after ?? body.retry_after;
    if (typeof seconds === 'number' && seconds >= 0) return Math.ceil(seconds * 1000);
  } catch {
    // Not JSON: the header says.
  }
  const header = Number(response.headers.get('retry-after'));
  return Number.isFinite(header) && header >= 0 ? Math.ceil(header * 1000) : 1000;
}

/** The configured channels, each redacting every credential it holds from what it sends. */
export function channelsFrom(
  credentials: ChannelCredentials,
  options: { timeoutMs?: number } = {},
): Channel[] {
  const channels: Channel[] = [];
  const post = (channel: ChannelType, url: string, body: unknown, headers: Record<string, string> = {}) =>
    postJson(channel, url, body, headers, options.timeoutMs);
  const { telegram, discord, slack, webhook } = credentials;
  if (telegram !== undefined) {
    const secrets = [telegram.botToken];
    const base = (telegram.apiUrl ?? 'https://api.telegram.org').replace(/\/$/, '');
    channels.push({
      name: 'telegram',
      send: (notice) =>
        post('telegram', `${base}/bot${telegram.botToken}/sendMessage`, {
          chat_id: telegram.chatId,
          ...renderTelegram(redacted(notice, secrets)),
          link_preview_options: { is_disabled: true },
        }),
    });
  }
  if (discord !== undefined) {
    const secrets = [discord.webhookUrl, ...urlSecrets(discord.webhookUrl)];
    channels.push({
      name: 'discord',
      // allowed_mentions: a notice never pings @everyone, whatever a reason says.
      send: (notice) =>
        post('discord', discord.webhookUrl, {
          ...renderDiscord(redacted(notice, secrets)),
          allowed_mentions: { parse: [] },
        }),
    });
  }
  if (slack !== undefined) {
    const secrets = [slack.webhookUrl, ...urlSecrets(slack.webhookUrl)];
    channels.push({
      name: 'slack',
      send: (notice) => post('slack', slack.webhookUrl, renderSlack(redacted(notice, secrets))),
    });
  }
  if (webhook !== undefined) {
    const secrets = [webhook.signingSecret, ...urlSecrets(webhook.url)];
    channels.push({
      name: 'webhook',
      send: (notice) => {
        const body = renderWebhook(redacted(notice, secrets));
        const timestamp = String(Math.floor(Date.now() / 1000));
        return post('webhook', webhook.url, body, {
          'x-pinebridge-timestamp': timestamp,
          'x-pinebridge-signature': signatureOf(webhook.signingSecret, timestamp, JSON.stringify(body)),
        });
      },
    });
  }
  return channels;
}

/**
 * The generic webhook's signature: `sha256=` + HMAC-SHA256 of `<timestamp>.<body>` with the
 * signing secret, so a receiver can check both who sent it and that it is fresh.
 */
export const signatureOf = (secret: string, timestamp: string, body: string): string =>
  `sha256=${createHmac('sha256', secret).update(`${timestamp}.${body}`).digest('hex')}`;

/** The path segments of a webhook URL that are its credential (Discord's and Slack's tokens). */
function urlSecrets(url: string): string[] {
  try {
    return new URL(url).pathname.split('/').filter((part) => part.length >= 8);
  } catch {
    return [];
  }
}

const redacted = (notice: Notice, secrets: readonly string[]): Notice => ({
  ...notice,
  title: redact(notice.title, secrets),
  lines: notice.lines.map((line) => redact(line, secrets)),
});
