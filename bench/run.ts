/**
 * `npm run bench`: the whole bot in this process (its store — SQLite in a file by default,
 * BENCH_STORE=dynamodb-local for DynamoDB Local in memory —, the synthesized workflow, the HTTP
 * server) driven over HTTP by clients in a worker thread (bench/client.ts).
 *
 *  1. Closed loop, 1 then 4 clients: webhook acknowledgement and signal-to-fill. Before each, the
 *     same clients against a bare node:http server in this process, the floor any Node HTTP
 *     service on this machine starts from.
 *  2. Back to back, 1 then 4 clients: each client posts its next alert as soon as the last one is
 *     acknowledged, while the workflow works through the alerts behind them — acknowledgement
 *     under a backlog, against the bare server's figures taken the same way.
 *  3. Open loop: alerts at a fixed offered rate, stepped up until a step loses an alert, fails to
 *     fill a signal or lets its backlog grow; the highest passing rate is the sustained rate.
 *
 * Writes the "Latest run" section of docs/PERFORMANCE.md and .bench/run.json (for bench/summary.ts)
 * and prints the figures. Targets are reported, not asserted: the exit code is non-zero only on a
 * malfunction of the closed-loop phases (an answer other than 202, or a signal that does not end
 * filled); in the open loop, such losses are what the steps measure.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Worker } from 'node:worker_threads';
import type { ClientSetup, FromClient, ToClient } from './client.js';
import { DOC_PATH, type Latency, type RunFigures, writeFigures } from './figures.js';
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
/** The store under test, and the name its figures are written under. */
const STORE = (process.env.BENCH_STORE ?? 'sqlite') as 'sqlite' | 'dynamodb-local';
if (STORE !== 'sqlite' && STORE !== 'dynamodb-local')
  throw new Error(`BENCH_STORE=${String(STORE)}: use sqlite or dynamodb-local`);
/** SQLite's synchronous level (BENCH_SYNCHRONOUS=full measures what the stricter level costs). */
const SYNCHRONOUS = (process.env.BENCH_SYNCHRONOUS ?? 'normal') as 'normal' | 'full';
const FULL = STORE === 'sqlite' && SYNCHRONOUS === 'full';
const STORE_NAME = STORE === 'sqlite' ? `SQLite${FULL ? ', synchronous full' : ''}` : 'DynamoDB Local';
const FIGURES_NAME = STORE === 'dynamodb-local' ? 'run-dynamodb-local' : FULL ? 'run-sqlite-full' : 'run';
const HEADING = FIGURES_NAME === 'run' ? LATEST_RUN_HEADING : `${LATEST_RUN_HEADING}: ${STORE_NAME}`;
/** Back-to-back alerts: a slower store builds a longer backlog from the same count. */
const BACK_TO_BACK_1 = count('BENCH_B2B_ALERTS_1', STORE === 'sqlite' ? 500 : 150);
const BACK_TO_BACK_4 = count('BENCH_B2B_ALERTS_4', STORE === 'sqlite' ? 1000 : 300);

/**
 * The open-loop steps; BENCH_SUSTAINED_MAX=0 skips them. Each step starts with room in the
 * order-rate window (waitForRateRoom), so a 12 s step can reach ~150 alerts/s before the config's
 * ceiling of 2,000 orders a minute would deny part of it.
 */
const SUSTAINED = {
  start: count('BENCH_SUSTAINED_START', STORE === 'sqlite' ? 25 : 5),
  step: count('BENCH_SUSTAINED_STEP', STORE === 'sqlite' ? 25 : 5),
  max: count('BENCH_SUSTAINED_MAX', STORE === 'sqlite' ? 150 : 60),
  stepMs: count('BENCH_SUSTAINED_SECONDS', 12) * 1000,
  /** Every accepted signal of a step must have settled this long after the step's last alert. */
  settleMs: count('BENCH_SUSTAINED_SETTLE_SECONDS', 30) * 1000,
  /** Signal-to-fill p99 of the step's last third above this means the backlog is growing. */
  boundMs: count('BENCH_SUSTAINED_BOUND_MS', 2000),
  /** No step starts once the steps so far have taken this long (the run stays ~3–4 min). */
  budgetMs: count('BENCH_SUSTAINED_BUDGET_SECONDS', 300) * 1000,
  /** TradingView gives up on a webhook after 3 s: a slower 202 is a lost alert. */
  ackTimeoutMs: count('BENCH_ACK_TIMEOUT_MS', 3000),
  /** Below this share of the offered rate the load generator, not the bot, set the pace. */
  minOffered: 0.95,
};
const SYMBOL = 'AAPL'; // in the default symbols.allowed

const TARGETS = { ackP50: 5, ackP99: 25, fillP50: 50 } as const;

const rawConfig = BENCH_CONFIG;
const config = parseConfig(rawConfig, 'bench config');

