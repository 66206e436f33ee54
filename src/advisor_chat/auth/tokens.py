"""Our own signed access tokens (the embedded default's local accounts) and their check.

Tokens are short-lived JWTs (HS256 over a server secret), verified through the same path a
production issuer's tokens will take: issuer, expiry and not-before with a small leeway,
and the algorithm pinned so `alg: none` or a swapped algorithm is refused. Each names the
sign-in it was issued to (`sid`), which must still hold when it is used: the signature says
who, auth/signins.py whether still.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import jwt

from advisor_chat.errors import Code, FunctionError
from advisor_chat.functions.context import Identity
from advisor_chat.schema.tables import LOCAL_ISSUER

ACCESS_TTL_S = 15 * 60  # short-lived: a stolen token is worth minutes, refresh renews it
LEEWAY_S = 30  # clock skew tolerated on exp/nbf
ALGORITHM = "HS256"


@dataclass(frozen=True)
class LocalTokens:
    secret: bytes
    issuer: str = LOCAL_ISSUER
    audience: str = LOCAL_ISSUER

    def issue(self, identity: Identity, sign_in: str, ttl_s: int = ACCESS_TTL_S) -> str:
        """A token for `identity` in sign-in `sign_in` (the id of its first session)."""
        now = int(time.time())
        claims: dict[str, Any] = {
            "iss": self.issuer,
            "aud": self.audience,
            "sub": identity.subject,
            "sid": sign_in,
            "iat": now,
            "nbf": now,
            "exp": now + ttl_s,
        }
        for claim, value in (
            ("email", identity.email),
            ("name", identity.name),
            ("picture", identity.picture_url),
        ):
            if value is not None:
                claims[claim] = value
        return jwt.encode(claims, self.secret, algorithm=ALGORITHM)

    def verify(self, token: str) -> Identity:
        try:
            claims = jwt.decode(
                token,
                self.secret,
                algorithms=[ALGORITHM],
                issuer=self.issuer,
                audience=self.audience,
                leeway=LEEWAY_S,
                options={"require": ["exp", "iss", "sub", "nbf"]},
            )
        except jwt.PyJWTError as exc:
            raise FunctionError(Code.UNAUTHENTICATED, f"invalid token: {exc}") from exc
        sign_in = claims.get("sid")
        if type(sign_in) is not str or not sign_in:
            raise FunctionError(
                Code.UNAUTHENTICATED, "invalid token: it names no sign-in; sign in again"
            )
        return identity_of(claims, sign_in)


def identity_of(claims: dict[str, Any], sign_in: str | None = None) -> Identity:
    """Who verified claims name (ours or an issuer's; `image_url` is Clerk's picture)."""
    iat = claims.get("iat")
    return Identity(
        subject=str(claims["sub"]),
        issuer=str(claims["iss"]),
        email=claims.get("email"),
        name=claims.get("name"),
        picture_url=claims.get("picture") or claims.get("image_url"),
        issued_at=int(iat) if iat is not None else None,  # PyJWT checked it is a number
        sign_in=sign_in,
        expires_at=int(claims["exp"]),
    )
