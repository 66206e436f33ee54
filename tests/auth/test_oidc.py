"""Issuer tokens verified against a JWKS served by a real local HTTP server, with real RSA
keys: valid tokens pass; expired, wrong issuer, wrong key, alg=none, HMAC-with-the-public-
key and unauthorized parties are refused; a rotated key is picked up."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
import time
from collections.abc import AsyncIterator, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from advisor_chat.auth.oidc import OidcVerifier
from advisor_chat.auth.tokens import LocalTokens
from advisor_chat.auth.verifier import TokenVerifier
from advisor_chat.errors import Code, FunctionError
from advisor_chat.functions.context import Identity

ISSUER = "https://clerk.example.test"


def _key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


class Jwks:
    """The issuer's published keys, changeable while the server runs (rotation)."""

    def __init__(self) -> None:
        self.keys: dict[str, rsa.RSAPrivateKey] = {"k1": _key()}
        self.fetches = 0

    def document(self) -> dict[str, Any]:
        entries = []
        for kid, key in self.keys.items():
            jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key()))
            entries.append(jwk | {"kid": kid, "alg": "RS256", "use": "sig"})
        return {"keys": entries}


@pytest.fixture
def jwks() -> Iterator[tuple[Jwks, str]]:
    published = Jwks()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            published.fetches += 1
            body = json.dumps(published.document()).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            """Quiet: the test reads fetch counts, not logs."""

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield published, f"http://127.0.0.1:{server.server_address[1]}/.well-known/jwks.json"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


@pytest.fixture
async def verifier(jwks: tuple[Jwks, str]) -> AsyncIterator[OidcVerifier]:
    async with httpx.AsyncClient() as http:
        yield OidcVerifier(ISSUER, jwks[1], http, authorized_parties=("https://app.example.test",))


def _token(key: Any, kid: str = "k1", algorithm: str = "RS256", **changes: Any) -> str:
    now = int(time.time())
    claims = {
        "iss": ISSUER,
        "sub": "user_2abc",
        "iat": now,
        "nbf": now,
        "exp": now + 300,
        "azp": "https://app.example.test",
        "email": "ada@example.test",
    } | changes
    return jwt.encode(claims, key, algorithm=algorithm, headers={"kid": kid})


async def test_a_valid_issuer_token_gives_its_identity(
    verifier: OidcVerifier, jwks: tuple[Jwks, str]
) -> None:
    identity = await verifier.verify(_token(jwks[0].keys["k1"]))
    assert (identity.subject, identity.issuer, identity.email) == (
        "user_2abc",
        ISSUER,
        "ada@example.test",
    )


def _refusals(published: Jwks) -> dict[str, str]:
    key = published.keys["k1"]
    public_pem = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    now = int(time.time())
    return {
        "expired": _token(key, exp=now - 3600, iat=now - 7200, nbf=now - 7200),
        "not yet valid": _token(key, nbf=now + 3600),
        "wrong issuer": _token(key, iss="https://evil.example.test"),
        "wrong key": _token(_key()),
        "unknown kid": _token(key, kid="k9"),
        "alg none": jwt.encode({"iss": ISSUER, "sub": "x", "exp": now + 60}, "", algorithm="none"),
        "hmac with the public key": _hmac_with(public_pem, now),
        "unauthorized party": _token(key, azp="https://evil.example.test"),
        "garbage": "a.b.c",
    }


def _hmac_with(secret: bytes, now: int) -> str:
    """An attacker's token: HS256 keyed with the issuer's public key (algorithm confusion).
    PyJWT refuses to build it with a PEM key, so sign it by hand."""

    def b64(raw: bytes) -> str:
        return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()

    header = b64(json.dumps({"alg": "HS256", "typ": "JWT", "kid": "k1"}).encode())
    payload = b64(json.dumps({"iss": ISSUER, "sub": "x", "exp": now + 60}).encode())
    signature = hmac.new(secret, f"{header}.{payload}".encode(), hashlib.sha256).digest()
    return f"{header}.{payload}.{b64(signature)}"


@pytest.mark.parametrize(
    "case",
    [
        "expired",
        "not yet valid",
        "wrong issuer",
        "wrong key",
        "unknown kid",
        "alg none",
        "hmac with the public key",
        "unauthorized party",
        "garbage",
    ],
)
async def test_bad_issuer_tokens_are_refused(
    verifier: OidcVerifier, jwks: tuple[Jwks, str], case: str
) -> None:
    with pytest.raises(FunctionError) as caught:
        await verifier.verify(_refusals(jwks[0])[case])
    assert caught.value.code is Code.UNAUTHENTICATED


async def test_a_rotated_key_is_fetched_once(
    verifier: OidcVerifier, jwks: tuple[Jwks, str]
) -> None:
    published, _ = jwks
    await verifier.verify(_token(published.keys["k1"]))
    assert published.fetches == 1
    await verifier.verify(_token(published.keys["k1"]))
    assert published.fetches == 1  # cached
    published.keys["k2"] = _key()
    verifier._fetched_at = -1e9  # the re-fetch window has passed
    identity = await verifier.verify(_token(published.keys["k2"], kid="k2"))
    assert identity.subject == "user_2abc"
    assert published.fetches == 2
    with pytest.raises(FunctionError):  # a flood of unknown ids does not re-fetch each time
        await verifier.verify(_token(published.keys["k2"], kid="k-unknown"))
    assert published.fetches == 2


async def test_the_verifier_routes_by_issuer(
    verifier: OidcVerifier, jwks: tuple[Jwks, str]
) -> None:
    local = LocalTokens(b"x" * 40)
    both = TokenVerifier(local, verifier)
    own = local.issue(Identity("local_1", "advisor-chat"))
    assert (await both.verify(own)).subject == "local_1"
    assert (await both.verify(_token(jwks[0].keys["k1"]))).issuer == ISSUER
    stranger = jwt.encode(
        {"iss": "https://other.test", "sub": "x", "exp": int(time.time()) + 60}, "k" * 40
    )
    with pytest.raises(FunctionError) as caught:
        await both.verify(stranger)
    assert "not trusted" in caught.value.message
    with pytest.raises(FunctionError):  # without an OIDC issuer configured, issuer tokens fail
        await TokenVerifier(local).verify(_token(jwks[0].keys["k1"]))
