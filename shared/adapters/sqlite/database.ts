import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { DatabaseSync, type StatementSync } from 'node:sqlite';
import type { SQLITE_SYNCHRONOUS } from '../../config/schema.js';

/**
 * How hard a commit waits for the disk (SQLite's `synchronous`, in WAL mode):
 * - `normal`: a commit is in the operating system's hands when it returns — it survives the bot
 *   being killed (SIGKILL, a crash, an OOM kill) — and reaches the disk at the next checkpoint.
 *   A power loss or a kernel crash may undo the last commits (never half of one: the file stays
 *   consistent).
 * - `full`: every commit is also fsync'ed before it returns: it survives a power loss too, at the
 *   cost of one fsync per commit (docs/PERFORMANCE.md measures it).
 */
export type Synchronous = (typeof SQLITE_SYNCHRONOUS)[number];

/**
 * The schema, one migration per version: `PRAGMA user_version` counts those applied, and every
 * open applies the rest, each in its own transaction. Append; never edit one that has shipped.
 *
 * Every read and write on the hot path goes through a primary key or an index named here: the
 * cost of a signal does not grow with the history.
 */
const MIGRATIONS: readonly string[] = [
  `
  -- The book's single items (account, trading state, streaks, day trades: id ''), positions and
  -- prices (id: the symbol), order-rate counters (id: the minute) and the trading-state log
  -- (id: '<at>#<id>', so the primary key orders it by time).
  CREATE TABLE book (
    kind TEXT NOT NULL,
    id TEXT NOT NULL,
    doc TEXT NOT NULL,
    PRIMARY KEY (kind, id)
  ) WITHOUT ROWID;

  CREATE TABLE orders (
    client_order_id TEXT PRIMARY KEY,
    created_at TEXT NOT NULL,
    final INTEGER NOT NULL,
    doc TEXT NOT NULL
  );
  CREATE INDEX orders_by_created ON orders (created_at);
  CREATE INDEX orders_open ON orders (created_at) WHERE final = 0;

  CREATE TABLE signals (
    signal_id TEXT PRIMARY KEY,
    received_at TEXT NOT NULL,
    status TEXT NOT NULL,
    doc TEXT NOT NULL
  );
  CREATE INDEX signals_by_received ON signals (received_at);
  CREATE INDEX signals_undecided ON signals (received_at) WHERE status = 'received';

  -- Dedup markers: the sha-256 of the dedup key, live until expires_at (epoch seconds).
  CREATE TABLE dedup (
    key TEXT PRIMARY KEY,
    signal_id TEXT NOT NULL,
    payload_hash TEXT NOT NULL,
    expires_at INTEGER NOT NULL
  );
  CREATE INDEX dedup_by_expiry ON dedup (expires_at);

  -- The built-in paper broker's own order book (the venue side).
  CREATE TABLE paper_orders (
    client_order_id TEXT PRIMARY KEY,
    doc TEXT NOT NULL
  );
  `,
];

export const SCHEMA_VERSION = MIGRATIONS.length;

/** The JSON document of a row read from any table (each keeps its item in a `doc` column). */
export const documentOf = (row: unknown): unknown => JSON.parse((row as { doc: string }).doc);

/** The schema is newer than this code knows: an older Pinebridge must not write to it. */
export class SchemaTooNewError extends Error {
  override readonly name = 'SchemaTooNewError';
}

/**
 * One SQLite database file (or `:memory:`), opened through `node:sqlite` — built into Node, no
 * native build — in WAL mode, its schema migrated on open. Calls are synchronous: a transaction
 * runs from BEGIN to COMMIT within one turn of the event loop, so nothing else in the process
 * interleaves with it, and BEGIN IMMEDIATE takes the write lock up front, so another process on
 * the same file (a backup, the CLI) waits instead of deadlocking.
 */
export class SqliteDatabase {
  readonly db: DatabaseSync;
  private readonly statements = new Map<string, StatementSync>();
  private depth = 0;

  constructor(
    /** A file path, or ':memory:'. */
    readonly file: string,
    options: { synchronous?: Synchronous } = {},
  ) {
    if (file !== ':memory:') mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
    this.db = new DatabaseSync(file);
    this.db.exec('PRAGMA journal_mode = WAL');
    this.db.exec(`PRAGMA synchronous = ${(options.synchronous ?? 'normal').toUpperCase()}`);
    // A second process (a backup) may hold the lock for a moment: wait for it, do not fail.
    this.db.exec('PRAGMA busy_timeout = 5000');
    this.db.exec('PRAGMA foreign_keys = ON');
    this.migrate();
  }

  /** The version the file is at, and the migrations it lacked applied in order. */
  private migrate(): void {
    const version = Number(
      (this.db.prepare('PRAGMA user_version').get() as { user_version: number }).user_version,
    );
    if (version > MIGRATIONS.length)
      throw new SchemaTooNewError(
        `${this.file} has schema version ${version}, newer than this Pinebridge knows (${MIGRATIONS.length}): run the newer version, or restore a backup taken by this one`,
      );
    for (let v = version; v < MIGRATIONS.length; v++) {
      this.transaction(() => {
        this.db.exec(MIGRATIONS[v] as string);
        this.db.exec(`PRAGMA user_version = ${v + 1}`);
      });
    }
  }

  /** A prepared statement, prepared once per SQL text. */
  statement(sql: string): StatementSync {
    let statement = this.statements.get(sql);
    if (statement === undefined) {
      statement = this.db.prepare(sql);
      this.statements.set(sql, statement);
    }
    return statement;
  }

  /** The SQL of every statement prepared so far (tests check their query plans). */
  get preparedSql(): string[] {
    return [...this.statements.keys()];
  }

  /** Runs `work` in one transaction (nested calls join the outer one): all of it, or none. */
  transaction<T>(work: () => T): T {
    if (this.depth > 0) return work();
    this.db.exec('BEGIN IMMEDIATE');
    this.depth++;
    try {
      const result = work();
      this.db.exec('COMMIT');
      return result;
    } catch (error) {
      this.db.exec('ROLLBACK');
      throw error;
    } finally {
      this.depth--;
    }
  }

  /**
   * A consistent copy of the whole database in `file` (which must not exist), taken while the bot
   * trades: VACUUM INTO reads one snapshot, and writers go on meanwhile (WAL).
   */
  backupTo(file: string): void {
    this.db.prepare('VACUUM INTO ?').run(file);
  }

  /** Throws when the database does not answer. */
  probe(): void {
    this.statement('SELECT 1').get();
  }

  close(): void {
    this.statements.clear();
    if (this.db.isOpen) this.db.close();
  }
}
