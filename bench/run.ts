/**
 * `npm run bench`: the whole bot in this process (in-memory DynamoDB Local, the synthesized
 * workflow, the HTTP server) driven over HTTP by clients in a worker thread (bench/client.ts).
 * Writes the figures into the "Latest run" section of docs/PERFORMANCE.md and prints them.
 * Targets are reported, not asserted: the exit code is non-zero only on a malfunction (an answer
 * other than 202, or a signal that does not end filled).
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { ClientSetup, FromClient, ToClient } from './client.js';
import { LATEST_RUN_HEADING, mib, ms, replaceLatestRun, type Summary, summarize, table } from './stats.js';

// The logger writes a JSON line per request and per task: silence it before its module is first
// imported (Powertools reads the level when the Logger is constructed).
process.env.POWERTOOLS_LOG_LEVEL = 'SILENT';
const { startLocalRuntime } = await import('../infra/local/runtime.js');
const { parseConfig } = await import('../shared/config/load.js');
const { BENCH_CONFIG } = await import('./config.js');

const count = (name: string, fallback: number) => Number(process.env[name] ?? fallback);
const WARMUP = count('BENCH_WARMUP', 100);
const ALERTS_1 = count('BENCH_ALERTS_1', 500);
const ALERTS_4 = count('BENCH_ALERTS_4', 1000);
/** Each measured phase stops starting alerts after this long, so a slow machine still ends in ~2 min. */
const PHASE_BUDGET_MS = count('BENCH_PHASE_SECONDS', 35) * 1000;
const FILL_TIMEOUT_MS = 30_000;
const SYMBOL = 'AAPL'; // in the default symbols.allowed

const TARGETS = { ackP50: 5, ackP99: 25, fillP50: 50 } as const;

const rawConfig = BENCH_CONFIG;
const config = parseConfig(rawConfig, 'bench config');

const docPath = resolve(dirname(fileURLToPath(import.meta.url)), '../docs/PERFORMANCE.md');
const epochNow = () => performance.timeOrigin + performance.now();

const malfunctions: string[] = [];
const malfunction = (message: string) => {
  if (malfunctions.length < 20) process.stderr.write(`bench: ${message}\n`);
  malfunctions.push(message);
};

const loadBefore = os.loadavg();
process.stdout.write('Starting the local runtime (in-memory DynamoDB Local)…\n');
const bootStarted = performance.now();
const webhookSecret = randomBytes(24).toString('base64url');
const runtime = await startLocalRuntime({
  config,
  webhookSecret,
  adminToken: randomBytes(24).toString('base64url'),
  port: 0,
});
const bootMs = performance.now() - bootStarted;

interface Phase {
  name: string;
  clients: number;
  total: number;
  startedAt: number;
  acks: number[];
  fills: number[];
  signalIds: string[];
  lastFillAt: number;
  notFilled: number;
  done: () => void;
}
interface PhaseResult {
  name: string;
  clients: number;
  ack: Summary;
  fill: Summary;
  /** Filled signals per second of the phase (first POST to last fill). */
  throughput: number;
  notFilled: number;
  /** CPU milliseconds this Node process used (the bot, and the load generator's thread), per alert. */
  nodeCpuPerAlert: number;
  /** CPU milliseconds DynamoDB Local (the JVM) used, per alert; undefined where /proc is unavailable. */
  databaseCpuPerAlert: number | undefined;
}

const setup: ClientSetup = {
  webhookUrl: `${runtime.url}/webhook/${webhookSecret}`,
  symbol: SYMBOL,
  runId: randomBytes(4).toString('hex'),
};
const worker = new Worker(new URL('./client.ts', import.meta.url), { workerData: setup });
const toClient = (message: ToClient) => worker.postMessage(message);
let current: Phase | undefined;

/** Settlements seen before the client reported the send (the event can beat the message). */
const settledEarly = new Map<string, { at: number; output: unknown }>();
/** Sends waiting for their workflow to settle. */
const inFlight = new Map<string, { startedAt: number; phase: Phase; timer: NodeJS.Timeout }>();

