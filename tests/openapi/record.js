// The JavaScript side of the traffic recorder, for tests that speak HTTP without the C harness
// (tests/browser): the same lines as tests/integration/recorder.c, in the same directory, so
// openapi_traffic checks them too. Without AITBC_API_RECORD it does nothing.
import { appendFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';

const DIR = process.env.AITBC_API_RECORD || '';
const BODY_MAX = 1024 * 1024; /* as recorder.c: such bodies test limits, not schemas */

export const recording = DIR !== '';

const isJson = (type) => /^application\/(json|[^;]*\+json)\s*(;|$)/i.test(type || '');

function addBody(rec, name, type, text) {
  if (text === undefined || text === null || text === '') return;
  if (Buffer.byteLength(text) > BODY_MAX) rec[`${name}_skipped`] = 'large';
  else if (!isJson(type)) rec[`${name}_skipped`] = 'not json';
  else {
    try {
      rec[name] = JSON.parse(text);
    } catch {
      rec[`${name}_skipped`] = 'invalid json';
    }
  }
}

/** Record one call: url is absolute; prefix is the node's http.path_prefix ('' if none); bodies
 *  are the texts sent and received. */
export function recordCall(test, { method, url, prefix, reqType, reqBody, status, respType, respBody }) {
  if (!recording) return;
  const u = new URL(url);
  const rec = { method, path: u.pathname + u.search };
  if (prefix) rec.prefix = prefix;
  if (reqBody !== undefined && reqBody !== null) {
    rec.req_type = reqType || '';
    addBody(rec, 'req_body', reqType, reqBody);
  }
  rec.status = status;
  if (respType) rec.resp_type = respType;
  addBody(rec, 'resp_body', respType, respBody);
  mkdirSync(DIR, { recursive: true });
  appendFileSync(join(DIR, `${test}.${process.pid}.jsonl`), JSON.stringify(rec) + '\n');
}
