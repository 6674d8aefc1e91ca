/**
 * `npm run bench` (the live dashboard): how long after an alert does an open page see its fill?
 *
 * The whole local bot (SQLite in memory, the synthesized workflow, the HTTP server) and a client
 * doing what the page does (infra/dashboard/app.ts), through the dashboard's own routes: logged in
 * with the session cookie, it reads `GET /api/status` until the alert's signal shows `filled`.
 *
 * - **live**: subscribed to the live-update channel over the realtime protocol (a live token from
 *   `GET /api/session`, `connection_init`, `subscribe`), it reads the status on every `data`
 *   message — the same protocol and client path as a deployed page on AppSync Events.
 * - **polling (baseline)**: what the deployed page did before — a read every 10 s, whatever happens
 *   (each alert sent at a random moment of the poll cycle, as alerts come).
 *
 * Alternated, live / polling / live / polling, so drift lands on both. Alert-to-visible p50 and p99
 * are written to docs/PERFORMANCE.md ("Dashboard: alert to an open page") and .bench/live.json.
 * On loopback: in AWS the bus, the publisher function and AppSync add their hops to the live figure.
 */
import { randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { DOC_PATH, writeFigures } from './figures.js';
import { ms, replaceLatestRun, type Summary, summarize, table } from './stats.js';

process.env.POWERTOOLS_LOG_LEVEL = 'SILENT';
const { startLocalRuntime } = await import('../infra/local/runtime.js');
const { parseConfig } = await import('../shared/config/load.js');
const { EVENTS_SUBPROTOCOL } = await import('../shared/dashboard/live.js');
const { BENCH_CONFIG, sendAlternatingAlert } = await import('./config.js');

const LIVE_ALERTS = Number(process.env.BENCH_LIVE_ALERTS ?? 100);
const POLL_ALERTS = Number(process.env.BENCH_LIVE_POLL_ALERTS ?? 12);
const POLL_SECONDS = 10;
const HEADING = '## Dashboard: alert to an open page';

type Mode = 'live' | 'polling';

async function samples(mode: Mode, count: number): Promise<number[]> {
  const secret = randomBytes(16).toString('hex');
  const admin = randomBytes(16).toString('hex');
  const bot = await startLocalRuntime({
    config: parseConfig(BENCH_CONFIG),
    webhookSecret: secret,
    adminToken: admin,
    port: 0,
  });
  const origin = bot.url;
  const login = await fetch(`${bot.url}/login`, {
    method: 'POST',
    redirect: 'manual',
    headers: { origin, 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ password: admin }).toString(),
  });
  const cookie = (login.headers.get('set-cookie') ?? '').split(';')[0] ?? '';
  /** Whether the page, reading now, would show the signal filled. */
  const shows = async (signalId: string) => {
    const status = (await (await fetch(`${bot.url}/api/status`, { headers: { cookie } })).json()) as {
      signals: { signalId: string; status: string }[];
    };
    return status.signals.some((s) => s.signalId === signalId && s.status === 'filled');
  };

  let socket: WebSocket | undefined;
  /** `data` messages so far, and who waits for the next (live mode). */
  let received = 0;
  let wake: (() => void) | undefined;
  if (mode === 'live') {
    const session = (await (await fetch(`${bot.url}/api/session`, { headers: { cookie } })).json()) as {
      live: { url: string; host: string; channel: string; token: string };
    };
    const authorization = { host: session.live.host, Authorization: session.live.token };
    const opened = new WebSocket(session.live.url, [
      EVENTS_SUBPROTOCOL,
      `header-${Buffer.from(JSON.stringify(authorization)).toString('base64url')}`,
    ]);
    socket = opened;
    await new Promise<void>((resolve, reject) => {
      opened.addEventListener('error', () => reject(new Error('live-update connection refused')));
      opened.addEventListener('open', () => opened.send(JSON.stringify({ type: 'connection_init' })));
      opened.addEventListener('message', (message) => {
        const { type } = JSON.parse(String(message.data)) as { type: string };
        if (type === 'connection_ack')
          opened.send(
            JSON.stringify({ type: 'subscribe', id: 'bench', channel: session.live.channel, authorization }),
          );
        else if (type === 'subscribe_success') resolve();
        else if (type === 'data') {
          received++;
          wake?.();
        }
      });
    });
  }

  const results: number[] = [];
  try {
    for (let i = 0; i < count; i++) {
      // Polling: the alert lands somewhere in the page's 10 s cycle.
      const phase = mode === 'polling' ? Math.random() * POLL_SECONDS * 1000 : 0;
      let nextPoll = performance.now() + phase;
      let seen = received;
      const started = performance.now();
      const signalId = await sendAlternatingAlert(bot.url, secret, i, `l${mode}${i}`);
      for (;;) {
        if (mode === 'live') {
          // A message that came while the last read was under way counts: read again at once.
          while (received === seen)
            await new Promise<void>((resolve) => {
              wake = resolve;
            });
          seen = received;
        } else {
          await new Promise((resolve) => setTimeout(resolve, Math.max(0, nextPoll - performance.now())));
          nextPoll += POLL_SECONDS * 1000;
        }
        if (await shows(signalId)) break;
      }
      results.push(performance.now() - started);
      await bot.settle();
    }
  } finally {
    socket?.close();
    await bot.stop();
  }
  return results;
}

