// The Tokens page: paste or pick a token and the server takes it apart
// (POST /_ccflow/tokens/inspect): header, claims, signature against the key ring as it is now,
// time to expiry by the server clock, binding. Tokens are minted with POST /_ccflow/mint (the
// bad-token factory; its default is a good token from the active key). Claims are untrusted
// and shown as text.

import { api } from './api.js';
import { byId, h, formatDuration, formatTime } from './dom.js';

export function tokensPage(context) {
  const input = byId('token-input');
  const pick = byId('token-pick');
  const result = byId('token-result');
  const minted = [];
  let inspected = null;

  function verdict(good, text) {
    return h('span', { class: good ? 'verdict-good' : 'verdict-bad' }, text);
  }

  function show(body) {
    const signature = body.signature;
    byId('token-signature').replaceChildren(
      verdict(signature.verified, signature.verified ? 'verified' : 'not verified'),
      ` — ${signature.detail}`,
      signature.kid ? h('div', { class: 'mono' }, `kid ${signature.kid}`) : '',
    );
    let expiry;
    if (body.expires_in === null) {
      expiry = verdict(false, 'no numeric exp claim');
    } else if (body.expires_in > 0) {
      expiry = verdict(true, `expires in ${formatDuration(body.expires_in)}`);
    } else {
      expiry = verdict(false, `expired ${formatDuration(body.expires_in)} ago`);
    }
    byId('token-expiry').replaceChildren(expiry, ` (server clock ${formatTime(body.now)})`);
    byId('token-active').replaceChildren(body.active
      ? verdict(true, 'active')
      : verdict(false, 'inactive (not verified, expired, not yet valid, revoked, or another issuer)'));
    byId('token-cnf').textContent = body.cnf ? JSON.stringify(body.cnf) : 'none (a bearer token)';
    byId('token-header').textContent = JSON.stringify(body.header, null, 2);
    byId('token-claims').textContent = JSON.stringify(annotated(body.claims), null, 2);
    result.hidden = false;
  }

  /** The claims, with the time claims' dates next to them. */
  function annotated(claims) {
    const copy = { ...claims };
    for (const name of ['exp', 'iat', 'nbf', 'auth_time']) {
      if (typeof claims[name] === 'number') copy[name] = `${claims[name]} (${formatTime(claims[name])})`;
    }
    return copy;
  }

  /** Asks the server about `token` and shows the answer, unless another token was chosen
   * meanwhile (a refresh still under way must not overwrite the newer choice). */
  async function inspect(token) {
    inspected = token;
    const body = await api('POST', '/tokens/inspect', { token });
    if (token === inspected) show(body);
  }

  byId('token-form').addEventListener('submit', (event) => {
    event.preventDefault();
    const token = input.value.trim();
    if (!token) {
      context.showError('Paste a token first.');
      return;
    }
    context.act(() => inspect(token));
  });

  pick.addEventListener('change', () => {
    if (!pick.value) return;
    input.value = minted[Number(pick.value)].token;
    context.act(() => inspect(input.value));
  });

  byId('token-copy').addEventListener('click', () => context.act(async () => {
    input.select();
    if (navigator.clipboard && window.isSecureContext) {
      await navigator.clipboard.writeText(input.value);
    }
  }));

  async function loadClients() {
    const body = await api('GET', '/clients');
    byId('mint-clients').replaceChildren(...body.clients.map((client) => h('option', { value: client.client_id })));
  }

  byId('mint-form').addEventListener('submit', (event) => {
    event.preventDefault();
    context.act(async () => {
      const spec = {};
      const client = byId('mint-client').value.trim();
      if (client) spec.client_id = client;
      const kind = byId('mint-defect').value;
      if (kind === 'foreign_key') spec.key = 'foreign';
      else if (kind) spec.defect = kind;
      const { token } = await api('POST', '/mint', spec);
      minted.push({ token, label: `${client || 'ccflow-test-client'}, ${kind || 'good'}` });
      pick.append(h('option', { value: minted.length - 1 }, `${minted.length}. ${minted.at(-1).label}`));
      pick.value = String(minted.length - 1);
      input.value = token;
      await inspect(token);
    });
  });

  return {
    show: () => context.act(async () => {
      await loadClients();
      if (inspected) await inspect(inspected);
    }),
    // The expiry and the key's state follow the server: look again every second.
    tick: async () => {
      if (!inspected) return;
      const token = inspected;
      const body = await api('POST', '/tokens/inspect', { token });
      if (token === inspected) show(body);
    },
  };
}
