"""Issuer tokens verified against a JWKS served by a real local HTTP server, with real RSA
keys: valid tokens pass; expired, wrong issuer, wrong key, alg=none, HMAC-with-the-public-
key and unauthorized parties are refused; a rotated key is picked up."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections.abc import AsyncIterator, Iterator

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization

from advisor_chat.auth.oidc import OidcVerifier
from advisor_chat.auth.tokens import LocalTokens
from advisor_chat.auth.verifier import TokenVerifier
from advisor_chat.errors import Code, FunctionError
from advisor_chat.functions.context import Identity
from tests.auth.issuer import ISSUER, Jwks, issuer_token, new_key, published


@pytest.fixture
def jwks() -> Iterator[tuple[Jwks, str]]:
    with published() as served:
        yield served


@pytest.fixture
async def verifier(jwks: tuple[Jwks, str]) -> AsyncIterator[OidcVerifier]:
    async with httpx.AsyncClient() as http:
        yield OidcVerifier(ISSUER, jwks[1], http, authorized_parties=("https://app.example.test",))


_token = issuer_token
_key = new_key


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
    own = local.issue(Identity("local_1", "advisor-chat"), "sign-in-1")
    assert (await both.verify(own)).sign_in == "sign-in-1"
    issued = await both.verify(_token(jwks[0].keys["k1"]))
    assert issued.issuer == ISSUER
    assert issued.issued_at is not None  # what a tombstone is compared with
    assert issued.sign_in is None  # an issuer's sessions end at the issuer
    stranger = jwt.encode(
        {"iss": "https://other.test", "sub": "x", "exp": int(time.time()) + 60}, "k" * 40
    )
    with pytest.raises(FunctionError) as caught:
        await both.verify(stranger)
    assert "not trusted" in caught.value.message
    with pytest.raises(FunctionError):  # without an OIDC issuer configured, issuer tokens fail
        await TokenVerifier(local).verify(_token(jwks[0].keys["k1"]))
