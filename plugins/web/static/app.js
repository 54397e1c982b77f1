// The page shell: hash routes (#/jobs, #/explorer/block/7 …), the key in use, the header.
// Each page module exports render(main, params, app) and may return a cleanup function, which
// runs when the person leaves the page (to close live feeds and timers).
import { h, fill, short, link } from './util.js';
import * as api from './api.js';

const pages = {
  '': () => import('./page-home.js'),
  signup: () => import('./page-signup.js'),
  key: () => import('./page-signup.js'),
  account: () => import('./page-account.js'),
  jobs: () => import('./page-jobs.js'),
  explorer: () => import('./page-explorer.js'),
  market: () => import('./page-market.js'),
  exchange: () => import('./page-exchange.js'),
  admin: () => import('./page-admin.js'),
};

const app = {
  account: null, // GET /v1/account of the key in use, or null
  async refreshAccount() {
    app.account = null;
    if (api.hasKey()) {
      try {
        app.account = await api.get('v1/account');
      } catch (e) {
        if (e.status === 401) api.setKey(null);
      }
    }
    renderWho();
    return app.account;
  },
  useKey(key, remember) {
    api.setKey(key, remember);
    return app.refreshAccount();
  },
  signOut() {
    api.setKey(null);
    app.account = null;
    renderWho();
    location.hash = '#/';
  },
};

function renderWho() {
  const who = document.getElementById('who');
  const a = app.account;
  if (!a) {
    fill(who, link('#/signup', 'Sign up'), ' · ', link('#/key', 'Use a key'));
    return;
  }
  fill(who,
    h('span', h('span.badge', a.role), ' ', h('span.mono', { title: a.address || '' }, short(a.address || a.key_id, 12))),
    h('button.secondary', { type: 'button', onclick: () => app.signOut() }, 'Sign out'));
}

let cleanup = null;
let seq = 0;
async function route() {
  const parts = location.hash.replace(/^#\/?/, '').split('/').map(decodeURIComponent);
  const name = parts[0] || '';
  const main = document.getElementById('main');
  if (cleanup) {
    try {
      cleanup();
    } catch {
      /* a page that fails to clean up must not block the next */
    }
    cleanup = null;
  }
  for (const a of document.querySelectorAll('.top nav a')) {
    if (a.getAttribute('href') === `#/${name}`) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
  const mine = ++seq;
  const load = pages[name];
  if (!load) {
    fill(main, h('h1', 'Not found'), h('p', 'No such page. ', link('#/', 'Home')));
    return;
  }
  fill(main, h('p.live', 'Loading…'));
  const mod = await load();
  if (mine !== seq) return;
  fill(main);
  const done = await mod.render(main, parts.slice(1), app, name);
  if (mine !== seq) {
    if (typeof done === 'function') done();
    return;
  }
  cleanup = typeof done === 'function' ? done : null;
  const h1 = main.querySelector('h1');
  document.title = h1 ? `${h1.textContent} · AITBC` : 'AITBC';
}

window.addEventListener('hashchange', () => {
  route();
  document.getElementById('main').focus({ preventScroll: true });
});
api.loadKey();
app.refreshAccount().then(route);
