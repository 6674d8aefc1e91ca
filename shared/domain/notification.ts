/**
 * What Pinebridge tells the trader, and how each channel shows it. Pure: a notice is built from
 * what the use cases already know (a booked order, a denial, a transition) and rendered for
 * Telegram, Discord, Slack or a signed JSON webhook within each one's documented limits. Nothing
 * here carries a secret: notices are built from ids, symbols, figures and reasons, and every
 * rendering passes through `redact` with the secrets the sender knows.
 */

/** Where notices go: each a service with its own request shape (shared/adapters/notify/channels.ts). */
export const CHANNEL_TYPES = ['telegram', 'discord', 'slack', 'webhook'] as const;
export type ChannelType = (typeof CHANNEL_TYPES)[number];

export const NOTICE_KINDS = [
  'fill',
  'refusal',
  'order-ended',
  'failure',
  'trading-state',
  'stop-incomplete',
  'mismatch',
  'unknown-order',
  'auth-failures',
  'daily-summary',
  'digest',
  'test',
] as const;
export type NoticeKind = (typeof NOTICE_KINDS)[number];
/** The kinds a channel can choose (a digest carries chosen ones; a test message always goes). */
export const CHOOSABLE_NOTICE_KINDS = NOTICE_KINDS.filter(
  (kind): kind is Exclude<NoticeKind, 'digest' | 'test'> => kind !== 'digest' && kind !== 'test',
) as [Exclude<NoticeKind, 'digest' | 'test'>, ...Exclude<NoticeKind, 'digest' | 'test'>[]];

export const SEVERITIES = ['info', 'warning', 'critical'] as const;
export type Severity = (typeof SEVERITIES)[number];

export interface Notice {
  kind: NoticeKind;
  severity: Severity;
  /** One line: what happened (`Filled: buy 10 AAPL @ 187.50`). */
  title: string;
  /** Details, one fact per line. */
  lines: string[];
  /** When it happened (ISO). */
  at: string;
}

const severityRank = (severity: Severity): number => SEVERITIES.indexOf(severity);
export const atLeast = (severity: Severity, floor: Severity): boolean =>
  severityRank(severity) >= severityRank(floor);

// ---------------------------------------------------------------------------------------------
// Building notices from what the use cases know

export function fillNotice(fill: {
  side: string;
  symbol: string;
  quantity: string;
  price: string;
  realizedPnl: string;
  closed: boolean;
  signalId: string;
  at: string;
}): Notice {
  const pnl = Number(fill.realizedPnl);
  return {
    kind: 'fill',
    severity: 'info',
    title: `Filled: ${fill.side} ${fill.quantity} ${fill.symbol} @ ${fill.price}`,
    lines: [
      ...(fill.closed ? [`Realized P&L: ${pnl >= 0 ? '+' : '−'}$${Math.abs(pnl).toFixed(2)}`] : []),
      `Signal ${fill.signalId}`,
    ],
    at: fill.at,
  };
}

export function refusalNotice(refusal: {
  symbol: string;
  action: string;
  denials: { code: string; detail: string }[];
  signalId: string;
  at: string;
}): Notice {
  const [first, ...rest] = refusal.denials;
  return {
    kind: 'refusal',
    severity: first?.code === 'TEST_SIGNAL' ? 'info' : 'warning',
    title: `Refused: ${refusal.action} ${refusal.symbol} — ${first?.code ?? 'REJECTED'}`,
    lines: [
      ...(first ? [first.detail] : []),
      ...rest.map((d) => `also ${d.code}: ${d.detail}`),
      `Signal ${refusal.signalId}`,
    ],
    at: refusal.at,
  };
}

/** An order that ended without filling completely: cancelled, expired, or rejected by the broker. */
export function orderEndedNotice(order: {
  status: string;
  side: string;
  symbol: string;
  quantity: string;
  filledQuantity: string;
  reason: string | undefined;
  signalId: string;
  at: string;
}): Notice {
  return {
    kind: 'order-ended',
    severity: order.status === 'rejected' ? 'warning' : 'info',
    title: `Order ${order.status}: ${order.side} ${order.quantity} ${order.symbol} (filled ${order.filledQuantity})`,
    lines: [...(order.reason ? [order.reason] : []), `Signal ${order.signalId}`],
    at: order.at,
  };
}

export function failureNotice(failure: {
  signalId: string;
  symbol: string;
  reason: string;
  at: string;
}): Notice {
  return {
    kind: 'failure',
    severity: 'critical',
    title: `Signal failed: ${failure.symbol}`,
    lines: [failure.reason, `Signal ${failure.signalId}`],
    at: failure.at,
  };
}

export function tradingStateNotice(transition: {
  from: string;
  to: string;
  reason: string;
  source: string;
  at: string;
}): Notice {
  return {
    kind: 'trading-state',
    severity: transition.to === 'HALTED' ? 'critical' : transition.to === 'REDUCING' ? 'warning' : 'info',
    title: `Trading ${transition.from} → ${transition.to}`,
    lines: [transition.reason, `by ${transition.source}`],
    at: transition.at,
  };
}

