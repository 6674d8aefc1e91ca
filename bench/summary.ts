/**
 * The last step of `npm run bench`: reads the figures the other scripts left in `.bench/*.json` and
 * writes the "Summary" section of docs/PERFORMANCE.md — every figure against the target an earlier
 * issue set for it, measured / target and pass or miss; figures with no earlier target are listed
 * as such. A script that has not run here gives "not run". Measures nothing itself.
 *
 * Run: npx tsx bench/summary.ts
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { DOC_PATH, type Provenance, provenance, readFigures } from './figures.js';
import { replaceLatestRun, table } from './stats.js';

const SUMMARY_HEADING = '## Summary: every figure against its target';

const run = readFigures('run');
const risk = readFigures('risk-engine');
const coldStart = readFigures('cold-start');
const backtest = readFigures('backtest');
const runDynamo = readFigures('run-dynamodb-local');
const runFull = readFigures('run-sqlite-full');
const localBot = readFigures('local-bot');
const notify = readFigures('notify');
const live = readFigures('live');

const finite = (v: number | null | undefined): v is number => typeof v === 'number' && Number.isFinite(v);
const thousands = (v: number) => Math.round(v).toLocaleString('en-US');

/** Which script measured a row's figure, and what it left behind. */
interface Source {
  script: string;
  figures: Provenance | undefined;
}
const FROM_RUN: Source = { script: 'bench/run.ts', figures: run };
const FROM_RISK: Source = { script: 'bench/risk-engine.ts', figures: risk };
const FROM_COLD_START: Source = { script: 'bench/cold-start.ts', figures: coldStart };
const FROM_BACKTEST: Source = { script: 'bench/backtest.ts', figures: backtest };
const FROM_RUN_DYNAMO: Source = { script: 'BENCH_STORE=dynamodb-local bench/run.ts', figures: runDynamo };
const FROM_RUN_FULL: Source = { script: 'BENCH_SYNCHRONOUS=full bench/run.ts', figures: runFull };
const FROM_LOCAL_BOT: Source = { script: 'bench/local-bot.ts', figures: localBot };
const FROM_NOTIFY: Source = { script: 'bench/notify.ts', figures: notify };
const FROM_LIVE: Source = { script: 'bench/live-updates.ts', figures: live };

interface Target {
  /** `max`: the measured value must not exceed it; `min`: it must reach it. */
  kind: 'max' | 'min';
  value: number;
  text: string;
  issue: string;
}

/** One row of the table; `value` undefined means its script has not run (or measured nothing). */
function row(
  figure: string,
  target: Target | undefined,
  value: number | undefined,
  shown: string,
  sample: string,
  source: Source,
): string[] {
  const { script } = source;
  if (source.figures === undefined)
    return [
      figure,
      target ? `${target.text} (${target.issue})` : 'no earlier target',
      'not run',
      '–',
      'not run',
      '–',
      script,
    ];
  if (target === undefined)
    return [figure, 'no earlier target', shown, '–', 'no earlier target', sample, script];
  if (value === undefined)
    return [figure, `${target.text} (${target.issue})`, 'not measured', '–', 'miss', sample, script];
  const ratio = value / target.value;
  const met = target.kind === 'max' ? ratio <= 1 : ratio >= 1;
  return [
    figure,
    `${target.text} (${target.issue})`,
    shown,
    `${ratio.toFixed(2)}`,
    met ? 'pass' : 'miss',
    sample,
    script,
  ];
}

const foundation = 'foundation';
const phase = (clients: number) => run?.phases.find((p) => p.clients === clients);
const msText = (v: number | null | undefined) => (finite(v) ? `${v.toFixed(2)} ms` : '–');
const orUndefined = (v: number | null | undefined) => (finite(v) ? v : undefined);

const rows: string[][] = [];

// The foundation issue's latency targets (bench/run.ts, closed loop).
for (const [figure, clients, pick, limit] of [
  ['Webhook ack p50, 4 clients', 4, 'ackP50', 5],
  ['Webhook ack p99, 4 clients', 4, 'ackP99', 25],
  ['Signal-to-fill p50, 1 client', 1, 'fillP50', 50],
  ['Signal-to-fill p50, 4 clients', 4, 'fillP50', 50],
] as const) {
  const p = phase(clients);
  const value = pick === 'ackP50' ? p?.ack.p50 : pick === 'ackP99' ? p?.ack.p99 : p?.fill.p50;
  const sample = p === undefined ? '–' : `${pick.startsWith('ack') ? p.ack.count : p.fill.count} alerts`;
  rows.push(
    row(
      figure,
      { kind: 'max', value: limit, text: `≤ ${limit} ms`, issue: foundation },
      orUndefined(value),
      msText(value),
      sample,
      FROM_RUN,
    ),
  );
}

