/**
 * The first piece of `secret`, 8 characters or the whole secret if shorter, that occurs in
 * `haystack`; undefined when none does. A log line quoting the start of a secret (as JSON.parse's
 * SyntaxError does) leaks it as surely as one quoting all of it.
 */
export function leakedPiece(haystack: string, secret: string, length = 8): string | undefined {
  if (secret.length <= length) return haystack.includes(secret) ? secret : undefined;
  for (let i = 0; i + length <= secret.length; i++) {
    const piece = secret.slice(i, i + length);
    if (haystack.includes(piece)) return piece;
  }
  return undefined;
}
