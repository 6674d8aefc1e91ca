import type { ChannelCredentials } from './channels.js';

/**
 * The environment variables that turn a channel on: locally in .env, in AWS as the keys of the
 * notifications secret (one JSON object). A channel is on when all of its variables are set.
 */
export const CHANNEL_VARIABLES = {
  telegram: ['PINEBRIDGE_TELEGRAM_BOT_TOKEN', 'PINEBRIDGE_TELEGRAM_CHAT_ID'],
  discord: ['PINEBRIDGE_DISCORD_WEBHOOK_URL'],
  slack: ['PINEBRIDGE_SLACK_WEBHOOK_URL'],
  webhook: ['PINEBRIDGE_NOTIFY_WEBHOOK_URL', 'PINEBRIDGE_NOTIFY_WEBHOOK_SECRET'],
} as const;

/** Every variable that holds a credential: kept out of logs, messages and answers. */
export const CHANNEL_SECRET_VARIABLES = [
  'PINEBRIDGE_TELEGRAM_BOT_TOKEN',
  'PINEBRIDGE_DISCORD_WEBHOOK_URL',
  'PINEBRIDGE_SLACK_WEBHOOK_URL',
  'PINEBRIDGE_NOTIFY_WEBHOOK_URL',
  'PINEBRIDGE_NOTIFY_WEBHOOK_SECRET',
] as const;

/**
 * The channels' credentials from the environment (or a secret's JSON). A channel with some of its
 * variables set and others missing is a mistake, reported rather than silently left off.
 * `PINEBRIDGE_TELEGRAM_API_URL` points Telegram at a self-hosted Bot API server (or a test's fake).
 */
export function channelCredentialsFrom(env: Record<string, string | undefined>): {
  credentials: ChannelCredentials;
  problems: string[];
} {
  const problems: string[] = [];
  const on = (channel: keyof typeof CHANNEL_VARIABLES): boolean => {
    const variables = CHANNEL_VARIABLES[channel];
    const set = variables.filter((name) => (env[name] ?? '').trim() !== '');
    if (set.length > 0 && set.length < variables.length)
      problems.push(
        `${channel}: ${variables.filter((name) => !set.includes(name as never)).join(' and ')} missing (set ${variables.join(' and ')})`,
      );
    return set.length === variables.length;
  };
  const value = (name: string) => (env[name] ?? '').trim();
  const credentials: ChannelCredentials = {};
  if (on('telegram'))
    credentials.telegram = {
      botToken: value('PINEBRIDGE_TELEGRAM_BOT_TOKEN'),
      chatId: value('PINEBRIDGE_TELEGRAM_CHAT_ID'),
      ...(value('PINEBRIDGE_TELEGRAM_API_URL') ? { apiUrl: value('PINEBRIDGE_TELEGRAM_API_URL') } : {}),
    };
  for (const [channel, variable] of [
    ['discord', 'PINEBRIDGE_DISCORD_WEBHOOK_URL'],
    ['slack', 'PINEBRIDGE_SLACK_WEBHOOK_URL'],
  ] as const) {
    if (!on(channel)) continue;
    const url = value(variable);
    if (!/^https?:\/\//.test(url)) problems.push(`${channel}: ${variable} must be an http(s) URL`);
    else credentials[channel] = { webhookUrl: url };
  }
  if (on('webhook')) {
    const url = value('PINEBRIDGE_NOTIFY_WEBHOOK_URL');
    const signingSecret = value('PINEBRIDGE_NOTIFY_WEBHOOK_SECRET');
    if (!/^https?:\/\//.test(url))
      problems.push('webhook: PINEBRIDGE_NOTIFY_WEBHOOK_URL must be an http(s) URL');
    else if (signingSecret.length < 16)
      problems.push('webhook: PINEBRIDGE_NOTIFY_WEBHOOK_SECRET must be at least 16 characters');
    else credentials.webhook = { url, signingSecret };
  }
  return { credentials, problems };
}
