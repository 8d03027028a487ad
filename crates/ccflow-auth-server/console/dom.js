// DOM helpers for the console. Everything that comes from the server (client ids, paths, error
// descriptions, claims) is untrusted: it only ever becomes text nodes or attribute values,
// never markup: no HTML string is ever parsed (a test in tests/console.rs greps every console
// file for the markup sinks).

const SVG_NS = 'http://www.w3.org/2000/svg';

function build(element, attributes, children) {
  for (const [name, value] of Object.entries(attributes || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (name.startsWith('on') && typeof value === 'function') {
      element.addEventListener(name.slice(2), value);
    } else if (name === 'text') {
      element.textContent = String(value);
    } else {
      element.setAttribute(name, value === true ? '' : String(value));
    }
  }
  for (const child of children.flat()) {
    if (child === undefined || child === null || child === false) continue;
    element.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return element;
}

/** An HTML element; string children become text nodes. */
export function h(tag, attributes, ...children) {
  return build(document.createElement(tag), attributes, children);
}

/** An SVG element. */
export function svg(tag, attributes, ...children) {
  return build(document.createElementNS(SVG_NS, tag), attributes, children);
}

export function byId(id) {
  const element = document.getElementById(id);
  if (!element) throw new Error(`no element #${id}`);
  return element;
}

/** Replaces a table body's rows; an empty list shows `empty` in one row. */
export function fillTable(tbody, rows, empty) {
  if (rows.length === 0) {
    const columns = tbody.closest('table').querySelectorAll('thead th').length;
    tbody.replaceChildren(h('tr', { class: 'empty' }, h('td', { colspan: columns }, empty)));
  } else {
    tbody.replaceChildren(...rows);
  }
}

/** Fills a <dl> with [term, description] pairs (descriptions: text or nodes). */
export function fillFacts(dl, pairs) {
  dl.replaceChildren(...pairs.flatMap(([term, description]) => [h('dt', {}, term), h('dd', {}, description)]));
}

/** Unix seconds (server clock) as `YYYY-MM-DD HH:MM:SS` UTC, with milliseconds when asked. */
export function formatTime(seconds, withMillis = false) {
  if (typeof seconds !== 'number' || !Number.isFinite(seconds)) return '—';
  const iso = new Date(seconds * 1000).toISOString();
  return iso.slice(0, 10) + ' ' + iso.slice(11, withMillis ? 23 : 19) + ' UTC';
}

/** A duration in seconds as `1 h 2 min 3 s`. */
export function formatDuration(seconds) {
  let rest = Math.abs(Math.round(seconds));
  const parts = [];
  for (const [unit, size] of [['d', 86400], ['h', 3600], ['min', 60]]) {
    if (rest >= size) {
      parts.push(`${Math.floor(rest / size)} ${unit}`);
      rest %= size;
    }
  }
  if (rest || parts.length === 0) parts.push(`${rest} s`);
  return parts.join(' ');
}

/** The outcome class of an HTTP status: ok, refused or failed (0: the connection dropped). */
export function outcome(status) {
  if (status >= 500 || status < 100) return 'failed';
  if (status >= 400) return 'refused';
  return 'ok';
}

/**
 * Calls `render` only when `data` differs from the last call's: the one-second refresh then
 * leaves rows, and the keyboard focus on their buttons, alone while nothing changed.
 */
export function changeGate() {
  let last = null;
  return (data, render) => {
    const snapshot = JSON.stringify(data);
    if (snapshot === last) return;
    last = snapshot;
    render();
  };
}
