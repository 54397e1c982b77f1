// Starting real aitbc-host processes for the browser tests, and talking to them over HTTP the way
// any client does. Nothing here stands in for a part of AITBC: the coordinator and the miner node
// are the real binary with the real plugins, on 127.0.0.1.
import { spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync, readFileSync, existsSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import net from 'node:net';
import { generateKeyPairSync, sign, randomUUID } from 'node:crypto';
import { recordCall } from '../openapi/record.js';

export const HOST_BIN = process.env.AITBC_HOST_BIN;
export const PLUGIN_DIR = process.env.AITBC_PLUGIN_DIR;

/** A free TCP port on 127.0.0.1 (for the WebSocket listener, whose URL the page must know). */
export function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

export async function waitFor(what, fn, timeoutMs = 30000, everyMs = 100) {
  const end = Date.now() + timeoutMs;
  let last;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v;
    } catch (e) {
      last = e;
    }
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}${last ? `: ${last.message}` : ''}`);
    await new Promise(r => setTimeout(r, everyMs));
  }
}

/** Start aitbc-host with the given config body (node/storage are added); resolves {port, dir, stop()}. */
export async function startNode(name, yaml) {
  const dir = mkdtempSync(join(tmpdir(), `aitbc-browser-${name}-`));
  const cfg = join(dir, 'config.yaml');
  const ready = join(dir, 'ready.json');
  writeFileSync(cfg, `node:\n  data_dir: "${dir}/data"\n  log_level: info\n  plugin_path: "${PLUGIN_DIR}"\n` +
    `storage:\n  path: "${dir}/aitbc.db"\n${yaml}`);
  const proc = spawn(HOST_BIN, ['-c', cfg, '--ready-file', ready], { stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  proc.stderr.on('data', d => {
    log += d;
  });
  let exited = null;
  proc.on('exit', code => {
    exited = code;
  });
  const info = await waitFor(`${name} to be ready`, () => {
    if (exited !== null) throw new Error(`${name} exited (${exited}):\n${log}`);
    return existsSync(ready) && JSON.parse(readFileSync(ready, 'utf8'));
  }, 30000, 50);
  return {
    port: info.http_port,
    dir,
    log: () => log,
    async stop() {
      if (exited === null) {
        const done = new Promise(r => proc.on('exit', r));
        proc.kill('SIGTERM');
        await done;
      }
      rmSync(dir, { recursive: true, force: true });
      return exited;
    },
  };
}

/** JSON over HTTP; resolves {status, body}. */
export async function http(base, method, path, key, body, headers = {}) {
  const h = { ...headers };
  if (key) h['X-Api-Key'] = key;
  if (body !== undefined) h['Content-Type'] = 'application/json';
  const sent = body === undefined ? undefined : JSON.stringify(body);
  const res = await fetch(base + path, { method, headers: h, body: sent });
  const text = await res.text();
  recordCall('browser_ui', {
    method, url: base + path, prefix: new URL(base).pathname.replace(/\/$/, ''),
    reqType: h['Content-Type'], reqBody: sent, status: res.status,
    respType: res.headers.get('content-type'), respBody: text,
  });
  let json = null;
  try {
    json = JSON.parse(text);
  } catch {
    json = text;
  }
  return { status: res.status, body: json, headers: res.headers };
}

/** Like http() but fails unless the status is want. */
export async function call(base, method, path, key, body, want) {
  const r = await http(base, method, path, key, body, { 'Idempotency-Key': randomUUID() });
  if (r.status !== want) throw new Error(`${method} ${path}: ${r.status} ${JSON.stringify(r.body)} (want ${want})`);
  return r.body;
}

const b64url = buf => Buffer.from(buf).toString('base64url');

/**
 * A miner registered over HTTP with a fresh Ed25519 key, as plugins/client/tests do: it sells GPU
 * hours in the marketplace test (the real miner node runs the OCR job).
 */
export async function registerMiner(base, capabilities, unitPrice) {
  const { publicKey, privateKey } = generateKeyPairSync('ed25519');
  const pk = Buffer.from(publicKey.export({ format: 'jwk' }).x, 'base64url').toString('hex');
  const ts = Math.floor(Date.now() / 1000);
  const signature = b64url(sign(null, Buffer.from(`aitbc-register\n${pk}\n${ts}`), privateKey));
  const r = await call(base, 'POST', '/v1/miners/register', null,
    { public_key: pk, timestamp: ts, signature, capabilities, unit_price: unitPrice }, 201);
  await call(base, 'POST', `/v1/miners/${r.address}/heartbeat`, r.api_key, {}, 200);
  return r;
}
