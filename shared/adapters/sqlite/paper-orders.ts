import { type PaperOrder, type PaperOrderBook, PaperOrderSchema } from '../paper/paper-broker.js';
import { documentOf, type SqliteDatabase } from './database.js';

const parse = (row: unknown): PaperOrder | undefined =>
  row === undefined ? undefined : PaperOrderSchema.parse(documentOf(row));

/** The paper venue's orders in SQLite, keyed by client order id. */
export class SqlitePaperOrderBook implements PaperOrderBook {
  constructor(private readonly database: SqliteDatabase) {}

  async insert(order: PaperOrder): Promise<PaperOrder | undefined> {
    const { changes } = this.database
      .statement('INSERT INTO paper_orders (client_order_id, doc) VALUES (?, ?) ON CONFLICT DO NOTHING')
      .run(order.clientOrderId, JSON.stringify(order));
    return Number(changes) === 1 ? undefined : this.get(order.clientOrderId);
  }

  async get(clientOrderId: string): Promise<PaperOrder | undefined> {
    return parse(
      this.database.statement('SELECT doc FROM paper_orders WHERE client_order_id = ?').get(clientOrderId),
    );
  }

  async settle(next: PaperOrder): Promise<PaperOrder> {
    const { changes } = this.database
      .statement("UPDATE paper_orders SET doc = ? WHERE client_order_id = ? AND doc ->> 'status' = 'new'")
      .run(JSON.stringify(next), next.clientOrderId);
    if (Number(changes) === 1) return next;
    const winner = await this.get(next.clientOrderId);
    if (winner === undefined) throw new Error(`no paper order ${next.clientOrderId}`);
    return winner;
  }

  async ping(): Promise<void> {
    this.database.probe();
  }
}
