// The public HTTP API and the WebSocket feed, as the page uses them. The API base is where this
// module was loaded from minus "web/api.js", so the page works under http.path_prefix unchanged.

export const BASE = new URL('../', import.meta.url);

export class ApiError extends Error {
  constructor(status, body) {
    const e = (body && body.error) || {};
    super(e.message || `HTTP ${status}`);
    this.status = status;
    this.code = e.code || 'http_error';
    this.field = e.field;
  }
}

let apiKey = null;
const KEY_STORE = 'aitbc.api_key';

export function loadKey() {
  try {
    apiKey = localStorage.getItem(KEY_STORE);
  } catch {
    apiKey = null;
  }
  return apiKey;
}

/** Use key for every request; remember it in this browser only when remember is true. */
export function setKey(key, remember) {
  apiKey = key || null;
  try {
    if (key && remember) localStorage.setItem(KEY_STORE, key);
    else localStorage.removeItem(KEY_STORE);
  } catch {
    /* storage disabled: the key lives in this page only */
  }
}

export function hasKey() {
  return !!apiKey;
}

export function isRemembered() {
  try {
    return !!localStorage.getItem(KEY_STORE);
  } catch {
    return false;
  }
}

/** One API call. path without a leading slash ("v1/jobs"); body is JSON-encoded. */
export async function api(method, path, body, opts = {}) {
  const headers = { Accept: 'application/json' };
  if (apiKey && !opts.anonymous) headers['X-Api-Key'] = apiKey;
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  if (opts.idempotencyKey) headers['Idempotency-Key'] = opts.idempotencyKey;
  const res = await fetch(new URL(path, BASE), {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
    cache: 'no-store',
    signal: opts.signal,
  });
  const text = await res.text();
  let json = null;
  try {
    json = text ? JSON.parse(text) : null;
  } catch {
    json = null;
  }
  if (!res.ok) throw new ApiError(res.status, json);
  return json;
}

export const get = (path, opts) => api('GET', path, undefined, opts);
export const post = (path, body, opts) => api('POST', path, body, opts);
export const del = (path, opts) => api('DELETE', path, undefined, opts);

/** Query string from an object, leaving out empty values. */
export function qs(params) {
  const u = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null && v !== '') u.set(k, v);
  const s = u.toString();
  return s ? `?${s}` : '';
}

let config = null;
async function wsUrl() {
  if (!config) config = await fetch(new URL('web/config.json', BASE)).then(r => r.json()).catch(() => ({}));
  if (config.websocket_url) return config.websocket_url;
  const proto = location.protocol === 'https:' ? 'wss:' : 'ws:';
  return `${proto}//${location.hostname}:18001/ws`;
}

/**
 * Live events: subscribe(topics, onEvent) with a single-use ticket, reconnecting after drops.
 * Returns {close()}. onState('live'|'connecting'|'off') reports the connection for the UI.
 * Without a key there is no feed (the caller polls instead).
 */
export function subscribe(topics, onEvent, onState = () => {}) {
  let ws = null;
  let closed = false;
  let retry = 1000;
  let timer = null;
  async function connect() {
    if (closed) return;
    if (!hasKey()) {
      onState('off');
      return;
    }
    onState('connecting');
    try {
      const t = await post('v1/ws/tickets');
      const url = new URL(await wsUrl());
      url.searchParams.set('ticket', t.ticket);
      ws = new WebSocket(url);
    } catch {
      return again();
    }
    ws.onopen = () => {
      retry = 1000;
      ws.send(JSON.stringify({ id: 1, method: 'subscribe', params: topics }));
    };
    ws.onmessage = m => {
      let msg;
      try {
        msg = JSON.parse(m.data);
      } catch {
        return;
      }
      if (msg.id === 1 && msg.result) onState('live');
      if (msg.method === 'event' && msg.params) onEvent(msg.params.topic, msg.params.data, msg.params.seq);
    };
    ws.onclose = () => again();
  }
  function again() {
    ws = null;
    if (closed) return;
    onState('connecting');
    timer = setTimeout(connect, retry);
    retry = Math.min(retry * 2, 15000);
  }
  connect();
  return {
    close() {
      closed = true;
      clearTimeout(timer);
      if (ws) ws.close();
    },
  };
}