// The risk engine issue (bench/risk-engine.ts).
rows.push(
  row(
    'Risk engine p99 per decision',
    { kind: 'max', value: 50, text: '≤ 50 µs', issue: 'risk engine' },
    risk?.p99Us,
    risk === undefined ? '–' : `${risk.p99Us.toFixed(1)} µs`,
    risk === undefined ? '–' : `${thousands(risk.decisions)} decisions`,
    FROM_RISK,
  ),
);

// The deployment issue (bench/cold-start.ts).
const kb = (bytes: number) => `${(bytes / 1024).toFixed(1)} KB`;
rows.push(
  row(
    'Webhook bundle, raw',
    { kind: 'max', value: 500 * 1024, text: '≤ 500 KB', issue: 'deployment' },
    coldStart?.rawBytes,
    coldStart === undefined ? '–' : kb(coldStart.rawBytes),
    '1 build',
    FROM_COLD_START,
  ),
  row(
    'Cold-start proxy, webhook / bare `node -e 0` (p50 wall time)',
    { kind: 'max', value: 2, text: '≤ 2.0×', issue: 'deployment' },
    coldStart?.ratio,
    coldStart === undefined
      ? '–'
      : `${coldStart.ratio.toFixed(2)}× (${coldStart.webhookP50Ms.toFixed(0)} / ${coldStart.bareP50Ms.toFixed(0)} ms)`,
    coldStart === undefined ? '–' : `${coldStart.runs} processes each`,
    FROM_COLD_START,
  ),
);

// The backtest issue (bench/backtest.ts).
rows.push(
  row(
    'Backtest speed, Pinebridge / grademark (candles/s)',
    { kind: 'min', value: 2, text: '≥ 2×', issue: 'backtest' },
    backtest?.speedup,
    backtest === undefined
      ? '–'
      : `${backtest.speedup.toFixed(2)}× (${thousands(backtest.pinebridgeCandlesPerSecond)} / ${thousands(backtest.grademarkCandlesPerSecond)})`,
    backtest === undefined ? '–' : `${thousands(backtest.candles)} candles`,
    FROM_BACKTEST,
  ),
  row(
    'Backtest heap per candle',
    { kind: 'max', value: 100, text: '≤ 100 B', issue: 'backtest' },
    backtest?.heapBytesPerCandle,
    backtest === undefined ? '–' : `${backtest.heapBytesPerCandle.toFixed(1)} B`,
    backtest === undefined ? '–' : `${thousands(backtest.candles)} candles`,
    FROM_BACKTEST,
  ),
);

// Figures no earlier issue set a target for (bench/run.ts).
for (const clients of [1, 4]) {
  const p = phase(clients);
  for (const which of ['p50', 'p99'] as const) {
    const ours = p?.ack[which];
    const bare = p?.bare?.[which];
    const shown =
      finite(ours) && finite(bare) ? `${(ours / bare).toFixed(1)}× (${msText(ours)} / ${msText(bare)})` : '–';
    rows.push(
      row(
        `Webhook ack ${which}, Pinebridge / bare \`node:http\`, ${clients} client${clients === 1 ? '' : 's'}`,
        undefined,
        undefined,
        shown,
        p === undefined ? '–' : `${p.ack.count} / ${p.bare?.count ?? 0} requests`,
        FROM_RUN,
      ),
    );
  }
}
for (const clients of [1, 4]) {
  const p = phase(clients);
  rows.push(
    row(
      `Signal-to-fill p99, ${clients} client${clients === 1 ? '' : 's'}`,
      undefined,
      undefined,
      msText(p?.fill.p99),
      p === undefined ? '–' : `${p.fill.count} alerts`,
      FROM_RUN,
    ),
  );
}
const sustained = run?.sustained;
rows.push(
  row(
    'Sustained accepted signals/s with zero loss (open loop)',
    undefined,
    undefined,
    sustained == null
      ? 'not measured'
      : sustained.rate === null
        ? 'none: the first step failed'
        : sustained.stoppedBy === 'failed'
          ? `${sustained.rate} alerts/s${sustained.failedAt == null ? '' : ` (the ${sustained.failedAt} alerts/s step failed)`}`
          : `≥ ${sustained.rate} alerts/s (${sustained.stoppedBy === 'max' ? 'top step' : 'time budget'} reached)`,
    sustained == null ? '–' : `${sustained.steps} step(s) of ${sustained.stepSeconds} s`,
    FROM_RUN,
  ),
);

// The embedded-store issue: SQLite (bench/run.ts, bench/local-bot.ts), DynamoDB Local beside it.
const store = 'embedded store';
const backToBack = (figures: typeof run, clients: number) =>
  figures?.backToBack?.find((p) => p.clients === clients);
