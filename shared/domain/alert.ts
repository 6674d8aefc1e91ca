import * as z from 'zod';

/**
 * The alert contract (docs/ALERTS.md): TradersPost-compatible JSON plus Pinebridge extras.
 * TradingView renders placeholders into strings, so numbers and booleans may arrive as strings.
 */

const MAX_DECIMALS = 9;

/** Accepts a finite positive number or its decimal string form; yields a canonical decimal string. */
const positiveDecimal = (label: string, max: number) =>
  z.union([z.number(), z.string()]).transform((value, ctx) => {
    const text = typeof value === 'number' ? numberToPlainString(value) : value.trim();
    if (text === undefined || !/^\d+(\.\d+)?$/.test(text)) {
      ctx.addIssue({ code: 'custom', message: `${label} must be a positive number, got ${preview(value)}` });
      return z.NEVER;
    }
    const [, fraction = ''] = text.split('.');
    if (fraction.length > MAX_DECIMALS) {
      ctx.addIssue({ code: 'custom', message: `${label} has more than ${MAX_DECIMALS} decimal places` });
      return z.NEVER;
    }
    const numeric = Number(text);
    if (!(numeric > 0)) {
      ctx.addIssue({ code: 'custom', message: `${label} must be greater than zero` });
      return z.NEVER;
    }
    if (numeric > max) {
      ctx.addIssue({ code: 'custom', message: `${label} must be at most ${max}` });
      return z.NEVER;
    }
    return canonicalDecimal(text);
  });

/**
 * An ISO-8601 instant, normalized to UTC. A time without a zone would be read in the server's
 * zone, so Z or an offset is required.
 */
const isoInstant = (message: string) =>
  z
    .string()
    .trim()
    .refine(
      (t) =>
        /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})$/.test(t) &&
        !Number.isNaN(Date.parse(t)),
      message,
    )
    .transform((t) => new Date(t).toISOString());

const booleanLike = z
  .union([z.boolean(), z.enum(['true', 'false'])])
  .transform((v) => v === true || v === 'true');

const lowerEnum = <T extends readonly [string, ...string[]]>(values: T) =>
  z.preprocess((v) => (typeof v === 'string' ? v.trim().toLowerCase() : v), z.enum(values));

/**
 * TradersPost's actions, plus `reverse` (close the position and open the same size, or
 * `quantity`, the other way). `cancel` places no order: it cancels the ticker's open orders.
 */
export const ORDER_ACTIONS = ['buy', 'sell', 'exit', 'cancel', 'add', 'reverse'] as const;
export const SENTIMENTS = ['long', 'bullish', 'short', 'bearish', 'flat'] as const;
export const QUANTITY_TYPES = [
  'fixed_quantity',
  'dollar_amount',
  'percent_of_equity',
  'percent_of_position',
] as const;
/** TradersPost's sizing by risk: both need a stop-loss distance, which Pinebridge does not place yet. */
const RISK_QUANTITY_TYPES = ['risk_dollar_amount', 'risk_percent'] as const;

/**
 * Fields TradersPost documents that Pinebridge does not act on yet. Ignoring one would trade
 * differently from what the trader asked, so an alert carrying one is refused, naming it
 * (docs/ALERTS.md has the table). `false` or an empty value asks for nothing and passes.
 */
const REFUSED_FIELDS: Record<string, { message: string; code: string }> = {
  trailAmount: { message: 'trailing stops are not supported yet', code: 'invalid-trailing-stop' },
  trailPercent: { message: 'trailing stops are not supported yet', code: 'invalid-trailing-stop' },
  ignoreTradingWindows: {
    message: 'an alert cannot lift risk.marketHours; change the config instead',
    code: 'invalid-payload',
  },
  optionType: {
    message: 'options are not supported: Pinebridge trades stocks and ETFs',
    code: 'invalid-asset-class',
  },
  intrinsicValue: {
    message: 'options are not supported: Pinebridge trades stocks and ETFs',
    code: 'invalid-asset-class',
  },
  expiration: {
    message: 'options are not supported: Pinebridge trades stocks and ETFs',
    code: 'invalid-asset-class',
  },
  strikeCount: {
    message: 'options are not supported: Pinebridge trades stocks and ETFs',
    code: 'invalid-asset-class',
  },
  strikesAway: {
    message: 'options are not supported: Pinebridge trades stocks and ETFs',
    code: 'invalid-asset-class',
  },
  strikePrice: {
    message: 'options are not supported: Pinebridge trades stocks and ETFs',
    code: 'invalid-asset-class',
  },
};

