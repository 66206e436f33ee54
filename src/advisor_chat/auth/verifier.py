"""One door for bearer tokens: our own (local accounts) or the configured OIDC issuer's
(Clerk or any other), chosen by the token's `iss`, then verified by that issuer's rules.
An unknown issuer is refused; nothing about the caller is ever read from a request body.
Our own tokens must also name their sign-in, which each call checks still holds, in its own
transaction (auth/signins.py, functions/runner.py); an issuer's tokens end as its sessions
do, and a deleted user's cannot bring the row back (auth/identities.py)."""

from __future__ import annotations

import jwt

from advisor_chat.auth.oidc import OidcVerifier
from advisor_chat.auth.tokens import LocalTokens
from advisor_chat.errors import Code, FunctionError
from advisor_chat.functions.context import Identity


class TokenVerifier:
    def __init__(self, local: LocalTokens, oidc: OidcVerifier | None = None) -> None:
        self.local = local
        self.oidc = oidc

    async def verify(self, token: str) -> Identity:
        try:
            issuer = jwt.decode(token, options={"verify_signature": False}).get("iss")
        except jwt.PyJWTError as exc:
            raise FunctionError(Code.UNAUTHENTICATED, f"invalid token: {exc}") from exc
        if self.oidc is not None and issuer == self.oidc.issuer:
            return await self.oidc.verify(token)
        if issuer == self.local.issuer:
            return self.local.verify(token)
        raise FunctionError(
            Code.UNAUTHENTICATED, f"invalid token: issuer {issuer!r} is not trusted"
        )