const epochNow = () => performance.timeOrigin + performance.now();

const malfunctions: string[] = [];
const malfunction = (message: string) => {
  if (malfunctions.length < 20) process.stderr.write(`bench: ${message}\n`);
  malfunctions.push(message);
};

const loadBefore = os.loadavg();
const databaseFolder = mkdtempSync(join(os.tmpdir(), 'pinebridge-bench-'));
process.stdout.write(
  `Starting the local runtime (${STORE === 'sqlite' ? `SQLite in ${databaseFolder}` : 'in-memory DynamoDB Local'})…\n`,
);
const bootStarted = performance.now();
const webhookSecret = randomBytes(24).toString('base64url');
const runtime = await startLocalRuntime({
  config,
  webhookSecret,
  adminToken: randomBytes(24).toString('base64url'),
  port: 0,
  store:
    STORE === 'sqlite'
      ? { kind: 'sqlite', file: join(databaseFolder, 'bench.db'), synchronous: SYNCHRONOUS }
      : { kind: 'dynamodb-local' },
});
const bootMs = performance.now() - bootStarted;
const webhookUrl = `${runtime.url}/webhook/${webhookSecret}`;

/**
 * The baseline: a bare node:http server in this same process (so it shares the machine, the idle
 * runtime and the load generator with the bot), answering what the webhook answers — a 202 with a
 * small JSON body carrying a signal id — once it has read the body, and doing nothing else.
 */
let bareSequence = 0;
const bareServer = createServer(async (req, res) => {
  const chunks: Buffer[] = [];
  for await (const chunk of req as AsyncIterable<Buffer>) chunks.push(chunk);
  Buffer.concat(chunks).toString('utf8');
  res.writeHead(202, { 'content-type': 'application/json', 'cache-control': 'no-store' });
  res.end(JSON.stringify({ signalId: `bare-${bareSequence++}` }));
});
await new Promise<void>((resolve) => bareServer.listen(0, '127.0.0.1', resolve));
const bareUrl = `http://127.0.0.1:${(bareServer.address() as AddressInfo).port}/webhook`;

type Done = Extract<FromClient, { type: 'done' }>;
interface Phase {
  name: string;
  /** Follow each accepted signal to its fill (not for the bare server: nothing is behind it). */
  track: boolean;
  /** Each client waits for its signal's fill before its next alert (closed loop), or only for the 202 (back to back). */
  awaitSettle: boolean;
  /**
   * Open loop (the sustained steps): the client does not wait for settles, and lost alerts or
   * unfilled signals are the step's result rather than malfunctions.
   */
  open: boolean;
  startedAt: number;
  firstSendAt: number;
  acks: number[];
  fills: { sentAt: number; ms: number }[];
  signalIds: string[];
  /** Signals whose workflow settled with an output. */
  settledOk: Set<string>;
  /** Answers other than a 202 with a signal id, by status (or error name when none came). */
  failures: Map<string, number>;
  lastFillAt: number;
  notFilled: number;
  /** Signals sent and not yet settled. */
  pending: number;
  idle: (() => void) | undefined;
  done: (message?: Done) => void;
}
interface PhaseResult {
  name: string;
  server: 'Pinebridge' | 'bare node:http';
  /** Closed loop (each alert waits for the last one's fill) or back to back (only for its 202). */
  mode: 'closed' | 'back-to-back';
  clients: number;
  ack: Summary;
  fill: Summary;
  /** Filled signals (bare: answered requests) per second of the phase, from its start to the last. */
  throughput: number;
  notFilled: number;
  /** CPU milliseconds this Node process used (the bot, and the load generator's thread), per alert. */
  nodeCpuPerAlert: number;
  /** CPU milliseconds DynamoDB Local (the JVM) used, per alert; undefined where /proc is unavailable. */
  databaseCpuPerAlert: number | undefined;
}
interface StepResult {
  /** Offered alerts per second. */
  rate: number;
  sent: number;
  /** What the load generator actually offered, first to last alert. */
  offeredRate: number;
  accepted: number;
  failures: Map<string, number>;
  filled: number;
  /** Accepted signals not `filled` in the store with their workflow settled within the bound, by status. */
  notFilled: Map<string, number>;
  ack: Summary;
  fill: Summary;
  lastThirdFillP99: number;
  /** CPU the bot and DynamoDB Local used over the step, as a share of all the machine's cores. */
  cpuShare: number | undefined;
  reasons: string[];
}

const setup: ClientSetup = { symbol: SYMBOL, runId: randomBytes(4).toString('hex') };
const worker = new Worker(new URL('./client.ts', import.meta.url), { workerData: setup });
const toClient = (message: ToClient) => worker.postMessage(message);
let current: Phase | undefined;

