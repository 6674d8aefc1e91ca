import type { ConfigInput } from '../shared/config/schema.js';

/**
 * The happy path at benchmark rates: cash, limits and API throttling opened wide so no alert is
 * throttled or denied, and the figures measure the path an approved alert takes. The order-rate
 * limits sit far above any rate the open-loop steps reach (their last minute can hold over a
 * thousand orders), so a step fails on the bot's capacity, never on the limit; the checks still run.
 */
export const BENCH_CONFIG: ConfigInput = {
  paper: { startingCash: '1000000000' },
  risk: {
    maxPositionQuantity: 1e9,
    maxPositionNotional: '1000000000000',
    maxGrossExposure: '1000000000000',
    maxOrderNotional: '1000000000',
    duplicateWindowSeconds: 0,
    maxOrdersPerMinute: 100_000,
    maxOrdersPerMinutePerSymbol: 100_000,
  },
  api: { throttle: { rateLimit: 100_000, burstLimit: 100_000 } },
};
