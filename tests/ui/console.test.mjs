// console.test.mjs: stated's web console in headless chromium (puppeteer-core).
//
// Started by tests/suites/80-console.sh, which writes the states and exports:
//   STATED_URL ADMIN_TOKEN READ_TOKEN SECRET1..3 LOCK_APP LOCK_KEEP CHROMIUM SCREENS DOWNLOADS
// Prints one "PASS name" / "FAIL name: why" line per check. A JavaScript dialog (alert,
// confirm, prompt) anywhere fails the run: the console never opens one, so one that fires is
// an injection.

import puppeteer from 'puppeteer-core';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';

const E = process.env;
const BASE = E.STATED_URL;
const UI = BASE + '/ui/';
const T = 'console-web/';
const XS = '<script>alert(1)</script>';
const XI = '<img src=x onerror=alert(1)>';
const XJ = 'javascript:alert(1)';
const SECRETS = [E.SECRET1, E.SECRET2, E.SECRET3];
const WAIT = { timeout: 15000 };

let failed = 0;
const pass = (n) => console.log('PASS ' + T + n);
const fail = (n, why) => {
  failed += 1;
  console.log('FAIL ' + T + n + ': ' + String(why && why.message ? why.message : why).replace(/\s+/g, ' ').slice(0, 400));
};
async function check(name, fn) {
  try {
    const r = await fn();
    if (r === false) fail(name, 'condition not met');
    else if (typeof r === 'string') fail(name, r);
    else pass(name);
  } catch (e) {
    fail(name, e);
  }
}
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// ------------------------------------------------------------------ the browser

const browser = await puppeteer.launch({
  executablePath: E.CHROMIUM || '/usr/bin/chromium',
  headless: true,
  args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--lang=en-US'],
});
const dialogs = [];
const pageErrors = [];
const cspViolations = [];

async function newPage(context, label) {
  const page = await context.newPage();
  await page.setViewport({ width: 1280, height: 860 });
  page.on('dialog', async (d) => {
    dialogs.push(label + ': ' + d.type() + ' ' + d.message());
    fail('no JavaScript dialog ever fires', label + ' got ' + d.type() + ' "' + d.message() + '"');
    await d.dismiss().catch(() => {});
  });
  page.on('pageerror', (e) => pageErrors.push(label + ': ' + e.message));
  page.on('console', (m) => {
    const t = m.text();
    if (/Content Security Policy|Refused to/i.test(t)) cspViolations.push(label + ': ' + t);
  });
  return page;
}

async function shoot(page, name) {
  try {
    fs.mkdirSync(E.SCREENS, { recursive: true });
    // The whole page, cut at 2,400 px (a long list's first screens are what matters).
    const snap = async (w) => {
      const hgt = await page.evaluate(() => document.documentElement.scrollHeight);
      await page.screenshot({ path: path.join(E.SCREENS, name + '-' + w + '.png'), captureBeyondViewport: true,
        clip: { x: 0, y: 0, width: w, height: Math.min(hgt, 2400) } });
    };
    await snap(1280);
    await page.setViewport({ width: 390, height: 844 });
    await sleep(150);
    await snap(390);
    await page.setViewport({ width: 1280, height: 860 });
    await sleep(100);
  } catch (e) {
    console.log('screenshot ' + name + ' failed: ' + e.message);
  }
}

// nav(page, action, selector): runs action (a click...) that moves to another page and waits
// until the console has rendered a new page (main's data-rendered changes), then for selector.
async function nav(page, action, selector) {
  const before = await page.$eval('#main', (e) => e.getAttribute('data-rendered') || '0').catch(() => '0');
  await action();
  await page.waitForFunction((b) => {
    const m = document.getElementById('main');
    const v = m && m.getAttribute('data-rendered');
    return v && v !== b;
  }, WAIT, before);
  if (selector) await page.waitForSelector(selector, WAIT);
}
async function go(page, hash, selector) {
  await nav(page, () => page.evaluate((h) => { location.hash = h; }, hash), selector);
}
const text = (page, sel) => page.$eval(sel, (e) => e.textContent);
const html = (page) => page.content();

async function signIn(page, token) {
  await page.goto(UI, { waitUntil: 'domcontentloaded' });
  await page.waitForSelector('[data-test=token]', WAIT);
  await page.type('[data-test=token]', token);
  await nav(page, () => page.click('[data-test=signin]'));
}

// ------------------------------------------------------------------ headers

