import { type ChildProcess, spawn } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { startFakeAlpaca } from '../fakes/alpaca/server.js';

const root = fileURLToPath(new URL('../../', import.meta.url));

/**
 * The README's first order: the template it tells a TradingView user to paste, rendered as
 * TradingView renders it when the strategy buys 10 AAPL at 187.50 — checked to be exactly what the
 * README's curl sends.
 */
function readmeFirstOrder(): string {
  const readme = readFileSync(join(root, 'README.md'), 'utf8');
  const section = readme.slice(readme.indexOf('## Your first paper order'));
  const template = /```json\n([\s\S]*?)\n```/.exec(section)?.[1] ?? '';
  const time = new Date().toISOString().replace(/\.\d+Z$/, 'Z');
  const values: Record<string, string> = {
    '{{ticker}}': 'NASDAQ:AAPL',
    '{{strategy.order.action}}': 'buy',
    '{{strategy.market_position}}': 'long',
    '{{strategy.order.contracts}}': '10',
    '{{close}}': '187.5',
    '{{timenow}}': time,
    '{{interval}}': '5',
  };
  const rendered = template.replace(/\{\{[^}]+\}\}/g, (placeholder) => values[placeholder] ?? placeholder);
  const curl = /-d "(.*)"\n/.exec(section)?.[1] ?? '';
  expect(JSON.parse(curl.replaceAll('\\"', '"').replace('$(date -u +%FT%TZ)', time))).toEqual(
    JSON.parse(rendered),
  );
  return rendered;
}
const main = join(root, 'infra/local/main.ts');
const tsx = join(root, 'node_modules/.bin/tsx');

interface Started {
  child: ChildProcess;
  output: () => string;
  exited: Promise<number | null>;
}

