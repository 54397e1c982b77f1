// Jobs: submit an OCR job (choose an image) or an inference prompt, follow it live (WebSocket
// job_updates, with a long-poll as the fallback), see the result, and check its receipt here:
// canonical JSON + Ed25519 with the node's published key, with a clear ✓ or ✗.
import { h, fill, field, notice, errorText, table, link, when, short, fileBase64 } from './util.js';
import * as api from './api.js';
import { needKey, badge, addr } from './common.js';
import { verifyReceipt } from './receipt.js';

const TERMINAL = new Set(['COMPLETED', 'FAILED', 'CANCELED', 'EXPIRED']);

export async function render(main, params, app) {
  if (params[0]) return jobPage(main, params[0], app);
  main.append(h('h1', 'Jobs'));
  if (!app.account) return needKey(main, 'Submitting jobs');
  if (app.account.role !== 'client') {
    main.append(h('p.notice.info', 'Jobs are submitted with a client key. ', link('#/admin', 'Admins see all jobs here.')));
    return;
  }
  main.append(submitForm(app));
  const list = h('div');
  main.append(h('h2', 'Your jobs'), list);
  const jobs = new Map();
  const draw = () => fill(list, table('Your latest jobs', [
    ['Job', j => link(`#/jobs/${j.job_id}`, h('span.mono', short(j.job_id, 14)))],
    ['Type', j => j.payload && j.payload.type], ['State', j => badge(j.state)],
    ['Progress', j => (j.progress === null || j.progress === undefined ? '—' : `${Math.round(j.progress * 100)}%`)],
    ['Price', j => j.price ?? '—'], ['Created', j => when(j.created_at)]],
  [...jobs.values()].sort((a, b) => (a.created_at < b.created_at ? 1 : -1)).slice(0, 50), 'No jobs yet.'));
  try {
    for (const j of (await api.get('v1/jobs?limit=50')).items) jobs.set(j.job_id, j);
  } catch (e) {
    list.append(h('p.notice.error', errorText(e)));
  }
  draw();
  const feed = api.subscribe(['job_updates'], (topic, job) => {
    jobs.set(job.job_id, job);
    draw();
  });
  return () => feed.close();
}

function submitForm(app) {
  const kindOcr = h('input', { type: 'radio', name: 'kind', value: 'ocr', checked: true, id: 'kind-ocr' });
  const kindInf = h('input', { type: 'radio', name: 'kind', value: 'inference', id: 'kind-inference' });
  const file = h('input', { type: 'file', accept: 'image/png,image/jpeg,image/tiff', id: 'ocr-file' });
  const lang = h('input', { type: 'text', value: 'eng', pattern: '[a-z_+]{3,40}', id: 'ocr-lang' });
  const model = h('input', { type: 'text', value: 'llama3', id: 'inf-model' });
  const prompt = h('textarea', { id: 'inf-prompt' });
  const maxPrice = h('input', { type: 'text', value: '1', inputmode: 'decimal', required: true, id: 'max-price' });
  const ocrBox = h('div', field('Image', file, 'PNG, JPEG or TIFF; its text is read by a miner running OCR.'), field('Language', lang, 'Tesseract language code, e.g. eng.'));
  const infBox = h('div', { hidden: true }, field('Model', model), field('Prompt', prompt));
  const msg = h('div', { 'aria-live': 'polite' });
  const button = h('button', { type: 'submit', id: 'submit-job' }, 'Submit job');
  const sync = () => {
    ocrBox.hidden = !kindOcr.checked;
    infBox.hidden = !kindInf.checked;
  };
  kindOcr.addEventListener('change', sync);
  kindInf.addEventListener('change', sync);
  const form = h('form.panel', { 'aria-labelledby': 'submit-h' },
    h('h2#submit-h', 'New job'),
    h('fieldset', h('legend', 'Kind of work'),
      h('label', kindOcr, ' Read text from an image (OCR)'), ' ', h('label', kindInf, ' Ask a model (inference)')),
    ocrBox, infBox,
    field('Most you will pay (AIT)', maxPrice, `Held in escrow until the job ends; the rest comes back. Available: ${(app.account.balances || {}).AIT ?? '?'} AIT.`),
    button, msg);
  form.addEventListener('submit', async ev => {
    ev.preventDefault();
    let payload;
    if (kindOcr.checked) {
      if (!file.files[0]) return notice(msg, 'error', 'Choose an image first.');
      payload = { type: 'ocr', image_base64: await fileBase64(file.files[0]), lang: lang.value.trim() || 'eng' };
    } else {
      if (!prompt.value.trim()) return notice(msg, 'error', 'Write a prompt first.');
      payload = { type: 'inference', model: model.value.trim(), prompt: prompt.value };
    }
    button.disabled = true;
    notice(msg, 'info', 'Submitting…');
    try {
      const job = await api.post('v1/jobs', { payload, max_price: maxPrice.value.trim() }, { idempotencyKey: crypto.randomUUID() });
      location.hash = `#/jobs/${job.job_id}`;
    } catch (e) {
      notice(msg, 'error', e.code === 'insufficient_funds' ? 'Not enough AIT for that maximum price.' : errorText(e));
      button.disabled = false;
    }
  });
  return form;
}