await check('GET /ui/ sends a strict Content-Security-Policy', async () => {
  const r = await fetch(UI);
  const csp = r.headers.get('content-security-policy') || '';
  const want = ["default-src 'none'", "script-src 'self'", "style-src 'self'", "frame-ancestors 'none'", "base-uri 'none'"];
  const miss = want.filter((w) => !csp.includes(w));
  if (r.status !== 200) return 'status ' + r.status;
  if (miss.length) return 'CSP "' + csp + '" lacks ' + miss.join(', ');
  if (/unsafe-inline|unsafe-eval/.test(csp)) return 'CSP allows unsafe-*: ' + csp;
  return true;
});
await check('GET /ui/ sends nosniff, no-referrer and X-Frame-Options DENY', async () => {
  const r = await fetch(UI);
  const got = [r.headers.get('x-content-type-options'), r.headers.get('referrer-policy'), r.headers.get('x-frame-options')];
  return (got[0] === 'nosniff' && got[1] === 'no-referrer' && /deny/i.test(got[2] || '')) || 'got ' + JSON.stringify(got);
});
await check('the page has no inline script or style', async () => {
  const body = await (await fetch(UI)).text();
  if (/<script(?![^>]*\bsrc=)[^>]*>/i.test(body)) return 'inline <script> in index.html';
  if (/<style|\sstyle=|\son[a-z]+=/i.test(body)) return 'inline style or handler in index.html';
  return true;
});
await check('GET /ui redirects to ui/ (relative)', async () => {
  const r = await fetch(BASE + '/ui', { redirect: 'manual' });
  const loc = r.headers.get('location') || '';
  return ((r.status === 301 || r.status === 308) && !/^https?:/.test(loc) && /ui\/$/.test(loc)) || 'status ' + r.status + ' Location ' + loc;
});

// ------------------------------------------------------------------ admin

const admin = await newPage(browser.defaultBrowserContext(), 'admin');
await admin.goto(UI, { waitUntil: 'domcontentloaded' });
await check('unsigned visitor sees the sign-in page with a password field', async () => {
  await admin.waitForSelector('[data-test=token]', WAIT);
  const type = await admin.$eval('[data-test=token]', (e) => e.type);
  const labelled = await admin.$eval('[data-test=token]', (e) => !!document.querySelector('label[for="' + e.id + '"]'));
  return (type === 'password' && labelled) || 'type ' + type + ', labelled ' + labelled;
});
await shoot(admin, 'signin');
await check('a wrong token is refused with the server\'s message', async () => {
  await admin.type('[data-test=token]', 'not-a-token');
  await admin.click('[data-test=signin]');
  await admin.waitForSelector('.notice-error', WAIT);
  const t = await text(admin, '.notice-error');
  return /401/.test(t) && /INFRA_003/.test(t) ? true : 'shown: ' + t;
});
await check('sign in as admin', async () => {
  await signIn(admin, E.ADMIN_TOKEN);
  await admin.waitForSelector('[data-test=states-table]', WAIT);
  const who = await text(admin, '[data-test=identity]');
  return /admin/.test(who) || 'identity shows ' + who;
});
if (failed) {
  fail('the other checks', 'not run: the pages do not load or sign-in failed');
  await browser.close();
  process.exit(1);
}
await check('the token is nowhere: URL, localStorage, sessionStorage, page', async () => {
  const r = await admin.evaluate(() => ({ href: location.href, ls: localStorage.length, ss: sessionStorage.length, field: document.querySelector('input[type=password]') ? 1 : 0 }));
  if (r.href.includes(E.ADMIN_TOKEN)) return 'token in URL';
  if (r.ls || r.ss) return 'web storage not empty: ' + JSON.stringify(r);
  if ((await html(admin)).includes(E.ADMIN_TOKEN)) return 'token in the page';
  return true;
});
await check('the session cookie is HttpOnly and SameSite=Strict', async () => {
  const cs = await admin.cookies(UI);
  const c = cs.find((x) => x.name === 'stated_session');
  if (!c) return 'no stated_session cookie: ' + cs.map((x) => x.name).join(',');
  if (!c.httpOnly) return 'not HttpOnly';
  if (c.sameSite !== 'Strict') return 'SameSite ' + c.sameSite;
  if (await admin.evaluate(() => document.cookie.includes('stated_session'))) return 'visible to document.cookie';
  return true;
});

