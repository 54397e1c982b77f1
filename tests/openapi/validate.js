#!/usr/bin/env node
// Checks the HTTP traffic the integration tests recorded (tests/integration/recorder.c, one JSON
// line per call in <dir>/<test>.<pid>.jsonl) against docs/openapi.json. The rules, in short
// (tests/openapi/README.md has them in full):
//  - each call is matched to an operation by method and path template (HEAD as GET; a path under
//    the host's path_prefix also without it); a literal segment beats a {parameter};
//  - the response must be documented for its status (exact code, then NXX, then default) with its
//    Content-Type, and a JSON body must validate against that schema;
//  - a request (body and query parameters) is validated only when the node accepted it (2xx): the
//    tests send invalid ones on purpose, and a node that accepts what the description forbids is
//    the drift;
//  - objects are closed: a field the node sends or accepts must be in the description (objects
//    that are maps say so with their own additionalProperties);
//  - a path no template matches must be answered 404 (or 400/413 from the checks before
//    routing), and a documented path with a method it
//    lacks 404 or 405, each with the Error body: tests probe unrouted paths on purpose;
//  - a recorded GET of /v1/openapi.json (the served description) must describe every operation's
//    requestBody and responses exactly as docs/openapi.json does, so checking against the file
//    checks against what a node serves.
// Usage: node validate.js [--doc docs/openapi.json] [--max-per-kind N] <dir or .jsonl>...
// (exit 1 on any problem)
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { join, basename } from 'node:path';
import { fileURLToPath } from 'node:url';
import { isDeepStrictEqual } from 'node:util';

// ajv comes from this directory's package-lock.json (npm ci here; tests/install-deps.sh does it).
let Ajv2020, addFormats;
try {
  Ajv2020 = (await import('ajv/dist/2020.js')).default;
  addFormats = (await import('ajv-formats')).default;
} catch (e) {
  console.error(`validate.js: ${e.message}\nRun \`npm ci\` in tests/openapi (sh tests/install-deps.sh does).`);
  process.exit(2);
}

const METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'];
const DOC_ID = 'aitbc-openapi.json';

// Every object schema that lists its properties gets additionalProperties: false unless it says
// otherwise, so an undocumented field is a mismatch rather than silently allowed.
function closeObjects(node) {
  if (Array.isArray(node)) return node.forEach(closeObjects);
  if (!node || typeof node !== 'object') return;
  if (node.properties && typeof node.properties === 'object' && !('additionalProperties' in node))
    node.additionalProperties = false;
  for (const [k, v] of Object.entries(node)) if (k !== 'example' && k !== 'examples') closeObjects(v);
}

// ajv's errors as one line that names the field at fault. The "null" branch of a nullable
// anyOf and the anyOf summary only repeat what the other branch says.
function describeErrors(errors, value) {
  const at = (path) => path.split('/').slice(1)
    .reduce((cur, k) => (cur == null ? cur : cur[k.replace(/~1/g, '/').replace(/~0/g, '~')]), value);
  const shown = errors.filter((e) => !['anyOf', 'oneOf'].includes(e.keyword) &&
    !(e.keyword === 'type' && e.params.type === 'null' && /\/(anyOf|oneOf)\/\d+\/type$/.test(e.schemaPath)));
  return (shown.length ? shown : errors).map((e) => {
    let text = `body${e.instancePath} ${e.message}`;
    if (e.keyword === 'additionalProperties') text += ` ('${e.params.additionalProperty}')`;
    else if (e.keyword === 'enum' || e.keyword === 'type' || e.keyword === 'pattern' || e.keyword === 'const')
      text += ` (got ${JSON.stringify(at(e.instancePath))?.slice(0, 80)})`;
    return text;
  }).join('; ');
}

