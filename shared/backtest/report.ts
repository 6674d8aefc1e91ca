import type { BacktestResult } from './engine.js';
import type { Metrics } from './metrics.js';

const DAY_MS = 86_400_000;

/** A duration as backtesting.py prints it: `123 days 04:05:00`. */
export function formatDuration(ms: number | null): string {
  if (ms === null) return '—';
  const days = Math.floor(ms / DAY_MS);
  const rest = ms - days * DAY_MS;
  const hh = String(Math.floor(rest / 3_600_000)).padStart(2, '0');
  const mm = String(Math.floor((rest % 3_600_000) / 60_000)).padStart(2, '0');
  const ss = String(Math.floor((rest % 60_000) / 1000)).padStart(2, '0');
  return `${days} days ${hh}:${mm}:${ss}`;
}

const num = (value: number | null, digits = 2): string =>
  value === null
    ? '—'
    : value.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });

/** The metrics as label / value rows, in backtesting.py's order and with its names. */
export function metricRows(m: Metrics): [string, string][] {
  return [
    ['Start', m.start],
    ['End', m.end],
    ['Duration', formatDuration(m.durationMs)],
    ['Exposure Time [%]', num(m.exposureTimePercent)],
    ['Equity Final [$]', num(m.equityFinal)],
    ['Equity Peak [$]', num(m.equityPeak)],
    ['Return [%]', num(m.returnPercent)],
    ['Buy & Hold Return [%]', num(m.buyAndHoldReturnPercent)],
    ['Return (Ann.) [%]', num(m.returnAnnualizedPercent)],
    ['Volatility (Ann.) [%]', num(m.volatilityAnnualizedPercent)],
    ['CAGR [%]', num(m.cagrPercent)],
    ['Sharpe Ratio', num(m.sharpeRatio)],
    ['Sortino Ratio', num(m.sortinoRatio)],
    ['Calmar Ratio', num(m.calmarRatio)],
    ['Max. Drawdown [%]', num(m.maxDrawdownPercent)],
    ['Avg. Drawdown [%]', num(m.avgDrawdownPercent)],
    ['Max. Drawdown Duration', formatDuration(m.maxDrawdownDurationMs)],
    ['Avg. Drawdown Duration', formatDuration(m.avgDrawdownDurationMs)],
    ['# Trades', String(m.trades)],
    ['Win Rate [%]', num(m.winRatePercent)],
    ['Best Trade [%]', num(m.bestTradePercent)],
    ['Worst Trade [%]', num(m.worstTradePercent)],
    ['Avg. Trade [%]', num(m.avgTradePercent)],
    ['Max. Trade Duration', formatDuration(m.maxTradeDurationMs)],
    ['Avg. Trade Duration', formatDuration(m.avgTradeDurationMs)],
    ['Profit Factor', num(m.profitFactor)],
    ['Expectancy [%]', num(m.expectancyPercent)],
    ['Expectancy [$]', num(m.expectancy)],
    ['SQN', num(m.sqn)],
  ];
}

const pad = (rows: [string, string][]): string => {
  const width = Math.max(...rows.map(([label]) => label.length));
  return rows.map(([label, value]) => `${label.padEnd(width)}  ${value}`).join('\n');
};

/** Signals not filled, most frequent first. */
export function reasonRows(counts: Record<string, number>): [string, number][] {
  return Object.entries(counts).sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1));
}

