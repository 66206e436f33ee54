"""An OIDC issuer for tests: real RSA keys published as a JWKS by a real local HTTP server,
and tokens signed with them, as Clerk's session tokens are."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa

ISSUER = "https://clerk.example.test"
PARTY = "https://app.example.test"


def new_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


class Jwks:
    """The issuer's published keys, changeable while the server runs (rotation)."""

    def __init__(self) -> None:
        self.keys: dict[str, rsa.RSAPrivateKey] = {"k1": new_key()}
        self.fetches = 0

    def document(self) -> dict[str, Any]:
        entries = []
        for kid, key in self.keys.items():
            jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key()))
            entries.append(jwk | {"kid": kid, "alg": "RS256", "use": "sig"})
        return {"keys": entries}

    def token(self, kid: str = "k1", **changes: Any) -> str:
        """A valid session token of `user_2abc`, with `changes` to its claims."""
        return issuer_token(self.keys[kid], kid, **changes)


def issuer_token(key: Any, kid: str = "k1", algorithm: str = "RS256", **changes: Any) -> str:
    now = int(time.time())
    claims = {
        "iss": ISSUER,
        "sub": "user_2abc",
        "iat": now,
        "nbf": now,
        "exp": now + 300,
        "azp": PARTY,
        "email": "ada@example.test",
    } | changes
    return jwt.encode(claims, key, algorithm=algorithm, headers={"kid": kid})


@contextmanager
def published() -> Iterator[tuple[Jwks, str]]:
    """The keys, and the URL they are served at."""
    keys = Jwks()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            keys.fetches += 1
            body = json.dumps(keys.document()).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            """Quiet: tests read fetch counts, not logs."""

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield keys, f"http://127.0.0.1:{server.server_address[1]}/.well-known/jwks.json"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
