/**
 * The benchmark's load generator, run in a worker thread so that the clients' own work (fetch,
 * reading answers) does not share the event loop with the bot it measures — as TradingView is
 * not in the bot's process either. Times are epoch milliseconds (performance.timeOrigin + now()),
 * comparable across threads.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { parentPort, workerData } from 'node:worker_threads';

export interface ClientSetup {
  symbol: string;
  runId: string;
}

/** main → worker */
export type ToClient =
  /**
   * Closed loop: `clients` clients share `total` alerts, starting none after `deadline` (epoch ms).
   * With `awaitSettle` each client sends its next alert once its last signal's workflow settled;
   * without (a server with no workflow behind it), as soon as the answer has been read.
   */
  | {
      type: 'phase';
      phase: string;
      url: string;
      clients: number;
      total: number;
      deadline: number;
      awaitSettle: boolean;
    }
  /**
   * Open loop: `total` alerts at `rate` a second on a fixed schedule, whether or not earlier ones
   * have been answered, as TradingView sends alerts when they fire. An answer slower than
   * `timeoutMs` counts as a failure (status 0), as TradingView gives up on it.
   */
  | { type: 'open'; phase: string; url: string; rate: number; total: number; timeoutMs: number }
  /** The signal's workflow settled (or timed out): the client that sent it may send its next alert. */
  | { type: 'settled'; signalId: string };

/** worker → main */
export type FromClient =
  | { type: 'sent'; signalId: string; startedAt: number; ackMs: number }
  /** Not a 202 with a signal id; status 0 when no answer came (a network error or the timeout). */
  | { type: 'failed'; status: number; body: string; startedAt: number }
  /**
   * Every alert of the phase has been answered. An open loop adds when its last alert went out and
   * how late the schedule ran at worst (a late load generator offers less than its nominal rate).
   */
  | { type: 'done'; phase: string; lastSendAt?: number; maxLagMs?: number };

const now = () => performance.timeOrigin + performance.now();

if (parentPort) {
  const port = parentPort;
  const setup = workerData as ClientSetup;
  const waiting = new Map<string, () => void>();
  const early = new Set<string>();
  let sequence = 0;

  const settledSignal = (signalId: string): Promise<void> => {
    if (early.delete(signalId)) return Promise.resolve();
    return new Promise((resolve) => waiting.set(signalId, resolve));
  };

  /**
   * One alert, unique by its `id`, the same body whichever server answers; the clock runs from
   * just before fetch to the answer's body read.
   */
  const sendAlert = async (url: string, timeoutMs?: number): Promise<string | undefined> => {
    const body = JSON.stringify({
      ticker: setup.symbol,
      action: 'buy',
      quantity: 1,
      price: '100',
      id: `bench-${setup.runId}-${sequence++}`,
    });
    const startedAt = now();
    const fail = (status: number, text: string) => {
      port.postMessage({ type: 'failed', status, body: text.slice(0, 200), startedAt } satisfies FromClient);
      return undefined;
    };
    let status: number;
    let text: string;
    try {
      const response = await fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'text/plain; charset=utf-8' },
        body,
        ...(timeoutMs === undefined ? {} : { signal: AbortSignal.timeout(timeoutMs) }),
      });
      status = response.status;
      text = await response.text();
    } catch (error) {
      // fetch reports a refused or reset connection as a TypeError whose cause has the code.
      const { name, message, cause } = error as Error & { cause?: { code?: unknown } };
      const code = typeof cause?.code === 'string' ? cause.code : name;
      return fail(0, `${code}: ${message}`);
    }
    const ackMs = now() - startedAt;
    let signalId: unknown;
    try {
      signalId = status === 202 ? (JSON.parse(text) as { signalId?: unknown }).signalId : undefined;
    } catch {
      signalId = undefined;
    }
    if (typeof signalId !== 'string') return fail(status, text);
    port.postMessage({ type: 'sent', signalId, startedAt, ackMs } satisfies FromClient);
    return signalId;
  };

  const runClosed = async (message: Extract<ToClient, { type: 'phase' }>) => {
    let next = 0;
    await Promise.all(
      Array.from({ length: message.clients }, async () => {
        while (next < message.total && now() < message.deadline) {
          next++;
          const signalId = await sendAlert(message.url);
          if (signalId !== undefined && message.awaitSettle) await settledSignal(signalId);
        }
      }),
    );
    port.postMessage({ type: 'done', phase: message.phase } satisfies FromClient);
  };

  const runOpen = async (message: Extract<ToClient, { type: 'open' }>) => {
    const interval = 1000 / message.rate;
    const started = now();
    let maxLagMs = 0;
    const answers: Promise<unknown>[] = [];
    for (let i = 0; i < message.total; i++) {
      // Due times come from the start, not from the previous send: a late tick does not push the
      // rest of the schedule back.
      const due = started + i * interval;
      const wait = due - now();
      if (wait > 0) await sleep(wait);
      maxLagMs = Math.max(maxLagMs, now() - due);
      answers.push(sendAlert(message.url, message.timeoutMs));
    }
    const lastSendAt = now();
    await Promise.all(answers);
    port.postMessage({ type: 'done', phase: message.phase, lastSendAt, maxLagMs } satisfies FromClient);
  };

  port.on('message', (message: ToClient) => {
    if (message.type === 'settled') {
      const resolve = waiting.get(message.signalId);
      if (resolve) {
        waiting.delete(message.signalId);
        resolve();
      } else early.add(message.signalId);
    } else if (message.type === 'phase') void runClosed(message);
    else void runOpen(message);
  });
}
