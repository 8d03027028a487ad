// The Faults and time page: fault scenarios (GET/POST/DELETE /_ccflow/scenarios) with what is
// left of them, added from presets; the server's virtual clock (GET/POST /_ccflow/clock).

import { api } from './api.js';
import { byId, changeGate, h, fillFacts, fillTable, formatDuration, formatTime } from './dom.js';

/** The presets offered, as the admin API's `fault` objects. */
const PRESETS = [
  ['503 Service Unavailable with Retry-After: 5', { kind: 'status', status: 503, retry_after_secs: 5 }],
  ['429 Too Many Requests with Retry-After: 2', { kind: 'status', status: 429, retry_after_secs: 2 }],
  ['500 Internal Server Error', { kind: 'status', status: 500 }],
  ['invalid_client (401)', { kind: 'oauth_error', error: 'invalid_client', description: 'injected by the console' }],
  ['invalid_scope (400)', { kind: 'oauth_error', error: 'invalid_scope', description: 'injected by the console' }],
  ['slow: answer after 2 s', { kind: 'delay', millis: 2000 }],
  ['slow: answer after 10 s', { kind: 'delay', millis: 10000 }],
  ['dropped connection', { kind: 'drop_connection' }],
  ['truncated JSON', { kind: 'truncated_json' }],
  ['malformed JSON', { kind: 'malformed_json' }],
  ['502 HTML page from a proxy', { kind: 'html_error_page' }],
  ['token signed by an unknown key', { kind: 'unknown_key' }],
  ['expires_in: 0', { kind: 'expires_in', seconds: 0 }],
];

export function faultsPage(context) {
  const tbody = byId('faults-table').querySelector('tbody');
  const preset = byId('fault-preset');
  const gate = changeGate();
  preset.replaceChildren(...PRESETS.map(([label], index) => h('option', { value: index }, label)));

  function describeFault(fault) {
    const { kind, ...rest } = fault;
    const details = Object.entries(rest).map(([name, value]) => `${name}=${value}`).join(', ');
    return details ? `${kind} (${details})` : kind;
  }

  function describeWhen(when) {
    if (when === 'always' || when === undefined) return 'every request';
    const [[name, value]] = Object.entries(when);
    if (name === 'first') return value === 1 ? 'the next one' : `the next ${value}`;
    if (name === 'nth') return `the ${value}th`;
    if (name === 'every') return `every ${value}th`;
    if (name === 'probability') return `with probability ${value.p}`;
    return JSON.stringify(when);
  }

  /** What is left: requests for `first`/`nth`, the time to a window's start or end on the
   *  server clock (`now`), otherwise unbounded. */
  function remaining(item, now) {
    if (typeof now === 'number' && typeof item.starts_at === 'number' && now < item.starts_at) {
      return `starts in ${formatDuration(item.starts_at - now)}`;
    }
    if (typeof now === 'number' && typeof item.ends_at === 'number') {
      if (now >= item.ends_at) return 'window closed';
      return `${formatDuration(item.ends_at - now)} left`;
    }
    const when = item.scenario.when;
    if (when && typeof when === 'object' && 'first' in when) {
      const left = Math.max(0, when.first - item.hits);
      return left === 1 ? '1 request' : `${left} requests`;
    }
    if (when && typeof when === 'object' && 'nth' in when) return item.seen >= when.nth ? 'done' : `after ${when.nth - item.seen} more`;
    return 'until cleared';
  }

  function describeWindow(scenario) {
    const parts = [];
    if (scenario.after_secs) parts.push(`from ${formatDuration(scenario.after_secs)} after install`);
    if (scenario.for_secs) parts.push(`for ${formatDuration(scenario.for_secs)}`);
    return parts.join(', ') || 'always';
  }

  async function refresh() {
    const [{ scenarios }, clock] = await Promise.all([api('GET', '/scenarios'), api('GET', '/clock').catch((error) => ({ error }))]);
    const now = clock && !clock.error ? Math.floor(clock.now) : undefined;
    // The clock only matters to a table with windows: without one, a ticking clock redraws nothing.
    const windowed = scenarios.some((item) => 'starts_at' in item || 'ends_at' in item);
    gate({ scenarios, now: windowed ? now : null }, () => render(scenarios, now));
    renderClock(clock);
  }

  function render(scenarios, now) {
    const rows = scenarios.map((item) => h('tr', { 'data-scenario': item.id },
      h('td', { class: 'num' }, String(item.id)),
      h('td', {}, item.scenario.endpoint),
      h('td', { class: 'mono' }, item.scenario.client_id ?? 'any'),
      h('td', {}, describeFault(item.scenario.fault)),
      h('td', {}, describeWhen(item.scenario.when)),
      h('td', {}, describeWindow(item.scenario)),
      h('td', { class: 'num' }, `${item.hits} / ${item.seen}`),
      h('td', {}, remaining(item, now)),
      h('td', {}, h('button', {
        type: 'button',
        class: 'secondary',
        'aria-label': `Remove scenario ${item.id}`,
        onclick: () => context.act(async () => {
          await api('DELETE', `/scenarios/${item.id}`);
          await refresh();
        }),
      }, 'Remove'))));
    fillTable(tbody, rows, 'No fault scenario: every request is answered normally.');
  }

  function renderClock(clock) {
    if (clock.error) {
      fillFacts(byId('clock-facts'), [['Clock', clock.error.message]]);
    } else {
      fillFacts(byId('clock-facts'), [
        ['Now', formatTime(clock.now)],
        ['Frozen', clock.frozen ? 'yes' : 'no'],
        ['Offset from real time', clock.offset_secs ? formatDuration(clock.offset_secs) + (clock.offset_secs < 0 ? ' behind' : ' ahead') : 'none'],
      ]);
    }
  }

  byId('fault-form').addEventListener('submit', (event) => {
    event.preventDefault();
    context.act(async () => {
      const [, fault] = PRESETS[Number(preset.value)];
      const scenario = { endpoint: byId('fault-endpoint').value, fault };
      const client = byId('fault-client').value.trim();
      if (client) scenario.client_id = client;
      const count = byId('fault-count').value;
      if (count) scenario.when = { first: Number(count) };
      await api('POST', '/scenarios', scenario);
      await refresh();
    });
  });

  byId('faults-clear').addEventListener('click', () => context.act(async () => {
    await api('DELETE', '/scenarios');
    await refresh();
  }));

  async function clockCommand(command) {
    await api('POST', '/clock', command);
    await context.refreshClock();
    await refresh();
  }
  byId('clock-form').addEventListener('submit', (event) => {
    event.preventDefault();
    context.act(() => clockCommand({ advance_secs: Number(byId('clock-advance').value) }));
  });
  byId('clock-freeze').addEventListener('click', () => context.act(() => clockCommand({ freeze: true })));
  byId('clock-resume').addEventListener('click', () => context.act(() => clockCommand({ resume: true })));
  byId('clock-reset').addEventListener('click', () => context.act(() => clockCommand({ reset: true })));

  return { show: () => context.act(refresh), tick: refresh };
}
