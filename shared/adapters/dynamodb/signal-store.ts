import {
  type DynamoDBDocumentClient,
  GetCommand,
  QueryCommand,
  type QueryCommandInput,
  TransactWriteCommand,
} from '@aws-sdk/lib-dynamodb';
import * as z from 'zod';
import { sha256 } from '../../domain/ids.js';
import type { NewSignal, RecordSignalResult, SignalRecord, SignalStore } from '../../ports/index.js';
import { parseSignalRecord } from '../signal-record.js';
import { cancellationReasons } from './client.js';

const DedupItemSchema = z.object({ signalId: z.string(), payloadHash: z.string() });

/** The `undecided` attribute's one value: the sparse byUndecided index's single partition. */
const UNDECIDED = 'received';

const dedupPk = (dedupKey: string) => `dedup#${sha256(dedupKey).toString('hex')}`;

export class DynamoSignalStore implements SignalStore {
  constructor(
    private readonly db: DynamoDBDocumentClient,
    private readonly tableName: string,
  ) {}

  async recordNew(input: NewSignal): Promise<RecordSignalResult> {
    const nowSeconds = Math.floor(Date.parse(input.receivedAt) / 1000);
    try {
      await this.db.send(
        new TransactWriteCommand({
          TransactItems: [
            {
              Put: {
                TableName: this.tableName,
                Item: {
                  pk: dedupPk(input.dedupKey),
                  signalId: input.signalId,
                  payloadHash: input.payloadHash,
                  ttl: Math.floor(input.dedupExpiresAt.getTime() / 1000),
                },
                // TTL deletion is lazy, so an expired marker must be treated as absent here.
                ConditionExpression: 'attribute_not_exists(pk) OR #ttl < :now',
                ExpressionAttributeNames: { '#ttl': 'ttl' },
                ExpressionAttributeValues: { ':now': nowSeconds },
              },
            },
            {
              Put: {
                TableName: this.tableName,
                Item: {
                  pk: input.signalId,
                  signalId: input.signalId,
                  status: 'received',
                  signal: input.signal,
                  receivedAt: input.receivedAt,
                  updatedAt: input.receivedAt,
                  day: input.receivedAt.slice(0, 10),
                  undecided: UNDECIDED,
                },
                ConditionExpression: 'attribute_not_exists(pk)',
              },
            },
          ],
        }),
      );
      return { kind: 'recorded' };
    } catch (error) {
      const reasons = cancellationReasons(error);
      if (reasons === undefined || !reasons.includes('ConditionalCheckFailed')) throw error;
      const existing = await this.db.send(
        new GetCommand({
          TableName: this.tableName,
          Key: { pk: dedupPk(input.dedupKey) },
          ConsistentRead: true,
        }),
      );
      const marker = DedupItemSchema.safeParse(existing.Item);
      if (!marker.success) throw error;
      return marker.data.payloadHash === input.payloadHash
        ? { kind: 'duplicate', signalId: marker.data.signalId }
        : { kind: 'conflict', signalId: marker.data.signalId };
    }
  }

  async get(signalId: string): Promise<SignalRecord | undefined> {
    const result = await this.db.send(
      new GetCommand({ TableName: this.tableName, Key: { pk: signalId }, ConsistentRead: true }),
    );
    return result.Item === undefined ? undefined : parseSignalRecord(result.Item);
  }

  async recent(limit: number, now: Date): Promise<SignalRecord[]> {
    const records: SignalRecord[] = [];
    for (let daysBack = 0; daysBack < 7 && records.length < limit; daysBack++) {
      const day = new Date(now.getTime() - daysBack * 86_400_000).toISOString().slice(0, 10);
      const result = await this.db.send(
        this.onDay(day, { ScanIndexForward: false, Limit: limit - records.length }),
      );
      records.push(...(result.Items ?? []).map(parseSignalRecord));
    }
    return records;
  }

  async undecided(receivedBefore: string): Promise<SignalRecord[]> {
    const records: SignalRecord[] = [];
    let startKey: Record<string, unknown> | undefined;
    do {
      const page = await this.db.send(
        new QueryCommand({
          TableName: this.tableName,
          IndexName: 'byUndecided',
          KeyConditionExpression: 'undecided = :undecided AND receivedAt < :before',
          ExpressionAttributeValues: { ':undecided': UNDECIDED, ':before': receivedBefore },
          ExclusiveStartKey: startKey,
        }),
      );
      records.push(...(page.Items ?? []).map(parseSignalRecord));
      startKey = page.LastEvaluatedKey;
    } while (startKey);
    // The index is eventually consistent: a signal decided a moment ago may still be listed.
    return records.filter((r) => r.status === 'received');
  }

  async receivedOn(day: string): Promise<SignalRecord[]> {
    const records: SignalRecord[] = [];
    let startKey: Record<string, unknown> | undefined;
    do {
      const page = await this.db.send(this.onDay(day, { ExclusiveStartKey: startKey }));
      records.push(...(page.Items ?? []).map(parseSignalRecord));
      startKey = page.LastEvaluatedKey;
    } while (startKey);
    return records;
  }

  /** The byDay index query for one UTC day. */
  private onDay(
    day: string,
    options: Pick<QueryCommandInput, 'ScanIndexForward' | 'Limit' | 'ExclusiveStartKey'>,
  ) {
    return new QueryCommand({
      TableName: this.tableName,
      IndexName: 'byDay',
      KeyConditionExpression: '#day = :day',
      ExpressionAttributeNames: { '#day': 'day' },
      ExpressionAttributeValues: { ':day': day },
      ...options,
    });
  }
}
