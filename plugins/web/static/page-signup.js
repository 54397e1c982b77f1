// Sign up (POST /v1/signup) and "use an existing key". The key is shown once, with a copy button
// and a warning; it is kept in this browser (localStorage) only when the person ticks the box.
import { h, fill, field, notice, errorText, link } from './util.js';
import * as api from './api.js';

function useKeyForm(app) {
  const key = h('input', { type: 'password', autocomplete: 'off', spellcheck: 'false', required: true });
  const remember = h('input', { type: 'checkbox' });
  const msg = h('div', { 'aria-live': 'polite' });
  const form = h('form.panel', { 'aria-labelledby': 'usekey-h' },
    h('h2#usekey-h', 'Use an existing key'),
    field('API key', key, 'aitbc_client_… or aitbc_admin_…'),
    h('div.field', h('label', remember, ' Remember this key in this browser')),
    h('button', { type: 'submit' }, 'Use this key'), msg);
  form.addEventListener('submit', async ev => {
    ev.preventDefault();
    const acct = await app.useKey(key.value.trim(), remember.checked);
    if (acct) location.hash = '#/account';
    else notice(msg, 'error', 'That key was not accepted.');
  });
  return form;
}

function shownOnce(app, answer) {
  const remember = h('input', { type: 'checkbox', id: 'remember' });
  const copied = h('span', { 'aria-live': 'polite' });
  const code = h('code#new-key', answer.api_key);
  const copy = h('button', { type: 'button', id: 'copy-key' }, 'Copy key');
  copy.addEventListener('click', async () => {
    try {
      await navigator.clipboard.writeText(answer.api_key);
      copied.textContent = 'Copied.';
    } catch {
      const r = document.createRange();
      r.selectNodeContents(code);
      getSelection().removeAllRanges();
      getSelection().addRange(r);
      copied.textContent = 'Selected: press Ctrl+C to copy.';
    }
  });
  remember.addEventListener('change', () => api.setKey(answer.api_key, remember.checked));
  const g = answer.grant;
  return h('section.panel#signup-done', { 'aria-labelledby': 'done-h' },
    h('h2#done-h', 'Your key'),
    h('p.warning', { role: 'alert' }, h('strong', 'Shown only once. '),
      'Copy this key now and keep it secret: it cannot be shown again, and anyone who has it can use your account and spend its funds.'),
    h('div.keybox', code, copy, copied),
    h('div.field', h('label', { for: 'remember' }, remember, ' Remember this key in this browser (otherwise it is forgotten when you close or reload the page)')),
    h('p', 'Address: ', h('code', answer.address)),
    g ? h('p#grant', `You received ${g.amount} ${g.asset} from the faucet (`, link(`#/explorer/tx/${g.tx_hash}`, 'transaction'), ').')
      : h('p#grant', 'No starting grant was paid (the node gives none, or its faucet is empty).'),
    h('p', link('#/jobs', 'Run your first job →'), ' · ', link('#/account', 'Your account')));
}

export async function render(main, params, app, name) {
  if (name === 'key') {
    main.append(h('h1', 'Use a key'), useKeyForm(app));
    return;
  }
  main.append(h('h1', 'Sign up'));
  let info = null;
  try {
    info = await api.get('v1/signup', { anonymous: true });
  } catch (e) {
    if (e.status === 404) {
      main.append(h('p.notice.info', 'Sign-up is closed on this node: ask its operator for a key.'), useKeyForm(app));
      return;
    }
    main.append(h('p.notice.error', errorText(e)));
  }
  const g = info && info.grant;
  const label = h('input', { type: 'text', maxlength: 128, autocomplete: 'nickname' });
  const msg = h('div', { 'aria-live': 'polite' });
  const out = h('div');
  const button = h('button', { type: 'submit' }, 'Create my key');
  const form = h('form.panel', { 'aria-labelledby': 'new-h' },
    h('h2#new-h', 'New client key'),
    h('p', g ? `New accounts receive ${g.amount} ${g.asset} from the faucet${g.available ? '' : ' (the faucet is empty right now)'}.`
      : 'New accounts start with no funds.'),
    field('Label (optional)', label, 'A name for the key, shown in your account.'),
    button, msg);
  form.addEventListener('submit', async ev => {
    ev.preventDefault();
    button.disabled = true;
    notice(msg, 'info', 'Creating…');
    try {
      const body = label.value.trim() ? { label: label.value.trim() } : {};
      const answer = await api.post('v1/signup', body, { anonymous: true });
      api.setKey(answer.api_key, false);
      await app.refreshAccount();
      notice(msg, 'ok', 'Done.');
      form.hidden = true;
      fill(out, shownOnce(app, answer));
      out.querySelector('#copy-key').focus();
    } catch (e) {
      notice(msg, 'error', e.status === 429 ? 'Too many sign-ups from your address; try again later.' : errorText(e));
      button.disabled = false;
    }
  });
  main.append(form, out, useKeyForm(app));
}
