// The Journal page: every request to the OAuth endpoints (GET /_ccflow/requests), newest first,
// with filters and a requests-per-second chart. Client ids, paths and errors are untrusted and
// are shown as text. At the root of a process with several issuers it reads the root's journal
// of every issuer (GET /_ccflow/requests[?issuer=NAME]), with an issuer column and filter.

import { api, apiAt, HOME } from './api.js';
import { byId, h, fillTable, formatTime, outcome } from './dom.js';
import { renderChart } from './chart.js';

const WINDOW_SECS = 120;
const MAX_ROWS = 200;

export function journalPage(context) {
  const tbody = byId('journal-table').querySelector('tbody');
  const chart = byId('journal-chart');
  const count = byId('journal-count');
  const filters = {
    client: byId('filter-client'),
    endpoint: byId('filter-endpoint'),
    status: byId('filter-status'),
  };
  const pause = byId('journal-pause');
  byId('chart-window').textContent = String(WINDOW_SECS);
  let entries = [];
  /** Each refresh's number: an answer older than the last one shown is dropped. */
  let asked = 0;
  let shownAnswer = 0;

  const issuers = context.issuers;
  const issuerFilter = byId('filter-issuer');
  if (issuers) {
    issuerFilter.append(...issuers.map((issuer) => h('option', { value: issuer.name }, issuer.name)));
    byId('filter-issuer-label').hidden = false;
    byId('journal-table').querySelector('thead tr').prepend(h('th', { scope: 'col' }, 'Issuer'));
    issuerFilter.addEventListener('input', () => context.act(refresh));
  }

  function matches(entry) {
    const client = filters.client.value.trim();
    if (client && !(entry.client_id || '').includes(client)) return false;
    if (filters.endpoint.value && entry.endpoint !== filters.endpoint.value) return false;
    if (filters.status.value && String(entry.status)[0] !== filters.status.value) return false;
    return true;
  }

  function render() {
    const shown = entries.filter(matches);
    renderChart(chart, shown, context.serverNow(), WINDOW_SECS);
    const rows = shown.slice(-MAX_ROWS).reverse().map((entry) => {
      const kind = outcome(entry.status);
      return h('tr', { 'data-status': entry.status, 'data-client': entry.client_id || '', 'data-issuer': entry.issuer },
        issuers ? h('td', {}, entry.issuer) : null,
        h('td', { class: 'time' }, formatTime(entry.received_at, true)),
        h('td', {}, entry.endpoint),
        h('td', { class: 'mono' }, `${entry.method} ${entry.path}`),
        h('td', { class: 'mono' }, entry.client_id ?? '—'),
        h('td', {}, entry.auth_method ?? '—'),
        h('td', { class: `status ${kind}` }, entry.status === 0 ? 'dropped' : String(entry.status)),
        h('td', {}, entry.error ?? ''),
        h('td', { class: 'num' }, `${(entry.latency_us / 1000).toFixed(1)} ms`));
    });
    fillTable(tbody, rows, entries.length ? 'No request matches the filters.' : 'No request yet.');
    count.textContent = `${shown.length} of ${entries.length} requests` +
      (shown.length > MAX_ROWS ? ` (the newest ${MAX_ROWS} listed)` : '');
  }

  async function refresh() {
    asked += 1;
    const answer = asked;
    const body = issuers
      ? await apiAt(HOME, 'GET', issuerFilter.value ? `/requests?issuer=${encodeURIComponent(issuerFilter.value)}` : '/requests')
      : await api('GET', '/requests');
    if (answer < shownAnswer) return;
    shownAnswer = answer;
    entries = body.requests;
    render();
  }

  /** Clears the journal shown: one issuer's, or with several issuers and none chosen, each one's. */
  async function clear() {
    if (!issuers) {
      await api('DELETE', '/requests');
      return;
    }
    const chosen = issuers.filter((issuer) => !issuerFilter.value || issuer.name === issuerFilter.value);
    for (const issuer of chosen) await apiAt(issuer.admin, 'DELETE', '/requests');
  }

  for (const input of Object.values(filters)) input.addEventListener('input', render);
  byId('journal-filters').addEventListener('submit', (event) => event.preventDefault());
  byId('journal-clear').addEventListener('click', () => context.act(async () => {
    await clear();
    await refresh();
  }));

  return {
    show: () => context.act(refresh),
    tick: () => (pause.checked ? undefined : refresh()),
  };
}
