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

/**
 * A previous webhook secret sent without `previousValidUntil` is accepted this long after the
 * rotation that made it previous, never for ever: a leaked old secret must stop working.
 */
export const PREVIOUS_SECRET_GRACE_MS = 24 * 3_600_000;

/**
 * Parses secret material as JSON without ever letting it reach an error message: JSON.parse's
 * SyntaxError quotes the text it choked on, which for a secret stored as plain text is the secret.
 */
export function parseSecretJson(text: string | undefined): unknown {
  try {
    return JSON.parse(text ?? '{}');
  } catch {
    return undefined;
  }
}

/** Where a secret is malformed, by field name only: zod's messages may quote the value. */
export const fieldsAtFault = (error: z.ZodError): string =>
  error.issues.map((i) => i.path.join('.') || 'the top level (it must be a JSON object)').join(', ');

/** The deadline of a previous secret: its own, else the grace period from the rotation. */
function withDeadline(secrets: z.infer<typeof WebhookSecretsSchema>, rotatedAt: Date): WebhookSecrets {
  if (secrets.previous === undefined || secrets.previousValidUntil !== undefined) return secrets;
  return {
    ...secrets,
    previousValidUntil: new Date(rotatedAt.getTime() + PREVIOUS_SECRET_GRACE_MS).toISOString(),
  };
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
    const parsed = WebhookSecretsSchema.safeParse(parseSecretJson(result.SecretString));
    // Never include the secret's value in an error: say only which field is wrong.
    if (!parsed.success) {
      throw new SecretUnavailableError(
        `webhook secret ${this.secretId} must be JSON {"current": "…"} (docs/DEPLOYMENT.md); problem at ${fieldsAtFault(parsed.error)}`,
      );
    }
    // The version holding a previous secret was written by the rotation that made it previous.
    const value = withDeadline(parsed.data, result.CreatedDate ?? new Date());
    this.cached = { value, until: Date.now() + this.ttlMs };
    return value;
  }
}

/** Webhook secrets from the environment (local mode; `.env`). */
export class EnvWebhookSecrets implements WebhookSecretSource {
  /** When this process first read the secrets: the latest a rotation in its environment can be. */
  private readonly readSince: Date;

  constructor(
    private readonly env: NodeJS.ProcessEnv = process.env,
    now: Date = new Date(),
  ) {
    this.readSince = now;
  }

  async get(): Promise<WebhookSecrets> {
    const parsed = WebhookSecretsSchema.safeParse({
      current: this.env.PINEBRIDGE_WEBHOOK_SECRET,
      previous: this.env.PINEBRIDGE_WEBHOOK_SECRET_PREVIOUS || undefined,
      previousValidUntil: this.env.PINEBRIDGE_WEBHOOK_SECRET_PREVIOUS_UNTIL || undefined,
    });
    if (!parsed.success) {
      throw new SecretUnavailableError(
        `PINEBRIDGE_WEBHOOK_SECRET is missing or invalid (${fieldsAtFault(parsed.error)})`,
      );
    }
    return withDeadline(parsed.data, this.readSince);
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
    const parsed = AlpacaKeysSchema.safeParse(parseSecretJson(result.SecretString));
    if (!parsed.success) {
      throw new SecretUnavailableError(
        `Alpaca keys secret ${this.secretId} must be JSON {"keyId": "…", "secretKey": "…"} (docs/BROKERS.md); problem at ${fieldsAtFault(parsed.error)}`,
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
