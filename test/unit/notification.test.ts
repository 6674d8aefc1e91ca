import { describe, expect, it } from 'vitest';
import {
  AuthFailureWatch,
  DIGEST_MAX_LINES,
  DISCORD_MAX_CONTENT,
  DISCORD_MAX_EMBED_DESCRIPTION,
  DISCORD_MAX_EMBED_TITLE,
  digestNotice,
  type Notice,
  redact,
  renderDiscord,
  renderSlack,
  renderTelegram,
  SLACK_MAX_HEADER,
  SLACK_MAX_SECTION,
  splitNotice,
  TELEGRAM_MAX_TEXT,
} from '../../shared/domain/notification.js';
import { summaryDue } from '../../shared/usecases/daily-summary.js';
import { admits } from '../../shared/usecases/notifier.js';
import { AT, EVERY_NOTICE } from '../fixtures/notices.js';

describe('notices on every channel, within each one’s documented limits', () => {
  const huge: Notice = {
    ...EVERY_NOTICE[0],
    title: 'x'.repeat(5000),
    lines: Array.from({ length: 400 }, (_, i) => `line ${i} <${'y'.repeat(40)}>`),
  } as Notice;

  it.each([...EVERY_NOTICE, huge].map((n) => [n.kind, n] as const))('renders %s', (_kind, notice) => {
    const telegram = renderTelegram(notice);
    const plain = telegram.text
      .replace(/<[^>]*>/g, '')
      .replaceAll('&lt;', '<')
      .replaceAll('&gt;', '>')
      .replaceAll('&amp;', '&');
    expect(plain.length).toBeGreaterThan(0);
    expect(plain.length).toBeLessThanOrEqual(TELEGRAM_MAX_TEXT);
    expect(telegram.parse_mode).toBe('HTML');
    // Only the title's <b> is markup: everything else is escaped.
    expect(telegram.text.match(/<[^>]*>/g)).toEqual(['<b>', '</b>']);

    const discord = renderDiscord(notice);
    expect(discord.content.length).toBeLessThanOrEqual(DISCORD_MAX_CONTENT);
    expect(discord.embeds[0]?.title.length).toBeLessThanOrEqual(DISCORD_MAX_EMBED_TITLE);
    expect(discord.embeds[0]?.description.length).toBeLessThanOrEqual(DISCORD_MAX_EMBED_DESCRIPTION);

    const slack = renderSlack(notice);
    const [header, section] = slack.blocks;
    expect(header?.text.text.length).toBeLessThanOrEqual(SLACK_MAX_HEADER);
    expect(section?.text.text.length).toBeLessThanOrEqual(SLACK_MAX_SECTION);
    expect(section?.text.text).not.toMatch(/<(?!!)/);
  });

  it('shows a closing fill’s realized P&L and a halt as critical', () => {
    expect(EVERY_NOTICE[0]?.lines[0]).toBe('Realized P&L: −$27.50');
    expect(EVERY_NOTICE[4]?.severity).toBe('critical');
    expect(renderTelegram(EVERY_NOTICE[4] as Notice).text).toContain('<b>Trading ACTIVE → HALTED</b>');
  });

  it('folds a burst into one digest that counts each kind and keeps the worst severity', () => {
    const digest = digestNotice([...EVERY_NOTICE, ...EVERY_NOTICE.slice(0, 1)], AT);

    expect(digest.kind).toBe('digest');
    expect(digest.severity).toBe('critical');
    expect(digest.title).toMatch(/^10 updates \(2 fill, 1 refusal/);
    expect(digest.lines).toHaveLength(10);
  });
});

describe('long notices are split, not cut', () => {
  // An emergency stop that left 150 positions open: every one must reach the trader.
  const left: Notice = {
    kind: 'stop-incomplete',
    severity: 'critical',
    title: 'Emergency stop INCOMPLETE: 150 broker actions failed',
    lines: Array.from(
      { length: 150 },
      (_, i) => `close SYM${i}: failed (broker answered 503) <& retry by hand>`,
    ),
    at: AT,
  };
  const telegramLength = (notice: Notice) =>
    renderTelegram(notice)
      .text.replace(/<[^>]*>/g, '')
      .replaceAll('&lt;', '<')
      .replaceAll('&gt;', '>')
      .replaceAll('&amp;', '&').length;

  it.each(['telegram', 'discord', 'slack'] as const)(
    'on %s: parts within the limit, every line once, in order, numbered',
    (channel) => {
      const parts = splitNotice(left, channel);

      expect(parts.length).toBeGreaterThan(1);
      expect(parts.flatMap((p) => p.lines)).toEqual(left.lines);
      parts.forEach((part, i) => {
        expect(part.title).toBe(`${left.title} (${i + 1}/${parts.length})`);
        expect(part.severity).toBe('critical');
        // Rendered whole: nothing clipped, within the channel's documented limit.
        if (channel === 'telegram') {
          expect(telegramLength(part)).toBeLessThanOrEqual(TELEGRAM_MAX_TEXT);
          expect(renderTelegram(part).text).not.toContain('\n…');
        }
        if (channel === 'discord')
          expect(renderDiscord(part).embeds[0]?.description).toBe(part.lines.join('\n'));
        if (channel === 'slack')
          expect(renderSlack(part).blocks[1]?.text.text.length).toBeLessThanOrEqual(SLACK_MAX_SECTION);
      });
    },
  );

  it('leaves a notice that fits as it is, sends the webhook everything at once, and shortens only a line longer than a message', () => {
    const one = EVERY_NOTICE[0] as Notice;
    const monster: Notice = { ...one, lines: ['z'.repeat(20_000), 'after'] };

    expect(splitNotice(one, 'telegram')).toEqual([one]);
    expect(splitNotice(left, 'webhook')).toEqual([left]);
    const [shortened, ...rest] = splitNotice(monster, 'telegram');
    expect(rest).toEqual([]);
    expect(shortened?.lines).toEqual([expect.stringMatching(/^z+ …$/), 'after']);
    expect(telegramLength(shortened as Notice)).toBeLessThanOrEqual(TELEGRAM_MAX_TEXT);
  });

  it('a digest stays a summary: it lists the first notices by title and counts the rest', () => {
    const many = Array.from({ length: 200 }, (_, i) => ({
      ...(EVERY_NOTICE[0] as Notice),
      title: `fill ${i}`,
    }));

    const digest = digestNotice(many, AT);

    expect(digest.title).toBe('200 updates (200 fill)');
    expect(digest.lines).toHaveLength(DIGEST_MAX_LINES + 1);
    expect(digest.lines.at(-1)).toMatch(/^… and 160 more/);
    expect(splitNotice(digest, 'slack')).toEqual([digest]);
  });
});

describe('redact', () => {
  it('removes a secret and any 8-character piece of it', () => {
    const secret = '123456789:AAFakeTelegramToken';
    expect(redact(`token ${secret} and part ${secret.slice(5, 20)}`, [secret])).not.toMatch(/AAFake|6789:AA/);
  });
});

describe('which notices a channel gets', () => {
  const fill = EVERY_NOTICE[0] as Notice;
  const halt = EVERY_NOTICE[4] as Notice;

  it('takes every notice by default, only critical ones in quiet mode, and only listed kinds', () => {
    expect(admits(undefined, fill)).toBe(true);
    expect(admits({ events: 'all', minSeverity: 'info', quiet: true }, fill)).toBe(false);
    expect(admits({ events: 'all', minSeverity: 'info', quiet: true }, halt)).toBe(true);
    expect(admits({ events: ['fill'], minSeverity: 'info', quiet: false }, halt)).toBe(false);
    expect(admits({ events: 'all', minSeverity: 'warning', quiet: false }, fill)).toBe(false);
  });
});

describe('when the daily summary is due (NYSE calendar, America/New_York)', () => {
  it.each([
    ['2026-12-07T21:04:59Z', undefined, undefined],
    ['2026-12-07T21:05:00Z', undefined, '2026-12-07'],
    ['2026-12-07T21:05:00Z', '2026-12-07', undefined],
    // Christmas: a holiday, no session, no summary.
    ['2026-12-25T21:30:00Z', undefined, undefined],
    // The day after Thanksgiving closes at 13:00: its summary is due at 13:05.
    ['2026-11-27T18:05:00Z', undefined, '2026-11-27'],
    // A Saturday.
    ['2026-12-05T21:30:00Z', undefined, undefined],
  ])('at %s (last sent for %s) → %s', (now, lastSent, due) => {
    expect(summaryDue(new Date(now), lastSent)).toBe(due);
  });
});

describe('refused webhook secrets', () => {
  it('are told once when they reach the threshold within 5 minutes, and again only in a later window', () => {
    const watch = new AuthFailureWatch(3);
    const t = Date.parse('2026-12-07T15:00:00Z');

    expect([0, 1000, 2000, 3000].map((ms) => watch.record(t + ms))).toEqual([
      undefined,
      undefined,
      3,
      undefined,
    ]);
    // Old failures slide out: three more, in a later window.
    expect([400_000, 401_000, 402_000].map((ms) => watch.record(t + ms))).toEqual([undefined, undefined, 3]);
  });
});