// states list
await check('states list shows the states with serial, writer, size and lock badge', async () => {
  const t = await text(admin, '[data-test=states-table]');
  const miss = ['app/web', 'hostile/x', 'locked/app', 'locked/keep'].filter((n) => !t.includes(n));
  if (miss.length) return 'missing ' + miss.join(', ');
  const row = await admin.$$eval('[data-test=states-table] tbody tr', (rs) => {
    const r = rs.find((x) => x.textContent.includes('locked/app'));
    return r ? r.textContent : '';
  });
  if (!/locked/.test(row) || !row.includes('other@ci') || !/expires/.test(row)) return 'lock badge: ' + row;
  const app = await admin.$$eval('[data-test=states-table] tbody tr', (rs) => (rs.find((x) => x.textContent.includes('app/web')) || {}).textContent || '');
  return (/\b3\b/.test(app) && /UTC/.test(app) && /ago|just now/.test(app) && /\d+(\.\d)? (B|KB)/.test(app)) || 'app/web row: ' + app;
});
await check('states list is paginated (50 per page, next page continues)', async () => {
  const n1 = await admin.$$eval('[data-test=states-table] tbody tr', (r) => r.length);
  if (n1 !== 50) return 'first page has ' + n1 + ' rows';
  const first = await admin.$$eval('[data-test=states-table] tbody tr', (r) => r.map((x) => x.querySelector('a').textContent));
  await nav(admin, () => admin.click('[data-test=page-next]'), '[data-test=states-table]');
  const second = await admin.$$eval('[data-test=states-table] tbody tr', (r) => r.map((x) => x.querySelector('a').textContent));
  if (second.some((n) => first.includes(n))) return 'pages overlap';
  if (second[0] <= first[first.length - 1]) return 'second page does not continue: ' + second[0];
  await nav(admin, () => admin.click('[data-test=page-prev]'), '[data-test=states-table]');
  const back = await admin.$$eval('[data-test=states-table] tbody tr', (r) => r.map((x) => x.querySelector('a').textContent));
  return back.join() === first.join() || 'previous page differs';
});
await shoot(admin, 'states');
await check('states filter by prefix and text', async () => {
  await admin.$eval('[data-test=filter-prefix]', (e) => { e.value = ''; });
  await admin.type('[data-test=filter-prefix]', 'page/');
  await admin.type('[data-test=filter-q]', 's-07');
  await nav(admin, () => admin.click('[data-test=filter-apply]'), '[data-test=states-table]');
  const names = await admin.$$eval('[data-test=states-table] tbody tr a.state-link', (r) => r.map((x) => x.textContent));
  return (names.length === 1 && names[0] === 'page/s-07') || 'got ' + names.join(',');
});
await check('a filter matching nothing says so', async () => {
  await go(admin, '#/states?prefix=nope%2F', '.notice-info');
  return /No state matches/.test(await text(admin, '.notice-info'));
});

// one state
await check('open a state with 3 versions: timeline, serial, writer, size', async () => {
  await go(admin, '#/states', '[data-test=states-table]');
  await nav(admin, () => admin.click('a.state-link[href="#/state/app%2Fweb"]'), '[data-test=versions-table]');
  const serials = await admin.$$eval('[data-test=versions-table] tbody tr', (r) => r.map((x) => x.getAttribute('data-serial')));
  if (serials.join(',') !== '3,2,1') return 'serials ' + serials.join(',');
  const t = await text(admin, '[data-test=versions-table]');
  return (/UTC/.test(t) && /admin/.test(t) && /current/.test(t)) || 'timeline: ' + t.slice(0, 200);
});
await check('outputs: plain value shown, sensitive one masked', async () => {
  await admin.waitForSelector('[data-test=outputs] table', WAIT);
  const t = await text(admin, '[data-test=outputs]');
  return (t.includes('hello-three') && /db_password/.test(t) && /sensitive — hidden/.test(t)) || 'outputs: ' + t;
});
await check('resources grouped by type, instances listed', async () => {
  await admin.waitForSelector('[data-test=rtype]', WAIT);
  await admin.$$eval('details.rtype', (ds) => ds.forEach((d) => { d.open = true; }));
  await admin.waitForSelector('details.instance', WAIT);
  await admin.$$eval('details.instance', (ds) => ds.forEach((d) => { d.open = true; }));
  await admin.waitForSelector('details.instance dl', WAIT);
  const t = await text(admin, '[data-test=resources]');
  return (t.includes('terraform_data') && t.includes('terraform_data.a') && t.includes('terraform_data.b[0]') && /"three"/.test(t)) || 'resources: ' + t.slice(0, 300);
});
await check('no secret anywhere in the state page\'s HTML (outputs and sensitive attributes)', async () => {
  const page = await html(admin);
  const found = SECRETS.filter((s) => page.includes(s));
  return found.length === 0 || 'found ' + found.join(',');
});
await shoot(admin, 'state');
await check('download: the current version as app_web-3.tfstate', async () => {
  fs.mkdirSync(E.DOWNLOADS, { recursive: true });
  const cdp = await browser.target().createCDPSession();
  await cdp.send('Browser.setDownloadBehavior', { behavior: 'allow', downloadPath: E.DOWNLOADS });
  await admin.click('[data-test=download-redacted]');
  const f = path.join(E.DOWNLOADS, 'app_web-3.redacted.tfstate');
  for (let i = 0; i < 50 && !fs.existsSync(f); i++) await sleep(100);
  if (!fs.existsSync(f)) return 'no file; got ' + fs.readdirSync(E.DOWNLOADS).join(',');
  const st = JSON.parse(fs.readFileSync(f, 'utf8'));
  if (st.serial !== 3) return 'serial ' + st.serial;
  if (JSON.stringify(st).includes(E.SECRET3)) return 'redacted download holds the secret';
  await admin.click('[data-test=download]');
  const g = path.join(E.DOWNLOADS, 'app_web-3.tfstate');
  for (let i = 0; i < 50 && !fs.existsSync(g); i++) await sleep(100);
  if (!fs.existsSync(g)) return 'no full download; got ' + fs.readdirSync(E.DOWNLOADS).join(',');
  return JSON.parse(fs.readFileSync(g, 'utf8')).outputs.db_password.value === E.SECRET3 || 'admin full download is not the exact state';
});

