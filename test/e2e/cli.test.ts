import { randomUUID } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type LocalRuntime, startLocalRuntime } from '../../infra/local/runtime.js';
import { parseConfig } from '../../shared/config/load.js';
import { EXPORT_COLUMNS } from '../../shared/usecases/operator.js';
import { emptyFolder, runCli } from '../support/cli.js';

const SECRET = `whsec-${randomUUID()}`;
const ADMIN = `admin-${randomUUID()}`;

let runtime: LocalRuntime;
let env: Record<string, string>;

const cli = (args: string[], options: { input?: string; env?: Record<string, string>; cwd?: string } = {}) =>
  runCli(args, { ...options, env: { ...env, ...options.env } });
const json = async <T>(args: string[]): Promise<T> => {
  const run = await cli([...args, '--json']);
  expect(run.stderr).toBe('');
  expect(run.code).toBe(0);
  return JSON.parse(run.stdout) as T;
};
const tradingState = async () => (await json<{ tradingState: string }>(['status'])).tradingState;

beforeAll(async () => {
  runtime = await startLocalRuntime({
    config: parseConfig({
      api: { throttle: { rateLimit: 1000, burstLimit: 1000 } },
      risk: {
        duplicateWindowSeconds: 0,
        pyramiding: true,
        maxOrdersPerMinute: 1000,
        maxOrdersPerMinutePerSymbol: 1000,
      },
    }),
    webhookSecret: SECRET,
    adminToken: ADMIN,
    port: 0,
  });
  env = { PINEBRIDGE_URL: runtime.url, PINEBRIDGE_ADMIN_TOKEN: ADMIN, PINEBRIDGE_WEBHOOK_SECRET: SECRET };
});

afterAll(async () => {
  await runtime?.stop();
});