/** Values TradersPost documents for a field that Pinebridge does not act on yet: refused, naming why. */
const REFUSED_VALUES: Record<string, Record<string, { message: string; code: string }>> = {
  orderType: {
    trailing_stop: { message: 'trailing stops are not supported yet', code: 'invalid-trailing-stop' },
  },
  action: {
    breakeven: {
      message: 'breakeven moves an open stop to the entry price, and Pinebridge does not place stops yet',
      code: 'invalid-action',
    },
  },
};

/** Whether a refused field asks for anything: `false`, `0`, `""` and `null` do not. */
const asksFor = (value: unknown) =>
  !(value === false || value === 'false' || value === null || value === '' || value === 0);

/**
 * The asset class a ticker names when it is not a stock or ETF symbol: an option (OCC or
 * TradersPost's `SPY 250624C596`), a future (`NQ1!`, `MNQU2025`, `ESZ24`) or a crypto pair
 * (`BTCUSD`, `BTC/USD`, `ETHUSDT`). Pinebridge trades stocks and ETFs only.
 */
export function assetClassOf(ticker: string): 'option' | 'future' | 'crypto' | undefined {
  if (/^[A-Z.]{1,6} ?\d{6}[CP]\d+(\.\d+)?$/.test(ticker)) return 'option';
  if (/\d!$/.test(ticker) || /^[A-Z]{1,4}[FGHJKMNQUVXZ](\d{2}|20\d{2})$/.test(ticker)) return 'future';
  if (
    /^(BTC|ETH|SOL|DOGE|LTC|XRP|ADA|AVAX|DOT|LINK|BCH|SHIB|UNI|AAVE|XLM|USDT|USDC)\/?(USD|USDT|USDC|EUR|BTC)$/.test(
      ticker,
    )
  )
    return 'crypto';
  return undefined;
}

/** Where an alert may carry the webhook secret: removed before anything is kept. */
const SECRET_FIELDS = ['secret', 'passphrase'];
export const ORDER_TYPES = ['market', 'limit', 'stop', 'stop_limit'] as const;
export const TIME_IN_FORCE = ['day', 'gtc', 'ioc', 'fok', 'opg', 'cls'] as const;

/** The longest `delay` any workflow waits (a Standard workflow; an Express one waits less). */
export const MAX_DELAY_SECONDS = 86_400;

const DELAY_UNITS: Record<string, number> = { s: 1, m: 60, h: 3600 };

/**
 * TradersPost's `delay`: seconds (`60`, `"60"`), a relative time (`"+5 minutes"`, `"90s"`,
 * `"+1 hour"`) or an absolute ISO-8601 instant. Kept as given (seconds, or the instant), so a
 * re-delivery of the same alert is the same signal; when it falls due is `dueAt`'s to say.
 */
const delaySchema = z.union([z.number(), z.string()]).transform((value, ctx): Delay => {
  const text = typeof value === 'number' ? String(value) : value.trim();
  const relative = /^\+?\s*(\d+(?:\.\d+)?)\s*(s|secs?|seconds?|m|mins?|minutes?|h|hrs?|hours?)?$/i.exec(text);
  if (relative !== null) {
    const unit = (relative[2] ?? 's').toLowerCase()[0] ?? 's';
    const seconds = Number(relative[1]) * (DELAY_UNITS[unit] ?? 1);
    if (!(seconds > 0) || seconds > MAX_DELAY_SECONDS) {
      ctx.addIssue({
        code: 'custom',
        message: `delay must be more than 0 and at most 24 hours, got ${preview(value)}`,
        params: { messageCode: 'invalid-delay' },
      });
      return z.NEVER;
    }
    return { seconds: Math.ceil(seconds) };
  }
  if (
    /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})$/.test(text) &&
    !Number.isNaN(Date.parse(text))
  )
    return { until: new Date(text).toISOString() };
  ctx.addIssue({
    code: 'custom',
    message: `delay must be seconds (60), a relative time ("+5 minutes") or an ISO-8601 time with a zone, got ${preview(value)}`,
    params: { messageCode: 'invalid-delay' },
  });
  return z.NEVER;
});

