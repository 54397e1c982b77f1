// Exchange: the order book kept live from `orderbook:<market>` diffs (snapshot + sequence checks,
// re-snapshot on a gap), recent trades, a candle chart from klines, order entry, my open orders.
import { h, fill, field, notice, errorText, table, when, short } from './util.js';
import * as api from './api.js';
import { needKey, badge } from './common.js';
import { candleChart } from './charts.js';

/** Exact comparison of two decimal strings (prices), no floating point. */
function decCmp(a, b) {
  const scale = s => {
    const [i, f = ''] = s.split('.');
    return BigInt(i + f.padEnd(18, '0'));
  };
  const x = scale(a);
  const y = scale(b);
  return x < y ? -1 : x > y ? 1 : 0;
}

/** The live book: levels by price; apply() takes an event, returns false on a sequence gap. */
class Book {
  constructor(snap) {
    this.seq = snap.sequence;
    this.bids = new Map(snap.bids);
    this.asks = new Map(snap.asks);
  }
  apply(ev) {
    if (ev.last_sequence <= this.seq) return true; // already in the snapshot
    if (ev.first_sequence !== this.seq + 1) return false;
    for (const [side, levels] of [[this.bids, ev.bids], [this.asks, ev.asks]]) {
      for (const [p, q] of levels) {
        if (decCmp(q, '0') === 0) side.delete(p);
        else side.set(p, q);
      }
    }
    this.seq = ev.last_sequence;
    return true;
  }
  sorted(side, n) {
    const lv = [...(side === 'bids' ? this.bids : this.asks)];
    lv.sort((a, b) => (side === 'bids' ? decCmp(b[0], a[0]) : decCmp(a[0], b[0])));
    return lv.slice(0, n);
  }
}

export async function render(main, params, app) {
  main.append(h('h1', 'Exchange'));
  if (!app.account) return needKey(main, 'The exchange');
  let markets;
  try {
    markets = (await api.get('v1/exchange/markets')).items;
  } catch (e) {
    main.append(h('p.notice.error', errorText(e)));
    return;
  }
  const market = markets.find(m => m.market === params[0]) || markets[0];
  const pick = h('select#market', markets.map(m => h('option', { value: m.market, selected: m === market }, m.market)));
  pick.addEventListener('change', () => (location.hash = `#/exchange/${pick.value}`));
  const ticker = h('p#ticker');
  const live = h('span.live', 'connecting…');
  const bookEl = h('div.book#orderbook');
  const tradesEl = h('div#recent-trades');
  const interval = h('select#interval', ['1m', '5m', '15m', '1h', '4h', '1d'].map(i => h('option', { value: i }, i)));
  const chartEl = h('div#price-chart');
  const ordersEl = h('div#open-orders');
  const balEl = h('div#balances');
  const msg = h('div', { 'aria-live': 'polite' });
  main.append(h('div.row', field('Market', pick), live), ticker,
    h('div.grid',
      h('section', h('h2', 'Order book'), bookEl),
      h('section', h('h2', 'Recent trades'), tradesEl)),
    h('h2', 'Price'), h('div.row', field('Interval', interval)), chartEl);
  const client = app.account.role === 'client';
  if (client) main.append(h('div.grid', orderForm(market, msg, () => refreshMine()), h('section', h('h2', 'Balances'), balEl)), msg,
    h('h2', 'My open orders'), ordersEl);

  let book = null;
  let pending = [];
  let trades = [];
  const drawBook = () => {
    if (!book) return;
    const cols = cls => [['Price', l => h(`span.${cls}`, l[0])], ['Quantity', l => l[1]]];
    fill(bookEl,
      table(`Bids (buy), sequence ${book.seq}`, cols('bid'), book.sorted('bids', 15), 'No bids.'),
      table('Asks (sell)', cols('ask'), book.sorted('asks', 15), 'No asks.'));
  };
  const snapshot = async () => {
    const snap = await api.get(`v1/exchange/orderbook?market=${market.market}&depth=100`);
    book = new Book(snap);
    const queued = pending;
    pending = [];
    for (const ev of queued) if (!book.apply(ev)) return snapshot();
    drawBook();
  };
  const drawTrades = () => fill(tradesEl, table('Recent trades', [
    ['Price', t => h(`span.${t.side === 'buy' ? 'bid' : 'ask'}`, t.price)], ['Quantity', t => t.quantity],
    ['Taker', t => t.side], ['Time', t => when(t.time)]], trades.slice(0, 20), 'No trades yet.'));
  const loadTicker = async () => {
    try {
      const t = await api.get(`v1/exchange/ticker?market=${market.market}`);
      fill(ticker, `Last ${t.last_price ?? '—'} ${market.quote} · bid ${t.bid_price ?? '—'} · ask ${t.ask_price ?? '—'} · 24 h volume ${t.volume_24h} ${market.base}` +
        (t.change_percent_24h ? ` · ${t.change_percent_24h}%` : ''));
    } catch {
      /* the ticker is a nicety */
    }
  };
  const loadChart = async () => {
    try {
      const k = await api.get(`v1/exchange/klines?market=${market.market}&interval=${interval.value}&limit=120`);
      fill(chartEl, k.items.length ? candleChart(`${market.market} price, ${interval.value} candles`, k.items) : h('p.empty', 'No trades yet, so no candles.'));
    } catch (e) {
      fill(chartEl, h('p.notice.error', errorText(e)));
    }
  };
  interval.addEventListener('change', loadChart);
  const refreshMine = async () => {
    if (!client) return;
    try {
      const [o, b] = await Promise.all([api.get(`v1/exchange/orders?status=open&market=${market.market}&limit=100`), api.get('v1/exchange/balances')]);
      fill(ordersEl, table('My open orders', [
        ['Order', x => h('span.mono', short(x.order_id, 12))], ['Side', x => x.side], ['Price', x => x.price ?? 'market'],
        ['Quantity', x => x.quantity ?? '—'], ['Filled', x => x.filled_quantity], ['Status', x => badge(x.status)],
        ['', x => h('button.danger', { type: 'button', 'aria-label': `Cancel order ${x.order_id}`, onclick: () => cancel(x.order_id) }, 'Cancel')]],
      o.items, 'No open orders.'));
      fill(balEl, table('Exchange balances', [['Asset', x => x.asset], ['Available', x => x.available], ['Locked', x => x.locked]], b.balances));
    } catch (e) {
      notice(msg, 'error', errorText(e));
    }
  };
  const cancel = async id => {
    try {
      await api.del(`v1/exchange/orders/${id}`);
      notice(msg, 'ok', `Order ${id} canceled.`);
    } catch (e) {
      notice(msg, 'error', errorText(e));
    }
    refreshMine();
  };
  let chartTimer = null;
  const feed = api.subscribe([`orderbook:${market.market}`, 'trades'], (topic, d) => {
    if (topic === 'trades') {
      if (d.market !== market.market) return;
      trades = [d, ...trades].slice(0, 50);
      drawTrades();
      loadTicker();
      clearTimeout(chartTimer);
      chartTimer = setTimeout(loadChart, 300);
      refreshMine();
      return;
    }
    if (!book) {
      pending.push(d);
    } else if (!book.apply(d)) {
      book = null;
      pending = [d];
      snapshot();
    } else {
      drawBook();
    }
  }, state => {
    live.textContent = state === 'live' ? 'live' : 'connecting…';
    live.classList.toggle('on', state === 'live');
    if (state === 'live') snapshot(); // events from here on apply on top of a fresh snapshot
  });
  try {
    trades = (await api.get(`v1/exchange/trades?market=${market.market}&limit=20`)).items;
    drawTrades();
    await Promise.all([snapshot(), loadTicker(), loadChart(), refreshMine()]);
  } catch (e) {
    notice(msg, 'error', errorText(e));
  }
  return () => {
    feed.close();
    clearTimeout(chartTimer);
  };
}