export function stopIncompleteNotice(report: {
  reason: string;
  failures: string[];
  openOrders: string[];
  positions: { symbol: string; quantity: string }[];
  at: string;
}): Notice {
  return {
    kind: 'stop-incomplete',
    severity: 'critical',
    title: 'Emergency stop INCOMPLETE: trading is HALTED, but orders or positions may remain open',
    lines: [
      report.reason,
      ...report.failures,
      ...(report.openOrders.length > 0 ? [`open orders: ${report.openOrders.join(', ')}`] : []),
      ...(report.positions.length > 0
        ? [`positions: ${report.positions.map((p) => `${p.symbol} ${p.quantity}`).join(', ')}`]
        : []),
    ],
    at: report.at,
  };
}

export function mismatchNotice(
  mismatches: { symbol: string; ours: string; broker: string }[],
  at: string,
): Notice {
  return {
    kind: 'mismatch',
    severity: 'critical',
    title: `Positions differ from the broker (${mismatches.length})`,
    lines: mismatches.map((m) => `${m.symbol}: Pinebridge ${m.ours}, broker ${m.broker}`),
    at,
  };
}

export function unknownOrderNotice(order: {
  clientOrderId: string;
  symbol: string;
  reason: string;
  at: string;
}): Notice {
  return {
    kind: 'unknown-order',
    severity: 'critical',
    title: `Order fate unknown: ${order.symbol}`,
    lines: [order.reason, `${order.clientOrderId} keeps its reservation until the reconciler settles it`],
    at: order.at,
  };
}

/** Webhook calls refused for a wrong or missing secret, above the alarm's threshold. */
export function authFailuresNotice(count: number, windowMinutes: number, at: string): Notice {
  return {
    kind: 'auth-failures',
    severity: 'critical',
    title: `${count} webhook calls with a wrong or missing secret in ${windowMinutes} minutes`,
    lines: [
      'A leaked webhook URL, someone probing it, or an alert still using a rotated secret.',
      'docs/RUNBOOK.md: rotate the webhook secret if the URL may have leaked.',
    ],
    at,
  };
}

/**
 * Counts refused webhook calls in a sliding window and says when they reach the threshold — once
 * per window, not once per call.
 */
export class AuthFailureWatch {
  private readonly times: number[] = [];
  private quietUntil = 0;
  constructor(
    private readonly threshold: number,
    private readonly windowMs = 5 * 60_000,
  ) {}

  /** Records one refused call at `now`; the count to report when it crosses the threshold. */
  record(now: number): number | undefined {
    this.times.push(now);
    while ((this.times[0] ?? now) <= now - this.windowMs) this.times.shift();
    if (this.times.length < this.threshold || now < this.quietUntil) return undefined;
    this.quietUntil = now + this.windowMs;
    return this.times.length;
  }
}

/** A digest lists this many notices by title; the rest are counted (a digest is a summary). */
export const DIGEST_MAX_LINES = 40;

/** Many notices folded into one message (a burst, or a channel that was slow). */
export function digestNotice(notices: readonly Notice[], at: string): Notice {
  const worst = notices.reduce<Severity>(
    (max, n) => (severityRank(n.severity) > severityRank(max) ? n.severity : max),
    'info',
  );
  const counts = new Map<NoticeKind, number>();
  for (const n of notices) counts.set(n.kind, (counts.get(n.kind) ?? 0) + 1);
  return {
    kind: 'digest',
    severity: worst,
    title: `${notices.length} updates (${[...counts].map(([kind, n]) => `${n} ${kind}`).join(', ')})`,
    lines: [
      ...notices.slice(0, DIGEST_MAX_LINES).map((n) => n.title),
      ...(notices.length > DIGEST_MAX_LINES
        ? [
            `… and ${notices.length - DIGEST_MAX_LINES} more: the dashboard and \`pinebridge signals\` list them all`,
          ]
        : []),
    ],
    at,
  };
}

// ---------------------------------------------------------------------------------------------
// Rendering, per channel, within each one's documented limits

/** Telegram: text of 1–4096 characters after entity parsing (Bot API, sendMessage). */
export const TELEGRAM_MAX_TEXT = 4096;
/** Discord: `content` up to 2000 characters; an embed's description up to 4096, title 256. */
export const DISCORD_MAX_CONTENT = 2000;
export const DISCORD_MAX_EMBED_DESCRIPTION = 4096;
export const DISCORD_MAX_EMBED_TITLE = 256;
/** Slack: a section block's text up to 3000 characters; a header's plain text up to 150. */
export const SLACK_MAX_SECTION = 3000;
export const SLACK_MAX_HEADER = 150;

/** A title is one line: longer ones are cut (a channel's limit is for the details). */
const TITLE_MAX = 512;

/**
 * How many characters of details (lines, as the channel counts them, escaped) one message of each
 * channel carries, with room left for the title and a part number: Telegram's 4,096 for the
 * whole text, Discord's 4,096 for the embed's description, Slack's 3,000 for a section.
 */