/** When each alert the bot accepted was sent: what the order-rate limit counts over 60 s. */
const approvedAt: number[] = [];
/**
 * Waits until `next` more orders fit the order-rate limit's 60 s window (BENCH_CONFIG's
 * maxOrdersPerMinute, the config's ceiling), so a phase measures the bot and not the limit.
 */
async function waitForRateRoom(next: number): Promise<void> {
  const limit = config.risk.maxOrdersPerMinute * 0.95;
  for (;;) {
    const windowStart = epochNow() - 61_000;
    const inWindow = approvedAt.filter((at) => at > windowStart).sort((a, b) => a - b);
    const excess = inWindow.length + next - limit;
    if (excess <= 0) return;
    const until = (inWindow[Math.min(inWindow.length - 1, Math.ceil(excess) - 1)] ?? epochNow()) + 61_000;
    process.stdout.write(
      `  (waiting ${((until - epochNow()) / 1000).toFixed(0)} s for the order-rate window)\n`,
    );
    await sleep(Math.max(100, until - epochNow()));
  }
}

/** Settlements seen before the client reported the send (the event can beat the message). */
const settledEarly = new Map<string, { at: number; output: unknown }>();
/** Sends waiting for their workflow to settle. */
const inFlight = new Map<string, { startedAt: number; phase: Phase; timer: NodeJS.Timeout | undefined }>();

const increment = (counts: Map<string, number>, key: string) => counts.set(key, (counts.get(key) ?? 0) + 1);
const describeCounts = (counts: Map<string, number>) =>
  [...counts].map(([key, n]) => `${key} ×${n}`).join(', ');

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
    if (!phase.open) malfunction(`${signalId}: the workflow execution failed`);
  } else {
    phase.fills.push({ sentAt: sent.startedAt, ms: settledAt - sent.startedAt });
    phase.settledOk.add(signalId);
    phase.lastFillAt = Math.max(phase.lastFillAt, settledAt);
  }
  if (phase.awaitSettle) toClient({ type: 'settled', signalId });
  phase.pending--;
  if (phase.pending === 0) phase.idle?.();
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
  if (message.type === 'done') return phase.done(message);
  phase.firstSendAt = Math.min(phase.firstSendAt, message.startedAt);
  if (message.type === 'failed') {
    increment(
      phase.failures,
      message.status === 0 ? message.body.split(':')[0] || 'no answer' : String(message.status),
    );
    if (!phase.open) malfunction(`webhook answered ${message.status}: ${message.body}`);
    return;
  }
  phase.acks.push(message.ackMs);
  if (!phase.track) return;
  approvedAt.push(message.startedAt);
  phase.signalIds.push(message.signalId);
  phase.pending++;
  // Closed loop: a signal that never settles must not stall its client. Open loop: the step
  // waits for all its signals at once, up to its bound. Back to back: the phase waits for the
  // backlog to drain (runtime.settle), however long the queue makes a fill.
  const timer = phase.awaitSettle
    ? setTimeout(() => completeFill(message.signalId, undefined, undefined), FILL_TIMEOUT_MS)
    : undefined;
  inFlight.set(message.signalId, { startedAt: message.startedAt, phase, timer });
  const early = settledEarly.get(message.signalId);
  if (early) {
    settledEarly.delete(message.signalId);
    completeFill(message.signalId, early.at, early.output);
  }
});
worker.on('error', (error) => {
  malfunction(`load generator failed: ${error.message}`);
  current?.done();
});

function startPhase(
  name: string,
  options: { track: boolean; open: boolean; awaitSettle: boolean },
): Promise<Done | undefined> {
  let done: (message?: Done) => void = () => {};
  const finished = new Promise<Done | undefined>((r) => {
    done = r;
  });
  current = {
    name,
    ...options,
    startedAt: epochNow(),
    firstSendAt: Number.POSITIVE_INFINITY,
    acks: [],
    fills: [],
    signalIds: [],
    settledOk: new Set(),
    failures: new Map(),
    lastFillAt: 0,
    notFilled: 0,
    pending: 0,
    idle: undefined,
    done,
  };
  return finished;
}

/**
 * Closed loop: `clients` concurrent clients share `total` alerts. Against the bot each client
 * waits for its signal's workflow to settle before sending its next alert: the offered load stays
 * within what the bot can fill, so the figures are latencies, not the length of a queue. Against
 * the bare server it sends its next request once the answer is read.
 */