function progressOf(job) {
  if (job.state === 'COMPLETED') return 1;
  return typeof job.progress === 'number' ? job.progress : null;
}

async function jobPage(main, id, app) {
  main.append(h('h1', 'Job'), h('p', link('#/jobs', '← All jobs')));
  if (!app.account) return needKey(main, 'Reading a job');
  const head = h('section.panel', { 'aria-live': 'polite' });
  const result = h('div');
  const receiptBox = h('div');
  main.append(head, result, receiptBox);
  let job;
  try {
    job = await api.get(`v1/jobs/${encodeURIComponent(id)}`);
  } catch (e) {
    fill(head, h('p.notice.error', errorText(e)));
    return;
  }
  let shownTerminal = false;
  const show = j => {
    job = j;
    const p = progressOf(j);
    fill(head,
      h('p', h('span.mono', j.job_id), ' ', h('span#job-state', badge(j.state))),
      h('label', { for: 'job-progress' }, 'Progress'),
      p === null ? h('progress#job-progress', { max: 1, 'aria-label': 'progress unknown' })
        : h('progress#job-progress', { max: 1, value: p, 'aria-valuetext': `${Math.round(p * 100)}%` }),
      h('dl',
        h('dt', 'Type'), h('dd', (j.payload && j.payload.type) || '—'),
        h('dt', 'Waiting because'), h('dd', j.state === 'QUEUED' ? j.pending_reason || 'queued' : '—'),
        h('dt', 'Miner'), h('dd', addr(j.assigned_miner)),
        h('dt', 'Max price / price'), h('dd', `${j.max_price} / ${j.price ?? '—'} AIT (${j.payment_status})`),
        h('dt', 'Created'), h('dd', when(j.created_at))));
    if (TERMINAL.has(j.state) && !shownTerminal) {
      shownTerminal = true;
      showResult(result, j);
      showReceipt(receiptBox, j);
    }
  };
  show(job);
  if (TERMINAL.has(job.state)) return;
  const ctl = new AbortController();
  const feed = api.subscribe(['job_updates'], (topic, j) => {
    if (j.job_id === id) show(j);
  });
  (async () => {
    while (!ctl.signal.aborted && !TERMINAL.has(job.state)) {
      try {
        show(await api.get(`v1/jobs/${encodeURIComponent(id)}?wait_s=20`, { signal: ctl.signal }));
      } catch {
        await new Promise(r => setTimeout(r, 2000));
      }
    }
    feed.close();
  })();
  const cancel = h('button.danger', { type: 'button' }, 'Cancel job');
  cancel.addEventListener('click', async () => {
    try {
      show(await api.post(`v1/jobs/${encodeURIComponent(id)}/cancel`));
    } catch (e) {
      head.append(h('p.notice.error', errorText(e)));
    }
  });
  main.insertBefore(h('p', cancel), result);
  return () => {
    ctl.abort();
    feed.close();
  };
}

