/**
 * `npm run bench`: the whole bot in this process (in-memory DynamoDB Local, the synthesized
 * workflow, the HTTP server), driven over HTTP by in-process clients. Writes the figures into the
 * "Latest run" section of docs/PERFORMANCE.md and prints them. Targets are reported, not asserted:
 * the exit code is non-zero only on a malfunction (an answer other than 202, or a signal that does
 * not end filled).
 */

import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { LATEST_RUN_HEADING, mib, ms, replaceLatestRun, type Summary, summarize, table } from './stats.js';

// Logging is synchronous JSON to stdout per request and per task: silence it before the logger
// module is first imported (Powertools reads the level when the Logger is constructed).
process.env.POWERTOOLS_LOG_LEVEL = 'SILENT';
const { startLocalRuntime } = await import('../infra/local/runtime.js');
const { parseConfig } = await import('../shared/config/load.js');

const WARMUP = Number(process.env.BENCH_WARMUP ?? 50);
const ACK_REQUESTS_1 = Number(process.env.BENCH_ACK_1 ?? 500);
const ACK_REQUESTS_4 = Number(process.env.BENCH_ACK_4 ?? 1000);
const FILL_REQUESTS_1 = Number(process.env.BENCH_FILL_1 ?? 300);
const FILL_REQUESTS_4 = Number(process.env.BENCH_FILL_4 ?? 600);
const FILL_TIMEOUT_MS = 30_000;
const SYMBOL = 'AAPL'; // in the default symbols.allowed

const TARGETS = { ackP50: 5, ackP99: 25, fillP50: 50 } as const;

const rawConfig = {
  paper: { startingCash: '1000000000' },
  risk: { maxPositionQuantity: 1e9, maxPositionNotional: '1000000000000' },
  api: { throttle: { rateLimit: 100_000, burstLimit: 100_000 } },
};
const config = parseConfig(rawConfig, 'bench config');

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const docPath = resolve(root, 'docs/PERFORMANCE.md');

const webhookSecret = randomBytes(24).toString('base64url');
const adminToken = randomBytes(24).toString('base64url');
const runId = randomBytes(4).toString('hex');

const malfunctions: string[] = [];
const malfunction = (message: string) => {
  if (malfunctions.length < 20) process.stderr.write(`bench: ${message}\n`);
  malfunctions.push(message);
};

process.stdout.write('Starting the local runtime (in-memory DynamoDB Local)…\n');
const bootStarted = performance.now();
const runtime = await startLocalRuntime({ config, webhookSecret, adminToken, port: 0 });
const bootMs = performance.now() - bootStarted;
const webhookUrl = `${runtime.url}/webhook/${webhookSecret}`;

/** When each workflow execution settled, keyed by signal id (the event may beat the HTTP answer). */
interface Settlement {
  at: number;
  output: unknown;
}
const settled = new Map<string, Settlement>();
const waiters = new Map<string, (s: Settlement) => void>();
runtime.workflow.events.on('settled', (input: Record<string, unknown>, output: unknown) => {
  const at = performance.now();
  const signalId = String(input.signalId);
  const waiter = waiters.get(signalId);
  if (waiter) {
    waiters.delete(signalId);
    waiter({ at, output });
  } else settled.set(signalId, { at, output });
});

function settlementOf(signalId: string): Promise<Settlement | undefined> {
  const done = settled.get(signalId);
  if (done) {
    settled.delete(signalId);
    return Promise.resolve(done);
  }
  return new Promise((resolveSettlement) => {
    const timer = setTimeout(() => {
      waiters.delete(signalId);
      resolveSettlement(undefined);
    }, FILL_TIMEOUT_MS);
    waiters.set(signalId, (s) => {
      clearTimeout(timer);
      resolveSettlement(s);
    });
  });
}

let sequence = 0;
interface Sent {
  signalId: string;
  startedAt: number;
  ackMs: number;
}

/** One alert, unique by its `id`; the clock runs from just before fetch to the answer's body read. */
async function sendAlert(): Promise<Sent | undefined> {
  const body = JSON.stringify({
    ticker: SYMBOL,
    action: 'buy',
    quantity: 1,
    price: '100',
    id: `bench-${runId}-${sequence++}`,
  });
  const startedAt = performance.now();
  const response = await fetch(webhookUrl, {
    method: 'POST',
    headers: { 'content-type': 'text/plain; charset=utf-8' },
    body,
  });
  const text = await response.text();
  const ackMs = performance.now() - startedAt;
  if (response.status !== 202) {
    malfunction(`webhook answered ${response.status}: ${text.slice(0, 200)}`);
    return undefined;
  }
  const signalId = (JSON.parse(text) as { signalId?: unknown }).signalId;
  if (typeof signalId !== 'string') {
    malfunction(`webhook answered 202 without a signalId: ${text.slice(0, 200)}`);
    return undefined;
  }
  return { signalId, startedAt, ackMs };
}

