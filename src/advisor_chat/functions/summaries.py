"""threadSummaries: condensed stretches of a long conversation, visible and removable by
the caller; the chat engine writes them when history outgrows the context budget."""

from __future__ import annotations

from typing import Any

from advisor_chat.clock import now_ms
from advisor_chat.functions.access import (
    not_found,
    own_conversation,
    own_in_conversation,
    require_user,
)
from advisor_chat.functions.context import MutationCtx, QueryCtx
from advisor_chat.functions.registry import Args, mutation, query
from advisor_chat.functions.storage import require_room, require_small
from advisor_chat.schema import limits
from advisor_chat.schema.fields import v
from advisor_chat.store import Document

LISTED = 100  # summaries a listing returns: the newest, as the context uses the latest


@query("threadSummaries:getConversationSummaries", {"conversationId": v.id("conversations")})
async def get_conversation_summaries(ctx: QueryCtx, args: Args) -> list[Document]:
    """The newest LISTED summaries, oldest first, as they cover the thread. A long thread
    gains one per stretch summarised, so the listing is bounded rather than the thread."""
    conversation = await own_conversation(ctx, args["conversationId"])
    newest = await (
        ctx.db.query("threadSummaries", "by_conversation")
        .eq("conversationId", conversation["_id"])
        .order("desc")
        .take(LISTED)
    )
    return newest[::-1]


@mutation(
    "threadSummaries:createSummary",
    {
        "conversationId": v.id("conversations"),
        "content": v.string(max_length=limits.MESSAGE),
        "startMessageId": v.optional(v.id("messages")),
        "endMessageId": v.optional(v.id("messages")),
    },
)
async def create_summary(ctx: MutationCtx, args: Args) -> str:
    user = await require_user(ctx)
    conversation = await own_conversation(ctx, args["conversationId"], user)
    require_small(ctx, user, {"content": args["content"]})
    await require_room(ctx, user, "summaries", conversation["_id"])
    for field in ("startMessageId", "endMessageId"):
        if field in args:
            message = await ctx.db.get("messages", args[field])
            if message is None or message["conversationId"] != conversation["_id"]:
                raise not_found("messages", args[field])
    fields: dict[str, Any] = {k: args[k] for k in args}
    return await ctx.db.insert("threadSummaries", fields | {"createdAt": now_ms()})


@mutation("threadSummaries:deleteSummary", {"summaryId": v.id("threadSummaries")})
async def delete_summary(ctx: MutationCtx, args: Args) -> None:
    summary = await own_in_conversation(ctx, "threadSummaries", args["summaryId"])
    await ctx.db.delete("threadSummaries", summary["_id"])


@mutation(
    "threadSummaries:updateSummary",
    {"summaryId": v.id("threadSummaries"), "content": v.string(max_length=limits.MESSAGE)},
)
async def update_summary(ctx: MutationCtx, args: Args) -> Document:
    """Correct what a summary says: the next answers' context carries the correction."""
    summary = await own_in_conversation(ctx, "threadSummaries", args["summaryId"])
    require_small(ctx, await require_user(ctx), {"content": args["content"]})
    return await ctx.db.patch("threadSummaries", summary["_id"], {"content": args["content"]})


FUNCTIONS = (
    get_conversation_summaries,
    create_summary,
    create_summary.alias("threadSummaries:createThreadSummary"),
    update_summary,
    delete_summary,
)