for (const clients of [1, 4]) {
  const p = backToBack(run, clients);
  const dynamo = backToBack(runDynamo, clients);
  for (const [which, limit] of [
    ['p50', 2],
    ['p99', 3],
  ] as const) {
    const ours = p?.ack[which];
    const bare = p?.bare?.[which];
    const ratio = finite(ours) && finite(bare) ? ours / bare : undefined;
    const dynamoRatio =
      finite(dynamo?.ack[which]) && finite(dynamo?.bare?.[which])
        ? ` (DynamoDB Local: ${((dynamo?.ack[which] as number) / (dynamo?.bare?.[which] as number)).toFixed(1)}×)`
        : '';
    rows.push(
      row(
        `Ack ${which} back to back / bare \`node:http\`, ${clients} client${clients === 1 ? '' : 's'}, workflow running`,
        { kind: 'max', value: limit, text: `≤ ${limit}×`, issue: store },
        ratio,
        ratio === undefined ? '–' : `${ratio.toFixed(1)}× (${msText(ours)} / ${msText(bare)})${dynamoRatio}`,
        p === undefined ? '–' : `${p.ack.count} alerts`,
        FROM_RUN,
      ),
    );
  }
}
for (const [clients, limit] of [
  [1, 5],
  [4, 15],
] as const) {
  const p = phase(clients);
  const dynamo = runDynamo?.phases.find((q) => q.clients === clients);
  rows.push(
    row(
      `Signal-to-fill p50, ${clients} client${clients === 1 ? '' : 's'}, SQLite`,
      { kind: 'max', value: limit, text: `≤ ${limit} ms`, issue: store },
      orUndefined(p?.fill.p50),
      `${msText(p?.fill.p50)}${dynamo === undefined ? '' : ` (DynamoDB Local: ${msText(dynamo.fill.p50)})`}`,
      p === undefined ? '–' : `${p.fill.count} alerts`,
      FROM_RUN,
    ),
  );
}
for (const clients of [1, 4]) {
  const normal = phase(clients);
  const full = runFull?.phases.find((q) => q.clients === clients);
  rows.push(
    row(
      `Signal-to-fill p50, ${clients} client${clients === 1 ? '' : 's'}: SQLite synchronous full (normal)`,
      undefined,
      undefined,
      `${msText(full?.fill.p50)} (${msText(normal?.fill.p50)})`,
      full === undefined ? '–' : `${full.fill.count} alerts`,
      FROM_RUN_FULL,
    ),
  );
}
const rateOf = (figures: typeof run) => figures?.sustained?.rate ?? undefined;
rows.push(
  row(
    'Sustained alerts/s with zero loss, SQLite (open loop)',
    { kind: 'min', value: 500, text: '≥ 500/s', issue: store },
    rateOf(run),
    `${rateOf(run) ?? '–'}/s${run?.sustained?.stoppedBy === 'max' ? ' (top step passed)' : ''}${runDynamo?.sustained ? ` (DynamoDB Local: ${rateOf(runDynamo) ?? 'none'}/s)` : ''}`,
    run?.sustained == null ? '–' : `${run.sustained.steps} step(s) of ${run.sustained.stepSeconds} s`,
    FROM_RUN,
  ),
);
const sqliteBot = localBot?.stores.find((s) => s.store === 'sqlite');
const dynamoBot = localBot?.stores.find((s) => s.store === 'dynamodb-local');
const mibText = (bytes: number | undefined) =>
  bytes === undefined ? '–' : `${(bytes / 2 ** 20).toFixed(0)} MiB`;
rows.push(
  row(
    'Resident memory of the local bot after its alerts (SQLite)',
    { kind: 'max', value: 250 * 2 ** 20, text: '≤ 250 MB', issue: store },
    sqliteBot?.rssBytes,
    `${mibText(sqliteBot?.rssBytes)}${dynamoBot ? ` (DynamoDB Local, Node + JVM: ${mibText(dynamoBot.rssBytes)} after ${dynamoBot.alerts})` : ''}`,
    sqliteBot === undefined ? '–' : `${thousands(sqliteBot.alerts)} alerts`,
    FROM_LOCAL_BOT,
  ),
  row(
    '`npm start` to healthy /health, second start (SQLite)',
    { kind: 'max', value: 3000, text: '≤ 3 s', issue: store },
    sqliteBot?.warmStartMs,
    sqliteBot === undefined
      ? '–'
      : `${(sqliteBot.warmStartMs / 1000).toFixed(2)} s (first start ${(sqliteBot.firstStartMs / 1000).toFixed(2)} s${dynamoBot ? `; DynamoDB Local ${(dynamoBot.warmStartMs / 1000).toFixed(2)} s` : ''})`,
    '1 start each',
    FROM_LOCAL_BOT,
  ),
  row(
    'Decided/s with history / on an empty store (SQLite)',
    { kind: 'min', value: 0.8, text: '≥ 0.80 (within 20 %)', issue: store },
    sqliteBot?.historyRate == null ? undefined : sqliteBot.historyRate / sqliteBot.emptyRate,
    sqliteBot?.historyRate == null
      ? '–'
      : `${(sqliteBot.historyRate / sqliteBot.emptyRate).toFixed(2)} (${sqliteBot.historyRate.toFixed(0)} / ${sqliteBot.emptyRate.toFixed(0)} per s)`,
    sqliteBot === undefined ? '–' : `${thousands(sqliteBot.history)} signals recorded`,
    FROM_LOCAL_BOT,
  ),
);

