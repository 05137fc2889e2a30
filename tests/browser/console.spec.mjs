// The Vigil web console in Debian's chromium, driven by playwright-core (no bundled browser).
// Run by crates/vigil/tests/console_browser.rs, which starts the server and passes, in the
// environment: VIGIL_CONSOLE (https://host:port), VIGIL_CA (the console CA, PEM),
// VIGIL_CONSOLE_CERT (the console's certificate, PEM), VIGIL_AGENT (host:port of the agent
// port), VIGIL_USERS (admin,analyst,viewer user names), VIGIL_PASSWORD, VIGIL_SCREENSHOTS.
//
// TLS stays verified: the script checks that the console's certificate is signed by the core's
// CA and names 127.0.0.1, then pins its public key in chromium
// (--ignore-certificate-errors-spki-list accepts that key only; any other certificate fails).
//
// Each check is a named step; the script runs every step it can, prints a summary, and exits 1
// when any failed.

import assert from 'node:assert/strict';
import { X509Certificate, createHash } from 'node:crypto';
import { mkdirSync, readFileSync } from 'node:fs';
import net from 'node:net';
import { chromium } from 'playwright-core';

const env = (k) => {
  const v = process.env[k];
  if (!v) throw new Error(`${k} is not set`);
  return v;
};
const BASE = env('VIGIL_CONSOLE');
const [ADMIN, ANALYST, VIEWER] = env('VIGIL_USERS').split(',');
const PASSWORD = env('VIGIL_PASSWORD');
const SHOTS = env('VIGIL_SCREENSHOTS');
const [AGENT_HOST, AGENT_PORT] = env('VIGIL_AGENT').split(/:(?=\d+$)/);
mkdirSync(SHOTS, { recursive: true });

const results = [];
let failed = 0;
async function step(name, f) {
  const t0 = Date.now();
  try {
    await f();
    results.push(`ok    ${name} (${Date.now() - t0} ms)`);
  } catch (e) {
    failed += 1;
    results.push(`FAIL  ${name}: ${String(e.message).split('\n').slice(0, 6).join(' | ')}`);
  }
  console.log(results[results.length - 1]);
}

/** The base64 SHA-256 of the console certificate's public key, after checking it chains to the CA. */
function pinnedKey() {
  const ca = new X509Certificate(readFileSync(env('VIGIL_CA')));
  const cert = new X509Certificate(readFileSync(env('VIGIL_CONSOLE_CERT')));
  assert.ok(cert.verify(ca.publicKey), 'the console certificate is signed by the console CA');
  assert.ok(cert.checkIP(new URL(BASE).hostname), 'the console certificate names the console address');
  const spki = cert.publicKey.export({ type: 'spki', format: 'der' });
  return createHash('sha256').update(spki).digest('base64');
}

/** pam_unix authentication failures from 203.0.113.7 to 10.0.0.5: 21 raise directive 50004 level 2. */
function agentLines(count) {
  const now = Math.floor(Date.now() / 1000) - count;
  const b64 = (s) => Buffer.from(s).toString('base64');
  let text = 'connect id="1" type="sensor" version="5.8.0" sensor_id="a9e70000-0000-4000-8000-00000000b001"\n';
  for (let n = 0; n < count; n++) {
    const log = `Dec  7 23:00:${String(n % 60).padStart(2, '0')} web1 sshd[4242]: pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh ruser= rhost=203.0.113.7 user=root attempt=${n}`;
    text += `event type="detector" date="${now + n}" plugin_id="4004" plugin_sid="2" src_ip="203.0.113.7" src_port="${40000 + n}" dst_ip="10.0.0.5" dst_port="22" protocol="TCP" username="${b64('root')}" log="${b64(log)}"\n`;
  }
  return text;
}

/** Opens an agent session (`connect`, waits for `ok`), sends the event lines and closes it. */
function sendAgent(lines) {
  const [connect, ...events] = lines.split(/(?<=\n)/);
  return new Promise((resolve, reject) => {
    const s = net.connect(Number(AGENT_PORT), AGENT_HOST, () => s.write(connect));
    let reply = '';
    s.on('data', (d) => {
      reply += d;
      if (!reply.includes('\n')) return;
      if (reply !== 'ok id="1"\n') return reject(new Error(`connect answered ${JSON.stringify(reply)}`));
      s.end(events.join(''), resolve);
    });
    s.on('error', reject);
  });
}

