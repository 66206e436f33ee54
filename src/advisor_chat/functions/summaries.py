"""threadSummaries: condensed stretches of a long conversation, visible and removable by
the caller; the chat engine writes them when history outgrows the context budget.

The original's names and arguments are served (`limit`, `getSummaryById`,
`clearConversationSummaries`, `getSummaryStats`); its migration `create` and `list`, which
let anyone write or read every user's summaries without signing in, are retired."""

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
from advisor_chat.functions.registry import Args, Retired, mutation, query
from advisor_chat.functions.storage import require_room, require_small
from advisor_chat.schema import limits
from advisor_chat.schema.fields import v
from advisor_chat.store import Document

LISTED = 100  # summaries a listing returns: the newest, as the context uses the latest
ORIGINAL_LIMIT = 50  # the original's default `limit` (also what its `limit: 0` meant)
CONTENT = v.string(max_length=limits.MESSAGE)
SPAN = v.optional(v.id("messages"))


@query(
    "threadSummaries:getConversationSummaries",
    {
        "conversationId": v.id("conversations"),
        "limit": v.optional(v.number(minimum=0, maximum=LISTED)),
    },
)
async def get_conversation_summaries(ctx: QueryCtx, args: Args) -> list[Document]:
    """Without `limit`: the newest LISTED summaries, oldest first, as they cover the
    thread. With `limit` (the original's call): the newest `limit`, newest first, as the
    original answered. A long thread gains one per stretch summarised, so the listing is
    bounded rather than the thread."""
    conversation = await own_conversation(ctx, args["conversationId"])
    take = int(args.get("limit", LISTED)) or ORIGINAL_LIMIT
    newest = await (
        ctx.db.query("threadSummaries", "by_conversation")
        .eq("conversationId", conversation["_id"])
        .order("desc")
        .take(take)
    )
    return newest if "limit" in args else newest[::-1]


@query("threadSummaries:getSummaryById", {"summaryId": v.id("threadSummaries")})
async def get_summary_by_id(ctx: QueryCtx, args: Args) -> Document:
    return await own_in_conversation(ctx, "threadSummaries", args["summaryId"])


async def _check_span(ctx: QueryCtx, conversation: Document, args: Args) -> None:
    """A summary's first and last message must be messages of its own conversation."""
    for field in ("startMessageId", "endMessageId"):
        if field in args:
            message = await ctx.db.get("messages", args[field])
            if message is None or message["conversationId"] != conversation["_id"]:
                raise not_found("messages", args[field])


@mutation(
    "threadSummaries:createSummary",
    {
        "conversationId": v.id("conversations"),
        "content": CONTENT,
        "startMessageId": SPAN,
        "endMessageId": SPAN,
    },
)
async def create_summary(ctx: MutationCtx, args: Args) -> str:
    user = await require_user(ctx)
    conversation = await own_conversation(ctx, args["conversationId"], user)
    require_small(ctx, user, {"content": args["content"]})
    await require_room(ctx, user, "summaries", conversation["_id"])
    await _check_span(ctx, conversation, args)
    fields: dict[str, Any] = {k: args[k] for k in args}
    return await ctx.db.insert("threadSummaries", fields | {"createdAt": now_ms()})


@mutation("threadSummaries:deleteSummary", {"summaryId": v.id("threadSummaries")})
async def delete_summary(ctx: MutationCtx, args: Args) -> None:
    summary = await own_in_conversation(ctx, "threadSummaries", args["summaryId"])
    await ctx.db.delete("threadSummaries", summary["_id"])


@mutation(
    "threadSummaries:updateSummary",
    {
        "summaryId": v.id("threadSummaries"),
        "content": v.optional(CONTENT),
        "startMessageId": SPAN,
        "endMessageId": SPAN,
    },
)
async def update_summary(ctx: MutationCtx, args: Args) -> None:
    """Correct what a summary says or spans: the next answers' context carries the
    correction. Answers null, as the original did."""
    summary = await own_in_conversation(ctx, "threadSummaries", args["summaryId"])
    changes = {k: value for k, value in args.items() if k != "summaryId"}
    if "content" in changes:
        require_small(ctx, await require_user(ctx), {"content": changes["content"]})
    conversation = await own_conversation(ctx, summary["conversationId"])
    await _check_span(ctx, conversation, changes)
    if changes:
        await ctx.db.patch("threadSummaries", summary["_id"], changes)


async def _all_of(ctx: QueryCtx, conversation: Document) -> list[Document]:
    """Every summary of a conversation: the plan bounds how many one keeps."""
    return await (
        ctx.db.query("threadSummaries", "by_conversation")
        .eq("conversationId", conversation["_id"])
        .collect()
    )


@mutation("threadSummaries:clearConversationSummaries", {"conversationId": v.id("conversations")})
async def clear_conversation_summaries(ctx: MutationCtx, args: Args) -> int:
    """Delete every summary of the caller's conversation; answers how many."""
    summaries = await _all_of(ctx, await own_conversation(ctx, args["conversationId"]))
    for summary in summaries:
        await ctx.db.delete("threadSummaries", summary["_id"])
    return len(summaries)


def _js_length(text: str) -> int:
    """A string's length as the original's JavaScript counted it (UTF-16 code units)."""
    return len(text.encode("utf-16-le")) // 2


@query("threadSummaries:getSummaryStats", {"conversationId": v.id("conversations")})
async def get_summary_stats(ctx: QueryCtx, args: Args) -> dict[str, Any]:
    summaries = await _all_of(ctx, await own_conversation(ctx, args["conversationId"]))
    created = [s["createdAt"] for s in summaries]
    return {
        "totalSummaries": len(summaries),
        "totalCharacters": sum(_js_length(s["content"]) for s in summaries),
        "firstSummaryAt": min(created, default=None),
        "lastSummaryAt": max(created, default=None),
    }


RETIRED = (
    Retired(
        "threadSummaries:create",
        "the original's migration import let anyone write summaries into any conversation "
        "without signing in; `advisor-chat import` (a Convex export or the Prisma "
        "database) replaces it",
    ),
    Retired(
        "threadSummaries:list",
        "the original's migration listing gave anyone every user's summaries without "
        "signing in; threadSummaries:getConversationSummaries lists a conversation's, and "
        "`advisor-chat export` exports them all",
    ),
)

FUNCTIONS = (
    get_conversation_summaries,
    get_summary_by_id,
    create_summary,
    create_summary.alias("threadSummaries:createThreadSummary"),
    update_summary,
    delete_summary,
    clear_conversation_summaries,
    get_summary_stats,
)
