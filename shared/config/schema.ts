import * as z from 'zod';
import { MAX_DELAY_SECONDS } from '../domain/alert.js';
import { CHOOSABLE_NOTICE_KINDS, SEVERITIES } from '../domain/notification.js';
import type { Stage } from './names.js';

/** A non-negative decimal amount written as a string, e.g. "100000" or "0.35". Money stays exact. */
const DecimalString = z
  .string()
  .regex(/^\d+(\.\d+)?$/, 'must be a non-negative decimal written as a string, e.g. "100000.00"');

const Ticker = z
  .string()
  .regex(/^[A-Z0-9.:/-]{1,20}$/, 'must be an upper-case ticker such as "AAPL" or "BTCUSD"');

/**
 * The highest order-rate limit: the approval memory (every order of the last minute, in the account
 * item each approval rewrites) must fit DynamoDB's 400 KB item, with room to spare.
 */
export const MAX_ORDERS_PER_MINUTE = 2_000;
const ORDER_RATE_CEILING = `at most ${MAX_ORDERS_PER_MINUTE} orders a minute: the approval memory must fit one DynamoDB item (brokers allow far fewer: Alpaca 200 requests a minute)`;

/** An IPv4 address or CIDR range, e.g. "52.89.214.238" or "52.89.214.0/24". */
const Ipv4Cidr = z
  .string()
  .regex(
    /^(25[0-5]|2[0-4]\d|1?\d?\d)(\.(25[0-5]|2[0-4]\d|1?\d?\d)){3}(\/(3[0-2]|[12]?\d))?$/,
    'must be an IPv4 address or CIDR range such as "52.89.214.238" or "52.89.214.0/24"',
  );

/**
 * The addresses TradingView sends webhooks from (tradingview.com/support/solutions/43000529348;
 * IPv4 only: TradingView does not send webhooks over IPv6).
 */
export const TRADINGVIEW_WEBHOOK_ADDRESSES = [
  '52.89.214.238',
  '34.212.75.30',
  '54.218.53.128',
  '52.32.178.7',
] as const;

/** The local bot's databases (DESIGN: local mode). */
export const LOCAL_STORES = ['sqlite', 'dynamodb-local'] as const;
/** SQLite's `synchronous` levels Pinebridge offers (shared/adapters/sqlite/database.ts). */
export const SQLITE_SYNCHRONOUS = ['normal', 'full'] as const;

/**
 * What one notification channel is told. The channel itself is on when its credentials are in the
 * environment (.env locally, the notifications secret in AWS): these only choose what it gets.
 */
const channelSettings = (which: string) =>
  z
    .object({
      events: z
        .union([z.literal('all'), z.array(z.enum(CHOOSABLE_NOTICE_KINDS)).min(1)])
        .default('all')
        .describe(`Which notices go to ${which}: "all", or a list of ${CHOOSABLE_NOTICE_KINDS.join(', ')}.`),
      minSeverity: z
        .enum(SEVERITIES)
        .default('info')
        .describe('Only notices at least this severe (info < warning < critical).'),
      quiet: z
        .boolean()
        .default(false)
        .describe('Quiet mode: only critical notices (halts, unknown orders, failures).'),
    })
    .strict()
    .prefault({})
    .describe(`Notifications to ${which}.`);
export type ChannelSettings = z.infer<ReturnType<typeof channelSettings>>;

