/**
 * The figures each benchmark script leaves in `.bench/<name>.json` (git-ignored) for
 * bench/summary.ts, which sets them against their targets. Each file says when, where and on which
 * Node it was measured, since the scripts can run apart (and on other machines).
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
export const DOC_PATH = resolve(root, 'docs/PERFORMANCE.md');
const figuresPath = (name: string) => resolve(root, '.bench', `${name}.json`);

export interface Provenance {
  date: string;
  node: string;
  machine: string;
  /** Load average (1 / 5 / 15 min) when the figures were written. */
  load: number[];
}

export function provenance(): Provenance {
  const cpus = os.cpus();
  return {
    date: new Date().toISOString(),
    node: process.version,
    machine: `${cpus[0]?.model.trim() ?? 'unknown CPU'}, ${cpus.length} cores, ${(os.totalmem() / 2 ** 30).toFixed(1)} GiB memory, ${os.type()} ${os.release()} ${os.arch()}`,
    load: os.loadavg(),
  };
}

/** Latencies in milliseconds; JSON turns a NaN (no sample) into null. */
export interface Latency {
  count: number;
  p50: number | null;
  p99: number | null;
}

/** bench/run.ts */
export interface RunFigures {
  /** The store the bot ran on: sqlite (the local default) or dynamodb-local. */
  store: 'sqlite' | 'dynamodb-local';
  /** Back to back: each client sends on its 202, the workflow works through the backlog. */
  backToBack: {
    clients: number;
    ack: Latency;
    bare: Latency | null;
    fill: Latency;
    filledPerSecond: number;
  }[];
  phases: {
    clients: number;
    ack: Latency;
    /** The same load generator against a bare node:http server that answers 202 at once. */
    bare: Latency | null;
    fill: Latency;
  }[];
  sustained: {
    /** Highest offered rate (alerts/s) with every alert 202, every signal filled, latency bounded; null if none. */
    rate: number | null;
    /** Why stepping stopped: 'failed' (a step failed), 'max' (the top step passed), 'budget' (time ran out). */
    stoppedBy: 'failed' | 'max' | 'budget';
    /** The offered rate of the step that failed, when one did. */
    failedAt: number | null;
    stepSeconds: number;
    steps: number;
  } | null;
  notFilled: number;
  malfunctions: number;
}

/** bench/local-bot.ts: the bot as `npm start` runs it, a process of its own. */
export interface LocalBotFigures {
  stores: {
    store: 'sqlite' | 'dynamodb-local';
    /** `npm start` to a healthy /health: the first start (synthesizes) and a second (cached). */
    firstStartMs: number;
    warmStartMs: number;
    alerts: number;
    filled: number;
    /** Resident memory of the bot (Node, and DynamoDB Local's JVM where it runs one) after the alerts. */
    rssBytes: number;
    /** Alerts filled per second, 4 clients back to back, on an empty store and after `history` signals. */
    emptyRate: number;
    historyRate: number | null;
    history: number;
  }[];
}

/** bench/risk-engine.ts */
export interface RiskEngineFigures {
  decisions: number;
  p50Us: number;
  p99Us: number;
}

/** bench/cold-start.ts */
export interface ColdStartFigures {
  runs: number;
  rawBytes: number;
  gzipBytes: number;
  bareP50Ms: number;
  webhookP50Ms: number;
  /** Webhook process wall-time median over bare `node -e 0`'s. */
  ratio: number;
}

/** bench/backtest.ts */
export interface BacktestFigures {
  candles: number;
  pinebridgeCandlesPerSecond: number;
  grademarkCandlesPerSecond: number;
  /** Pinebridge's candles per second over grademark's. */
  speedup: number;
  heapBytesPerCandle: number;
}

/** bench/notify.ts: signal-to-fill without a notification channel, and with three that never answer. */
/** bench/live-updates.ts: alert to an open page, subscribed (live) and polling every 10 s. */
export interface LiveFigures {
  runs: { mode: 'live' | 'polling'; count: number; p50: number; p99: number }[];
  /** Mean of the live runs' p99, ms. */
  liveP99: number;
  /** Mean of the polling runs' p50, ms. */
  pollingP50: number;
}

export interface NotifyFigures {
  runs: { hanging: boolean; count: number; p50: number; p99: number }[];
  /** Mean of the hanging runs' p50 over the baseline runs'. */
  p50Ratio: number;
  p99Ratio: number;
}

export interface FigureFiles {
  run: RunFigures;
  'run-dynamodb-local': RunFigures;
  'run-sqlite-full': RunFigures;
  'local-bot': LocalBotFigures;
  'risk-engine': RiskEngineFigures;
  'cold-start': ColdStartFigures;
  backtest: BacktestFigures;
  notify: NotifyFigures;
  live: LiveFigures;
}

export function writeFigures<K extends keyof FigureFiles>(name: K, figures: FigureFiles[K]): void {
  const path = figuresPath(name);
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, `${JSON.stringify({ ...provenance(), ...figures }, null, 2)}\n`);
}

/** The figures a script last wrote, or undefined when it has not run here (or wrote something unreadable). */
export function readFigures<K extends keyof FigureFiles>(name: K): (FigureFiles[K] & Provenance) | undefined {
  const path = figuresPath(name);
  if (!existsSync(path)) return undefined;
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as FigureFiles[K] & Provenance;
  } catch {
    return undefined;
  }
}
