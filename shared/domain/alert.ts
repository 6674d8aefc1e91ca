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

const booleanLike = z
  .union([z.boolean(), z.enum(['true', 'false'])])
  .transform((v) => v === true || v === 'true');

const lowerEnum = <T extends readonly [string, ...string[]]>(values: T) =>
  z.preprocess((v) => (typeof v === 'string' ? v.trim().toLowerCase() : v), z.enum(values));

export const ORDER_ACTIONS = ['buy', 'sell', 'exit', 'cancel', 'add'] as const;
export const SENTIMENTS = ['long', 'bullish', 'short', 'bearish', 'flat'] as const;
export const QUANTITY_TYPES = [
  'fixed_quantity',
  'dollar_amount',
  'percent_of_equity',
  'percent_of_position',
] as const;
export const ORDER_TYPES = ['market', 'limit', 'stop', 'stop_limit'] as const;
export const TIME_IN_FORCE = ['day', 'gtc', 'ioc', 'fok', 'opg', 'cls'] as const;

const AlertSchema = z
  .object({
    ticker: z
      .string()
      .trim()
      .min(1)
      .transform((t) => t.toUpperCase().replace(/^[A-Z_]+:/, ''))
      .pipe(z.string().regex(/^[A-Z0-9./-]{1,20}$/, 'ticker must be a symbol such as "AAPL"')),
    action: lowerEnum(ORDER_ACTIONS),
    sentiment: lowerEnum(SENTIMENTS).optional(),
    quantity: positiveDecimal('quantity', 1e9).optional(),
    quantityType: lowerEnum(QUANTITY_TYPES).default('fixed_quantity'),
    orderType: lowerEnum(ORDER_TYPES).default('market'),
    limitPrice: positiveDecimal('limitPrice', 1e7).optional(),
    stopPrice: positiveDecimal('stopPrice', 1e7).optional(),
    price: positiveDecimal('price', 1e7).optional(),
    signalPrice: positiveDecimal('signalPrice', 1e7).optional(),
    timeInForce: lowerEnum(TIME_IN_FORCE).default('day'),
    extendedHours: booleanLike.default(false),
    takeProfit: z.unknown().optional(),
    stopLoss: z.unknown().optional(),
    id: z.union([z.string().trim().min(1).max(128), z.number().transform(String)]).optional(),
    time: z
      .string()
      .trim()
      // A time without a zone would be read in the server's zone: require Z or an offset.
      .refine(
        (t) =>
          /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})$/.test(t) &&
          !Number.isNaN(Date.parse(t)),
        'time must be an ISO-8601 timestamp with a zone, such as {{timenow}} (2026-11-25T14:30:00Z)',
      )
      .transform((t) => new Date(t).toISOString())
      .optional(),
    strategy: z.string().trim().min(1).max(64).optional(),
    prev_market_position: lowerEnum(['long', 'short', 'flat'] as const).optional(),
    comment: z.string().max(256).optional(),
    secret: z.unknown().optional(),
    passphrase: z.unknown().optional(),
  })
  .strict()
  .superRefine((a, ctx) => {
    // A sell without a quantity closes the long position (TradersPost semantics); buys must say how much.
    if ((a.action === 'buy' || a.action === 'add') && a.quantity === undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['quantity'],
        message: `quantity is required for action "${a.action}"`,
      });
    }
    if ((a.orderType === 'limit' || a.orderType === 'stop_limit') && a.limitPrice === undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['limitPrice'],
        message: `limitPrice is required for a ${a.orderType} order`,
      });
    }
    if ((a.orderType === 'stop' || a.orderType === 'stop_limit') && a.stopPrice === undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['stopPrice'],
        message: `stopPrice is required for a ${a.orderType} order`,
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
});
export type Signal = z.infer<typeof SignalSchema>;

export type AlertParseResult =
  | { ok: true; signal: Signal; bodySecret: string | undefined }
  | { ok: false; status: 400; error: string; fields: string[] };

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
    };
  }
  const result = AlertSchema.safeParse(value);
  if (!result.success) {
    const fields = [
      ...new Set(result.error.issues.map((i) => (i.path.length > 0 ? i.path.join('.') : 'body'))),
    ];
    const messages = result.error.issues.map((i) => {
      const field = i.path.length > 0 ? i.path.join('.') : 'body';
      return i.code === 'unrecognized_keys'
        ? `unknown field(s) ${i.keys.join(', ')}`
        : `${field}: ${i.message}`;
    });
    return { ok: false, status: 400, error: messages.join('; '), fields };
  }
  const a = result.data;
  const signal: Signal = stripUndefined({
    symbol: a.ticker,
    action: a.action,
    sentiment: a.sentiment,
    quantity: a.quantity,
    quantityType: a.quantityType,
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
  });
  const secret = bodySecretOf(value);
  return { ok: true, signal, bodySecret: typeof secret === 'string' ? secret : undefined };
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
