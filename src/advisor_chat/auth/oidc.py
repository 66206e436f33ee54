"""Tokens from Clerk or any OIDC issuer, verified against the issuer's JWKS.

RS256 only (the algorithm is pinned, so `none` or an HMAC signed with the public key is
refused), issuer exact, exp/nbf with a small leeway, audience when configured, and the
`azp` claim checked against the authorized parties (Clerk puts the frontend origin there;
the web app's own sign-in, auth/oidc_signin.py, gives id tokens whose `azp` and `aud` are its
client id, so app.py adds that to both).
Keys are cached and fetched again when a token names a key id we have not seen (rotation),
at most once per `REFETCH_S`, so a flood of bogus key ids cannot hammer the issuer. They are
where the configured JWKS URL says, else where the issuer's discovery document says
(`jwks_uri`: Keycloak, Okta and the like keep them elsewhere), else at
`{issuer}/.well-known/jwks.json` (Clerk's).
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from typing import Any

import httpx
import jwt

from advisor_chat.auth.discovery import IssuerDiscovery
from advisor_chat.auth.tokens import LEEWAY_S, identity_of
from advisor_chat.errors import Code, FunctionError
from advisor_chat.functions.context import Identity

REFETCH_S = 60.0
ALGORITHMS = ["RS256"]


def _refused(reason: str) -> FunctionError:
    return FunctionError(Code.UNAUTHENTICATED, f"invalid token: {reason}")


@dataclass
class OidcVerifier:
    issuer: str
    jwks_url: str | None  # None: from discovery
    http: httpx.AsyncClient
    audience: str | tuple[str, ...] | None = None  # a tuple: any one of them
    authorized_parties: tuple[str, ...] = ()
    discovery: IssuerDiscovery | None = None
    _keys: dict[str, Any] = field(default_factory=dict)
    _fetched_at: float = -1e9
    _lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    async def _refresh(self) -> None:
        async with self._lock:
            if time.monotonic() - self._fetched_at < REFETCH_S:
                return
            self._fetched_at = time.monotonic()
            try:
                response = await self.http.get(await self._jwks_location(), timeout=5)
                response.raise_for_status()
                keys = jwt.PyJWKSet.from_dict(response.json()).keys
            except (httpx.HTTPError, jwt.PyJWTError, ValueError) as exc:
                raise FunctionError(
                    Code.UNAUTHENTICATED, f"cannot fetch the issuer's keys: {exc}"
                ) from exc
            self._keys = {k.key_id: k for k in keys if k.key_id}

    async def _jwks_location(self) -> str:
        """The configured URL; else discovery's `jwks_uri`; else Clerk's place. A discovery
        that fails falls back too: the keys' own fetch then says what is wrong."""
        if self.jwks_url:
            return self.jwks_url
        if self.discovery is not None:
            try:
                found = (await self.discovery.document()).jwks_uri
            except FunctionError:
                found = None
            if found:
                return found
        return f"{self.issuer}/.well-known/jwks.json"

    async def _key(self, kid: str) -> Any:
        if kid not in self._keys:
            await self._refresh()
        if kid not in self._keys:
            raise _refused(f"unknown key id {kid!r}")
        return self._keys[kid]

    async def verify(self, token: str) -> Identity:
        return identity_of(await self.claims(token))

    async def claims(self, token: str) -> dict[str, Any]:
        """The token's claims, once its signature and every rule above hold."""
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError as exc:
            raise _refused(str(exc)) from exc
        if header.get("alg") not in ALGORITHMS:
            raise _refused(f"algorithm {header.get('alg')!r} is not accepted")
        key = await self._key(str(header.get("kid", "")))
        try:
            claims = jwt.decode(
                token,
                key,
                algorithms=ALGORITHMS,
                issuer=self.issuer,
                audience=self.audience,
                leeway=LEEWAY_S,
                options={"require": ["exp", "iss", "sub"], "verify_aud": self.audience is not None},
            )
        except jwt.PyJWTError as exc:
            raise _refused(str(exc)) from exc
        azp = claims.get("azp")
        if self.authorized_parties and azp is not None and azp not in self.authorized_parties:
            raise _refused(f"authorized party {azp!r} is not accepted")
        return claims
