// Browser tests of the web interface: Debian's chromium, headless, driven by playwright-core,
// against a real coordinator (every product plugin + web, behind path_prefix /api) and a real
// miner node (miner-agent + compute-ocr on Tesseract). A person's path through every page:
// sign up and get the grant, run an OCR job and see it complete with a ✓ receipt (✗ for a
// changed copy), watch blocks arrive live, buy GPU hours, trade on the exchange (book and trades
// change live, an order is canceled), and the admin pages. Each page is screenshotted and checked
// with axe-core (no serious or critical violations), and the console must stay free of errors
// (a CSP violation is one). The served OpenAPI description passes a 3.1 schema validator.
//
// Usage: node run.js OUTDIR   (env AITBC_HOST_BIN, AITBC_PLUGIN_DIR; CHROMIUM, default /usr/bin/chromium)
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { request } from 'node:http';
// Missing packages: run `npm ci` here (tests/install-deps.sh does).
import { chromium } from 'playwright-core';
import { Validator } from '@seriousme/openapi-schema-validator';
import { startNode, freePort, waitFor, http, call, registerMiner } from './nodes.js';
import { recordCall, recording } from '../openapi/record.js';

const here = dirname(fileURLToPath(import.meta.url));
const OUT = process.argv[2] || join(here, 'out');
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const SOURCE = join(here, '..', '..');
const FAUCET = 'ait1fa0ce70000000000000000000000000000000001';
const IMAGE = join(SOURCE, 'plugins', 'compute-ocr', 'tests', 'data', 'hello.png');
const AXE = readFileSync(join(here, 'node_modules', 'axe-core', 'axe.min.js'), 'utf8');
for (const [what, path] of [['AITBC_HOST_BIN', process.env.AITBC_HOST_BIN], ['chromium', CHROMIUM]]) {
  if (!path || !existsSync(path)) {
    console.error(`browser tests: ${what} not found (${path}); run sh tests/install-deps.sh and build first`);
    process.exit(1);
  }
}

mkdirSync(OUT, { recursive: true });

/** Status of a GET sent with exactly this path. */
function rawStatus(port, path) {
  return new Promise((resolve, reject) => {
    const r = request({ host: '127.0.0.1', port, path, method: 'GET' }, res => {
      res.resume();
      resolve(res.statusCode);
    });
    r.on('error', reject);
    r.end();
  });
}

const results = [];
async function step(name, fn) {
  const t0 = Date.now();
  try {
    await fn();
    results.push(`ok   ${name} (${Date.now() - t0} ms)`);
    console.log(`ok   ${name} (${Date.now() - t0} ms)`);
  } catch (e) {
    console.log(`FAIL ${name}: ${e.stack || e}`);
    throw e;
  }
}

let coord, miner, ctx, page, profile;
const problems = [];

