/**
 * `npx tsx bench/probe.ts`: where the time of one alert goes. Not part of `npm run bench`; a
 * diagnostic that times each stage separately against the same in-memory DynamoDB Local:
 * raw DynamoDB calls, the HTTP round trip alone, the webhook handler without HTTP (and its CPU
 * stages), and each workflow task with the approval conflicts it meets.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import http from 'node:http';
import { mib, ms, summarize, table } from './stats.js';

process.env.POWERTOOLS_LOG_LEVEL = 'SILENT';
const { startLocalRuntime } = await import('../infra/local/runtime.js');
const { startDynamoDbLocal } = await import('../infra/local/dynamodb-local.js');
const { parseConfig } = await import('../shared/config/load.js');
const { BENCH_CONFIG } = await import('./config.js');
const { createDocumentClient } = await import('../shared/adapters/dynamodb/client.js');
const { createWebhookHandler } = await import('../functions/webhook.js');
const { TRADE_FLOW_TASKS } = await import('../shared/usecases/tasks.js');
const { validateAlert, parseAlertJson } = await import('../shared/domain/alert.js');
const { matchSecret } = await import('../shared/domain/secrets.js');
const { GetCommand, PutCommand, TransactWriteCommand } = await import('@aws-sdk/lib-dynamodb');

const N = Number(process.env.PROBE_N ?? 300);
const CLIENTS = Number(process.env.PROBE_CLIENTS ?? 1);
const config = parseConfig(BENCH_CONFIG, 'bench config');
const webhookSecret = randomBytes(24).toString('base64url');
const database = await startDynamoDbLocal(undefined);
const runtime = await startLocalRuntime({
  config,
  webhookSecret,
  adminToken: randomBytes(24).toString('base64url'),
  port: 0,
  store: { kind: 'dynamodb', endpoint: database.endpoint },
});

const rows: string[][] = [];
const row = (name: string, samples: number[]) => {
  const s = summarize(samples);
  rows.push([name, String(s.count), ms(s.p50), ms(s.p90), ms(s.p99), ms(s.mean)]);
};
async function timeIt(fn: (i: number) => Promise<unknown>, n = N): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const t = performance.now();
    await fn(i);
    out.push(performance.now() - t);
  }
  return out;
}
const timeSync = (fn: (i: number) => unknown, n = N * 10): number[] =>
  Array.from({ length: n }, (_, i) => {
    const t = performance.now();
    fn(i);
    return performance.now() - t;
  });

let seq = 0;
const alert = () =>
  JSON.stringify({ ticker: 'AAPL', action: 'buy', quantity: 1, price: '100', id: `p-${seq++}` });

/**
 * PROBE_BURST=n: n alerts posted at once (a watchlist alert firing for many symbols at a bar
 * close), then how each ended and how long the last took. Skips everything else.
 */
async function burst(n: number): Promise<void> {
  for (let i = 0; i < 100; i++) {
    await fetch(`${runtime.url}/webhook/${webhookSecret}`, { method: 'POST', body: alert() });
    await runtime.settle();
  }
  const results = new Map<string, number>();
  const approvals = new Map<string, number>();
  const store = runtime.deps.store;
  const approve = store.approve.bind(store);
  store.approve = async (...args) => {
    const result = await approve(...args);
    approvals.set(result, (approvals.get(result) ?? 0) + 1);
    return result;
  };
  const taskErrors = new Map<string, number>();
  const tasks = TRADE_FLOW_TASKS as unknown as Record<
    string,
    { run: (i: unknown, d: unknown) => Promise<unknown> }
  >;
  for (const [name, task] of Object.entries(tasks)) {
    const run = task.run;
    task.run = (input, deps) =>
      run(input, deps).catch((error: Error) => {
        const key = `${name}: ${error.name}`;
        taskErrors.set(key, (taskErrors.get(key) ?? 0) + 1);
        throw error;
      });
  }
  const t0 = performance.now();
  const settledAt = new Map<string, number>();
  runtime.workflow.events.on('settled', (input: Record<string, unknown>) =>
    settledAt.set(String(input.signalId), performance.now() - t0),
  );
  const ids = await Promise.all(
    Array.from({ length: n }, async () => {
      const r = await fetch(`${runtime.url}/webhook/${webhookSecret}`, { method: 'POST', body: alert() });
      const ack = performance.now() - t0;
      return { ...((await r.json()) as { signalId: string }), ack, status: r.status };
    }),
  );
  await runtime.settle();
  for (const { signalId } of ids) {
    const status = (await runtime.deps.signals.get(signalId))?.status ?? 'unrecorded';
    results.set(status, (results.get(status) ?? 0) + 1);
  }
  const fills = summarize(ids.map((i) => settledAt.get(i.signalId) ?? Number.NaN));
  process.stdout.write(
    `burst of ${n} after 100 warm-up alerts: HTTP statuses ${JSON.stringify([...new Set(ids.map((i) => i.status))])}; last ack ${ms(Math.max(...ids.map((i) => i.ack)))} ms; ` +
      `settled p50 ${ms(fills.p50)} ms, last ${ms(fills.max)} ms; statuses ${JSON.stringify(Object.fromEntries(results))}; approve() ${JSON.stringify(Object.fromEntries(approvals))}; task errors (retried by the workflow) ${JSON.stringify(Object.fromEntries(taskErrors))}\n`,
  );
}

