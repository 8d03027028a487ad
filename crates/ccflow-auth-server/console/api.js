// The console's only way to the server: the /_ccflow admin API, same origin. The browser adds
// whatever authorized the page (a loopback peer needs nothing; with an admin token, the Basic
// credentials the browser prompted for).

export const ADMIN = '/_ccflow';

export class ApiError extends Error {
  constructor(status, body) {
    const description = body && (body.error_description || body.error);
    super(description ? `${status}: ${description}` : `the admin API answered ${status}`);
    this.status = status;
    this.body = body;
  }
}

/** Calls the admin API; answers the parsed JSON body (or null), throws ApiError otherwise. */
export async function api(method, path, body) {
  const init = { method, cache: 'no-store', credentials: 'same-origin', headers: {} };
  if (body !== undefined) {
    init.headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  const response = await fetch(ADMIN + path, init);
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
