import {
  type DynamoDBDocumentClient,
  GetCommand,
  NumberValue,
  PutCommand,
  QueryCommand,
  ScanCommand,
  TransactGetCommand,
  TransactWriteCommand,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import type { Change, Check, CommitResult, Doc, Entity, Write } from '../../domain/ledger.js';
import { pathOf } from '../../domain/ledger.js';
import { dec, str } from '../../domain/money.js';
import type { BookStore } from '../../ports/index.js';
import { cancellationReasons } from './client.js';
import type { TableNames } from './tables.js';

const PK = 'PORTFOLIO';

/**
 * An order's partition in the orders table's `byLifecycle` index (sort key `createdAt`): `open`
 * while it is not final, `final` from the write that makes it final. Every write to an order item
 * sets `lifecycle` together with `final`, in the same write, so the two never disagree.
 *
 * One index with two partitions rather than two indexes (all orders by time, plus a sparse one
 * of the open ones): CloudFormation adds one index per table per deployment, and each order
 * write then updates one index entry, not two.
 */
const ORDER_LIFECYCLES = ['open', 'final'] as const;
type OrderLifecycle = (typeof ORDER_LIFECYCLES)[number];
const lifecycleOf = (final: boolean): OrderLifecycle => (final ? 'final' : 'open');
const BY_LIFECYCLE = 'byLifecycle';
/** How many orders written before the index the complete listing stamps at a time. */
const STAMP_CONCURRENCY = 16;
/** How often a transaction that lost only to another transaction in progress is sent again. */
const TRANSACTION_CONFLICT_RETRIES = 10;

const newestFirst = (a: Doc, b: Doc) => (String(a.createdAt) < String(b.createdAt) ? 1 : -1);

interface Located {
  table: string;
  key: Record<string, string>;
  /** The attribute that exists exactly when the item does. */
  keyAttribute: string;
}

/** Numbers come back from DynamoDB as JS numbers: the ledger reads them as decimal strings. */
function docOf(item: Record<string, unknown> | undefined): Doc | undefined {
  if (item === undefined) return undefined;
  const doc: Doc = {};
  for (const [field, value] of Object.entries(item))
    doc[field] = typeof value === 'number' ? str(dec(value)) : value;
  return doc;
}

/**
 * The book in DynamoDB: the portfolio table (account, trading state and its log, streaks,
 * day trades, positions, prices, order-rate counters under one partition), the orders table and
 * the signals table. A change is one TransactWriteItems (one UpdateItem when it is one write),
 * each write's conditions its ConditionExpression; the counters the ledger adds to are numbers,
 * added to with ADD, so writes to them commute.
 */
export class DynamoBookStore implements BookStore {
  constructor(
    private readonly db: DynamoDBDocumentClient,
    private readonly tables: TableNames,
  ) {}

  private locate(entity: Entity): Located {
    const portfolio = (sk: string): Located => ({
      table: this.tables.portfolio,
      key: { pk: PK, sk },
      keyAttribute: 'pk',
    });
    switch (entity.kind) {
      case 'account':
        return portfolio('ACCOUNT');
      case 'tradingState':
        return portfolio('TRADING_STATE');
      case 'streaks':
        return portfolio('STREAKS');
      case 'dayTrades':
        return portfolio('DAY_TRADES');
      case 'position':
        return portfolio(`POSITION#${entity.symbol}`);
      case 'price':
        return portfolio(`PRICE#${entity.symbol}`);
      case 'rate':
        return portfolio(`RATE#${entity.minute}`);
      case 'transition':
        return portfolio(`TRADING_STATE_LOG#${entity.at}#${entity.id}`);
      case 'order':
        return {
          table: this.tables.orders,
          key: { clientOrderId: entity.clientOrderId },
          keyAttribute: 'clientOrderId',
        };
      case 'signal':
        return { table: this.tables.signals, key: { pk: entity.signalId }, keyAttribute: 'pk' };
    }
  }

  async read(entities: readonly Entity[]): Promise<(Doc | undefined)[]> {
    if (entities.length === 0) return [];
    if (entities.length === 1) {
      const { table, key } = this.locate(entities[0] as Entity);
      const result = await this.db.send(new GetCommand({ TableName: table, Key: key, ConsistentRead: true }));
      return [docOf(result.Item)];
    }
    // TransactGetItems is serializable with every TransactWriteItems: one consistent view.
    if (entities.length > 100) throw new Error(`${entities.length} items exceed one consistent read (100)`);
    const result = await this.db.send(
      new TransactGetCommand({
        TransactItems: entities.map((entity) => {
          const { table, key } = this.locate(entity);
          return { Get: { TableName: table, Key: key } };
        }),
      }),
    );
    return entities.map((_, i) => docOf(result.Responses?.[i]?.Item));
  }

  async listBook(): Promise<{ positions: Doc[]; prices: Record<string, Doc> }> {
    const positions: Doc[] = [];
    const prices: Record<string, Doc> = {};
    let startKey: Record<string, unknown> | undefined;
    do {
      const page = await this.db.send(
        new QueryCommand({
          TableName: this.tables.portfolio,
          // Positions and prices only (POSITION# … PRICE#): not the trading-state log.
          KeyConditionExpression: 'pk = :pk AND sk BETWEEN :from AND :to',
          ExpressionAttributeValues: { ':pk': PK, ':from': 'POSITION#', ':to': 'PRICE#\uffff' },
          ConsistentRead: true,
          ExclusiveStartKey: startKey,
        }),
      );
      for (const item of page.Items ?? []) {
        const sk = String(item.sk);
        const doc = docOf(item) as Doc;
        if (sk.startsWith('POSITION#')) positions.push(doc);
        else if (sk.startsWith('PRICE#')) prices[sk.slice('PRICE#'.length)] = doc;
      }
      startKey = page.LastEvaluatedKey;
    } while (startKey);
    return { positions, prices };
  }

  async commit(change: Change): Promise<CommitResult> {
    const requests = change.map((write) => this.request(write));
    const [only] = requests;
    if (requests.length === 1 && only !== undefined && only.ConditionCheck === undefined) {
      try {
        if (only.Put) await this.db.send(new PutCommand(only.Put));
        else if (only.Update) await this.db.send(new UpdateCommand(only.Update));
        return { ok: true };
      } catch (error) {
        if ((error as Error).name === 'ConditionalCheckFailedException') return { ok: false, refused: [0] };
        throw error;
      }
    }
    for (let attempt = 0; ; attempt++) {
      try {
        await this.db.send(new TransactWriteCommand({ TransactItems: requests }));
        return { ok: true };
      } catch (error) {
        const reasons = cancellationReasons(error);
        if (reasons === undefined) throw error;
        const refused = reasons.flatMap((code, i) => (code === 'ConditionalCheckFailed' ? [i] : []));
        if (refused.length > 0) return { ok: false, refused };
        // Only another transaction in progress on one of the items: its conditions may well hold.
        if (attempt >= TRANSACTION_CONFLICT_RETRIES || !reasons.includes('TransactionConflict')) throw error;
        await new Promise((resolve) => setTimeout(resolve, Math.random() * 5 * (attempt + 1)));
      }
    }
  }

  /** One write as a TransactWriteItems entry (its Put, Update or ConditionCheck). */
  private request(write: Write): Request {
    const { table, key, keyAttribute } = this.locate(write.to);
    const names: Record<string, string> = {};
    const values: Record<string, unknown> = {};
    const name = (field: string) =>
      pathOf(field)
        .map((part) => {
          const existing = Object.entries(names).find(([, n]) => n === part)?.[0];
          if (existing) return existing;
          const placeholder = `#n${Object.keys(names).length}`;
          names[placeholder] = part;
          return placeholder;
        })
        .join('.');
    const value = (v: unknown) => {
      const placeholder = `:v${Object.keys(values).length}`;
      values[placeholder] = v;
      return placeholder;
    };
    const number = (v: string | number) => value(NumberValue.from(String(v)));
    const condition = (check: Check): string => {
      if ('item' in check)
        return check.item === 'exists'
          ? `attribute_exists(${name(keyAttribute)})`
          : `attribute_not_exists(${name(keyAttribute)})`;
      const path = name(check.field);
      const orAbsent = (expression: string) => `(attribute_not_exists(${path}) OR ${expression})`;
      if ('is' in check) return `attribute_not_exists(${path})`;
      if ('eq' in check) return `${path} = ${value(check.eq)}`;
      if ('oneOf' in check) return `${path} IN (${check.oneOf.map(value).join(', ')})`;
      if ('noneOf' in check) return orAbsent(`NOT (${path} IN (${check.noneOf.map(value).join(', ')}))`);
      if ('notAfter' in check) return orAbsent(`${path} <= ${value(check.notAfter)}`);
      // A missing counter counts as 0.
      if ('atLeast' in check) {
        const expression = `${path} >= ${number(check.atLeast)}`;
        return dec(check.atLeast).lte(0) ? orAbsent(expression) : expression;
      }
      if ('atMost' in check) {
        const expression = `${path} <= ${number(check.atMost)}`;
        return dec(check.atMost).gte(0) ? orAbsent(expression) : expression;
      }
      const expression = `${path} = ${number(check.count)}`;
      return check.count === 0 ? orAbsent(expression) : expression;
    };
    const conditions = (write.when ?? []).map(condition);
    const conditionFields = () => ({
      ...(conditions.length > 0 ? { ConditionExpression: conditions.join(' AND ') } : {}),
      ...(Object.keys(names).length > 0 ? { ExpressionAttributeNames: names } : {}),
      ...(Object.keys(values).length > 0 ? { ExpressionAttributeValues: values } : {}),
    });

    if (write.replace) {
      const numbers = Object.fromEntries(
        Object.entries(write.replace.numbers).map(([field, n]) => [field, NumberValue.from(n)]),
      );
      const item = { ...key, ...write.replace.fields, ...numbers };
      if (write.to.kind === 'order') item.lifecycle = lifecycleOf(item.final === true);
      return { Put: { TableName: table, Item: item, ...conditionFields() } };
    }

    // The key is the item's address, not a field to set.
    const set: Doc = Object.fromEntries(Object.entries(write.set ?? {}).filter(([field]) => !(field in key)));
    const remove = [...(write.remove ?? [])];
    // What the indexes need, kept in step by every write (persistence, not booking).
    if (write.to.kind === 'order' && (write.set !== undefined || write.setIfAbsent !== undefined))
      set.lifecycle = lifecycleOf(set.final === true);
    if (write.to.kind === 'signal' && set.status !== undefined && set.status !== 'received')
      remove.push('undecided');

    const sets = [
      ...Object.entries(set).map(([field, v]) => `${name(field)} = ${value(v)}`),
      ...Object.entries(write.setIfAbsent ?? {}).map(
        ([field, v]) => `${name(field)} = if_not_exists(${name(field)}, ${value(v)})`,
      ),
    ];
    const adds = Object.entries(write.add ?? {}).map(([field, delta]) => `${name(field)} ${number(delta)}`);
    const parts = [
      sets.length > 0 ? `SET ${sets.join(', ')}` : '',
      adds.length > 0 ? `ADD ${adds.join(', ')}` : '',
      remove.length > 0 ? `REMOVE ${remove.map(name).join(', ')}` : '',
    ].filter((part) => part !== '');
    if (parts.length === 0) {
      return { ConditionCheck: { TableName: table, Key: key, ...conditionFields() } as ConditionCheck };
    }
    // Evaluated before the update expression names what it sets: conditions first.
    return {
      Update: { TableName: table, Key: key, UpdateExpression: parts.join(' '), ...conditionFields() },
    };
  }

  /**
   * The newest `limit` orders, from the `byLifecycle` index: the newest `limit` of each partition,
   * merged. Its cost follows `limit`, not the order history. An index is eventually consistent: a
   * write of the last moments may not show yet, and an order just made final may show in both
   * partitions (the later copy is kept) or, for a moment, in neither. Fine for what reads this
   * list (the status read, the dashboard, the operator's `orders`), which decides nothing.
   */
  async listOrders(limit: number): Promise<Doc[]> {
    if (limit <= 0) return [];
    const [final, open] = await Promise.all([
      this.queryLifecycle('final', limit),
      this.queryLifecycle('open', limit),
    ]);
    const latest = new Map<string, Doc>();
    for (const order of [...final, ...open]) {
      const id = String(order.clientOrderId);
      const seen = latest.get(id);
      if (seen === undefined || String(order.updatedAt) > String(seen.updatedAt)) latest.set(id, order);
    }
    return [...latest.values()].sort(newestFirst).slice(0, limit);
  }

  /**
   * Orders not yet final (in flight, or `unknown`).
   *
   * By default from the `byLifecycle` index, each order then read again consistently: none
   * returned is final and each is as it is now, but an order approved in the last moments may be
   * missing (the index is eventually consistent). The reconciler and the operator's view can live
   * with that: the reconciler settles only orders untouched for minutes, and its periodic
   * complete pass finds whatever the index lacks.
   *
   * `complete` is for the emergency stop, which cannot: an order approved and cleared to send just
   * before the halt may be at the broker, and an order the stop does not see it does not cancel.
   * It scans the table with a consistent read, so every order committed before the call is seen —
   * at a cost that grows with the order history, which only the rare stop and the reconciler's
   * hourly pass pay.
   */
  async listOpenOrders(options: { complete?: boolean } = {}): Promise<Doc[]> {
    if (options.complete) return this.scanOpenOrders();
    const listed = await this.queryLifecycle('open');
    const current = await Promise.all(
      listed.map((order) => this.read([{ kind: 'order', clientOrderId: String(order.clientOrderId) }])),
    );
    return current.flatMap(([order]) => (order === undefined || order.final === true ? [] : [order]));
  }

  /** One partition of `byLifecycle`, newest first: every page until `limit` orders (all by default). */
  private async queryLifecycle(lifecycle: OrderLifecycle, limit = Number.POSITIVE_INFINITY): Promise<Doc[]> {
    const orders: Doc[] = [];
    let startKey: Record<string, unknown> | undefined;
    do {
      const page = await this.db.send(
        new QueryCommand({
          TableName: this.tables.orders,
          IndexName: BY_LIFECYCLE,
          KeyConditionExpression: '#lifecycle = :lifecycle',
          ExpressionAttributeNames: { '#lifecycle': 'lifecycle' },
          ExpressionAttributeValues: { ':lifecycle': lifecycle },
          ScanIndexForward: false,
          ...(Number.isFinite(limit) ? { Limit: limit - orders.length } : {}),
          ExclusiveStartKey: startKey,
        }),
      );
      orders.push(...(page.Items ?? []).map((item) => docOf(item) as Doc));
      startKey = page.LastEvaluatedKey;
    } while (startKey !== undefined && orders.length < limit);
    return orders;
  }

  /**
   * Every open order, by a consistent scan of the whole table (a scan returns at most 1 MB at a
   * time). Orders written before the `byLifecycle` index existed have no `lifecycle`: the scan
   * returns those too and stamps them, so the index lists them from then on (a one-off cost per
   * order). Stamping is best effort and never fails the listing: what it misses, the next
   * complete listing stamps.
   */
  private async scanOpenOrders(): Promise<Doc[]> {
    const open: Doc[] = [];
    const unindexed: Doc[] = [];
    let startKey: Record<string, unknown> | undefined;
    do {
      const page = await this.db.send(
        new ScanCommand({
          TableName: this.tables.orders,
          FilterExpression: '#final = :false OR attribute_not_exists(#lifecycle)',
          ExpressionAttributeNames: { '#final': 'final', '#lifecycle': 'lifecycle' },
          ExpressionAttributeValues: { ':false': false },
          ConsistentRead: true,
          ExclusiveStartKey: startKey,
        }),
      );
      for (const item of (page.Items ?? []).map((raw) => docOf(raw) as Doc)) {
        if (item.lifecycle === undefined) unindexed.push(item);
        if (item.final !== true) open.push(item);
      }
      startKey = page.LastEvaluatedKey;
    } while (startKey);
    for (let i = 0; i < unindexed.length; i += STAMP_CONCURRENCY)
      await Promise.all(unindexed.slice(i, i + STAMP_CONCURRENCY).map((item) => this.stampLifecycle(item)));
    return open;
  }

  /**
   * Gives an order written before the index its `lifecycle`, only if it is still unstamped and
   * as final as it was read: a write since then has stamped it itself (every write does), and an
   * older version's write that changed `final` leaves it for the next complete listing.
   */
  private async stampLifecycle(item: Doc): Promise<void> {
    const final = item.final === true;
    await this.db
      .send(
        new UpdateCommand({
          TableName: this.tables.orders,
          Key: { clientOrderId: item.clientOrderId },
          UpdateExpression: 'SET #lifecycle = :lifecycle',
          ConditionExpression: 'attribute_not_exists(#lifecycle) AND #final = :final',
          ExpressionAttributeNames: { '#lifecycle': 'lifecycle', '#final': 'final' },
          ExpressionAttributeValues: { ':lifecycle': lifecycleOf(final), ':final': final },
        }),
      )
      .catch(() => undefined);
  }

  async transitions(limit: number): Promise<Doc[]> {
    const result = await this.db.send(
      new QueryCommand({
        TableName: this.tables.portfolio,
        KeyConditionExpression: 'pk = :pk AND begins_with(sk, :log)',
        ExpressionAttributeValues: { ':pk': PK, ':log': 'TRADING_STATE_LOG#' },
        ScanIndexForward: false,
        Limit: limit,
        ConsistentRead: true,
      }),
    );
    return (result.Items ?? []).map((item) => docOf(item) as Doc);
  }
}

interface ConditionCheck {
  TableName: string;
  Key: Record<string, string>;
  ConditionExpression: string;
  ExpressionAttributeNames?: Record<string, string>;
  ExpressionAttributeValues?: Record<string, unknown>;
}

interface Request {
  Put?: {
    TableName: string;
    Item: Record<string, unknown>;
    ConditionExpression?: string;
    ExpressionAttributeNames?: Record<string, string>;
    ExpressionAttributeValues?: Record<string, unknown>;
  };
  Update?: {
    TableName: string;
    Key: Record<string, string>;
    UpdateExpression: string;
    ConditionExpression?: string;
    ExpressionAttributeNames?: Record<string, string>;
    ExpressionAttributeValues?: Record<string, unknown>;
  };
  ConditionCheck?: ConditionCheck;
}