/** How long a signal waits before it is decided: seconds after it was received, or until an instant. */
export type Delay = { seconds: number } | { until: string };

const AlertSchema = z
  .object({
    ticker: z
      .string()
      .trim()
      .min(1, 'ticker is empty')
      .transform((t) => t.toUpperCase().replace(/^[A-Z0-9_]+:/, ''))
      .superRefine((t, ctx) => {
        const assetClass = assetClassOf(t);
        if (assetClass !== undefined)
          ctx.addIssue({
            code: 'custom',
            message: `${t} is ${assetClass === 'option' ? 'an option' : assetClass === 'future' ? 'a future' : 'a crypto pair'}: Pinebridge trades stocks and ETFs only`,
            params: { messageCode: 'invalid-asset-class' },
          });
      })
      .pipe(z.string().regex(/^[A-Z0-9./-]{1,20}$/, 'ticker must be a symbol such as "AAPL"')),
    action: lowerEnum(ORDER_ACTIONS),
    sentiment: lowerEnum(SENTIMENTS).optional(),
    quantity: positiveDecimal('quantity', 1e9).optional(),
    quantityType: lowerEnum([...QUANTITY_TYPES, ...RISK_QUANTITY_TYPES] as const).optional(),
    orderType: lowerEnum(ORDER_TYPES).default('market'),
    limitPrice: positiveDecimal('limitPrice', 1e7).optional(),
    stopPrice: positiveDecimal('stopPrice', 1e7).optional(),
    price: positiveDecimal('price', 1e7).optional(),
    signalPrice: positiveDecimal('signalPrice', 1e7).optional(),
    timeInForce: lowerEnum(TIME_IN_FORCE).default('day'),
    extendedHours: booleanLike.default(false),
    takeProfit: z.unknown().optional(),
    stopLoss: z.unknown().optional(),
    /** The chart's timeframe (`{{interval}}`): kept for the record, as TradersPost keeps it for support. */
    interval: z.string().trim().max(16).optional(),
    /** Free-form metadata, kept on the signal record. */
    extras: z.record(z.string(), z.unknown()).optional(),
    /** A test alert: recorded and decided like any other, never traded (TEST_SIGNAL). */
    test: booleanLike.optional(),
    /** A signal not decided by this time is refused (SIGNAL_EXPIRED). */
    expiresAt: isoInstant('expiresAt must be an ISO-8601 timestamp with a zone').optional(),
    /** Cancel the ticker's open orders first (with action `cancel`: only that). */
    cancel: booleanLike.optional(),
    /** Which of the ticker's open orders a cancel cancels, by order type (default: all). */
    cancelOrderType: lowerEnum(ORDER_TYPES).optional(),
    /** Decide (and trade) this long after the alert arrives. */
    delay: delaySchema.optional(),
    id: z.union([z.string().trim().min(1).max(128), z.number().transform(String)]).optional(),
    time: isoInstant(
      'time must be an ISO-8601 timestamp with a zone, such as {{timenow}} (2026-11-25T14:30:00Z)',
    ).optional(),
    strategy: z.string().trim().min(1).max(64).optional(),
    prev_market_position: lowerEnum(['long', 'short', 'flat'] as const).optional(),
    comment: z.string().max(256).optional(),
    secret: z.unknown().optional(),
    passphrase: z.unknown().optional(),
  })
  .superRefine((a, ctx) => {
    // TradersPost: "sending "action": "exit" and "sentiment": "flat" will produce an error since only
    // the "action": "exit" is needed".
    if (a.action === 'exit' && a.sentiment !== undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['sentiment'],
        message: 'sentiment and action "exit" together: an exit needs no sentiment; send one or the other',
        params: { messageCode: 'invalid-sentiment-action' },
      });
    }
    if (a.quantityType === 'risk_dollar_amount' || a.quantityType === 'risk_percent') {
      ctx.addIssue({
        code: 'custom',
        path: ['quantityType'],
        message: `${a.quantityType} sizes by the distance to a stop loss, and Pinebridge does not place stop losses yet: send a quantity as fixed_quantity, dollar_amount or percent_of_equity`,
        params: { messageCode: 'invalid-risk-dollar-amount-action' },
      });
    }
    if (a.quantityType !== undefined && a.quantity === undefined && a.quantityType !== 'fixed_quantity') {
      ctx.addIssue({
        code: 'custom',
        path: ['quantity'],
        message: `quantityType ${a.quantityType} needs a quantity`,
        params: { messageCode: 'quantity-type-requires-quantity' },
      });
    }
    if (
      (a.quantityType === 'percent_of_equity' || a.quantityType === 'percent_of_position') &&
      a.quantity !== undefined
    ) {
      if (Number(a.quantity) > 100) {
        ctx.addIssue({
          code: 'custom',
          path: ['quantity'],
          message: `quantity is a percentage here and must be at most 100`,
        });
      }
    }
    if (a.cancelOrderType !== undefined && a.action !== 'cancel' && a.cancel !== true) {
      ctx.addIssue({
        code: 'custom',
        path: ['cancelOrderType'],
        message:
          'cancelOrderType chooses which orders a cancel cancels: send it with action "cancel" or "cancel": true',
      });
    }
    // Fail closed: a trader who sends bracket legs expects them to protect the position. Until
    // Pinebridge places them, refuse the alert rather than trade without the protection.
    for (const key of ['takeProfit', 'stopLoss'] as const) {
      if (a[key] !== undefined) {
        ctx.addIssue({
          code: 'custom',
          path: [key],
          message: `${key} is not supported yet; remove it from the alert`,
        });
      }
    }
  });

