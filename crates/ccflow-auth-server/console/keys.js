// The Keys page: the key ring with each key's state (GET /_ccflow/keys), rotate, stage a new
// key, activate a staged one, retire a staged one.

import { api } from './api.js';
import { byId, changeGate, h, fillTable, formatTime } from './dom.js';

export function keysPage(context) {
  const tbody = byId('keys-table').querySelector('tbody');
  const gate = changeGate();

  function action(label, kid, path) {
    return h('button', {
      type: 'button',
      class: 'secondary',
      'aria-label': `${label} key ${kid}`,
      onclick: () => context.act(async () => {
        await api('POST', path);
        await refresh();
      }),
    }, label);
  }

  async function refresh() {
    const { keys } = await api('GET', '/keys');
    gate(keys, () => render(keys));
  }

  function render(keys) {
    // The active key first, then staged, then retired, each in ring order.
    const order = { active: 0, staged: 1, retired: 2 };
    const sorted = [...keys].sort((a, b) => (order[a.state] ?? 3) - (order[b.state] ?? 3));
    const rows = sorted.map((key) => {
      const path = `/keys/${encodeURIComponent(key.kid)}`;
      const actions = key.state === 'staged'
        ? [action('Activate', key.kid, `${path}/activate`), ' ', action('Retire', key.kid, `${path}/retire`)]
        : [];
      return h('tr', { 'data-kid': key.kid, 'data-state': key.state },
        h('td', { class: 'mono' }, key.kid),
        h('td', {}, key.alg),
        h('td', {}, h('span', { class: `badge ${key.state}` }, key.state)),
        h('td', { class: 'time' }, key.retire_at ? formatTime(key.retire_at) : '—'),
        h('td', {}, ...actions));
    });
    fillTable(tbody, rows, 'No key.');
  }

  for (const [id, path] of [['keys-rotate', '/keys/rotate'], ['keys-stage', '/keys/stage']]) {
    const button = byId(id);
    button.addEventListener('click', () => context.act(async () => {
      button.disabled = true;
      try {
        await api('POST', path);
      } finally {
        button.disabled = false;
      }
      await refresh();
    }));
  }

  return { show: () => context.act(refresh), tick: refresh };
}
