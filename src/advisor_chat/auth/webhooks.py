"""Clerk's user webhooks (user.created, user.updated, user.deleted), delivered by Svix.

A delivery is applied only if its Svix signature verifies (HMAC-SHA256 over
`<svix-id>.<svix-timestamp>.<body>` with the endpoint secret), its timestamp is within
`TOLERANCE_S` of now, and its id has not been applied before (replays change nothing).
The users row is keyed by Clerk's user id, as `users:store` keys it from the session token,
and only a row of Clerk's is touched: never a local account's, nor (with an OIDC issuer
configured) a row another issuer's tokens own. A deleted user leaves a tombstone, so their
earlier session tokens cannot recreate the row, and a late user.created or user.updated
delivery (Svix retries out of order) does not bring it back either.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import time
from typing import Any

import orjson

from advisor_chat.auth.identities import (
    bury,
    by_subject,
    delete_user,
    is_local,
    owned_by,
    tombstone_of,
)
from advisor_chat.auth.profiles import copied_profile
from advisor_chat.clock import now_ms
from advisor_chat.errors import Code, FunctionError
from advisor_chat.store import Document, Store, Transaction

TOLERANCE_S = 5 * 60  # as Svix's own libraries
PLANS = ("free", "pro", "enterprise")


def _refused(reason: str) -> FunctionError:
    return FunctionError(Code.UNAUTHENTICATED, f"webhook refused: {reason}")


def verify_svix(
    secret: str, headers: dict[str, str], body: bytes, now: float | None = None
) -> None:
    msg_id = headers.get("svix-id", "")
    stamp = headers.get("svix-timestamp", "")
    signatures = headers.get("svix-signature", "")
    if not msg_id or not stamp or not signatures:
        raise _refused("missing svix headers")
    try:
        sent = int(stamp)
    except ValueError:
        raise _refused("bad timestamp") from None
    if abs((time.time() if now is None else now) - sent) > TOLERANCE_S:
        raise _refused("timestamp outside the tolerance")
    try:
        key = base64.b64decode(secret.removeprefix("whsec_"))
    except binascii.Error:
        raise FunctionError(Code.INTERNAL, "the webhook secret is not base64") from None
    signed = f"{msg_id}.{stamp}.".encode() + body
    expected = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
    for entry in signatures.split():
        version, _, signature = entry.partition(",")
        if version == "v1" and hmac.compare_digest(signature, expected):
            return
    raise _refused("signature does not match")


def _fields(data: dict[str, Any]) -> dict[str, Any]:
    """email, name, image and plan from a Clerk user object."""
    email = None
    primary = data.get("primary_email_address_id")
    for address in data.get("email_addresses") or []:
        if isinstance(address, dict) and address.get("id") == primary:
            email = address.get("email_address")
    name = " ".join(str(p) for p in (data.get("first_name"), data.get("last_name")) if p)
    fields: dict[str, Any] = copied_profile(email, name, data.get("image_url"))
    metadata = data.get("public_metadata")
    if isinstance(metadata, dict) and metadata.get("plan") in PLANS:
        fields["plan"] = metadata["plan"]
    return fields


class ClerkWebhooks:
    def __init__(self, store: Store, secret: str, issuer: str | None = None) -> None:
        """`issuer`: the configured OIDC issuer (Clerk's Frontend API URL), if any."""
        self.store = store
        self.secret = secret
        self.issuer = issuer

    def _is_clerks(self, user: Document) -> bool:
        return owned_by(user, self.issuer) if self.issuer else not is_local(user)

    async def deliver(self, headers: dict[str, str], body: bytes) -> str:
        """Apply one delivery; returns what was done ("applied", "replay", "ignored")."""
        verify_svix(self.secret, headers, body)
        try:
            event = orjson.loads(body)
            kind = event["type"]
            data = event["data"]
            clerk_id = str(data["id"])
        except (orjson.JSONDecodeError, KeyError, TypeError) as exc:
            raise FunctionError(Code.INVALID_ARGUMENT, f"not a Clerk user event: {exc}") from exc
        msg_id = headers["svix-id"]

        async def apply(tx: Transaction) -> str:
            seen = (
                await tx.query("webhookEvents", "by_event")
                .eq("source", "clerk")
                .eq("eventId", msg_id)
                .unique()
            )
            if seen is not None:
                return "replay"
            await tx.insert(
                "webhookEvents",
                {"eventId": msg_id, "source": "clerk", "receivedAt": now_ms()},
            )
            user: Document | None = await by_subject(tx, clerk_id)
            if user is not None and not self._is_clerks(user):
                return "ignored"  # another issuer's subject: not Clerk's to change
            now = now_ms()
            if kind in ("user.created", "user.updated"):
                fields = _fields(data)
                if user is not None:
                    await tx.patch("users", user["_id"], fields | {"updatedAt": now})
                elif await tombstone_of(tx, clerk_id) is not None:
                    return "ignored"  # deleted since: a late delivery
                else:
                    row = {"clerkId": clerk_id, "plan": "free", "createdAt": now, "updatedAt": now}
                    if self.issuer:
                        row["tokenIssuer"] = self.issuer
                    await tx.insert("users", row | fields)
                return "applied"
            if kind == "user.deleted":
                if user is not None:
                    await delete_user(tx, user)  # their conversations go with it
                else:  # never stored here: their earlier tokens must not store them now
                    await bury(tx, clerk_id, self.issuer)
                return "applied"
            return "ignored"

        return (await self.store.mutation(apply)).value