const DETAIL_LIMIT: Record<ChannelType, number> = {
  telegram: TELEGRAM_MAX_TEXT - TITLE_MAX - 100,
  discord: DISCORD_MAX_EMBED_DESCRIPTION,
  slack: SLACK_MAX_SECTION,
  webhook: Number.POSITIVE_INFINITY,
};

/**
 * A notice as the messages `channel` sends it: itself when its details fit one message, else
 * several parts, whole lines each, titled `… (1/3)`, `… (2/3)`…, so nothing a trader must read
 * (what an incomplete stop left open, every mismatched position) is cut. Only a single line
 * longer than a whole message is shortened.
 */
export function splitNotice(notice: Notice, channel: ChannelType): Notice[] {
  const limit = DETAIL_LIMIT[channel];
  const size = (line: string) => escapeMarkup(line).length + 1;
  const fitted = (line: string): string =>
    size(line) > limit ? fitted(clip(line, Math.floor(line.length * 0.9))) : line;
  const parts: string[][] = [[]];
  let used = 0;
  for (const line of notice.lines.map(fitted)) {
    if (used > 0 && used + size(line) > limit) {
      parts.push([]);
      used = 0;
    }
    parts.at(-1)?.push(line);
    used += size(line);
  }
  if (parts.length === 1) return [{ ...notice, lines: parts[0] ?? [] }];
  const title = clip(notice.title, TITLE_MAX - 12);
  return parts.map((lines, i) => ({ ...notice, title: `${title} (${i + 1}/${parts.length})`, lines }));
}

const ICON: Record<Severity, string> = { info: '✅', warning: '⚠️', critical: '🚨' };
const DISCORD_COLOR: Record<Severity, number> = { info: 0x2e7d32, warning: 0xf9a825, critical: 0xc62828 };

/** Cuts text to `max` characters, saying so. */
export function clip(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, Math.max(0, max - 2))} …`;
}

/** Replaces every occurrence of a known secret (and of any 8-character piece of it) with `[redacted]`. */
export function redact(text: string, secrets: readonly string[]): string {
  let out = text;
  for (const secret of secrets) {
    if (secret.length < 8) continue;
    out = out.split(secret).join('[redacted]');
    for (let i = 0; i + 8 <= secret.length; i++) out = out.split(secret.slice(i, i + 8)).join('[redacted]');
  }
  return out;
}

/** Telegram's HTML and Slack's mrkdwn escape the same three characters. */
const escapeMarkup = (text: string) =>
  text.replaceAll('&', '&amp;').replaceAll('<', '&lt;').replaceAll('>', '&gt;');

/** Telegram sendMessage's body (without chat_id): HTML parse mode, the title bold. */
export function renderTelegram(notice: Notice): { text: string; parse_mode: 'HTML' } {
  const body = notice.lines.map(escapeMarkup).join('\n');
  const title = `${ICON[notice.severity]} <b>${escapeMarkup(clip(notice.title, TITLE_MAX))}</b>`;
  // Clipped on the escaped body, so no entity is cut in half: whole lines are kept.
  const lines: string[] = [];
  let length = title.length;
  for (const line of body.split('\n')) {
    if (length + 1 + line.length > TELEGRAM_MAX_TEXT - 20) {
      lines.push('…');
      break;
    }
    lines.push(line);
    length += 1 + line.length;
  }
  return { text: [title, ...lines].join('\n'), parse_mode: 'HTML' };
}

/** A Discord webhook's body: one embed, its colour by severity. */
export function renderDiscord(notice: Notice): {
  content: string;
  embeds: { title: string; description: string; color: number; timestamp: string }[];
} {
  return {
    content: clip(`${ICON[notice.severity]} ${notice.title}`, DISCORD_MAX_CONTENT),
    embeds: [
      {
        title: clip(notice.title, DISCORD_MAX_EMBED_TITLE),
        description: clip(notice.lines.join('\n') || '—', DISCORD_MAX_EMBED_DESCRIPTION),
        color: DISCORD_COLOR[notice.severity],
        timestamp: notice.at,
      },
    ],
  };
}

/** A Slack incoming webhook's body: `text` (the notification) and blocks (a header and the details). */
export function renderSlack(notice: Notice): {
  text: string;
  blocks: (
    | { type: 'header'; text: { type: 'plain_text'; text: string } }
    | {
        type: 'section';
        text: { type: 'mrkdwn'; text: string };
      }
  )[];
} {
  const title = `${ICON[notice.severity]} ${notice.title}`;
  return {
    text: clip(escapeMarkup(title), SLACK_MAX_SECTION),
    blocks: [
      { type: 'header', text: { type: 'plain_text', text: clip(title, SLACK_MAX_HEADER) } },
      {
        type: 'section',
        text: { type: 'mrkdwn', text: clip(escapeMarkup(notice.lines.join('\n')) || '—', SLACK_MAX_SECTION) },
      },
    ],
  };
}

/** The generic webhook's body: the notice as data (signed by the sender). */
export const renderWebhook = (notice: Notice): { source: 'pinebridge'; notice: Notice } => ({
  source: 'pinebridge',
  notice,
});