function orderForm(market, msg, done) {
  const side = h('select#o-side', h('option', { value: 'buy' }, 'Buy'), h('option', { value: 'sell' }, 'Sell'));
  const type = h('select#o-type', h('option', { value: 'limit' }, 'Limit'), h('option', { value: 'market' }, 'Market'));
  const price = h('input#o-price', { type: 'text', inputmode: 'decimal' });
  const qty = h('input#o-qty', { type: 'text', inputmode: 'decimal' });
  const quote = h('input#o-quote', { type: 'text', inputmode: 'decimal' });
  const tif = h('select#o-tif', ['GTC', 'IOC', 'FOK'].map(v => h('option', v)));
  const postOnly = h('input#o-post', { type: 'checkbox' });
  const priceF = field(`Price (${market.quote} per ${market.base})`, price, `Step ${market.tick_size}`);
  const qtyF = field(`Quantity (${market.base})`, qty, `Step ${market.step_size}`);
  const quoteF = field(`Spend (${market.quote})`, quote, `At least ${market.min_notional}`);
  const sync = () => {
    const limit = type.value === 'limit';
    priceF.hidden = !limit;
    quoteF.hidden = limit || side.value === 'sell';
    qtyF.hidden = !limit && side.value === 'buy';
  };
  side.addEventListener('change', sync);
  type.addEventListener('change', sync);
  sync();
  const form = h('form.panel#order-form', { 'aria-labelledby': 'order-h' }, h('h2#order-h', 'Place an order'),
    h('div.row', field('Side', side), field('Type', type), field('Time in force', tif)), priceF, qtyF, quoteF,
    h('div.field', h('label', postOnly, ' Post only (never take liquidity)')), h('button', { type: 'submit' }, 'Place order'));
  form.addEventListener('submit', async ev => {
    ev.preventDefault();
    const body = { market: market.market, side: side.value, type: type.value, time_in_force: tif.value };
    if (type.value === 'limit') {
      body.price = price.value.trim();
      body.quantity = qty.value.trim();
      if (postOnly.checked) body.post_only = true;
    } else if (side.value === 'buy') body.quote_quantity = quote.value.trim();
    else body.quantity = qty.value.trim();
    try {
      const o = await api.post('v1/exchange/orders', body, { idempotencyKey: crypto.randomUUID() });
      notice(msg, o.status === 'REJECTED' ? 'error' : 'ok', `Order ${o.order_id}: ${o.status}, filled ${o.filled_quantity} ${market.base}.`);
    } catch (e) {
      notice(msg, 'error', errorText(e));
    }
    done();
  });
  return form;
}
