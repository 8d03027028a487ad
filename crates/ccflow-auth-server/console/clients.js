// The Clients page: registered clients (GET /_ccflow/clients, never a secret), add
// (POST /_ccflow/clients; the secret is write-only: sent once, the field cleared), remove
// (DELETE /_ccflow/clients/{id}), and failed-authentication throttling (/_ccflow/throttle).
// Client ids are untrusted and shown as text.

import { api } from './api.js';
import { byId, changeGate, h, fillFacts, fillTable, formatDuration } from './dom.js';

export function clientsPage(context) {
  const tbody = byId('clients-table').querySelector('tbody');
  const words = (id) => byId(id).value.split(/\s+/).filter(Boolean);
  const gate = changeGate();

  async function refresh() {
    const [{ clients }, throttle] = await Promise.all([api('GET', '/clients'), api('GET', '/throttle')]);
    gate([clients, throttle], () => render(clients, throttle));
  }

  function render(clients, throttle) {
    const rows = clients.map((client) => h('tr', { 'data-client': client.client_id },
      h('td', { class: 'mono' }, client.client_id),
      h('td', {}, client.auth_methods.join(', ')),
      h('td', {}, client.scopes.join(' ') || '—'),
      h('td', {}, client.audiences.join(' ') || '—'),
      h('td', {}, client.token_ttl_secs ? formatDuration(client.token_ttl_secs) : 'server default'),
      h('td', { class: 'num' }, String(client.n_public_keys)),
      h('td', {}, h('button', {
        type: 'button',
        class: 'secondary',
        'aria-label': `Remove client ${client.client_id}`,
        onclick: () => context.act(async () => {
          await api('DELETE', `/clients/${encodeURIComponent(client.client_id)}`);
          await refresh();
        }),
      }, 'Remove'))));
    fillTable(tbody, rows, 'No client is registered.');
    const facts = [['State', throttle.enabled ? 'on' : 'off (start the server with --throttle)']];
    if (throttle.enabled) {
      const settings = throttle.settings;
      facts.push(
        ['Limits', `${settings.max_failures_per_client} failures per client, ${settings.max_failures_per_ip} per address, within ${formatDuration(settings.window_secs)}`],
        ['Counting', `${throttle.tracked_client_ids} client ids, ${throttle.tracked_addresses} addresses`],
      );
    }
    fillFacts(byId('throttle-facts'), facts);
    byId('throttle-clear').disabled = !throttle.enabled;
  }

  byId('client-form').addEventListener('submit', (event) => {
    event.preventDefault();
    context.act(async () => {
      const registration = {
        client_id: byId('client-id').value,
        scopes: words('client-scopes'),
        audiences: words('client-audiences'),
      };
      const secret = byId('client-secret').value;
      if (secret) registration.client_secret = secret;
      const method = byId('client-method').value;
      if (method) registration.auth_methods = [method];
      const ttl = byId('client-ttl').value;
      if (ttl) registration.token_ttl_secs = Number(ttl);
      try {
        await api('POST', '/clients', registration);
      } finally {
        // Write-only: the secret does not stay in the page, whatever the answer.
        byId('client-secret').value = '';
      }
      byId('client-form').reset();
      await refresh();
    });
  });

  byId('throttle-clear').addEventListener('click', () => context.act(async () => {
    await api('DELETE', '/throttle');
    await refresh();
  }));

  return { show: () => context.act(refresh), tick: refresh };
}
