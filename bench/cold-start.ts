/**
 * The webhook's bundle and a cold-start proxy (deployment issue). Targets: ≤ 500 KB raw,
 * cold-start ratio ≤ 2.0×.
 *
 *  1. Bundles functions/webhook.ts with esbuild exactly as the CDK construct does (the same
 *     settings object, BUNDLING in infra/constructs/pinebridge-function.ts: ESM, minified,
 *     node22, the createRequire banner, the same externals; no source map, as the stack deploys
 *     the webhook) and reports raw and gzip size.
 *  2. Times fresh `node` processes, interleaved: bare `node -e 0`, and a process that imports the
 *     bundle and handles one TradingView alert to its 202. Nothing leaves loopback: the SDK
 *     clients reach a fake AWS on 127.0.0.1 (AWS_ENDPOINT_URL) that answers the three calls the
 *     webhook makes (GetSecretValue, TransactWriteItems, PutEvents). The environment is a
 *     Lambda's (credentials in the environment). The ratio is the two wall-time medians. For
 *     comparison, the same bundle with a source map and NODE_OPTIONS=--enable-source-maps (the
 *     other functions' setting) is timed too. (zod is imported as a namespace everywhere,
 *     `import * as z from 'zod'`, which lets esbuild drop the parts of zod nothing uses.)
 *
 * Writes the "Webhook bundle and cold start" section of docs/PERFORMANCE.md and
 * .bench/cold-start.json (for bench/summary.ts).
 * Run: npx tsx bench/cold-start.ts [runs]
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { cpus, loadavg, release, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { build } from 'esbuild';
import { BUNDLING } from '../infra/constructs/pinebridge-function.js';
import { parseConfig } from '../shared/config/load.js';
import { writeFigures } from './figures.js';
import { replaceLatestRun, summarize, table } from './stats.js';

const HEADING = '## Webhook bundle and cold start';
const DOC = 'docs/PERFORMANCE.md';
const RUNS = Number(process.argv[2] ?? 30);
const WARM_UP = 3;
const TARGET_RAW_BYTES = 500 * 1024;
const TARGET_RATIO = 2.0;
const SECRET = 'cold-start-bench-secret-0123456789abcdef';

const dir = mkdtempSync(join(tmpdir(), 'pinebridge-cold-start-'));
const kb = (bytes: number) => `${(bytes / 1024).toFixed(1)} KB`;

// 1. The bundle, as the construct builds it: `deployed/` as the webhook ships (no source map),
//    `mapped/` with the source map the other functions ship.
const bundle = (subdir: string, sourcemap: boolean) =>
  build({
    entryPoints: ['functions/webhook.ts'],
    outfile: join(dir, subdir, 'index.mjs'),
    bundle: true,
    platform: 'node',
    target: BUNDLING.target,
    format: 'esm',
    minify: BUNDLING.minify,
    sourcemap,
    mainFields: [...BUNDLING.mainFields],
    external: [...BUNDLING.externalModules],
    banner: { js: BUNDLING.banner },

    logLevel: 'warning',
  });
await bundle('deployed', false);
await bundle('mapped', true);
const code = readFileSync(join(dir, 'deployed', 'index.mjs'));
const raw = code.length;
const gzip = gzipSync(code, { level: 9 }).length;
const mapBytes = statSync(join(dir, 'mapped', 'index.mjs.map')).size;

// 2. A fake AWS on loopback for the webhook's three calls.
const read = async (req: IncomingMessage) => {
  const chunks: Buffer[] = [];
  for await (const chunk of req as AsyncIterable<Buffer>) chunks.push(chunk);
  return Buffer.concat(chunks).toString('utf8');
};
const calls: Record<string, number> = {};
const server = createServer(async (req, res) => {
  await read(req);
  const target = String(req.headers['x-amz-target'] ?? '');
  calls[target] = (calls[target] ?? 0) + 1;
  const answer = (contentType: string, body: unknown) => {
    res.writeHead(200, { 'content-type': contentType });
    res.end(JSON.stringify(body));
  };
  if (target === 'secretsmanager.GetSecretValue')
    return answer('application/x-amz-json-1.1', {
      ARN: 'arn:aws:secretsmanager:us-east-1:000000000000:secret:bench',
      Name: 'bench',
      SecretString: JSON.stringify({ current: SECRET }),
    });
  if (target === 'DynamoDB_20120810.TransactWriteItems') return answer('application/x-amz-json-1.0', {});
  if (target === 'AWSEvents.PutEvents')
    return answer('application/x-amz-json-1.1', { FailedEntryCount: 0, Entries: [{ EventId: 'bench' }] });
  res.writeHead(400, { 'content-type': 'application/json' });
  res.end(JSON.stringify({ __type: 'UnknownOperationException', message: target }));
});
await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
const endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

// The child: import the bundle, handle one alert, report on fd 3, exit at once.
const event = {
  httpMethod: 'POST',
  path: `/webhook/${SECRET}`,
  resource: '/webhook/{secret}',
  pathParameters: { secret: SECRET },
  headers: { 'content-type': 'text/plain' },
  isBase64Encoded: false,
  body: JSON.stringify({ ticker: 'AAPL', action: 'buy', quantity: 1, price: '100', id: 'cold-start' }),
  requestContext: { requestId: 'bench' },
};
const child = `import { writeSync } from 'node:fs';
const t0 = performance.now();
const { handler } = await import('./index.mjs');
const t1 = performance.now();
const result = await handler(${JSON.stringify(event)}, { functionName: 'bench', awsRequestId: 'bench' });
const t2 = performance.now();
writeSync(3, JSON.stringify({ statusCode: result.statusCode, importMs: t1 - t0, handleMs: t2 - t1, uptimeMs: t2 }));
process.exit(0);
`;
for (const subdir of ['deployed', 'mapped']) writeFileSync(join(dir, subdir, 'child.mjs'), child);

const lambdaEnv = (sourceMaps: boolean): NodeJS.ProcessEnv => ({
  PATH: process.env.PATH,
  AWS_REGION: 'us-east-1',
  AWS_ACCESS_KEY_ID: 'AKIDCOLDSTARTBENCH',
  AWS_SECRET_ACCESS_KEY: 'cold-start-bench',
  AWS_SESSION_TOKEN: 'cold-start-bench',
  AWS_ENDPOINT_URL: endpoint,
  AWS_LAMBDA_FUNCTION_NAME: 'pinebridge-bench-webhook',
  AWS_LAMBDA_FUNCTION_MEMORY_SIZE: '512',
  POWERTOOLS_SERVICE_NAME: 'pinebridge',
  POWERTOOLS_METRICS_NAMESPACE: 'Pinebridge',
  PINEBRIDGE_STAGE: 'bench',
  PINEBRIDGE_CONFIG: JSON.stringify(parseConfig({})),
  SIGNALS_TABLE: 'pinebridge-bench-signals',
  EVENT_BUS_NAME: 'pinebridge-bench',
  WEBHOOK_SECRET_ID: 'arn:aws:secretsmanager:us-east-1:000000000000:secret:bench',
  ...(sourceMaps ? { NODE_OPTIONS: '--enable-source-maps' } : {}),
});

interface ChildReport {
  statusCode: number;
  importMs: number;
  handleMs: number;
  uptimeMs: number;
}

/** One fresh process; its wall time from spawn to exit, and what it reported on fd 3. */
function run(
  args: string[],
  env: NodeJS.ProcessEnv,
  cwd = dir,
): Promise<{ wallMs: number; report?: ChildReport }> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const child = spawn(process.execPath, args, { cwd, env, stdio: ['ignore', 'ignore', 'pipe', 'pipe'] });
    let fd3 = '';
    let stderr = '';
    child.stdio[3]?.on('data', (chunk: Buffer) => {
      fd3 += chunk.toString('utf8');
    });
    child.stderr?.on('data', (chunk: Buffer) => {
      stderr += chunk.toString('utf8');
    });
    child.on('error', reject);
    child.on('close', (exitCode) => {
      const wallMs = performance.now() - started;
      if (exitCode !== 0) return reject(new Error(`child exited ${exitCode}: ${stderr.slice(0, 500)}`));
      resolve({ wallMs, ...(fd3 ? { report: JSON.parse(fd3) as ChildReport } : {}) });
    });
  });
}

