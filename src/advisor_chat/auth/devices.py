"""Device tokens: proof that this client signed in to this account before (OWASP's "device
cookies"), so an attacker's flood against the account does not lock its owner out.

A successful sign-in or sign-up answers one: `<nonce>.<mac>`, the MAC an HMAC-SHA256 over
the normalised email and a random nonce, keyed from the server secret. Nothing is stored:
any process with the secret checks it. A sign-in presenting a valid one for its email is
counted per device (the nonce) instead of per account (auth/throttle.py).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from dataclasses import dataclass, field

NONCE_BYTES = 16


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


@dataclass(frozen=True)
class DeviceTokens:
    secret: bytes  # the server secret; the MAC key is derived from it, never the JWT key
    _key: bytes = field(init=False, repr=False)

    def __post_init__(self) -> None:
        derived = hmac.new(self.secret, b"advisor-chat device token", hashlib.sha256).digest()
        object.__setattr__(self, "_key", derived)

    def _mac(self, nonce: str, email: str) -> str:
        message = f"{nonce}\0{email}".encode()
        return _b64(hmac.new(self._key, message, hashlib.sha256).digest())

    def issue(self, email: str) -> str:
        """A new token for `email` (normalised)."""
        nonce = _b64(secrets.token_bytes(NONCE_BYTES))
        return f"{nonce}.{self._mac(nonce, email)}"

    def device_of(self, token: object, email: str) -> str | None:
        """The token's nonce if it is ours and for `email`, else None (anything else,
        malformed or of another account, counts as no token at all)."""
        if type(token) is not str or token.count(".") != 1 or len(token) > 200:
            return None
        nonce, mac = token.split(".")
        if not nonce or not hmac.compare_digest(mac.encode(), self._mac(nonce, email).encode()):
            return None
        return nonce
