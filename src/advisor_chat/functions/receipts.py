"""Mutation receipts: a mutation a client resends is answered, not run again.

A Convex client resends, on every reconnect, each mutation no Transition has confirmed
yet, under the same session id and request id: one whose answer was lost with the
connection may well have committed. Convex runs each (session, request) once, and clients
count on it. So a mutation sent over the sync protocol writes, in its own transaction, a
receipt of its answer under a key naming its caller, the session and the request; a
resend finds it and gets the same answer, and nothing runs twice. A failed mutation wrote
nothing and leaves no receipt: running it again is what the client asks.

Receipts are kept RETAIN_MS (a reconnecting client resends within seconds) and pruned a
few at a time by the writes that add them, so the table never grows past an hour's.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

from advisor_chat.clock import now_ms
from advisor_chat.functions.context import Identity
from advisor_chat.store import Document, Transaction

TABLE = "mutationReceipts"
RETAIN_MS = 3_600_000.0
PRUNE_PAGE = 4  # expired receipts each new one removes: more than it adds


@dataclass(frozen=True)
class Replayed:
    """A resent mutation's answer, from its receipt."""

    value: Any


def receipt_key(identity: Identity | None, session_id: str, request_id: int) -> str:
    """Names the caller too: another user who learnt a session id finds nothing under it."""
    caller = identity.token_identifier if identity is not None else ""
    message = f"{caller}\0{session_id}\0{request_id}".encode()
    return hashlib.sha256(message).hexdigest()


async def find(tx: Transaction, key: str) -> Document | None:
    return await tx.query(TABLE, "by_key").eq("key", key).unique()


async def keep(tx: Transaction, key: str, value: Any) -> None:
    now = now_ms()
    expired = await tx.query(TABLE, "by_at").lt("at", now - RETAIN_MS).take(PRUNE_PAGE)
    for row in expired:
        await tx.delete(TABLE, row["_id"])
    await tx.insert(TABLE, {"key": key, "value": value, "at": now})