function showResult(box, job) {
  if (job.state === 'COMPLETED') {
    const r = job.result || {};
    const text = typeof r.text === 'string' ? r.text : null;
    fill(box, h('h2', 'Result'),
      text !== null ? h('pre#job-result', { tabindex: 0, 'aria-label': 'Result text' }, text) : null,
      r.confidence !== undefined ? h('p', `Confidence: ${r.confidence}`) : null,
      h('details', h('summary', 'Result as JSON'), h('pre', { tabindex: 0, 'aria-label': 'Result JSON' }, JSON.stringify(r, null, 2))));
  } else {
    fill(box, h('h2', 'Outcome'), h('p.notice.error', `${job.state}: ${job.error ? `${job.error.message || ''} (${job.error.code})` : ''}`));
  }
}

async function showReceipt(box, job) {
  fill(box, h('h2', 'Receipt'), h('p.live', 'Fetching the receipt…'));
  let receipt, keys;
  try {
    // The job as the API answers it (events may leave out large fields such as the payload).
    [job, receipt, keys] = await Promise.all([
      api.get(`v1/jobs/${encodeURIComponent(job.job_id)}`),
      api.get(`v1/jobs/${encodeURIComponent(job.job_id)}/receipt`),
      api.get('v1/receipts/public-key', { anonymous: true }),
    ]);
  } catch (e) {
    fill(box, h('h2', 'Receipt'), h('p.empty', e.status === 404 ? 'This job has no receipt (it never ran to an end).' : errorText(e)));
    return;
  }
  const verdict = h('div#verdict', { role: 'status' }, 'Checking…');
  const tamperVerdict = h('div#tamper-verdict', { role: 'status' });
  const tamper = h('button.secondary#tamper', { type: 'button' }, 'Check a copy with the price changed');
  tamper.addEventListener('click', async () => {
    const forged = { ...receipt, price: receipt.price === '0' ? '1' : '0' };
    fill(tamperVerdict, verdictEl(await verifyReceipt(forged, keys.keys, job), 'altered copy'));
  });
  fill(box, h('h2', 'Receipt'), verdict,
    h('p.hint', 'Checked in this browser: the receipt minus its signature, in canonical JSON (RFC 8785), against the coordinator\'s Ed25519 key from v1/receipts/public-key; the payload and result hashes against this job.'),
    h('pre#receipt-json', { tabindex: 0, 'aria-label': 'Receipt JSON' }, JSON.stringify(receipt, null, 2)), h('p', tamper), tamperVerdict, pasteBox(keys));
  fill(verdict, verdictEl(await verifyReceipt(receipt, keys.keys, job), 'receipt'));
}

function verdictEl(res, what) {
  return h(`span.verdict.${res.ok ? 'good' : 'bad'}`, res.ok ? `✓ Valid ${what}` : `✗ Invalid ${what}`, h('span.sr-only', ': '), h('small', ` — ${res.reason}`));
}

function pasteBox(keys) {
  const text = h('textarea#paste-receipt', { spellcheck: 'false' });
  const out = h('div', { role: 'status' });
  const form = h('form', h('h3', 'Check any receipt'), field('Receipt JSON', text, 'Paste a receipt from this node.'),
    h('button.secondary', { type: 'submit' }, 'Check'), out);
  form.addEventListener('submit', async ev => {
    ev.preventDefault();
    let r;
    try {
      r = JSON.parse(text.value);
    } catch {
      return fill(out, verdictEl({ ok: false, reason: 'not JSON' }, 'receipt'));
    }
    fill(out, verdictEl(await verifyReceipt(r, keys.keys), 'receipt'));
  });
  return form;
}
