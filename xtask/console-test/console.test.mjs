// The browser console (`/_ccflow/console`) driven in a real browser: Debian's chromium through
// playwright-core, against the real ccflow-auth-server binary on 127.0.0.1:0. Run by
// `cargo xtask console` (which builds the binary and checks that node and chromium are there):
//
//   node xtask/console-test/console.test.mjs --binary target/debug/ccflow-auth-server \
//        [--chromium /usr/bin/chromium] [--screenshots docs/console]
//
// Every step prints `ok` or `FAIL`; the first failure stops the run with exit status 1.

import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, mkdirSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import assert from 'node:assert/strict';
import { chromium } from 'playwright-core';

const options = parseArguments(process.argv.slice(2));
const TIMEOUT_MS = 10_000;
const ADMIN_TOKEN = 'console-test-admin-token';
/** A client id carrying markup: it must show as these characters, never become an element. */
const MARKUP_ID = '<img src=x onerror="window.__pwned=1">';
/** A name that the browser resolves to 127.0.0.1 (host-resolver rule), as a rebinding attacker's would. */
const FOREIGN_HOST = 'rebind.example';
/** Three issuers in one process (docs/multi-issuer.md): rfc, slb and cyberark. */
const ISSUERS_TOML = resolve(dirname(fileURLToPath(import.meta.url)), '../../fixtures/issuers.toml');

function parseArguments(args) {
  const parsed = { chromium: '/usr/bin/chromium', screenshots: null, binary: null };
  for (let i = 0; i < args.length; i += 1) {
    const name = args[i].replace(/^--/, '');
    if (!(name in parsed)) throw new Error(`unknown option ${args[i]}`);
    parsed[name] = args[i + 1];
    i += 1;
  }
  if (!parsed.binary) throw new Error('--binary <path to ccflow-auth-server> is required');
  return parsed;
}

// ---- the servers -------------------------------------------------------------------------

const servers = [];

/** Starts the binary on 127.0.0.1:0 with its embedded defaults; resolves with its base URL. */
function startServer(extraArgs = []) {
  // An empty working directory: no fixtures/ccflow.toml is picked up, the embedded defaults
  // (demo clients, virtual clock) apply.
  const cwd = mkdtempSync(join(tmpdir(), 'ccflow-console-'));
  const child = spawn(resolve(options.binary), ['--bind', '127.0.0.1:0', ...extraArgs], {
    cwd,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  servers.push({ child, cwd });
  let stderr = '';
  child.stderr.on('data', (chunk) => { stderr += chunk; });
  return new Promise((resolvePromise, reject) => {
    const timer = setTimeout(() => reject(new Error(`no "listening on" line within ${TIMEOUT_MS} ms; stderr: ${stderr}`)), TIMEOUT_MS);
    let stdout = '';
    child.stdout.on('data', (chunk) => {
      stdout += chunk;
      const match = /listening on (http:\/\/[^\s]+)/.exec(stdout);
      if (match) {
        clearTimeout(timer);
        resolvePromise(match[1]);
      }
    });
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`the server exited (${code}) before listening; stderr: ${stderr}`));
    });
  });
}

function stopServers() {
  for (const { child, cwd } of servers) {
    child.kill('SIGTERM');
    rmSync(cwd, { recursive: true, force: true });
  }
}

// ---- HTTP from outside the browser ---------------------------------------------------------

/** A token request with client_secret_basic (RFC 6749 §2.3.1: each part form-urlencoded). */
async function tokenRequest(base, clientId, secret) {
  return tokenRequestAt(`${base}/oauth2/token`, clientId, secret);
}

/** The same at the token endpoint `url` (another profile's path). */
async function tokenRequestAt(url, clientId, secret) {
  const encode = (text) => encodeURIComponent(text).replace(/%20/g, '+');
  const credentials = Buffer.from(`${encode(clientId)}:${encode(secret)}`).toString('base64');
  return fetch(url, {
    method: 'POST',
    headers: { Authorization: `Basic ${credentials}`, 'Content-Type': 'application/x-www-form-urlencoded' },
    body: 'grant_type=client_credentials',
  });
}