async function main() {
  const wsPort = await freePort();
  coord = await startNode('coordinator', `http:\n  listen: "127.0.0.1:0"\n  path_prefix: /api\n` +
    `websocket:\n  listen: "127.0.0.1:${wsPort}"\n` +
    'plugins:\n' +
    `  auth-apikey: { signup: { enabled: true, per_hour: 20, grant: { asset: AIT, amount: "10" }, faucet_address: "${FAUCET}" } }\n` +
    `  chain: { block_interval_ms: 300, max_empty_interval_s: 0, genesis: { allocations: [ { address: "${FAUCET}", asset: AIT, amount: "1000" } ] } }\n` +
    '  explorer: {}\n  client: {}\n  miner: { heartbeat_interval_s: 60 }\n  admin: {}\n  marketplace: {}\n  exchange: {}\n' +
    `  web: { websocket_url: "ws://127.0.0.1:${wsPort}/ws" }\n`);
  const api = `http://127.0.0.1:${coord.port}/api`;
  const ui = `${api}/`;
  const admin = readFileSync(join(coord.dir, 'data', 'admin.key'), 'utf8').trim();
  miner = await startNode('miner', 'http:\n  listen: "127.0.0.1:0"\nplugins:\n' +
    `  miner-agent: { coordinator_url: "${api}", unit_price: "0.1", unit_type: job, poll_wait_s: 5 }\n` +
    '  compute-ocr: {}\n');

  profile = mkdtempSync(join(tmpdir(), 'aitbc-chromium-'));
  // A fresh profile, no network beyond 127.0.0.1, and never a browser download: the system chromium.
  ctx = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    viewport: { width: 1280, height: 900 },
  });
  page = ctx.pages()[0] || (await ctx.newPage());
  page.on('console', m => {
    if (m.type() === 'error') problems.push(`console: ${m.text()}`);
  });
  page.on('pageerror', e => problems.push(`page error: ${e.message}`));
  // What the web interface itself asks the node is checked against docs/openapi.json too.
  if (recording) {
    page.on('response', async res => {
      const req = res.request();
      if (!req.url().startsWith(`${api}/`) && req.url() !== api) return;
      let text;
      try {
        text = await res.text();
      } catch {
        text = undefined; /* no body (304) or the page went on */
      }
      recordCall('browser_ui', {
        method: req.method(), url: req.url(), prefix: '/api', reqType: req.headers()['content-type'],
        reqBody: req.postData() ?? undefined, status: res.status(), respType: res.headers()['content-type'], respBody: text,
      });
    });
  }
  const go = async hash => {
    await page.evaluate(h => {
      location.hash = h;
    }, hash);
    await page.waitForFunction(() => !document.querySelector('main > p.live'));
  };
  const shot = name => page.screenshot({ path: join(OUT, `${name}.png`), fullPage: true });
  const axe = async name => {
    await page.evaluate(AXE); // injected through the DevTools protocol, not as an inline script
    const r = await page.evaluate(() => window.axe.run(document, { resultTypes: ['violations'] }));
    const bad = r.violations.filter(v => v.impact === 'serious' || v.impact === 'critical');
    assert.deepEqual(bad.map(v => `${v.id}: ${v.nodes.map(n => n.target.join(' ')).join(', ')}`), [], `axe on ${name}`);
  };

  await step('the page is served with a strict CSP, nosniff and an ETag', async () => {
    const r = await fetch(ui);
    assert.equal(r.status, 200);
    assert.match(r.headers.get('content-type'), /^text\/html/);
    const csp = r.headers.get('content-security-policy');
    assert.match(csp, /default-src 'none'/);
    assert.match(csp, /script-src 'self';/);
    assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval/);
    assert.equal(r.headers.get('x-content-type-options'), 'nosniff');
    const etag = r.headers.get('etag');
    const again = await fetch(ui, { headers: { 'If-None-Match': etag } });
    assert.equal(again.status, 304);
    const js = await fetch(`${api}/web/app.js`);
    assert.match(js.headers.get('content-type'), /^text\/javascript/);
    // Sent byte for byte (fetch would normalise the dot segments away before sending).
    for (const bad of ['..%2Fweb.c', '%2E%2E/%2E%2E/etc/passwd', '..', 'nope.js', '.hidden', 'index.html%00.js', '%2e%2e%2fCMakeLists.txt'])
      assert.equal(await rawStatus(coord.port, `/api/web/${bad}`), 404, bad);
    assert.doesNotMatch(readFileSync(join(SOURCE, 'plugins/web/static/index.html'), 'utf8'), /<script(?![^>]*\bsrc=)/);
  });

  await step('GET /v1/openapi.json passes an OpenAPI 3.1 schema validator (as does docs/openapi.json)', async () => {
    for (const [what, doc] of [['served', (await http(api, 'GET', '/v1/openapi.json')).body],
      ['docs/openapi.json', JSON.parse(readFileSync(join(SOURCE, 'docs', 'openapi.json'), 'utf8'))]]) {
      const v = new Validator();
      const res = await v.validate(doc);
      if (!res.valid) assert.fail(`${what}: ${String(JSON.stringify(res.errors, null, 1)).slice(0, 2000)}`);
      assert.equal(v.version, '3.1');
    }
  });

  await step('home and keyboard: the skip link comes first and moves focus to the content', async () => {
    await page.goto(ui);
    await page.waitForSelector('main h1');
    await page.keyboard.press('Tab');
    assert.equal(await page.evaluate(() => document.activeElement.textContent), 'Skip to content');
    await page.keyboard.press('Enter');
    assert.equal(await page.evaluate(() => document.activeElement.id), 'main');
    await shot('01-home');
    await axe('home');
  });

  let address;
  await step('sign up: key shown once with a warning and a copy button, grant received', async () => {
    await page.click('text=Sign up');
    await page.waitForSelector('form button:has-text("Create my key")');
    await page.fill('input[autocomplete=nickname]', 'browser test');
    await page.click('button:has-text("Create my key")');
    await page.waitForSelector('#signup-done');
    const key = await page.textContent('#new-key');
    assert.match(key, /^aitbc_client_key_[a-z2-7]+_[0-9a-f]{64}$/);
    assert.match(await page.textContent('#signup-done .warning'), /Shown only once/);
    assert.match(await page.textContent('#grant'), /received 10 AIT/);
    await page.click('#copy-key');
    // Not stored unless asked; stored once the box is ticked.
    assert.equal(await page.evaluate(() => localStorage.getItem('aitbc.api_key')), null);
    await page.check('#remember');
    assert.equal(await page.evaluate(() => localStorage.getItem('aitbc.api_key')), key);
    await shot('02-signup');
    await axe('signup');
    address = (await http(api, 'GET', '/v1/account', key)).body.address;
  });

  await step('account: balance from the grant, the TRANSFER from the faucet', async () => {
    await go('#/account');
    await page.waitForSelector('text=Balances');
    await waitFor('the grant in the balances', async () => /10/.test(await page.textContent('main table')));
    await waitFor('the transfer listed', async () => (await page.textContent('main')).includes('TRANSFER'), 10000);
    await shot('03-account');
    await axe('account');
  });

  await step('jobs: an OCR job from a chosen image runs on the real miner, receipt ✓, changed copy ✗', async () => {
    await go('#/jobs');
    await page.setInputFiles('#ocr-file', IMAGE);
    await page.fill('#max-price', '1');
    await page.click('#submit-job');
    await page.waitForURL(/#\/jobs\/job_/);
    await shot('04-job-submitted');
    await page.waitForSelector('#job-state .state-COMPLETED', { timeout: 90000 });
    assert.match((await page.textContent('#job-result')).toLowerCase(), /invoice 2041 paid/); // what hello.png says
    await page.waitForSelector('#verdict .verdict.good', { timeout: 15000 });
    assert.match(await page.textContent('#verdict'), /✓ Valid receipt/);
    await page.click('#tamper');
    await page.waitForSelector('#tamper-verdict .verdict.bad');
    assert.match(await page.textContent('#tamper-verdict'), /✗ Invalid/);
    await shot('05-job-completed');
    await axe('job');
    await go('#/jobs');
    await page.waitForSelector('main table');
    await shot('06-jobs');
  });

  await step('explorer: a new block appears live, search finds an address', async () => {
    await go('#/explorer');
    await page.waitForSelector('#explorer-live.on', { timeout: 15000 });
    await page.waitForSelector('#latest-blocks table');
    const top = async () => Number(await page.textContent('#latest-blocks tbody tr:first-child td:first-child'));
    const before = await top();
    await call(api, 'POST', '/v1/admin/mint', admin, { address: FAUCET, asset: 'AIT', amount: '1' }, 201);
    await waitFor('a newer block on the page without reloading', async () => (await top()) > before, 15000);
    assert.ok(await page.$('#tx-chart svg rect.bar'));
    await shot('07-explorer');
    await axe('explorer');
    await page.fill('#explorer-q', address);
    await page.click('form[role=search] button');
    await page.waitForSelector('text=Transactions of this address');
    await shot('08-explorer-address');
    await go(`#/explorer/block/${before + 1}`);
    await page.waitForSelector('text=Merkle root');
    await shot('09-explorer-block');
  });

  await step('marketplace: filter offers, buy an hour, see the trade', async () => {
    const seller = await registerMiner(api, { gpus: [{ name: 'NVIDIA RTX 4090', memory_mb: 24564 }], models: ['llama3'], job_types: ['inference'], region: 'eu-west' }, '5');
    await call(api, 'POST', '/v1/marketplace/offers', seller.api_key,
      { gpu_model: 'RTX 4090', gpu_memory_gb: 24, gpu_count: 1, models: ['llama3'], region: 'eu-west', price_per_hour: '1.5', hours_available: 4 }, 201);
    await go('#/market');
    await page.fill('#f-gpu', '4090');
    await page.click('form[aria-label="Filter offers"] button');
    await page.waitForSelector('#offers td:has-text("RTX 4090")');
    await page.click('#offers button:has-text("Buy")');
    await page.waitForSelector('text=Bought 1 h for 1.5 AIT');
    await page.waitForSelector('#my-trades .state-ACTIVE');
    await shot('10-marketplace');
    await axe('marketplace');
  });

  await step('exchange: a resting order shows in the live book, a crossing order trades, cancel works', async () => {
    const bob = await call(api, 'POST', '/v1/admin/keys', admin, { role: 'client', label: 'bob' }, 201);
    await call(api, 'POST', '/v1/admin/mint', admin, { address: bob.address, asset: 'BTC', amount: '1' }, 201);
    await go('#/exchange');
    await page.waitForSelector('#order-form');
    await page.waitForSelector('.live.on', { timeout: 15000 });
    await page.selectOption('#o-side', 'sell');
    await page.fill('#o-price', '0.0005');
    await page.fill('#o-qty', '1');
    await page.click('#order-form button[type=submit]');
    await page.waitForSelector('text=NEW, filled 0 AIT');
    await page.waitForSelector('#orderbook td:has-text("0.0005")');
    // Bob buys part of it through the API: the page must show the trade and the smaller level live.
    await call(api, 'POST', '/v1/exchange/orders', bob.api_key,
      { market: 'AIT-BTC', side: 'buy', type: 'limit', price: '0.0005', quantity: '0.4' }, 201);
    await page.waitForSelector('#recent-trades td:has-text("0.4")', { timeout: 10000 });
    await waitFor('the ask level down to 0.6', async () => (await page.textContent('#orderbook')).includes('0.6'), 10000);
    await page.waitForSelector('#price-chart svg g.candle', { timeout: 10000 });
    // A second order, then cancel it from "My open orders".
    await page.fill('#o-price', '0.0009');
    await page.fill('#o-qty', '0.5');
    await page.click('#order-form button[type=submit]');
    await waitFor('two open orders', async () => (await page.$$('#open-orders tbody tr')).length === 2, 10000);
    await page.click('#open-orders tbody tr:has-text("0.0009") button:has-text("Cancel")');
    await page.waitForSelector('text=canceled');
    await waitFor('one open order', async () => (await page.$$('#open-orders tbody tr')).length === 1, 10000);
    await shot('11-exchange');
    await axe('exchange');
  });

  await step('admin: miners online, jobs, stats charts (admin key)', async () => {
    await go('#/key');
    await page.fill('input[type=password]', admin);
    await page.click('button:has-text("Use this key")');
    await page.waitForURL(/#\/account/);
    await go('#/admin');
    await page.waitForSelector('#admin-miners .state-ONLINE');
    await page.waitForSelector('#admin-jobs .state-COMPLETED');
    await page.waitForSelector('#chart-jpm svg');
    await page.waitForSelector('#chart-online svg');
    await shot('12-admin');
    await axe('admin');
  });

  await step('no console errors and no CSP violations on any page', async () => {
    assert.deepEqual(problems, []);
  });
}

let code = 0;
try {
  await main();
  console.log(`all ${results.length} browser steps passed; screenshots in ${OUT}`);
} catch (e) {
  code = 1;
  if (page) await page.screenshot({ path: join(OUT, 'failure.png'), fullPage: true }).catch(() => {});
  if (problems.length) console.log(`page problems:\n${problems.join('\n')}`);
  if (coord) console.log(`---- coordinator log (tail) ----\n${coord.log().slice(-4000)}`);
  if (miner) console.log(`---- miner log (tail) ----\n${miner.log().slice(-3000)}`);
} finally {
  if (ctx) await ctx.close().catch(() => {});
  if (profile) rmSync(profile, { recursive: true, force: true });
  if (miner) await miner.stop();
  if (coord) await coord.stop();
}
process.exit(code);
