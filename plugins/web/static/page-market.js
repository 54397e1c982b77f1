// Marketplace: open offers with filters, buying hours, and my trades with hours released/refunded.
import { h, fill, field, notice, errorText, table, when, short } from './util.js';
import * as api from './api.js';
import { needKey, badge, addr } from './common.js';

export async function render(main, params, app) {
  main.append(h('h1', 'Marketplace'));
  if (!app.account) return needKey(main, 'The marketplace');
  const f = {
    gpu: h('input', { type: 'text', id: 'f-gpu' }),
    region: h('input', { type: 'text', id: 'f-region' }),
    model: h('input', { type: 'text', id: 'f-model' }),
    min_memory_gb: h('input', { type: 'number', min: 0, max: 4096, id: 'f-mem' }),
    max_price: h('input', { type: 'text', inputmode: 'decimal', id: 'f-price' }),
    sort: h('select', { id: 'f-sort' }, h('option', { value: 'created' }, 'Newest'), h('option', { value: 'price' }, 'Cheapest')),
  };
  const msg = h('div', { 'aria-live': 'polite' });
  const offersEl = h('div#offers');
  const tradesEl = h('div#my-trades');
  const filters = h('form.panel.row', { 'aria-label': 'Filter offers' },
    field('GPU', f.gpu), field('Region', f.region), field('Model', f.model), field('Min. memory (GB)', f.min_memory_gb),
    field('Max. price / hour (AIT)', f.max_price), field('Sort', f.sort), h('button', { type: 'submit' }, 'Filter'));
  main.append(filters, msg, h('h2', 'Offers'), offersEl, h('h2', 'My trades'), tradesEl);
  const client = app.account.role === 'client';

  const buy = async (offer, hours) => {
    try {
      const t = await api.post('v1/marketplace/trades', { offer_id: offer.offer_id, hours: Number(hours) }, { idempotencyKey: crypto.randomUUID() });
      notice(msg, 'ok', `Bought ${t.hours} h for ${t.total} AIT (trade ${t.trade_id}).`);
      loadOffers();
      loadTrades();
      app.refreshAccount();
    } catch (e) {
      notice(msg, 'error', e.code === 'insufficient_funds' ? 'Not enough AIT for these hours.' : errorText(e));
    }
  };
  const buyCell = o => {
    if (!client || o.status !== 'OPEN') return '—';
    const hours = h('input', { type: 'number', min: 1, max: o.hours_remaining, value: 1, 'aria-label': `Hours to buy from offer ${o.offer_id}`, class: 'hours' });
    return h('span.row', hours, h('button', { type: 'button', onclick: () => buy(o, hours.value) }, 'Buy'));
  };
  const loadOffers = async () => {
    const q = api.qs(Object.fromEntries(Object.entries(f).map(([k, el]) => [k, el.value.trim()])));
    try {
      const r = await api.get(`v1/marketplace/offers${q}`);
      fill(offersEl, table('Open offers', [
        ['GPU', o => `${o.gpu_count} × ${o.gpu_model} (${o.gpu_memory_gb} GB)`], ['Models', o => o.models.join(', ') || '—'],
        ['Region', o => o.region], ['AIT / hour', o => o.price_per_hour], ['Hours left', o => `${o.hours_remaining} / ${o.hours_available}`],
        ['Seller', o => addr(o.provider)], ['Status', o => badge(o.status)], ['Buy', buyCell]], r.items, 'No offers match.'));
    } catch (e) {
      notice(msg, 'error', errorText(e));
    }
  };
  const loadTrades = async () => {
    try {
      const r = await api.get('v1/marketplace/trades?limit=50');
      fill(tradesEl, table('My trades', [
        ['Trade', t => h('span.mono', short(t.trade_id, 12))], ['Hours', t => String(t.hours)], ['Total', t => `${t.total} AIT`],
        ['Used (released)', t => `${t.hours_released} h · ${t.released} AIT`], ['Refunded', t => `${t.refunded} AIT`],
        ['Status', t => badge(t.status)], ['Ends', t => when(t.ends_at)]], r.items, 'No trades yet.'));
    } catch (e) {
      fill(tradesEl, h('p.notice.error', errorText(e)));
    }
  };
  filters.addEventListener('submit', ev => {
    ev.preventDefault();
    loadOffers();
  });
  await Promise.all([loadOffers(), loadTrades()]);
  const feed = api.subscribe(['offers'], () => loadOffers());
  return () => feed.close();
}