async function admin(base, method, path, body, headers = {}) {
  const response = await fetch(`${base}/_ccflow${path}`, {
    method,
    headers: body === undefined ? headers : { 'Content-Type': 'application/json', ...headers },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  return { status: response.status, body: text ? JSON.parse(text) : null };
}

/** A raw request with a chosen Host header (fetch cannot set one). */
function withHost(base, path, host) {
  const url = new URL(path, base);
  return new Promise((resolvePromise, reject) => {
    const request = httpRequest({ hostname: url.hostname, port: url.port, path: url.pathname, headers: { Host: host } }, (response) => {
      response.resume();
      response.on('end', () => resolvePromise(response.statusCode));
    });
    request.on('error', reject);
    request.end();
  });
}

// ---- the run -------------------------------------------------------------------------------

let failures = 0;
/** The page under test, described in a failure report. */
let pageUnderTest = null;
async function step(name, body) {
  try {
    await body();
    console.log(`ok   ${name}`);
  } catch (error) {
    failures += 1;
    console.log(`FAIL ${name}\n     ${String(error && error.stack || error).split('\n').join('\n     ')}`);
    if (pageUnderTest) {
      const seen = await pageUnderTest.evaluate(() => {
        const section = document.querySelector('[data-page]:not([hidden])');
        const alert = document.getElementById('alert');
        return `page ${section && section.id}; alert: ${alert.hidden ? 'none' : alert.textContent}\n${section && section.innerText}`;
      }).catch((why) => `(the page cannot be read: ${why})`);
      console.log(`     what the page showed: ${seen.slice(0, 3000).split('\n').join('\n     ')}`);
    }
    throw error;
  }
}

async function shot(page, name) {
  if (!options.screenshots) return;
  mkdirSync(options.screenshots, { recursive: true });
  await page.screenshot({ path: join(options.screenshots, `${name}.png`) });
}

async function goTo(page, name) {
  await page.click(`nav a[data-nav="${name}"]`);
  await page.waitForSelector(`#page-${name}:not([hidden])`);
}

async function noHorizontalOverflow(page) {
  const { scrollWidth, innerWidth } = await page.evaluate(() => ({
    scrollWidth: document.documentElement.scrollWidth,
    innerWidth: window.innerWidth,
  }));
  assert.ok(scrollWidth <= innerWidth, `the page is ${scrollWidth} px wide in a ${innerWidth} px window`);
}

async function main() {
  const base = await startServer();
  const port = new URL(base).port;
  const browser = await chromium.launch({
    executablePath: options.chromium,
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--disable-default-apps',
      '--no-first-run',
      // The DNS-rebinding attacker's name, resolved to the server's address.
      `--host-resolver-rules=MAP ${FOREIGN_HOST} 127.0.0.1`,
    ],
  });
  try {
    const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    const page = await context.newPage();
    const consoleErrors = [];
    page.on('console', (message) => {
      if (message.type() === 'error' || message.type() === 'warning') consoleErrors.push(`${message.type()}: ${message.text()}`);
    });
    page.on('pageerror', (error) => consoleErrors.push(`page error: ${error.message}`));
    page.setDefaultTimeout(TIMEOUT_MS);
    pageUnderTest = page;

    await step('the console opens on the Journal page, with its Content-Security-Policy', async () => {
      const response = await page.goto(`${base}/_ccflow/console`);
      assert.equal(response.status(), 200);
      const csp = response.headers()['content-security-policy'];
      assert.match(csp, /script-src 'self'/);
      assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval/);
      await page.waitForSelector('#page-journal:not([hidden])');
      await page.waitForFunction(() => document.getElementById('server-clock').textContent.includes('UTC'));
    });

    let clientId = 'console-e2e';
    let secret = 'console-secret-value';
    await step('a client is added on the Clients page; its secret is not shown', async () => {
      await goTo(page, 'clients');
      await page.fill('#client-id', clientId);
      await page.fill('#client-secret', secret);
      await page.fill('#client-scopes', 'demo.read');
      await page.click('#client-add');
      await page.waitForSelector(`#clients-table tr[data-client="${clientId}"]`);
      assert.equal(await page.inputValue('#client-secret'), '');
      const text = await page.evaluate(() => document.body.innerText);
      assert.ok(!text.includes(secret), 'the secret is on the page');
      await shot(page, 'clients');
    });

    let token;
    await step('a real token request for it succeeds, and a wrong secret is refused', async () => {
      const response = await tokenRequest(base, clientId, secret);
      assert.equal(response.status, 200);
      token = (await response.json()).access_token;
      assert.equal((await tokenRequest(base, clientId, 'wrong-secret')).status, 401);
      // Some traffic of the demo client too, for the chart.
      for (let i = 0; i < 4; i += 1) {
        assert.equal((await tokenRequest(base, 'demo-client', 'demo-secret')).status, 200);
      }
    });

    await step('the requests appear in the journal and its chart', async () => {
      await goTo(page, 'journal');
      await page.fill('#filter-client', clientId);
      await page.waitForSelector(`#journal-table tr[data-client="${clientId}"][data-status="200"]`);
      await page.waitForSelector(`#journal-table tr[data-client="${clientId}"][data-status="401"]`);
      await page.waitForSelector('#journal-chart svg rect.ok');
      await page.waitForSelector('#journal-chart svg rect.refused');
      await page.fill('#filter-client', '');
      await page.locator('#filter-client').blur();
      await shot(page, 'journal');
    });

    await step('the token is decoded on the Tokens page, its signature verified by the server', async () => {
      await goTo(page, 'tokens');
      await page.fill('#token-input', token);
      await page.click('#token-inspect');
      await page.waitForSelector('#token-result:not([hidden])');
      const signature = await page.textContent('#token-signature');
      assert.match(signature, /^verified/);
      assert.match(await page.textContent('#token-claims'), new RegExp(`"client_id": "${clientId}"`));
      assert.match(await page.textContent('#token-expiry'), /expires in/);
      assert.match(await page.textContent('#token-active'), /^active/);
      await shot(page, 'tokens');
    });

    await step('a bad token from the factory is shown as not verified', async () => {
      await page.selectOption('#mint-defect', 'alg_none');
      await page.click('#mint-button');
      await page.waitForFunction(() => document.getElementById('token-signature').textContent.startsWith('not verified'));
      // Back to the real token, for the clock step below.
      await page.fill('#token-input', token);
      await page.click('#token-inspect');
      await page.waitForFunction(() => document.getElementById('token-signature').textContent.startsWith('verified'));
    });

    await step('keys are rotated on the Keys page (from the keyboard) and the new key is shown and published', async () => {
      await goTo(page, 'keys');
      const before = await page.getAttribute('#keys-table tr[data-state="active"]', 'data-kid');
      await page.focus('#keys-rotate');
      await page.keyboard.press('Enter');
      await page.waitForFunction((old) => {
        const active = document.querySelector('#keys-table tr[data-state="active"]');
        return active && active.dataset.kid !== old;
      }, before);
      const after = await page.getAttribute('#keys-table tr[data-state="active"]', 'data-kid');
      await page.waitForSelector(`#keys-table tr[data-kid="${before}"][data-state="staged"]`);
      const jwks = await (await fetch(`${base}/jwks.json`)).json();
      assert.ok(jwks.keys.some((key) => key.kid === after), 'the new key is in the JWKS');
      await shot(page, 'keys');
    });

    await step('a 503 injected on the Faults page fails the next token request with it', async () => {
      await goTo(page, 'faults');
      await page.selectOption('#fault-preset', { label: '503 Service Unavailable with Retry-After: 5' });
      await page.fill('#fault-client', clientId);
      await page.fill('#fault-count', '1');
      await page.click('#fault-add');
      await page.waitForSelector('#faults-table tr[data-scenario]');
      assert.match(await page.textContent('#faults-table tr[data-scenario]'), /503/);
      await shot(page, 'faults');
      const failed = await tokenRequest(base, clientId, secret);
      assert.equal(failed.status, 503);
      assert.equal(failed.headers.get('retry-after'), '5');
      await page.waitForFunction(() => /0 requests/.test(document.querySelector('#faults-table tr[data-scenario]').textContent));
      assert.equal((await tokenRequest(base, clientId, secret)).status, 200, 'only the next request fails');
      await goTo(page, 'journal');
      await page.waitForSelector(`#journal-table tr[data-client="${clientId}"][data-status="503"]`);
      await page.waitForSelector('#journal-chart svg rect.failed');
    });

    await step('a scenario with a time window shows the time it has left on the server clock', async () => {
      // The page counts down on the server clock to the second ("starts in 1 min" at 60 s,
      // "59 s" a second later): frozen, the clock moves only when the step moves it, however
      // long a loaded machine takes to render.
      assert.equal((await admin(base, 'POST', '/clock', { freeze: true })).status, 200);
      const added = await admin(base, 'POST', '/scenarios', {
        client_id: 'window-check',
        after_secs: 60,
        for_secs: 600,
        fault: { kind: 'status', status: 503 },
      });
      assert.equal(added.status, 201, JSON.stringify(added.body));
      const id = added.body.ids[0];
      const row = `#faults-table tr[data-scenario="${id}"]`;
      await goTo(page, 'faults');
      await page.waitForFunction((selector) => /starts in 1 min/.test(document.querySelector(selector)?.textContent ?? ''), row);
      assert.equal((await admin(base, 'POST', '/clock', { advance_secs: 120 })).status, 200);
      await page.waitForFunction((selector) => /[89] min( \d+ s)? left/.test(document.querySelector(selector)?.textContent ?? ''), row);
      assert.equal((await admin(base, 'POST', '/clock', { advance_secs: 600 })).status, 200);
      await page.waitForFunction((selector) => /window closed/.test(document.querySelector(selector)?.textContent ?? ''), row);
      assert.equal((await admin(base, 'DELETE', `/scenarios/${id}`)).status, 204);
      assert.equal((await admin(base, 'POST', '/clock', { resume: true })).status, 200);
    });

    await step('advancing the clock on the Faults and time page expires the token', async () => {
      await goTo(page, 'faults');
      await page.fill('#clock-advance', '7200');
      await page.click('#clock-advance-button');
      await goTo(page, 'tokens');
      await page.waitForFunction(() => /^expired/.test(document.getElementById('token-expiry').textContent));
      assert.match(await page.textContent('#token-active'), /^inactive/);
    });

    await step('a client id carrying markup renders as text on the Clients and Journal pages', async () => {
      const added = await admin(base, 'POST', '/clients', { client_id: MARKUP_ID, client_secret: 'markup-secret' });
      assert.equal(added.status, 201, JSON.stringify(added.body));
      assert.equal((await tokenRequest(base, MARKUP_ID, 'markup-secret')).status, 200);
      await goTo(page, 'clients');
      const row = page.locator('#clients-table tbody tr').filter({ hasText: MARKUP_ID });
      await row.waitFor();
      assert.equal(await row.locator('td').first().textContent(), MARKUP_ID);
      await goTo(page, 'journal');
      await page.fill('#filter-client', '<img');
      await page.locator('#journal-table tbody tr').filter({ hasText: MARKUP_ID }).first().waitFor();
      await page.fill('#filter-client', '');
      assert.equal(await page.locator('img').count(), 0, 'an <img> element exists');
      assert.equal(await page.evaluate(() => window.__pwned), undefined, 'the markup ran');
    });

    await step('a state-changing request from another origin is refused, in the browser and without', async () => {
      const ringBefore = (await admin(base, 'GET', '/keys')).body.keys.length;
      // A page of another origin (localhost is another origin than 127.0.0.1) posts to the
      // admin API: the browser sends its Origin and the server refuses.
      const other = await context.newPage();
      await other.goto(`http://localhost:${port}/.well-known/openid-configuration`);
      await other.evaluate(async (target) => {
        await fetch(target, { method: 'POST', mode: 'no-cors' }).catch(() => {});
      }, `${base}/_ccflow/keys/rotate`);
      await other.close();
      assert.equal((await admin(base, 'GET', '/keys')).body.keys.length, ringBefore, 'the cross-origin rotation happened');
      const refused = await admin(base, 'POST', '/keys/rotate', undefined, { Origin: 'http://evil.example' });
      assert.equal(refused.status, 403);
      assert.equal(refused.body.error, 'forbidden');
      const own = await admin(base, 'POST', '/clock', { reset: true }, { Origin: base });
      assert.equal(own.status, 200, 'a same-origin state change is allowed');
    });

    await step('a request with a foreign Host is refused (DNS rebinding), in the browser and without', async () => {
      assert.equal(await withHost(base, '/_ccflow/clock', `${FOREIGN_HOST}:${port}`), 403);
      assert.equal(await withHost(base, '/_ccflow/console', `${FOREIGN_HOST}:${port}`), 403);
      assert.equal(await withHost(base, '/_ccflow/clock', `localhost:${port}`), 200);
      const other = await context.newPage();
      const response = await other.goto(`http://${FOREIGN_HOST}:${port}/_ccflow/console`);
      assert.equal(response.status(), 403);
      await other.close();
    });

    await step('no page overflows at 1280x800 or at 400 px wide', async () => {
      for (const viewport of [{ width: 1280, height: 800 }, { width: 400, height: 800 }]) {
        await page.setViewportSize(viewport);
        for (const name of ['journal', 'tokens', 'clients', 'keys', 'faults']) {
          await goTo(page, name);
          await noHorizontalOverflow(page);
        }
      }
      await page.setViewportSize({ width: 1280, height: 800 });
    });

    await step('the console logged no error or warning', async () => {
      assert.deepEqual(consoleErrors, []);
    });

    await step('with an admin token the console asks for it (Basic) and works with it', async () => {
      const guarded = await startServer(['--admin-token', ADMIN_TOKEN]);
      // What a browser gets first: a Basic challenge, so that it prompts for the token.
      const refused = await fetch(`${guarded}/_ccflow/console`);
      assert.equal(refused.status, 401);
      assert.match(refused.headers.get('www-authenticate'), /^Basic /);
      // The API's own challenge stays Bearer.
      const api = await fetch(`${guarded}/_ccflow/keys`);
      assert.equal(api.status, 401);
      assert.match(api.headers.get('www-authenticate'), /^Bearer /);
      const signedIn = await browser.newContext({ httpCredentials: { username: 'admin', password: ADMIN_TOKEN } });
      const console2 = await signedIn.newPage();
      const errors = [];
      console2.on('console', (message) => { if (message.type() === 'error') errors.push(message.text()); });
      assert.equal((await console2.goto(`${guarded}/_ccflow/console#keys`)).status(), 200);
      await console2.waitForSelector('#keys-table tr[data-state="active"]', { timeout: TIMEOUT_MS });
      assert.deepEqual(errors, []);
      await signedIn.close();
    });

    await severalIssuers(browser);
  } finally {
    await browser.close();
  }
}

