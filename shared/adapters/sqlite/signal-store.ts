import { sha256 } from '../../domain/ids.js';
import type { NewSignal, RecordSignalResult, SignalRecord, SignalStore } from '../../ports/index.js';
import { parseSignalRecord } from '../signal-record.js';
import { documentOf, type SqliteDatabase } from './database.js';

const DAY_MS = 86_400_000;
const dayOf = (ms: number) => new Date(ms).toISOString().slice(0, 10);

const records = (rows: unknown[]): SignalRecord[] => rows.map((row) => parseSignalRecord(documentOf(row)));

/**
 * The signals in SQLite, with the rules of the DynamoDB store: a signal and its dedup marker are
 * recorded in one transaction or not at all, and a marker past its expiry counts as absent.
 * Listings go through the `received_at` indexes (database.ts), never a scan of the history.
 */
export class SqliteSignalStore implements SignalStore {
  constructor(private readonly database: SqliteDatabase) {}

  async recordNew(input: NewSignal): Promise<RecordSignalResult> {
    const { database } = this;
    const key = sha256(input.dedupKey).toString('hex');
    const nowSeconds = Math.floor(Date.parse(input.receivedAt) / 1000);
    return database.transaction((): RecordSignalResult => {
      const marker = database
        .statement('SELECT signal_id, payload_hash, expires_at FROM dedup WHERE key = ?')
        .get(key) as { signal_id: string; payload_hash: string; expires_at: number } | undefined;
      const markerLive = marker !== undefined && !(marker.expires_at < nowSeconds);
      const exists = database.statement('SELECT 1 FROM signals WHERE signal_id = ?').get(input.signalId);
      if (markerLive || exists !== undefined) {
        if (marker === undefined) throw new Error(`signal ${input.signalId} exists without its dedup marker`);
        return marker.payload_hash === input.payloadHash
          ? { kind: 'duplicate', signalId: marker.signal_id }
          : { kind: 'conflict', signalId: marker.signal_id };
      }
      database
        .statement(
          `INSERT INTO dedup (key, signal_id, payload_hash, expires_at) VALUES (?, ?, ?, ?)
           ON CONFLICT DO UPDATE SET signal_id = excluded.signal_id, payload_hash = excluded.payload_hash,
             expires_at = excluded.expires_at`,
        )
        .run(key, input.signalId, input.payloadHash, Math.floor(input.dedupExpiresAt.getTime() / 1000));
      const record: SignalRecord = {
        signalId: input.signalId,
        status: 'received',
        signal: input.signal,
        receivedAt: input.receivedAt,
        updatedAt: input.receivedAt,
      };
      database
        .statement('INSERT INTO signals (signal_id, received_at, status, doc) VALUES (?, ?, ?, ?)')
        .run(input.signalId, input.receivedAt, 'received', JSON.stringify(record));
      return { kind: 'recorded' };
    });
  }

  async get(signalId: string): Promise<SignalRecord | undefined> {
    const row = this.database.statement('SELECT doc FROM signals WHERE signal_id = ?').get(signalId);
    return row === undefined ? undefined : records([row])[0];
  }

  /** As the DynamoDB store: the seven UTC days ending with the day of `now`, newest first. */
  async recent(limit: number, now: Date): Promise<SignalRecord[]> {
    return records(
      this.database
        .statement(
          'SELECT doc FROM signals WHERE received_at >= ? AND received_at < ? ORDER BY received_at DESC LIMIT ?',
        )
        .all(dayOf(now.getTime() - 6 * DAY_MS), dayOf(now.getTime() + DAY_MS), limit),
    );
  }

  async undecided(receivedBefore: string): Promise<SignalRecord[]> {
    return records(
      this.database
        .statement(
          "SELECT doc FROM signals WHERE status = 'received' AND received_at < ? ORDER BY received_at",
        )
        .all(receivedBefore),
    );
  }

  async receivedOn(day: string): Promise<SignalRecord[]> {
    const next = dayOf(Date.parse(`${day}T00:00:00.000Z`) + DAY_MS);
    return records(
      this.database
        .statement('SELECT doc FROM signals WHERE received_at >= ? AND received_at < ? ORDER BY received_at')
        .all(day, next),
    );
  }
}