/** A validated, normalized alert with the secret removed: what Pinebridge records and trades. */
export const SignalSchema = z.object({
  symbol: z.string(),
  action: z.enum(ORDER_ACTIONS),
  sentiment: z.enum(SENTIMENTS).optional(),
  quantity: z.string().optional(),
  quantityType: z.enum(QUANTITY_TYPES),
  orderType: z.enum(ORDER_TYPES),
  limitPrice: z.string().optional(),
  stopPrice: z.string().optional(),
  price: z.string().optional(),
  timeInForce: z.enum(TIME_IN_FORCE),
  extendedHours: z.boolean(),
  alertId: z.string().optional(),
  time: z.string().optional(),
  strategy: z.string().optional(),
  prevMarketPosition: z.enum(['long', 'short', 'flat']).optional(),
  comment: z.string().optional(),
  /** Set on a reversal's second leg: the signal whose closing order it follows. */
  followsSignalId: z.string().optional(),
  interval: z.string().optional(),
  extras: z.record(z.string(), z.unknown()).optional(),
  test: z.boolean().optional(),
  expiresAt: z.string().optional(),
  /** Cancel the ticker's open orders (those of earlier signals) before anything else. */
  cancel: z.boolean().optional(),
  cancelOrderType: z.enum(ORDER_TYPES).optional(),
  delay: z.union([z.object({ seconds: z.number() }), z.object({ until: z.string() })]).optional(),
  /** Fields the alert carried that the contract does not know: accepted, not acted on. */
  ignored: z.array(z.string()).optional(),
});
export type Signal = z.infer<typeof SignalSchema>;

export type AlertParseResult =
  | { ok: true; signal: Signal; bodySecret: string | undefined }
  | {
      ok: false;
      status: 400;
      error: string;
      fields: string[];
      /** TradersPost's code for the first problem (its webhook reference), for users searching its docs. */
      messageCode: string;
    };

