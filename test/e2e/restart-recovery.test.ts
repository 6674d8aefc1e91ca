import { randomUUID } from 'node:crypto';
import { ScanCommand } from '@aws-sdk/lib-dynamodb';
import { describe, expect, inject, it } from 'vitest';
import { ensureTables } from '../../infra/local/dynamodb-local.js';
import { startLocalRuntime } from '../../infra/local/runtime.js';
import { createCoreDependencies } from '../../shared/adapters/dependencies.js';
import { dynamoStorage } from '../../shared/adapters/dynamodb/storage.js';
import { tableNamesFor } from '../../shared/adapters/dynamodb/tables.js';
import { parseConfig } from '../../shared/config/load.js';
import { validateAlert } from '../../shared/domain/alert.js';
import { canonicalJson, dedupKeyOf, sha256, signalIdOf } from '../../shared/domain/ids.js';
import { riskCheck, submitOrder } from '../../shared/usecases/trade-flow.js';
import { documentClient } from '../support/dynamo.js';

describe('restart after a crash mid-flight', () => {
  it('adopts an order the broker filled, releases one it never saw, and places no second order', async () => {
    const endpoint = inject('dynamoEndpoint');
    const prefix = `crash-${randomUUID().slice(0, 8)}`;
    const tables = tableNamesFor(prefix);
    await ensureTables(endpoint, tables);
    const config = parseConfig({ risk: { duplicateWindowSeconds: 0, pyramiding: true } });
    const before = createCoreDependencies(config, dynamoStorage(tables, { endpoint }), {
      publisher: {
        publish: async () => {
          throw new Error('nothing is published before the crash in this test');
        },
      },
    });
    const record = async (ticker: string) => {
      const validated = validateAlert({ ticker, action: 'buy', quantity: 2, price: 100, id: randomUUID() });
      if (!validated.ok) throw new Error(validated.error);
      const receivedAt = new Date().toISOString();
      const dedupKey = dedupKeyOf(validated.signal.alertId, canonicalJson(validated.signal));
      const signalId = signalIdOf(dedupKey, receivedAt);
      await before.signals.recordNew({
        signalId,
        signal: validated.signal,
        receivedAt,
        dedupKey,
        payloadHash: sha256(canonicalJson(validated.signal)).toString('hex'),
        dedupExpiresAt: new Date(Date.now() + 60_000),
      });
      return signalId;
    };
    // Crash 1: the broker filled the order, the process died before recording it.
    const submitted = await record('AAPL');
    const approvedA = await riskCheck({ signalId: submitted, symbol: 'AAPL', receivedAt: '' }, before);
    if (approvedA.decision !== 'approved') throw new Error('fixture must be approved');
    await submitOrder({ signalId: submitted, clientOrderId: approvedA.clientOrderId }, before);
    // Crash 2: approved (cash reserved), the process died before submitting.
    const approvedOnly = await record('MSFT');
    const approvedB = await riskCheck({ signalId: approvedOnly, symbol: 'MSFT', receivedAt: '' }, before);
    if (approvedB.decision !== 'approved') throw new Error('fixture must be approved');
    expect((await before.store.snapshot()).account.reservedCash).toBe('400');

    const restarted = await startLocalRuntime({
      config,
      webhookSecret: 'w'.repeat(24),
      adminToken: 'a'.repeat(24),
      port: 0,
      store: { kind: 'dynamodb', endpoint: endpoint, tablePrefix: prefix },
    });
    try {
      await restarted.settle();
      const signals = restarted.deps.signals;
      expect((await signals.get(submitted))?.status).toBe('filled');
      expect((await signals.get(approvedOnly))?.status).toBe('failed');
      const snapshot = await restarted.deps.store.snapshot();
      expect(snapshot.positions.AAPL?.quantity).toBe('2');
      expect(snapshot.positions.MSFT?.quantity ?? '0').toBe('0');
      expect(snapshot.account.reservedCash).toBe('0');
      expect(snapshot.account.cash).toBe('99800');
      const venue = await documentClient().send(
        new ScanCommand({ TableName: tables.paperOrders, ConsistentRead: true }),
      );
      expect(venue.Items).toHaveLength(1);
    } finally {
      await restarted.stop();
    }
  });
});
