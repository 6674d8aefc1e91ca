import { TERMINAL_SIGNAL_STATUSES } from '../../domain/trading.js';
import type { SqliteDatabase } from './database.js';

const DAY_MS = 86_400_000;
const nextDay = (day: string) =>
  new Date(Date.parse(`${day}T00:00:00.000Z`) + DAY_MS).toISOString().slice(0, 10);
const TERMINAL = TERMINAL_SIGNAL_STATUSES.map((status) => `'${status}'`).join(', ');

/**
 * The history a retention window lets go, in SQLite: whole UTC days of signals with their orders
 * and the paper venue's copies of them. A day goes only when everything in it is over — every
 * signal terminal and every order final — so nothing the bot still acts on is ever removed.
 */
export class SqliteHistory {
  constructor(private readonly database: SqliteDatabase) {}

  /** The UTC days before `day` that still hold signals, oldest first. */
  daysBefore(day: string): string[] {
    const days: string[] = [];
    // Day by day through the received_at index: one probe per day held, however many signals.
    let row = this.database
      .statement('SELECT received_at FROM signals WHERE received_at < ? ORDER BY received_at LIMIT 1')
      .get(day) as { received_at: string } | undefined;
    while (row !== undefined) {
      const held = row.received_at.slice(0, 10);
      days.push(held);
      row = this.database
        .statement(
          'SELECT received_at FROM signals WHERE received_at >= ? AND received_at < ? ORDER BY received_at LIMIT 1',
        )
        .get(nextDay(held), day) as { received_at: string } | undefined;
    }
    return days;
  }

  /** How many signals of `day` are not over yet (not terminal, or with an order not final). */
  unfinishedOn(day: string): number {
    const row = this.database
      .statement(
        `SELECT count(*) AS n FROM signals s
         LEFT JOIN orders o ON o.client_order_id = s.doc ->> 'clientOrderId'
         WHERE s.received_at >= ? AND s.received_at < ?
           AND (s.status NOT IN (${TERMINAL}) OR o.final = 0)`,
      )
      .get(day, nextDay(day)) as { n: number };
    return Number(row.n);
  }

  /**
   * Deletes `day`'s signals, their orders, the paper venue's copies and the day's order-rate
   * counters, in one transaction; and with them the dedup markers expired by `nowSeconds`. Refuses (deletes nothing) when the day
   * is not over.
   */
  prune(day: string, nowSeconds: number): { signals: number; orders: number } {
    const { database } = this;
    return database.transaction(() => {
      if (this.unfinishedOn(day) > 0) return { signals: 0, orders: 0 };
      const range = [day, nextDay(day)] as const;
      const ids = `SELECT doc ->> 'clientOrderId' FROM signals WHERE received_at >= ? AND received_at < ?`;
      database.statement(`DELETE FROM paper_orders WHERE client_order_id IN (${ids})`).run(...range);
      const orders = database.statement(`DELETE FROM orders WHERE client_order_id IN (${ids})`).run(...range);
      const signals = database
        .statement('DELETE FROM signals WHERE received_at >= ? AND received_at < ?')
        .run(...range);
      database.statement("DELETE FROM book WHERE kind = 'rate' AND id >= ? AND id < ?").run(...range);
      database.statement('DELETE FROM dedup WHERE expires_at < ?').run(nowSeconds);
      return { signals: Number(signals.changes), orders: Number(orders.changes) };
    });
  }
}