/** TradersPost's message code for a problem with a field, where it has one. */
const FIELD_CODES: Record<string, string> = {
  ticker: 'unsupported-ticker',
  action: 'invalid-action',
  sentiment: 'invalid-sentiment',
  orderType: 'invalid-order-type',
  quantityType: 'invalid-quantity-type',
  quantity: 'invalid-quantity',
  timeInForce: 'invalid-time-in-force',
  extendedHours: 'invalid-extended-hours',
  expiresAt: 'invalid-expires-at',
  delay: 'invalid-delay',
  takeProfit: 'invalid-take-profit-value-required',
  stopLoss: 'invalid-stop-loss-value-required',
};

/** Parses TradingView's raw body: JSON whatever the content type; BOM, trailing newline or CRLF ignored. */
export function parseAlertJson(rawBody: string): { ok: true; value: unknown } | { ok: false; error: string } {
  const text = rawBody.replace(/^\uFEFF/, '').trim();
  if (text.length === 0) return { ok: false, error: 'body is empty; the alert message must be JSON' };
  if (!text.startsWith('{'))
    return { ok: false, error: 'body is not a JSON object; the alert message must be JSON' };
  try {
    const value: unknown = JSON.parse(text);
    return { ok: true, value };
  } catch (error) {
    // JSON.parse messages can quote the input; report only where it broke, never the body.
    const position = /position (\d+)/.exec((error as Error).message)?.[1];
    const where =
      position !== undefined ? ` near character ${Number(position) + 1}` : ' (truncated or malformed)';
    return { ok: false, error: `body is not valid JSON${where}` };
  }
}

/** Extracts the body secret (secret or passphrase) without validating anything else. */
export function bodySecretOf(value: unknown): unknown {
  if (value === null || typeof value !== 'object') return undefined;
  const record = value as Record<string, unknown>;
  return record.secret ?? record.passphrase;
}

/** Validates a parsed alert against the contract and normalizes it into a Signal. */
export function validateAlert(value: unknown): AlertParseResult {
  const placeholders = findPlaceholders(value);
  if (placeholders.length > 0) {
    return {
      ok: false,
      status: 400,
      error: `unrendered TradingView placeholder in ${placeholders.join(', ')}`,
      fields: placeholders,
      messageCode: 'invalid-payload',
    };
  }
  const refused = refusedFields(value);
  if (refused.length > 0) {
    return {
      ok: false,
      status: 400,
      error: refused.map((r) => `${r.field}: ${r.message}`).join('; '),
      fields: refused.map((r) => r.field),
      messageCode: refused[0]?.code ?? 'invalid-payload',
    };
  }
  const result = AlertSchema.safeParse(value);
  if (!result.success) {
    const fields = [
      ...new Set(result.error.issues.map((i) => (i.path.length > 0 ? i.path.join('.') : 'body'))),
    ];
    const messages = result.error.issues.map((i) => {
      const field = i.path.length > 0 ? i.path.join('.') : 'body';
      return `${field}: ${i.message}`;
    });
    const [first] = result.error.issues;
    const explicit = (first as { params?: { messageCode?: string } } | undefined)?.params?.messageCode;
    const messageCode = explicit ?? FIELD_CODES[String(first?.path[0] ?? '')] ?? 'invalid-payload';
    return { ok: false, status: 400, error: messages.join('; '), fields, messageCode };
  }
  const a = result.data;
  const known = new Set([
    ...Object.keys(AlertSchema.shape),
    ...SECRET_FIELDS,
    ...Object.keys(REFUSED_FIELDS),
  ]);
  const ignored = Object.keys(value as Record<string, unknown>).filter((key) => !known.has(key));
  const signal: Signal = stripUndefined({
    symbol: a.ticker,
    action: a.action,
    sentiment: a.sentiment,
    quantity: a.quantity,
    // Validation refused the risk-based types above.
    quantityType: (a.quantityType ?? 'fixed_quantity') as Signal['quantityType'],
    orderType: a.orderType,
    limitPrice: a.limitPrice,
    stopPrice: a.stopPrice,
    price: a.price ?? a.signalPrice,
    timeInForce: a.timeInForce,
    extendedHours: a.extendedHours,
    alertId: a.id,
    time: a.time,
    strategy: a.strategy,
    prevMarketPosition: a.prev_market_position,
    comment: a.comment,
    interval: a.interval,
    extras: a.extras,
    test: a.test,
    expiresAt: a.expiresAt,
    // `cancel` is kept only when it asks for something (an action `cancel` always does).
    cancel: a.action === 'cancel' || a.cancel === true ? true : undefined,
    cancelOrderType: a.cancelOrderType,
    delay: a.delay,
    ignored: ignored.length > 0 ? ignored : undefined,
  });
  const secret = bodySecretOf(value);
  return { ok: true, signal, bodySecret: typeof secret === 'string' ? secret : undefined };
}

