// bench.mjs: how long the console takes to fill its tables (tests/bench/ui.sh runs it).
//
// Env: STATED_URL, ADMIN_TOKEN, CHROMIUM, BENCH_STATES (5000), BENCH_VERSIONS (1000),
// BENCH_RUNS (7). Writes the states and versions itself (HTTP, 8 at a time), then measures in
// the page, with the console's own performance marks: from the navigation mark ("stated:nav",
// set when the route starts) to the table being in the document ("stated:states-rendered",
// "stated:versions-rendered"). A "cold" run reloads the page first (module scripts, session
// check, then the page); a "warm" run is a hash navigation in an open console. Prints one
// line per measurement as JSON.

import puppeteer from 'puppeteer-core';

const E = process.env;
const BASE = E.STATED_URL;
const NSTATES = Number(E.BENCH_STATES || 5000);
const NVERSIONS = Number(E.BENCH_VERSIONS || 1000);
const RUNS = Number(E.BENCH_RUNS || 7);
const auth = { Authorization: 'Basic ' + Buffer.from('bench:' + E.ADMIN_TOKEN).toString('base64'), 'Content-Type': 'application/json' };

function state(serial, lineage, n) {
  const resources = [];
  for (let i = 0; i < n; i++) {
    resources.push({ mode: 'managed', type: 'terraform_data', name: 'r' + i, provider: 'provider["terraform.io/builtin/terraform"]',
      instances: [{ schema_version: 0, attributes: { id: 'id-' + i, input: { value: 'v' + serial, type: 'string' }, output: null, triggers_replace: null }, sensitive_attributes: [] }] });
  }
  return JSON.stringify({ version: 4, terraform_version: '1.11.4', serial, lineage, outputs: { v: { value: 'v' + serial, type: 'string' } }, resources });
}

async function pool(n, width, fn) {
  let next = 0;
  const work = async () => {
    while (next < n) {
      const i = next++;
      await fn(i);
    }
  };
  await Promise.all(Array.from({ length: width }, work));
}

async function post(name, body) {
  const r = await fetch(BASE + '/v1/states/' + name, { method: 'POST', headers: auth, body });
  if (r.status !== 200) throw new Error('POST ' + name + ': ' + r.status + ' ' + (await r.text()));
}

let t0 = Date.now();
await pool(NSTATES, 8, (i) => post('fleet/team-' + String(i % 50).padStart(2, '0') + '/app-' + String(i).padStart(5, '0'), state(1, 'l-' + i, 3)));
console.log(JSON.stringify({ setup: 'states', n: NSTATES, ms: Date.now() - t0 }));
t0 = Date.now();
for (let s = 1; s <= NVERSIONS; s++) await post('big/history', state(s, 'big-lineage', 10));
console.log(JSON.stringify({ setup: 'versions', n: NVERSIONS, ms: Date.now() - t0 }));

const browser = await puppeteer.launch({
  executablePath: E.CHROMIUM || '/usr/bin/chromium', headless: true,
  args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'],
});
const page = await browser.newPage();
await page.setViewport({ width: 1280, height: 860 });
await page.goto(BASE + '/ui/', { waitUntil: 'domcontentloaded' });
await page.waitForSelector('[data-test=token]');
await page.type('[data-test=token]', E.ADMIN_TOKEN);
await page.click('[data-test=signin]');
await page.waitForSelector('[data-test=states-table]', { timeout: 60000 });

const median = (a) => {
  const s = [...a].sort((x, y) => x - y);
  return s[Math.floor(s.length / 2)];
};

// One warm run: clear the marks, navigate by hash, wait for the measure.
async function warm(hash, measure) {
  await page.evaluate(() => { location.hash = '#/locks'; });
  await page.waitForFunction(() => document.querySelector('.page-locks'), { timeout: 60000 });
  await page.evaluate(() => performance.clearMeasures());
  await page.evaluate((h) => { location.hash = h; }, hash);
  await page.waitForFunction((m) => performance.getEntriesByName(m, 'measure').length > 0, { timeout: 60000 }, measure);
  return page.evaluate((m) => performance.getEntriesByName(m, 'measure')[0].duration, measure);
}
// One cold run: load the page at hash; time from the start of the navigation to the table.
async function cold(hash, mark) {
  await page.goto('about:blank');
  await page.goto(BASE + '/ui/' + hash, { waitUntil: 'domcontentloaded' });
  await page.waitForFunction((m) => performance.getEntriesByName(m, 'mark').length > 0, { timeout: 60000 }, mark);
  return page.evaluate((m) => performance.getEntriesByName(m, 'mark')[0].startTime, mark);
}

const cases = [
  { label: 'states list, first page (50 of ' + NSTATES + ')', hash: '#/states', measure: 'stated:states', mark: 'stated:states-rendered', rows: '[data-test=states-table] tbody tr', api: 'v1/states?limit=50' },
  { label: 'states list, 200 per page', hash: '#/states?limit=200', measure: 'stated:states', mark: 'stated:states-rendered', rows: '[data-test=states-table] tbody tr', api: 'v1/states?limit=200' },
  { label: 'states list, text filter "app-001"', hash: '#/states?q=app-001', measure: 'stated:states', mark: 'stated:states-rendered', rows: '[data-test=states-table] tbody tr', api: 'v1/states?q=app-001&limit=50' },
  { label: 'state with ' + NVERSIONS + ' versions (timeline, first 50 rows)', hash: '#/state/big%2Fhistory', measure: 'stated:versions', mark: 'stated:versions-rendered', rows: '[data-test=versions-table] tbody tr', api: 'v1/snapshots/big/history' },
];
for (const c of cases) {
  const w = [];
  const k = [];
  for (let i = 0; i < RUNS; i++) w.push(await warm(c.hash, c.measure));
  for (let i = 0; i < Math.min(RUNS, 5); i++) k.push(await cold(c.hash, c.mark));
  const rows = await page.evaluate((sel) => document.querySelectorAll(sel).length, c.rows);
  // The main API call alone, from outside the browser: the server's share of the time.
  const a = [];
  for (let i = 0; i < 5; i++) {
    const t = performance.now();
    await (await fetch(BASE + '/' + c.api, { headers: auth })).text();
    a.push(performance.now() - t);
  }
  console.log(JSON.stringify({ case: c.label, warm_ms: median(w), warm_max_ms: Math.max(...w), cold_ms: median(k), api_ms: median(a), api: c.api, rows, runs: RUNS }));
}
// What the 1,000-version listing costs on the wire.
const snaps = await fetch(BASE + '/v1/snapshots/big/history', { headers: auth });
console.log(JSON.stringify({ info: 'snapshots', bytes: (await snaps.text()).length }));
await browser.close();
