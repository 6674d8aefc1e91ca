import { createHmac, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * Loopback fakes of the notification services, each checking every request against its documented
 * request shape and answering as the service does:
 *
 * - Telegram Bot API `POST /bot<token>/sendMessage` (core.telegram.org/bots/api#sendmessage): JSON
 *   with `chat_id` and `text` of 1–4096 characters after entity parsing; `parse_mode` HTML allows
 *   only Telegram's tags, balanced, and its four named entities. 429 answers
 *   `{ok:false, error_code:429, parameters:{retry_after}}`.
 * - Discord execute-webhook `POST /api/webhooks/<id>/<token>` (discord.com/developers/docs/resources/
 *   webhook#execute-webhook): `content` ≤ 2000 or `embeds` (≤ 10; title ≤ 256, description ≤ 4096,
 *   6000 characters in all, color ≤ 0xFFFFFF, ISO timestamp); answers 204. The per-webhook limit of
 *   5 requests per 2 s is enforced: a 6th gets 429 `{retry_after, global:false}`.
 * - Slack incoming webhook `POST /services/T…/B…/…` (api.slack.com/messaging/webhooks): `text` or
 *   `blocks` (≤ 50; header plain_text ≤ 150; section text ≤ 3000); answers `ok`, `invalid_payload`.
 * - The signed JSON webhook `POST /hook`: `x-pinebridge-signature` must be the HMAC of
 *   `<x-pinebridge-timestamp>.<body>`, the timestamp within 5 minutes.
 *
 * A test can make a service answer 429 (with its way of saying how long to wait), 5xx, or never.
 */

export type FakeService = 'telegram' | 'discord' | 'slack' | 'webhook';

export interface ReceivedMessage {
  service: FakeService;
  path: string;
  body: Record<string, unknown>;
  /** The text a reader sees: Telegram's text, Discord's content and embed, Slack's text and blocks. */
  visible: string;
  at: number;
}

export interface FakeNotify {
  url: string;
  telegramToken: string;
  telegramChatId: string;
  discordUrl: string;
  slackUrl: string;
  webhookUrl: string;
  webhookSecret: string;
  readonly messages: ReceivedMessage[];
  /** Every request that broke its service's documented shape; tests assert it is empty. */
  readonly violations: string[];
  /** Requests answered per service (including refusals). */
  readonly requests: Record<FakeService, number>;
  /** The next `count` requests to `service` get `status` (429 with `retryAfterSeconds`). */
  fail(service: FakeService, status: number, options?: { count?: number; retryAfterSeconds?: number }): void;
  /** Requests to `service` are never answered (until `stop`). */
  hang(service: FakeService): void;
  stop(): Promise<void>;
}

const TELEGRAM_TAGS = new Set([
  'b',
  'strong',
  'i',
  'em',
  'u',
  'ins',
  's',
  'strike',
  'del',
  'a',
  'code',
  'pre',
  'tg-spoiler',
  'span',
  'blockquote',
]);

/** Telegram's HTML: allowed tags, balanced; `&` only in its named entities or numeric ones. Returns the plain text. */
function telegramHtmlText(html: string, problems: string[]): string {
  const stack: string[] = [];
  for (const match of html.matchAll(/<(\/?)([a-zA-Z-]+)[^>]*>/g)) {
    const [, closing, tag = ''] = match;
    if (!TELEGRAM_TAGS.has(tag.toLowerCase())) problems.push(`telegram: unsupported tag <${tag}>`);
    if (closing) {
      if (stack.pop() !== tag) problems.push(`telegram: unbalanced </${tag}>`);
    } else stack.push(tag);
  }
  if (stack.length > 0) problems.push(`telegram: unclosed <${stack.join('>, <')}>`);
  const withoutTags = html.replace(/<[^>]*>/g, '');
  if (/[<>]/.test(withoutTags)) problems.push('telegram: a bare < or > in HTML text');
  for (const entity of withoutTags.matchAll(/&[^;\s]*;?/g))
    if (!/^&(lt|gt|amp|quot|#\d+|#x[0-9a-f]+);$/i.test(entity[0]))
      problems.push(`telegram: bad entity ${entity[0]}`);
  return withoutTags
    .replaceAll('&lt;', '<')
    .replaceAll('&gt;', '>')
    .replaceAll('&quot;', '"')
    .replaceAll('&amp;', '&');
}

export async function startFakeNotify(): Promise<FakeNotify> {
  const telegramToken = '740152983:AAFakeTelegramTokenForLoopbackTests_x1';
  const telegramChatId = '-1001234567890';
  const discordPath = '/api/webhooks/112233445566778899/fAkEdIsCoRdWeBhOoKtOkEn_abcdefghijklmnop';
  const slackPath = '/services/T00FAKE00/B00FAKE00/fakeSlackWebhookSecret123';
  const webhookSecret = 'a-signing-secret-of-some-length';
  const messages: ReceivedMessage[] = [];
  const violations: string[] = [];
  const requests: Record<FakeService, number> = { telegram: 0, discord: 0, slack: 0, webhook: 0 };
  const failures: Partial<Record<FakeService, { status: number; count: number; retryAfterSeconds: number }>> =
    {};
  const hanging = new Set<FakeService>();
  const held: ServerResponse[] = [];
  const discordWindow: number[] = [];

  const answer = (
    res: ServerResponse,
    status: number,
    body: unknown,
    headers: Record<string, string> = {},
  ) => {
    const text = typeof body === 'string' ? body : JSON.stringify(body);
    res.writeHead(status, {
      'content-type': typeof body === 'string' ? 'text/html' : 'application/json',
      ...headers,
    });
    res.end(text);
  };

  const refuse = (service: FakeService, res: ServerResponse, status: number, retryAfter: number) => {
    if (service === 'telegram')
      return answer(res, status, {
        ok: false,
        error_code: status,
        description:
          status === 429 ? `Too Many Requests: retry after ${retryAfter}` : 'Internal Server Error',
        ...(status === 429 ? { parameters: { retry_after: retryAfter } } : {}),
      });
    if (service === 'discord')
      return answer(
        res,
        status,
        status === 429
          ? { message: 'You are being rate limited.', retry_after: retryAfter, global: false }
          : { message: 'Internal Server Error', code: 0 },
        status === 429 ? { 'retry-after': String(Math.ceil(retryAfter)) } : {},
      );
    if (service === 'slack')
      return answer(
        res,
        status,
        status === 429 ? 'rate_limited' : 'internal_error',
        status === 429 ? { 'retry-after': String(retryAfter) } : {},
      );
    return answer(
      res,
      status,
      { error: 'refused' },
      status === 429 ? { 'retry-after': String(retryAfter) } : {},
    );
  };

  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const raw = Buffer.concat(chunks).toString('utf8');
    const path = req.url ?? '';
    const service: FakeService | undefined = path.startsWith('/bot')
      ? 'telegram'
      : path.startsWith('/api/webhooks/')
        ? 'discord'
        : path.startsWith('/services/')
          ? 'slack'
          : path === '/hook'
            ? 'webhook'
            : undefined;
    if (service === undefined) return answer(res, 404, { error: 'no such path' });
    requests[service]++;
    if (hanging.has(service)) {
      held.push(res);
      return;
    }
    const failure = failures[service];
    if (failure !== undefined && failure.count > 0) {
      failure.count--;
      return refuse(service, res, failure.status, failure.retryAfterSeconds);
    }
    const problems: string[] = [];
    if (req.method !== 'POST') problems.push(`${service}: method ${req.method}, not POST`);
    if (!String(req.headers['content-type'] ?? '').startsWith('application/json'))
      problems.push(`${service}: content-type ${req.headers['content-type']}, not application/json`);
    let body: Record<string, unknown> = {};
    try {
      body = JSON.parse(raw) as Record<string, unknown>;
    } catch {
      problems.push(`${service}: body is not JSON`);
    }
    let visible = '';

    if (service === 'telegram') {
      if (path !== `/bot${telegramToken}/sendMessage`)
        problems.push(`telegram: path ${path.replace(telegramToken, '<token>')}`);
      if (body.chat_id === undefined) problems.push('telegram: chat_id missing');
      const text = typeof body.text === 'string' ? body.text : '';
      if (typeof body.text !== 'string') problems.push('telegram: text missing');
      if (
        body.parse_mode !== undefined &&
        !['HTML', 'MarkdownV2', 'Markdown'].includes(String(body.parse_mode))
      )
        problems.push(`telegram: parse_mode ${String(body.parse_mode)}`);
      visible = body.parse_mode === 'HTML' ? telegramHtmlText(text, problems) : text;
      if (visible.length < 1 || visible.length > 4096)
        problems.push(`telegram: text is ${visible.length} characters after entity parsing (1–4096)`);
    } else if (service === 'discord') {
      if (path !== discordPath) problems.push('discord: unknown webhook');
      const now = Date.now();
      while (discordWindow.length > 0 && (discordWindow[0] ?? 0) <= now - 2000) discordWindow.shift();
      if (discordWindow.length >= 5) {
        violations.push('discord: more than 5 requests in 2 s to one webhook');
        return refuse('discord', res, 429, (2000 - (now - (discordWindow[0] ?? now))) / 1000);
      }
      discordWindow.push(now);
      const content = typeof body.content === 'string' ? body.content : undefined;
      const embeds = Array.isArray(body.embeds) ? (body.embeds as Record<string, unknown>[]) : undefined;
      if (!content && (embeds === undefined || embeds.length === 0))
        problems.push('discord: neither content nor embeds');
      if (content !== undefined && content.length > 2000)
        problems.push(`discord: content is ${content.length} characters (≤ 2000)`);
      if (embeds !== undefined && embeds.length > 10) problems.push('discord: more than 10 embeds');
      let total = 0;
      for (const embed of embeds ?? []) {
        const title = String(embed.title ?? '');
        const description = String(embed.description ?? '');
        if (title.length > 256) problems.push(`discord: embed title is ${title.length} characters (≤ 256)`);
        if (description.length > 4096)
          problems.push(`discord: embed description is ${description.length} characters (≤ 4096)`);
        if (embed.color !== undefined && !(Number.isInteger(embed.color) && Number(embed.color) <= 0xffffff))
          problems.push('discord: embed color is not an integer ≤ 0xFFFFFF');
        if (embed.timestamp !== undefined && Number.isNaN(Date.parse(String(embed.timestamp))))
          problems.push('discord: embed timestamp is not ISO8601');
        total += title.length + description.length;
        visible += `${title}\n${description}\n`;
      }
      if (total > 6000) problems.push(`discord: embeds hold ${total} characters (≤ 6000)`);
      visible = `${content ?? ''}\n${visible}`;
    } else if (service === 'slack') {
      if (path !== slackPath) {
        violations.push(...problems);
        return answer(res, 404, 'no_service');
      }
      const blocks = Array.isArray(body.blocks) ? (body.blocks as Record<string, unknown>[]) : undefined;
      if (typeof body.text !== 'string' && blocks === undefined)
        problems.push('slack: neither text nor blocks');
      if (blocks !== undefined && blocks.length > 50) problems.push('slack: more than 50 blocks');
      for (const block of blocks ?? []) {
        const text = block.text as { type?: string; text?: string } | undefined;
        if (block.type === 'header') {
          if (text?.type !== 'plain_text') problems.push('slack: a header needs plain_text');
          if ((text?.text ?? '').length > 150) problems.push('slack: header text over 150 characters');
        } else if (block.type === 'section') {
          if (text?.type !== 'mrkdwn' && text?.type !== 'plain_text')
            problems.push('slack: section text type');
          if ((text?.text ?? '').length > 3000) problems.push('slack: section text over 3000 characters');
        } else problems.push(`slack: unexpected block type ${String(block.type)}`);
        visible += `${text?.text ?? ''}\n`;
      }
      visible = `${typeof body.text === 'string' ? body.text : ''}\n${visible}`;
      if (problems.length > 0) {
        violations.push(...problems);
        return answer(res, 400, 'invalid_payload');
      }
    } else {
      const timestamp = String(req.headers['x-pinebridge-timestamp'] ?? '');
      const signature = String(req.headers['x-pinebridge-signature'] ?? '');
      const expected = `sha256=${createHmac('sha256', webhookSecret).update(`${timestamp}.${raw}`).digest('hex')}`;
      if (
        signature.length !== expected.length ||
        !timingSafeEqual(Buffer.from(signature), Buffer.from(expected))
      )
        problems.push('webhook: signature does not match');
      if (Math.abs(Date.now() / 1000 - Number(timestamp)) > 300) problems.push('webhook: stale timestamp');
      visible = raw;
    }

    if (problems.length > 0) {
      violations.push(...problems);
      return answer(
        res,
        400,
        service === 'telegram'
          ? { ok: false, error_code: 400, description: problems[0] }
          : { message: problems[0] },
      );
    }
    messages.push({ service, path, body, visible, at: Date.now() });
    if (service === 'telegram')
      return answer(res, 200, {
        ok: true,
        result: {
          message_id: messages.length,
          date: Math.floor(Date.now() / 1000),
          chat: { id: body.chat_id },
          text: visible,
        },
      });
    if (service === 'discord') {
      res.writeHead(204);
      return res.end();
    }
    if (service === 'slack') return answer(res, 200, 'ok');
    return answer(res, 200, { received: true });
  };

  const server = createServer((req, res) => {
    handle(req, res).catch(() => answer(res, 500, { error: 'fake failed' }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url,
    telegramToken,
    telegramChatId,
    discordUrl: `${url}${discordPath}`,
    slackUrl: `${url}${slackPath}`,
    webhookUrl: `${url}/hook`,
    webhookSecret,
    messages,
    violations,
    requests,
    fail(service, status, options = {}) {
      failures[service] = {
        status,
        count: options.count ?? 1,
        retryAfterSeconds: options.retryAfterSeconds ?? 1,
      };
    },
    hang(service) {
      hanging.add(service);
    },
    async stop() {
      for (const res of held) res.destroy();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
