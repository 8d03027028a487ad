"""ccflow's auth server image under Testcontainers for Python: start it, get a token with a
plain HTTP client, check what the token says. Run: python -m unittest -v test_ccflow.py

Nothing here is ccflow-specific tooling: a generic container, a POST, a JWT decoded by hand.
"""

import base64
import json
import os
import unittest

import requests
from testcontainers.core.container import DockerContainer
from testcontainers.core.waiting_utils import wait_for_logs

IMAGE = os.environ.get("CCFLOW_IMAGE", "ccflow-auth-server:latest")
# A fixed public issuer: the `iss` of every token, whatever port Docker maps.
ISSUER = "http://ccflow.test"


def claims(token):
    """The JWT's payload, decoded without verification (the resource server verifies)."""
    payload = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


class CcflowTokenTest(unittest.TestCase):
    def test_the_demo_client_gets_a_token_and_a_wrong_secret_does_not(self):
        container = (
            DockerContainer(IMAGE)
            .with_exposed_ports(8080)
            .with_env("CCFLOW_ISSUER", ISSUER)
        )
        with container as auth:
            # The binary's first stdout line, once it accepts connections.
            wait_for_logs(auth, "listening on", timeout=30)
            base = f"http://{auth.get_container_host_ip()}:{auth.get_exposed_port(8080)}"

            answer = requests.post(
                f"{base}/oauth2/token",
                auth=("demo-client", "demo-secret"),
                data={"grant_type": "client_credentials", "scope": "items:read"},
                timeout=10,
            )
            self.assertEqual(answer.status_code, 200, answer.text)
            body = answer.json()
            self.assertEqual(body["token_type"], "Bearer")
            token = claims(body["access_token"])
            self.assertEqual(token["iss"], ISSUER)
            self.assertEqual(token["client_id"], "demo-client")
            self.assertEqual(token["aud"], "demo-api")
            self.assertEqual(token["scope"], "items:read")

            refused = requests.post(
                f"{base}/oauth2/token",
                auth=("demo-client", "wrong-secret"),
                data={"grant_type": "client_credentials"},
                timeout=10,
            )
            self.assertEqual(refused.status_code, 401)
            self.assertEqual(refused.json()["error"], "invalid_client")

            ready = requests.get(f"{base}/_ccflow/health/ready", timeout=10)
            self.assertEqual(ready.status_code, 200)


if __name__ == "__main__":
    unittest.main()