const escapePointer = (s) => s.replace(/~/g, '~0').replace(/\//g, '~1');

const isJsonType = (t) => /^application\/(json|[^;]*\+json)$/.test(mediaType(t));

function mediaType(type) {
  return (type || '').split(';')[0].trim().toLowerCase();
}

export class TrafficValidator {
  // extraPaths: operations to route but not check (test-plugins.json), never overriding doc's.
  constructor(doc, extraPaths = {}) {
    doc = { ...doc, paths: { ...extraPaths, ...doc.paths } };
    this.doc = doc;
    const closed = structuredClone(doc);
    closeObjects(closed.components || {});
    closeObjects(closed.paths || {});
    closed.$id = DOC_ID;
    this.ajv = new Ajv2020({ strict: false, allErrors: true, validateFormats: true });
    addFormats(this.ajv);
    this.ajv.addSchema(closed, DOC_ID);
    this.compiled = new Map();
    this.routes = [];
    for (const [template, item] of Object.entries(doc.paths || {})) {
      const segments = template.split('/');
      const re = new RegExp('^' + segments.map((s) =>
        /^\{[^}]+\}$/.test(s) ? '[^/]+' : s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('/') + '$');
      this.routes.push({ template, item, re, segments });
    }
    // The most literal template first: /v1/jobs/stats before /v1/jobs/{id}.
    const rank = (r) => r.segments.map((s) => (s.startsWith('{') ? '1' : '0')).join('');
    this.routes.sort((a, b) => (rank(a) < rank(b) ? -1 : rank(a) > rank(b) ? 1 : 0));
    this.used = new Set(); /* operations called */
    this.validated = new Set(); /* operations with a 2xx JSON answer checked */
  }

  validator(pointer) {
    let v = this.compiled.get(pointer);
    if (!v) {
      v = this.ajv.compile({ $ref: `${DOC_ID}#${pointer}` });
      this.compiled.set(pointer, v);
    }
    return v;
  }

  schemaErrors(pointer, value) {
    const v = this.validator(pointer);
    if (v(value)) return null;
    return describeErrors(v.errors, value);
  }

  match(path) {
    for (const r of this.routes) if (r.re.test(path)) return r;
    return null;
  }

  resolve(obj) {
    let o = obj;
    for (let i = 0; o && o.$ref && i < 10; i++) {
      const parts = o.$ref.replace(/^#\//, '').split('/')
        .map((p) => p.replace(/~1/g, '/').replace(/~0/g, '~'));
      o = parts.reduce((cur, k) => (cur ? cur[k] : undefined), this.doc);
    }
    return o;
  }

  // The documented response for status: exact, then e.g. 4XX, then default.
  responseFor(op, status) {
    const responses = op.responses || {};
    for (const key of [String(status), `${String(status)[0]}XX`, 'default'])
      if (responses[key]) return { key, response: this.resolve(responses[key]) };
    return null;
  }

  // Problems with the body of an answer documented by response (pointer = where it lives).
  checkResponse(rec, response, pointer) {
    const problems = [];
    const content = response.content || null;
    const got = mediaType(rec.resp_type);
    const hasBody = 'resp_body' in rec || 'resp_body_skipped' in rec;
    if (rec.resp_body_skipped === 'invalid json')
      problems.push(`response says ${got} but its body is not valid JSON`);
    if (!content) {
      if (hasBody && rec.method !== 'HEAD') problems.push(`response has a body (${got}) but none is documented`);
      return problems;
    }
    if (!hasBody) return problems; /* HEAD, or an empty body: nothing to check */
    const types = Object.keys(content);
    const type = types.find((t) => mediaType(t) === got) ||
      types.find((t) => t === '*/*' || (t.endsWith('/*') && got.startsWith(t.slice(0, -1))));
    if (!type) {
      problems.push(`response Content-Type ${got || '(none)'} is not documented (${types.join(', ')})`);
      return problems;
    }
    // Only a JSON media type's schema describes the JSON value; under */* it describes bytes.
    if ('resp_body' in rec && content[type].schema && isJsonType(type)) {
      const err = this.schemaErrors(`${pointer}/content/${escapePointer(type)}/schema`, rec.resp_body);
      if (err) problems.push(`response body: ${err}`);
    }
    return problems;
  }

  errorBody(rec) {
    if (!('resp_body' in rec)) return 'the error has no JSON body';
    const err = this.schemaErrors('/components/schemas/Error', rec.resp_body);
    return err ? `error body: ${err}` : null;
  }

  // The documented path a recorded call went to, or null. One trailing slash is ignored, and the
  // host answers the same routes with and without its path_prefix (docs/api.md, routing).
  routeOf(rec) {
    let rawPath = String(rec.path || '').split('?')[0];
    if (rawPath.length > 1 && rawPath.endsWith('/')) rawPath = rawPath.slice(0, -1);
    const route = this.match(rawPath);
    if (route || !rec.prefix) return route;
    if (rawPath !== rec.prefix && !rawPath.startsWith(rec.prefix + '/')) return null;
    return this.match(rawPath.slice(rec.prefix.length) || '/');
  }

  // An accepted request's query: each documented parameter's value valid (query values are
  // strings: the description says so), the required ones present. The first of a repeated name
  // counts, and a name the route does not define is ignored by the node (docs/api.md, routing).
  checkQuery(rec, op, opPointer) {
    const problems = [];
    const declared = new Map();
    (op.parameters || []).forEach((p, i) => {
      const param = this.resolve(p);
      if (param && param.in === 'query')
        declared.set(param.name, { param, pointer: `${p.$ref ? p.$ref.slice(1) : `${opPointer}/parameters/${i}`}/schema` });
    });
    const values = new Map();
    const query = String(rec.path || '').split('?')[1] || '';
    for (const pair of query.split('&').filter(Boolean)) {
      const [rawName, ...rest] = pair.split('=');
      const decode = (t) => {
        try {
          return decodeURIComponent(t.replace(/\+/g, ' '));
        } catch {
          return t;
        }
      };
      const name = decode(rawName);
      if (!values.has(name)) values.set(name, decode(rest.join('=')));
    }
    for (const [name, value] of values) {
      const d = declared.get(name);
      if (!d) continue;
      const err = d.param.schema ? this.schemaErrors(d.pointer, value) : null;
      if (err) problems.push(`the node accepted query parameter ${name}=${JSON.stringify(value)}: ${err.replace(/^body/, name)}`);
    }
    for (const [name, d] of declared)
      if (d.param.required && !values.has(name)) problems.push(`the node accepted a call without the required query parameter '${name}'`);
    return problems;
  }

  // Every problem one recorded call shows (empty when it agrees with the description).
  check(rec) {
    const route = this.routeOf(rec);
    const problems = [];
    if (!route) {
      // Or what a check before routing answers (docs/api.md, order of checks): 400 for framing or
      // an undecodable query, 413 for the size limit.
      if (![400, 404, 413].includes(rec.status))
        problems.push(`no documented path matches, but the status is ${rec.status}, not 404`);
      const e = this.errorBody(rec);
      if (e && rec.method !== 'HEAD') problems.push(e);
      return problems;
    }
    const method = rec.method === 'HEAD' && !route.item.head ? 'get' : String(rec.method).toLowerCase();
    const op = METHODS.includes(method) ? route.item[method] : undefined;
    if (!op) {
      if (rec.status !== 404 && rec.status !== 405)
        problems.push(`${route.template} documents no ${rec.method}, but the status is ${rec.status}, not 405`);
      const e = this.errorBody(rec);
      if (e && rec.method !== 'HEAD') problems.push(e);
      return problems;
    }
    if (!op.responses) {
      /* a test plugin's route: only its errors are checked */
      const e = rec.status >= 400 && rec.method !== 'HEAD' ? this.errorBody(rec) : null;
      return e ? [e] : [];
    }
    const opPointer = `/paths/${escapePointer(route.template)}/${method}`;
    this.used.add(`${method.toUpperCase()} ${route.template}`);
    // The request, when the node took it: its query parameters and body.
    if (rec.status >= 200 && rec.status < 300) problems.push(...this.checkQuery(rec, op, opPointer));
    if (rec.status >= 200 && rec.status < 300 && ('req_body' in rec || 'req_body_skipped' in rec)) {
      const body = this.resolve(op.requestBody);
      const content = body && body.content;
      const got = mediaType(rec.req_type);
      if (!content) {
        /* routes without a JSON body ignore any body sent (docs/api.md) */
      } else if (!content[got]) {
        problems.push(`the node accepted a ${got} body; documented: ${Object.keys(content).join(', ')}`);
      } else if (rec.req_body_skipped === 'invalid json') {
        problems.push('the node accepted a request body that is not valid JSON');
      } else if ('req_body' in rec && content[got].schema) {
        const ptr = op.requestBody.$ref
          ? op.requestBody.$ref.slice(1) : `${opPointer}/requestBody`;
        const err = this.schemaErrors(`${ptr}/content/${escapePointer(got)}/schema`, rec.req_body);
        if (err) problems.push(`request body (accepted with ${rec.status}): ${err.replace(/\bbody\b/g, 'request')}`);
      }
    }
    const found = this.responseFor(op, rec.status);
    if (!found) {
      problems.push(`status ${rec.status} is not documented (documented: ${Object.keys(op.responses || {}).join(', ')})`);
      return problems;
    }
    if (rec.status >= 200 && rec.status < 300 && 'resp_body' in rec)
      this.validated.add(`${method.toUpperCase()} ${route.template}`);
    const ref = op.responses[found.key].$ref;
    const pointer = ref ? ref.slice(1) : `${opPointer}/responses/${found.key}`;
    return problems.concat(this.checkResponse(rec, found.response, pointer));
  }

  // The served description must say what the file says about every operation it serves.
  checkServed(served) {
    const problems = [];
    for (const [template, item] of Object.entries(served.paths || {})) {
      for (const [method, op] of Object.entries(item)) {
        if (!METHODS.includes(method)) continue;
        const mine = (this.doc.paths[template] || {})[method];
        if (mine && !mine.responses) continue; /* a test plugin's */
        if (!mine) {
          problems.push(`${method.toUpperCase()} ${template} is served but not in docs/openapi.json`);
          continue;
        }
        for (const key of ['requestBody', 'responses'])
          if (!isDeepStrictEqual(mine[key], op[key]))
            problems.push(`${method.toUpperCase()} ${template}: the served ${key} differs from docs/openapi.json's`);
      }
    }
    return problems;
  }
}

function recordingFiles(args) {
  const files = [];
  for (const a of args) {
    if (!existsSync(a)) continue; /* nothing recorded yet */
    if (statSync(a).isDirectory()) {
      for (const f of readdirSync(a).sort()) if (f.endsWith('.jsonl')) files.push(join(a, f));
    } else {
      files.push(a);
    }
  }
  return files;
}

const isOpenapiCall = (rec, v) => rec.method === 'GET' && rec.status === 200 && 'resp_body' in rec &&
  v.routeOf(rec)?.template === '/v1/openapi.json';

// Validates every recorded call; returns { calls, problems: [text], operations, used }.
export function validateRecordings(doc, args, { maxPerKind = Infinity, extraPaths = {} } = {}) {
  const v = new TrafficValidator(doc, extraPaths);
  const problems = [];
  let total = 0;
  let served = 0; /* served descriptions compared with the file */
  const seenKinds = new Map();
  let calls = 0;
  for (const file of recordingFiles(args)) {
    const test = basename(file).replace(/\.\d+\.jsonl$/, '');
    const lines = readFileSync(file, 'utf8').split('\n');
    lines.forEach((line, i) => {
      if (!line.trim()) return;
      let rec;
      try {
        rec = JSON.parse(line);
      } catch (e) {
        problems.push(`${test} (${basename(file)}:${i + 1}): unreadable record: ${e.message}`);
        return;
      }
      calls++;
      const found = v.check(rec);
      if (isOpenapiCall(rec, v)) {
        served++;
        found.push(...v.checkServed(rec.resp_body));
      }
      for (const p of found) {
        // The same mismatch from many calls is one drift: show the first few of each.
        const kind = `${rec.method} ${v.routeOf(rec)?.template ?? rec.path} ${rec.status} ${p}`;
        const n = (seenKinds.get(kind) || 0) + 1;
        total++;
        seenKinds.set(kind, n);
        if (n <= maxPerKind)
          problems.push(`${test} (${basename(file)}:${i + 1}): ${rec.method} ${rec.path} -> ${rec.status}: ${p}`);
      }
    });
  }
  let operations = 0;
  for (const item of Object.values(doc.paths || {}))
    for (const m of Object.keys(item)) if (METHODS.includes(m)) operations++;
  return { calls, problems, total, operations, used: v.used.size, validated: v.validated.size, served, files: recordingFiles(args).length };
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const args = process.argv.slice(2);
  let docPath = join(fileURLToPath(new URL('.', import.meta.url)), '..', '..', 'docs', 'openapi.json');
  const di = args.indexOf('--doc');
  if (di >= 0) {
    docPath = args[di + 1];
    args.splice(di, 2);
  }
  let maxPerKind = 3; /* the same mismatch from many calls is one drift */
  const mi = args.indexOf('--max-per-kind');
  if (mi >= 0) {
    maxPerKind = Number(args[mi + 1]);
    args.splice(mi, 2);
  }
  if (args.length === 0) {
    console.error('usage: node validate.js [--doc openapi.json] <recording dir or .jsonl>...');
    process.exit(2);
  }
  const doc = JSON.parse(readFileSync(docPath, 'utf8'));
  const extraPaths = JSON.parse(readFileSync(new URL('test-plugins.json', import.meta.url), 'utf8')).paths;
  const r = validateRecordings(doc, args, { maxPerKind, extraPaths });
  if (r.calls === 0) {
    // Recording that silently stopped would pass every check: none is a failure.
    console.log('no recorded calls: run this with the integration tests (their AITBC_API_RECORD dir)');
    process.exit(1);
  }
  for (const p of r.problems) console.log(p);
  if (r.total > r.problems.length) console.log(`(${r.total - r.problems.length} more of the same kinds not shown)`);
  console.log(`${r.files} recordings, ${r.calls} calls, ${r.used} of ${r.operations} documented operations called (${r.validated} with a JSON success answer checked), ${r.served} served descriptions compared, ${r.total} problems`);
  if (r.total) console.log('Fix docs/openapi.json where it is wrong, or the code where it breaks docs/api.md (tests/openapi/README.md).');
  process.exit(r.total ? 1 : 0);
}
