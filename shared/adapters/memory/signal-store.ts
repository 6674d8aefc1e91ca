import type { NewSignal, RecordSignalResult, SignalRecord, SignalStore } from '../../ports/index.js';

interface DedupMarker {
  signalId: string;
  payloadHash: string;
  /** Epoch seconds, as the DynamoDB item's `ttl`. */
  ttl: number;
}

/**
 * The signals table in memory, with the same rules as DynamoSignalStore: a signal and its dedup
 * marker are recorded together or not at all, and a marker past its `ttl` second counts as absent
 * (DynamoDB's TTL deletion is lazy, so the DynamoDB store treats it so too). Used by the backtester,
 * where one process owns the whole book and nothing needs to survive a restart.
 */
export class MemorySignalStore implements SignalStore {
  private readonly records = new Map<string, SignalRecord>();
  private readonly markers = new Map<string, DedupMarker>();

  async recordNew(input: NewSignal): Promise<RecordSignalResult> {
    const nowSeconds = Math.floor(Date.parse(input.receivedAt) / 1000);
    const marker = this.markers.get(input.dedupKey);
    const markerLive = marker !== undefined && !(marker.ttl < nowSeconds);
    if (markerLive || this.records.has(input.signalId)) {
      // The DynamoDB store reads the marker back to tell a re-delivery from a reused alert id.
      if (marker === undefined) throw new Error(`signal ${input.signalId} exists without its dedup marker`);
      return marker.payloadHash === input.payloadHash
        ? { kind: 'duplicate', signalId: marker.signalId }
        : { kind: 'conflict', signalId: marker.signalId };
    }
    this.markers.set(input.dedupKey, {
      signalId: input.signalId,
      payloadHash: input.payloadHash,
      ttl: Math.floor(input.dedupExpiresAt.getTime() / 1000),
    });
    this.records.set(input.signalId, {
      signalId: input.signalId,
      status: 'received',
      signal: input.signal,
      receivedAt: input.receivedAt,
      updatedAt: input.receivedAt,
    });
    return { kind: 'recorded' };
  }

  async get(signalId: string): Promise<SignalRecord | undefined> {
    return this.records.get(signalId);
  }

  /** As the DynamoDB store: the seven UTC days ending with the day of `now`, newest first. */
  async recent(limit: number, now: Date): Promise<SignalRecord[]> {
    const days = new Set(
      Array.from({ length: 7 }, (_, back) =>
        new Date(now.getTime() - back * 86_400_000).toISOString().slice(0, 10),
      ),
    );
    return [...this.records.values()]
      .filter((r) => days.has(r.receivedAt.slice(0, 10)))
      .sort((a, b) => (a.receivedAt < b.receivedAt ? 1 : a.receivedAt > b.receivedAt ? -1 : 0))
      .slice(0, limit);
  }

  async undecided(receivedBefore: string): Promise<SignalRecord[]> {
    return [...this.records.values()]
      .filter((r) => r.status === 'received' && r.receivedAt < receivedBefore)
      .sort((a, b) => (a.receivedAt < b.receivedAt ? -1 : a.receivedAt > b.receivedAt ? 1 : 0));
  }

  async receivedOn(day: string): Promise<SignalRecord[]> {
    return [...this.records.values()]
      .filter((r) => r.receivedAt.slice(0, 10) === day)
      .sort((a, b) => (a.receivedAt < b.receivedAt ? -1 : a.receivedAt > b.receivedAt ? 1 : 0));
  }

  /** The record as stored (records are replaced, never mutated, so it may be kept). */
  peek(signalId: string): SignalRecord | undefined {
    return this.records.get(signalId);
  }

  /** Stores the record as given (the book's commits, which check their own conditions). */
  replace(record: SignalRecord): void {
    this.records.set(record.signalId, record);
  }

  /**
   * Drops a decided signal. The backtester replays millions of bars: it keeps what it reports and
   * lets the records go. The dedup marker stays until it expires, as a re-delivery must still be
   * recognised.
   */
  forget(signalId: string): void {
    this.records.delete(signalId);
  }

  /** Drops dedup markers expired at `nowSeconds` (they already count as absent). */
  sweepMarkers(nowSeconds: number): void {
    for (const [key, marker] of this.markers) if (marker.ttl < nowSeconds) this.markers.delete(key);
  }

  get markerCount(): number {
    return this.markers.size;
  }
}
