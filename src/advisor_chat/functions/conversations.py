"""conversations: the caller's threads with their board of advisors.

The original app's clients call the same paths with other arguments and read other
answers; the arguments decide which is answered (README, "The original app's API"):
`getUserConversations` without `paginationOpts` answers its array (each entry with
`messageCount`, `lastMessage` and `activeAdvisor`), `getConversationById` always answers
the conversation with its `activeAdvisor` and latest messages, and `createConversation`
takes its `activeAdvisorId`.
"""

from __future__ import annotations

from typing import Any

from advisor_chat.clock import now_ms
from advisor_chat.errors import Code, FunctionError
from advisor_chat.functions.access import own_conversation, require_user, visible_advisor
from advisor_chat.functions.context import MutationCtx, QueryCtx
from advisor_chat.functions.pagination import PAGINATION_OPTS, paginate
from advisor_chat.functions.registry import Args, Retired, mutation, query
from advisor_chat.functions.shapes import (
    Advisors,
    advisor_brief,
    last_message_preview,
    with_advisor,
)
from advisor_chat.functions.storage import require_room
from advisor_chat.schema import limits
from advisor_chat.schema.fields import v
from advisor_chat.store import UNSET, Document
from advisor_chat.store.query import IndexQuery

MAX_BOARD = limits.BOARD  # advisors in one conversation
TITLE = v.string(max_length=limits.TITLE)
LISTED = 50  # conversations the list without `paginationOpts` answers, as the original's
COUNTED = 1_000  # a list entry's `messageCount` counts no further than this
LATEST = 100  # messages `getConversationById` answers: the latest, oldest of them first
DEFAULT_TITLE = "New Conversation"  # the original's, for a conversation made its way


@query("conversations:getUserConversations", {"paginationOpts": PAGINATION_OPTS})
async def get_user_conversations(ctx: QueryCtx, args: Args) -> dict[str, Any] | list[Any]:
    """The caller's conversations, most recently active first: a Convex page, or without
    `paginationOpts` the original's array of the LISTED most recent, each with
    `messageCount`, `lastMessage` and `activeAdvisor`."""
    user = await require_user(ctx)
    listed = ctx.db.query("conversations", "by_user_updated").eq("userId", user["_id"])
    if "paginationOpts" in args:
        return await paginate(listed.order("desc"), args, ctx.journal)
    advisors = Advisors(ctx)
    return [
        await _list_entry(ctx, advisors, conversation)
        for conversation in await listed.order("desc").take(LISTED)
    ]


async def _list_entry(ctx: QueryCtx, advisors: Advisors, conversation: Document) -> Document:
    """One conversation as the original's list showed it. The count is an index range
    counted in the database, never the messages read; it stops at COUNTED, so a longer
    conversation reads COUNTED (the list's cost stays bounded whatever its history)."""

    def messages() -> IndexQuery:
        return ctx.db.query("messages", "by_conversation_created").eq(
            "conversationId", conversation["_id"]
        )

    last = await messages().order("desc").first()
    return conversation | {
        "messageCount": await messages().count(COUNTED),
        "lastMessage": last_message_preview(last),
        "activeAdvisor": await advisors.brief(conversation.get("activeAdvisorId")),
    }


@query("conversations:getConversationById", {"conversationId": v.id("conversations")})
async def get_conversation_by_id(ctx: QueryCtx, args: Args) -> Document:
    """The conversation as stored, with its LATEST messages (oldest of them first, each
    with its `advisor`) and its `activeAdvisor` (with the persona, while the caller may
    still see that advisor), as the original answered."""
    user = await require_user(ctx)
    conversation = await own_conversation(ctx, args["conversationId"], user)
    advisors = Advisors(ctx)
    latest = await (
        ctx.db.query("messages", "by_conversation_created")
        .eq("conversationId", conversation["_id"])
        .order("desc")
        .take(LATEST)
    )
    messages = [await with_advisor(advisors, m) for m in reversed(latest)]
    active = await advisors.get(conversation.get("activeAdvisorId"))
    active_brief = None
    if active is not None:
        active_brief = advisor_brief(active)
        if active.get("isPublic") or active.get("ownerId") == user["_id"]:
            active_brief["persona"] = active["persona"]
    return conversation | {"messages": messages, "activeAdvisor": active_brief}