function completeFill(signalId: string, settledAt: number | undefined, output: unknown): void {
  const sent = inFlight.get(signalId);
  if (sent === undefined) return;
  inFlight.delete(signalId);
  clearTimeout(sent.timer);
  const { phase } = sent;
  if (settledAt === undefined) {
    phase.notFilled++;
    malfunction(`${signalId}: no workflow execution settled within ${FILL_TIMEOUT_MS} ms`);
  } else if (output === undefined) {
    phase.notFilled++;
    malfunction(`${signalId}: the workflow execution failed`);
  } else {
    phase.fills.push(settledAt - sent.startedAt);
    phase.lastFillAt = Math.max(phase.lastFillAt, settledAt);
  }
  toClient({ type: 'settled', signalId });
}

runtime.workflow.events.on('settled', (input: Record<string, unknown>, output: unknown) => {
  const at = epochNow();
  const signalId = String(input.signalId);
  if (inFlight.has(signalId)) completeFill(signalId, at, output);
  else settledEarly.set(signalId, { at, output });
});

worker.on('message', (message: FromClient) => {
  const phase = current;
  if (phase === undefined) return;
  if (message.type === 'failed') {
    malfunction(`webhook answered ${message.status}: ${message.body}`);
  } else if (message.type === 'sent') {
    phase.acks.push(message.ackMs);
    phase.signalIds.push(message.signalId);
    const timer = setTimeout(() => completeFill(message.signalId, undefined, undefined), FILL_TIMEOUT_MS);
    inFlight.set(message.signalId, { startedAt: message.startedAt, phase, timer });
    const early = settledEarly.get(message.signalId);
    if (early) {
      settledEarly.delete(message.signalId);
      completeFill(message.signalId, early.at, early.output);
    }
  } else if (message.type === 'done') phase.done();
});
worker.on('error', (error) => {
  malfunction(`load generator failed: ${error.message}`);
  current?.done();
});

/**
 * `clients` concurrent clients share `total` alerts. Each waits for its signal's workflow to
 * settle before sending its next alert: the offered load stays within what the bot can fill, so
 * the figures are latencies, not the length of a queue.
 */
async function runPhase(
  name: string,
  clients: number,
  total: number,
  budgetMs = PHASE_BUDGET_MS,
): Promise<PhaseResult> {
  let done = () => {};
  const finished = new Promise<void>((r) => {
    done = r;
  });
  const phase: Phase = {
    name,
    clients,
    total,
    startedAt: epochNow(),
    acks: [],
    fills: [],
    signalIds: [],
    lastFillAt: 0,
    notFilled: 0,
    done,
  };
  current = phase;
  const nodeBefore = process.cpuUsage();
  const databaseBefore = databaseCpuMs();
  toClient({ type: 'phase', phase: name, clients, total, deadline: phase.startedAt + budgetMs });
  await finished;
  await runtime.settle();
  const node = process.cpuUsage(nodeBefore);
  const databaseAfter = databaseCpuMs();
  current = undefined;
  const alerts = Math.max(1, phase.acks.length);
  // Outside the clock: every signal must have ended filled in the store, not merely settled.
  phase.notFilled += await countNotFilled(phase.signalIds);
  return {
    name,
    clients,
    ack: summarize(phase.acks),
    fill: summarize(phase.fills),
    throughput: phase.fills.length / ((phase.lastFillAt - phase.startedAt) / 1000),
    notFilled: phase.notFilled,
    nodeCpuPerAlert: (node.user + node.system) / 1000 / alerts,
    databaseCpuPerAlert:
      databaseBefore === undefined || databaseAfter === undefined
        ? undefined
        : (databaseAfter - databaseBefore) / alerts,
  };
}

async function countNotFilled(signalIds: readonly string[]): Promise<number> {
  let notFilled = 0;
  for (let i = 0; i < signalIds.length; i += 25) {
    const batch = signalIds.slice(i, i + 25);
    const records = await Promise.all(batch.map((id) => runtime.deps.signals.get(id)));
    records.forEach((record, j) => {
      if (record?.status === 'filled') return;
      notFilled++;
      const reason = record?.reason ? ` (${record.reason})` : '';
      malfunction(`${batch[j]} ended ${record?.status ?? 'unrecorded'}${reason}`);
    });
  }
  return notFilled;
}

