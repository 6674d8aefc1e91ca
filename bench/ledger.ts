/**
 * `npx tsx bench/ledger.ts`: what racing signals cost the book (the ledger issue's figures).
 * Not part of `npm run bench` (it takes ~6 min); run it on two commits to compare them, e.g. the
 * commit before a change in a git worktree sharing this node_modules, with this file copied in.
 *
 * The whole bot in this process as bench/run.ts runs it (DynamoDB Local in memory, the
 * synthesized workflow, the HTTP server) with BENCH_CONFIG's raised limits, driven over HTTP by
 * bench/client.ts in a worker thread:
 *
 *  1. Closed loop, 1 then 4 clients: each client waits for its signal's workflow to settle before
 *     its next alert. Signal-to-fill p50, and DynamoDB calls per alert (every call the process
 *     makes: the webhook's, the workflow's, the breaker's).
 *  2. Burst: 4 clients post LEDGER_BURST alerts (default 4,000), each the moment the previous one
 *     was acknowledged, without waiting for fills; then every signal is followed to its end and
 *     the ends are counted (every one should be `filled`).
 *
 * Prints the figures and writes .bench/ledger.json.
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { Worker } from 'node:worker_threads';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { ClientSetup, FromClient, ToClient } from './client.js';
import { ms, summarize } from './stats.js';

process.env.POWERTOOLS_LOG_LEVEL = 'SILENT';
const { startLocalRuntime } = await import('../infra/local/runtime.js');
const { parseConfig } = await import('../shared/config/load.js');
const { BENCH_CONFIG } = await import('./config.js');

const count = (name: string, fallback: number) => Number(process.env[name] ?? fallback);
const ALERTS_1 = count('LEDGER_ALERTS_1', 300);
const ALERTS_4 = count('LEDGER_ALERTS_4', 600);
const BURST = count('LEDGER_BURST', 4000);
const label = process.env.LEDGER_LABEL ?? 'this commit';

// Every DynamoDB call of this process, by command: DynamoDBClient and the document client share
// the SDK's Client class, whose send every call goes through once.
const calls = new Map<string, number>();
const sdkClient = Object.getPrototypeOf(DynamoDBClient.prototype) as {
  send: (command: object, ...rest: unknown[]) => Promise<unknown>;
};
const send = sdkClient.send;
sdkClient.send = function (this: unknown, command: object, ...rest: unknown[]) {
  const name = command.constructor.name;
  calls.set(name, (calls.get(name) ?? 0) + 1);
  return send.call(this, command, ...rest);
};
const totalCalls = () => [...calls.values()].reduce((a, b) => a + b, 0);

const webhookSecret = randomBytes(24).toString('base64url');
// A burst takes minutes to decide on two cores: the queue limit is raised with the others, so
// every signal is decided on its merits rather than denied STALE_SIGNAL for waiting its turn.
const runtime = await startLocalRuntime({
  config: parseConfig(
    { ...BENCH_CONFIG, risk: { ...BENCH_CONFIG.risk, maxQueueSeconds: 3600 } },
    'bench config',
  ),
  webhookSecret,
  adminToken: randomBytes(24).toString('base64url'),
  port: 0,
});
const url = `${runtime.url}/webhook/${webhookSecret}`;
const epochNow = () => performance.timeOrigin + performance.now();

const worker = new Worker(new URL('./client.ts', import.meta.url), {
  workerData: { symbol: 'AAPL', runId: randomBytes(4).toString('hex') } satisfies ClientSetup,
});
const toClient = (message: ToClient) => worker.postMessage(message);

const sentAt = new Map<string, number>();
const settledAt = new Map<string, number>();
let awaitSettle = false;
runtime.workflow.events.on('settled', (input: Record<string, unknown>) => {
  const signalId = String(input.signalId);
  if (settledAt.has(signalId)) return;
  settledAt.set(signalId, epochNow());
  if (awaitSettle && sentAt.has(signalId)) toClient({ type: 'settled', signalId });
});

let phaseDone: (() => void) | undefined;
const failures: string[] = [];
worker.on('message', (message: FromClient) => {
  if (message.type === 'sent') {
    sentAt.set(message.signalId, message.startedAt);
    if (awaitSettle && settledAt.has(message.signalId))
      toClient({ type: 'settled', signalId: message.signalId });
  } else if (message.type === 'failed') failures.push(`${message.status} ${message.body}`);
  else phaseDone?.();
});

async function phase(name: string, clients: number, total: number, settle: boolean) {
  awaitSettle = settle;
  sentAt.clear();
  const callsBefore = totalCalls();
  const byCommandBefore = new Map(calls);
  const done = new Promise<void>((resolve) => {
    phaseDone = resolve;
  });
  const started = epochNow();
  toClient({
    type: 'phase',
    phase: name,
    url,
    clients,
    total,
    deadline: started + 3_600_000,
    awaitSettle: settle,
  });
  await done;
  const ackedAt = epochNow();
  // Every signal's execution to its end (not runtime.settle(), which aborts what is still running
  // after a minute: a burst's queue takes minutes), then whatever the reconciler started meanwhile.
  const giveUp = epochNow() + 30 * 60_000;
  while ([...sentAt.keys()].some((id) => !settledAt.has(id)) && epochNow() < giveUp)
    await new Promise((resolve) => setTimeout(resolve, 500));
  while (runtime.workflow.running > 0 && epochNow() < giveUp)
    await new Promise((resolve) => setTimeout(resolve, 500));
  const ids = [...sentAt.keys()];
  const fills = ids.flatMap((id) => {
    const end = settledAt.get(id);
    const start = sentAt.get(id);
    return end === undefined || start === undefined ? [] : [end - start];
  });
  const statuses = new Map<string, number>();
  const reasons = new Map<string, number>();
  let shown = 0;
  for (const id of ids) {
    const record = await runtime.deps.signals.get(id);
    const status = record?.status ?? 'missing';
    if (!['filled', 'rejected', 'cancelled', 'failed'].includes(status) && shown++ < 5) {
      const order = record?.clientOrderId
        ? await runtime.deps.store.getOrder(record.clientOrderId)
        : undefined;
      process.stderr.write(`not ended: ${JSON.stringify({ record, order })}\n`);
    }
    statuses.set(status, (statuses.get(status) ?? 0) + 1);
    if (status !== 'filled') {
      const reason = (record?.reason ?? '').slice(0, 60);
      reasons.set(reason, (reasons.get(reason) ?? 0) + 1);
    }
  }
  return {
    name,
    clients,
    executionsFailed: runtime.workflow.failed,
    alerts: ids.length,
    fill: summarize(fills),
    callsPerAlert: (totalCalls() - callsBefore) / Math.max(1, ids.length),
    callsByCommand: Object.fromEntries(
      [...calls].map(([name, n]) => [
        name,
        Number(((n - (byCommandBefore.get(name) ?? 0)) / Math.max(1, ids.length)).toFixed(2)),
      ]),
    ),
    ackSeconds: (ackedAt - started) / 1000,
    settleSeconds: (epochNow() - started) / 1000,
    statuses: Object.fromEntries(statuses),
    reasons: Object.fromEntries(reasons),
  };
}

const loadBefore = os.loadavg();
// Warm-up, not measured.
await phase('warm-up', 4, 100, true);
const one = await phase('closed loop, 1 client', 1, ALERTS_1, true);
const four = await phase('closed loop, 4 clients', 4, ALERTS_4, true);
const burst = await phase(`burst of ${BURST}, 4 clients`, 4, BURST, false);
const loadAfter = os.loadavg();
await worker.terminate();
await runtime.stop();

const result = {
  label,
  date: new Date().toISOString(),
  node: process.version,
  load: { before: loadBefore, after: loadAfter },
  phases: [one, four, burst],
  webhookFailures: failures.length,
};
mkdirSync('.bench', { recursive: true });
writeFileSync('.bench/ledger.json', `${JSON.stringify(result, null, 2)}\n`);
process.stdout.write(
  `bench/ledger.ts (${label}), ${result.date}, load ${loadBefore.map((l) => l.toFixed(2)).join(' / ')} → ${loadAfter.map((l) => l.toFixed(2)).join(' / ')}\n`,
);
for (const p of result.phases)
  process.stdout.write(
    `- ${p.name}: ${p.alerts} alerts; signal-to-fill p50 ${ms(p.fill.p50)} ms, p99 ${ms(p.fill.p99)} ms; ${p.callsPerAlert.toFixed(1)} DynamoDB calls/alert ${JSON.stringify(p.callsByCommand)}; acknowledged in ${p.ackSeconds.toFixed(1)} s, all settled in ${p.settleSeconds.toFixed(1)} s; ends ${JSON.stringify(p.statuses)}${Object.keys(p.reasons).length > 0 ? ` ${JSON.stringify(p.reasons)}` : ''}\n`,
  );
process.stdout.write(`- webhook answers other than 202: ${failures.length}\n`);