async function runPhase(
  name: string,
  server: PhaseResult['server'],
  clients: number,
  total: number,
  budgetMs = PHASE_BUDGET_MS,
  backToBack = false,
): Promise<PhaseResult> {
  const track = server === 'Pinebridge';
  if (track) await waitForRateRoom(total);
  const awaitSettle = track && !backToBack;
  const finished = startPhase(name, { track, open: false, awaitSettle });
  const phase = current as Phase;
  const nodeBefore = process.cpuUsage();
  const databaseBefore = databaseCpuMs();
  toClient({
    type: 'phase',
    phase: name,
    url: track ? webhookUrl : bareUrl,
    clients,
    total,
    deadline: phase.startedAt + budgetMs,
    awaitSettle,
  });
  await finished;
  const endedAt = epochNow();
  if (track) await runtime.settle();
  const node = process.cpuUsage(nodeBefore);
  const databaseAfter = databaseCpuMs();
  current = undefined;
  const alerts = Math.max(1, phase.acks.length);
  // Outside the clock: every signal must have ended filled in the store, not merely settled. The
  // store's count replaces the settle-time one, which it includes ("unsettled (…)", already reported).
  if (track) {
    phase.notFilled = 0;
    for (const [status, n] of await storedStatuses(phase.signalIds, phase.settledOk)) {
      if (status === 'filled') continue;
      phase.notFilled += n;
      if (!status.startsWith('unsettled')) malfunction(`${n} signal(s) of ${name} ended ${status}`);
    }
  }
  const answered = track ? phase.fills.length : phase.acks.length;
  return {
    name,
    server,
    mode: backToBack ? 'back-to-back' : 'closed',
    clients,
    ack: summarize(phase.acks),
    fill: summarize(phase.fills.map((f) => f.ms)),
    throughput: answered / (((track ? phase.lastFillAt : endedAt) - phase.startedAt) / 1000),
    notFilled: phase.notFilled,
    nodeCpuPerAlert: (node.user + node.system) / 1000 / alerts,
    databaseCpuPerAlert:
      databaseBefore === undefined || databaseAfter === undefined
        ? undefined
        : (databaseAfter - databaseBefore) / alerts,
  };
}

/**
 * One open-loop step: round(rate × step length) alerts on a fixed schedule, then up to the bound
 * for their signals to settle, then the store's word on each.
 */
async function runStep(rate: number): Promise<StepResult> {
  const total = Math.max(2, Math.round((rate * SUSTAINED.stepMs) / 1000));
  await waitForRateRoom(total);
  settledEarly.clear();
  const name = `${rate} alerts/s`;
  const finished = startPhase(name, { track: true, open: true, awaitSettle: false });
  const phase = current as Phase;
  const nodeBefore = process.cpuUsage();
  const databaseBefore = databaseCpuMs();
  toClient({
    type: 'open',
    phase: name,
    url: webhookUrl,
    rate,
    total,
    timeoutMs: SUSTAINED.ackTimeoutMs,
  });
  const done = await finished;
  const lastSendAt = done?.lastSendAt ?? epochNow();
  if (phase.pending > 0) {
    const idle = new Promise<void>((r) => {
      phase.idle = r;
    });
    const bound = sleep(Math.max(0, lastSendAt + SUSTAINED.settleMs - epochNow()));
    await Promise.race([idle, bound]);
  }
  const wallMs = epochNow() - phase.startedAt;
  const node = process.cpuUsage(nodeBefore);
  const databaseAfter = databaseCpuMs();
  // What has not settled by now is lost to this step; a late settle no longer counts.
  for (const [signalId, sent] of inFlight) {
    if (sent.phase !== phase) continue;
    inFlight.delete(signalId);
    phase.notFilled++;
  }
  current = undefined;

  const notFilled = new Map<string, number>();
  let filled = 0;
  for (const [status, n] of await storedStatuses(phase.signalIds, phase.settledOk)) {
    if (status === 'filled') filled += n;
    else notFilled.set(status, n);
  }
  const sent = phase.acks.length + [...phase.failures.values()].reduce((a, b) => a + b, 0);
  const offeredRate = (sent - 1) / ((lastSendAt - phase.firstSendAt) / 1000);
  const lastThird = phase.firstSendAt + ((lastSendAt - phase.firstSendAt) * 2) / 3;
  const lastThirdFillP99 = summarize(phase.fills.filter((f) => f.sentAt >= lastThird).map((f) => f.ms)).p99;
  const failed = sent - phase.acks.length;
  const unfilled = phase.acks.length - filled;

  const reasons: string[] = [];
  if (failed > 0) reasons.push(`${failed} alert(s) not answered 202 (${describeCounts(phase.failures)})`);
  if (unfilled > 0) reasons.push(`${unfilled} accepted signal(s) not filled (${describeCounts(notFilled)})`);
  // No fill at all in the last third is already a failure above, not a latency to report.
  if (lastThirdFillP99 > SUSTAINED.boundMs || (Number.isNaN(lastThirdFillP99) && reasons.length === 0))
    reasons.push(`signal-to-fill p99 of the last third ${ms(lastThirdFillP99)} ms > ${SUSTAINED.boundMs} ms`);
  if (!(offeredRate >= rate * SUSTAINED.minOffered))
    reasons.push(`the load generator offered only ${offeredRate.toFixed(1)} alerts/s`);
  return {
    rate,
    sent,
    offeredRate,
    accepted: phase.acks.length,
    failures: phase.failures,
    filled,
    notFilled,
    ack: summarize(phase.acks),
    fill: summarize(phase.fills.map((f) => f.ms)),
    lastThirdFillP99,
    // SQLite runs inside this process: its CPU is in the Node figure.
    cpuShare:
      STORE === 'sqlite'
        ? (node.user + node.system) / 1000 / (wallMs * os.cpus().length)
        : databaseBefore === undefined || databaseAfter === undefined
          ? undefined
          : ((node.user + node.system) / 1000 + databaseAfter - databaseBefore) / (wallMs * os.cpus().length),
    reasons,
  };
}

