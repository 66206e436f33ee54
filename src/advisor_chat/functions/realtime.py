"""realtime: typing indicators and presence, each one row per (conversation, user) or per
user, refreshed in place. Expiry times come from the server, not the client."""

from __future__ import annotations

from typing import Any

from advisor_chat.clock import now_ms
from advisor_chat.functions.access import own_conversation, require_user
from advisor_chat.functions.context import MutationCtx, QueryCtx
from advisor_chat.functions.registry import Args, mutation, query
from advisor_chat.schema.fields import v
from advisor_chat.store import UNSET, Document

TYPING_EXPIRY_MS = 10_000  # a typing row not refreshed for this long no longer counts


@mutation(
    "realtime:setTypingStatus", {"conversationId": v.id("conversations"), "isTyping": v.boolean()}
)
async def set_typing_status(ctx: MutationCtx, args: Args) -> None:
    conversation = await own_conversation(ctx, args["conversationId"])
    user = await require_user(ctx)
    row = await (
        ctx.db.query("typingIndicators", "by_conversation_user")
        .eq("conversationId", conversation["_id"])
        .eq("userId", user["_id"])
        .unique()
    )
    fields = {"isTyping": args["isTyping"], "lastTypingAt": now_ms()}
    if row is None:
        await ctx.db.insert(
            "typingIndicators",
            {"conversationId": conversation["_id"], "userId": user["_id"], **fields},
        )
    else:
        await ctx.db.patch("typingIndicators", row["_id"], fields)


@query("realtime:getTypingUsers", {"conversationId": v.id("conversations")})
async def get_typing_users(ctx: QueryCtx, args: Args) -> dict[str, Any]:
    """Who is typing now, and when each indicator lapses (`expiresAt`, ms)."""
    conversation = await own_conversation(ctx, args["conversationId"])
    rows = await (
        ctx.db.query("typingIndicators", "by_conversation_typing")
        .eq("conversationId", conversation["_id"])
        .eq("isTyping", True)
        .collect()
    )
    cutoff = now_ms() - TYPING_EXPIRY_MS
    typing = [
        {"userId": r["userId"], "expiresAt": r["lastTypingAt"] + TYPING_EXPIRY_MS}
        for r in rows
        if r["lastTypingAt"] > cutoff
    ]
    return {"typing": typing, "expiryMs": TYPING_EXPIRY_MS}


@mutation(
    "realtime:updateUserPresence",
    {
        "isOnline": v.boolean(),
        "currentConversationId": v.optional(v.nullable(v.id("conversations"))),
    },
)
async def update_user_presence(ctx: MutationCtx, args: Args) -> None:
    user = await require_user(ctx)
    fields: dict[str, Any] = {"isOnline": args["isOnline"], "lastSeenAt": now_ms()}
    current = args.get("currentConversationId")
    if current is not None:
        await own_conversation(ctx, current)
        fields["currentConversationId"] = current
    row = await ctx.db.query("userPresence", "by_user").eq("userId", user["_id"]).unique()
    if row is None:
        await ctx.db.insert("userPresence", {"userId": user["_id"], **fields})
        return
    if "currentConversationId" in args and current is None:
        fields["currentConversationId"] = UNSET
    await ctx.db.patch("userPresence", row["_id"], fields)


@query("realtime:getUserPresence", {})
async def get_user_presence(ctx: QueryCtx, args: Args) -> Document | None:
    user = await require_user(ctx)
    return await ctx.db.query("userPresence", "by_user").eq("userId", user["_id"]).unique()


FUNCTIONS = (set_typing_status, get_typing_users, update_user_presence, get_user_presence)
