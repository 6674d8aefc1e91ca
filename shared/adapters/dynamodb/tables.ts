/**
 * The DynamoDB tables, written once: the CDK stateful stack creates them from these definitions
 * and the local runtime creates the same ones in DynamoDB Local. Keys are strings throughout.
 */
export interface TableDefinition {
  /** Short name; the deployed table is `<app>-<stage>-<id>`. */
  id: string;
  partitionKey: string;
  sortKey?: string;
  ttlAttribute?: string;
  indexes: { name: string; partitionKey: string; sortKey: string }[];
  /** Environment variable through which functions receive the table name. */
  envVar: string;
}

export const TABLES = {
  /**
   * Signals as received and decided, plus dedup markers (`dedup#…`, expiring through TTL).
   * `byUndecided` is sparse: `undecided` is set when a signal is recorded and removed by the write
   * that decides it, so the reconciler finds every stuck signal however many newer ones there are.
   */
  signals: {
    id: 'signals',
    partitionKey: 'pk',
    ttlAttribute: 'ttl',
    indexes: [
      { name: 'byDay', partitionKey: 'day', sortKey: 'receivedAt' },
      { name: 'byUndecided', partitionKey: 'undecided', sortKey: 'receivedAt' },
    ],
    envVar: 'SIGNALS_TABLE',
  },
  /**
   * Orders by client order id: the intent, the broker's view and what was booked from it.
   * `byLifecycle` lists them newest first without a scan: `lifecycle` is `open` until the write
   * that makes the order final sets it to `final` (see ORDER_LIFECYCLES in trading-store.ts).
   */
  orders: {
    id: 'orders',
    partitionKey: 'clientOrderId',
    indexes: [{ name: 'byLifecycle', partitionKey: 'lifecycle', sortKey: 'createdAt' }],
    envVar: 'ORDERS_TABLE',
  },
  /** One partition holding the whole book: account, trading state, positions, last prices. */
  portfolio: { id: 'portfolio', partitionKey: 'pk', sortKey: 'sk', indexes: [], envVar: 'PORTFOLIO_TABLE' },
  /** The built-in paper broker's own order book (the venue side). */
  paperOrders: {
    id: 'paper-orders',
    partitionKey: 'clientOrderId',
    indexes: [],
    envVar: 'PAPER_ORDERS_TABLE',
  },
} as const satisfies Record<string, TableDefinition>;

export type TableKey = keyof typeof TABLES;
export type TableNames = Record<TableKey, string>;

export const tableNamesFor = (prefix: string): TableNames => ({
  signals: `${prefix}-signals`,
  orders: `${prefix}-orders`,
  portfolio: `${prefix}-portfolio`,
  paperOrders: `${prefix}-paper-orders`,
});

/** Reads the table names functions were given through the environment, failing loudly. */
export function tableNamesFromEnv(env: NodeJS.ProcessEnv = process.env): TableNames {
  const entries = Object.entries(TABLES).map(([key, def]) => {
    const value = env[def.envVar];
    if (!value) throw new Error(`environment variable ${def.envVar} is not set`);
    return [key, value] as const;
  });
  return Object.fromEntries(entries) as TableNames;
}