export const ConfigSchema = z
  .object({
    $schema: z.string().optional(),
    broker: z
      .enum(['paper', 'alpaca'])
      .optional()
      .describe(
        'Which broker executes orders: "paper" is the built-in simulated broker, "alpaca" is Alpaca in alpaca.mode. Left out: locally Alpaca paper when APCA_API_KEY_ID and APCA_API_SECRET_KEY are set, else the built-in paper broker; in AWS the built-in paper broker.',
      ),
    alpaca: z
      .object({
        mode: z
          .enum(['paper', 'live'])
          .default('paper')
          .describe(
            'Alpaca paper or live trading. The keys must belong to an account of this mode: a self-check refuses to trade otherwise.',
          ),
        requestsPerMinute: z
          .number()
          .int()
          .min(1)
          .max(1000)
          .default(200)
          .describe('Client-side limit on requests to Alpaca per key (Alpaca allows about 200 a minute).'),
        requestTimeoutMs: z
          .number()
          .int()
          .min(100)
          .max(10_000)
          .default(3_000)
          .describe('Deadline of each request to Alpaca.'),
        submitBudgetMs: z
          .number()
          .int()
          .min(500)
          .max(10_000)
          .default(8_000)
          .describe(
            "How long one order submission may keep trying (backing off a 429, resolving a lost answer) before the order ends expired or unknown; inside the SubmitOrder function's 12 s.",
          ),
      })
      .strict()
      .prefault({}),
    paper: z
      .object({
        startingCash: DecimalString.default('100000').describe('Cash the paper account starts with, in USD.'),
        slippageBps: z
          .number()
          .min(0)
          .max(1000)
          .default(0)
          .describe('Adverse slippage applied to market fills, in basis points.'),
        commissionPerOrder: DecimalString.default('0').describe('Flat commission charged per fill, in USD.'),
      })
      .strict()
      .prefault({}),
    symbols: z
      .object({
        allowed: z
          .array(Ticker)
          .min(1)
          .max(90, 'at most 90 symbols: the risk check reads every position in one consistent read')
          .default(['SPY', 'QQQ', 'AAPL', 'MSFT', 'GOOG', 'AMZN', 'NVDA', 'META', 'TSLA'])
          .describe('Symbols Pinebridge may trade. Anything else is rejected with SYMBOL_NOT_ALLOWED.'),
        quantityDecimals: z
          .number()
          .int()
          .min(0)
          .max(9)
          .default(0)
          .describe(
            'Decimal places an order quantity may have (0 = whole shares; up to 9 for fractional trading).',
          ),
      })
      .strict()
      .prefault({}),
    risk: z
      .object({
        maxPositionQuantity: z
          .number()
          .positive()
          .default(1000)
          .describe('Largest absolute position per symbol, in shares/units, counting orders in flight.'),
        maxPositionNotional: DecimalString.default('25000').describe(
          'Largest absolute position per symbol, in USD at the order price, counting orders in flight.',
        ),
        allowShort: z
          .boolean()
          .default(false)
          .describe(
            'Allow sells that open or extend a short position. Off: such sells are denied SHORT_NOT_ALLOWED.',
          ),
        pyramiding: z
          .boolean()
          .default(false)
          .describe(
            'Let a buy add to a long position (a sell to a short one). Off: such an alert is denied ALREADY_IN_POSITION, as TradersPost does unless "Allow add to position" is on; the add action adds either way.',
          ),
        defaultQuantity: DecimalString.default('1').describe(
          'How much an entry alert without a quantity buys or sells, in risk.defaultQuantityType (TradersPost defaults to 1 share). An exit without a quantity closes the whole position.',
        ),
        defaultQuantityType: z
          .enum(['fixed_quantity', 'dollar_amount', 'percent_of_equity'])
          .default('fixed_quantity')
          .describe('What risk.defaultQuantity counts: shares, dollars, or percent of equity.'),
        buyingPowerCheck: z
          .boolean()
          .default(true)
          .describe(
            'Deny orders whose opening notional exceeds cash not already reserved by orders in flight.',
          ),
        maxPriceAgeSeconds: z
          .number()
          .int()
          .positive()
          .default(300)
          .describe('How old the last known price may be when an alert carries no price of its own.'),
        maxOrderNotional: DecimalString.default('10000').describe(
          'Largest opening notional of one order, in USD (fat-finger guard). Closing orders are never limited by size.',
        ),
        maxGrossExposure: DecimalString.default('100000').describe(
          'Largest gross exposure (sum of |position| × price over all symbols, counting orders in flight), in USD.',
        ),
        maxGrossExposurePercent: z
          .number()
          .positive()
          .max(1000)
          .default(100)
          .describe('Largest gross exposure as a percentage of equity (100 = no leverage).'),
        maxOpenPositions: z
          .number()
          .int()
          .positive()
          .default(10)
          .describe('Most symbols with a position (or an order in flight) at once.'),
        marketHours: z
          .enum(['any', 'regular', 'extended'])
          .default('any')
          .describe(
            'When orders may open or close positions (NYSE calendar, America/New_York): "regular" 09:30–16:00 (13:00 on early closes); "extended" also 04:00–09:30 and after the close until 20:00 for alerts with extendedHours true; "any" does not check (paper trading around the clock).',
          ),
        duplicateWindowSeconds: z
          .number()
          .int()
          .min(0)
          .max(3600)
          .default(10)
          .describe(
            "Deny an order on the same symbol and side as another signal's order approved this many seconds ago (0 = off).",
          ),
        maxOrdersPerMinute: z
          .number()
          .int()
          .positive()
          .max(MAX_ORDERS_PER_MINUTE, ORDER_RATE_CEILING)
          .default(30)
          .describe(
            `Most orders approved in any 60 s, over all symbols (runaway-strategy guard). At most ${MAX_ORDERS_PER_MINUTE}: ten times Alpaca's 200 requests a minute, and what keeps the approval memory inside one DynamoDB item.`,
          ),
        maxOrdersPerMinutePerSymbol: z
          .number()
          .int()
          .positive()
          .max(MAX_ORDERS_PER_MINUTE, ORDER_RATE_CEILING)
          .default(6)
          .describe('Most orders approved in any 60 s for one symbol.'),
        maxSignalAgeSeconds: z
          .number()
          .int()
          .positive()
          .default(90)
          .describe(
            'An alert whose "time" is older than this is denied STALE_SIGNAL. 90 s covers a TradingView delivery delayed at peak load (tens of seconds), its three re-sends 5 s apart, and clock skew (docs/RISK.md).',
          ),
        maxQueueSeconds: z
          .number()
          .int()
          .positive()
          .default(120)
          .describe(
            'A signal not decided this long after Pinebridge received it (a backlog, a replay from the dead-letter queue, a republish by the reconciler) is denied STALE_SIGNAL, whether or not the alert carries a "time".',
          ),
        maxFutureSkewSeconds: z
          .number()
          .int()
          .min(0)
          .default(5)
          .describe('An alert whose "time" is further than this in the future is denied STALE_SIGNAL.'),
        priceCollarPercent: z
          .number()
          .min(0)
          .max(100)
          .default(10)
          .describe(
            "Deny a limit or stop price further than this percentage from the market price (the alert's price, else a fresh last price) with PRICE_COLLAR (0 = off).",
          ),
        maxDailyLoss: DecimalString.default('3000').describe(
          'Session loss (realized + unrealized since the session began, America/New_York) at which opening orders are denied DAILY_LOSS_LIMIT and the breaker trips to REDUCING until the next session ("0" = off).',
        ),
        maxDailyLossPercent: z
          .number()
          .min(0)
          .max(100)
          .default(3)
          .describe(
            'The same limit as a percentage of the equity the session began with; the smaller of the two applies (0 = off).',
          ),
        maxDrawdownPercent: z
          .number()
          .min(0)
          .max(100)
          .default(10)
          .describe(
            'Fall of equity from its high-water mark, in percent, at which opening orders are denied MAX_DRAWDOWN and the breaker trips to HALTED (0 = off).',
          ),
        drawdownCooldownHours: z
          .number()
          .min(0)
          .max(24 * 365)
          .default(24)
          .describe(
            'Hours after a drawdown trip until trading resumes by itself, measured from the high-water mark reset to the equity of that moment (0 = manual reset only).',
          ),
        lossStreak: z
          .object({
            count: z
              .number()
              .int()
              .min(0)
              .default(4)
              .describe('Consecutive losing closes that trip the breaker to REDUCING (0 = off).'),
            windowMinutes: z
              .number()
              .int()
              .positive()
              .default(240)
              .describe('The losing closes must all fall within this many minutes.'),
            cooldownMinutes: z
              .number()
              .int()
              .positive()
              .default(60)
              .describe('Minutes the breaker stays REDUCING before it resets by itself.'),
          })
          .strict()
          .prefault({})
          .describe('Consecutive-loss guard (a stop-loss for the strategy itself).'),
        maxConsecutiveFailures: z
          .number()
          .int()
          .min(0)
          .default(3)
          .describe(
            'Consecutive failed signals (broker errors, orders of unknown fate) that trip the breaker to HALTED until a manual reset (0 = off).',
          ),
        dayTrades: z
          .object({
            enabled: z
              .boolean()
              .default(true)
              .describe(
                "Apply the legacy FINRA pattern-day-trader limit. Turn off once your broker applies FINRA's intraday margin standard instead (see docs/RISK.md).",
              ),
            maxDayTrades: z
              .number()
              .int()
              .min(0)
              .default(3)
              .describe(
                'Most day trades in any window of `windowDays` business days while equity is below minEquity.',
              ),
            windowDays: z
              .number()
              .int()
              .positive()
              .default(5)
              .describe('The rolling window, in NYSE business days (today included).'),
            minEquity: DecimalString.default('25000').describe(
              'At or above this equity at the start of the session the limiter does not apply, in USD.',
            ),
          })
          .strict()
          .prefault({})
          .describe('Day-trade limiter (FINRA Rule 4210 pattern-day-trader rule, legacy).'),
      })
      .strict()
      .prefault({}),
    notifications: z
      .object({
        telegram: channelSettings('Telegram (PINEBRIDGE_TELEGRAM_BOT_TOKEN, PINEBRIDGE_TELEGRAM_CHAT_ID)'),
        discord: channelSettings('Discord (PINEBRIDGE_DISCORD_WEBHOOK_URL)'),
        slack: channelSettings('Slack (PINEBRIDGE_SLACK_WEBHOOK_URL)'),
        webhook: channelSettings(
          'the signed JSON webhook (PINEBRIDGE_NOTIFY_WEBHOOK_URL, PINEBRIDGE_NOTIFY_WEBHOOK_SECRET)',
        ),
        email: z
          .email()
          .optional()
          .describe(
            'Subscribe this address to the alert topic (breaker trips and resets). AWS asks the address to confirm once. Leave out to subscribe by other means (SMS, chat) in the SNS console.',
          ),
      })
      .strict()
      .prefault({}),
    webhook: z
      .object({
        maxBodyBytes: z
          .number()
          .int()
          .min(256)
          .max(65536)
          .default(8192)
          .describe('Largest accepted alert body; larger bodies get 413 before parsing.'),
        dedupWindowSeconds: z
          .number()
          .int()
          .min(30)
          .default(300)
          .describe('How long an identical alert body without an "id" counts as a re-delivery.'),
        alertIdRetentionDays: z
          .number()
          .int()
          .min(1)
          .default(30)
          .describe('How long an alert "id" is remembered for deduplication.'),
        provisionedConcurrency: z
          .number()
          .int()
          .min(0)
          .max(5)
          .default(0)
          .describe(
            "AWS only: webhook instances kept initialized (Lambda provisioned concurrency), so no alert meets a cold start inside TradingView's 3 s. 1 is enough for a few alerts a second; each costs about $4.40 a month at 512 MB on arm64, us-east-1 (docs/DEPLOYMENT.md). 0 = off.",
          ),
      })
      .strict()
      .prefault({}),
    api: z
      .object({
        throttle: z
          .object({
            rateLimit: z
              .number()
              .positive()
              .default(10)
              .describe('Steady requests per second (API stage throttling).'),
            burstLimit: z
              .number()
              .int()
              .positive()
              .default(20)
              .describe('Burst size (API stage throttling).'),
          })
          .strict()
          .prefault({}),
        allowList: z
          .object({
            enabled: z
              .boolean()
              .optional()
              .describe(
                'AWS only: an API Gateway resource policy refuses POST /webhook from any address not in `addresses` (403 before the function runs). GET /health and the dashboard stay open. Left out: on for the prod stage, off for dev. Live trading should keep it on (docs/DEPLOYMENT.md).',
              ),
            addresses: z
              .array(Ipv4Cidr)
              .min(1)
              .max(50)
              .default([...TRADINGVIEW_WEBHOOK_ADDRESSES])
              .describe(
                "Source addresses allowed to call the webhook. Default: TradingView's four webhook addresses. Add your own address to send test alerts from your machine.",
              ),
          })
          .strict()
          .prefault({})
          .describe('Source-address allow-list for the webhook.'),
        waf: z
          .object({
            enabled: z
              .boolean()
              .default(false)
              .describe(
                'AWS only: an AWS WAF web ACL in front of the API (about $8 a month: $5 for the web ACL, $1 per rule, $0.60 per million requests): per-address rate-based rules (429, one for the webhook and one for the rest), a body-size rule (413) and, with the allow-list on, an IP-set rule (403).',
              ),
            rateLimit: z
              .number()
              .int()
              .min(10)
              .max(2_000_000_000)
              .default(300)
              .describe(
                'Requests to POST /webhook one source address may make in any 5 minutes; WAF answers 429 to the rest. TradingView sends all your alerts from four addresses, so allow for your busiest 5 minutes.',
              ),
            dashboardRateLimit: z
              .number()
              .int()
              .min(10)
              .max(2_000_000_000)
              .default(1000)
              .describe(
                'Requests to everything but the webhook (the dashboard, its login, /health) one source address may make in any 5 minutes; WAF answers 429 to the rest. A counter of its own, so a webhook flood from one address never uses up the dashboard’s. An open dashboard asks about 60 times in 5 minutes.',
              ),
          })
          .strict()
          .prefault({})
          .describe('Optional AWS WAF web ACL for the API.'),
      })
      .strict()
      .prefault({}),
    dashboard: z
      .object({
        enabled: z
          .boolean()
          .default(true)
          .describe(
            'AWS only: serve the web dashboard from the API (GET /, /login, /assets/*, /api/*), behind a login whose password is the Secrets Manager secret pinebridge-<stage>/dashboard. false = no dashboard routes and no dashboard function (the CLI still operates the stage). The local bot always serves it.',
          ),
      })
      .strict()
      .prefault({}),
    monitoring: z
      .object({
        healthCheck: z
          .boolean()
          .default(false)
          .describe(
            'AWS only: a Route 53 health check calls GET /health every 30 s from several regions (about $1.50 a month). Its alarm is created when the stack is in us-east-1, where Route 53 publishes its metrics.',
          ),
        authFailureThreshold: z
          .number()
          .int()
          .min(1)
          .default(5)
          .describe(
            'Webhook calls refused for a wrong or missing secret within 5 minutes that raise the alarm.',
          ),
        webhookLatencyP99Ms: z
          .number()
          .int()
          .min(100)
          .max(29_000)
          .default(2_000)
          .describe(
            "The webhook's p99 latency at API Gateway (what TradingView waits for, cold starts included) above which the alarm goes off; TradingView gives up after 3 s.",
          ),
      })
      .strict()
      .prefault({})
      .describe('Alarms and uptime checks of a deployment (CloudWatch, Route 53).'),
    local: z
      .object({
        store: z
          .enum(LOCAL_STORES)
          .default('sqlite')
          .describe(
            'The database of the local bot (npm start): "sqlite" is one file, .data/pinebridge.db, with nothing to install; "dynamodb-local" is DynamoDB Local in .data/dynamodb, the AWS write path on this machine (needs Java 17). The environment variable PINEBRIDGE_STORE overrides it.',
          ),
        synchronous: z
          .enum(SQLITE_SYNCHRONOUS)
          .default('normal')
          .describe(
            'How hard a SQLite commit waits for the disk. "normal": an acknowledged alert and every booking survive the bot being killed or crashing; a power loss or kernel crash may undo the last moments (the file stays consistent). "full": they survive a power loss too, at the cost of an fsync per commit (docs/PERFORMANCE.md).',
          ),
        retentionDays: z
          .number()
          .int()
          .min(7)
          .optional()
          .describe(
            'SQLite only: signals and final orders received more than this many days ago are exported to .data/audit/<day>.csv and then deleted, once a day. Left out: kept for ever.',
          ),
      })
      .strict()
      .prefault({})
      .describe('The local bot (npm start); a deployment ignores it.'),
    workflow: z
      .object({
        type: z.enum(['STANDARD', 'EXPRESS']).default('STANDARD').describe('Step Functions workflow type.'),
        orderPollSeconds: z
          .number()
          .int()
          .min(1)
          .max(300)
          .default(5)
          .describe('Seconds between order-status checks while an order rests at the broker.'),
        orderTimeoutSeconds: z
          .number()
          .int()
          .min(1)
          .max(86_400)
          .default(300)
          .describe('An order still open after this long is cancelled and the signal ends as cancelled.'),
      })
      .strict()
      .prefault({}),
  })
  .strict()
  .superRefine((config, ctx) => {
    // An Express workflow lives at most 5 minutes; the AwaitFill loop must end well inside it.
    if (config.workflow.type === 'EXPRESS' && config.workflow.orderTimeoutSeconds > 240) {
      ctx.addIssue({
        code: 'custom',
        path: ['workflow', 'orderTimeoutSeconds'],
        message: 'must be at most 240 with workflow.type EXPRESS (Express executions end after 5 minutes)',
      });
    }
  });

