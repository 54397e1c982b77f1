// Admin (admin key): node stats with charts of jobs per minute and miners online (sampled every
// 5 s while the page is open), miners, all jobs, and minting (e.g. to fund the sign-up faucet).
import { h, fill, field, notice, errorText, table, link, when, short } from './util.js';
import * as api from './api.js';
import { needKey, badge, addr } from './common.js';
import { lineChart } from './charts.js';

export async function render(main, params, app) {
  main.append(h('h1', 'Admin'));
  if (!app.account) return needKey(main, 'The admin pages');
  if (app.account.role !== 'admin') {
    main.append(h('p.notice.info', 'These pages need an admin key. ', link('#/key', 'Use an admin key')));
    return;
  }
  const statsEl = h('div#stats');
  const jpmEl = h('div#chart-jpm');
  const onlineEl = h('div#chart-online');
  const minersEl = h('div#admin-miners');
  const jobsEl = h('div#admin-jobs');
  const state = h('select#job-state', h('option', { value: '' }, 'any'), ['QUEUED', 'RUNNING', 'COMPLETED', 'FAILED', 'CANCELED', 'EXPIRED'].map(s => h('option', s)));
  main.append(h('h2', 'Stats'), statsEl,
    h('div.grid', h('section', h('h3', 'Jobs completed per minute'), jpmEl), h('section', h('h3', 'Miners online'), onlineEl)),
    h('h2', 'Miners'), minersEl, h('h2', 'Jobs'), h('div.row', field('State', state)), jobsEl, mintForm());
  const history = [];
  const loadStats = async () => {
    try {
      const s = await api.get('v1/admin/stats');
      history.push({ t: new Date().toLocaleTimeString(), jpm: s.jobs_per_minute, online: s.miners ? s.miners.online : 0 });
      if (history.length > 120) history.shift();
      const j = s.jobs || {};
      fill(statsEl, h('dl.panel',
        h('dt', 'Jobs'), h('dd', `${j.total} total · ${j.QUEUED} queued · ${j.RUNNING} running · ${j.COMPLETED} completed · ${j.FAILED} failed`),
        h('dt', 'Miners'), h('dd', s.miners ? `${s.miners.online} online of ${s.miners.total}` : '—'),
        h('dt', 'Average job'), h('dd', `${s.avg_job_duration_ms} ms`),
        h('dt', 'Chain'), h('dd', s.chain ? `height ${s.chain.height}, ${s.chain.tx_count} transactions` : '—'),
        h('dt', 'Plugins'), h('dd', (s.plugins || []).map(p => `${p.name} ${p.version}`).join(', ')),
        h('dt', 'Uptime'), h('dd', `${s.uptime_s} s`)));
      fill(jpmEl, lineChart('Jobs completed per minute, sampled every 5 s', history.map(x => ({ label: x.t, value: x.jpm }))));
      fill(onlineEl, lineChart('Miners online, sampled every 5 s', history.map(x => ({ label: x.t, value: x.online }))));
    } catch (e) {
      fill(statsEl, h('p.notice.error', errorText(e)));
    }
  };
  const loadMiners = async () => {
    try {
      const r = await api.get('v1/admin/miners?limit=100');
      fill(minersEl, table('Registered miners', [
        ['Address', m => addr(m.address)], ['Status', m => badge(m.status)], ['Job types', m => (m.capabilities.job_types || []).join(', ')],
        ['Running', m => `${m.running} / ${m.concurrency}`], ['Price', m => `${m.unit_price} / ${m.unit_type}`],
        ['Done / failed', m => `${m.jobs_completed} / ${m.jobs_failed}`], ['Last heartbeat', m => when(m.last_heartbeat)]], r.items, 'No miners registered.'));
    } catch (e) {
      fill(minersEl, h('p.notice.error', errorText(e)));
    }
  };
  const loadJobs = async () => {
    try {
      const r = await api.get(`v1/admin/jobs${api.qs({ state: state.value, limit: 50 })}`);
      fill(jobsEl, table('Jobs, newest first', [
        ['Job', j => link(`#/jobs/${j.job_id}`, h('span.mono', short(j.job_id, 14)))], ['Type', j => (j.payload && j.payload.type) || '—'], ['State', j => badge(j.state)],
        ['Client', j => addr(j.client)], ['Miner', j => addr(j.assigned_miner)], ['Price', j => j.price ?? '—'], ['Created', j => when(j.created_at)]],
      r.items, 'No jobs.'));
    } catch (e) {
      fill(jobsEl, h('p.notice.error', errorText(e)));
    }
  };
  state.addEventListener('change', loadJobs);
  await Promise.all([loadStats(), loadMiners(), loadJobs()]);
  const timer = setInterval(() => {
    loadStats();
    loadMiners();
  }, 5000);
  const feed = api.subscribe(['job_updates'], () => loadJobs());
  return () => {
    clearInterval(timer);
    feed.close();
  };
}

function mintForm() {
  const to = h('input#mint-to', { type: 'text', spellcheck: 'false', pattern: 'ait1[0-9a-f]{40}', required: true });
  const asset = h('select#mint-asset', h('option', 'AIT'), h('option', 'BTC'));
  const amount = h('input#mint-amount', { type: 'text', inputmode: 'decimal', required: true });
  const msg = h('div', { 'aria-live': 'polite' });
  const form = h('form.panel', { 'aria-labelledby': 'mint-h' }, h('h2#mint-h', 'Mint'),
    h('p.hint', 'A MINT transaction, visible on the chain: how funds enter the system (e.g. topping up the sign-up faucet).'),
    h('div.row', field('Address', to), field('Asset', asset), field('Amount', amount), h('button', { type: 'submit' }, 'Mint')), msg);
  form.addEventListener('submit', async ev => {
    ev.preventDefault();
    try {
      const tx = await api.post('v1/admin/mint', { address: to.value.trim(), asset: asset.value, amount: amount.value.trim() },
        { idempotencyKey: crypto.randomUUID() });
      notice(msg, 'ok', `Minted ${tx.amount} ${tx.asset} (transaction ${short(tx.hash, 10)}).`);
    } catch (e) {
      notice(msg, 'error', errorText(e));
    }
  });
  return form;
}
