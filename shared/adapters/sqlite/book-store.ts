import {
  applied,
  type Change,
  type CommitResult,
  type Doc,
  type Entity,
  holds,
} from '../../domain/ledger.js';
import type { BookStore } from '../../ports/index.js';
import { documentOf, type SqliteDatabase } from './database.js';

/** Where an entity lives: one of the tables of database.ts, and its key. */
type Row =
  | { table: 'book'; kind: string; id: string }
  | { table: 'orders'; id: string }
  | { table: 'signals'; id: string };

function rowOf(entity: Entity): Row {
  switch (entity.kind) {
    case 'order':
      return { table: 'orders', id: entity.clientOrderId };
    case 'signal':
      return { table: 'signals', id: entity.signalId };
    case 'position':
    case 'price':
      return { table: 'book', kind: entity.kind, id: entity.symbol };
    case 'rate':
      return { table: 'book', kind: 'rate', id: entity.minute };
    case 'transition':
      return { table: 'book', kind: 'transition', id: `${entity.at}#${entity.id}` };
    default:
      return { table: 'book', kind: entity.kind, id: '' };
  }
}

const keyOf = (entity: Entity): string => {
  const row = rowOf(entity);
  return `${row.table}\u0000${'kind' in row ? row.kind : ''}\u0000${row.id}`;
};

const parse = (row: unknown): Doc | undefined => (row === undefined ? undefined : (documentOf(row) as Doc));
const docs = (rows: unknown[]): Doc[] => rows.map((row) => documentOf(row) as Doc);

/**
 * The book in SQLite: each item a JSON document under its key (database.ts has the schema), a
 * change one transaction whose conditions are checked against the items as they are inside it
 * (`holds` and `applied`, the ledger's reference, so it means exactly what the DynamoDB store's
 * condition expressions mean). The columns beside a document (an order's `final` and
 * `created_at`, a signal's `status` and `received_at`) are what the indexes need, kept in step
 * by every write.
 */
export class SqliteBookStore implements BookStore {
  constructor(private readonly database: SqliteDatabase) {}

  private get(entity: Entity): Doc | undefined {
    const row = rowOf(entity);
    const { database } = this;
    switch (row.table) {
      case 'book':
        return parse(
          database.statement('SELECT doc FROM book WHERE kind = ? AND id = ?').get(row.kind, row.id),
        );
      case 'orders':
        return parse(database.statement('SELECT doc FROM orders WHERE client_order_id = ?').get(row.id));
      case 'signals':
        return parse(database.statement('SELECT doc FROM signals WHERE signal_id = ?').get(row.id));
    }
  }

  private put(entity: Entity, doc: Doc): void {
    const row = rowOf(entity);
    const text = JSON.stringify(doc);
    const { database } = this;
    switch (row.table) {
      case 'book':
        database
          .statement(
            'INSERT INTO book (kind, id, doc) VALUES (?, ?, ?) ON CONFLICT DO UPDATE SET doc = excluded.doc',
          )
          .run(row.kind, row.id, text);
        return;
      case 'orders':
        database
          .statement(
            `INSERT INTO orders (client_order_id, created_at, final, doc) VALUES (?, ?, ?, ?)
             ON CONFLICT DO UPDATE SET created_at = excluded.created_at, final = excluded.final, doc = excluded.doc`,
          )
          .run(row.id, String(doc.createdAt ?? ''), doc.final === true ? 1 : 0, text);
        return;
      case 'signals':
        // Signals are recorded by the signal store; the book only moves them on.
        database
          .statement('UPDATE signals SET status = ?, doc = ? WHERE signal_id = ?')
          .run(String(doc.status), text, row.id);
        return;
    }
  }

  async read(entities: readonly Entity[]): Promise<(Doc | undefined)[]> {
    // One consistent view: synchronous reads with nothing committed in between.
    return entities.map((entity) => this.get(entity));
  }

  async listBook(): Promise<{ positions: Doc[]; prices: Record<string, Doc> }> {
    const rows = this.database
      .statement("SELECT kind, id, doc FROM book WHERE kind IN ('position', 'price')")
      .all() as { kind: string; id: string; doc: string }[];
    const positions: Doc[] = [];
    const prices: Record<string, Doc> = {};
    for (const row of rows) {
      const doc = documentOf(row) as Doc;
      if (row.kind === 'position') positions.push(doc);
      else prices[row.id] = doc;
    }
    return { positions, prices };
  }

  async commit(change: Change): Promise<CommitResult> {
    return this.database.transaction(() => {
      // Each item read once; a write of the change updates what a later write of it reads.
      const items = new Map<string, Doc | undefined>();
      const itemOf = (entity: Entity) => {
        const key = keyOf(entity);
        if (!items.has(key)) items.set(key, this.get(entity));
        return items.get(key);
      };
      const refused = change.flatMap((write, i) => {
        const doc = itemOf(write.to);
        return (write.when ?? []).every((check) => holds(doc, check)) ? [] : [i];
      });
      if (refused.length > 0) return { ok: false, refused } as const;
      for (const write of change) {
        const writes = write.set ?? write.setIfAbsent ?? write.add ?? write.remove ?? write.replace;
        if (writes === undefined) continue;
        const doc = applied(itemOf(write.to), write);
        this.put(write.to, doc);
        items.set(keyOf(write.to), doc);
      }
      return { ok: true } as const;
    });
  }

  async listOrders(limit: number): Promise<Doc[]> {
    return docs(
      this.database.statement('SELECT doc FROM orders ORDER BY created_at DESC LIMIT ?').all(limit),
    );
  }

  /** Always complete: the index is part of the same transaction as every order write. */
  async listOpenOrders(): Promise<Doc[]> {
    return docs(this.database.statement('SELECT doc FROM orders WHERE final = 0 ORDER BY created_at').all());
  }

  async transitions(limit: number): Promise<Doc[]> {
    return docs(
      this.database
        .statement("SELECT doc FROM book WHERE kind = 'transition' ORDER BY id DESC LIMIT ?")
        .all(limit),
    );
  }
}
