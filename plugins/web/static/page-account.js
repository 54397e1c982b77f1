// Account: the key in use, balances and locked funds, transfers in and out, own jobs, a transfer form.
import { h, fill, field, notice, errorText, table, link, when, short } from './util.js';
import * as api from './api.js';
import { needKey, badge, txCols } from './common.js';

export async function render(main, params, app) {
  main.append(h('h1', 'Account'));
  const a = await app.refreshAccount();
  if (!a) return needKey(main, 'Your account');
  const bal = Object.keys(a.balances || {}).map(k => ({ asset: k, available: a.balances[k], locked: (a.locked || {})[k] }));
  main.append(
    h('section.panel',
      h('dl',
        h('dt', 'Address'), h('dd', a.address ? link(`#/explorer/address/${a.address}`, h('code', a.address)) : '—'),
        h('dt', 'Role'), h('dd', a.role),
        h('dt', 'Key'), h('dd', h('code', a.key_id), a.label ? ` (${a.label})` : ''),
        h('dt', 'Key stored in this browser'), h('dd', api.isRemembered() ? 'yes' : 'no (forgotten on reload)'))),
    h('h2', 'Balances'),
    table('Balances by asset', [['Asset', r => r.asset], ['Available', r => r.available], ['Locked (escrow, open orders)', r => r.locked]], bal, 'No balances.'));
  const txs = h('div');
  const jobs = h('div');
  main.append(h('h2', 'Transactions'), txs, h('h2', 'Your jobs'), jobs);
  if (a.address) {
    api.get(`v1/explorer/address/${a.address}/transactions?limit=20`)
      .then(r => fill(txs, table('Latest transactions of this address', txCols, r.items)))
      .catch(e => fill(txs, e.status === 404 ? h('p.empty', 'No transactions yet.') : h('p.notice.error', errorText(e))));
  }
  if (a.role === 'client') {
    api.get('v1/jobs?limit=20')
      .then(r => fill(jobs, table('Your latest jobs', [
        ['Job', j => link(`#/jobs/${j.job_id}`, h('span.mono', short(j.job_id, 14)))],
        ['Type', j => j.payload && j.payload.type],
        ['State', j => badge(j.state)], ['Price', j => j.price ?? '—'], ['Created', j => when(j.created_at)]], r.items, 'No jobs yet.')))
      .catch(e => fill(jobs, h('p.notice.error', errorText(e))));
  } else {
    fill(jobs, h('p.empty', 'Only client keys submit jobs.'));
  }
  if (a.address) main.append(transferForm(app));
}

function transferForm(app) {
  const to = h('input', { type: 'text', required: true, pattern: 'ait1[0-9a-f]{40}', spellcheck: 'false' });
  const asset = h('select', h('option', 'AIT'), h('option', 'BTC'));
  const amount = h('input', { type: 'text', inputmode: 'decimal', required: true, pattern: '(0|[1-9][0-9]*)(\\.[0-9]{1,8})?' });
  const msg = h('div', { 'aria-live': 'polite' });
  const form = h('form.panel', { 'aria-labelledby': 'xfer-h' }, h('h2#xfer-h', 'Send funds'),
    h('div.row', field('To address', to), field('Asset', asset), field('Amount', amount)), h('p', h('button', { type: 'submit' }, 'Send')), msg);
  form.addEventListener('submit', async ev => {
    ev.preventDefault();
    try {
      const tx = await api.post('v1/transfers', { to: to.value.trim(), asset: asset.value, amount: amount.value.trim() },
        { idempotencyKey: crypto.randomUUID() });
      notice(msg, 'ok', `Sent ${tx.amount} ${tx.asset}.`);
      app.refreshAccount();
    } catch (e) {
      notice(msg, 'error', errorText(e));
    }
  });
  return form;
}
