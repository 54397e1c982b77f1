// Pieces several pages share: the "you need a key" prompt, state badges, transaction rows.
import { h, link, short, when } from './util.js';

export function needKey(main, what) {
  main.append(h('p.notice.info', `${what} needs an API key. `, link('#/signup', 'Sign up'), ' or ', link('#/key', 'use a key you have'), '.'));
}

export function badge(state) {
  return h(`span.badge.state-${state}`, state);
}

export function addr(a) {
  return a ? link(`#/explorer/address/${a}`, h('span.mono', { title: a }, short(a, 12))) : '—';
}

export const txCols = [
  ['Type', t => t.type],
  ['Amount', t => `${t.amount} ${t.asset}`],
  ['From', t => addr(t.from)],
  ['To', t => addr(t.to)],
  ['Ref', t => h('span.mono', short(t.ref, 16))],
  ['Block', t => (t.block_height === null ? 'pending' : link(`#/explorer/block/${t.block_height}`, String(t.block_height)))],
  ['Hash', t => link(`#/explorer/tx/${t.hash}`, h('span.mono', short(t.hash, 10)))],
  ['Time', t => when(t.timestamp)],
];