// diff
await check('diff v1 -> v3 picked from the timeline: attribute old and new value', async () => {
  await admin.click('tr[data-serial="1"] input[name=from]');
  await admin.click('tr[data-serial="3"] input[name=to]');
  await nav(admin, () => admin.click('[data-test=compare]'), '[data-test=diff]');
  const fromS = await text(admin, '[data-test=diff-from-serial]');
  const toS = await text(admin, '[data-test=diff-to-serial]');
  if (fromS !== '1' || toS !== '3') return 'serials ' + fromS + ' -> ' + toS;
  const rows = await admin.$$eval('[data-test=rchange]', (rs) => rs.map((r) => r.textContent));
  const a = rows.find((r) => r.includes('terraform_data.a')) || '';
  if (!(a.includes('input.value') && a.includes('"one"') && a.includes('"three"'))) return 'terraform_data.a: ' + a;
  const b = rows.find((r) => r.includes('terraform_data.b[0]')) || '';
  return /added/.test(b) || 'terraform_data.b[0]: ' + b;
});
await check('diff masks the sensitive output and attribute; no secret in the page', async () => {
  const t = await text(admin, '[data-test=diff]');
  if (!/db_password/.test(t)) return 'db_password not listed';
  const cells = await admin.$$eval('[data-test=diff] tr', (rs) => rs.filter((r) => /db_password|triggers_replace/.test(r.textContent)).map((r) => r.textContent));
  if (cells.length < 2 || !cells.every((c) => /sensitive — hidden/.test(c))) return 'not masked: ' + cells.join(' | ');
  const page = await html(admin);
  return SECRETS.every((s) => !page.includes(s)) || 'a secret is in the page';
});
await shoot(admin, 'diff');

// restore
await check('restore as admin: preview, reason, confirm, new version appears', async () => {
  await go(admin, '#/state/app%2Fweb', '[data-test=versions-table]');
  await nav(admin, () => admin.click('tr[data-serial="1"] [data-test=restore-link]'), '[data-test=restore-reason]');
  const preview = await text(admin, '[data-test=diff]');
  if (!(preview.includes('"three"') && preview.includes('"one"'))) return 'preview: ' + preview.slice(0, 200);
  await admin.type('[data-test=restore-reason]', 'roll back the bad apply (ui test)');
  await shoot(admin, 'restore');
  await admin.click('[data-test=restore-submit]');
  await admin.waitForSelector('dialog[open] [data-test=dialog-confirm]', WAIT);
  await shoot(admin, 'restore-confirm');
  await nav(admin, () => admin.click('dialog[open] [data-test=dialog-confirm]'), '[data-test=versions-table] tr[data-serial="4"]');
  const row = await text(admin, '[data-test=versions-table] tr[data-serial="4"]');
  if (!/restore/.test(row) || !row.includes('roll back the bad apply (ui test)')) return 'new row: ' + row;
  const snaps = await (await fetch(BASE + '/v1/snapshots/app/web', { headers: { Authorization: 'Bearer ' + E.ADMIN_TOKEN } })).json();
  return (snaps[0].serial === 4 && snaps[0].reason === 'roll back the bad apply (ui test)' && snaps[0].restored_from === snaps[3].id) || 'API: ' + JSON.stringify(snaps[0]);
});

// lock panel and force-unlock
await check('lock panel: holder, operation, info, owner, age, lease expiry', async () => {
  await go(admin, '#/state/locked%2Fapp', '[data-test=lock-panel]');
  const t = await text(admin, '[data-test=lock-panel]');
  const want = ['other@ci', 'OperationTypeApply', 'apply from pipeline 4711', E.LOCK_APP, 'Held since', 'Age', 'Lease expires'];
  const miss = want.filter((w) => !t.includes(w));
  return miss.length === 0 || 'missing ' + miss.join(', ') + ' in ' + t.slice(0, 300);
});
await shoot(admin, 'lock');
await check('force-unlock a held lock with confirm and reason', async () => {
  await admin.click('[data-test=force-unlock]');
  await admin.waitForSelector('dialog[open] [data-test=dialog-reason]', WAIT);
  await admin.type('dialog[open] [data-test=dialog-reason]', 'pipeline 4711 was cancelled');
  await admin.click('dialog[open] [data-test=dialog-confirm]');
  await admin.waitForSelector('[data-test=lock-none]', WAIT);
  const locks = await (await fetch(BASE + '/v1/locks', { headers: { Authorization: 'Bearer ' + E.ADMIN_TOKEN } })).json();
  return !locks.some((l) => l.state === 'locked/app') || 'still locked: ' + JSON.stringify(locks);
});
await check('locks page lists the live locks', async () => {
  await go(admin, '#/locks', '.locks');
  const t = await text(admin, '.locks');
  return (t.includes('locked/keep') && t.includes('hostile/x') && !t.includes('locked/app')) || 'locks: ' + t.slice(0, 200);
});
await shoot(admin, 'locks');

