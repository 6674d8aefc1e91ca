import type { ConfigInput } from '../shared/config/schema.js';

/**
 * The happy path at benchmark rates: cash, limits and API throttling opened wide so no alert is
 * throttled or denied, and the figures measure the path an approved alert takes. The order-rate
 * limits are at the highest the config allows (2,000 a minute, about 33 alerts/s sustained), above
 * any rate the open-loop steps have reached here, so a step fails on the bot's capacity, not on the
 * limit; the checks still run.
 */
export const BENCH_CONFIG: ConfigInput = {
  paper: { startingCash: '1000000000' },
  risk: {
    // Every alert buys AAPL: each adds to the position.
    pyramiding: true,
    maxPositionQuantity: 1e9,
    maxPositionNotional: '1000000000000',
    maxGrossExposure: '1000000000000',
    maxOrderNotional: '1000000000',
    duplicateWindowSeconds: 0,
    maxOrdersPerMinute: 2_000,
    maxOrdersPerMinutePerSymbol: 2_000,
  },
  api: { throttle: { rateLimit: 100_000, burstLimit: 100_000 } },
};

/**
 * Sends a local bot the `i`-th of a run of one-share AAPL alerts that alternate buy and sell (so
 * the position never grows), with the idempotency id `id`; the accepted signal's id.
 */
export async function sendAlternatingAlert(
  botUrl: string,
  secret: string,
  i: number,
  id: string,
): Promise<string> {
  const answer = await fetch(`${botUrl}/webhook/${secret}`, {
    method: 'POST',
    body: JSON.stringify({
      ticker: 'AAPL',
      action: i % 2 === 0 ? 'buy' : 'sell',
      quantity: 1,
      price: '100',
      id,
    }),
  });
  return ((await answer.json()) as { signalId: string }).signalId;
}