@mutation(
    "conversations:createConversation",
    {
        "title": v.optional(TITLE),
        "advisorIds": v.optional(v.array(v.id("advisors"), max_items=MAX_BOARD)),
        "activeAdvisorId": v.optional(v.id("advisors")),
    },
)
async def create_conversation(ctx: MutationCtx, args: Args) -> str:
    """A new conversation; its board may hold only advisors the caller can see. The
    active advisor is `activeAdvisorId` (the original's argument: it joins the board),
    else the board's first. Given `activeAdvisorId` and no title, the title is the
    original's "New Conversation"; otherwise an untitled conversation is named from its
    first exchange. With no advisor at all none is chosen for the caller (the original
    took the first active advisor of the whole table, which here may be another user's)."""
    user = await require_user(ctx)
    await require_room(ctx, user, "conversations", user["_id"])
    board = list(dict.fromkeys(args.get("advisorIds", [])))
    for advisor_id in board:
        await visible_advisor(ctx, advisor_id, user)
    active = args.get("activeAdvisorId")
    if active is not None and active not in board:
        await visible_advisor(ctx, active, user)
        board.append(active)
        require_seats(board, "activeAdvisorId")
    now = now_ms()
    doc: dict[str, Any] = {"userId": user["_id"], "createdAt": now, "updatedAt": now}
    if "title" in args:
        doc["title"] = args["title"]
    elif active is not None:
        doc["title"] = DEFAULT_TITLE
    if board:
        doc["advisorIds"] = board
        doc["activeAdvisorId"] = active or board[0]
    return await ctx.db.insert("conversations", doc)


def require_seats(board: list[str], field: str) -> None:
    """Refuse a board over MAX_BOARD, naming the argument that would have grown it."""
    if len(board) > MAX_BOARD:
        raise FunctionError(
            Code.INVALID_ARGUMENT, f"a conversation seats at most {MAX_BOARD} advisors", field=field
        )


async def touch_conversation(
    ctx: MutationCtx, conversation: Document, board: list[str], now: float
) -> None:
    """A message landed at `now`: the conversation moves up its owner's list, with the
    board the message seated (`advisorIds` written only when it changed)."""
    changes: dict[str, Any] = {"updatedAt": now}
    if board != conversation.get("advisorIds", []):
        changes["advisorIds"] = board
    await ctx.db.patch("conversations", conversation["_id"], changes)


@mutation(
    "conversations:updateConversation",
    {
        "conversationId": v.id("conversations"),
        "title": v.optional(v.nullable(TITLE)),
        "activeAdvisorId": v.optional(v.nullable(v.id("advisors"))),
    },
)
async def update_conversation(ctx: MutationCtx, args: Args) -> Document:
    """Rename (null clears the title) or set the active advisor: any advisor the caller
    can see, who joins the board if not on it yet (as the original let any advisor be
    made active). Answers the conversation as updated (the original answered null)."""
    user = await require_user(ctx)
    conversation = await own_conversation(ctx, args["conversationId"], user)
    changes: dict[str, Any] = {}
    if "title" in args:
        changes["title"] = UNSET if args["title"] is None else args["title"]
    if "activeAdvisorId" in args:
        advisor_id = args["activeAdvisorId"]
        if advisor_id is not None:  # a deleted advisor may still sit on the board a while
            await visible_advisor(ctx, advisor_id, user)
            board = list(conversation.get("advisorIds", []))
            if advisor_id not in board:
                board.append(advisor_id)
                require_seats(board, "activeAdvisorId")
                changes["advisorIds"] = board
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


MIGRATION = "the original's migration scripts used it; `advisor-chat import` replaces it"

RETIRED = (
    Retired(
        "conversations:create",
        f"it wrote a conversation for any user without signing in; {MIGRATION}",
    ),
    Retired("conversations:list", f"it read every user's conversations signed out; {MIGRATION}"),
)

FUNCTIONS = (
    get_user_conversations,
    get_user_conversations.alias("conversations:getConversations"),
    get_conversation_by_id,
    create_conversation,
    update_conversation,
    delete_conversation,
)
