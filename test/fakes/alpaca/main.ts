/**
 * Runs the fake Alpaca standalone on 127.0.0.1 for local development:
 *
 *   npx tsx test/fakes/alpaca/main.ts [--port 8790] [--mode paper|live] [--cash 100000]
 *                                     [--price AAPL=187.5 --price MSFT=400 ...] [--rate-limit 200]
 *
 * Point the SDK's trading and market-data Configuration `basePath` at the printed URL and use the printed
 * keys (they are fake and only valid here). Every request and every contract violation is logged.
 * Ctrl-C stops it.
 */
import { parseArgs } from 'node:util';
import { DEFAULT_KEY_ID, DEFAULT_SECRET_KEY, startFakeAlpaca } from './server.js';

const DEFAULT_PRICES = ['AAPL=187.5', 'MSFT=400', 'NVDA=140', 'TSLA=250', 'SPY=590'];

const { values } = parseArgs({
  options: {
    port: { type: 'string', default: '8790' },
    mode: { type: 'string', default: 'paper' },
    cash: { type: 'string', default: '100000' },
    price: { type: 'string', multiple: true, default: DEFAULT_PRICES },
    'rate-limit': { type: 'string', default: '200' },
  },
});

if (values.mode !== 'paper' && values.mode !== 'live')
  throw new Error(`--mode must be paper or live, got ${values.mode}`);

const prices: Record<string, string> = {};
for (const entry of values.price) {
  const [symbol, price] = entry.split('=');
  if (!symbol || !price) throw new Error(`--price takes SYMBOL=PRICE, got ${entry}`);
  prices[symbol.toUpperCase()] = price;
}

const fake = await startFakeAlpaca({
  port: Number(values.port),
  mode: values.mode,
  cash: values.cash,
  prices,
  rateLimitPerMinute: Number(values['rate-limit']),
  keyId: DEFAULT_KEY_ID,
  secretKey: DEFAULT_SECRET_KEY,
  onRequest: (r) =>
    console.log(
      `${r.method} ${r.path}${r.query ? `?${r.query}` : ''} -> ${r.status ?? r.outcome}${r.fault ? ` [${r.fault}]` : ''}`,
    ),
  onContractViolation: (v) =>
    console.warn(
      `CONTRACT VIOLATION (${v.direction}, ${v.operation ?? 'no operation'}): ${v.method} ${v.path}`,
      v.errors,
    ),
});

console.log(`fake Alpaca (${fake.mode}) listening on ${fake.url}`);
console.log(`  APCA-API-KEY-ID:     ${fake.keyId}`);
console.log(`  APCA-API-SECRET-KEY: ${fake.secretKey}`);
console.log(
  `  prices: ${Object.entries(prices)
    .map(([s, p]) => `${s}=${p}`)
    .join(' ')}`,
);
console.log(
  `  SDK: new trading.Configuration({ basePath: '${fake.url}', keyId, secret }) — same basePath for marketData`,
);

const shutdown = () => {
  void fake.stop().then(() => process.exit(0));
};
process.once('SIGINT', shutdown);
process.once('SIGTERM', shutdown);
