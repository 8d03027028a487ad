// A resource server nobody at ccflow wrote: jose's documented recipe (createRemoteJWKSet for the
// issuer's keys, jwtVerify with the issuer, audience and algorithm pinned) on Node's own HTTP
// server. `ccflow-auth-server probe api` is pointed at it by `cargo xtask e2e` (flow
// `probe-jose`) to show what the probe reports for a library it does not know.
//
// Flags: --issuer (the issuer it trusts), --audience, --scope (what GET /items requires),
// --jwks-cache-secs (createRemoteJWKSet's cacheMaxAge). It listens on 127.0.0.1, a free port,
// and prints `probe-node listening on http://ADDR` first.

import http from "node:http";
import { parseArgs } from "node:util";
import { createRemoteJWKSet, jwtVerify } from "jose";

const { values: flags } = parseArgs({
  options: {
    issuer: { type: "string" },
    audience: { type: "string" },
    scope: { type: "string" },
    "jwks-cache-secs": { type: "string", default: "600" },
  },
});
for (const name of ["issuer", "audience", "scope"]) {
  if (!flags[name]) {
    console.error(`--${name} is required`);
    process.exit(2);
  }
}

// The issuer's jwks_uri from its RFC 8414 metadata.
const metadata = await fetch(
  flags.issuer.replace(/\/$/, "") + "/.well-known/oauth-authorization-server",
).then((response) => response.json());

// jose's defaults but for the cache's age: the set is fetched again when older than
// cacheMaxAge, or when a token names a kid it lacks (at most once per cooldownDuration, 30 s).
const JWKS = createRemoteJWKSet(new URL(metadata.jwks_uri), {
  cacheMaxAge: Number(flags["jwks-cache-secs"]) * 1000,
});

function challenge(response, status, params = "") {
  const value = 'Bearer realm="jose"' + (params ? ", " + params : "");
  response.writeHead(status, { "WWW-Authenticate": value, "Content-Length": "0" });
  response.end();
}

const server = http.createServer(async (request, response) => {
  if (request.url !== "/items") {
    response.writeHead(404, { "Content-Length": "0" });
    return response.end();
  }
  const authorization = request.headers.authorization;
  if (authorization === undefined) return challenge(response, 401);
  const space = authorization.indexOf(" ");
  const scheme = space < 0 ? authorization : authorization.slice(0, space);
  const token = space < 0 ? "" : authorization.slice(space + 1).trim();
  if (scheme.toLowerCase() !== "bearer") return challenge(response, 401);
  if (!token || token.includes(" ")) {
    return challenge(response, 400, 'error="invalid_request"');
  }
  let payload;
  try {
    ({ payload } = await jwtVerify(token, JWKS, {
      issuer: flags.issuer,
      audience: flags.audience,
      algorithms: ["RS256"],
      requiredClaims: ["exp"],
    }));
  } catch {
    return challenge(response, 401, 'error="invalid_token"');
  }
  const scopes = String(payload.scope ?? "").split(" ");
  if (!scopes.includes(flags.scope)) {
    return challenge(response, 403, `error="insufficient_scope", scope="${flags.scope}"`);
  }
  const body = JSON.stringify({ items: [], client_id: payload.client_id ?? null });
  response.writeHead(200, { "Content-Type": "application/json" });
  response.end(body);
});

server.listen(0, "127.0.0.1", () => {
  const { address, port } = server.address();
  console.log(`probe-node listening on http://${address}:${port}`);
});