describe('pinebridge CLI against a running local bot', () => {
  it('prints its commands with --help (exit 0), and refuses an unknown command or option (exit 2)', async () => {
    const help = await cli(['--help']);
    const unknown = await cli(['launch']);
    const badOption = await cli(['orders', '--flatten']);
    const badValue = await cli(['orders', '--limit', 'many']);

    expect(help.code).toBe(0);
    for (const command of ['status', 'positions', 'orders', 'signals', 'pnl', 'stop', 'resume', 'export'])
      expect(help.stdout).toContain(command);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('unknown command "launch"');
    expect(badOption.code).toBe(2);
    expect(badOption.stderr).toContain('orders has no --flatten option');
    expect(badValue.code).toBe(2);
    expect(badValue.stderr).toContain('--limit must be a whole number');
  });

  it('send-test-alert posts a valid alert with the configured secret and reports the fill; positions, orders and status show it', async () => {
    const sent = await cli(['send-test-alert', '--symbol', 'MSFT', '--quantity', '3', '--price', '410.25']);

    expect(sent.code).toBe(0);
    expect(sent.stdout).toMatch(/Signal \w+: filled/);
    const positions = await cli(['positions']);
    expect(positions.code).toBe(0);
    expect(positions.stdout).toMatch(/^SYMBOL\s+QTY/);
    expect(positions.stdout).toMatch(/MSFT\s+3\s+0\s+410\.25/);
    const orders = await json<{ symbol: string; status: string; filledQuantity: string }[]>(['orders']);
    expect(orders).toContainEqual(
      expect.objectContaining({ symbol: 'MSFT', status: 'filled', filledQuantity: '3' }),
    );
    expect(await json<unknown[]>(['orders', '--open'])).toEqual([]);
    const status = await cli(['status']);
    expect(status.stdout).toMatch(/Trading state\s+ACTIVE/);
    expect(status.stdout).toMatch(/Broker\s+paper \(reachable\)/);
  });

  it('signals --rejected lists a rejected signal with its reason code, and not the filled ones', async () => {
    const sent = await cli(['send-test-alert', '--symbol', 'DOGE', '--price', '0.1']);
    const rejected = await cli(['signals', '--rejected']);
    const all = await json<{ status: string }[]>(['signals', '--limit', '50']);

    expect(sent.code).toBe(0);
    expect(sent.stdout).toContain('rejected — SYMBOL_NOT_ALLOWED');
    expect(rejected.stdout).toMatch(/DOGE\s+buy\s+rejected\s+SYMBOL_NOT_ALLOWED/);
    expect(rejected.stdout).not.toContain('filled');
    expect(all.map((s) => s.status)).toEqual(expect.arrayContaining(['filled', 'rejected']));
  });

  it('pnl shows one row per trading day asked for and the session P&L', async () => {
    const pnl = await json<{ days: { date: string; orders: number }[]; session: { pnl: string } }>([
      'pnl',
      '--days',
      '3',
    ]);

    expect(pnl.days).toHaveLength(3);
    expect(pnl.days[0]?.orders).toBeGreaterThan(0);
    expect(pnl.session.pnl).toMatch(/^-?\d+\.\d{2}$/);
  });

  it('export writes every signal of the days asked for, with its decision and order, as CSV or JSON', async () => {
    const today = new Date().toISOString().slice(0, 10);
    const folder = emptyFolder();

    const asCsv = await cli(['export', '--since', today, '--out', join(folder, 'audit.csv')]);
    const asJson = await json<{ symbol: string; status: string; orderStatus: string; denials: string }[]>([
      'export',
      '--since',
      today,
    ]);

    expect(asCsv.code).toBe(0);
    const lines = readFileSync(join(folder, 'audit.csv'), 'utf8').trimEnd().split('\r\n');
    expect(lines[0]).toBe(EXPORT_COLUMNS.join(','));
    expect(lines).toHaveLength(asJson.length + 1);
    expect(asJson).toContainEqual(
      expect.objectContaining({ symbol: 'MSFT', status: 'filled', orderStatus: 'filled' }),
    );
    expect(asJson).toContainEqual(
      expect.objectContaining({ symbol: 'DOGE', status: 'rejected', denials: 'SYMBOL_NOT_ALLOWED' }),
    );
    expect((await cli(['export'])).code).toBe(2);
  });

  it('a wrong admin token is a clear error with exit 3, and changes nothing', async () => {
    const wrong = { PINEBRIDGE_ADMIN_TOKEN: 'not-the-token' };

    const status = await cli(['status'], { env: wrong });
    const stop = await cli(['stop', '--yes'], { env: wrong });

    expect(status.code).toBe(3);
    expect(status.stderr).toContain('refused the admin token');
    expect(stop.code).toBe(3);
    expect(await tradingState()).toBe('ACTIVE');
  });

  it('the admin token comes from .env in the working folder when the environment has none', async () => {
    const folder = emptyFolder();
    writeFileSync(join(folder, '.env'), `PINEBRIDGE_ADMIN_TOKEN=${ADMIN}\n`);

    const run = await runCli(['status'], { cwd: folder, env: { PINEBRIDGE_URL: runtime.url } });

    expect(run.code).toBe(0);
    expect(run.stdout).toContain('Trading state');
  });

  it('an unreachable bot is exit 4 with a hint to start it', async () => {
    const run = await cli(['status'], { env: { PINEBRIDGE_URL: 'http://127.0.0.1:9' } });

    expect(run.code).toBe(4);
    expect(run.stderr).toContain('is it running (npm start)?');
  });

  it('stop asks for confirmation: without "yes" it is refused (exit 5) and trading stays ACTIVE', async () => {
    const noInput = await cli(['stop']);
    const declined = await cli(['stop', '--flatten'], { input: 'no\n' });

    expect(noInput.code).toBe(5);
    expect(declined.code).toBe(5);
    expect(declined.stderr).toContain('closes every position');
    expect(await tradingState()).toBe('ACTIVE');
  });

  it('stop --flatten --yes halts, closes every position and reports it; a new alert is refused; resume trades again', async () => {
    const stop = await cli(['stop', '--flatten', '--yes', '--reason', 'cli test']);
    const whileHalted = await cli(['send-test-alert', '--symbol', 'MSFT', '--price', '410.25']);
    const positions = await json<unknown[]>(['positions']);
    const statusWhileHalted = await cli(['status']);
    const resume = await cli(['resume', '--reason', 'reviewed']);
    const afterResume = await cli(['send-test-alert', '--symbol', 'MSFT', '--price', '410.25']);

    expect(stop.code).toBe(0);
    expect(stop.stdout).toMatch(/HALTED at/);
    expect(stop.stdout).toMatch(/flatten\s+MSFT\s+pb-\S+\s+filled\s+yes/);
    expect(stop.stdout).toContain('Complete: no open orders and no positions remain');
    expect(positions).toEqual([]);
    expect(whileHalted.stdout).toContain('rejected — TRADING_HALTED');
    expect(statusWhileHalted.stdout).toMatch(/Trading state\s+HALTED \(EMERGENCY_STOP\) — cli test/);
    expect(statusWhileHalted.stdout).toMatch(/Resets\s+manual reset only/);
    expect(resume.code).toBe(0);
    expect(resume.stdout).toBe('Trading is ACTIVE again.\n');
    expect(afterResume.stdout).toMatch(/: filled/);
  });

  it('performance pairs the recorded fills into trades and prints the backtest metrics for them', async () => {
    // The stop's flatten closed the MSFT bought earlier: at least one round trip is recorded.
    const human = await cli(['performance']);
    const asJson = await json<{ fills: number; metrics: { trades: number; winRatePercent: number | null } }>([
      'performance',
      '--since',
      new Date(Date.now() - 86_400_000).toISOString().slice(0, 10),
    ]);
    const none = await cli(['performance', '--strategy', 'no-such-strategy']);

    expect(human.code).toBe(0);
    expect(human.stdout).toMatch(/closed trades/);
    expect(human.stdout).toMatch(/Win Rate/i);
    expect(asJson.metrics.trades).toBeGreaterThanOrEqual(1);
    expect(asJson.fills).toBeGreaterThanOrEqual(2);
    expect(none.code).toBe(0);
    expect(none.stderr).toContain('No closed trades');
  });

  it('config validate accepts a valid file and names the key at fault in an invalid one (exit 1)', async () => {
    const folder = emptyFolder();
    writeFileSync(join(folder, 'good.json'), JSON.stringify({ risk: { maxDailyLoss: '500' } }));
    writeFileSync(join(folder, 'bad.json'), JSON.stringify({ risk: { maxDailyLoss: 'lots' } }));

    const good = await cli(['config', 'validate', '--file', 'good.json'], { cwd: folder });
    const bad = await cli(['config', 'validate', '--file', 'bad.json'], { cwd: folder });

    expect(good.code).toBe(0);
    expect(good.stdout).toMatch(/maxDailyLoss\s+500/);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain('risk.maxDailyLoss');
  });
});
