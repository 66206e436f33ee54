"""conversations: the caller's threads with their board of advisors."""

from __future__ import annotations

from typing import Any

from advisor_chat.clock import now_ms
from advisor_chat.errors import Code, FunctionError
from advisor_chat.functions.access import own_conversation, require_user, visible_advisor
from advisor_chat.functions.context import MutationCtx, QueryCtx
from advisor_chat.functions.pagination import PAGINATION_OPTS, paginate
from advisor_chat.functions.registry import Args, mutation, query
from advisor_chat.functions.storage import require_room
from advisor_chat.schema import limits
from advisor_chat.schema.fields import v
from advisor_chat.store import UNSET, Document

MAX_BOARD = limits.BOARD  # advisors in one conversation
TITLE = v.string(max_length=limits.TITLE)


@query("conversations:getUserConversations", {"paginationOpts": PAGINATION_OPTS})
async def get_user_conversations(ctx: QueryCtx, args: Args) -> dict[str, Any]:
    """The caller's conversations, most recently active first."""
    user = await require_user(ctx)
    listed = ctx.db.query("conversations", "by_user_updated").eq("userId", user["_id"])
    return await paginate(listed.order("desc"), args, ctx.journal)


@query("conversations:getConversationById", {"conversationId": v.id("conversations")})
async def get_conversation_by_id(ctx: QueryCtx, args: Args) -> Document:
    return await own_conversation(ctx, args["conversationId"])


@mutation(
    "conversations:createConversation",
    {
        "title": v.optional(TITLE),
        "advisorIds": v.optional(v.array(v.id("advisors"), max_items=MAX_BOARD)),
    },
)
async def create_conversation(ctx: MutationCtx, args: Args) -> str:
    """A new conversation; its board may hold only advisors the caller can see."""
    user = await require_user(ctx)
    await require_room(ctx, user, "conversations", user["_id"])
    board = list(dict.fromkeys(args.get("advisorIds", [])))
    for advisor_id in board:
        await visible_advisor(ctx, advisor_id, user)
    now = now_ms()
    doc: dict[str, Any] = {"userId": user["_id"], "createdAt": now, "updatedAt": now}
    if "title" in args:
        doc["title"] = args["title"]
    if board:
        doc["advisorIds"] = board
        doc["activeAdvisorId"] = board[0]
    return await ctx.db.insert("conversations", doc)


@mutation(
    "conversations:updateConversation",
    {
        "conversationId": v.id("conversations"),
        "title": v.optional(v.nullable(TITLE)),
        "activeAdvisorId": v.optional(v.nullable(v.id("advisors"))),
    },
)
async def update_conversation(ctx: MutationCtx, args: Args) -> Document:
    """Rename (null clears the title) or set the active advisor (one on the board)."""
    conversation = await own_conversation(ctx, args["conversationId"])
    changes: dict[str, Any] = {}
    if "title" in args:
        changes["title"] = UNSET if args["title"] is None else args["title"]
    if "activeAdvisorId" in args:
        advisor_id = args["activeAdvisorId"]
        if advisor_id is not None and advisor_id not in conversation.get("advisorIds", []):
            raise FunctionError(
                Code.INVALID_ARGUMENT,
                "the active advisor must be on the conversation's board",
                field="activeAdvisorId",
            )
        if advisor_id is not None:  # a deleted advisor may still sit on the board a while
            await visible_advisor(ctx, advisor_id, await require_user(ctx))
        changes["activeAdvisorId"] = UNSET if advisor_id is None else advisor_id
    if not changes:
        return conversation
    return await ctx.db.patch(
        "conversations", conversation["_id"], changes | {"updatedAt": now_ms()}
    )


@mutation("conversations:deleteConversation", {"conversationId": v.id("conversations")})
async def delete_conversation(ctx: MutationCtx, args: Args) -> None:
    """Deletes its messages, memories, summaries and typing rows with it: at once from
    every query's view, in batches beyond a few hundred rows (see store/cascade.py)."""
    conversation = await own_conversation(ctx, args["conversationId"])
    await ctx.db.delete("conversations", conversation["_id"])


FUNCTIONS = (
    get_user_conversations,
    get_conversation_by_id,
    create_conversation,
    update_conversation,
    delete_conversation,
)