/** The console report: the run, the metrics, the signals and why those not filled were not. */
export function formatConsole(result: BacktestResult): string {
  const { signals, account } = result;
  const head: [string, string][] = [
    ['Symbol', result.symbol],
    ['Strategy', result.strategy],
    ['Fill', result.fill],
    ['Bars', result.bars.toLocaleString('en-US')],
  ];
  const reasons = reasonRows(signals.byReason);
  const lines = [
    pad(head),
    '',
    pad(metricRows(result.metrics)),
    '',
    pad([
      ['Signals sent', String(signals.sent)],
      ['Signals filled', String(signals.filled)],
      ['Signals not filled', String(signals.sent - signals.filled)],
      ['Cash [$]', account.cash],
      ['Realized P&L [$]', account.realizedPnl],
      ['Commissions [$]', account.commissions],
      ['Open position', account.position],
      ['Equity (exact) [$]', account.equity],
    ]),
  ];
  if (reasons.length > 0) {
    lines.push(
      '',
      'Signals not filled, by reason',
      pad(reasons.map(([code, count]) => [code, String(count)])),
    );
  }
  const notes = reasonRows(signals.notes);
  if (notes.length > 0) {
    lines.push('', 'Notes on filled signals', pad(notes.map(([code, count]) => [code, String(count)])));
  }
  if (result.transitions.length > 0) {
    lines.push(
      '',
      `Circuit breaker: ${result.transitions.length} transition(s)`,
      ...result.transitions
        .slice(0, 10)
        .map((t) => `  ${t.at}  ${t.from} → ${t.to}${t.trip ? ` (${t.trip})` : ''}: ${t.reason}`),
    );
    if (result.transitions.length > 10)
      lines.push(`  … ${result.transitions.length - 10} more in the report`);
  }
  return `${lines.join('\n')}\n`;
}

/** The result as JSON: metrics, signals by reason, account, breaker transitions and every trade. */
export function toJson(result: BacktestResult): Record<string, unknown> {
  return {
    symbol: result.symbol,
    strategy: result.strategy,
    fill: result.fill,
    bars: result.bars,
    metrics: result.metrics,
    signals: {
      sent: result.signals.sent,
      filled: result.signals.filled,
      notFilledByReason: result.signals.byReason,
      denials: result.signals.denials,
      notes: result.signals.notes,
      rejected: result.signals.samples.map((d) => ({ ...d, time: new Date(d.time).toISOString() })),
    },
    account: result.account,
    breaker: result.transitions,
    trades: result.trades.map((t) => ({
      ...t,
      entryTime: new Date(t.entryTime).toISOString(),
      exitTime: new Date(t.exitTime).toISOString(),
    })),
    openTrades: result.open.map((t) => ({ ...t, entryTime: new Date(t.entryTime).toISOString() })),
  };
}

const MAX_POINTS = 4000;
const MAX_MARKERS = 1500;
const MAX_TRADE_ROWS = 500;

/** Chart data thinned to at most MAX_POINTS: candles merged per bucket, the curves sampled per bucket. */
export function chartData(result: BacktestResult) {
  const { candles, equity } = result;
  const n = candles.length;
  const bucket = Math.max(1, Math.ceil(n / MAX_POINTS));
  const seconds = (ms: number) => Math.floor(ms / 1000);
  const price: { time: number; open: number; high: number; low: number; close: number }[] = [];
  const curve: { time: number; value: number }[] = [];
  const drawdown: { time: number; value: number }[] = [];
  let peak = Number.NEGATIVE_INFINITY;
  let deepest = 0;
  for (let start = 0; start < n; start += bucket) {
    const end = Math.min(n, start + bucket);
    let high = Number.NEGATIVE_INFINITY;
    let low = Number.POSITIVE_INFINITY;
    deepest = 0;
    for (let i = start; i < end; i++) {
      high = Math.max(high, candles.high[i] as number);
      low = Math.min(low, candles.low[i] as number);
      const e = equity[i] as number;
      peak = Math.max(peak, e);
      deepest = Math.min(deepest, (e / peak - 1) * 100);
    }
    const time = seconds(candles.time[start] as number);
    price.push({
      time,
      open: candles.open[start] as number,
      high,
      low,
      close: candles.close[end - 1] as number,
    });
    curve.push({ time, value: equity[end - 1] as number });
    drawdown.push({ time, value: deepest });
  }
  // Markers need the time of the bucket a trade falls in.
  const bucketTime = (ms: number): number => {
    let lo = 0;
    let hi = n - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if ((candles.time[mid] as number) <= ms) lo = mid;
      else hi = mid - 1;
    }
    return seconds(candles.time[lo - (lo % bucket)] as number);
  };
  const markers: { time: number; position: string; color: string; shape: string; text: string }[] = [];
  if (result.trades.length * 2 <= MAX_MARKERS) {
    // Labels only while they can be read; beyond that the shapes alone.
    const labelled = result.trades.length <= 30;
    for (const t of result.trades) {
      const long = t.direction === 'long';
      markers.push({
        time: bucketTime(t.entryTime),
        position: long ? 'belowBar' : 'aboveBar',
        color: long ? '#1b873f' : '#c62828',
        shape: long ? 'arrowUp' : 'arrowDown',
        text: labelled ? `${long ? 'Buy' : 'Sell'} ${t.quantity} @ ${t.entryPrice}` : '',
      });
      markers.push({
        time: bucketTime(t.exitTime),
        position: long ? 'aboveBar' : 'belowBar',
        color: '#455a64',
        shape: 'circle',
        text: labelled ? `Exit ${t.returnPercent.toFixed(2)}%` : '',
      });
    }
    for (const t of result.open) {
      markers.push({
        time: bucketTime(t.entryTime),
        position: t.direction === 'long' ? 'belowBar' : 'aboveBar',
        color: t.direction === 'long' ? '#1b873f' : '#c62828',
        shape: t.direction === 'long' ? 'arrowUp' : 'arrowDown',
        text: `Open ${t.quantity} @ ${t.entryPrice}`,
      });
    }
    markers.sort((a, b) => a.time - b.time);
  }
  return {
    price,
    curve,
    drawdown,
    markers,
    bucket,
    markersShown: markers.length > 0 || result.trades.length === 0,
  };
}

