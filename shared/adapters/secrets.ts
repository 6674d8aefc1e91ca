import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { z } from 'zod';
import type { WebhookSecretSource, WebhookSecrets } from '../ports/index.js';

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
