import type { TableKey } from '../../shared/adapters/dynamodb/tables.js';
import type { TradeFlowTaskName } from '../../shared/usecases/tasks.js';

/**
 * A DynamoDB data action a function may be granted. IAM authorizes each item of a transaction by
 * its own action: TransactWriteItems needs PutItem / UpdateItem / ConditionCheckItem for its
 * items, TransactGetItems needs GetItem. Nothing in Pinebridge deletes or batches.
 */
export type ItemAction = 'GetItem' | 'PutItem' | 'UpdateItem' | 'ConditionCheckItem' | 'Query' | 'Scan';

/** What one function may do on one table. */
export interface TableGrant {
  /** Actions on the table itself. */
  actions: readonly ItemAction[];
  /** More actions on the table, needed only while the built-in paper broker (its order book) is in use. */
  paperBroker?: readonly ItemAction[];
  /** Indexes the function queries, by name: `Query` on each of them and nothing else. */
  indexes?: readonly string[];
}

export type FunctionName =
  | TradeFlowTaskName
  | 'Webhook'
  | 'Health'
  | 'Breaker'
  | 'Reconciler'
  | 'Admin'
  | 'Dashboard'
  | 'Notifier';

/**
 * Exactly the DynamoDB access each function's code reaches, table by table, with the store calls
 * that need it (shared/adapters/dynamodb/*, shared/adapters/paper/paper-broker.ts). A table left
 * out is not touched at all. Change this with the code: test/integration/least-privilege.test.ts
 * runs each function's work against DynamoDB and fails on any call its role would be refused.
 *
 * Recurring paths: `snapshot` queries the book and reads it again consistently (Query, GetItem),
 * and on a fresh deployment opens the account (PutItem); the circuit breaker (`evaluateBreaker`)
 * moves the trading state with its log entry (UpdateItem, PutItem) and keeps its marks (UpdateItem);
 * `applyBrokerOrder` books a broker report into the order, account, position and signal.
 */