const bare: number[] = [];
const variants = { deployed: [] as ChildReport[], mapped: [] as ChildReport[] };
const walls = { deployed: [] as number[], mapped: [] as number[] };
for (let i = 0; i < WARM_UP + RUNS; i++) {
  // Interleaved, so drift in the machine's load touches every series alike.
  const a = await run(['-e', '0'], lambdaEnv(false));
  const b = await run(['child.mjs'], lambdaEnv(false), join(dir, 'deployed'));
  const c = await run(['child.mjs'], lambdaEnv(true), join(dir, 'mapped'));
  for (const [name, result] of [
    ['deployed', b],
    ['mapped', c],
  ] as const) {
    if (result.report?.statusCode !== 202)
      throw new Error(`the webhook answered ${result.report?.statusCode ?? 'nothing'}, not 202`);
    if (i >= WARM_UP) {
      variants[name].push(result.report);
      walls[name].push(result.wallMs);
    }
  }
  if (i >= WARM_UP) bare.push(a.wallMs);
}
server.close();
rmSync(dir, { recursive: true, force: true });

const bareS = summarize(bare);
const ratio = (samples: number[]) => summarize(samples).p50 / bareS.p50;
const f = (value: number) => value.toFixed(1);
const row = (label: string, wall: number[], reports: ChildReport[]) => {
  const w = summarize(wall);
  return [
    label,
    f(w.p50),
    f(w.p90),
    f(summarize(reports.map((r) => r.importMs)).p50),
    f(summarize(reports.map((r) => r.handleMs)).p50),
    `${ratio(wall).toFixed(2)}×`,
  ];
};
const verdict = (ok: boolean) => (ok ? 'PASS' : 'FAIL');
const lambdaRatio = ratio(walls.deployed);

