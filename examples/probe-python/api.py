"""A resource server nobody at ccflow wrote: PyJWT's documented recipe (PyJWKClient for the
issuer's keys, jwt.decode with the algorithm, audience and issuer pinned), on the standard
library's HTTP server. `ccflow-auth-server probe api` is pointed at it by `cargo xtask e2e`
(flow `probe-pyjwt`) to show what the probe reports for a library it does not know.

Flags: --issuer (the issuer it trusts), --audience, --scope (what GET /items requires),
--jwks-cache-secs (PyJWKClient's `lifespan`). It listens on 127.0.0.1, a free port, and prints
`probe-python listening on http://ADDR` first.
"""

import argparse
import json
import sys
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import jwt

FLAGS = argparse.ArgumentParser(description=__doc__.splitlines()[0])
FLAGS.add_argument("--issuer", required=True)
FLAGS.add_argument("--audience", required=True)
FLAGS.add_argument("--scope", required=True)
FLAGS.add_argument("--jwks-cache-secs", type=int, default=300)
ARGS = FLAGS.parse_args()
ISSUER = ARGS.issuer
AUDIENCE = ARGS.audience
SCOPE = ARGS.scope
LIFESPAN = ARGS.jwks_cache_secs


def jwks_uri():
    """The issuer's jwks_uri from its RFC 8414 metadata."""
    url = ISSUER.rstrip("/") + "/.well-known/oauth-authorization-server"
    with urllib.request.urlopen(url, timeout=5) as response:
        return json.load(response)["jwks_uri"]


# PyJWT's defaults but for the JWK Set's lifespan: the set is cached and fetched again when
# it is older than `lifespan`, or when a token names a kid it does not hold (a forced refetch,
# at most once per `cooldown_duration`, 30 s by default).
JWKS = jwt.PyJWKClient(jwks_uri(), lifespan=LIFESPAN, timeout=5)


class Handler(BaseHTTPRequestHandler):
    def challenge(self, status, params=""):
        value = 'Bearer realm="pyjwt"' + (", " + params if params else "")
        self.send_response(status)
        self.send_header("WWW-Authenticate", value)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def do_GET(self):
        if self.path != "/items":
            self.send_response(404)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        authorization = self.headers.get("Authorization")
        if authorization is None:
            return self.challenge(401)
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer":
            return self.challenge(401)
        token = token.strip()
        if not token or " " in token:
            return self.challenge(400, 'error="invalid_request"')
        try:
            key = JWKS.get_signing_key_from_jwt(token)
            claims = jwt.decode(
                token,
                key.key,
                algorithms=["RS256"],
                audience=AUDIENCE,
                issuer=ISSUER,
                options={"require": ["exp", "iss", "aud"]},
            )
        except jwt.PyJWTError:
            return self.challenge(401, 'error="invalid_token"')
        if SCOPE not in str(claims.get("scope", "")).split():
            return self.challenge(403, f'error="insufficient_scope", scope="{SCOPE}"')
        body = b'{"items":[]}'
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format, *args):
        sys.stderr.write("probe-python: " + (format % args) + "\n")


def main():
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    host, port = server.server_address
    print(f"probe-python listening on http://{host}:{port}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