// hostile state
await check('hostile state: names, values, lock Who rendered as text, nothing injected', async () => {
  await go(admin, '#/state/hostile%2Fx', '[data-test=lock-panel]');
  await admin.waitForSelector('[data-test=outputs] table', WAIT);
  await admin.waitForSelector('[data-test=rtype]', WAIT);
  await admin.$$eval('details.rtype', (ds) => ds.forEach((d) => { d.open = true; }));
  await admin.waitForSelector('details.instance', WAIT);
  await admin.$$eval('details.instance', (ds) => ds.forEach((d) => { d.open = true; }));
  await admin.waitForSelector('details.instance dl', WAIT);
  await sleep(300);
  const r = await admin.evaluate((xs, xi, xj) => {
    const body = document.body.textContent;
    return {
      text: [xs, xi, xj].filter((x) => !body.includes(x)),
      imgs: [...document.querySelectorAll('img')].filter((i) => !/favicon\.svg$/.test(i.getAttribute('src') || '')).length,
      scripts: [...document.querySelectorAll('script')].filter((s) => s.getAttribute('src') !== 'app.js').length,
      badLinks: [...document.querySelectorAll('a[href]')].filter((a) => !a.getAttribute('href').startsWith('#')).map((a) => a.getAttribute('href')),
      handlers: [...document.querySelectorAll('*')].filter((e) => [...e.attributes].some((a) => /^on/i.test(a.name))).length,
      who: (document.querySelector('[data-test=lock-who]') || {}).textContent,
    };
  }, XS, XI, XJ);
  if (r.text.length) return 'not shown as text: ' + r.text.join(' ');
  if (r.imgs || r.scripts || r.handlers) return 'injected elements: ' + JSON.stringify(r);
  if (r.badLinks.length) return 'links from data: ' + r.badLinks.join(' ');
  return r.who === XS || 'lock Who shown as ' + r.who;
});
await shoot(admin, 'hostile');
await check('hostile diff and list render as text', async () => {
  await go(admin, '#/diff/hostile%2Fx?from=latest~1&to=latest', '[data-test=diff]');
  const t = await text(admin, '[data-test=diff]');
  if (!(t.includes(JSON.stringify(XS)) && t.includes(JSON.stringify(XI)))) return 'diff: ' + t.slice(0, 300);
  await go(admin, '#/states?prefix=hostile%2F', '[data-test=states-table]');
  const row = await text(admin, '[data-test=states-table]');
  return row.includes(XS) || 'list: ' + row;
});
await check('restore of a locked state: refused 423, the holder named as text', async () => {
  await go(admin, '#/restore/hostile%2Fx?id=latest~1', '[data-test=restore-reason]');
  const warn = await text(admin, '#main');
  if (!/is locked by/.test(warn)) return 'no lock warning';
  await admin.type('[data-test=restore-reason]', XS);
  await admin.click('[data-test=restore-submit]');
  await admin.waitForSelector('dialog[open] [data-test=dialog-confirm]', WAIT);
  await admin.click('dialog[open] [data-test=dialog-confirm]');
  await admin.waitForSelector('.page-restore .notice-error strong', WAIT);
  const t = await text(admin, '.page-restore form .notice-error');
  const snaps = await (await fetch(BASE + '/v1/snapshots/hostile/x', { headers: { Authorization: 'Bearer ' + E.ADMIN_TOKEN } })).json();
  if (snaps.length !== 2) return 'a version was written';
  return (/423/.test(t) && /INFRA_008/.test(t) && t.includes(XS)) || 'shown: ' + t;
});
await check('no dialog fired after the hostile pages', async () => {
  await sleep(500);
  return dialogs.length === 0 || dialogs.join('; ');
});

