import { describe, expect, it } from 'vitest';
import { dec } from '../../shared/domain/money.js';
import type { OrderRecord } from '../../shared/ports/index.js';
import { equityCurveOf } from '../../shared/usecases/status.js';
import { anIntent } from '../fixtures/builders.js';

const anOrder = (overrides: Partial<OrderRecord>): OrderRecord => ({
  clientOrderId: 'pb-s1',
  signalId: 's1',
  intent: anIntent(),
  status: 'filled',
  filledQuantity: '10',
  bookedQuantity: '10',
  averageFillPrice: '100',
  commission: '0',
  realizedPnl: '0',
  final: true,
  createdAt: '2026-11-25T14:30:00.000Z',
  updatedAt: '2026-11-25T14:30:01.000Z',
  ...overrides,
});

const NOW = new Date('2026-11-25T16:00:00.000Z');

describe('the equity curve', () => {
  it('steps by each booked order’s realized P&L, oldest first, and ends now marked to market', () => {
    // Bought at 10:30 (−1.00 commission), sold half at 11:00 (+49.00 net), sold the rest at 11:30 (−20.50 net).
    const orders = [
      anOrder({
        clientOrderId: 'pb-3',
        realizedPnl: '-20.5',
        createdAt: '2026-11-25T16:30:00.000Z',
        updatedAt: '2026-11-25T16:30:00.500Z',
      }),
      anOrder({
        clientOrderId: 'pb-1',
        realizedPnl: '-1',
        createdAt: '2026-11-25T15:30:00.000Z',
        updatedAt: '2026-11-25T15:30:00.200Z',
      }),
      anOrder({
        clientOrderId: 'pb-2',
        realizedPnl: '49',
        createdAt: '2026-11-25T16:00:00.000Z',
        updatedAt: '2026-11-25T16:00:00.300Z',
      }),
    ];

    const curve = equityCurveOf(orders, dec('100027.50'), dec('0'), new Date('2026-11-25T17:00:00.000Z'));

    expect(curve).toEqual([
      { at: '2026-11-25T15:30:00.000Z', equity: '100000.00' },
      { at: '2026-11-25T15:30:00.200Z', equity: '99999.00' },
      { at: '2026-11-25T16:00:00.300Z', equity: '100048.00' },
      { at: '2026-11-25T16:30:00.500Z', equity: '100027.50' },
      { at: '2026-11-25T17:00:00.000Z', equity: '100027.50' },
    ]);
  });

  it('keeps open positions at cost until the last point, which adds their unrealized P&L', () => {
    const bought = anOrder({ realizedPnl: '0' });

    const curve = equityCurveOf([bought], dec('100150'), dec('150'), NOW);

    expect(curve.map((p) => p.equity)).toEqual(['100000.00', '100000.00', '100150.00']);
  });

  it('leaves out orders that booked nothing, and is the current equity alone before any trade', () => {
    const rejected = anOrder({
      status: 'rejected',
      filledQuantity: '0',
      bookedQuantity: '0',
      realizedPnl: '0',
    });

    expect(equityCurveOf([rejected], dec('100000'), dec('0'), NOW)).toEqual([
      { at: NOW.toISOString(), equity: '100000.00' },
    ]);
  });
});