/** Runs `npm start`'s entry point in `cwd`, as a user would: its own .env, .data/ and config.json. */
function start(cwd: string, extraEnv: Record<string, string> = {}, direct = false): Started {
  let output = '';
  // `direct`: the bot's own process, without tsx's wrapper in front (which relays signals itself),
  // so a signal reaches the code under test.
  const [command, args] = direct
    ? [
        process.execPath,
        [
          '--disable-warning=ExperimentalWarning',
          '--import',
          pathToFileURL(join(root, 'node_modules/tsx/dist/loader.mjs')).href,
          main,
        ],
      ]
    : [tsx, ['--disable-warning=ExperimentalWarning', main]];
  const child = spawn(command, args, {
    cwd,
    env: {
      ...process.env,
      PORT: '0',
      PATH: `${dirname(process.execPath)}:${process.env.PATH}`,
      POWERTOOLS_LOG_LEVEL: 'WARN',
      ...extraEnv,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout?.on('data', (d: Buffer) => {
    output += d.toString();
  });
  child.stderr?.on('data', (d: Buffer) => {
    output += d.toString();
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return { child, output: () => output, exited };
}

async function waitFor(started: Started, pattern: RegExp, timeoutMs = 120_000): Promise<RegExpMatchArray> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const match = pattern.exec(started.output());
    if (match) return match;
    if (started.child.exitCode !== null) throw new Error(`exited early:\n${started.output()}`);
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${pattern}:\n${started.output()}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('npm start', () => {
  it('generates secrets on first start, serves a paper order, stops cleanly and keeps its state across a restart — with nothing but Node on PATH', async () => {
    const cwd = mkdtempSync(join(tmpdir(), 'pinebridge-start-'));
    // Only Node's own folder: no Java, nothing else installed.
    const nodeOnly = { PATH: dirname(process.execPath) };

    const first = start(cwd, nodeOnly);
    const [, url] = await waitFor(first, /running on (http:\/\/localhost:\d+)/);
    const [, secret] = await waitFor(first, /webhook secret: (\S+)/);
    const [, token] = await waitFor(first, /admin token: {4}(\S+)/);
    expect(first.output()).not.toContain('WARNING');
    // The first screen is Pinebridge's: no ExperimentalWarning from node:sqlite.
    expect(first.output()).not.toMatch(/ExperimentalWarning|experimental feature/);
    expect(first.output()).toContain('SQLite, .data/pinebridge.db');
    expect(statSync(join(cwd, '.env')).mode & 0o777).toBe(0o600);
    expect(readFileSync(join(cwd, '.env'), 'utf8')).toContain(`PINEBRIDGE_WEBHOOK_SECRET=${secret}`);

    const accepted = await fetch(`${url}/webhook/${secret}`, {
      method: 'POST',
      headers: { 'content-type': 'text/plain' },
      // The README's first order, as a TradingView user sends it (with TradingView's trailing newline).
      body: `${readmeFirstOrder()}\n`,
    });
    expect(accepted.status).toBe(202);
    const status = async (base: string) =>
      (await (await fetch(`${base}/status`, { headers: { authorization: `Bearer ${token}` } })).json()) as {
        positions: { symbol: string; quantity: string }[];
        signals: { status: string }[];
      };
    const deadline = Date.now() + 5000;
    while ((await status(url as string)).signals[0]?.status !== 'filled' && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 50));
    }
    expect((await status(url as string)).signals[0]?.status).toBe('filled');

    first.child.kill('SIGINT');
    expect(await first.exited).toBe(0);
    expect(first.output()).toContain('Stopped cleanly.');

    const second = start(cwd, nodeOnly);
    const [, url2] = await waitFor(second, /running on (http:\/\/localhost:\d+)/);
    expect(second.output()).not.toContain('First start');
    expect((await status(url2 as string)).positions).toEqual([
      expect.objectContaining({ symbol: 'AAPL', quantity: '10' }),
    ]);
    second.child.kill('SIGTERM');
    expect(await second.exited).toBe(0);
  }, 240_000);

  it('on DynamoDB Local (PINEBRIDGE_STORE=dynamodb-local), a stop asked for while it is still starting stops it cleanly once started, leaving no database running', async () => {
    const cwd = mkdtempSync(join(tmpdir(), 'pinebridge-early-stop-'));
    const started = start(cwd, { PINEBRIDGE_STORE: 'dynamodb-local' }, true);
    await waitFor(started, /Starting Pinebridge/);
    expect(started.output()).toContain('DynamoDB Local, .data/dynamodb');

    started.child.kill('SIGTERM');

    expect(await started.exited).toBe(0);
    expect(started.output()).toContain('Stopped cleanly.');
    const databases = readdirSync('/proc')
      .filter((entry) => /^\d+$/.test(entry))
      .filter((pid) => {
        try {
          return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(cwd);
        } catch {
          return false;
        }
      });
    expect(databases).toEqual([]);
  });

  it('refuses to start afresh on SQLite in a folder whose book is in DynamoDB Local (the earlier default), saying how to keep it', async () => {
    const cwd = mkdtempSync(join(tmpdir(), 'pinebridge-dynamodb-folder-'));
    mkdirSync(join(cwd, '.data/dynamodb'), { recursive: true });
    writeFileSync(join(cwd, '.data/dynamodb/AKIDLOCAL_us-east-1.db'), '');

    const started = start(cwd);

    expect(await started.exited).toBe(1);
    expect(started.output()).toMatch(/pinebridge: this folder's book .* is in DynamoDB Local/);
    expect(started.output()).toContain('PINEBRIDGE_STORE=dynamodb-local npm start');
    expect(existsSync(join(cwd, '.data/pinebridge.db'))).toBe(false);
  }, 60_000);

  it('refuses a bad config.json in one line naming the key, before starting anything', async () => {
    const cwd = mkdtempSync(join(tmpdir(), 'pinebridge-config-'));
    writeFileSync(join(cwd, 'config.json'), JSON.stringify({ risk: { maxPositionQuantity: -5 } }));

    const started = start(cwd);

    expect(await started.exited).toBe(1);
    expect(started.output()).toMatch(/pinebridge: config\.json is invalid:\s+- risk\.maxPositionQuantity/);
  }, 60_000);

  it('refuses a half-set notification channel in one line naming what is missing, never echoing the token', async () => {
    const cwd = mkdtempSync(join(tmpdir(), 'pinebridge-notify-'));
    writeFileSync(join(cwd, '.env'), 'PINEBRIDGE_TELEGRAM_BOT_TOKEN=740152983:AAhalfSetTokenNeverEchoed\n');

    const started = start(cwd);

    expect(await started.exited).toBe(1);
    expect(started.output()).toMatch(
      /pinebridge: notifications are half set up in \.env: telegram: PINEBRIDGE_TELEGRAM_CHAT_ID missing/,
    );
    expect(started.output()).not.toContain('AAhalfSetToken');
  }, 60_000);

  it('refuses a short admin token in one line naming PINEBRIDGE_ADMIN_TOKEN, before starting anything', async () => {
    const cwd = mkdtempSync(join(tmpdir(), 'pinebridge-token-'));

    const started = start(cwd, { PINEBRIDGE_ADMIN_TOKEN: 'letmein' });

    expect(await started.exited).toBe(1);
    expect(started.output()).toMatch(
      /pinebridge: PINEBRIDGE_ADMIN_TOKEN is 7 characters long; it needs at least 24/,
    );
    expect(existsSync(join(cwd, '.data'))).toBe(false);
    expect(existsSync(join(cwd, '.env'))).toBe(false);
  }, 60_000);

  it('warns in its banner when HOST puts it on the network', async () => {
    const cwd = mkdtempSync(join(tmpdir(), 'pinebridge-host-'));

    const started = start(cwd, { HOST: '0.0.0.0' });
    await waitFor(started, /running on http:\/\/localhost:\d+/);
    await waitFor(started, /admin token: {4}\S+/);
    started.child.kill('SIGINT');

    expect(await started.exited).toBe(0);
    expect(started.output()).toMatch(
      /WARNING: HOST=0\.0\.0\.0 puts the bot on the network \(port \d+\), over plain HTTP\./,
    );
  }, 120_000);

  it('trades Alpaca paper when its keys are in the environment, and refuses keys of the other mode', async () => {
    const fake = await startFakeAlpaca({ prices: { AAPL: '187.5' } });
    const liveFake = await startFakeAlpaca({ mode: 'live' });
    try {
      const cwd = mkdtempSync(join(tmpdir(), 'pinebridge-alpaca-'));
      const keys = { APCA_API_KEY_ID: fake.keyId, APCA_API_SECRET_KEY: fake.secretKey };

      const started = start(cwd, { ...keys, PINEBRIDGE_ALPACA_URL: fake.url });
      const [, url] = await waitFor(started, /running on (http:\/\/localhost:\d+) \(Alpaca paper at /);
      const [, secret] = await waitFor(started, /webhook secret: (\S+)/);
      const accepted = await fetch(`${url}/webhook/${secret}`, {
        method: 'POST',
        body: '{"ticker":"AAPL","action":"buy","quantity":2,"price":187.5}',
      });
      const deadline = Date.now() + 10_000;
      while (fake.orders.length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      started.child.kill('SIGINT');
      await started.exited;

      const refused = start(mkdtempSync(join(tmpdir(), 'pinebridge-alpaca-live-')), {
        ...keys,
        PINEBRIDGE_ALPACA_URL: liveFake.url,
      });

      expect(accepted.status).toBe(202);
      expect(fake.orders).toHaveLength(1);
      expect(fake.orders[0]).toMatchObject({ symbol: 'AAPL', qty: '2', side: 'buy' });
      expect(await refused.exited).toBe(1);
      expect(refused.output()).toMatch(
        /pinebridge: the Alpaca keys belong to a live account but alpaca\.mode is "paper"; refusing to trade/,
      );
      expect(fake.contractViolations).toEqual([]);
    } finally {
      await fake.stop();
      await liveFake.stop();
    }
  }, 240_000);
});
