import { readFileSync } from 'node:fs';
import * as z from 'zod';
import { type Config, ConfigSchema } from './schema.js';

/** Raised when configuration cannot be used; the message names every key at fault. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

const SECRET_LIKE_KEY =
  /secret|passw(or)?d|passphrase|token|credential|private|api_?key|(^|_)key$|[a-z]Key$|^key$/i;

function findSecretLikeKeys(value: unknown, path: string[] = []): string[] {
  if (Array.isArray(value)) return value.flatMap((item, i) => findSecretLikeKeys(item, [...path, String(i)]));
  if (value === null || typeof value !== 'object') return [];
  return Object.entries(value).flatMap(([key, child]) => {
    if (key === '$schema') return [];
    const here = [...path, key];
    return SECRET_LIKE_KEY.test(key) ? [here.join('.')] : findSecretLikeKeys(child, here);
  });
}

/**
 * Validates raw configuration (the parsed config.json, or `{}` for the built-in defaults).
 * Secrets are refused outright: they belong in the environment (.env locally) or Secrets Manager.
 */
export function parseConfig(raw: unknown, source = 'config.json'): Config {
  const secretKeys = findSecretLikeKeys(raw);
  if (secretKeys.length > 0) {
    throw new ConfigError(
      `${source}: ${secretKeys.map((k) => `"${k}"`).join(', ')} looks like a secret. Secrets never go in the config file: ` +
        'put them in the environment (.env, git-ignored) for local mode, or in AWS Secrets Manager for a deployment.',
    );
  }
  const result = ConfigSchema.safeParse(raw);
  if (!result.success) {
    const problems = result.error.issues.map((issue) => {
      const key = issue.path.length > 0 ? issue.path.join('.') : '(top level)';
      return `  - ${key}: ${issue.message}`;
    });
    throw new ConfigError(`${source} is invalid:\n${problems.join('\n')}`);
  }
  return result.data;
}

/** Parses config text (JSON), naming the source in any error. */
export function parseConfigText(text: string, source = 'config.json'): Config {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (error) {
    // JSON.parse quotes the input in its message; a secret pasted into the file must not be echoed.
    const position = /position (\d+)/.exec((error as Error).message)?.[1];
    throw new ConfigError(
      `${source} is not valid JSON${position !== undefined ? ` (near character ${Number(position) + 1})` : ''}`,
    );
  }
  return parseConfig(raw, source);
}

export const defaultConfig = (): Config => parseConfig({});

export const configJsonSchema = (): unknown =>
  z.toJSONSchema(ConfigSchema, { io: 'input', target: 'draft-2020-12' });

/** config.json when present, else the built-in defaults; validated loudly at synth. */
export function loadConfigFile(path = 'config.json'): Config {
  try {
    return parseConfigText(readFileSync(path, 'utf8'), path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return parseConfig({});
    throw error;
  }
}
