import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ensureLocalSecrets, MIN_ADMIN_TOKEN_LENGTH } from '../../infra/local/env-file.js';
import { startLocalRuntime } from '../../infra/local/runtime.js';
import { ConfigError, parseConfig } from '../../shared/config/load.js';

const envFile = (content?: string) => {
  const path = join(mkdtempSync(join(tmpdir(), 'pinebridge-env-')), '.env');
  if (content !== undefined) writeFileSync(path, content);
  return path;
};

describe('the local admin token (infra/local/env-file.ts)', () => {
  it('is generated long enough on first start', () => {
    const path = envFile();

    const secrets = ensureLocalSecrets(path, {});

    expect(secrets.generated).toBe(true);
    expect(secrets.adminToken.length).toBeGreaterThanOrEqual(MIN_ADMIN_TOKEN_LENGTH);
    expect(readFileSync(path, 'utf8')).toContain(`PINEBRIDGE_ADMIN_TOKEN=${secrets.adminToken}`);
  });

  it('refuses a short one from the environment, naming PINEBRIDGE_ADMIN_TOKEN and its length', () => {
    const start = () => ensureLocalSecrets(envFile(), { PINEBRIDGE_ADMIN_TOKEN: 'hunter2' });

    expect(start).toThrow(ConfigError);
    expect(start).toThrow(/^PINEBRIDGE_ADMIN_TOKEN is 7 characters long; it needs at least 24/);
  });

  it('refuses a short one from .env, and accepts one of exactly the minimum length', () => {
    const short = envFile(`PINEBRIDGE_ADMIN_TOKEN=${'a'.repeat(MIN_ADMIN_TOKEN_LENGTH - 1)}\n`);
    const enough = envFile(`PINEBRIDGE_ADMIN_TOKEN=${'a'.repeat(MIN_ADMIN_TOKEN_LENGTH)}\n`);

    expect(() => ensureLocalSecrets(short, {})).toThrow(/PINEBRIDGE_ADMIN_TOKEN is 23 characters long/);
    expect(ensureLocalSecrets(enough, {}).adminToken).toHaveLength(MIN_ADMIN_TOKEN_LENGTH);
  });

  it('is checked by the local runtime too, before it starts anything', async () => {
    const started = startLocalRuntime({
      config: parseConfig({}),
      webhookSecret: 'whsec-0123456789abcdef0123456789',
      adminToken: 'short',
      port: 0,
    });

    await expect(started).rejects.toThrow(/PINEBRIDGE_ADMIN_TOKEN is 5 characters long/);
  });
});