/** DynamoDB Local's JVM: the `java` children of this process, when `ps` can tell. */
function databasePids(): number[] {
  try {
    return execFileSync('ps', ['-o', 'pid=,comm=', '--ppid', String(process.pid)], { encoding: 'utf8' })
      .split('\n')
      .map((line) => line.trim().split(/\s+/))
      .filter(([, comm]) => comm === 'java')
      .map(([pid]) => Number(pid));
  } catch {
    return [];
  }
}

/** Resident memory of DynamoDB Local, from /proc (Linux). */
function databaseRssBytes(): number | undefined {
  const pages = databasePids().map((pid) => procStat(pid)?.[21]);
  if (pages.length === 0 || pages.some((p) => p === undefined)) return undefined;
  return pages.reduce((sum: number, p) => sum + Number(p), 0) * 4096;
}

/** CPU time (user + system) DynamoDB Local used so far, from /proc (Linux; 100 ticks a second). */
function databaseCpuMs(): number | undefined {
  const stats = databasePids().map((pid) => procStat(pid));
  if (stats.length === 0 || stats.some((s) => s === undefined)) return undefined;
  return stats.reduce((sum, s) => sum + (Number(s?.[11]) + Number(s?.[12])) * 10, 0);
}

/** Fields of /proc/<pid>/stat after the command name: [0] is the state, [11] utime, [12] stime, [21] rss. */
function procStat(pid: number): string[] | undefined {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return text
      .slice(text.lastIndexOf(')') + 2)
      .trim()
      .split(' ');
  } catch {
    return undefined;
  }
}