export const FUNCTION_TABLES: Record<FunctionName, Partial<Record<TableKey, TableGrant>>> = {
  // recordNew: the dedup marker and the signal in one transaction; on a repeat both are read back.
  Webhook: { signals: { actions: ['GetItem', 'PutItem'] } },
  // One read of a key no signal has.
  Health: { signals: { actions: ['GetItem'] } },
  RiskCheck: {
    // The signal read; approve marks it approved.
    signals: { actions: ['GetItem', 'UpdateItem'] },
    // approve writes the order intent.
    orders: { actions: ['PutItem'] },
    // snapshot, the market price recorded, the breaker (and a halt on refused keys), and approve:
    // account and position updated, trading state condition-checked.
    portfolio: { actions: ['Query', 'GetItem', 'PutItem', 'UpdateItem', 'ConditionCheckItem'] },
  },
  // A signal's cancel step: a complete listing of open orders (consistent scan), each order's
  // signal read, cancelled in the book (unsent) or at the broker and booked; the signal records
  // the step, or fails.
  CancelOrders: {
    signals: { actions: ['GetItem', 'UpdateItem'] },
    orders: { actions: ['GetItem', 'UpdateItem', 'Scan'], indexes: ['byLifecycle'] },
    portfolio: { actions: ['Query', 'GetItem', 'PutItem', 'UpdateItem'] },
    paperOrders: { actions: [], paperBroker: ['GetItem', 'UpdateItem'] },
  },
  // reject; the signal read for the refusal's notice.
  RecordRejection: { signals: { actions: ['GetItem', 'UpdateItem'] } },
  SubmitOrder: {
    // markSubmitted.
    signals: { actions: ['UpdateItem'] },
    // getOrder, claimSubmission, markSubmitted.
    orders: { actions: ['GetItem', 'UpdateItem'] },
    // claimSubmission condition-checks the trading state, and the trading state is read again
    // before every send; refused keys halt trading (snapshot, breaker); the paper broker fills at
    // the last recorded price.
    portfolio: { actions: ['Query', 'GetItem', 'PutItem', 'UpdateItem', 'ConditionCheckItem'] },
    // The paper broker places the order, and reads (and may fill) it on a repeated id.
    paperOrders: { actions: [], paperBroker: ['GetItem', 'PutItem', 'UpdateItem'] },
  },
  // The broker's view of the order; an open order is cancelled once HALTED, so the trading state is
  // read (snapshot: the book is open, an order exists). The paper broker reads, fills or cancels
  // its own order, at the last recorded price.
  CheckOrder: {
    portfolio: { actions: ['Query', 'GetItem'] },
    paperOrders: { actions: [], paperBroker: ['GetItem', 'UpdateItem'] },
  },
  RecordFill: {
    // applyBrokerOrder; a filled reversal's second leg is recorded as a signal of its own.
    signals: { actions: ['GetItem', 'PutItem', 'UpdateItem'] },
    orders: { actions: ['GetItem', 'UpdateItem'] },
    portfolio: { actions: ['Query', 'GetItem', 'PutItem', 'UpdateItem'] },
  },
  RecordFailure: {
    // markFailed, applyBrokerOrder, a reversal's second leg.
    signals: { actions: ['GetItem', 'PutItem', 'UpdateItem'] },
    orders: { actions: ['GetItem', 'UpdateItem'] },
    // applyBrokerOrder, markFailed (position blocked, failure counted), the breaker.
    portfolio: { actions: ['Query', 'GetItem', 'PutItem', 'UpdateItem'] },
    // The paper broker looks the order up and cancels it if still open.
    paperOrders: { actions: [], paperBroker: ['GetItem', 'UpdateItem'] },
  },
  // evaluateBreaker only; the other tables are named in its environment but never used.
  Breaker: { portfolio: { actions: ['Query', 'GetItem', 'PutItem', 'UpdateItem'] } },
  Reconciler: {
    // Undecided signals from the sparse byUndecided index (and, on a complete pass, the last days'
    // from byDay); then RecordFailure's compensation.
    signals: { actions: ['GetItem', 'PutItem', 'UpdateItem'], indexes: ['byDay', 'byUndecided'] },
    // Open orders from the index (each read again), or hourly by a consistent scan that stamps
    // orders written before the index (UpdateItem); then RecordFailure's compensation.
    orders: { actions: ['GetItem', 'UpdateItem', 'Scan'], indexes: ['byLifecycle'] },
    portfolio: { actions: ['Query', 'GetItem', 'PutItem', 'UpdateItem'] },
    paperOrders: { actions: [], paperBroker: ['GetItem', 'UpdateItem'] },
  },
  // Every operator request: the reads, and the emergency stop (halt, a complete listing of open
  // orders by consistent scan, cancel and book, flatten by recording, approving and booking a
  // closing order), resume and reset-breaker.
  Admin: {
    signals: { actions: ['GetItem', 'PutItem', 'UpdateItem'], indexes: ['byDay'] },
    orders: { actions: ['GetItem', 'PutItem', 'UpdateItem', 'Scan'], indexes: ['byLifecycle'] },
    portfolio: { actions: ['Query', 'GetItem', 'PutItem', 'UpdateItem', 'ConditionCheckItem'] },
    // The paper broker's ping, cancel and closing orders.
    paperOrders: { actions: [], paperBroker: ['GetItem', 'PutItem', 'UpdateItem'] },
  },
  // The daily summary: the session's signals by day and their orders (as `pinebridge pnl` reads
  // them), and the book's snapshot, which never opens it.
  Notifier: {
    signals: { actions: ['GetItem'], indexes: ['byDay'] },
    // The session's equity (portfolioStatus) lists the newest orders from the index.
    orders: { actions: ['GetItem'], indexes: ['byLifecycle'] },
    portfolio: { actions: ['Query', 'GetItem'] },
  },
  // The read-only views; stop, resume and reset-breaker go to the admin function. Its snapshot
  // never opens the book: on a fresh deployment that first read goes to the admin function too.
  Dashboard: {
    // The health probe; signals by day (status, signals, P&L, export).
    signals: { actions: ['GetItem'], indexes: ['byDay'] },
    // Orders listed from the index and read by id.
    orders: { actions: ['GetItem'], indexes: ['byLifecycle'] },
    // snapshot and the trading-state history.
    portfolio: { actions: ['Query', 'GetItem'] },
    // The paper broker's ping.
    paperOrders: { actions: [], paperBroker: ['GetItem'] },
  },
};

/** The actions a grant comes to with the broker in use (the paper broker's extra ones, or not). */
export const grantedActions = (grant: TableGrant, broker: 'paper' | 'alpaca'): ItemAction[] => [
  ...new Set([...grant.actions, ...(broker === 'paper' ? (grant.paperBroker ?? []) : [])]),
];
