import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { parseEnv } from 'node:util';

export interface LocalSecrets {
  webhookSecret: string;
  adminToken: string;
  /** True when this call generated them (first start): print them once. */
  generated: boolean;
}

const WEBHOOK = 'PINEBRIDGE_WEBHOOK_SECRET';
const ADMIN = 'PINEBRIDGE_ADMIN_TOKEN';

/**
 * Loads `.env` into the environment (without overriding variables already set) and makes sure a
 * webhook secret and an admin token exist, generating strong random ones into `.env` (mode 0600)
 * on first start.
 */
export function ensureLocalSecrets(path: string, env: NodeJS.ProcessEnv = process.env): LocalSecrets {
  const existing = existsSync(path) ? readFileSync(path, 'utf8') : '';
  const fromFile = parseEnv(existing);
  for (const [key, value] of Object.entries(fromFile)) env[key] ??= value;

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
