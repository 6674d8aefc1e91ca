import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { parseEnv } from 'node:util';
import { ConfigError } from '../../shared/config/load.js';

export interface LocalSecrets {
  webhookSecret: string;
  adminToken: string;
  /** True when this call generated them (first start): print them once. */
  generated: boolean;
}

const WEBHOOK = 'PINEBRIDGE_WEBHOOK_SECRET';
const ADMIN = 'PINEBRIDGE_ADMIN_TOKEN';

/** The shortest admin token the local bot accepts; the ones it generates have 32 characters. */
export const MIN_ADMIN_TOKEN_LENGTH = 24;

/**
 * The admin token unlocks the emergency stop, resume, the trading state and the dashboard: a short
 * one (a word, a PIN) could be guessed by anything that reaches the bot, so it refuses to start.
 */
export function checkAdminToken(token: string): void {
  if (token.length < MIN_ADMIN_TOKEN_LENGTH)
    throw new ConfigError(
      `${ADMIN} is ${token.length} characters long; it needs at least ${MIN_ADMIN_TOKEN_LENGTH}, as it unlocks the emergency stop, the admin API and the dashboard. Set a random one (openssl rand -base64 32), or remove it from .env and the environment and a strong one is generated at the next start.`,
    );
}

/**
 * Loads `.env` into the environment (without overriding variables already set) and makes sure a
 * webhook secret and an admin token exist, generating strong random ones into `.env` (mode 0600)
 * on first start. Throws ConfigError, naming PINEBRIDGE_ADMIN_TOKEN, when the one given is short.
 */
export function ensureLocalSecrets(path: string, env: NodeJS.ProcessEnv = process.env): LocalSecrets {
  const existing = existsSync(path) ? readFileSync(path, 'utf8') : '';
  const fromFile = parseEnv(existing);
  for (const [key, value] of Object.entries(fromFile)) env[key] ??= value;
  // Before anything is written: a refused start leaves .env as it was.
  if (env[ADMIN]) checkAdminToken(env[ADMIN]);

  const additions: string[] = [];
  for (const key of [WEBHOOK, ADMIN]) {
    if (!env[key]) {
      env[key] = randomBytes(24).toString('base64url');
      additions.push(`${key}=${env[key]}`);
    }
  }
  if (additions.length > 0) {
    const prefix = existing.length > 0 && !existing.endsWith('\n') ? '\n' : '';
    const header = existing.length === 0 ? '# Pinebridge local secrets. Never commit this file.\n' : '';
    writeFileSync(path, `${existing}${prefix}${header}${additions.join('\n')}\n`, { mode: 0o600 });
  }
  if (existsSync(path)) chmodSync(path, 0o600);
  return { webhookSecret: env[WEBHOOK] ?? '', adminToken: env[ADMIN] ?? '', generated: additions.length > 0 };
}
