import { createHash } from 'node:crypto';

const BASE32 = 'abcdefghijklmnopqrstuvwxyz234567';

function base32(bytes: Uint8Array, length: number): string {
  let out = '';
  let buffer = 0;
  let bits = 0;
  for (const byte of bytes) {
    buffer = (buffer << 8) | byte;
    bits += 8;
    while (bits >= 5 && out.length < length) {
      out += BASE32[(buffer >>> (bits - 5)) & 31];
      bits -= 5;
    }
    buffer &= (1 << bits) - 1;
  }
  return out;
}

export const sha256 = (text: string): Buffer => createHash('sha256').update(text).digest();

/** JSON with object keys sorted at every level, so equal payloads hash equally. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

/**
 * What makes two deliveries "the same alert": the alert's own id when it has one, otherwise the
 * canonical payload (secret already removed).
 */
export const dedupKeyOf = (alertId: string | undefined, canonicalPayload: string): string =>
  alertId !== undefined ? `id:${alertId}` : `body:${sha256(canonicalPayload).toString('hex')}`;

/**
 * The signal id, derived from the dedup key and the time the first delivery arrived. Dedup is
 * the marker's job (shared/adapters/dynamodb/signal-store.ts): once a marker has expired, the same
 * alert is a new signal with a new id, never a collision with the old record.
 */
export const signalIdOf = (dedupKey: string, receivedAt: string): string =>
  `s${base32(sha256(`${dedupKey}@${receivedAt}`), 26)}`;

/** The broker's client order id: deterministic from the signal id, at most 48 characters (Alpaca's limit). */
export const clientOrderIdOf = (signalId: string): string => `pb-${signalId}`;