interface PhaseResult {
  name: string;
  clients: number;
  requests: number;
  ack: Summary;
  fill: Summary;
  /** Acknowledged alerts per second over the phase (first POST to last answer). */
  ackThroughput: number;
  /** Filled signals per second over the phase (first POST to last fill). */
  fillThroughput: number;
  notFilled: number;
}

/**
 * `clients` concurrent loops, `total` alerts between them. With `awaitFill` each client waits for
 * its signal's fill before sending the next (a closed loop on the fill); without, it sends the
 * next alert as soon as the previous one is acknowledged, as TradingView does.
 */
async function runPhase(
  name: string,
  clients: number,
  total: number,
  awaitFill: boolean,
): Promise<PhaseResult> {
  const acks: number[] = [];
  const fills: number[] = [];
  const signalIds: string[] = [];
  const pending: Promise<void>[] = [];
  let notFilled = 0;
  let lastAck = 0;
  let lastFill = 0;

  const track = (sent: Sent): Promise<void> =>
    settlementOf(sent.signalId).then((s) => {
      if (s === undefined) {
        notFilled++;
        malfunction(`${sent.signalId}: no workflow settled within ${FILL_TIMEOUT_MS} ms`);
        return;
      }
      if (s.output === undefined) {
        notFilled++;
        malfunction(`${sent.signalId}: workflow execution failed`);
        return;
      }
      fills.push(s.at - sent.startedAt);
      lastFill = Math.max(lastFill, s.at);
    });

  let next = 0;
  const phaseStarted = performance.now();
  await Promise.all(
    Array.from({ length: clients }, async () => {
      while (next < total) {
        next++;
        const sent = await sendAlert();
        if (sent === undefined) continue;
        acks.push(sent.ackMs);
        lastAck = Math.max(lastAck, sent.startedAt + sent.ackMs);
        signalIds.push(sent.signalId);
        const fill = track(sent);
        if (awaitFill) await fill;
        else pending.push(fill);
      }
    }),
  );
  await Promise.all(pending);
  await runtime.settle();

  // Outside the clock: every signal must have ended filled in the store, not merely settled.
  notFilled += await countNotFilled(signalIds);
  return {
    name,
    clients,
    requests: total,
    ack: summarize(acks),
    fill: summarize(fills),
    ackThroughput: acks.length / ((lastAck - phaseStarted) / 1000),
    fillThroughput: fills.length / ((lastFill - phaseStarted) / 1000),
    notFilled,
  };
}

async function countNotFilled(signalIds: readonly string[]): Promise<number> {
  let count = 0;
  for (let i = 0; i < signalIds.length; i += 25) {
    const records = await Promise.all(signalIds.slice(i, i + 25).map((id) => runtime.deps.signals.get(id)));
    records.forEach((record, j) => {
      if (record?.status !== 'filled') {
        count++;
        malfunction(
          `${signalIds[i + j]} ended ${record?.status ?? 'unrecorded'}${record?.reason ? ` (${record.reason})` : ''}`,
        );
      }
    });
  }
  return count;
}

/** Resident memory of DynamoDB Local's JVM (our child processes), when `ps` can tell. */
function childRssBytes(): number | undefined {
  try {
    const out = execFileSync('ps', ['-o', 'rss=', '--ppid', String(process.pid)], { encoding: 'utf8' });
    const kib = out
      .split('\n')
      .map((l) => Number(l.trim()))
      .filter((n) => Number.isFinite(n) && n > 0)
      .reduce((sum, n) => sum + n, 0);
    return kib > 0 ? kib * 1024 : undefined;
  } catch {
    return undefined;
  }
}

