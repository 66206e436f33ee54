"""advisorMemories: what an advisor remembers about the caller's situation, per
conversation, one value per key (upserted), visible and editable by the caller.

The original's names are served: `getConversationMemories` is `list` under its name. Its
`list` took no arguments and gave anyone every user's memories; this product's `list`
(conversationId, advisorId?) came first and stays, so that call answers INVALID_ARGUMENT
naming `conversationId`. Its `create` is retired (`RETIRED`)."""

from __future__ import annotations

from typing import Any

from advisor_chat.clock import now_ms
from advisor_chat.errors import Code, FunctionError
from advisor_chat.functions.access import (
    own_conversation,
    own_in_conversation,
    require_user,
    visible_advisor,
)
from advisor_chat.functions.context import MutationCtx, QueryCtx
from advisor_chat.functions.registry import Args, Retired, mutation, query
from advisor_chat.functions.storage import require_room, require_small
from advisor_chat.schema import limits
from advisor_chat.schema.fields import v
from advisor_chat.store import Document

KEY = v.string(max_length=limits.KEY)


async def _scope(ctx: QueryCtx, args: Args) -> tuple[Document, Document]:
    """The caller's conversation and an advisor they can see, or NOT_FOUND."""
    conversation = await own_conversation(ctx, args["conversationId"])
    advisor = await visible_advisor(ctx, args["advisorId"], await require_user(ctx))
    return conversation, advisor


@query(
    "advisorMemories:list",
    {"conversationId": v.id("conversations"), "advisorId": v.optional(v.id("advisors"))},
)
async def list_memories(ctx: QueryCtx, args: Args) -> list[Document]:
    conversation = await own_conversation(ctx, args["conversationId"])
    if "advisorId" in args:
        return await (
            ctx.db.query("advisorMemories", "by_conversation_advisor")
            .eq("conversationId", conversation["_id"])
            .eq("advisorId", args["advisorId"])
            .collect()
        )
    return await (
        ctx.db.query("advisorMemories", "by_conversation")
        .eq("conversationId", conversation["_id"])
        .collect()
    )


_KEYED = {"conversationId": v.id("conversations"), "advisorId": v.id("advisors"), "key": KEY}


async def _by_key(ctx: QueryCtx, args: Args) -> Document | None:
    conversation, advisor = await _scope(ctx, args)
    return await (
        ctx.db.query("advisorMemories", "by_conversation_advisor_key")
        .eq("conversationId", conversation["_id"])
        .eq("advisorId", advisor["_id"])
        .eq("key", args["key"])
        .unique()
    )


@query("advisorMemories:getMemoryByKey", _KEYED)
async def get_memory_by_key(ctx: QueryCtx, args: Args) -> Document | None:
    return await _by_key(ctx, args)


@mutation("advisorMemories:setMemory", {**_KEYED, "value": v.any()})
async def set_memory(ctx: MutationCtx, args: Args) -> str:
    """Upsert by (conversation, advisor, key). A value the user sets is theirs: an advisor's
    later inference never overwrites it."""
    user = await require_user(ctx)
    require_small(ctx, user, {"value": args["value"]})
    existing = await _by_key(ctx, args)
    now = now_ms()
    if existing is not None:
        changes = {"value": args["value"], "updatedAt": now, "setBy": "user"}
        await ctx.db.patch("advisorMemories", existing["_id"], changes)
        return str(existing["_id"])
    fields: dict[str, Any] = {k: args[k] for k in ("conversationId", "advisorId", "key", "value")}
    fields |= {"createdAt": now, "updatedAt": now, "setBy": "user"}
    await require_room(ctx, user, "memories", args["conversationId"])
    return await ctx.db.insert("advisorMemories", fields)


@mutation(
    "advisorMemories:updateMemory",
    {"memoryId": v.id("advisorMemories"), "key": v.optional(KEY), "value": v.optional(v.any())},
)
async def update_memory(ctx: MutationCtx, args: Args) -> str:
    """Rename a memory, change its value, or both, in one transaction: a rename is never a
    new memory plus a deletion that can half-happen. A name the advisor already uses here
    is CONFLICT (naming `key`): two memories are never merged behind the user's back."""
    memory = await own_in_conversation(ctx, "advisorMemories", args["memoryId"])
    if "key" not in args and "value" not in args:
        raise FunctionError(
            Code.INVALID_ARGUMENT, "give a new key, a new value, or both", field="key"
        )
    user = await require_user(ctx)
    changes: dict[str, Any] = {}
    if "value" in args:
        require_small(ctx, user, {"value": args["value"]})
        changes["value"] = args["value"]
    if "key" in args and args["key"] != memory["key"]:
        if not args["key"].strip():
            raise FunctionError(
                Code.INVALID_ARGUMENT, "a memory's key cannot be blank", field="key"
            )
        taken = await (
            ctx.db.query("advisorMemories", "by_conversation_advisor_key")
            .eq("conversationId", memory["conversationId"])
            .eq("advisorId", memory["advisorId"])
            .eq("key", args["key"])
            .unique()
        )
        if taken is not None:
            raise FunctionError(
                Code.CONFLICT,
                f"this advisor already remembers {args['key']!r} in this conversation",
                field="key",
            )
        changes["key"] = args["key"]
    if changes:
        changes |= {"updatedAt": now_ms(), "setBy": "user"}
        await ctx.db.patch("advisorMemories", memory["_id"], changes)
    return str(memory["_id"])


@mutation("advisorMemories:deleteMemory", {"memoryId": v.id("advisorMemories")})
async def delete_memory(ctx: MutationCtx, args: Args) -> None:
    memory = await own_in_conversation(ctx, "advisorMemories", args["memoryId"])
    await ctx.db.delete("advisorMemories", memory["_id"])


@mutation(
    "advisorMemories:clearAdvisorMemories",
    {"conversationId": v.id("conversations"), "advisorId": v.id("advisors")},
)
async def clear_advisor_memories(ctx: MutationCtx, args: Args) -> int:
    """Forget everything this advisor remembers in this conversation; returns how much."""
    conversation, advisor = await _scope(ctx, args)
    memories = await (
        ctx.db.query("advisorMemories", "by_conversation_advisor")
        .eq("conversationId", conversation["_id"])
        .eq("advisorId", advisor["_id"])
        .collect()
    )
    for memory in memories:
        await ctx.db.delete("advisorMemories", memory["_id"])
    return len(memories)


RETIRED = (
    Retired(
        "advisorMemories:create",
        "the original's migration import let anyone write memories into any conversation "
        "without signing in; `advisor-chat import` (a Convex export or the Prisma "
        "database) replaces it",
    ),
)

FUNCTIONS = (
    list_memories,
    list_memories.alias("advisorMemories:getConversationMemories"),
    get_memory_by_key,
    set_memory,
    update_memory,
    delete_memory,
    clear_advisor_memories,
)