// audit
await check('audit: filter by action and by state pattern', async () => {
  await go(admin, '#/audit', '[data-test=audit-table]');
  await admin.type('[data-test=audit-action]', 'restore');
  await nav(admin, () => admin.click('[data-test=audit-apply]'), '[data-test=audit-table]');
  const acts = await admin.$$eval('[data-test=audit-table] tbody tr', (rs) => rs.map((r) => r.children[2].textContent));
  if (acts.length < 1 || acts.some((a) => a !== 'restore')) return 'actions ' + acts.join(',');
  await go(admin, '#/audit?state=locked%2F**&action=force-unlock', '[data-test=audit-table]');
  const rows = await admin.$$eval('[data-test=audit-table] tbody tr', (rs) => rs.map((r) => r.textContent));
  return (rows.length === 1 && rows[0].includes('locked/app') && rows[0].includes('pipeline 4711 was cancelled')) || 'rows ' + rows.join(' | ');
});
await check('audit: filter by actor and time range', async () => {
  const until = new Date(Date.now() + 3600e3).toISOString().replace(/\.\d+Z$/, 'Z');
  await go(admin, '#/audit?actor=ui-reader&until=' + encodeURIComponent(until), '.page-audit .notice, [data-test=audit-table]');
  // ui-reader has not signed in yet: nothing
  const none = await admin.$('[data-test=audit-table]');
  if (none) return 'events for ui-reader before it did anything';
  await go(admin, '#/audit?actor=admin&since=2000-01-01T00%3A00%3A00Z&until=' + encodeURIComponent(until), '[data-test=audit-table]');
  const actors = await admin.$$eval('[data-test=audit-table] tbody tr', (rs) => rs.map((r) => r.children[4].textContent));
  return (actors.length > 0 && actors.every((a) => a.startsWith('admin'))) || 'actors ' + actors.join(',');
});
await check('audit: pages of events with "before"', async () => {
  await go(admin, '#/audit', '[data-test=audit-table]');
  const seq1 = await admin.$$eval('[data-test=audit-table] tbody tr', (rs) => rs.map((r) => Number(r.children[0].textContent)));
  const older = await admin.$('[data-test=audit-older]');
  if (!older) return seq1.length < 50 ? true : 'no "Older" button with ' + seq1.length + ' events';
  await nav(admin, () => older.click(), '[data-test=audit-table]');
  const seq2 = await admin.$$eval('[data-test=audit-table] tbody tr', (rs) => rs.map((r) => Number(r.children[0].textContent)));
  return (seq2.length > 0 && Math.max(...seq2) < Math.min(...seq1)) || 'pages ' + seq1.slice(-1) + ' / ' + seq2[0];
});
await check('audit: verify the chain', async () => {
  await go(admin, '#/audit', '[data-test=verify]');
  await admin.click('[data-test=verify]');
  await admin.waitForFunction(() => /Chain (intact|BROKEN)/.test(document.querySelector('[data-test=verify-result]').textContent), WAIT);
  return /Chain intact: \d+ events/.test(await text(admin, '[data-test=verify-result]'));
});
await shoot(admin, 'audit');

// tokens
let madeSecret = '';
await check('tokens: create one, its secret shown once', async () => {
  await go(admin, '#/tokens', '[data-test=tokens-table]');
  await admin.type('[data-test=tok-name]', 'ui-made');
  await admin.select('[data-test=tok-role]', 'plan');
  await admin.$eval('[data-test=tok-states]', (e) => { e.value = ''; });
  await admin.type('[data-test=tok-states]', 'app/**');
  await admin.type('[data-test=tok-expires]', '1d');
  await admin.click('[data-test=tok-create]');
  await admin.waitForSelector('[data-test=new-secret]', WAIT);
  madeSecret = await admin.$eval('[data-test=new-secret]', (e) => e.value);
  if (madeSecret.length < 16) return 'secret ' + madeSecret;
  const w = await fetch(BASE + '/v1/whoami', { headers: { Authorization: 'Bearer ' + madeSecret } });
  const j = await w.json();
  if (j.role !== 'plan' || j.states !== 'app/**') return 'whoami ' + JSON.stringify(j);
  await admin.waitForFunction(() => document.querySelector('[data-test=tokens-table]').textContent.includes('ui-made'), WAIT);
  return true;
});
await shoot(admin, 'tokens');
await check('tokens: the secret is gone after reload, the list shows last use', async () => {
  await admin.reload({ waitUntil: 'domcontentloaded' });
  await admin.waitForSelector('[data-test=tokens-table]', WAIT);
  if ((await html(admin)).includes(madeSecret)) return 'secret shown again';
  const row = await admin.$$eval('[data-test=tokens-table] tbody tr', (rs) => (rs.find((r) => r.textContent.includes('ui-made')) || {}).textContent || '');
  return (/127\.0\.0\.1/.test(row) && /ago|just now/.test(row)) || 'row ' + row;
});
await check('tokens: revoke with confirm; the token is refused after', async () => {
  await admin.click('[data-test=revoke][data-name="ui-made"]');
  await admin.waitForSelector('dialog[open] [data-test=dialog-confirm]', WAIT);
  await admin.click('dialog[open] [data-test=dialog-confirm]');
  await admin.waitForFunction(() => !document.querySelector('[data-test=tokens-table]').textContent.includes('ui-made'), WAIT);
  const w = await fetch(BASE + '/v1/whoami', { headers: { Authorization: 'Bearer ' + madeSecret } });
  return w.status === 401 || 'status ' + w.status;
});

