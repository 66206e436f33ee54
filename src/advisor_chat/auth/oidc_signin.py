"""The web app's sign-in with the configured OIDC issuer: authorization code with PKCE
(S256), the server relaying the code exchange so the browser talks to the issuer only by
navigating to it, and a confidential client's secret stays here. Nothing is stored: the
browser holds the verifier, state and nonce, and the tokens the exchange answers.

The issuer's endpoints come from its discovery document (auth/discovery.py).
Id tokens are checked by the same `OidcVerifier` every request uses (RS256, issuer, expiry),
then for what only a sign-in knows: `aud` names this client, and the code grant's `nonce`
is the one the browser sent.

Failures, as the endpoints answer them:
    UNAUTHENTICATED   the issuer refused (HTTP 400/401: invalid_grant, invalid_client, …),
                      or its id token fails a check: the person signs in again
    PROVIDER_ERROR    the issuer is unreachable, answers 5xx or not JSON, or its discovery
                      document is broken or names another issuer: nothing the person did
"""

from __future__ import annotations

import base64
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlencode

import httpx

from advisor_chat.auth.discovery import TIMEOUT_S, IssuerDiscovery, provider_error, said
from advisor_chat.auth.oidc import OidcVerifier
from advisor_chat.errors import Code, FunctionError
from advisor_chat.log import get_logger

log = get_logger(__name__)


@dataclass(frozen=True)
class SignedIn:
    """The exchange's answer to the browser: the id token is its bearer token."""

    id_token: str
    refresh_token: str | None
    expires_in: int  # seconds until the id token's exp


class OidcSignIn:
    def __init__(
        self,
        verifier: OidcVerifier,
        client_id: str,
        client_secret: str | None,
        scopes: str,
        http: httpx.AsyncClient,
        discovery: IssuerDiscovery,
    ) -> None:
        self.verifier = verifier
        self.issuer = verifier.issuer
        self.client_id = client_id
        self.client_secret = client_secret
        self.scopes = " ".join(scopes.split())
        self.http = http
        self.discovery = discovery.document

    async def authorize_url(
        self, redirect_uri: str, code_challenge: str, state: str, nonce: str
    ) -> str:
        """Where the browser goes to sign in; it comes back to `redirect_uri` with the code."""
        endpoint = (await self.discovery()).authorization_endpoint
        query = urlencode(
            {
                "response_type": "code",
                "client_id": self.client_id,
                "redirect_uri": redirect_uri,
                "scope": self.scopes,
                "state": state,
                "nonce": nonce,
                "code_challenge": code_challenge,
                "code_challenge_method": "S256",
            }
        )
        return f"{endpoint}{'&' if '?' in endpoint else '?'}{query}"

    async def exchange_code(
        self, code: str, code_verifier: str, redirect_uri: str, nonce: str
    ) -> SignedIn:
        answer = await self._grant(
            {
                "grant_type": "authorization_code",
                "code": code,
                "code_verifier": code_verifier,
                "redirect_uri": redirect_uri,
            }
        )
        id_token = answer.get("id_token")
        if type(id_token) is not str:
            raise provider_error(
                "the issuer's answer has no id token (is openid in ADVISOR_CHAT_OIDC_SCOPES?)"
            )
        claims = await self._checked(id_token)
        if claims.get("nonce") != nonce:
            raise FunctionError(
                Code.UNAUTHENTICATED, "invalid token: its nonce is not this sign-in's"
            )
        return _signed_in(id_token, claims, answer.get("refresh_token"))

    async def refresh(self, refresh_token: str) -> SignedIn:
        """A new id token. An issuer that does not rotate refresh tokens answers none, and
        the one presented stays the one to use."""
        answer = await self._grant({"grant_type": "refresh_token", "refresh_token": refresh_token})
        id_token = answer.get("id_token")
        if type(id_token) is not str:
            raise FunctionError(
                Code.UNAUTHENTICATED, "the issuer's refresh gave no id token; sign in again"
            )
        claims = await self._checked(id_token)
        return _signed_in(id_token, claims, answer.get("refresh_token") or refresh_token)

    async def revoke(self, refresh_token: str) -> None:
        """Best effort (RFC 7009): an issuer without a revocation endpoint, or one that
        fails, leaves the token to expire; the browser forgets it either way."""
        try:
            endpoint = (await self.discovery()).revocation_endpoint
            if endpoint is None:
                return
            data, headers = await self._client_auth(
                {"token": refresh_token, "token_type_hint": "refresh_token"}
            )
            response = await self.http.post(endpoint, data=data, headers=headers, timeout=TIMEOUT_S)
            if response.status_code != 200:
                log.warning("oidc_revoke_refused", status=response.status_code)
        except (FunctionError, httpx.HTTPError) as exc:
            log.warning("oidc_revoke_failed", error=str(exc))

    async def _client_auth(self, data: dict[str, str]) -> tuple[dict[str, str], dict[str, str]]:
        """The body and headers that authenticate this client: its id alone when public;
        with its secret by HTTP Basic (RFC 6749 2.3.1: each part form-encoded first),
        or in the body when the issuer lists only client_secret_post."""
        headers = {"Accept": "application/json"}
        if self.client_secret is None:
            return data | {"client_id": self.client_id}, headers
        methods = (await self.discovery()).auth_methods
        if "client_secret_post" in methods and "client_secret_basic" not in methods:
            return data | {"client_id": self.client_id, "client_secret": self.client_secret}, (
                headers
            )
        pair = f"{quote(self.client_id, safe='')}:{quote(self.client_secret, safe='')}"
        headers["Authorization"] = "Basic " + base64.b64encode(pair.encode()).decode()
        return data, headers

    async def _grant(self, grant: dict[str, str]) -> dict[str, Any]:
        """The token endpoint's JSON answer to `grant`, or the error the endpoints give."""
        endpoint = (await self.discovery()).token_endpoint
        data, headers = await self._client_auth(grant)
        try:
            response = await self.http.post(endpoint, data=data, headers=headers, timeout=TIMEOUT_S)
        except httpx.HTTPError as exc:
            raise provider_error(f"cannot reach the issuer: {said(exc)}") from exc
        try:
            answer = response.json()
        except ValueError:
            answer = None
        if response.status_code in (400, 401):
            raise FunctionError(
                Code.UNAUTHENTICATED, f"the issuer refused the sign-in: {_refusal(answer)}"
            )
        if response.status_code != 200:
            status = response.status_code
            raise provider_error(f"the issuer's token endpoint answered HTTP {status}")
        if type(answer) is not dict:
            raise provider_error("the issuer's token endpoint did not answer a JSON object")
        return answer

    async def _checked(self, id_token: str) -> dict[str, Any]:
        claims = await self.verifier.claims(id_token)
        audience = claims.get("aud")
        named = [audience] if type(audience) is str else audience
        if type(named) is not list or self.client_id not in named:
            raise FunctionError(
                Code.UNAUTHENTICATED, "invalid token: its audience is not this app's client id"
            )
        return claims


def _signed_in(id_token: str, claims: dict[str, Any], refresh_token: Any) -> SignedIn:
    return SignedIn(
        id_token=id_token,
        refresh_token=refresh_token if type(refresh_token) is str else None,
        expires_in=max(0, int(claims["exp"]) - int(time.time())),
    )


def _refusal(answer: Any) -> str:
    """The issuer's `error` and `error_description`, when it gave them."""
    if type(answer) is not dict or type(answer.get("error")) is not str:
        return "no reason given"
    description = answer.get("error_description")
    if type(description) is str and description:
        return f"{answer['error']} ({description})"
    return str(answer["error"])
