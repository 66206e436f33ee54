"""Per-plan storage limits: how many documents a user keeps where they create them
(conversations, custom advisors, and per conversation memories and summaries), and how
large one stored value may be. Checked by the mutation that writes, in its transaction: a
refused write answers STORAGE_LIMITED naming the limit and writes nothing, and the count
joins the read set, so two concurrent creates cannot both take the last free place.

Only what users write is refused. The chat engine's own memories stop at the limit, and
its summaries make room by dropping the oldest (the latest carries what they said).
Imports (`advisor-chat import`) are an operator's act and are not limited.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson

from advisor_chat.errors import Code, FunctionError
from advisor_chat.functions.context import MutationCtx
from advisor_chat.functions.plans import PlanLimits, Stored, limits_of
from advisor_chat.store import Document
from advisor_chat.store.query import IndexQuery

_NOUNS: dict[Stored, str] = {
    "conversations": "conversations",
    "customAdvisors": "custom advisors",
    "memories": "memories in one conversation",
    "summaries": "summaries in one conversation",
}


def plan_of(ctx: MutationCtx, user: Document) -> PlanLimits:
    return limits_of(ctx.limits, user.get("plan"))


def scope(ctx: MutationCtx, kind: Stored, owner: str) -> IndexQuery:
    """The documents counted against `kind`'s limit: a user's conversations or advisors
    (`owner` a users id), a conversation's memories or summaries (a conversations id)."""
    if kind == "conversations":
        return ctx.db.query("conversations", "by_user").eq("userId", owner)
    if kind == "customAdvisors":
        return ctx.db.query("advisors", "by_owner").eq("ownerId", owner)
    table = "advisorMemories" if kind == "memories" else "threadSummaries"
    return ctx.db.query(table, "by_conversation").eq("conversationId", owner)


async def has_room(ctx: MutationCtx, user: Document, kind: Stored, owner: str) -> bool:
    """Whether one more document of `kind` fits the user's plan."""
    limit = plan_of(ctx, user).stored(kind)
    return limit > 0 and await scope(ctx, kind, owner).count(limit) < limit


async def require_room(ctx: MutationCtx, user: Document, kind: Stored, owner: str) -> None:
    """Refuse (STORAGE_LIMITED) a write that would keep one more `kind` than the plan allows."""
    if not await has_room(ctx, user, kind, owner):
        limit = plan_of(ctx, user).stored(kind)
        raise FunctionError(
            Code.STORAGE_LIMITED,
            f"your plan keeps at most {limit} {_NOUNS[kind]}: delete some to make room",
            limit=kind,
            max=limit,
        )


def value_bytes(value: Any) -> int:
    """A value's stored size: a string's UTF-8 bytes, anything else's JSON."""
    if isinstance(value, str):
        return len(value.encode())
    return len(orjson.dumps(value))


def require_small(ctx: MutationCtx, user: Document, values: Mapping[str, Any]) -> None:
    """Refuse (STORAGE_LIMITED, naming the field) a value larger than the plan allows."""
    limit = plan_of(ctx, user).value_bytes
    for field, value in values.items():
        size = value_bytes(value)
        if size > limit:
            raise FunctionError(
                Code.STORAGE_LIMITED,
                f"{field} is {size} bytes; your plan stores values of at most {limit} bytes",
                limit="valueBytes",
                max=limit,
                field=field,
                bytes=size,
            )
