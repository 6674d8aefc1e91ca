import { describe, expect, it } from 'vitest';
import { AlpacaOrderUnreadableError, reportOf } from '../../shared/adapters/alpaca/alpaca-broker.js';

/** An order as Alpaca's SDK returns it (camelCase), with the fields Pinebridge books from. */
const anAlpacaOrder = (fields: Record<string, unknown> = {}) => ({
  id: '61e69015-8549-4bfd-b9c3-01e75843f47d',
  clientOrderId: 'pb-s1',
  symbol: 'AAPL',
  status: 'new',
  filledQty: '0',
  filledAvgPrice: null,
  ...fields,
});

describe("reportOf: Alpaca's order as Pinebridge's report", () => {
  it.each([
    ['filled', '10', 'filled'],
    ['partially_filled', '4', 'partially_filled'],
    ['canceled', '0', 'cancelled'],
    ['canceled', '4', 'cancelled'],
    ['expired', '0', 'expired'],
    ['rejected', '0', 'rejected'],
    ['suspended', '0', 'rejected'],
    ['new', '0', 'new'],
    ['accepted', '0', 'new'],
    ['pending_new', '0', 'new'],
    ['accepted_for_bidding', '0', 'new'],
    ['pending_cancel', '0', 'new'],
    ['pending_cancel', '4', 'partially_filled'],
    ['pending_replace', '0', 'new'],
    ['done_for_day', '4', 'partially_filled'],
    ['stopped', '0', 'new'],
    ['calculated', '0', 'new'],
  ])('Alpaca %s with %s filled is %s', (status, filledQty, expected) => {
    const report = reportOf(anAlpacaOrder({ status, filledQty }), 'pb-s1');

    expect(report.status).toBe(expected);
    expect(report.filledQuantity).toBe(filledQty);
  });

  it('keeps the broker order id and the average fill price as Alpaca sent them', () => {
    expect(
      reportOf(anAlpacaOrder({ status: 'filled', filledQty: '10', filledAvgPrice: '187.51' }), 'pb-s1'),
    ).toEqual({
      clientOrderId: 'pb-s1',
      brokerOrderId: '61e69015-8549-4bfd-b9c3-01e75843f47d',
      status: 'filled',
      filledQuantity: '10',
      averageFillPrice: '187.51',
      commission: '0',
    });
  });

  it.each([
    ['a replaced order (its fills go on under another id)', { status: 'replaced' }, /replaced/],
    ['an undocumented status', { status: 'held' }, /status/],
    ['no order id', { id: undefined }, /id/],
    ['an empty order id', { id: '' }, /id/],
    ['no filled quantity', { filledQty: undefined }, /filledQty/],
    ['a filled quantity that is not a decimal', { filledQty: 'NaN' }, /filledQty/],
  ])(
    'refuses %s instead of guessing (the order becomes unknown for the reconciler)',
    (_case, fields, named) => {
      expect(() => reportOf(anAlpacaOrder(fields), 'pb-s1')).toThrow(AlpacaOrderUnreadableError);
      expect(() => reportOf(anAlpacaOrder(fields), 'pb-s1')).toThrow(named);
    },
  );
});
