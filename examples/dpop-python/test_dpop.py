"""DPoP (RFC 9449) against ccflow with proofs built by jwcrypto, a JOSE library nobody in ccflow
wrote: the auth server binds the token to a jwcrypto key, and the sample API accepts it with a
jwcrypto proof and refuses what RFC 9449 says to refuse.

Run by `cargo xtask e2e` (flow `dpop-api`), which sets CCFLOW_TOKEN_URL, CCFLOW_API_URL,
CCFLOW_NONCE_API_URL (a second API that requires nonces), CCFLOW_CLIENT_ID,
CCFLOW_CLIENT_SECRET, CCFLOW_AUTH_NOW and CCFLOW_API_NOW (the servers' clocks, Unix seconds).
Only the standard library besides jwcrypto: urllib for HTTP.
"""

import base64
import hashlib
import json
import os
import unittest
import urllib.error
import urllib.parse
import urllib.request
import uuid

from jwcrypto import jwk, jws
from jwcrypto.common import json_encode

TOKEN_URL = os.environ["CCFLOW_TOKEN_URL"]
API_URL = os.environ["CCFLOW_API_URL"]
NONCE_API_URL = os.environ["CCFLOW_NONCE_API_URL"]
CLIENT_ID = os.environ["CCFLOW_CLIENT_ID"]
CLIENT_SECRET = os.environ["CCFLOW_CLIENT_SECRET"]
AUTH_NOW = int(os.environ["CCFLOW_AUTH_NOW"])
API_NOW = int(os.environ["CCFLOW_API_NOW"])


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def proof(key, alg, method, url, iat, nonce=None, access_token=None):
    """A DPoP proof (RFC 9449 section 4.2), built and signed by jwcrypto."""
    claims = {"jti": str(uuid.uuid4()), "htm": method, "htu": url, "iat": iat}
    if nonce is not None:
        claims["nonce"] = nonce
    if access_token is not None:
        claims["ath"] = b64url(hashlib.sha256(access_token.encode()).digest())
    signed = jws.JWS(json_encode(claims).encode())
    header = {"typ": "dpop+jwt", "alg": alg, "jwk": key.export_public(as_dict=True)}
    signed.add_signature(key, alg=alg, protected=json_encode(header))
    return signed.serialize(compact=True)


def call(method, url, headers, body=None):
    """(status, headers, JSON body) of one request; error statuses are answers too."""
    request = urllib.request.Request(url, data=body, headers=headers, method=method)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.headers, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as error:
        return error.code, error.headers, json.loads(error.read() or b"null")


def bound_token(key, alg):
    """A token bound to `key`, from the token endpoint, with a jwcrypto proof."""
    basic = base64.b64encode(
        f"{urllib.parse.quote(CLIENT_ID)}:{urllib.parse.quote(CLIENT_SECRET)}".encode()
    ).decode()
    status, _, body = call(
        "POST",
        TOKEN_URL,
        {
            "Authorization": f"Basic {basic}",
            "Content-Type": "application/x-www-form-urlencoded",
            "DPoP": proof(key, alg, "POST", TOKEN_URL, AUTH_NOW),
        },
        b"grant_type=client_credentials",
    )
    assert status == 200, body
    assert body["token_type"] == "DPoP", body
    return body["access_token"]


def api_get(base, path, token, proof_value=None, scheme="DPoP"):
    headers = {"Authorization": f"{scheme} {token}"}
    if proof_value is not None:
        headers["DPoP"] = proof_value
    return call("GET", base + path, headers)


def challenge_error(headers, scheme):
    for value in headers.get_all("WWW-Authenticate") or []:
        if value.startswith(scheme + " "):
            for part in value[len(scheme) + 1 :].split(", "):
                if part.startswith("error="):
                    return part[len("error=") :].strip('"')
            return "-"
    return None


KEYS = {
    "ES256": lambda: jwk.JWK.generate(kty="EC", crv="P-256"),
    "PS256": lambda: jwk.JWK.generate(kty="RSA", size=2048),
    "EdDSA": lambda: jwk.JWK.generate(kty="OKP", crv="Ed25519"),
}


class DpopWithJwcrypto(unittest.TestCase):
    def test_each_algorithm_binds_a_token_the_api_accepts(self):
        for alg, generate in KEYS.items():
            with self.subTest(alg=alg):
                key = generate()
                token = bound_token(key, alg)
                url = API_URL + "/v1/dpop/whoami"
                status, _, body = api_get(
                    API_URL, "/v1/dpop/whoami", token,
                    proof(key, alg, "GET", url, API_NOW, access_token=token),
                )
                self.assertEqual(status, 200, body)
                # RFC 7638 thumbprint, computed by jwcrypto: what cnf.jkt must be.
                self.assertEqual(body["jkt"], key.thumbprint())

    def test_a_replayed_proof_is_refused(self):
        key = KEYS["ES256"]()
        token = bound_token(key, "ES256")
        once = proof(key, "ES256", "GET", API_URL + "/v1/items", API_NOW, access_token=token)
        self.assertEqual(api_get(API_URL, "/v1/items", token, once)[0], 200)
        status, headers, body = api_get(API_URL, "/v1/items", token, once)
        self.assertEqual((status, body["error"]), (401, "invalid_dpop_proof"))
        self.assertEqual(challenge_error(headers, "DPoP"), "invalid_dpop_proof")

    def test_a_proof_by_another_key_is_refused(self):
        key, other = KEYS["ES256"](), KEYS["ES256"]()
        token = bound_token(key, "ES256")
        wrong = proof(other, "ES256", "GET", API_URL + "/v1/items", API_NOW, access_token=token)
        status, headers, body = api_get(API_URL, "/v1/items", token, wrong)
        self.assertEqual((status, body["error"]), (401, "invalid_token"))
        self.assertEqual(challenge_error(headers, "DPoP"), "invalid_token")

    def test_a_proof_for_another_url_is_refused(self):
        key = KEYS["ES256"]()
        token = bound_token(key, "ES256")
        wrong = proof(key, "ES256", "GET", API_URL + "/v1/whoami", API_NOW, access_token=token)
        status, _, body = api_get(API_URL, "/v1/items", token, wrong)
        self.assertEqual((status, body["error"]), (401, "invalid_dpop_proof"))

    def test_the_bound_token_as_bearer_is_refused(self):
        key = KEYS["ES256"]()
        token = bound_token(key, "ES256")
        status, headers, body = api_get(API_URL, "/v1/items", token, scheme="Bearer")
        self.assertEqual((status, body["error"]), (401, "invalid_token"))
        self.assertEqual(challenge_error(headers, "Bearer"), "invalid_token")

    def test_the_apis_nonce_is_asked_for_then_accepted(self):
        key = KEYS["ES256"]()
        token = bound_token(key, "ES256")
        url = NONCE_API_URL + "/v1/items"
        status, headers, body = api_get(
            NONCE_API_URL, "/v1/items", token,
            proof(key, "ES256", "GET", url, API_NOW, access_token=token),
        )
        self.assertEqual((status, body["error"]), (401, "use_dpop_nonce"))
        nonce = headers["DPoP-Nonce"]
        self.assertTrue(nonce)
        status, _, body = api_get(
            NONCE_API_URL, "/v1/items", token,
            proof(key, "ES256", "GET", url, API_NOW, nonce=nonce, access_token=token),
        )
        self.assertEqual(status, 200, body)


if __name__ == "__main__":
    unittest.main()
