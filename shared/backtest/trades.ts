/** One execution: what the broker filled, when, at what price and commission. */
export interface Fill {
  /** Epoch milliseconds. */
  time: number;
  side: 'buy' | 'sell';
  quantity: number;
  price: number;
  commission: number;
}

/**
 * A round trip: a quantity opened by one fill and closed by a later one. Amounts are floating
 * point (they feed statistics); the account's cash and realized P&L stay exact in the store.
 */
export interface ClosedTrade {
  direction: 'long' | 'short';
  quantity: number;
  entryTime: number;
  entryPrice: number;
  exitTime: number;
  exitPrice: number;
  /** Both fills' commissions, pro rata to this trade's quantity. */
  commission: number;
  /** (exit − entry) × quantity, negated for a short, less commission. */
  pnl: number;
  /** pnl / (entry price × quantity) × 100. */
  returnPercent: number;
}

/** A quantity still open: the part of an opening fill no later fill has closed. */
export interface OpenLot {
  direction: 'long' | 'short';
  quantity: number;
  entryTime: number;
  entryPrice: number;
  /** The opening commission still attached to this quantity. */
  commission: number;
}

/**
 * Pairs fills into trades first-in, first-out (as backtesting.py and TradingView's List of trades
 * do): a fill against the open direction closes the oldest quantity first, each closed piece is a
 * trade, and what is left of the fill opens the other way. Fed in time order, from a backtest or
 * from a live account's recorded fills alike.
 */
export class TradeLedger {
  readonly closed: ClosedTrade[] = [];
  private lots: OpenLot[] = [];
  private head = 0;

  add(fill: Fill): void {
    if (!(fill.quantity > 0)) return;
    const direction = fill.side === 'buy' ? 'long' : 'short';
    let remaining = fill.quantity;
    const commissionPerUnit = fill.commission / fill.quantity;
    while (remaining > 0 && this.head < this.lots.length) {
      const lot = this.lots[this.head] as OpenLot;
      if (lot.direction === direction) break;
      const quantity = Math.min(lot.quantity, remaining);
      const entryCommission = lot.commission * (quantity / lot.quantity);
      const commission = entryCommission + commissionPerUnit * quantity;
      const sign = lot.direction === 'long' ? 1 : -1;
      const pnl = (fill.price - lot.entryPrice) * quantity * sign - commission;
      this.closed.push({
        direction: lot.direction,
        quantity,
        entryTime: lot.entryTime,
        entryPrice: lot.entryPrice,
        exitTime: fill.time,
        exitPrice: fill.price,
        commission,
        pnl,
        returnPercent: (pnl / (lot.entryPrice * quantity)) * 100,
      });
      remaining -= quantity;
      if (quantity >= lot.quantity) {
        this.head += 1;
      } else {
        this.lots[this.head] = {
          ...lot,
          quantity: lot.quantity - quantity,
          commission: lot.commission - entryCommission,
        };
      }
    }
    // Forget fully closed lots now and then, so the list does not grow with the run.
    if (this.head > 64 && this.head * 2 > this.lots.length) {
      this.lots = this.lots.slice(this.head);
      this.head = 0;
    }
    if (remaining > 1e-12 * fill.quantity) {
      this.lots.push({
        direction,
        quantity: remaining,
        entryTime: fill.time,
        entryPrice: fill.price,
        commission: commissionPerUnit * remaining,
      });
    }
  }

  /** What is still open, oldest first. */
  open(): OpenLot[] {
    return this.lots.slice(this.head);
  }
}
