// Explorer: latest blocks and transactions (live from the `blocks` and `transactions` topics, or
// polled without a feed), a transactions-per-block chart, search, and block/tx/address pages.
import { h, fill, field, notice, errorText, table, link, when, short } from './util.js';
import * as api from './api.js';
import { needKey, addr, txCols } from './common.js';
import { barChart } from './charts.js';

export async function render(main, params, app) {
  if (!app.account) {
    main.append(h('h1', 'Explorer'));
    return needKey(main, 'The explorer');
  }
  const [kind, id] = params;
  if (kind === 'block') return blockPage(main, id);
  if (kind === 'tx') return txPage(main, id);
  if (kind === 'address') return addressPage(main, id);
  return overview(main);
}

function searchForm() {
  const q = h('input', { type: 'search', id: 'explorer-q', spellcheck: 'false', placeholder: 'height, hash or ait1… address' });
  const msg = h('div', { 'aria-live': 'polite' });
  const form = h('form.row', { role: 'search', 'aria-label': 'Search the chain' }, field('Search', q), h('button', { type: 'submit' }, 'Go'), msg);
  form.addEventListener('submit', async ev => {
    ev.preventDefault();
    const v = q.value.trim().toLowerCase();
    if (/^(0|[1-9][0-9]*)$/.test(v)) location.hash = `#/explorer/block/${v}`;
    else if (/^ait1[0-9a-f]{40}$/.test(v)) location.hash = `#/explorer/address/${v}`;
    else if (/^[0-9a-f]{64}$/.test(v)) {
      try {
        await api.get(`v1/explorer/blocks/${v}`);
        location.hash = `#/explorer/block/${v}`;
      } catch {
        location.hash = `#/explorer/tx/${v}`;
      }
    } else notice(msg, 'error', 'Enter a block height, a 64-hex hash or an ait1… address.');
  });
  return form;
}

const blockCols = [
  ['Height', b => link(`#/explorer/block/${b.height}`, String(b.height))],
  ['Hash', b => h('span.mono', short(b.hash, 12))],
  ['Txs', b => String(b.tx_count)],
  ['Time', b => when(b.timestamp)],
];

async function overview(main) {
  const live = h('span.live#explorer-live', 'connecting…');
  const chart = h('div#tx-chart');
  const blocksEl = h('div#latest-blocks');
  const txsEl = h('div#latest-txs');
  main.append(h('h1', 'Explorer'), searchForm(), h('p', live),
    h('h2', 'Transactions per block'), chart,
    h('div.grid', h('section', h('h2', 'Latest blocks'), blocksEl), h('section', h('h2', 'Latest transactions'), txsEl)));
  let blocks = [];
  let txs = [];
  const draw = () => {
    const last = blocks.slice(0, 30).reverse();
    fill(chart, barChart(`Transactions in each of the last ${last.length} blocks`, last.map(b => ({ label: `block ${b.height}`, value: b.tx_count }))));
    fill(blocksEl, table('Latest blocks', blockCols, blocks.slice(0, 15)));
    fill(txsEl, table('Latest transactions', [txCols[0], txCols[1], txCols[5], txCols[6]], txs.slice(0, 15)));
  };
  const load = async () => {
    const [b, t] = await Promise.all([api.get('v1/explorer/blocks?limit=30'), api.get('v1/explorer/transactions?limit=15')]);
    blocks = b.items;
    txs = t.items;
    draw();
  };
  try {
    await load();
  } catch (e) {
    main.append(h('p.notice.error', errorText(e)));
  }
  let poll = null;
  const feed = api.subscribe(['blocks', 'transactions'], (topic, data) => {
    if (topic === 'blocks') {
      if (!blocks.some(b => b.height === data.height)) blocks = [data, ...blocks].slice(0, 60);
    } else {
      txs = [data, ...txs.filter(t => t.hash !== data.hash)].slice(0, 60);
    }
    draw();
  }, state => {
    live.textContent = state === 'live' ? 'live' : state === 'off' ? 'updating every 3 s' : 'connecting…';
    live.classList.toggle('on', state === 'live');
    if (state !== 'live' && !poll) poll = setInterval(() => load().catch(() => {}), 3000);
    if (state === 'live' && poll) {
      clearInterval(poll);
      poll = null;
    }
  });
  return () => {
    feed.close();
    clearInterval(poll);
  };
}

async function blockPage(main, id) {
  main.append(h('h1', `Block ${short(id, 16)}`), searchForm());
  try {
    const b = await api.get(`v1/explorer/blocks/${encodeURIComponent(id)}`);
    main.append(h('section.panel', h('dl',
      h('dt', 'Height'), h('dd', String(b.height)),
      h('dt', 'Hash'), h('dd', h('code', b.hash)),
      h('dt', 'Parent'), h('dd', b.height > 0 ? link(`#/explorer/block/${b.height - 1}`, h('code', b.parent_hash)) : h('code', b.parent_hash)),
      h('dt', 'Time'), h('dd', when(b.timestamp)),
      h('dt', 'Transactions'), h('dd', String(b.tx_count)),
      h('dt', 'Merkle root'), h('dd', h('code', b.merkle_root)),
      h('dt', 'State root'), h('dd', h('code', b.state_root)),
      h('dt', 'Proposer'), h('dd', addr(b.proposer)))),
    h('p', link(`#/explorer/block/${b.height + 1}`, 'Next block →')),
    h('h2', 'Transactions'), table(`Transactions of block ${b.height}`, txCols, b.transactions || []));
  } catch (e) {
    main.append(h('p.notice.error', e.status === 404 ? 'No such block.' : errorText(e)));
  }
}

async function txPage(main, id) {
  main.append(h('h1', 'Transaction'), searchForm());
  try {
    const t = await api.get(`v1/explorer/transactions/${encodeURIComponent(id)}`);
    main.append(h('section.panel#tx-detail', h('dl',
      h('dt', 'Hash'), h('dd', h('code', t.hash)),
      h('dt', 'Type'), h('dd', t.type),
      h('dt', 'Amount'), h('dd', `${t.amount} ${t.asset}`),
      h('dt', 'From'), h('dd', addr(t.from)),
      h('dt', 'To'), h('dd', addr(t.to)),
      h('dt', 'Ref'), h('dd', h('code', t.ref)),
      h('dt', 'Block'), h('dd', t.block_height === null ? 'pending (not sealed yet)' : link(`#/explorer/block/${t.block_height}`, String(t.block_height))),
      h('dt', 'Time'), h('dd', when(t.timestamp)))));
  } catch (e) {
    main.append(h('p.notice.error', e.status === 404 ? 'No such transaction.' : errorText(e)));
  }
}

async function addressPage(main, id) {
  main.append(h('h1', 'Address'), searchForm());
  try {
    const a = await api.get(`v1/explorer/address/${encodeURIComponent(id)}`);
    const assets = Object.keys(a.balances);
    main.append(h('section.panel', h('p', h('code', a.address)),
      table('Balances', [['Asset', k => k], ['Available', k => a.balances[k]], ['Locked', k => a.locked[k]]], assets),
      h('p', `${a.tx_count} transactions · first seen ${when(a.first_seen)} · last active ${when(a.last_active)}`)));
    const list = await api.get(`v1/explorer/address/${encodeURIComponent(id)}/transactions?limit=50`);
    main.append(h('h2', 'Transactions'), table('Transactions of this address', txCols, list.items));
  } catch (e) {
    main.append(h('p.notice.error', e.status === 404 ? 'This address has never been seen on the chain.' : errorText(e)));
  }
}
