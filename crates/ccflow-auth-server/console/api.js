// The console's only way to the server: the /_ccflow admin API, same origin. The browser adds
// whatever authorized the page (a loopback peer needs nothing; with an admin token, the Basic
// credentials the browser prompted for).
//
// Which admin API follows from where the console was served: its files are at
// {admin}/console/, so the admin API is their parent — '/_ccflow' for the console at the root,
// '/{name}/_ccflow' for the console of one of several issuers. The console at the root of a
// process with several issuers talks to one issuer's admin API at a time (the picker, app.js)
// and to the root's for the list of issuers and the journal of them all.

/** The admin API of the place the console was served from. */
export const HOME = new URL('..', import.meta.url).pathname.replace(/\/$/, '');

/** The admin API the pages talk to: HOME, or the picked issuer's. */
let current = HOME;

/** Points the pages at another issuer's admin API ('/{name}/_ccflow'). */
export function useAdmin(base) {
  current = base;
}

/** The admin API the pages talk to now. */
export function currentAdmin() {
  return current;
}

export class ApiError extends Error {
  constructor(status, body) {
    const description = body && (body.error_description || body.error);
    super(description ? `${status}: ${description}` : `the admin API answered ${status}`);
    this.status = status;
    this.body = body;
  }
}

/** Calls the admin API at `base`; answers the parsed JSON body (or null), throws ApiError otherwise. */
export async function apiAt(base, method, path, body) {
  const init = { method, cache: 'no-store', credentials: 'same-origin', headers: {} };
  if (body !== undefined) {
    init.headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  const response = await fetch(base + path, init);
  const text = await response.text();
  let parsed = null;
  if (text) {
    try {
      parsed = JSON.parse(text);
    } catch {
      parsed = null;
    }
  }
  if (!response.ok) throw new ApiError(response.status, parsed);
  return parsed;
}

/** Calls the admin API the pages talk to now. */
export function api(method, path, body) {
  return apiAt(current, method, path, body);
}
