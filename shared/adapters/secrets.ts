import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import * as z from 'zod';
import type { WebhookSecretSource, WebhookSecrets } from '../ports/index.js';
import type { AlpacaCredentialSource, AlpacaCredentials } from './alpaca/alpaca-broker.js';

const WebhookSecretsSchema = z.object({
  current: z.string().min(16, 'the webhook secret must be at least 16 characters'),
  previous: z.string().min(16).optional(),
  previousValidUntil: z.iso.datetime().optional(),
});

export class SecretUnavailableError extends Error {
  override readonly name = 'SecretUnavailableError';
}

/** Webhook secrets from Secrets Manager (JSON `{current, previous?, previousValidUntil?}`), cached briefly. */
export class SecretsManagerWebhookSecrets implements WebhookSecretSource {
  private cached: { value: WebhookSecrets; until: number } | undefined;

  constructor(
    private readonly secretId: string,
    private readonly client = new SecretsManagerClient({ maxAttempts: 2 }),
    private readonly ttlMs = 60_000,
  ) {}

  async get(): Promise<WebhookSecrets> {
    if (this.cached && this.cached.until > Date.now()) return this.cached.value;
    const result = await this.client.send(new GetSecretValueCommand({ SecretId: this.secretId }));
    const parsed = WebhookSecretsSchema.safeParse(JSON.parse(result.SecretString ?? '{}'));
    // Never include the secret's value in an error: say only which field is wrong.
    if (!parsed.success) {
      throw new SecretUnavailableError(
        `webhook secret ${this.secretId} is malformed at ${parsed.error.issues.map((i) => i.path.join('.')).join(', ')}`,
      );
    }
    this.cached = { value: parsed.data, until: Date.now() + this.ttlMs };
    return parsed.data;
  }
}

/** Webhook secrets from the environment (local mode; `.env`). */
export class EnvWebhookSecrets implements WebhookSecretSource {
  constructor(private readonly env: NodeJS.ProcessEnv = process.env) {}

  async get(): Promise<WebhookSecrets> {
    const parsed = WebhookSecretsSchema.safeParse({
      current: this.env.PINEBRIDGE_WEBHOOK_SECRET,
      previous: this.env.PINEBRIDGE_WEBHOOK_SECRET_PREVIOUS || undefined,
      previousValidUntil: this.env.PINEBRIDGE_WEBHOOK_SECRET_PREVIOUS_UNTIL || undefined,
    });
    if (!parsed.success) {
      throw new SecretUnavailableError(
        `PINEBRIDGE_WEBHOOK_SECRET is missing or invalid (${parsed.error.issues.map((i) => i.path.join('.')).join(', ')})`,
      );
    }
    return parsed.data;
  }
}

const AlpacaKeysSchema = z.object({
  keyId: z.string().min(1, 'keyId is empty'),
  secretKey: z.string().min(1, 'secretKey is empty'),
});

/**
 * Alpaca keys from Secrets Manager (JSON `{keyId, secretKey}`; paper and live in separate secrets),
 * read once per container and again on `refresh()` (after a 401: the keys may have been rotated).
 */
export class SecretsManagerAlpacaCredentials implements AlpacaCredentialSource {
  private cached: Promise<AlpacaCredentials> | undefined;

  constructor(
    private readonly secretId: string,
    private readonly client = new SecretsManagerClient({ maxAttempts: 2 }),
  ) {}

  get(): Promise<AlpacaCredentials> {
    this.cached ??= this.read();
    this.cached.catch(() => {
      this.cached = undefined;
    });
    return this.cached;
  }

  refresh(): Promise<AlpacaCredentials> {
    this.cached = undefined;
    return this.get();
  }

  private async read(): Promise<AlpacaCredentials> {
    const result = await this.client.send(new GetSecretValueCommand({ SecretId: this.secretId }));
    let raw: unknown;
    try {
      raw = JSON.parse(result.SecretString ?? '{}');
    } catch {
      raw = undefined;
    }
    const parsed = AlpacaKeysSchema.safeParse(raw);
    if (!parsed.success) {
      throw new SecretUnavailableError(
        `Alpaca keys secret ${this.secretId} must be JSON {"keyId": "…", "secretKey": "…"} (docs/BROKERS.md); problem at ${parsed.error.issues.map((i) => i.path.join('.') || 'the top level').join(', ')}`,
      );
    }
    return parsed.data;
  }
}

/** Alpaca keys from the environment (local mode): APCA_API_KEY_ID and APCA_API_SECRET_KEY, Alpaca's own names. */
export class EnvAlpacaCredentials implements AlpacaCredentialSource {
  constructor(private readonly env: NodeJS.ProcessEnv = process.env) {}

  static present(env: NodeJS.ProcessEnv = process.env): boolean {
    return Boolean(env.APCA_API_KEY_ID && env.APCA_API_SECRET_KEY);
  }

  async get(): Promise<AlpacaCredentials> {
    const parsed = AlpacaKeysSchema.safeParse({
      keyId: this.env.APCA_API_KEY_ID,
      secretKey: this.env.APCA_API_SECRET_KEY,
    });
    if (!parsed.success)
      throw new SecretUnavailableError('APCA_API_KEY_ID and APCA_API_SECRET_KEY must both be set for Alpaca');
    return parsed.data;
  }

  refresh(): Promise<AlpacaCredentials> {
    return this.get();
  }
}