const escapeHtml = (text: string): string =>
  text.replace(
    /[&<>"']/g,
    (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] ?? c,
  );

/** JSON safe to embed in a <script> element. */
const scriptJson = (value: unknown): string => JSON.stringify(value).replace(/</g, '\\u003c');

/**
 * A self-contained HTML report: metrics, signals by reason, breaker transitions, trades, and three
 * charts drawn with TradingView's lightweight-charts — price with the trades marked, equity, and
 * drawdown. `library` is the library's standalone build, inlined (no CDN, nothing fetched).
 */
export function renderHtml(result: BacktestResult, library: string): string {
  const data = chartData(result);
  const rows = (pairs: [string, string][]) =>
    pairs.map(([k, v]) => `<tr><th>${escapeHtml(k)}</th><td>${escapeHtml(v)}</td></tr>`).join('');
  const reasons = reasonRows(result.signals.byReason);
  const trades = result.trades.slice(0, MAX_TRADE_ROWS);
  const title = `Backtest ${result.symbol} · ${result.strategy}`;
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)}</title>
<style>
body { font: 14px/1.4 system-ui, sans-serif; margin: 24px; color: #1d2329; }
h1 { font-size: 20px; } h2 { font-size: 16px; margin-top: 28px; }
.chart { width: 100%; height: 360px; margin: 8px 0 4px; }
.small { height: 200px; }
table { border-collapse: collapse; margin: 8px 0; }
th, td { text-align: left; padding: 2px 12px 2px 0; border-bottom: 1px solid #eceff1; font-variant-numeric: tabular-nums; }
td.n { text-align: right; }
.grid { display: flex; gap: 48px; flex-wrap: wrap; }
.note { color: #607d8b; }
</style>
</head>
<body>
<h1>${escapeHtml(title)}</h1>
<p class="note">${escapeHtml(`${result.bars.toLocaleString('en-US')} bars, ${result.fill} fills. Every signal went through Pinebridge's webhook, risk checks, circuit breaker and paper broker on simulated time.`)}${data.bucket > 1 ? escapeHtml(` Charts merge ${data.bucket} bars per point.`) : ''}</p>
<h2>Price and trades</h2>
<div id="price" class="chart"></div>
${data.markersShown ? '' : `<p class="note">${result.trades.length} trades: too many to mark on the chart.</p>`}
<h2>Equity</h2>
<div id="equity" class="chart small"></div>
<h2>Drawdown [%]</h2>
<div id="drawdown" class="chart small"></div>
<div class="grid">
<div><h2>Metrics</h2><table>${rows(metricRows(result.metrics))}</table></div>
<div>
<h2>Signals</h2><table>${rows([
    ['Sent', String(result.signals.sent)],
    ['Filled', String(result.signals.filled)],
    ['Not filled', String(result.signals.sent - result.signals.filled)],
    ['Equity (exact) [$]', result.account.equity],
    ['Realized P&L [$]', result.account.realizedPnl],
    ['Commissions [$]', result.account.commissions],
  ])}</table>
<h2>Not filled, by reason</h2>
${reasons.length === 0 ? '<p class="note">Every signal was filled.</p>' : `<table>${reasons.map(([code, count]) => `<tr><th>${escapeHtml(code)}</th><td class="n">${count}</td></tr>`).join('')}</table>`}
<h2>Circuit breaker</h2>
${result.transitions.length === 0 ? '<p class="note">No transitions.</p>' : `<table>${result.transitions.map((t) => `<tr><td>${escapeHtml(t.at)}</td><td>${escapeHtml(`${t.from} → ${t.to}`)}</td><td>${escapeHtml(t.reason)}</td></tr>`).join('')}</table>`}
</div>
</div>
<h2>First rejections</h2>
${
  result.signals.samples.length === 0
    ? '<p class="note">None.</p>'
    : `<table><tr><th>Time</th><th>Action</th><th>Reason</th></tr>${result.signals.samples
        .slice(0, 100)
        .map(
          (d) =>
            `<tr><td>${escapeHtml(new Date(d.time).toISOString())}</td><td>${escapeHtml(d.action)}</td><td>${escapeHtml(d.detail ?? d.code ?? d.status)}</td></tr>`,
        )
        .join('')}</table>`
}
<h2>Trades${result.trades.length > MAX_TRADE_ROWS ? ` (first ${MAX_TRADE_ROWS} of ${result.trades.length})` : ''}</h2>
<table><tr><th>Direction</th><th>Qty</th><th>Entry</th><th>Entry price</th><th>Exit</th><th>Exit price</th><th>P&amp;L [$]</th><th>Return [%]</th></tr>
${trades
  .map(
    (t) =>
      `<tr><td>${t.direction}</td><td class="n">${t.quantity}</td><td>${new Date(t.entryTime).toISOString()}</td><td class="n">${t.entryPrice}</td><td>${new Date(t.exitTime).toISOString()}</td><td class="n">${t.exitPrice}</td><td class="n">${t.pnl.toFixed(2)}</td><td class="n">${t.returnPercent.toFixed(2)}</td></tr>`,
  )
  .join('')}
</table>
<script>${library.replace(/<\/script/gi, '<\\/script')}</script>
<script>
const data = ${scriptJson({ price: data.price, curve: data.curve, drawdown: data.drawdown, markers: data.markers })};
const LC = LightweightCharts;
const options = (el) => ({ width: el.clientWidth, height: el.clientHeight, layout: { background: { color: '#ffffff' }, textColor: '#1d2329' }, timeScale: { timeVisible: true }, rightPriceScale: { borderVisible: false } });
const make = (id) => { const el = document.getElementById(id); const chart = LC.createChart(el, options(el)); return chart; };
const priceChart = make('price');
const candles = priceChart.addSeries(LC.CandlestickSeries, { upColor: '#26a69a', downColor: '#ef5350', borderVisible: false, wickUpColor: '#26a69a', wickDownColor: '#ef5350' });
candles.setData(data.price);
if (data.markers.length > 0) LC.createSeriesMarkers(candles, data.markers);
priceChart.timeScale().fitContent();
const equityChart = make('equity');
equityChart.addSeries(LC.LineSeries, { color: '#1565c0', lineWidth: 2 }).setData(data.curve);
equityChart.timeScale().fitContent();
const drawdownChart = make('drawdown');
drawdownChart.addSeries(LC.AreaSeries, { lineColor: '#c62828', topColor: 'rgba(198,40,40,0.05)', bottomColor: 'rgba(198,40,40,0.35)', invertFilledArea: true }).setData(data.drawdown);
drawdownChart.timeScale().fitContent();
window.addEventListener('resize', () => { for (const [chart, id] of [[priceChart, 'price'], [equityChart, 'equity'], [drawdownChart, 'drawdown']]) chart.applyOptions({ width: document.getElementById(id).clientWidth }); });
window.pinebridgeChartsReady = true;
</script>
</body>
</html>
`;
}