await check('a 503 from the server is shown as it said it (INFRA_005, PostgreSQL unreachable)', async () => {
  await admin.setRequestInterception(true);
  const handler = (req) => {
    if (/\/v1\/locks$/.test(req.url())) {
      req.respond({ status: 503, contentType: 'application/json', headers: { 'Retry-After': '5', 'X-Request-Id': 'feedc0ffee000001' },
        body: JSON.stringify({ code: 'INFRA_005', message: 'stated cannot reach PostgreSQL: locks unavailable' }) });
    } else {
      req.continue();
    }
  };
  admin.on('request', handler);
  try {
    await go(admin, '#/locks', '.notice-error');
    const t = await text(admin, '.notice-error');
    await shoot(admin, 'error');
    return (t.includes('503 INFRA_005: stated cannot reach PostgreSQL: locks unavailable') && /try again/i.test(t) && t.includes('feedc0ffee000001')) || 'shown: ' + t;
  } finally {
    admin.off('request', handler);
    await admin.setRequestInterception(false);
  }
});
await check('an unknown state shows the server\'s 404 message', async () => {
  await go(admin, '#/state/no%2Fsuch', '.notice-error');
  const t = await text(admin, '.notice-error');
  return (/404/.test(t) && /INFRA_004/.test(t)) || 'shown: ' + t;
});

// ------------------------------------------------------------------ read token

const rctx = await browser.createBrowserContext();
const reader = await newPage(rctx, 'reader');
await check('keyboard only: Tab to the token field, type, Enter signs in (read token)', async () => {
  await reader.goto(UI, { waitUntil: 'domcontentloaded' });
  await reader.waitForSelector('[data-test=token]', WAIT);
  let on = false;
  for (let i = 0; i < 8 && !on; i++) {
    await reader.keyboard.press('Tab');
    on = await reader.evaluate(() => document.activeElement && document.activeElement.getAttribute('data-test') === 'token');
  }
  if (!on) return 'Tab never reached the token field';
  await reader.keyboard.type(E.READ_TOKEN);
  await nav(reader, () => reader.keyboard.press('Enter'), '[data-test=states-table]');
  // the first state link is reachable with Tab, and Enter opens it
  let link = false;
  for (let i = 0; i < 40 && !link; i++) {
    await reader.keyboard.press('Tab');
    link = await reader.evaluate(() => document.activeElement && document.activeElement.classList.contains('state-link'));
  }
  if (!link) return 'no state link reachable with Tab';
  const ring = await reader.evaluate(() => getComputedStyle(document.activeElement).outlineStyle);
  if (ring === 'none') return 'no focus ring on the focused link';
  await nav(reader, () => reader.keyboard.press('Enter'), '[data-test=versions-table]');
  return true;
});
await check('sign in with a read token', async () => {
  await go(reader, '#/states', '[data-test=states-table]');
  const nav = await text(reader, '#nav');
  return (!/Audit|Tokens/.test(nav) && /States/.test(nav)) || 'nav: ' + nav;
});
await check('read token: no restore control on the state page', async () => {
  await go(reader, '#/state/app%2Fweb', '[data-test=versions-table]');
  return (await reader.$$('[data-test=restore-link]')).length === 0;
});
await check('read token: no force-unlock control on a locked state', async () => {
  await go(reader, '#/state/locked%2Fkeep', '[data-test=lock-panel]');
  return (await reader.$$('[data-test=force-unlock]')).length === 0;
});
await shoot(reader, 'state-read');
await check('read token: the API refuses restore and force-unlock from the page (403)', async () => {
  const r = await reader.evaluate(async (lockId) => {
    const s = await (await fetch('../v1/session')).json();
    const h = { 'X-CSRF-Token': s.csrf };
    const a = await fetch('../v1/restore/app/web?id=latest~1&reason=x', { method: 'POST', headers: h });
    const b = await fetch('../v1/locks/locked/keep?id=' + lockId + '&reason=x', { method: 'DELETE', headers: h });
    const c = await fetch('../v1/tokens', { method: 'POST', headers: { ...h, 'Content-Type': 'application/json' }, body: '{"name":"x","role":"admin"}' });
    return [a.status, b.status, c.status];
  }, E.LOCK_KEEP);
  const locks = await (await fetch(BASE + '/v1/locks', { headers: { Authorization: 'Bearer ' + E.ADMIN_TOKEN } })).json();
  if (!locks.some((l) => l.state === 'locked/keep')) return 'the lock was released';
  return r.every((s) => s === 403) || 'statuses ' + r.join(',');
});
await check('a state-changing request without the CSRF token is refused (403)', async () => {
  const st = await reader.evaluate(async () => (await fetch('../v1/session', { method: 'DELETE' })).status);
  const still = await reader.evaluate(async () => (await fetch('../v1/whoami')).status);
  return (st === 403 && still === 200) || 'DELETE without CSRF ' + st + ', then whoami ' + still;
});
await check('read token: the audit page explains it is for admins', async () => {
  await go(reader, '#/audit', '.notice-error');
  return /admin role only/.test(await text(reader, '.notice-error'));
});
await rctx.close();

