import type { ConfigInput } from '../shared/config/schema.js';

/**
 * The happy path at benchmark rates: cash, limits and API throttling opened wide so no alert is
 * throttled or denied, and the figures measure the path an approved alert takes.
 */
export const BENCH_CONFIG: ConfigInput = {
  paper: { startingCash: '1000000000' },
  risk: {
    maxPositionQuantity: 1e9,
    maxPositionNotional: '1000000000000',
    maxGrossExposure: '1000000000000',
    maxOrderNotional: '1000000000',
    duplicateWindowSeconds: 0,
    maxOrdersPerMinute: 1000,
    maxOrdersPerMinutePerSymbol: 1000,
  },
  api: { throttle: { rateLimit: 100_000, burstLimit: 100_000 } },
};