function report(
  warmup: PhaseResult,
  measured: PhaseResult[],
  elapsedS: number,
): { text: string; section: string } {
  const results = measured.filter((p) => p.ack.count > 0);
  const notFilled = [warmup, ...measured].reduce((sum, p) => sum + p.notFilled, 0);
  const memory = process.memoryUsage();
  const jvmRss = databaseRssBytes();
  const loadAfter = os.loadavg();
  const one = results.find((p) => p.clients === 1);
  const four = results.find((p) => p.clients === 4);
  const rate = (p: PhaseResult) => `${p.throughput.toFixed(1)} alerts/s`;

  const figures = table(
    ['Measurement', 'Clients', 'Alerts', 'p50 ms', 'p90 ms', 'p99 ms', 'max ms', 'Throughput'],
    results.flatMap((p) => [
      [
        'Webhook ack',
        String(p.clients),
        String(p.ack.count),
        ms(p.ack.p50),
        ms(p.ack.p90),
        ms(p.ack.p99),
        ms(p.ack.max),
        rate(p),
      ],
      [
        'Signal-to-fill',
        String(p.clients),
        String(p.fill.count),
        ms(p.fill.p50),
        ms(p.fill.p90),
        ms(p.fill.p99),
        ms(p.fill.max),
        rate(p),
      ],
    ]),
  );

  const target = (name: string, limit: number, value: number | undefined) => [
    name,
    `≤ ${limit} ms`,
    value === undefined ? '–' : `${ms(value)} ms`,
    value !== undefined && value <= limit ? 'pass' : 'FAIL',
  ];
  const targets = table(
    ['Target', 'Limit', 'Measured', 'Result'],
    [
      target('Webhook ack p50, 4 clients', TARGETS.ackP50, four?.ack.p50),
      target('Webhook ack p99, 4 clients', TARGETS.ackP99, four?.ack.p99),
      target('Signal-to-fill p50, 1 client', TARGETS.fillP50, one?.fill.p50),
      target('Signal-to-fill p50, 4 clients', TARGETS.fillP50, four?.fill.p50),
    ],
  );

  const cpu = table(
    [
      'Clients',
      'Node CPU per alert (bot + load generator)',
      'DynamoDB Local CPU per alert',
      'Wall time per alert',
    ],
    results.map((p) => [
      String(p.clients),
      `${ms(p.nodeCpuPerAlert)} ms`,
      p.databaseCpuPerAlert === undefined ? 'n/a' : `${ms(p.databaseCpuPerAlert)} ms`,
      `${ms(1000 / p.throughput)} ms`,
    ]),
  );

  const memoryTable = table(
    ['Memory at the end', 'Value'],
    [
      ['Node RSS (bot + load generator)', mib(memory.rss)],
      ['Node heap used (main thread)', mib(memory.heapUsed)],
      ['DynamoDB Local (JVM) RSS', jvmRss === undefined ? 'n/a' : mib(jvmRss)],
    ],
  );

  const cpus = os.cpus();
  const load = (l: number[]) => l.map((v) => v.toFixed(2)).join(' / ');
  const section = [
    LATEST_RUN_HEADING,
    '',
    '_Written by `npm run bench` (bench/run.ts) and overwritten on every run; do not edit by hand._',
    '',
    `- Date: ${new Date().toISOString()}`,
    `- Machine: ${cpus[0]?.model.trim() ?? 'unknown CPU'}, ${cpus.length} cores, ${(os.totalmem() / 2 ** 30).toFixed(1)} GiB memory, ${os.type()} ${os.release()} ${os.arch()}`,
    `- Load average (1 / 5 / 15 min) before: ${load(loadBefore)}; after: ${load(loadAfter)}`,
    `- Node: ${process.version}`,
    `- Runtime start (DynamoDB Local, CDK synth, server): ${(bootMs / 1000).toFixed(1)} s; measured phases: ${elapsedS.toFixed(1)} s`,
    `- Alert: \`{"ticker":"${SYMBOL}","action":"buy","quantity":1,"price":"100","id":…}\`, a new \`id\` each time; warm-up ${warmup.ack.count} alerts (4 clients), not measured`,
    `- Phases: 1 client, then 4 clients; each up to ${ALERTS_1} / ${ALERTS_4} alerts or ${PHASE_BUDGET_MS / 1000} s, whichever comes first; every client waits for its signal's fill before its next alert`,
    `- Signals not filled: **${notFilled}**; malfunctions: **${malfunctions.length}**`,
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
    '### CPU',
    '',
    `CPU time (user + system) of this Node process (the bot: HTTP server, webhook, workflow engine, tasks, AWS SDK; and the load generator thread) and of the DynamoDB Local JVM, divided by the alerts of the phase. When their sum approaches the wall time per alert × ${os.cpus().length} cores, the run is CPU-bound.`,
    '',
    cpu,
    '',
    '### Memory',
    '',
    memoryTable,
    '',
  ].join('\n');
  return {
    section,
    text: `${figures}\n\n${targets}\n\n${cpu}\n\n${memoryTable}\n\nSignals not filled: ${notFilled}; malfunctions: ${malfunctions.length}\n`,
  };
}

let exitCode = 0;
try {
  process.stdout.write(`Runtime up in ${(bootMs / 1000).toFixed(1)} s. Warm-up: ${WARMUP} alerts…\n`);
  const warmup = await runPhase('warm-up', 4, WARMUP);
  const benchStarted = performance.now();
  const results: PhaseResult[] = [];
  for (const [clients, total] of [
    [1, ALERTS_1],
    [4, ALERTS_4],
  ] as const) {
    process.stdout.write(`${clients} client(s): ${total} alerts…\n`);
    results.push(await runPhase(`${clients} client(s)`, clients, total));
  }
  const { text, section } = report(warmup, results, (performance.now() - benchStarted) / 1000);
  const existing = existsSync(docPath) ? readFileSync(docPath, 'utf8') : '# Performance\n';
  mkdirSync(dirname(docPath), { recursive: true });
  writeFileSync(docPath, replaceLatestRun(existing, section));
  process.stdout.write(`\n${text}Written to docs/PERFORMANCE.md.\n`);
  if (malfunctions.length > 0) {
    process.stderr.write(`bench: ${malfunctions.length} malfunction(s); these figures are not trustworthy\n`);
    exitCode = 1;
  }
} catch (error) {
  process.stderr.write(`bench: ${(error as Error).stack ?? String(error)}\n`);
  exitCode = 1;
} finally {
  await worker.terminate();
  await runtime.stop();
}
process.exit(exitCode);