/** Whether a signal cancels the ticker's open orders (the `cancel` action, or `"cancel": true`). */
export const wantsCancel = (signal: Signal): boolean => signal.cancel === true || signal.action === 'cancel';

/**
 * When a signal received at `receivedAt` falls due: at once, or after its `delay`. An absolute
 * delay already past is due on receipt.
 */
export function dueAt(signal: Signal, receivedAt: string): string {
  const { delay } = signal;
  if (delay === undefined) return receivedAt;
  const due = 'seconds' in delay ? Date.parse(receivedAt) + delay.seconds * 1000 : Date.parse(delay.until);
  return due > Date.parse(receivedAt) ? new Date(due).toISOString() : receivedAt;
}

/** The fields TradersPost documents that Pinebridge does not act on yet, present and asking for something. */
function refusedFields(value: unknown): { field: string; message: string; code: string }[] {
  if (value === null || typeof value !== 'object') return [];
  const record = value as Record<string, unknown>;
  const refused = Object.entries(REFUSED_FIELDS)
    .filter(([field]) => field in record && asksFor(record[field]))
    .map(([field, why]) => ({ field, ...why }));
  for (const [field, values] of Object.entries(REFUSED_VALUES)) {
    const value = record[field];
    const why = typeof value === 'string' ? values[value.trim().toLowerCase()] : undefined;
    if (why !== undefined) refused.push({ field, ...why });
  }
  return refused;
}

function findPlaceholders(value: unknown, path = ''): string[] {
  if (typeof value === 'string') return /\{\{.*?\}\}/.test(value) ? [path || 'body'] : [];
  if (Array.isArray(value)) return value.flatMap((v, i) => findPlaceholders(v, `${path}[${i}]`));
  if (value !== null && typeof value === 'object') {
    return Object.entries(value).flatMap(([k, v]) =>
      k === 'secret' || k === 'passphrase' ? [] : findPlaceholders(v, path ? `${path}.${k}` : k),
    );
  }
  return [];
}

function numberToPlainString(n: number): string | undefined {
  if (!Number.isFinite(n) || n <= 0) return undefined;
  const text = String(n);
  if (!/e/i.test(text)) return text;
  const fixed = n.toFixed(MAX_DECIMALS + 1);
  return fixed.includes('e') ? undefined : fixed.replace(/0+$/, '').replace(/\.$/, '');
}

function canonicalDecimal(text: string): string {
  const [whole = '0', fraction = ''] = text.split('.');
  const w = whole.replace(/^0+(?=\d)/, '');
  const f = fraction.replace(/0+$/, '');
  return f ? `${w}.${f}` : w;
}

function preview(value: unknown): string {
  const text = typeof value === 'string' ? JSON.stringify(value) : String(value);
  return text.length > 24 ? `${text.slice(0, 24)}…` : text;
}

function stripUndefined<T extends Record<string, unknown>>(record: T): T {
  return Object.fromEntries(Object.entries(record).filter(([, v]) => v !== undefined)) as T;
}