/** A fetch from inside the page (its cookie, its origin); returns {status, body}. */
function pageFetch(page, path, init = {}) {
  return page.evaluate(async ([path, init]) => {
    const r = await fetch(path, init);
    const text = await r.text();
    let body = null;
    try { body = JSON.parse(text); } catch { body = text; }
    return { status: r.status, body };
  }, [path, init]);
}

async function login(page, user) {
  await page.goto(`${BASE}/`);
  await page.fill('#username', user);
  await page.fill('#password', PASSWORD);
  await page.click('#login-submit');
  await page.waitForSelector('#nav a', { timeout: 5000 });
}

async function csrfOf(page) {
  return (await pageFetch(page, '/api/v1/session')).body.csrf_token;
}

const shot = (page, name) => page.screenshot({ path: `${SHOTS}/${name}.png`, fullPage: false });

const browser = await chromium.launch({
  executablePath: '/usr/bin/chromium',
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking', `--ignore-certificate-errors-spki-list=${pinnedKey()}`],
});
const big = { viewport: { width: 1920, height: 1080 } };
const newContext = async () => {
  const ctx = await browser.newContext(big);
  ctx.setDefaultTimeout(5000);
  return ctx;
};
let alarmId = null;
let eventId = null;
try {
  const analystCtx = await newContext();
  const page = await analystCtx.newPage();
  const consoleErrors = [];
  page.on('console', (m) => m.type() === 'error' && consoleErrors.push(m.text()));
  page.on('pageerror', (e) => consoleErrors.push(String(e)));

  await step('the login screen over verified TLS, then an analyst logs in', async () => {
    await page.goto(`${BASE}/`);
    await page.waitForSelector('#login-form');
    await shot(page, 'login');
    await page.fill('#username', ANALYST);
    await page.fill('#password', 'wrong-password');
    await page.click('#login-submit');
    await page.waitForSelector('.login-error:text("wrong user name or password")');
    await page.fill('#password', PASSWORD);
    await page.click('#login-submit');
    await page.waitForSelector('#alarm-list');
    assert.equal(await page.textContent('#who .user'), ANALYST);
    assert.equal(await page.locator('#nav a[data-route="users"]').count(), 0, 'no Users link for an analyst');
  });

  await step('the page and its assets are served with their content types under the CSP', async () => {
    const types = await page.evaluate(async () => {
      const out = {};
      for (const path of ['/', '/assets/app.css', '/assets/js/main.js', '/assets/logo.svg', '/assets/nope.js']) {
        const r = await fetch(path);
        out[path] = [r.status, r.headers.get('content-type'), r.headers.get('content-security-policy')?.split(';')[0]];
      }
      return out;
    });
    assert.deepEqual(types, {
      '/': [200, 'text/html; charset=utf-8', "default-src 'self'"],
      '/assets/app.css': [200, 'text/css; charset=utf-8', "default-src 'self'"],
      '/assets/js/main.js': [200, 'text/javascript; charset=utf-8', "default-src 'self'"],
      '/assets/logo.svg': [200, 'image/svg+xml', "default-src 'self'"],
      '/assets/nope.js': [404, 'application/problem+json', "default-src 'self'"],
    });
  });

  await step('a reload keeps the session and gets the CSRF token back', async () => {
    await page.reload();
    await page.waitForSelector('#alarm-list');
    const s = await pageFetch(page, '/api/v1/session');
    assert.equal(s.status, 200);
    assert.deepEqual(Object.keys(s.body).sort(), ['csrf_token', 'role', 'username']);
    assert.equal(s.body.role, 'analyst');
    assert.match(s.body.csrf_token, /^.{16,}$/);
  });

  await step('an alarm raised while the list is open appears live (SSE) without reload', async () => {
    await page.waitForSelector('#live.on', { timeout: 5000 });
    const sent = Date.now();
    await sendAgent(agentLines(21));
    const row = page.locator('#alarm-list tr[data-id]', { hasText: 'Bruteforce' }).first();
    await row.waitFor({ timeout: 15000 });
    const elapsed = Date.now() - sent;
    alarmId = await row.getAttribute('data-id');
    console.log(`      alarm ${alarmId} listed ${elapsed} ms after the events were sent`);
    assert.ok(elapsed < 2000, `listed within 2 s of the events (took ${elapsed} ms)`);
    assert.equal(await page.locator('#alarm-list tr.fresh').count() >= 1, true, 'the new row is highlighted');
    assert.match(alarmId, /^[0-9a-f-]{36}$/);
    await shot(page, 'alarms');
  });

  await step('from the alarm to a raw log in two clicks', async () => {
    assert.ok(alarmId, 'needs the live alarm');
    await page.click(`#alarm-list tr[data-id="${alarmId}"] td.name a`);
    await page.waitForSelector('#timeline pre.rawlog');
    const raw = page.locator('#timeline pre.rawlog').first();
    assert.ok(await raw.isVisible(), 'the raw log is visible on the alarm page (click 1)');
    assert.match(await raw.textContent(), /pam_unix\(sshd:auth\): authentication failure; .* rhost=203\.0\.113\.7 user=root/);
    await shot(page, 'alarm-detail');
    const link = page.locator('#timeline a.ev-link').first();
    eventId = (await link.getAttribute('href')).split('/').pop();
    await link.click();
    await page.waitForSelector('#event-raw-log');
    assert.match(await page.textContent('#event-raw-log'), /pam_unix\(sshd:auth\): authentication failure/);
    assert.equal(page.url(), `${BASE}/#/events/${eventId}`);
    await shot(page, 'event-detail');
  });

  await step('acknowledge and close from the alarm page; the API shows each status', async () => {
    assert.ok(alarmId, 'needs the live alarm');
    await page.goto(`${BASE}/#/alarms/${alarmId}`);
    await page.fill('#triage-comment', 'looking into it');
    await page.click('#ack');
    await page.waitForSelector('#reopen');
    let a = await pageFetch(page, `/api/v1/alarms/${alarmId}`);
    assert.equal(a.status, 200);
    assert.equal(a.body.alarm.triage.status, 'acknowledged');
    assert.equal(a.body.alarm.triage.by, ANALYST);
    assert.equal(a.body.alarm.triage.comment, 'looking into it');
    await page.click('#close');
    await page.waitForSelector('#triage:not(:has(#close))');
    a = await pageFetch(page, `/api/v1/alarms/${alarmId}`);
    assert.equal(a.body.alarm.triage.status, 'closed');
    assert.deepEqual(a.body.history.map((e) => e.action), ['alarm_triage', 'alarm_triage']);
  });

  await step('keyboard and bulk triage in the list: a acknowledges, x selects, bulk close, Enter opens', async () => {
    assert.ok(alarmId, 'needs the live alarm');
    await page.goto(`${BASE}/#/alarms`);
    await page.fill('#alarm-filters input[name="status"]', '');
    await page.click('#alarm-filters button[type="submit"]');
    const row = `#alarm-list tr.cursor[data-id="${alarmId}"]`;
    await page.waitForSelector('#alarm-list tr.cursor');
    // Other directives may have raised alarms too: j moves down to ours, k back up once.
    const rows = await page.locator('#alarm-list tr[data-id]').evaluateAll((trs) => trs.map((tr) => tr.dataset.id));
    const at = rows.indexOf(alarmId);
    assert.ok(at >= 0, 'the alarm is listed');
    for (let i = 0; i < at + 1; i++) await page.keyboard.press('j');
    if (at + 1 < rows.length) await page.keyboard.press('k');
    await page.waitForSelector(row);
    await page.keyboard.press('a');
    await page.waitForSelector(`${row} .pill-acknowledged`);
    assert.equal((await pageFetch(page, `/api/v1/alarms/${alarmId}`)).body.alarm.triage.status, 'acknowledged');
    await page.keyboard.press('x');
    await page.waitForSelector('#selected-count:text("1 selected")');
    await page.click('#bulk-close');
    await page.waitForSelector(`${row} .pill-closed`);
    assert.equal((await pageFetch(page, `/api/v1/alarms/${alarmId}`)).body.alarm.triage.status, 'closed');
    await page.waitForSelector('#selected-count:text("0 selected")');
    await page.keyboard.press('Enter');
    await page.waitForURL(`${BASE}/#/alarms/${alarmId}`);
  });

  await step('a request without the CSRF token, or without the cookie, is refused', async () => {
    const noCsrf = await pageFetch(page, '/api/v1/logout', { method: 'POST' });
    assert.equal(noCsrf.status, 403);
    assert.equal(noCsrf.body.detail, 'missing or wrong X-CSRF-Token');
    const noCookie = await pageFetch(page, '/api/v1/session', { credentials: 'omit' });
    assert.equal(noCookie.status, 401);
    assert.equal(noCookie.body.detail, 'not logged in');
  });

  await step('an analyst cannot manage users (403)', async () => {
    const csrf = await csrfOf(page);
    const r = await pageFetch(page, '/api/v1/users', { method: 'POST', headers: { 'Content-Type': 'application/json', 'X-CSRF-Token': csrf }, body: JSON.stringify({ name: 'mallory', role: 'admin', password: 'Correct-Horse-8' }) });
    assert.equal(r.status, 403);
    assert.equal(r.body.detail, 'requires the admin role');
    await page.goto(`${BASE}/#/users`);
    await page.waitForSelector('.error:has-text("requires the admin role")');
  });

  await step('log out: back to the login screen, the session is gone', async () => {
    await page.click('#logout');
    await page.waitForSelector('#login-form');
    assert.equal((await pageFetch(page, '/api/v1/session')).status, 401);
  });
  await step('no script errors in the page', async () => {
    assert.deepEqual(consoleErrors.filter((e) => !/status of (401|403|404)/.test(e)), []);
  });
  await analystCtx.close();

  const viewerCtx = await newContext();
  const vpage = await viewerCtx.newPage();
  await step('a viewer sees no triage actions and the API refuses them (403)', async () => {
    await login(vpage, VIEWER);
    assert.ok(alarmId, 'needs the live alarm');
    await vpage.goto(`${BASE}/#/alarms/${alarmId}`);
    await vpage.waitForSelector('#timeline');
    assert.equal(await vpage.locator('#ack, #close, #reopen, #triage').count(), 0, 'no triage buttons');
    await vpage.goto(`${BASE}/#/alarms`);
    await vpage.waitForSelector('#alarm-list');
    assert.equal(await vpage.locator('#bulk').count(), 0, 'no bulk actions');
    const csrf = await csrfOf(vpage);
    const r = await pageFetch(vpage, `/api/v1/alarms/${alarmId}/triage`, { method: 'POST', headers: { 'Content-Type': 'application/json', 'X-CSRF-Token': csrf }, body: JSON.stringify({ status: 'acknowledged' }) });
    assert.equal(r.status, 403);
    assert.equal(r.body.detail, 'requires the analyst role');
  });
  await viewerCtx.close();

  // Every page at 1920x1080 as the admin (who sees them all), then the alarm pages at 1280x800.
  const adminCtx = await newContext();
  const apage = await adminCtx.newPage();
  await step('screenshots of every page at 1920x1080', async () => {
    await login(apage, ADMIN);
    const pages = [
      ['dashboard', '#/dashboard', '.dash .panel, .dash .error'],
      ['alarms-all', '#/alarms', '#alarm-list table, #alarm-list .empty, #alarm-list .error'],
      ['events', '#/events', '#event-results table, #event-results .empty, #event-results .error'],
      ['sensors', '#/sensors', 'main table, main .empty, main .error'],
      ['directives', '#/directives', 'main table, main .empty, main .error'],
      ['directive-detail', '#/directives/50004', 'pre.source, main .error'],
      ['hosts', '#/hosts', 'main table, main .empty, main .error'],
      ['host-detail', '#/hosts/203.0.113.7', 'main .panel, main .error'],
      ['users', '#/users', '#user-list table, #user-list .error'],
      ['audit', '#/audit', '#audit-results table, #audit-results .empty, #audit-results .error'],
    ];
    if (alarmId) pages.push(['alarm-detail-admin', `#/alarms/${alarmId}`, '#timeline, main .error']);
    if (eventId) pages.push(['event-detail-admin', `#/events/${eventId}`, '#event-raw-log, main .error']);
    const errors = [];
    for (const [name, hash, ready] of pages) {
      await apage.goto(`${BASE}/${hash}`);
      await apage.waitForSelector(ready, { timeout: 5000 });
      if (await apage.locator('main .error').count()) errors.push(`${name}: ${await apage.locator('main .error').first().textContent()}`);
      await shot(apage, name);
    }
    assert.deepEqual(errors, [], 'every page loads without an error');
  });
  await step('screenshots of the alarm list and detail at 1280x800', async () => {
    await apage.setViewportSize({ width: 1280, height: 800 });
    await apage.goto(`${BASE}/#/alarms`);
    await apage.waitForSelector('#alarm-list table, #alarm-list .empty, #alarm-list .error');
    await shot(apage, 'alarms-1280');
    assert.ok(alarmId, 'needs the live alarm');
    await apage.goto(`${BASE}/#/alarms/${alarmId}`);
    await apage.waitForSelector('#timeline');
    await shot(apage, 'alarm-detail-1280');
  });
  await adminCtx.close();
} finally {
  await browser.close();
}
console.log(`\n${results.length - failed} passed, ${failed} failed; screenshots in ${SHOTS}`);
process.exit(failed ? 1 : 0);
