import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import * as z from 'zod';
import { fieldsAtFault, parseSecretJson, SecretUnavailableError } from './secrets.js';

const DashboardSecret = z.object({
  password: z.string().min(16, 'the dashboard password must be at least 16 characters'),
});

/**
 * The web dashboard's login password from Secrets Manager (JSON `{"password": "…"}`, the secret
 * `pinebridge-<stage>/dashboard`). Cached for a few minutes, so a rotated password takes effect
 * (and ends every session signed with the old one) without a redeploy.
 */
export class SecretsManagerDashboardPassword {
  private cached: { value: string; until: number } | undefined;

  constructor(
    private readonly secretId: string,
    private readonly client = new SecretsManagerClient({ maxAttempts: 2 }),
    private readonly ttlMs = 300_000,
  ) {}

  async get(): Promise<string> {
    if (this.cached && this.cached.until > Date.now()) return this.cached.value;
    const result = await this.client.send(new GetSecretValueCommand({ SecretId: this.secretId }));
    const parsed = DashboardSecret.safeParse(parseSecretJson(result.SecretString));
    // Never the value in an error: only where the secret is wrong.
    if (!parsed.success) {
      throw new SecretUnavailableError(
        `dashboard secret ${this.secretId} must be JSON {"password": "…"} of at least 16 characters (problem at ${fieldsAtFault(parsed.error)})`,
      );
    }
    this.cached = { value: parsed.data.password, until: Date.now() + this.ttlMs };
    return parsed.data.password;
  }
}