// ------------------------------------------------------------------ outputs role

const octx = await browser.createBrowserContext();
const outp = await newPage(octx, 'outputs');
await check('outputs token: only a state\'s outputs, sensitive masked', async () => {
  await signIn(outp, E.OUTPUTS_TOKEN);
  await outp.waitForSelector('[data-test=open-name]', WAIT);
  if (await outp.$('[data-test=states-table]')) return 'the states list is shown';
  await outp.type('[data-test=open-name]', 'app/web');
  await nav(outp, () => outp.keyboard.press('Enter'), '[data-test=outputs] table');
  const t = await text(outp, '[data-test=outputs]');
  if (!(t.includes('hello-one') && /sensitive — hidden/.test(t))) return 'outputs: ' + t;
  if (await outp.$('[data-test=versions-table]') || await outp.$('[data-test=resources]')) return 'versions or resources shown';
  return SECRETS.every((x) => !(t.includes(x))) || 'a secret is shown';
});
await octx.close();

// ------------------------------------------------------------------ behind a path prefix

// A proxy that serves stated under /stated/ and strips the prefix, as nginx would.
const proxy = http.createServer((req, res) => {
  if (!req.url.startsWith('/stated/')) {
    res.writeHead(404);
    res.end('not under the prefix');
    return;
  }
  const up = new URL(BASE);
  const p = http.request({ host: up.hostname, port: up.port, method: req.method, path: req.url.slice('/stated'.length), headers: req.headers }, (r) => {
    res.writeHead(r.statusCode, r.headers);
    r.pipe(res);
  });
  p.on('error', () => { res.writeHead(502); res.end(); });
  req.pipe(p);
});
await new Promise((r) => proxy.listen(0, '127.0.0.1', r));
const PFX = 'http://127.0.0.1:' + proxy.address().port + '/stated';
const pctx = await browser.createBrowserContext();
const pre = await newPage(pctx, 'prefix');
await check('behind a path prefix (/stated/): /stated/ui redirects, sign in, list, open a state', async () => {
  await pre.goto(PFX + '/ui', { waitUntil: 'domcontentloaded' });
  if (!pre.url().endsWith('/stated/ui/')) return 'landed on ' + pre.url();
  await pre.waitForSelector('[data-test=token]', WAIT);
  await pre.type('[data-test=token]', E.READ_TOKEN);
  await nav(pre, () => pre.click('[data-test=signin]'), '[data-test=states-table]');
  await nav(pre, () => pre.click('a.state-link[href="#/state/app%2Fweb"]'), '[data-test=versions-table]');
  await pre.waitForSelector('[data-test=outputs] table', WAIT);
  return true;
});
await check('a revoked token ends its session at once: the next page asks to sign in again', async () => {
  const r = await fetch(BASE + '/v1/tokens/ui-reader', { method: 'DELETE', headers: { Authorization: 'Bearer ' + E.ADMIN_TOKEN } });
  if (r.status !== 200) return 'revoke answered ' + r.status;
  await go(pre, '#/locks', '[data-test=token]');
  const t = await text(pre, '#main');
  return /session has ended/.test(t) || 'shown: ' + t.slice(0, 200);
});
await pctx.close();
proxy.close();

// ------------------------------------------------------------------ sign-out

await check('sign out, then be refused', async () => {
  await go(admin, '#/states', '[data-test=states-table]');
  await nav(admin, () => admin.click('[data-test=signout]'), '[data-test=token]');
  if (!/Signed out/.test(await text(admin, '#main'))) return 'no "Signed out" notice';
  const st = await admin.evaluate(async () => (await fetch('../v1/session')).status);
  if (st !== 401) return 'after sign-out the session answers ' + st;
  const cs = await admin.cookies(UI);
  if (cs.some((c) => c.name === 'stated_session' && c.value)) return 'the cookie was not cleared';
  await go(admin, '#/tokens', '[data-test=token]');
  return true;
});
await shoot(admin, 'signed-out');
await check('web storage stayed empty', async () => {
  const r = await admin.evaluate(() => localStorage.length + sessionStorage.length);
  return r === 0 || r + ' items';
});
await check('no JavaScript dialog ever fired', async () => dialogs.length === 0 || dialogs.join('; '));
await check('no script error and no CSP violation on any page', async () => {
  const all = pageErrors.concat(cspViolations);
  return all.length === 0 || all.slice(0, 3).join(' | ');
});

await browser.close();
process.exit(failed ? 1 : 0);