const runs: { mode: Mode; summary: Summary }[] = [];
for (const mode of ['live', 'polling', 'live', 'polling'] as const) {
  const summary = summarize(await samples(mode, mode === 'live' ? LIVE_ALERTS : POLL_ALERTS));
  runs.push({ mode, summary });
  console.log(`${mode.padEnd(8)} p50 ${ms(summary.p50)} ms  p99 ${ms(summary.p99)} ms`);
}
const mean = (mode: Mode, key: 'p50' | 'p99') => {
  const values = runs.filter((r) => r.mode === mode).map((r) => r.summary[key]);
  return values.reduce((a, b) => a + b, 0) / values.length;
};
const rows = runs.map((r, i) => [
  String(i + 1),
  r.mode === 'live' ? 'live (subscribed; a read per message)' : `polling every ${POLL_SECONDS} s (baseline)`,
  String(r.summary.count),
  ms(r.summary.p50),
  ms(r.summary.p99),
]);
const section = `${HEADING}

Generated by \`bench/live-updates.ts\` on ${new Date().toISOString().slice(0, 10)}: the local bot (SQLite in
memory) and a client doing what the dashboard page does, through its routes and its cookie; from the
alert's POST to the first status read that shows the signal filled. Live: subscribed over the
realtime protocol (the page's one client path, AppSync Events' protocol), a read per message.
Baseline: a read every ${POLL_SECONDS} s, each alert at a random moment of the cycle (the deployed page before).
Runs alternate. Target: within ~2 s of a fill (the issue's). On loopback: in AWS add EventBridge, the
publisher function and AppSync's fan-out to the live figure.

${table(['run', 'page', 'alerts', 'alert-to-page p50 ms', 'p99 ms'], rows)}

Mean of the two runs each: p50 ${ms(mean('live', 'p50'))} ms live, ${ms(mean('polling', 'p50'))} ms polling;
p99 ${ms(mean('live', 'p99'))} vs ${ms(mean('polling', 'p99'))} ms.
`;
writeFileSync(DOC_PATH, replaceLatestRun(readFileSync(DOC_PATH, 'utf8'), section, HEADING));
writeFigures('live', {
  runs: runs.map((r) => ({ mode: r.mode, count: r.summary.count, p50: r.summary.p50, p99: r.summary.p99 })),
  liveP99: mean('live', 'p99'),
  pollingP50: mean('polling', 'p50'),
});