/**
 * Each signal's status in the store, counted; one whose workflow did not settle with an output
 * (in time) counts as "unsettled (<status>)" whatever the store says.
 */
async function storedStatuses(
  signalIds: readonly string[],
  settledOk: ReadonlySet<string>,
): Promise<Map<string, number>> {
  const counts = new Map<string, number>();
  for (let i = 0; i < signalIds.length; i += 25) {
    const batch = signalIds.slice(i, i + 25);
    const records = await Promise.all(batch.map((id) => runtime.deps.signals.get(id)));
    records.forEach((record, j) => {
      const reason = record?.reason ? ` (${record.reason})` : '';
      const status = `${record?.status ?? 'unrecorded'}${record?.status === 'filled' ? '' : reason}`;
      increment(counts, settledOk.has(batch[j] ?? '') ? status : `unsettled (${status})`);
    });
  }
  return counts;
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

interface Sustained {
  steps: StepResult[];
  /** Highest offered rate of a passing step (steps pass in order until the first that fails). */
  rate: number | undefined;
  stoppedBy: 'failed' | 'max' | 'budget';
}

/** Steps up the offered rate until a step fails, the top rate passes or the time budget is spent. */
async function runSustained(): Promise<Sustained | undefined> {
  if (SUSTAINED.max <= 0 || SUSTAINED.start > SUSTAINED.max) return undefined;
  const started = performance.now();
  const steps: StepResult[] = [];
  for (let rate = SUSTAINED.start; rate <= SUSTAINED.max; rate += Math.max(1, SUSTAINED.step)) {
    if (steps.length > 0 && performance.now() - started + SUSTAINED.stepMs > SUSTAINED.budgetMs)
      return { steps, rate: steps.at(-1)?.rate, stoppedBy: 'budget' };
    process.stdout.write(`Open loop: ${rate} alerts/s for ${SUSTAINED.stepMs / 1000} s… `);
    const step = await runStep(rate);
    steps.push(step);
    process.stdout.write(
      step.reasons.length === 0
        ? `pass (signal-to-fill p99 ${ms(step.fill.p99)} ms)\n`
        : `fails: ${step.reasons.join('; ')}\n`,
    );
    // A failed step may leave a backlog behind; the run ends here and stopping the runtime cuts it.
    if (step.reasons.length > 0) {
      const passed = steps.at(-2)?.rate;
      return { steps, rate: passed, stoppedBy: 'failed' };
    }
    await runtime.settle();
  }
  return { steps, rate: steps.at(-1)?.rate, stoppedBy: 'max' };
}

const latency = (s: Summary): Latency => ({ count: s.count, p50: s.p50, p99: s.p99 });

function report(
  warmup: PhaseResult,
  measured: PhaseResult[],
  sustained: Sustained | undefined,
  elapsedS: number,
): { text: string; section: string; figures: RunFigures } {
  const all = measured.filter((p) => p.ack.count > 0);
  const results = all.filter((p) => p.mode === 'closed');
  const bot = results.filter((p) => p.server === 'Pinebridge');
  const bare = (clients: number) => results.find((p) => p.server !== 'Pinebridge' && p.clients === clients);
  const backToBack = all.filter((p) => p.mode === 'back-to-back' && p.server === 'Pinebridge');
  const bareBackToBack = (clients: number) =>
    all.find((p) => p.mode === 'back-to-back' && p.server !== 'Pinebridge' && p.clients === clients);
  const notFilled = [warmup, ...measured].reduce((sum, p) => sum + p.notFilled, 0);
  const memory = process.memoryUsage();
  const jvmRss = databaseRssBytes();
  const loadAfter = os.loadavg();
  const one = bot.find((p) => p.clients === 1);
  const four = bot.find((p) => p.clients === 4);
  const rate = (p: PhaseResult) => `${p.throughput.toFixed(1)} alerts/s`;

  const figures = table(
    ['Measurement', 'Clients', 'Alerts', 'p50 ms', 'p90 ms', 'p99 ms', 'max ms', 'Throughput'],
    bot.flatMap((p) => [
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

  const times = (a: number, b: number) => `${(a / b).toFixed(1)}×`;
  const baseline = table(
    ['Clients', 'Server', 'Requests', 'p50 ms', 'p90 ms', 'p99 ms', 'max ms'],
    bot.flatMap((p) => {
      const b = bare(p.clients);
      const row = (label: string, s: Summary) => [
        String(p.clients),
        label,
        String(s.count),
        ms(s.p50),
        ms(s.p90),
        ms(s.p99),
        ms(s.max),
      ];
      if (b === undefined) return [row('Pinebridge webhook', p.ack)];
      return [
        row('Pinebridge webhook', p.ack),
        row('bare node:http', b.ack),
        [
          String(p.clients),
          '**Pinebridge / bare**',
          '',
          times(p.ack.p50, b.ack.p50),
          times(p.ack.p90, b.ack.p90),
          times(p.ack.p99, b.ack.p99),
          times(p.ack.max, b.ack.max),
        ],
      ];
    }),
  );

  const target = (name: string, limit: number, value: number | undefined) => [
    name,
    `≤ ${limit} ms`,
    value === undefined ? '–' : `${ms(value)} ms`,
    value !== undefined && value <= limit ? 'pass' : 'FAIL',
  ];
  const ratioTarget = (name: string, limit: number, ours: number | undefined, floor: number | undefined) => {
    const ratio = ours === undefined || floor === undefined ? undefined : ours / floor;
    return [
      name,
      `≤ ${limit}× bare`,
      ratio === undefined
        ? '–'
        : `${ratio.toFixed(1)}× (${ms(ours ?? Number.NaN)} / ${ms(floor ?? Number.NaN)} ms)`,
      ratio !== undefined && ratio <= limit ? 'pass' : 'FAIL',
    ];
  };
  const b2b = (clients: number) => backToBack.find((p) => p.clients === clients);
  const targets = table(
    ['Target', 'Limit', 'Measured', 'Result'],
    [
      target('Webhook ack p50, 4 clients (foundation)', TARGETS.ackP50, four?.ack.p50),
      target('Webhook ack p99, 4 clients (foundation)', TARGETS.ackP99, four?.ack.p99),
      target('Signal-to-fill p50, 1 client (foundation)', TARGETS.fillP50, one?.fill.p50),
      target('Signal-to-fill p50, 4 clients (foundation)', TARGETS.fillP50, four?.fill.p50),
      target('Signal-to-fill p50, 1 client (embedded store)', 5, one?.fill.p50),
      target('Signal-to-fill p50, 4 clients (embedded store)', 15, four?.fill.p50),
      ...[1, 4].flatMap((clients) => [
        ratioTarget(
          `Ack p50 back to back, ${clients} client(s), workflow running`,
          2,
          b2b(clients)?.ack.p50,
          bareBackToBack(clients)?.ack.p50,
        ),
        ratioTarget(
          `Ack p99 back to back, ${clients} client(s), workflow running`,
          3,
          b2b(clients)?.ack.p99,
          bareBackToBack(clients)?.ack.p99,
        ),
      ]),
    ],
  );

  const backToBackTable = table(
    ['Clients', 'Server', 'Alerts', 'Ack p50 ms', 'Ack p99 ms', 'Fill p50 ms', 'Fill p99 ms', 'Filled /s'],
    backToBack.flatMap((p) => {
      const floor = bareBackToBack(p.clients);
      return [
        [
          String(p.clients),
          'Pinebridge',
          String(p.ack.count),
          ms(p.ack.p50),
          ms(p.ack.p99),
          ms(p.fill.p50),
          ms(p.fill.p99),
          p.throughput.toFixed(1),
        ],
        ...(floor === undefined
          ? []
          : [
              [
                String(p.clients),
                'bare node:http',
                String(floor.ack.count),
                ms(floor.ack.p50),
                ms(floor.ack.p99),
                '',
                '',
                floor.throughput.toFixed(1),
              ],
            ]),
      ];
    }),
  );

  const cpu = table(
    [
      'Server',
      'Clients',
      'Node CPU per alert (server + load generator)',
      'DynamoDB Local CPU per alert',
      'Wall time per alert',
    ],
    results.map((p) => [
      p.server,
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

  const sustainedLines = sustained === undefined ? [] : sustainedSection(sustained);

  const cpus = os.cpus();
  const load = (l: number[]) => l.map((v) => v.toFixed(2)).join(' / ');
  const section = [
    HEADING,
    '',
    '_Written by `npm run bench` (bench/run.ts) and overwritten on every run; do not edit by hand._',
    '',
    `- Date: ${new Date().toISOString()}`,
    `- Machine: ${cpus[0]?.model.trim() ?? 'unknown CPU'}, ${cpus.length} cores, ${(os.totalmem() / 2 ** 30).toFixed(1)} GiB memory, ${os.type()} ${os.release()} ${os.arch()}`,
    `- Load average (1 / 5 / 15 min) before: ${load(loadBefore)}; after: ${load(loadAfter)}`,
    `- Node: ${process.version}`,
    `- Store: **${STORE_NAME}** (${STORE === 'sqlite' ? `a file in the temporary folder, WAL, synchronous ${SYNCHRONOUS}` : 'in memory, a JVM child process'})`,
    `- Runtime start (${STORE_NAME}, CDK synth, server): ${(bootMs / 1000).toFixed(1)} s; measured phases: ${elapsedS.toFixed(1)} s`,
    `- Alert: \`{"ticker":"${SYMBOL}","action":"buy","quantity":1,"price":"100","id":…}\`, a new \`id\` each time; warm-up ${warmup.ack.count} alerts (4 clients) to the bot and as many to the bare server, not measured`,
    `- Closed-loop phases: 1 client, then 4 clients, each first against a bare \`node:http\` server and then the bot; each up to ${ALERTS_1} / ${ALERTS_4} alerts or ${PHASE_BUDGET_MS / 1000} s, whichever comes first; every client waits for its signal's fill (bare server: for the answer) before its next alert`,
    `- Closed-loop signals not filled: **${notFilled}**; malfunctions: **${malfunctions.length}**`,
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
    '### Back to back: acknowledgement while the workflow works',
    '',
    'Each client posts its next alert as soon as the last one is acknowledged, without waiting for its fill: the workflow works through a backlog while the webhook answers. The bare server is driven the same way. Fill times here include the wait in that backlog; Filled /s is the rate at which the backlog drained.',
    '',
    backToBackTable,
    '',
    '### Webhook ack next to a bare node:http server',
    '',
    'The same load generator, client and alert body against a `node:http` server in this process that reads the body and answers 202 with a small JSON body: what any Node HTTP service pays on this machine before doing any work. The ratio row divides the bot by the baseline.',
    '',
    baseline,
    '',
    ...sustainedLines,
    '### Targets',
    '',
    targets,
    '',
    '### CPU',
    '',
    `CPU time (user + system) of this Node process (the bot or the bare server: HTTP server, webhook, workflow engine, tasks, AWS SDK; and the load generator thread) and of the DynamoDB Local JVM, divided by the alerts of the phase. When their sum approaches the wall time per alert × ${os.cpus().length} cores, the run is CPU-bound.`,
    '',
    cpu,
    '',
    '### Memory',
    '',
    memoryTable,
    '',
  ].join('\n');
  const bySustained = sustainedLines.length > 0 ? `${sustainedLines.join('\n')}\n` : '';
  return {
    section,
    text: `${figures}\n\n${backToBackTable}\n\n${baseline}\n\n${bySustained}${targets}\n\n${cpu}\n\n${memoryTable}\n\nClosed-loop signals not filled: ${notFilled}; malfunctions: ${malfunctions.length}\n`,
    figures: {
      store: STORE,
      backToBack: backToBack.map((p) => ({
        clients: p.clients,
        ack: latency(p.ack),
        bare: (() => {
          const floor = bareBackToBack(p.clients);
          return floor === undefined ? null : latency(floor.ack);
        })(),
        fill: latency(p.fill),
        filledPerSecond: p.throughput,
      })),
      phases: bot.map((p) => {
        const b = bare(p.clients);
        return {
          clients: p.clients,
          ack: latency(p.ack),
          bare: b === undefined ? null : latency(b.ack),
          fill: latency(p.fill),
        };
      }),
      sustained:
        sustained === undefined
          ? null
          : {
              rate: sustained.rate ?? null,
              stoppedBy: sustained.stoppedBy,
              failedAt: sustained.stoppedBy === 'failed' ? (sustained.steps.at(-1)?.rate ?? null) : null,
              stepSeconds: SUSTAINED.stepMs / 1000,
              steps: sustained.steps.length,
            },
      notFilled,
      malfunctions: malfunctions.length,
    },
  };
}

function sustainedSection({ steps, rate, stoppedBy }: Sustained): string[] {
  const top = steps.at(-1);
  const verdict =
    rate === undefined
      ? `**Sustained with zero loss: none of the steps** (the first, ${top?.rate} alerts/s, failed: ${top?.reasons.join('; ')})`
      : `**Sustained with zero loss: ${rate} alerts/s** (${
          stoppedBy === 'failed'
            ? `the ${top?.rate} alerts/s step failed: ${top?.reasons.join('; ')}`
            : stoppedBy === 'max'
              ? `the highest step configured; the bot may sustain more`
              : `the time budget ended the stepping; the bot may sustain more`
        })`;
  const rows = steps.map((s) => [
    String(s.rate),
    s.offeredRate.toFixed(1),
    String(s.sent),
    String(s.accepted),
    String(s.sent - s.accepted),
    String(s.filled),
    String(s.accepted - s.filled),
    ms(s.ack.p50),
    ms(s.ack.p99),
    ms(s.fill.p50),
    ms(s.fill.p99),
    ms(s.lastThirdFillP99),
    s.cpuShare === undefined ? 'n/a' : `${Math.round(s.cpuShare * 100)} %`,
    s.reasons.length === 0 ? 'pass' : 'FAIL',
  ]);
  return [
    '### Sustained rate (open loop)',
    '',
    `- Steps from ${SUSTAINED.start} alerts/s up by ${SUSTAINED.step} (at most ${SUSTAINED.max}), each ${SUSTAINED.stepMs / 1000} s of alerts sent on a fixed schedule whether or not earlier ones were answered; no step starts after ${SUSTAINED.budgetMs / 1000} s of stepping, and stepping stops at the first step that fails`,
    `- A step passes when every alert was answered 202 within ${SUSTAINED.ackTimeoutMs / 1000} s${SUSTAINED.ackTimeoutMs === 3000 ? " (TradingView's timeout)" : ''}, every accepted signal ended \`filled\` in the signal store with its workflow settled within ${SUSTAINED.settleMs / 1000} s of the step's last alert, the signal-to-fill p99 of the alerts sent in the step's last third stayed ≤ ${SUSTAINED.boundMs} ms (a growing backlog makes it climb), and the load generator kept ≥ ${SUSTAINED.minOffered * 100} % of the offered rate`,
    `- ${verdict}`,
    '',
    table(
      [
        'Offered /s',
        'Sent /s',
        'Alerts',
        '202',
        'Not 202',
        'Filled',
        'Not filled',
        'Ack p50 ms',
        'Ack p99 ms',
        'Fill p50 ms',
        'Fill p99 ms',
        'Fill p99 last third',
        'Bot + DB CPU',
        'Result',
      ],
      rows,
    ),
    '',
    `Bot + DB CPU: the CPU time of this Node process (with SQLite, the database too) and of DynamoDB Local's JVM where it runs one, over the step (until its signals settled), as a share of all ${os.cpus().length} cores.`,
    '',
  ];
}

let exitCode = 0;
try {
  process.stdout.write(`Runtime up in ${(bootMs / 1000).toFixed(1)} s. Warm-up: ${WARMUP} alerts…\n`);
  const warmup = await runPhase('warm-up', 'Pinebridge', 4, WARMUP);
  await runPhase('bare warm-up', 'bare node:http', 4, WARMUP);
  const benchStarted = performance.now();
  const results: PhaseResult[] = [];
  for (const [clients, total] of [
    [1, ALERTS_1],
    [4, ALERTS_4],
  ] as const) {
    // The baseline right before the bot, so both meet the same moment of the machine's load.
    process.stdout.write(`${clients} client(s): ${total} requests to the bare node:http server…\n`);
    results.push(await runPhase(`bare, ${clients} client(s)`, 'bare node:http', clients, total));
    process.stdout.write(`${clients} client(s): ${total} alerts…\n`);
    results.push(await runPhase(`${clients} client(s)`, 'Pinebridge', clients, total));
  }
  for (const [clients, total] of [
    [1, BACK_TO_BACK_1],
    [4, BACK_TO_BACK_4],
  ] as const) {
    process.stdout.write(`${clients} client(s), back to back: bare node:http server, then the bot…\n`);
    results.push(
      await runPhase(
        `bare back to back, ${clients}`,
        'bare node:http',
        clients,
        total,
        PHASE_BUDGET_MS,
        true,
      ),
    );
    results.push(
      await runPhase(`back to back, ${clients}`, 'Pinebridge', clients, total, PHASE_BUDGET_MS, true),
    );
  }
  const sustained = await runSustained();
  const { text, section, figures } = report(
    warmup,
    results,
    sustained,
    (performance.now() - benchStarted) / 1000,
  );
  const existing = existsSync(DOC_PATH) ? readFileSync(DOC_PATH, 'utf8') : '# Performance\n';
  writeFileSync(DOC_PATH, replaceLatestRun(existing, section, HEADING));
  writeFigures(FIGURES_NAME, figures);
  process.stdout.write(`\n${text}Written to docs/PERFORMANCE.md and .bench/${FIGURES_NAME}.json.\n`);
  if (malfunctions.length > 0) {
    process.stderr.write(`bench: ${malfunctions.length} malfunction(s); these figures are not trustworthy\n`);
    exitCode = 1;
  }
} catch (error) {
  process.stderr.write(`bench: ${(error as Error).stack ?? String(error)}\n`);
  exitCode = 1;
} finally {
  await worker.terminate();
  bareServer.closeAllConnections();
  bareServer.close();
  await runtime.stop();
  rmSync(databaseFolder, { recursive: true, force: true });
}
process.exit(exitCode);
