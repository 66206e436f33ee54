"""The OIDC issuer's discovery document (`{issuer}/.well-known/openid-configuration`):
where its keys are, for verifying its tokens (auth/oidc.py), and its endpoints, for the web
app's sign-in (auth/oidc_signin.py). Fetched with the app's HTTP client and kept for
`DISCOVERY_TTL_S`; a failed fetch is not kept, so the next use tries again. A document that
names another issuer is refused: its keys and endpoints are not this issuer's."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import Any

import httpx

from advisor_chat.errors import Code, FunctionError

DISCOVERY_TTL_S = 3600.0  # an issuer moving its endpoints is picked up within the hour
TIMEOUT_S = 10.0  # any call to the issuer: discovery, token, revocation


def provider_error(message: str) -> FunctionError:
    return FunctionError(Code.PROVIDER_ERROR, message)


def said(exc: httpx.HTTPError) -> str:
    """An httpx error in words; some (a refused connection) carry no message."""
    return str(exc) or type(exc).__name__


@dataclass(frozen=True)
class Discovery:
    """What the product reads of the issuer's discovery document."""

    authorization_endpoint: str
    token_endpoint: str
    revocation_endpoint: str | None
    auth_methods: tuple[str, ...]  # token_endpoint_auth_methods_supported
    jwks_uri: str | None

    @classmethod
    def parse(cls, document: Any, issuer: str) -> Discovery:
        if type(document) is not dict:
            raise provider_error("the issuer's discovery document is not a JSON object")
        named = document.get("issuer")
        if type(named) is not str or named.rstrip("/") != issuer:
            raise provider_error(
                f"the issuer's discovery document names the issuer {named!r}, not {issuer!r}"
            )

        methods = document.get("token_endpoint_auth_methods_supported")
        revocation = document.get("revocation_endpoint")
        jwks = document.get("jwks_uri")
        return cls(
            authorization_endpoint=_endpoint(document, "authorization_endpoint"),
            token_endpoint=_endpoint(document, "token_endpoint"),
            revocation_endpoint=None
            if revocation is None
            else _endpoint(document, "revocation_endpoint"),
            auth_methods=tuple(m for m in methods if type(m) is str)
            if type(methods) is list
            else (),
            jwks_uri=None if jwks is None else _endpoint(document, "jwks_uri"),
        )


def _endpoint(document: dict[str, Any], name: str) -> str:
    value = document.get(name)
    if type(value) is not str or not value.startswith(("https://", "http://")):
        raise provider_error(f"the issuer's discovery document has no valid {name}")
    return value


class IssuerDiscovery:
    def __init__(self, issuer: str, http: httpx.AsyncClient) -> None:
        self.issuer = issuer
        self.http = http
        self._document: Discovery | None = None
        self._fetched_at = 0.0
        self._lock = asyncio.Lock()

    async def document(self) -> Discovery:
        """The issuer's document, fetched once per `DISCOVERY_TTL_S`; only a success is
        kept. One fetch at a time: concurrent callers wait for it."""
        async with self._lock:
            fresh = time.monotonic() - self._fetched_at < DISCOVERY_TTL_S
            if self._document is not None and fresh:
                return self._document
            url = f"{self.issuer}/.well-known/openid-configuration"
            try:
                response = await self.http.get(url, timeout=TIMEOUT_S)
            except httpx.HTTPError as exc:
                raise provider_error(f"cannot reach the issuer: {said(exc)}") from exc
            if response.status_code != 200:
                raise provider_error(
                    f"the issuer's discovery document answered HTTP {response.status_code}"
                )
            try:
                document = response.json()
            except ValueError as exc:
                raise provider_error("the issuer's discovery document is not JSON") from exc
            self._document = Discovery.parse(document, self.issuer)
            self._fetched_at = time.monotonic()
            return self._document