/**
 * Several issuers in one process (fixtures/issuers.toml): each issuer's console under its
 * prefix talks to its own admin API; the root's console picks an issuer for its pages, and its
 * journal shows every issuer or the one chosen. Every wait is for the page to show something.
 */
async function severalIssuers(browser) {
  const multi = await startServer(['--config', ISSUERS_TOML]);
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  const page = await context.newPage();
  const errors = [];
  page.on('console', (message) => {
    if (message.type() === 'error' || message.type() === 'warning') errors.push(`${message.type()}: ${message.text()}`);
  });
  page.on('pageerror', (error) => errors.push(`page error: ${error.message}`));
  page.setDefaultTimeout(TIMEOUT_MS);
  pageUnderTest = page;
  try {
    await step('several issuers: an issuer\'s console under its prefix shows that issuer\'s clients only', async () => {
      const response = await page.goto(`${multi}/slb/_ccflow/console#clients`);
      assert.equal(response.status(), 200);
      assert.match(response.headers()['content-security-policy'], /script-src 'self'/);
      await page.waitForSelector('#clients-table tr[data-client="svc-a"]');
      assert.equal(await page.locator('#clients-table tr[data-client="orders"]').count(), 0);
      assert.equal(await page.textContent('#issuer-name'), 'slb');
      assert.equal(await page.isVisible('#issuer-choice'), false);
      await page.waitForFunction(() => document.getElementById('server-clock').textContent.includes('UTC'));
    });

    await step('several issuers: the root console\'s picker switches every page to the chosen issuer', async () => {
      assert.equal((await page.goto(`${multi}/_ccflow/console#clients`)).status(), 200);
      await page.waitForSelector('#issuer-choice:not([hidden])');
      const names = await page.$$eval('#issuer-picker option', (options) => options.map((option) => option.value));
      assert.deepEqual(names, ['rfc', 'slb', 'cyberark']);
      await page.waitForSelector('#clients-table tr[data-client="orders"]');
      await page.selectOption('#issuer-picker', 'slb');
      await page.waitForFunction(() => document.querySelector('#clients-table tr[data-client="svc-a"]') &&
        !document.querySelector('#clients-table tr[data-client="orders"]'));
      // A change made on the page goes to the chosen issuer only: rotate slb's keys.
      const rfcBefore = (await (await fetch(`${multi}/rfc/jwks.json`)).json()).keys.map((key) => key.kid);
      await goTo(page, 'keys');
      const before = await page.getAttribute('#keys-table tr[data-state="active"]', 'data-kid');
      const slbBefore = (await (await fetch(`${multi}/slb/v2/certs`)).json()).keys.map((key) => key.kid);
      assert.deepEqual(slbBefore, [before], 'the Keys page shows slb\'s key');
      await page.click('#keys-rotate');
      await page.waitForFunction((old) => {
        const active = document.querySelector('#keys-table tr[data-state="active"]');
        return active && active.dataset.kid !== old;
      }, before);
      const after = await page.getAttribute('#keys-table tr[data-state="active"]', 'data-kid');
      const slbAfter = (await (await fetch(`${multi}/slb/v2/certs`)).json()).keys.map((key) => key.kid);
      assert.ok(slbAfter.includes(after), 'slb publishes the new key');
      const rfcAfter = (await (await fetch(`${multi}/rfc/jwks.json`)).json()).keys.map((key) => key.kid);
      assert.deepEqual(rfcAfter, rfcBefore, 'rfc\'s keys are untouched');
    });

    await step('several issuers: the address keeps the chosen issuer through a reload, and opens the one it names', async () => {
      await page.goto(`${multi}/_ccflow/console#clients`);
      await page.waitForSelector('#issuer-choice:not([hidden])');
      await page.selectOption('#issuer-picker', 'slb');
      await page.waitForFunction(() => new URLSearchParams(location.search).get('issuer') === 'slb');
      assert.equal(new URL(page.url()).hash, '#clients', 'the page stays the same');
      await page.reload();
      await page.waitForSelector('#clients-table tr[data-client="svc-a"]');
      assert.equal(await page.inputValue('#issuer-picker'), 'slb');
      await page.goto(`${multi}/_ccflow/console?issuer=cyberark#clients`);
      await page.waitForSelector('#clients-table tr[data-client="svc-c"]');
      assert.equal(await page.inputValue('#issuer-picker'), 'cyberark');
      // A name no issuer has opens the first issuer.
      await page.goto(`${multi}/_ccflow/console?issuer=nope#clients`);
      await page.waitForSelector('#clients-table tr[data-client="orders"]');
      assert.equal(await page.inputValue('#issuer-picker'), 'rfc');
    });

    await step('several issuers: the root journal shows every issuer, or only the one chosen', async () => {
      assert.equal((await tokenRequestAt(`${multi}/rfc/oauth2/token`, 'orders', 'orders-secret')).status, 200);
      assert.equal((await tokenRequestAt(`${multi}/slb/v2/token`, 'svc-a', 'secret-a')).status, 200);
      assert.equal((await tokenRequestAt(`${multi}/cyberark/oauth2/token/orders`, 'svc-c', 'secret-c')).status, 200);
      await goTo(page, 'journal');
      await page.waitForSelector('#filter-issuer-label:not([hidden])');
      await page.waitForFunction(() => {
        const shown = new Set([...document.querySelectorAll('#journal-table tbody tr')].map((row) => row.dataset.issuer));
        return shown.has('rfc') && shown.has('slb') && shown.has('cyberark');
      });
      await page.selectOption('#filter-issuer', 'slb');
      await page.waitForFunction(() => {
        const shown = [...document.querySelectorAll('#journal-table tbody tr')].map((row) => row.dataset.issuer);
        return shown.length > 0 && shown.every((issuer) => issuer === 'slb');
      });
      const row = page.locator('#journal-table tbody tr[data-client="svc-a"]').first();
      assert.equal(await row.locator('td').first().textContent(), 'slb');
      await page.selectOption('#filter-issuer', '');
      await page.waitForFunction(() => {
        const shown = new Set([...document.querySelectorAll('#journal-table tbody tr')].map((row) => row.dataset.issuer));
        return shown.has('rfc') && shown.has('slb');
      });
      await noHorizontalOverflow(page);
      await shot(page, 'issuers');
    });

    await step('several issuers: the consoles logged no error or warning', async () => {
      assert.deepEqual(errors, []);
    });
  } finally {
    pageUnderTest = null;
    await context.close();
  }
}

try {
  await main();
  console.log('console test: every step passed');
} catch {
  console.log(`console test: ${failures || 1} step failed`);
  process.exitCode = 1;
} finally {
  stopServers();
}