let exitCode = 0;
try {
  const benchStarted = performance.now();
  process.stdout.write(`Runtime up in ${(bootMs / 1000).toFixed(1)} s on ${runtime.url}. Warm-up…\n`);
  await runPhase('warm-up', 1, WARMUP, true);

  const phases: PhaseResult[] = [];
  const plan: [string, number, number, boolean][] = [
    ['ack, 1 client', 1, ACK_REQUESTS_1, false],
    ['ack, 4 clients', 4, ACK_REQUESTS_4, false],
    ['fill, 1 client', 1, FILL_REQUESTS_1, true],
    ['fill, 4 clients', 4, FILL_REQUESTS_4, true],
  ];
  for (const [name, clients, total, awaitFill] of plan) {
    process.stdout.write(`Phase ${name}: ${total} alerts…\n`);
    phases.push(await runPhase(name, clients, total, awaitFill));
  }
  const memory = process.memoryUsage();
  const jvmRss = childRssBytes();
  const elapsedS = (performance.now() - benchStarted) / 1000;

  const [ack1, ack4, fill1, fill4] = phases as [PhaseResult, PhaseResult, PhaseResult, PhaseResult];
  const notFilled = phases.reduce((sum, p) => sum + p.notFilled, 0);

  const figures = table(
    ['Measurement', 'Clients', 'Alerts', 'p50 ms', 'p90 ms', 'p99 ms', 'max ms', 'Throughput'],
    [
      ...[ack1, ack4].map((p) => [
        'Webhook ack (pipelined)',
        String(p.clients),
        String(p.ack.count),
        ms(p.ack.p50),
        ms(p.ack.p90),
        ms(p.ack.p99),
        ms(p.ack.max),
        `${p.ackThroughput.toFixed(0)} req/s`,
      ]),
      ...[fill1, fill4].map((p) => [
        'Signal-to-fill (closed loop)',
        String(p.clients),
        String(p.fill.count),
        ms(p.fill.p50),
        ms(p.fill.p90),
        ms(p.fill.p99),
        ms(p.fill.max),
        `${p.fillThroughput.toFixed(0)} fills/s`,
      ]),
      ...[fill1, fill4].map((p) => [
        'Webhook ack (closed loop)',
        String(p.clients),
        String(p.ack.count),
        ms(p.ack.p50),
        ms(p.ack.p90),
        ms(p.ack.p99),
        ms(p.ack.max),
        '–',
      ]),
      ...[ack1, ack4].map((p) => [
        'Signal-to-fill (pipelined, queued)',
        String(p.clients),
        String(p.fill.count),
        ms(p.fill.p50),
        ms(p.fill.p90),
        ms(p.fill.p99),
        ms(p.fill.max),
        `${p.fillThroughput.toFixed(0)} fills/s`,
      ]),
    ],
  );

  const verdict = (value: number, limit: number) => (value <= limit ? 'pass' : 'FAIL');
  const targets = table(
    ['Target', 'Limit', 'Measured', 'Result'],
    [
      ['Webhook ack p50, 4 clients', `≤ ${TARGETS.ackP50} ms`, `${ms(ack4.ack.p50)} ms`],
      ['Webhook ack p99, 4 clients', `≤ ${TARGETS.ackP99} ms`, `${ms(ack4.ack.p99)} ms`],
      ['Signal-to-fill p50, 1 client', `≤ ${TARGETS.fillP50} ms`, `${ms(fill1.fill.p50)} ms`],
      ['Signal-to-fill p50, 4 clients', `≤ ${TARGETS.fillP50} ms`, `${ms(fill4.fill.p50)} ms`],
    ].map(([target = '', limit = '', measured = '']) => {
      const value = Number.parseFloat(measured);
      const bound = Number.parseFloat(limit.replace('≤ ', ''));
      return [target, limit, measured, verdict(value, bound)];
    }),
  );

  const memoryTable = table(
    ['Memory at the end', 'Value'],
    [
      ['Node RSS', mib(memory.rss)],
      ['Node heap used', mib(memory.heapUsed)],
      ['Node heap total', mib(memory.heapTotal)],
      ['DynamoDB Local (JVM) RSS', jvmRss === undefined ? 'n/a' : mib(jvmRss)],
    ],
  );

  const cpus = os.cpus();
  const section = [
    LATEST_RUN_HEADING,
    '',
    '_Written by `npm run bench` (bench/run.ts); overwritten on every run._',
    '',
    `- Date: ${new Date().toISOString()}`,
    `- Machine: ${cpus[0]?.model.trim() ?? 'unknown CPU'}, ${cpus.length} cores, ${mib(os.totalmem()).replace(' MiB', '')} MiB memory, ${os.type()} ${os.release()} ${os.arch()}`,
    `- Node: ${process.version}`,
    `- Runtime start (DynamoDB Local + synth + server): ${(bootMs / 1000).toFixed(1)} s; measured phases: ${elapsedS.toFixed(1)} s`,
    `- Warm-up: ${WARMUP} alerts, not measured. Alert: \`buy 1 ${SYMBOL} market, price 100\`, each with its own \`id\`.`,
    `- Signals not filled: **${notFilled}**; malfunctions (non-202 answers, failed executions): **${malfunctions.length}**`,
    '- Config (everything else default):',
    '',
    '```json',
    JSON.stringify(rawConfig, null, 2),
    '```',
    '',
    '### Figures',
    '',
    figures,
    '',
    '### Targets',
    '',
    targets,
    '',
    '### Memory',
    '',
    memoryTable,
    '',
  ].join('\n');

  const intro = existsSync(docPath) ? readFileSync(docPath, 'utf8') : '# Performance\n';
  mkdirSync(dirname(docPath), { recursive: true });
  writeFileSync(docPath, replaceLatestRun(intro, section));

  process.stdout.write(`\n${figures}\n\n${targets}\n\n${memoryTable}\n\n`);
  process.stdout.write(`Signals not filled: ${notFilled}. Written to docs/PERFORMANCE.md.\n`);
  if (notFilled > 0 || malfunctions.length > 0) {
    process.stderr.write(`bench: ${malfunctions.length} malfunction(s); the figures are not trustworthy\n`);
    exitCode = 1;
  }
} catch (error) {
  process.stderr.write(`bench: ${(error as Error).stack ?? String(error)}\n`);
  exitCode = 1;
} finally {
  await runtime.stop();
}
process.exit(exitCode);
