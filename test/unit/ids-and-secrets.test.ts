import type { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import type { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { describe, expect, it } from 'vitest';
import { SecretsManagerDashboardPassword } from '../../shared/adapters/dashboard-password.js';
import { brokerKindOf } from '../../shared/adapters/dependencies.js';
import { EventBridgePublisher, EventBridgeTradingStateEvents } from '../../shared/adapters/events.js';
import {
  EnvAlpacaCredentials,
  EnvWebhookSecrets,
  PREVIOUS_SECRET_GRACE_MS,
  SecretsManagerAlpacaCredentials,
  SecretsManagerWebhookSecrets,
} from '../../shared/adapters/secrets.js';
import { parseConfig } from '../../shared/config/load.js';
import { canonicalJson, clientOrderIdOf, dedupKeyOf, signalIdOf } from '../../shared/domain/ids.js';
import { matchSecret, secretsMatch } from '../../shared/domain/secrets.js';
import type { WebhookSecrets } from '../../shared/ports/index.js';
import { leakedPiece } from '../support/leaks.js';

describe('canonicalJson', () => {
  it('is independent of key order at every level', () => {
    const a = {
      ticker: 'AAPL',
      action: 'buy',
      nested: { b: 2, a: 1, deeper: { z: [1, { y: 1, x: 2 }], m: null } },
    };
    const b = {
      nested: { deeper: { m: null, z: [1, { x: 2, y: 1 }] }, a: 1, b: 2 },
      action: 'buy',
      ticker: 'AAPL',
    };

    expect(canonicalJson(a)).toBe(canonicalJson(b));
  });

  it('sorts keys and drops undefined values, keeping array order', () => {
    const json = canonicalJson({ b: [3, 1, 2], a: 'x', c: undefined, d: { f: true, e: 1.5 } });

    expect(json).toBe('{"a":"x","b":[3,1,2],"d":{"e":1.5,"f":true}}');
  });

  it('distinguishes payloads that differ in any value or in array order', () => {
    expect(canonicalJson({ quantity: '10' })).not.toBe(canonicalJson({ quantity: '11' }));
    expect(canonicalJson({ quantity: '10' })).not.toBe(canonicalJson({ quantity: 10 }));
    expect(canonicalJson([1, 2])).not.toBe(canonicalJson([2, 1]));
  });
});

describe('dedupKeyOf and signalIdOf', () => {
  const RECEIVED = '2024-03-15T14:30:00.000Z';
  const LATER = '2024-03-15T14:45:00.000Z';

  it('keys an alert by its own id when it has one, otherwise by a hash of the canonical payload', () => {
    expect(dedupKeyOf('tv-123', '{"a":1}')).toBe('id:tv-123');
    expect(dedupKeyOf(undefined, '{"a":1}')).toMatch(/^body:[0-9a-f]{64}$/);
    expect(dedupKeyOf(undefined, '{"a":1}')).toBe(dedupKeyOf(undefined, '{"a":1}'));
    expect(dedupKeyOf(undefined, '{"a":1}')).not.toBe(dedupKeyOf(undefined, '{"a":2}'));
  });

  it('is deterministic', () => {
    const key = dedupKeyOf(undefined, canonicalJson({ symbol: 'AAPL', action: 'buy' }));

    expect(signalIdOf(key, RECEIVED)).toBe(signalIdOf(key, RECEIVED));
    expect(signalIdOf('id:tv-123', RECEIVED)).toBe(signalIdOf('id:tv-123', RECEIVED));
  });

  it('is a short, URL- and DynamoDB-safe token', () => {
    expect(signalIdOf('id:tv-123', RECEIVED)).toMatch(/^s[a-z2-7]{26}$/);
    expect(signalIdOf(dedupKeyOf(undefined, '{}'), RECEIVED)).toMatch(/^s[a-z2-7]{26}$/);
  });

  it('depends on the arrival time for an alert with its own id too (reuse after retention is a new signal)', () => {
    expect(signalIdOf('id:tv-123', RECEIVED)).not.toBe(signalIdOf('id:tv-123', LATER));
  });

  it('depends on the arrival time for a body-keyed alert (the same body later is a new signal)', () => {
    const key = dedupKeyOf(undefined, canonicalJson({ symbol: 'AAPL', action: 'buy' }));

    expect(signalIdOf(key, RECEIVED)).not.toBe(signalIdOf(key, LATER));
  });

  it('differs between alerts with different ids', () => {
    expect(signalIdOf('id:tv-123', RECEIVED)).not.toBe(signalIdOf('id:tv-124', RECEIVED));
  });
});

describe('clientOrderIdOf', () => {
  it('is at most 48 characters (the broker limit) and deterministic from the signal id', () => {
    const signalId = signalIdOf('id:tv-123', '2024-03-15T14:30:00.000Z');

    const id = clientOrderIdOf(signalId);

    expect(id.length).toBeLessThanOrEqual(48);
    expect(id).toBe(clientOrderIdOf(signalId));
    expect(id).toContain(signalId);
  });

  it('gives different signals different client order ids', () => {
    const a = clientOrderIdOf(signalIdOf('id:tv-1', '2024-03-15T14:30:00.000Z'));
    const b = clientOrderIdOf(signalIdOf('id:tv-2', '2024-03-15T14:30:00.000Z'));

    expect(a).not.toBe(b);
  });
});

describe('secretsMatch', () => {
  it('matches equal strings only', () => {
    expect(secretsMatch('pb-Zq8rT3vW9xK2mN7s', 'pb-Zq8rT3vW9xK2mN7s')).toBe(true);
    expect(secretsMatch('pb-Zq8rT3vW9xK2mN7', 'pb-Zq8rT3vW9xK2mN7s')).toBe(false);
    expect(secretsMatch('pb-Zq8rT3vW9xK2mN7s ', 'pb-Zq8rT3vW9xK2mN7s')).toBe(false);
    expect(secretsMatch('PB-ZQ8RT3VW9XK2MN7S', 'pb-Zq8rT3vW9xK2mN7s')).toBe(false);
    expect(secretsMatch('', 'pb-Zq8rT3vW9xK2mN7s')).toBe(false);
  });
});

describe('matchSecret', () => {
  const NOW = new Date('2024-03-15T14:30:00.000Z');
  const CURRENT = 'pb-current-Zq8rT3vW9xK2mN7s';
  const PREVIOUS = 'pb-previous-Hb4yQ6cJ1dF5gL0p';
  const rotating = (previousValidUntil: string | undefined): WebhookSecrets => ({
    current: CURRENT,
    previous: PREVIOUS,
    ...(previousValidUntil !== undefined ? { previousValidUntil } : {}),
  });

  it('accepts the current secret as "current"', () => {
    expect(matchSecret(CURRENT, { current: CURRENT }, NOW)).toBe('current');
  });

  it.each([
    ['a wrong secret', 'pb-wrong-secret-value'],
    ['a one-character secret', 'p'],
    ['the current secret with a trailing newline', `${CURRENT}\n`],
    ['a prefix of the current secret', CURRENT.slice(0, -1)],
  ])('refuses %s', (_label, candidate) => {
    expect(matchSecret(candidate, { current: CURRENT }, NOW)).toBeUndefined();
  });

  it.each([
    ['undefined (missing)', undefined],
    ['null', null],
    ['a number', 12345],
    ['a boolean', true],
    ['an object', { secret: CURRENT }],
    ['an array', [CURRENT]],
    ['an empty string', ''],
    ['a 10 KB string', 'x'.repeat(10 * 1024)],
    ['a 10 KB string that starts with the secret', CURRENT + 'x'.repeat(10 * 1024)],
  ])('refuses %s without throwing', (_label, candidate) => {
    expect(matchSecret(candidate, { current: CURRENT }, NOW)).toBeUndefined();
  });

  it('accepts the previous secret as "previous" before previousValidUntil', () => {
    const secrets = rotating('2024-03-15T14:30:00.001Z');

    expect(matchSecret(PREVIOUS, secrets, NOW)).toBe('previous');
    expect(matchSecret(CURRENT, secrets, NOW)).toBe('current');
  });

  it('refuses the previous secret at and after previousValidUntil', () => {
    expect(matchSecret(PREVIOUS, rotating('2024-03-15T14:30:00.000Z'), NOW)).toBeUndefined();
    expect(matchSecret(PREVIOUS, rotating('2024-03-15T14:29:59.999Z'), NOW)).toBeUndefined();
    expect(matchSecret(CURRENT, rotating('2024-03-15T14:29:59.999Z'), NOW)).toBe('current');
  });

  it('accepts the previous secret when no deadline is set', () => {
    expect(matchSecret(PREVIOUS, rotating(undefined), NOW)).toBe('previous');
  });

  it('refuses a wrong secret during a rotation too', () => {
    expect(matchSecret('pb-neither', rotating('2024-03-16T00:00:00.000Z'), NOW)).toBeUndefined();
  });
});

describe('secret material that is not what Pinebridge expects', () => {
  const secretsClient = (secretString: string, createdDate?: Date) =>
    ({
      send: async () => ({
        SecretString: secretString,
        ...(createdDate ? { CreatedDate: createdDate } : {}),
      }),
    }) as unknown as SecretsManagerClient;
  // A secret stored as plain text, or as broken JSON: JSON.parse's SyntaxError would quote it.
  const PLAIN = 'Zq8rT3vW9xK2mN7sHb4yQ6cJ1dF5gL0p';
  const stored = [PLAIN, `{"current":"${PLAIN}"`, `{"current":${PLAIN}}`, `["${PLAIN}"]`, `"${PLAIN}"`];
  const sources = {
    'webhook secret': (text: string) =>
      new SecretsManagerWebhookSecrets('pinebridge-dev/webhook', secretsClient(text)),
    'Alpaca keys': (text: string) =>
      new SecretsManagerAlpacaCredentials('pinebridge-dev/alpaca-live', secretsClient(text)),
    'dashboard password': (text: string) =>
      new SecretsManagerDashboardPassword('pinebridge-dev/dashboard', secretsClient(text)),
  };

  it.each(Object.entries(sources))(
    'the %s source names the secret and the problem, never any 8 characters of the value',
    async (_name, source) => {
      for (const text of stored) {
        const error = await source(text)
          .get()
          .then(
            () => undefined,
            (e: unknown) => e as Error,
          );

        expect(error?.name).toBe('SecretUnavailableError');
        expect(error?.message).toMatch(/pinebridge-dev\//);
        expect(leakedPiece(`${error?.message}\n${error?.stack}`, PLAIN)).toBeUndefined();
      }
    },
  );

  it('a previous webhook secret without a deadline expires a bounded time after the rotation (the version written)', async () => {
    const rotatedAt = new Date('2026-12-01T10:00:00.000Z');
    const source = new SecretsManagerWebhookSecrets(
      'pinebridge-dev/webhook',
      secretsClient(JSON.stringify({ current: 'pb-current-Zq8rT3vW9xK2mN7s', previous: PLAIN }), rotatedAt),
    );

    const secrets = await source.get();

    expect(secrets.previousValidUntil).toBe(
      new Date(rotatedAt.getTime() + PREVIOUS_SECRET_GRACE_MS).toISOString(),
    );
    const after = new Date(rotatedAt.getTime() + PREVIOUS_SECRET_GRACE_MS);
    expect(matchSecret(PLAIN, secrets, new Date(after.getTime() - 1))).toBe('previous');
    expect(matchSecret(PLAIN, secrets, after)).toBeUndefined();
  });

  it('locally, a previous secret without a deadline expires a bounded time after the bot read it; one with a deadline keeps it', async () => {
    const started = new Date('2026-12-01T10:00:00.000Z');
    const env = {
      PINEBRIDGE_WEBHOOK_SECRET: 'pb-current-Zq8rT3vW9xK2mN7s',
      PINEBRIDGE_WEBHOOK_SECRET_PREVIOUS: PLAIN,
    };

    const open = await new EnvWebhookSecrets(env, started).get();
    const dated = await new EnvWebhookSecrets(
      { ...env, PINEBRIDGE_WEBHOOK_SECRET_PREVIOUS_UNTIL: '2026-12-10T00:00:00.000Z' },
      started,
    ).get();

    expect(open.previousValidUntil).toBe('2026-12-02T10:00:00.000Z');
    expect(dated.previousValidUntil).toBe('2026-12-10T00:00:00.000Z');
  });
});

describe('Alpaca keys and broker selection', () => {
  const secretsClient = (secretString: string) =>
    ({ send: async () => ({ SecretString: secretString }) }) as unknown as SecretsManagerClient;

  it('reads {keyId, secretKey} from the secret and caches it until refresh()', async () => {
    let reads = 0;
    const client = {
      send: async () => {
        reads++;
        return { SecretString: JSON.stringify({ keyId: 'PKTEST', secretKey: 'sk-test-value' }) };
      },
    } as unknown as SecretsManagerClient;
    const source = new SecretsManagerAlpacaCredentials('pinebridge-dev/alpaca-paper', client);

    const first = await source.get();
    await source.get();
    await source.refresh();

    expect(first).toEqual({ keyId: 'PKTEST', secretKey: 'sk-test-value' });
    expect(reads).toBe(2);
  });

  it('names what is wrong with a malformed or empty secret without echoing any of it', async () => {
    for (const text of ['{"keyId":"PKLEAKED"}', 'not json sk-leaked', '{}']) {
      const source = new SecretsManagerAlpacaCredentials('pinebridge-dev/alpaca-live', secretsClient(text));

      const error = await source.get().then(
        () => undefined,
        (e: unknown) => e as Error,
      );

      expect(error?.name).toBe('SecretUnavailableError');
      expect(error?.message).toContain('pinebridge-dev/alpaca-live');
      expect(error?.message).not.toMatch(/LEAKED|leaked/);
    }
  });

  it('takes the keys from APCA_API_KEY_ID / APCA_API_SECRET_KEY locally and says so when one is missing', async () => {
    const env = { APCA_API_KEY_ID: 'PKLOCAL', APCA_API_SECRET_KEY: 'local-secret' };

    expect(await new EnvAlpacaCredentials(env).get()).toEqual({
      keyId: 'PKLOCAL',
      secretKey: 'local-secret',
    });
    await expect(new EnvAlpacaCredentials({ APCA_API_KEY_ID: 'PKLOCAL' }).get()).rejects.toThrow(
      /APCA_API_KEY_ID and APCA_API_SECRET_KEY must both be set/,
    );
  });

  it('picks the broker: the config wins; else Alpaca paper with keys in the environment; else the paper broker', () => {
    const keys = { APCA_API_KEY_ID: 'PK', APCA_API_SECRET_KEY: 'sk' };

    expect(brokerKindOf(parseConfig({}), {})).toBe('paper');
    expect(brokerKindOf(parseConfig({}), keys)).toBe('alpaca');
    expect(brokerKindOf(parseConfig({ broker: 'paper' }), keys)).toBe('paper');
    expect(brokerKindOf(parseConfig({ broker: 'alpaca' }), {})).toBe('alpaca');
  });
});

describe('events on the bus', () => {
  const client = (failed: number, sent: unknown[]) =>
    ({
      send: async (command: { input: unknown }) => {
        sent.push(command.input);
        return {
          FailedEntryCount: failed,
          Entries: [{ ErrorCode: failed ? 'ThrottlingException' : undefined }],
        };
      },
    }) as unknown as EventBridgeClient;

  it('publishes a signal as ids only, and a refused entry is an error naming the code', async () => {
    const sent: unknown[] = [];
    const event = {
      signalId: 's1',
      symbol: 'AAPL',
      receivedAt: '2026-11-25T15:00:00.000Z',
      notBefore: '2026-11-25T15:00:00.000Z',
    };

    await new EventBridgePublisher('bus', client(0, sent)).publish(event);
    const refused = new EventBridgePublisher('bus', client(1, [])).publish(event);

    expect(sent).toEqual([
      {
        Entries: [
          {
            EventBusName: 'bus',
            Source: 'pinebridge.webhook',
            DetailType: 'Signal Received',
            Detail: JSON.stringify(event),
          },
        ],
      },
    ]);
    await expect(refused).rejects.toThrow(/EventBridge refused the event: ThrottlingException/);
  });

  it('announces a breaker transition as "Trading State Changed" and records the metric', async () => {
    const sent: { Entries: { DetailType: string; Detail: string }[] }[] = [];
    const states: string[] = [];
    const events = new EventBridgeTradingStateEvents(
      'bus',
      { transitioned: (t) => states.push(t.to), positionsMismatched: () => {}, orderUnknown: () => {} },
      client(0, sent),
    );
    const transition = { from: 'ACTIVE', to: 'HALTED', reason: 'r', source: 'breaker', at: 'now' } as const;

    await events.transitioned(transition);

    expect(states).toEqual(['HALTED']);
    expect(sent[0]?.Entries[0]?.DetailType).toBe('Trading State Changed');
    expect(JSON.parse(sent[0]?.Entries[0]?.Detail ?? '{}')).toEqual(transition);
  });
});