const section = [
  HEADING,
  '',
  '_Written by `npx tsx bench/cold-start.ts` (bench/cold-start.ts) and overwritten on every run; do not edit by hand._',
  '',
  `- Date: ${new Date().toISOString()}; Node ${process.version}; ${cpus()[0]?.model.trim() ?? 'unknown CPU'}, ${cpus().length} cores, ${(totalmem() / 2 ** 30).toFixed(1)} GiB, Linux ${release()}; load average before the timed runs ended: ${loadavg()
    .map((l) => l.toFixed(2))
    .join(' / ')}`,
  '- Bundle: functions/webhook.ts through esbuild with the construct’s own settings (`BUNDLING`: ESM, minified, node22, createRequire banner, the unreached credential providers external); the webhook ships without a source map',
  `- Cold-start proxy: ${RUNS} fresh processes of each kind after ${WARM_UP} unmeasured, interleaved; the webhook process imports the bundle and handles one alert to its 202 against a fake AWS on 127.0.0.1 (GetSecretValue, TransactWriteItems, PutEvents); the ratio is its median wall time over bare \`node -e 0\`'s`,
  '',
  table(
    ['Bundle', 'Raw', 'Gzip', 'Source map (not shipped)', 'Target raw ≤ 500 KB'],
    [['functions/webhook.ts → index.mjs', kb(raw), kb(gzip), kb(mapBytes), verdict(raw <= TARGET_RAW_BYTES)]],
  ),
  '',
  table(
    ['Process', 'Wall p50 ms', 'Wall p90 ms', 'Import p50 ms', 'Handle p50 ms', 'Ratio (p50)'],
    [
      ['node -e 0', f(bareS.p50), f(bareS.p90), '–', '–', '1.00×'],
      row('webhook, as deployed (no source map)', walls.deployed, variants.deployed),
      row('webhook + source map, --enable-source-maps', walls.mapped, variants.mapped),
    ],
  ),
  '',
  table(
    ['Target', 'Limit', 'Measured', 'Result'],
    [
      ['Webhook bundle, raw', '≤ 500 KB', kb(raw), verdict(raw <= TARGET_RAW_BYTES)],
      [
        'Cold-start ratio (as deployed)',
        `≤ ${TARGET_RATIO.toFixed(1)}×`,
        `${lambdaRatio.toFixed(2)}×`,
        verdict(lambdaRatio <= TARGET_RATIO),
      ],
    ],
  ),
  '',
].join('\n');

writeFileSync(DOC, replaceLatestRun(readFileSync(DOC, 'utf8'), section, HEADING));
writeFigures('cold-start', {
  runs: RUNS,
  rawBytes: raw,
  gzipBytes: gzip,
  bareP50Ms: bareS.p50,
  webhookP50Ms: summarize(walls.deployed).p50,
  ratio: lambdaRatio,
});
process.stdout.write(
  `${section}\nFake AWS calls: ${JSON.stringify(calls)}\nWritten to ${DOC} and .bench/cold-start.json.\n`,
);
