/**
 * The benchmark's load generator, run in a worker thread so that the clients' own work (fetch,
 * reading answers) does not share the event loop with the bot it measures — as TradingView is
 * not in the bot's process either. Times are epoch milliseconds (performance.timeOrigin + now()),
 * comparable across threads.
 */
import { parentPort, workerData } from 'node:worker_threads';

export interface ClientSetup {
  webhookUrl: string;
  symbol: string;
  runId: string;
}

/** main → worker */
export type ToClient =
  /** Run `total` alerts across `clients` clients, starting none after `deadline` (epoch ms). */
  | { type: 'phase'; phase: string; clients: number; total: number; deadline: number }
  /** The signal's workflow settled (or timed out): the client that sent it may send its next alert. */
  | { type: 'settled'; signalId: string };

/** worker → main */
export type FromClient =
  | { type: 'sent'; signalId: string; startedAt: number; ackMs: number }
  | { type: 'failed'; status: number; body: string }
  | { type: 'done'; phase: string };

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

  /** One alert, unique by its `id`; the clock runs from just before fetch to the answer's body read. */
  const sendAlert = async (): Promise<string | undefined> => {
    const body = JSON.stringify({
      ticker: setup.symbol,
      action: 'buy',
      quantity: 1,
      price: '100',
      id: `bench-${setup.runId}-${sequence++}`,
    });
    const startedAt = now();
    const response = await fetch(setup.webhookUrl, {
      method: 'POST',
      headers: { 'content-type': 'text/plain; charset=utf-8' },
      body,
    });
    const text = await response.text();
    const ackMs = now() - startedAt;
    const signalId =
      response.status === 202 ? (JSON.parse(text) as { signalId?: unknown }).signalId : undefined;
    if (typeof signalId !== 'string') {
      port.postMessage({
        type: 'failed',
        status: response.status,
        body: text.slice(0, 200),
      } satisfies FromClient);
      return undefined;
    }
    port.postMessage({ type: 'sent', signalId, startedAt, ackMs } satisfies FromClient);
    return signalId;
  };

  /** `clients` loops share `total` alerts; each sends its next alert once its last one settled. */
  const runPhase = async (phase: string, clients: number, total: number, deadline: number) => {
    let next = 0;
    await Promise.all(
      Array.from({ length: clients }, async () => {
        while (next < total && now() < deadline) {
          next++;
          const signalId = await sendAlert();
          if (signalId !== undefined) await settledSignal(signalId);
        }
      }),
    );
    port.postMessage({ type: 'done', phase } satisfies FromClient);
  };

  port.on('message', (message: ToClient) => {
    if (message.type === 'settled') {
      const resolve = waiting.get(message.signalId);
      if (resolve) {
        waiting.delete(message.signalId);
        resolve();
      } else early.add(message.signalId);
    } else void runPhase(message.phase, message.clients, message.total, message.deadline);
  });
}
