import { createHash, timingSafeEqual } from 'node:crypto';
import type { WebhookSecrets } from '../ports/index.js';

/** Constant-time comparison of two strings of any length (both are hashed to equal length first). */
export function secretsMatch(candidate: string, expected: string): boolean {
  const a = createHash('sha256').update(candidate).digest();
  const b = createHash('sha256').update(expected).digest();
  return timingSafeEqual(a, b) && candidate.length === expected.length;
}

export type SecretMatch = 'current' | 'previous' | undefined;

/** Which configured secret, if any, the candidate is; the previous one only until its deadline. */
export function matchSecret(candidate: unknown, secrets: WebhookSecrets, now: Date): SecretMatch {
  if (typeof candidate !== 'string' || candidate.length === 0 || candidate.length > 512) return undefined;
  const current = secretsMatch(candidate, secrets.current);
  const previousOpen =
    secrets.previous !== undefined &&
    (secrets.previousValidUntil === undefined || Date.parse(secrets.previousValidUntil) > now.getTime());
  const previous =
    previousOpen && secrets.previous !== undefined && secretsMatch(candidate, secrets.previous);
  return current ? 'current' : previous ? 'previous' : undefined;
}
