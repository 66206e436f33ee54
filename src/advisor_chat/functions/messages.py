"""messages: what the caller and their advisors said in a conversation."""

from __future__ import annotations

from typing import Any

from advisor_chat.clock import now_ms
from advisor_chat.errors import Code, FunctionError
from advisor_chat.functions.access import own_conversation, own_in_conversation, require_user
from advisor_chat.functions.context import MutationCtx, QueryCtx
from advisor_chat.functions.pagination import PAGINATION_OPTS, page_request, page_result
from advisor_chat.functions.quotas import consume
from advisor_chat.functions.registry import Args, mutation, query
from advisor_chat.schema.fields import v
from advisor_chat.store import Document

MAX_CONTENT = 32_000  # characters in one message
CONTENT = v.string(max_length=MAX_CONTENT)
MENTIONS = v.optional(v.array(v.string(max_length=200), max_items=50))
SEARCHED_CONVERSATIONS = 2_000  # a search across conversations covers the most recent


@query(
    "messages:getConversationMessages",
    {"conversationId": v.id("conversations"), "paginationOpts": PAGINATION_OPTS},
)
async def get_conversation_messages(ctx: QueryCtx, args: Args) -> dict[str, Any]:
    """Messages in the order they were written, a page at a time."""
    conversation = await own_conversation(ctx, args["conversationId"])
    size, cursor = page_request(args)
    page = await (
        ctx.db.query("messages", "by_conversation_created")
        .eq("conversationId", conversation["_id"])
        .paginate(size, cursor)
    )
    return page_result(page)


@mutation(
    "messages:sendMessage",
    {"conversationId": v.id("conversations"), "content": CONTENT, "mentions": MENTIONS},
)
async def send_message(ctx: MutationCtx, args: Args) -> str:
    """Store the caller's message; it is durable when this returns.

    The conversation is read (for ownership) and its `updatedAt` bumped last, in the
    store's commit turn: the bump adds entries to every conversations index, where
    concurrent senders look up their own conversations (see `commit_in_turn`). Before it,
    a message to someone else's conversation has only been written inside this
    transaction, which NOT_FOUND then rolls back."""
    user = await require_user(ctx)
    if not args["content"].strip():
        raise FunctionError(Code.INVALID_ARGUMENT, "a message cannot be empty", field="content")
    await consume(ctx, user, "messages")
    now = now_ms()
    message_id = await ctx.db.insert(
        "messages",
        {
            "conversationId": args["conversationId"],
            "sender": "user",
            "content": args["content"],
            "mentions": args.get("mentions", []),
            "createdAt": now,
            "status": "complete",
        },
    )
    await ctx.db.commit_in_turn()
    conversation = await own_conversation(ctx, args["conversationId"], user)
    await ctx.db.patch("conversations", conversation["_id"], {"updatedAt": now})
    return message_id


@mutation("messages:updateMessage", {"messageId": v.id("messages"), "content": CONTENT})
async def update_message(ctx: MutationCtx, args: Args) -> Document:
    """Edit one of the caller's own messages (advisors' answers are not theirs to edit)."""
    message = await own_in_conversation(ctx, "messages", args["messageId"])
    if message["sender"] != "user":
        raise FunctionError(Code.INVALID_ARGUMENT, "only your own messages can be edited")
    return await ctx.db.patch("messages", message["_id"], {"content": args["content"]})


@mutation("messages:deleteMessage", {"messageId": v.id("messages")})
async def delete_message(ctx: MutationCtx, args: Args) -> None:
    message = await own_in_conversation(ctx, "messages", args["messageId"])
    await ctx.db.delete("messages", message["_id"])


@query(
    "messages:searchMessages",
    {
        "query": v.string(max_length=500),
        "conversationId": v.optional(v.id("conversations")),
        "limit": v.optional(v.number(minimum=1, maximum=100)),
    },
)
async def search_messages(ctx: QueryCtx, args: Args) -> list[Document]:
    """Messages in the caller's conversations (or one of them) having every word of the
    query, the last as a prefix: best match first. Served by the text index, narrowed to
    the caller's conversations inside it (the SEARCHED_CONVERSATIONS most recently active),
    so the cost follows what is found, not the length of the caller's history."""
    user = await require_user(ctx)
    if "conversationId" in args:
        conversations = [(await own_conversation(ctx, args["conversationId"]))["_id"]]
    else:
        recent = (
            ctx.db.query("conversations", "by_user_updated").eq("userId", user["_id"]).order("desc")
        )
        conversations = [c["_id"] for c in await recent.take(SEARCHED_CONVERSATIONS)]
    return await ctx.db.search(
        "messages",
        "search_content",
        args["query"],
        {"conversationId": conversations},
        limit=int(args.get("limit", 20)),
    )


FUNCTIONS = (
    get_conversation_messages,
    send_message,
    send_message.alias("messages:appendMessage"),
    update_message,
    delete_message,
    search_messages,
)