try {
  if (process.env.PROBE_BURST) {
    await burst(Number(process.env.PROBE_BURST));
    throw new Error('done');
  }
  // 1. DynamoDB Local alone (same SDK client settings as the bot).
  const db = createDocumentClient({ endpoint: database.endpoint });
  const table_ = 'pinebridge-local-signals';
  // DynamoDB Local's JVM needs a few thousand requests before its JIT settles.
  await timeIt(
    (i) => db.send(new PutCommand({ TableName: table_, Item: { pk: `w${i}`, v: 1 } })),
    Number(process.env.PROBE_DDB_WARMUP ?? 2000),
  );
  row(
    'DDB PutItem',
    await timeIt((i) => db.send(new PutCommand({ TableName: table_, Item: { pk: `x${i}`, v: 1 } }))),
  );
  row(
    'DDB GetItem (consistent)',
    await timeIt((i) =>
      db.send(new GetCommand({ TableName: table_, Key: { pk: `x${i}` }, ConsistentRead: true })),
    ),
  );
  row(
    'DDB TransactWrite (2 conditional puts)',
    await timeIt((i) =>
      db.send(
        new TransactWriteCommand({
          TransactItems: [
            {
              Put: {
                TableName: table_,
                Item: { pk: `dx${i}`, v: 1 },
                ConditionExpression: 'attribute_not_exists(pk)',
              },
            },
            {
              Put: {
                TableName: table_,
                Item: { pk: `sx${i}`, v: 1 },
                ConditionExpression: 'attribute_not_exists(pk)',
              },
            },
          ],
        }),
      ),
    ),
  );

  // 1b. The AWS SDK's own cost: the same calls against a stub endpoint (another process) answering `{}`.
  const stub = spawn(
    process.execPath,
    [
      '-e',
      "require('http').createServer((q,s)=>{q.resume();q.on('end',()=>{s.writeHead(200,{'content-type':'application/x-amz-json-1.0'});s.end('{}')})}).listen(0,'127.0.0.1',function(){console.log(this.address().port)})",
    ],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  const stubPort = await new Promise<number>((r) =>
    stub.stdout?.once('data', (d: Buffer) => r(Number(String(d)))),
  );
  try {
    const stubDb = createDocumentClient({ endpoint: `http://127.0.0.1:${stubPort}` });
    const get = (i: number) =>
      stubDb.send(new GetCommand({ TableName: table_, Key: { pk: `x${i}` }, ConsistentRead: true }));
    await timeIt(get, 500);
    const cpu0 = process.cpuUsage();
    row('SDK GetItem against a stub endpoint', await timeIt(get));
    const cpu = process.cpuUsage(cpu0);
    rows.push(['  Node CPU per SDK call (user+sys)', '', '', '', '', ms((cpu.user + cpu.system) / 1000 / N)]);
    const agent = new http.Agent({ keepAlive: true });
    const raw = () =>
      new Promise<void>((resolveRaw, reject) => {
        const req = http.request(
          { host: '127.0.0.1', port: stubPort, method: 'POST', path: '/', agent },
          (res) => {
            res.resume();
            res.on('end', () => resolveRaw());
          },
        );
        req.on('error', reject);
        req.end('{"TableName":"t","Key":{"pk":{"S":"x"}}}');
      });
    await timeIt(raw, 500);
    const cpu1 = process.cpuUsage();
    row('node:http POST against the stub', await timeIt(raw));
    const cpuRaw = process.cpuUsage(cpu1);
    rows.push([
      '  Node CPU per raw request (user+sys)',
      '',
      '',
      '',
      '',
      ms((cpuRaw.user + cpuRaw.system) / 1000 / N),
    ]);
    agent.destroy();
    stubDb.destroy();
  } finally {
    stub.kill();
  }

  // 2. The HTTP round trip alone: a path that answers 404 without touching the database.
  row(
    'HTTP round trip (404, no handler)',
    await timeIt(async () => {
      const r = await fetch(`${runtime.url}/nothing`, { method: 'POST', body: '{}' });
      await r.text();
    }),
  );

  // 3. The webhook handler without HTTP, publishing nowhere, and its CPU stages.
  const recordNewTimes: number[] = [];
  const signals = runtime.deps.signals;
  const originalRecordNew = signals.recordNew.bind(signals);
  signals.recordNew = async (input) => {
    const t = performance.now();
    try {
      return await originalRecordNew(input);
    } finally {
      recordNewTimes.push(performance.now() - t);
    }
  };
  const handler = createWebhookHandler({
    ...runtime.deps,
    publisher: { publish: async () => {} },
    secrets: { get: async () => ({ current: webhookSecret }) },
  });
  const handlerTimes = await timeIt(() =>
    handler({
      body: alert(),
      isBase64Encoded: false,
      pathParameters: { secret: webhookSecret },
    } as unknown as Parameters<typeof handler>[0]),
  );
  row('Webhook handler, no HTTP (no publish)', handlerTimes);
  row('  of which signals.recordNew (TransactWrite)', recordNewTimes.splice(0));
  const body = alert();
  const parsed = parseAlertJson(body);
  row(
    '  CPU: matchSecret (x2 per request)',
    timeSync(() => matchSecret(webhookSecret, { current: webhookSecret }, new Date())),
  );
  row(
    '  CPU: parseAlertJson',
    timeSync(() => parseAlertJson(body)),
  );
  row(
    '  CPU: validateAlert (zod)',
    timeSync(() => validateAlert(parsed.ok ? parsed.value : {})),
  );

  // 4. Through HTTP, each alert waiting for its fill: per-task times and approval conflicts.
  const taskTimes = new Map<string, number[]>();
  const tasks = TRADE_FLOW_TASKS as unknown as Record<
    string,
    { run: (i: unknown, d: unknown) => Promise<unknown> }
  >;
  for (const [name, task] of Object.entries(tasks)) {
    const run = task.run;
    task.run = async (input, deps) => {
      const t = performance.now();
      try {
        return await run(input, deps);
      } finally {
        const list = taskTimes.get(name) ?? [];
        list.push(performance.now() - t);
        taskTimes.set(name, list);
      }
    };
  }
  const approvals = new Map<string, number>();
  const store = runtime.deps.store;
  const approve = store.approve.bind(store);
  store.approve = async (...args) => {
    const result = await approve(...args);
    approvals.set(result, (approvals.get(result) ?? 0) + 1);
    return result;
  };
  // Every DynamoDB call the bot makes (stores and paper broker share one document client).
  const calls = new Map<string, { n: number; ms: number; failed: number }>();
  type Send = (command: object) => Promise<unknown>;
  // The store's client: on the Book itself (older versions) or on its item store.
  const bot = runtime.deps.store as unknown as { db?: { send: Send }; items?: { db: { send: Send } } };
  const botDb = (bot.db ?? bot.items?.db) as { send: Send };
  const send = botDb.send.bind(botDb) as Send;
  botDb.send = async (command: object) => {
    const name = command.constructor.name;
    const entry = calls.get(name) ?? { n: 0, ms: 0, failed: 0 };
    calls.set(name, entry);
    entry.n++;
    const t = performance.now();
    try {
      return await send(command);
    } catch (error) {
      entry.failed++;
      throw error;
    } finally {
      entry.ms += performance.now() - t;
    }
  };
  const cpuBefore = process.cpuUsage();
  const pending = new Map<string, (at: number) => void>();
  const early = new Map<string, number>();
  runtime.workflow.events.on('settled', (input: Record<string, unknown>) => {
    const id = String(input.signalId);
    const w = pending.get(id);
    if (w) w(performance.now());
    else early.set(id, performance.now());
  });
  const acks: number[] = [];
  const fills: number[] = [];
  let next = 0;
  await Promise.all(
    Array.from({ length: CLIENTS }, async () => {
      while (next++ < N) {
        const t0 = performance.now();
        const r = await fetch(`${runtime.url}/webhook/${webhookSecret}`, { method: 'POST', body: alert() });
        const { signalId } = (await r.json()) as { signalId: string };
        acks.push(performance.now() - t0);
        const at = early.get(signalId) ?? (await new Promise<number>((res) => pending.set(signalId, res)));
        fills.push(at - t0);
      }
    }),
  );
  const cpu = process.cpuUsage(cpuBefore);
  row(`HTTP webhook ack (${CLIENTS} client(s), closed loop)`, acks);
  row('  of which signals.recordNew', recordNewTimes.splice(0));
  row(`Signal-to-fill (${CLIENTS} client(s), closed loop)`, fills);
  let taskSum = 0;
  for (const [name, list] of taskTimes) {
    row(`  task ${name}`, list);
    taskSum += list.reduce((a, b) => a + b, 0);
  }
  const fillSum = fills.reduce((a, b) => a + b, 0);
  const ackSum = acks.reduce((a, b) => a + b, 0);
  rows.push([
    '  mean fill − ack − Σ tasks (engine + bus)',
    '',
    '',
    '',
    '',
    ms((fillSum - ackSum - taskSum) / fills.length),
  ]);
  process.stdout.write(
    `${table(['Stage', 'n', 'p50 ms', 'p90 ms', 'p99 ms', 'mean ms'], rows)}\n\n${table(
      ['DynamoDB call (closed-loop phase)', 'per alert', 'failed per alert', 'mean ms'],
      [...calls].map(([name, c]) => [name, (c.n / N).toFixed(2), (c.failed / N).toFixed(2), ms(c.ms / c.n)]),
    )}\n\napprove() results: ${JSON.stringify(Object.fromEntries(approvals))}\nNode CPU per alert: user ${ms(cpu.user / 1000 / N)} ms, system ${ms(cpu.system / 1000 / N)} ms\nRSS ${mib(process.memoryUsage().rss)}\n`,
  );
} catch (error) {
  if ((error as Error).message !== 'done') throw error;
} finally {
  await runtime.stop();
  await database.stop();
}
process.exit(0);
