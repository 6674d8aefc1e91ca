import { Decimal, dec, str, toCents, toPriceIncrement } from './money.js';
import type { BrokerOrderStatus, OrderIntent } from './trading.js';

export interface PaperTerms {
  slippageBps: number;
  commissionPerOrder: string;
  /** A commission in percent of each fill's notional, on top of the flat one (the backtester's option). */
  commissionPercent?: number;
}

export interface PaperExecution {
  status: Extract<BrokerOrderStatus, 'new' | 'filled' | 'rejected'>;
  fillPrice?: string;
  commission: string;
  reason?: string;
}

/**
 * How the paper broker executes an order at a market price: market orders fill at once with
 * adverse slippage; limit orders fill when marketable (never through their limit) and rest
 * otherwise; stop orders rest until triggered. No price: a market order is rejected (fail
 * closed), any other order rests until a price arrives.
 */
export function executePaper(
  intent: OrderIntent,
  marketPrice: string | undefined,
  terms: PaperTerms,
): PaperExecution {
  if (marketPrice === undefined) {
    return {
      status: 'rejected',
      commission: '0',
      reason: 'NO_FRESH_PRICE: the paper broker has no price for this symbol',
    };
  }
  const market = dec(marketPrice);
  const buy = intent.side === 'buy';
  const slipped = toPriceIncrement(
    market.times(
      dec(1).plus(
        dec(terms.slippageBps)
          .div(10_000)
          .times(buy ? 1 : -1),
      ),
    ),
    buy ? Decimal.ROUND_UP : Decimal.ROUND_DOWN,
  );

  const stopTriggered =
    intent.stopPrice === undefined ||
    (buy ? market.gte(dec(intent.stopPrice)) : market.lte(dec(intent.stopPrice)));
  if (!stopTriggered) return { status: 'new', commission: '0' };

  if (intent.orderType === 'market' || intent.orderType === 'stop') {
    return { status: 'filled', fillPrice: str(slipped), commission: commissionOf(terms, slipped, intent) };
  }
  const limit = dec(intent.limitPrice ?? '0');
  const marketable = buy ? market.lte(limit) : market.gte(limit);
  if (!marketable) return { status: 'new', commission: '0' };
  const price = buy ? Decimal.min(slipped, limit) : Decimal.max(slipped, limit);
  return { status: 'filled', fillPrice: str(price), commission: commissionOf(terms, price, intent) };
}

/** The flat commission, plus the percentage of the fill's notional (to the cent) when one is set. */
function commissionOf(terms: PaperTerms, price: Decimal, intent: OrderIntent): string {
  const percent = terms.commissionPercent ?? 0;
  if (percent === 0) return terms.commissionPerOrder;
  const variable = toCents(price.times(dec(intent.quantity)).times(dec(percent)).div(100));
  return str(dec(terms.commissionPerOrder).plus(variable));
}
