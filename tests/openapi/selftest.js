// The validator's own test: recordings made up here, each with one known drift, must be reported
// (and make the command exit 1); faithful ones and deliberate probes of unrouted paths must not.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { TrafficValidator } from './validate.js';

const here = fileURLToPath(new URL('.', import.meta.url));
const doc = JSON.parse(readFileSync(join(here, '..', '..', 'docs', 'openapi.json'), 'utf8'));
const testPlugins = JSON.parse(readFileSync(join(here, 'test-plugins.json'), 'utf8')).paths;
const v = new TrafficValidator(doc, testPlugins);

const json = 'application/json';
const health = { status: 'ok', plugins: [{ name: 'chain', version: '0.1.0', healthy: true }] };
const notFound = { error: { code: 'not_found', message: 'No such resource.' } };
// A recorded line (a key set to undefined is left out, as in JSON).
const call = (over) => JSON.parse(JSON.stringify({ method: 'GET', path: '/healthz', status: 200, resp_type: json, resp_body: health, ...over }));

let checks = 0;
function agrees(what, rec) {
  checks++;
  assert.deepEqual(v.check(rec), [], what);
}
function drifts(what, rec, pattern) {
  checks++;
  const problems = v.check(rec);
  assert.ok(problems.some((p) => pattern.test(p)), `${what}: expected ${pattern}, got ${JSON.stringify(problems)}`);
}

agrees('a documented answer', call({}));
agrees('the same under path_prefix', call({ path: '/api/healthz/', prefix: '/api' }));
agrees('HEAD answers like GET, without a body', { method: 'HEAD', path: '/healthz', status: 200, resp_type: json });
agrees('an error answers with the Error body', call({ status: 503, resp_body: { status: 'degraded', plugins: [] } }));
agrees('an unrouted path answers 404 with the Error body', call({ path: '/v1/no/such/thing', status: 404, resp_body: notFound }));
agrees('a check before routing refuses an undecodable query', call({ path: '/v1/no/such?x=%ff', status: 400, resp_body: { error: { code: 'invalid_argument', message: 'bad escape', field: 'x' } } }));
agrees('a body sent to a route that reads none is ignored', { method: 'POST', path: '/v1/ws/tickets', req_type: 'text/plain', req_body_skipped: 'not json', status: 201, resp_type: json, resp_body: { ticket: 'wst_0', expires_at: '2026-11-29T05:37:48.786Z' } });
agrees('a test plugin route is routed', call({ path: '/v1/hello', resp_body: { anything: 1 } }));
agrees('a refused request may break the schema', {
  method: 'POST', path: '/v1/signup', req_type: json, req_body: { label: 7, color: 'red' }, status: 400,
  resp_type: json, resp_body: { error: { code: 'invalid_argument', message: 'unknown field', field: 'color' } },
});

drifts('an undocumented response field', call({ resp_body: { ...health, uptime: 3 } }), /additional properties \('uptime'\)/);
drifts('a field of the wrong type', call({ resp_body: { ...health, status: 'fine' } }), /status must be equal to one of the allowed values/);
drifts('a missing required field', call({ resp_body: { status: 'ok' } }), /required property 'plugins'/);
drifts('an error without the Error body', call({ status: 500, resp_body: { oops: true } }), /required property 'error'/);
drifts('an undocumented Content-Type', call({ resp_type: 'text/plain', resp_body: undefined, resp_body_skipped: 'not json' }), /Content-Type text\/plain is not documented/);
drifts('a body that is not the JSON it claims', call({ resp_body: undefined, resp_body_skipped: 'invalid json' }), /not valid JSON/);
drifts('an unrouted path that answers 200', call({ path: '/v1/no/such/thing' }), /not 404/);
drifts('an accepted request with an undocumented field', {
  method: 'POST', path: '/v1/signup', req_type: json, req_body: { label: 'a', color: 'red' }, status: 201,
  resp_type: json, resp_body: {},
}, /request body \(accepted with 201\): .*additional properties \('color'\)/);
agrees('a query parameter the route does not define is ignored', call({ path: '/healthz?colour=red' }));
drifts('an accepted query value the description forbids', call({ path: '/v1/jobs?limit=x1', resp_body: { items: [], next_cursor: null } }), /query parameter limit="x1": limit must match pattern/);
drifts('an accepted call without a required query parameter', call({ path: '/v1/exchange/klines?market=AIT-BTC', resp_body: [] }), /required query parameter 'interval'/);
agrees('documented query parameters', call({ path: '/v1/explorer/blocks?limit=2', resp_body: undefined }));
drifts('a documented path with a method it lacks that answers 200', call({ method: 'DELETE' }), /documents no DELETE/);

const served = structuredClone(doc);
served.paths['/healthz'].get.responses['200'].content['application/json'].schema = { type: 'object' };
checks++;
assert.ok(v.checkServed(served).some((p) => /GET \/healthz: the served responses differs/.test(p)));
checks++;
assert.deepEqual(v.checkServed(doc), []);

// The command: exit 0 on faithful traffic, 1 on a drift, naming the test and the call.
const dir = mkdtempSync(join(tmpdir(), 'aitbc-openapi-selftest-'));
try {
  const run = (lines) => {
    writeFileSync(join(dir, 'it_made_up.4242.jsonl'), lines.map((l) => JSON.stringify(l)).join('\n') + '\n');
    try {
      return { code: 0, out: execFileSync(process.execPath, [join(here, 'validate.js'), dir], { encoding: 'utf8' }) };
    } catch (e) {
      return { code: e.status, out: e.stdout };
    }
  };
  const good = run([call({})]);
  assert.equal(good.code, 0, good.out);
  const bad = run([call({}), call({ resp_body: { ...health, uptime: 3 } })]);
  assert.equal(bad.code, 1, bad.out);
  assert.match(bad.out, /^it_made_up \(it_made_up\.4242\.jsonl:2\): GET \/healthz -> 200: response body: .*'uptime'/m);
  const none = run([]);
  assert.equal(none.code, 1, 'no recorded calls must fail');
  checks += 3;
} finally {
  rmSync(dir, { recursive: true, force: true });
}
console.log(`validator self-test: ${checks} checks passed`);