export type Config = z.infer<typeof ConfigSchema>;

/** Express executions end after 5 minutes whatever their states do. */
const EXPRESS_EXECUTION_SECONDS = 300;
/** What an execution needs besides its waits: its tasks, and a cancel at the deadline. */
const TASK_ALLOWANCE_SECONDS = 30;

/**
 * How long a signal's `delay` may be, and so how long an execution may live: the Delay wait, then
 * an order resting up to `orderTimeoutSeconds`, then the tasks. Express executions end after 5
 * minutes, so what is left of them after the order's timeout is the most a signal may wait.
 */
export function workflowLimits(workflow: Config['workflow']): {
  maxDelaySeconds: number;
  executionTimeoutSeconds: number;
} {
  if (workflow.type === 'EXPRESS')
    return {
      maxDelaySeconds: Math.max(
        0,
        EXPRESS_EXECUTION_SECONDS - TASK_ALLOWANCE_SECONDS - workflow.orderTimeoutSeconds,
      ),
      executionTimeoutSeconds: EXPRESS_EXECUTION_SECONDS,
    };
  // Standard: a day's delay, the order's timeout, and an hour for everything else.
  return {
    maxDelaySeconds: MAX_DELAY_SECONDS,
    executionTimeoutSeconds: MAX_DELAY_SECONDS + workflow.orderTimeoutSeconds + 3600,
  };
}

/**
 * What the risk engine and the circuit breaker read: the limits and the symbols, never the rest
 * of the app's config (brokers, API, workflow), so the domain depends on nothing it does not use.
 */
export type RiskConfig = Pick<Config, 'risk' | 'symbols'>;
export type ConfigInput = z.input<typeof ConfigSchema>;

/**
 * Whether a stage refuses POST /webhook from addresses outside `api.allowList.addresses`: as
 * configured, else on for `prod` (live money) and off for `dev` (test alerts from your machine).
 */
export const allowListEnabled = (config: Config, stage: Stage): boolean =>
  config.api.allowList.enabled ?? stage === 'prod';
