// Small DOM and formatting helpers. Every text goes in through textContent or attributes, never
// through innerHTML, so data from the API can never become markup.

/** h('tag.class#id', {attr: value, onclick: fn}, child, …): build an element. */
export function h(spec, attrs, ...children) {
  const m = /^([a-z0-9]+)((?:[.#][\w-]+)*)$/i.exec(spec);
  const el = document.createElement(m ? m[1] : 'div');
  if (m && m[2]) {
    for (const part of m[2].match(/[.#][\w-]+/g)) {
      if (part[0] === '.') el.classList.add(part.slice(1));
      else el.id = part.slice(1);
    }
  }
  if (attrs && (typeof attrs !== 'object' || attrs instanceof Node || Array.isArray(attrs))) {
    children.unshift(attrs);
    attrs = null;
  }
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
    else if (k === 'value') el.value = v;
    else if (k === 'checked') el.checked = !!v;
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    if (Array.isArray(c)) append(el, c);
    else el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
}

/** Replace el's children. */
export function fill(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

let fieldSeq = 0;
/** A labelled form field: label + control (+ hint). Returns {wrap, input}. */
export function field(label, control, hint) {
  const id = control.id || `f${++fieldSeq}`;
  control.id = id;
  const hintEl = hint ? h('small.hint', { id: `${id}-hint` }, hint) : null;
  if (hintEl) control.setAttribute('aria-describedby', hintEl.id);
  const wrap = h('div.field', h('label', { for: id }, label), control, hintEl);
  return wrap;
}

/** "2026-11-29T05:37:00.449Z" → local short date-time. */
export function when(t) {
  if (!t) return '—';
  const d = new Date(t);
  return isNaN(d) ? t : d.toLocaleString(undefined, { dateStyle: 'short', timeStyle: 'medium' });
}

export function short(s, n = 10) {
  if (!s) return '—';
  return s.length > n + 4 ? `${s.slice(0, n)}…${s.slice(-4)}` : s;
}

/** A status message in a live region: kind is 'ok', 'error' or 'info'. */
export function notice(el, kind, text) {
  fill(el, text ? h(`p.notice.${kind}`, { role: kind === 'error' ? 'alert' : 'status' }, text) : null);
}

/** Error text from an API error (ApiError) or anything thrown. */
export function errorText(e) {
  if (e && e.code) return `${e.message} (${e.code}${e.field ? `, ${e.field}` : ''})`;
  return e && e.message ? e.message : String(e);
}

/** Read a File as base64 (no data: prefix). */
export function fileBase64(file) {
  return new Promise((resolve, reject) => {
    const r = new FileReader();
    r.onload = () => resolve(String(r.result).replace(/^data:[^,]*,/, ''));
    r.onerror = () => reject(r.error);
    r.readAsDataURL(file);
  });
}

/** A table: cols = [[header, row => cell]], rows = array. */
export function table(caption, cols, rows, empty = 'Nothing yet.') {
  if (!rows.length) return h('p.empty', empty);
  return h('table',
    h('caption', caption),
    h('thead', h('tr', cols.map(([name]) => h('th', { scope: 'col' }, name)))),
    h('tbody', rows.map(r => h('tr', cols.map(([, f]) => h('td', f(r)))))));
}

export function link(href, text) {
  return h('a', { href }, text);
}