// The notifications issue (bench/notify.ts): a dead channel must not slow trading.
const meanOf = (hanging: boolean) => {
  const p50s = (notify?.runs ?? []).filter((r) => r.hanging === hanging).map((r) => r.p50);
  return p50s.length === 0 ? Number.NaN : p50s.reduce((a, b) => a + b, 0) / p50s.length;
};
rows.push(
  row(
    'Signal-to-fill p50 with three hanging channels / without a channel',
    { kind: 'max', value: 1.1, text: '≤ 1.10 (unchanged)', issue: 'notifications' },
    notify?.p50Ratio,
    notify === undefined
      ? '–'
      : `${notify.p50Ratio.toFixed(2)} (${msText(meanOf(true))} / ${msText(meanOf(false))})`,
    notify === undefined
      ? '–'
      : `${notify.runs.length} runs of ${notify.runs[0]?.count ?? 0} alerts, alternated`,
    FROM_NOTIFY,
  ),
);

// The live dashboard (bench/live-updates.ts): an open page sees a fill within ~2 s.
rows.push(
  row(
    'Alert to an open page, live p99 (polling every 10 s: p50 beside it)',
    {
      kind: 'max',
      value: 2000,
      text: '≤ 2 s (~2 s of a fill)',
      issue: 'notifications and the live dashboard',
    },
    live?.liveP99,
    live === undefined ? '–' : `${msText(live.liveP99)} (polling p50 ${msText(live.pollingP50)})`,
    live === undefined
      ? '–'
      : `${live.runs.filter((r) => r.mode === 'live').reduce((a, r) => a + r.count, 0)} alerts live, ${live.runs.filter((r) => r.mode === 'polling').reduce((a, r) => a + r.count, 0)} polling, alternated`,
    FROM_LIVE,
  ),
);

const here = provenance();
const load = (l: readonly number[]) => l.map((v) => v.toFixed(2)).join(' / ');
const sourceLine = ({ script, figures: source }: Source) =>
  source === undefined
    ? `  - ${script}: not run here (no .bench file)`
    : `  - ${script}: ${source.date}, Node ${source.node}${source.machine === here.machine ? '' : `, on ${source.machine}`}, load ${load(source.load)} at the end`;
const warnings =
  run !== undefined && run.malfunctions > 0
    ? [
        `- **bench/run.ts reported ${run.malfunctions} malfunction(s) and ${run.notFilled} unfilled signal(s): its figures are not trustworthy.**`,
      ]
    : [];

const section = [
  SUMMARY_HEADING,
  '',
  '_Written by `npm run bench` (bench/summary.ts, from the `.bench/*.json` the other bench scripts write) and overwritten on every run; do not edit by hand._',
  '',
  `- Date: ${here.date}; Node ${here.node}; machine: ${here.machine}`,
  '- Measured / target: the measured value divided by the target; a ≤ target passes at 1.00 or less, a ≥ target at 1.00 or more. "Sample" is how much each figure rests on: fewer than the scripts\' defaults means a quick run, not a record.',
  '- Sources:',
  ...[
    FROM_RUN,
    FROM_RUN_DYNAMO,
    FROM_RUN_FULL,
    FROM_LOCAL_BOT,
    FROM_RISK,
    FROM_COLD_START,
    FROM_BACKTEST,
    FROM_NOTIFY,
    FROM_LIVE,
  ].map(sourceLine),
  ...warnings,
  '',
  table(['Figure', 'Target (issue)', 'Measured', 'Measured / target', 'Result', 'Sample', 'Source'], rows),
  '',
].join('\n');

/** Where the section goes the first time: before the first level-2 heading, right under the intro. */
function place(existing: string): string {
  if (existing.includes(`\n${SUMMARY_HEADING}\n`))
    return replaceLatestRun(existing, section, SUMMARY_HEADING);
  const first = existing.indexOf('\n## ');
  if (first === -1) return `${existing.trimEnd()}\n\n${section}`;
  return `${existing.slice(0, first).trimEnd()}\n\n${section}\n${existing.slice(first)}`;
}

writeFileSync(DOC_PATH, place(readFileSync(DOC_PATH, 'utf8')));
process.stdout.write(`${section}\nWritten to docs/PERFORMANCE.md.\n`);
