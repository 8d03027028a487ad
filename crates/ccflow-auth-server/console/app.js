// The console's entry point: the page router (one <section> per page, chosen by the URL
// fragment), the server clock in the header, the alert line, and a one-second refresh of the
// page on show. Loaded as a module from the console's own origin (the CSP allows nothing else).

import { api, apiAt, HOME, useAdmin } from './api.js';
import { byId, formatTime, h } from './dom.js';
import { journalPage } from './journal.js';
import { tokensPage } from './tokens.js';
import { clientsPage } from './clients.js';
import { keysPage } from './keys.js';
import { faultsPage } from './faults.js';

const REFRESH_MS = 1000;

const alertLine = byId('alert');
const clockOutput = byId('server-clock');

/** The server clock as last read, so pages can place journal entries and expiries. */
const clock = { now: null, frozen: false, offset: 0, readAt: 0 };

/**
 * The issuers the console chooses among: at the root of a process with several issuers, every
 * issuer as `{ name, admin }` (admin: its admin API, '/{name}/_ccflow'); otherwise null (one
 * issuer: the root's, or the one whose prefix the console was served under).
 */
async function findIssuers() {
  if (HOME !== '/_ccflow') return null;
  try {
    const { issuers } = await apiAt(HOME, 'GET', '/issuers');
    const named = issuers.filter((issuer) => issuer.name !== null);
    return named.length ? named.map((issuer) => ({ name: issuer.name, admin: `${issuer.prefix}/_ccflow` })) : null;
  } catch {
    // The pages' own calls will show what is wrong.
    return null;
  }
}

const issuers = await findIssuers();
if (issuers) {
  // The picker scopes every page but the journal's "all issuers" to one issuer's admin API.
  const picker = byId('issuer-picker');
  picker.replaceChildren(...issuers.map((issuer) => h('option', { value: issuer.name }, issuer.name)));
  // The page's address keeps the pick (`?issuer=NAME`), so a reload or a bookmark opens the
  // same issuer; an unknown or missing name opens the first.
  const named = new URLSearchParams(location.search).get('issuer');
  const first = issuers.find((issuer) => issuer.name === named) ?? issuers[0];
  picker.value = first.name;
  useAdmin(first.admin);
  byId('issuer-choice').hidden = false;
} else if (HOME !== '/_ccflow') {
  // One of several issuers' own console: '/{name}/_ccflow'.
  byId('issuer-name').textContent = HOME.slice(1, -'/_ccflow'.length);
  byId('issuer-here').hidden = false;
}

const context = {
  /** Runs a user action; its error shows in the alert line, success clears it. */
  async act(action) {
    try {
      const result = await action();
      alertLine.hidden = true;
      alertLine.textContent = '';
      return result;
    } catch (error) {
      showError(error);
      return undefined;
    }
  },
  showError,
  /** The server clock now (Unix seconds), extrapolated from the last reading. */
  serverNow() {
    if (clock.now === null) return Date.now() / 1000;
    if (clock.frozen) return clock.now;
    return clock.now + (performance.now() - clock.readAt) / 1000;
  },
  refreshClock,
  clock,
  /** The issuers to choose among, or null (see findIssuers). */
  issuers,
};

function showError(error) {
  alertLine.textContent = error instanceof Error ? error.message : String(error);
  alertLine.hidden = false;
}

async function refreshClock() {
  try {
    const state = await api('GET', '/clock');
    clock.now = state.now;
    clock.frozen = state.frozen;
    clock.offset = state.offset_secs;
    clock.readAt = performance.now();
    clockOutput.textContent = formatTime(state.now) + (state.frozen ? ' (frozen)' : '') +
      (state.offset_secs ? ` (offset ${state.offset_secs} s)` : '');
  } catch (error) {
    // A server on a clock its embedding test injected has no clock to read (409).
    clockOutput.textContent = error.status === 409 ? 'injected by the test' : 'unknown';
  }
}

const pages = {
  journal: journalPage(context),
  tokens: tokensPage(context),
  clients: clientsPage(context),
  keys: keysPage(context),
  faults: faultsPage(context),
};

let current = null;

function route() {
  const wanted = location.hash.slice(1);
  const name = Object.hasOwn(pages, wanted) ? wanted : 'journal';
  for (const section of document.querySelectorAll('[data-page]')) {
    section.hidden = section.dataset.page !== name;
  }
  for (const link of document.querySelectorAll('[data-nav]')) {
    if (link.dataset.nav === name) link.setAttribute('aria-current', 'page');
    else link.removeAttribute('aria-current');
  }
  document.title = `${byId(`${name}-title`).textContent} · ccflow console`;
  if (current !== name) {
    current = name;
    pages[name].show();
  }
}

async function tick() {
  await refreshClock();
  const page = pages[current];
  if (page && page.tick) {
    try {
      await page.tick();
    } catch (error) {
      showError(error);
    }
  }
  setTimeout(tick, REFRESH_MS);
}

if (issuers) {
  byId('issuer-picker').addEventListener('change', (event) => {
    const picked = issuers.find((issuer) => issuer.name === event.target.value);
    if (!picked) return;
    useAdmin(picked.admin);
    const address = new URL(location.href);
    address.searchParams.set('issuer', picked.name);
    history.replaceState(null, '', address);
    clock.now = null;
    clockOutput.textContent = '…';
    refreshClock();
    if (current) pages[current].show();
  });
}

window.addEventListener('hashchange', () => {
  route();
  byId('main').focus();
});
route();
tick();
