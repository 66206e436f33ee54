"""messages: what the caller and their advisors said in a conversation.

The original app's clients call the same paths with their own arguments; the arguments
decide the answer's shape (README, "The original app's API"): `getConversationMessages`
without `paginationOpts` answers its array of messages, each with its `advisor`;
`sendMessage` takes its `sender`, `advisorId`, `contentJson` and `tokensUsed`;
`searchMessages` given `searchTerm` answers its array, newest first.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from advisor_chat.ai.mentions import Member, Mentions, parse_mentions, who_answers
from advisor_chat.ai.persona import display_name
from advisor_chat.clock import now_ms
from advisor_chat.errors import Code, FunctionError
from advisor_chat.functions.access import (
    own_conversation,
    own_in_conversation,
    require_user,
    visible_advisor,
)
from advisor_chat.functions.chat import MAX_VERSIONS, end_round_answers
from advisor_chat.functions.context import SCHEDULED, MutationCtx, QueryCtx
from advisor_chat.functions.conversations import require_seats, touch_conversation
from advisor_chat.functions.pagination import PAGINATION_OPTS, paginate
from advisor_chat.functions.quotas import consume
from advisor_chat.functions.registry import Args, Retired, mutation, query
from advisor_chat.functions.shapes import Advisors, with_advisor
from advisor_chat.functions.storage import require_small
from advisor_chat.schema import limits
from advisor_chat.schema.fields import v
from advisor_chat.store import UNSET, Document
from advisor_chat.store.query import IndexQuery

MAX_CONTENT = limits.MESSAGE  # characters in one message
CONTENT = v.string(max_length=MAX_CONTENT)
MENTIONS = v.optional(v.array(v.string(max_length=limits.NAME), max_items=limits.ITEMS))
SEARCHED_CONVERSATIONS = 2_000  # a search across conversations covers the most recent
STOP_SCAN = 50  # a conversation's stop looks for rounds among its newest messages
_MAY_MENTION = re.compile(r"(?<![\w@])@\w")  # a mention may be in the text
VERSIONED = ("model", "tokensUsed", "error", "errorCode", "notice")  # kept with each version
LISTED = 100  # messages the list without `paginationOpts` answers unless `limit` says
MAX_LISTED = 500  # the most `limit` may ask for
RECENT = 50  # messages `getRecentMessages` answers unless `limit` says
RECENT_CONVERSATIONS = 20  # ... drawn from the caller's most recently active conversations
STATS_SCAN = 2_000  # messages `getMessageStats` reads, newest first
MAX_TOKENS = 10_000_000  # `tokensUsed` a client may record on one message
# The original's structured content: any JSON, bounded like the free-form parts of a file
# (and in bytes by the plan's storage limits, with the message's text).
CONTENT_JSON = v.any(max_length=limits.TEXT, max_items=limits.ITEMS)
LIMIT = v.optional(v.number(minimum=1, maximum=MAX_LISTED))


@query(
    "messages:getConversationMessages",
    {
        "conversationId": v.id("conversations"),
        "paginationOpts": PAGINATION_OPTS,
        "order": v.optional(v.literals("asc", "desc")),
        "limit": LIMIT,
    },
)
async def get_conversation_messages(ctx: QueryCtx, args: Args) -> dict[str, Any] | list[Any]:
    """Messages in the order they were written, a page at a time; `order: "desc"` gives
    the newest first, as a chat view loads them (older pages on scroll, new messages
    joining the first page).

    Without `paginationOpts`, the original's array: the latest `limit` messages (LISTED
    unless given), in the same order, each with its `advisor`. The original answered the
    first `limit`, so a long conversation never showed its new messages; the latest is
    what its chat view meant."""
    conversation = await own_conversation(ctx, args["conversationId"])
    order = args.get("order", "asc")
    listed = ctx.db.query("messages", "by_conversation_created").eq(
        "conversationId", conversation["_id"]
    )
    if "paginationOpts" in args:
        if "limit" in args:
            raise FunctionError(
                Code.INVALID_ARGUMENT,
                "`limit` is for the list without paginationOpts: a page's size is numItems",
                field="limit",
            )
        return await paginate(listed.order(order), args, ctx.journal)
    latest = await listed.order("desc").take(int(args.get("limit", LISTED)))
    advisors = Advisors(ctx)
    ordered = latest if order == "desc" else list(reversed(latest))
    return [await with_advisor(advisors, message) for message in ordered]


@query("messages:getRecentMessages", {"limit": v.optional(v.number(minimum=1, maximum=100))})
async def get_recent_messages(ctx: QueryCtx, args: Args) -> list[Any]:
    """The caller's latest messages across conversations, newest first, each with its
    `advisor` and `conversation` (`{_id, title}`), as the original's activity feed read
    them; drawn from the RECENT_CONVERSATIONS most recently active conversations, so the
    cost follows the answer, not the history."""
    user = await require_user(ctx)
    limit = int(args.get("limit", RECENT))
    conversations = await (
        ctx.db.query("conversations", "by_user_updated")
        .eq("userId", user["_id"])
        .order("desc")
        .take(RECENT_CONVERSATIONS)
    )
    found: list[tuple[Document, Document]] = []
    for conversation in conversations:
        latest = await (
            ctx.db.query("messages", "by_conversation_created")
            .eq("conversationId", conversation["_id"])
            .order("desc")
            .take(limit)
        )
        found += [(message, conversation) for message in latest]
    found.sort(key=lambda pair: (pair[0]["createdAt"], pair[0]["_creationTime"]), reverse=True)
    advisors = Advisors(ctx)
    answer = []
    for message, conversation in found[:limit]:
        named = {"_id": conversation["_id"], "title": conversation.get("title")}
        answer.append(await with_advisor(advisors, message) | {"conversation": named})
    return answer


@mutation(
    "messages:sendMessage",
    {
        "conversationId": v.id("conversations"),
        "content": CONTENT,
        "mentions": MENTIONS,
        "sender": v.optional(v.literals("user", "advisor", "system")),
        "advisorId": v.optional(v.id("advisors")),
        "contentJson": v.optional(CONTENT_JSON),
        "tokensUsed": v.optional(v.number(minimum=0, maximum=MAX_TOKENS)),
    },
)
async def send_message(ctx: MutationCtx, args: Args) -> str:
    """Store the caller's message and schedule its round of answers, in one transaction:
    the message is durable when this returns, and its answers come exactly when it did.

    Who answers (DESIGN.md 8.1): the advisors @mentioned in the text (or named by id in
    `mentions`), in mention order; `@board`/`@all`, every advisor of the conversation;
    else its active advisor. A mention of an advisor on the caller's board but not the
    conversation's adds them to it. A mention meant for an advisor who cannot answer
    here (on neither board, or a first name several share) is refused (INVALID_ARGUMENT)
    with nothing stored; any other `@word` is plain text. Each answer counts against the
    plan's generations a day: over it the message is still kept, and a system message in
    the conversation says RATE_LIMITED, with when answers resume.

    Everything that reads or writes the conversation runs in the store's commit turn:
    bumping its `updatedAt` adds entries to every conversations index, where concurrent
    senders look up their own conversations, and on PostgreSQL a read of it before the
    turn collides with them (measured: 21 of 300 sends failed, 7,620 retries per 1,000
    commits; see `commit_in_turn`).

    The original's arguments: `sender` "user" (or absent) is all of the above;
    "advisor" is an advisor's message the client writes itself (see
    `_write_advisor_message`); "system" is refused, since system messages are the
    server's own voice (quota notices). `contentJson` (any JSON, bounded) and `tokensUsed`
    (a non-negative number) are stored with the message; a null `contentJson` is none."""
    user = await require_user(ctx)
    sender = args.get("sender", "user")
    if sender == "system":
        raise FunctionError(
            Code.INVALID_ARGUMENT,
            "system messages are the server's own (quota notices): a client writes as "
            "`user`, or as `advisor` for an advisor on the conversation's board",
            field="sender",
        )
    content = args["content"]
    if not content.strip():
        raise FunctionError(Code.INVALID_ARGUMENT, "a message cannot be empty", field="content")
    extras = _extras(args)
    require_small(ctx, user, {"content": content, **extras})
    if sender == "advisor":
        return await _write_advisor_message(ctx, user, args, extras)
    if "advisorId" in args:
        raise FunctionError(
            Code.INVALID_ARGUMENT,
            "a user's message has no advisorId: @mention advisors, or list them in `mentions`",
            field="advisorId",
        )
    await consume(ctx, user, "messages")
    await ctx.db.commit_in_turn()
    conversation = await own_conversation(ctx, args["conversationId"], user)
    board, answering, mentioned = await _who_answers(ctx, user, conversation, content, args)
    now = now_ms()
    message_id = await ctx.db.insert(
        "messages",
        {
            "conversationId": conversation["_id"],
            "sender": "user",
            "content": content,
            "mentions": mentioned,
            "createdAt": now,
            "status": "complete",
            **extras,
        },
    )
    if answering:
        await _schedule_round(ctx, user, conversation["_id"], message_id, answering, now)
    await touch_conversation(ctx, conversation, board, now)
    return message_id


def _extras(args: Args) -> dict[str, Any]:
    """The original's `contentJson` and `tokensUsed`, as stored (a null `contentJson` is
    none, as the original's client sends it)."""
    extras = {k: args[k] for k in ("contentJson", "tokensUsed") if args.get(k) is not None}
    return extras


async def _write_advisor_message(
    ctx: MutationCtx, user: Document, args: Args, extras: dict[str, Any]
) -> str:
    """An advisor's message the client writes into its own conversation (the original's
    clients wrote their model's answers this way): only for an advisor on the
    conversation's board whom the caller can see, stored complete, counted against the
    plan's messages a minute, and scheduling nothing (no advisor answers it)."""
    advisor_id = args.get("advisorId")
    if advisor_id is None:
        raise FunctionError(
            Code.INVALID_ARGUMENT, "an advisor's message names its advisor", field="advisorId"
        )
    await consume(ctx, user, "messages")
    await ctx.db.commit_in_turn()
    conversation = await own_conversation(ctx, args["conversationId"], user)
    board = conversation.get("advisorIds", [])
    if advisor_id not in board:
        raise FunctionError(
            Code.INVALID_ARGUMENT,
            "only an advisor on the conversation's board can be a message's sender",
            field="advisorId",
        )
    await visible_advisor(ctx, advisor_id, user)  # a deleted one may sit on a board a while
    now = now_ms()
    message_id = await ctx.db.insert(
        "messages",
        {
            "conversationId": conversation["_id"],
            "sender": "advisor",
            "advisorId": advisor_id,
            "content": args["content"],
            "mentions": [m for m in dict.fromkeys(args.get("mentions", [])) if m in board],
            "createdAt": now,
            "status": "complete",
            **extras,
        },
    )
    await ctx.db.patch("conversations", conversation["_id"], {"updatedAt": now})
    return message_id


async def _who_answers(
    ctx: MutationCtx, user: Document, conversation: Document, content: str, args: Args
) -> tuple[list[str], list[str], list[str]]:
    """(the conversation's board after this message, who answers in order, who was
    mentioned). The caller's own board is read only when the text may hold a mention."""
    board = list(conversation.get("advisorIds", []))
    members = await _members(ctx, board)
    found = parse_mentions(content, members)
    extra: list[Member] = []
    if _MAY_MENTION.search(content):
        extra = [m for m in await _selected(ctx, user) if m.advisor_id not in board]
    if extra:
        # Full names reach the caller's whole board; a first name the conversation's
        # board resolves stays with it ("@Margaret" is the Margaret here).
        widened = parse_mentions(content, members + extra)
        if not widened.unknown or found.unknown:
            found = widened
        board += [a for a in found.advisor_ids if a not in board]
    await _refuse_missed_mentions(ctx, user, found.unknown, members + extra)
    named = list(found.advisor_ids)
    by_id = [a for a in dict.fromkeys(args.get("mentions", [])) if a not in named]
    if any(a not in board for a in by_id):  # ids a client resolved from the caller's board
        selected = {m.advisor_id for m in extra} or {
            m.advisor_id for m in await _selected(ctx, user)
        }
        board += [a for a in by_id if a not in board and a in selected]
    named += [a for a in by_id if a in board]  # any other id names no one here
    require_seats(board, "mentions")
    mentions = Mentions(tuple(named), found.everyone, ())
    return board, who_answers(mentions, board, conversation.get("activeAdvisorId")), named


async def _refuse_missed_mentions(
    ctx: QueryCtx, user: Document, unknown: tuple[str, ...], members: list[Member]
) -> None:
    """An `@word` naming no advisor here is plain text (`@dataclass`, `@Stripe`), but one
    that was meant for an advisor is refused, so the question never goes to the wrong
    one: a first name several advisors here share, or the name of an advisor the caller
    can see who is on neither this conversation's board nor theirs."""
    for written in unknown:
        first = written.split()[0].casefold()
        sharing = [m.name for m in members if m.name.split()[0].casefold() == first]
        if len(sharing) > 1:
            raise FunctionError(
                Code.INVALID_ARGUMENT,
                f"@{written} could be {' or '.join(sharing)}: write the full name",
                field="content",
                mention=written,
            )
        if (named := await _visible_named(ctx, user, written)) is not None:
            raise FunctionError(
                Code.INVALID_ARGUMENT,
                f"{named} is not on this conversation's board or yours: add them first",
                field="content",
                mention=written,
            )


async def _visible_named(ctx: QueryCtx, user: Document, written: str) -> str | None:
    """The name of an advisor the caller can see whose name starts with `written` (as
    written, or capitalised), found through the persona-name index: a bounded range."""
    for prefix in dict.fromkeys((written, written[:1].upper() + written[1:])):
        candidates = await (
            ctx.db.query("advisors", "by_persona_name")
            .gte("persona.name", prefix)
            .lt("persona.name", prefix + "\uffff")
            .take(20)
        )
        for advisor in candidates:
            name = display_name(advisor)
            whole = name == prefix or name.startswith(prefix + " ")
            visible = advisor.get("isPublic") or advisor.get("ownerId") == user["_id"]
            if whole and visible and advisor.get("status") != "archived":
                return name
    return None


async def _members(ctx: QueryCtx, advisor_ids: list[str]) -> list[Member]:
    members = []
    for advisor_id in advisor_ids:
        if (advisor := await ctx.db.get("advisors", advisor_id)) is not None:
            members.append(Member(advisor["_id"], display_name(advisor)))
    return members


async def _selected(ctx: QueryCtx, user: Document) -> list[Member]:
    """The advisors on the caller's board (their selections), still visible to them."""
    chosen = await ctx.db.query("userAdvisors", "by_user").eq("userId", user["_id"]).take(200)
    members = []
    for selection in chosen:
        advisor = await ctx.db.get("advisors", selection["advisorId"])
        if advisor is not None and (
            advisor.get("isPublic") or advisor.get("ownerId") == user["_id"]
        ):
            members.append(Member(advisor["_id"], display_name(advisor)))
    return members


async def _schedule_round(
    ctx: MutationCtx,
    user: Document,
    conversation_id: str,
    message_id: str,
    answering: list[str],
    now: float,
) -> None:
    """The round, or, over the plan's generations a day, a system message saying so."""
    try:
        await consume(ctx, user, "generations", len(answering))
    except FunctionError as exc:
        if exc.code is not Code.RATE_LIMITED:
            raise
        await ctx.db.insert(
            "messages",
            {
                "conversationId": conversation_id,
                "sender": "system",
                "content": f"No answer: {exc.message}. Answers resume at "
                f"{_utc(exc.data['retryAt'])}.",
                "mentions": [],
                "createdAt": now,
                "status": "error",
                "error": exc.message,
                "errorCode": Code.RATE_LIMITED.value,
            },
        )
        return
    round_id = await ctx.scheduler.run_after(
        0,
        "chat:round",
        {
            "conversationId": conversation_id,
            "questionId": message_id,
            "askedAt": now,
            "advisorIds": answering,
        },
    )
    await ctx.db.patch("messages", message_id, {"roundId": round_id})


def _utc(ms: float) -> str:
    return datetime.fromtimestamp(ms / 1000, tz=UTC).strftime("%Y-%m-%d %H:%M UTC")


@mutation(
    "messages:updateMessage",
    {
        "messageId": v.id("messages"),
        "content": v.optional(CONTENT),
        "contentJson": v.optional(CONTENT_JSON),
        "mentions": MENTIONS,
    },
)
async def update_message(ctx: MutationCtx, args: Args) -> Document:
    """Edit one of the caller's own messages (advisors' answers are not theirs to edit):
    its text, the original's `contentJson` (null removes it) or its `mentions` (kept to
    advisors on the conversation's board; an edit asks no one again). Answers the message
    as edited (the original answered null)."""
    message = await own_in_conversation(ctx, "messages", args["messageId"])
    if message["sender"] != "user":
        raise FunctionError(Code.INVALID_ARGUMENT, "only your own messages can be edited")
    changes: dict[str, Any] = {}
    if "content" in args:
        if not args["content"].strip():
            raise FunctionError(Code.INVALID_ARGUMENT, "a message cannot be empty", field="content")
        changes["content"] = args["content"]
    if "contentJson" in args:
        changes["contentJson"] = UNSET if args["contentJson"] is None else args["contentJson"]
    if "mentions" in args:
        conversation = await ctx.db.get("conversations", message["conversationId"])
        board = (conversation or {}).get("advisorIds", [])
        changes["mentions"] = [m for m in dict.fromkeys(args["mentions"]) if m in board]
    if not changes:
        return message
    stored = {
        k: value
        for k, value in changes.items()
        if k in ("content", "contentJson") and value is not UNSET
    }
    require_small(ctx, await require_user(ctx), stored)
    return await ctx.db.patch("messages", message["_id"], changes)


@mutation("messages:deleteMessage", {"messageId": v.id("messages")})
async def delete_message(ctx: MutationCtx, args: Args) -> None:
    message = await own_in_conversation(ctx, "messages", args["messageId"])
    await ctx.db.delete("messages", message["_id"])


@query("messages:getMessageById", {"messageId": v.id("messages")})
async def get_message_by_id(ctx: QueryCtx, args: Args) -> Document:
    """A message in one of the caller's conversations, with its `advisor`. Missing or
    another user's: NOT_FOUND alike (the original answered null for a missing one, and
    anyone's message to anyone, signed in or not)."""
    message = await own_in_conversation(ctx, "messages", args["messageId"])
    return await with_advisor(Advisors(ctx), message)


@query(
    "messages:searchMessages",
    {
        "query": v.optional(v.string(max_length=limits.SEARCH)),
        "searchTerm": v.optional(v.string(max_length=limits.SEARCH)),
        "conversationId": v.optional(v.id("conversations")),
        "limit": v.optional(v.number(minimum=1, maximum=100)),
    },
)
async def search_messages(ctx: QueryCtx, args: Args) -> list[Document]:
    """Messages in the caller's conversations (or one of them) having every word of the
    query, the last as a prefix: best match first. Served by the text index, narrowed to
    the caller's conversations inside it (the SEARCHED_CONVERSATIONS most recently active),
    so the cost follows what is found, not the length of the caller's history.

    The original's `searchTerm` (instead of `query`) answers its shape: the same matches,
    newest first, each with its `advisor`. It matched any substring; here a term matches
    whole words and the last one a word's beginning ("runw" finds "runway")."""
    if ("query" in args) == ("searchTerm" in args):
        raise FunctionError(
            Code.INVALID_ARGUMENT,
            "give `query` (or the original's `searchTerm`), not both",
            field="query",
        )
    user = await require_user(ctx)
    if "conversationId" in args:
        conversations = [(await own_conversation(ctx, args["conversationId"]))["_id"]]
    else:
        recent = (
            ctx.db.query("conversations", "by_user_updated").eq("userId", user["_id"]).order("desc")
        )
        conversations = [c["_id"] for c in await recent.take(SEARCHED_CONVERSATIONS)]
    found = await ctx.db.search(
        "messages",
        "search_content",
        args["query"] if "query" in args else args["searchTerm"],
        {"conversationId": conversations},
        limit=int(args.get("limit", 20)),
    )
    if "searchTerm" not in args:
        return found
    found.sort(key=lambda m: (m["createdAt"], m["_creationTime"]), reverse=True)
    advisors = Advisors(ctx)
    return [await with_advisor(advisors, message) for message in found]


@query("messages:getMessageStats", {"conversationId": v.id("conversations")})
async def get_message_stats(ctx: QueryCtx, args: Args) -> dict[str, Any]:
    """The original's counts for one of the caller's conversations: messages by sender,
    tokens, first and last message times. Read from the STATS_SCAN newest messages; a
    longer conversation answers `partial: true` (counts of those) with its true
    `firstMessageAt`, so the cost stays bounded whatever its history."""
    conversation = await own_conversation(ctx, args["conversationId"])

    def messages() -> IndexQuery:
        return ctx.db.query("messages", "by_conversation_created").eq(
            "conversationId", conversation["_id"]
        )

    read = await messages().order("desc").take(STATS_SCAN)
    partial = len(read) == STATS_SCAN and await messages().count(STATS_SCAN + 1) > STATS_SCAN
    first = await messages().order("asc").first() if partial else (read[-1] if read else None)
    senders = [m["sender"] for m in read]
    return {
        "totalMessages": len(read),
        "userMessages": senders.count("user"),
        "advisorMessages": senders.count("advisor"),
        "systemMessages": senders.count("system"),
        "totalTokens": sum(m.get("tokensUsed") or 0 for m in read),
        "firstMessageAt": first["createdAt"] if first else None,
        "lastMessageAt": read[0]["createdAt"] if read else None,
        "partial": partial,
    }


@query("messages:getStreamingText", {"messageId": v.id("messages")})
async def get_streaming_text(ctx: QueryCtx, args: Args) -> dict[str, Any]:
    """A message's text so far: while it streams, its chunks joined in order; after, its
    content. Any client, tab or reloaded page follows an answer with this alone."""
    message = await own_in_conversation(ctx, "messages", args["messageId"])
    text = message["content"]
    status = message.get("status", "complete")
    if status == "streaming":
        deltas = (
            await ctx.db.query("streamDeltas", "by_message_start")
            .eq("messageId", message["_id"])
            .collect()
        )
        text += "".join(d["text"] for d in deltas)
    shown = {k: message[k] for k in ("error", "errorCode", "model", "notice") if k in message}
    return {"messageId": message["_id"], "status": status, "content": text} | shown


@mutation(
    "messages:stop",
    {
        "messageId": v.optional(v.id("messages")),
        "conversationId": v.optional(v.id("conversations")),
    },
)
async def stop(ctx: MutationCtx, args: Args) -> int:
    """The stop button. Given an answer (or the question that started its round), that
    round; given a conversation, every round still answering in it. Answers in progress
    end `stopped` with their text at once, and the round is cancelled wherever it runs,
    so the advisors after it never start. Returns how many answers were stopped."""
    if ("messageId" in args) == ("conversationId" in args):
        raise FunctionError(Code.INVALID_ARGUMENT, "give a messageId or a conversationId")
    rounds: list[str] = []
    if "messageId" in args:
        message = await own_in_conversation(ctx, "messages", args["messageId"])
        if message.get("roundId"):
            rounds.append(message["roundId"])
    else:
        conversation_id = (await own_conversation(ctx, args["conversationId"]))["_id"]
        recent = await (
            ctx.db.query("messages", "by_conversation_created")
            .eq("conversationId", conversation_id)
            .order("desc")
            .take(STOP_SCAN)
        )
        for round_id in dict.fromkeys(m["roundId"] for m in recent if m.get("roundId")):
            if await _answering(ctx, round_id, recent):
                rounds.append(round_id)
    stopped = 0
    for round_id in rounds:
        await ctx.scheduler.cancel(round_id)
        stopped += await end_round_answers(ctx, round_id)
    return stopped


async def _answering(ctx: QueryCtx, round_id: str, recent: list[Document]) -> bool:
    """Whether a round may still write: its call has not ended, or an answer of it is
    still streaming."""
    call = await ctx.db.get(SCHEDULED, round_id)
    if call is not None and call["state"] in ("pending", "inProgress"):
        return True
    return any(m.get("roundId") == round_id and m.get("status") == "streaming" for m in recent)


@mutation("messages:regenerate", {"messageId": v.id("messages")})
async def regenerate(ctx: MutationCtx, args: Args) -> str:
    """Write an advisor's answer again, in place: the current text becomes its latest
    earlier version (see `messages:selectVersion`), and the advisor answers anew from
    what came before it. Counts one generation."""
    message = await own_in_conversation(ctx, "messages", args["messageId"])
    if message["sender"] != "advisor" or not message.get("advisorId"):
        raise FunctionError(Code.INVALID_ARGUMENT, "only an advisor's answer can be regenerated")
    if message.get("status") == "streaming":
        raise FunctionError(Code.CONFLICT, "this answer is still being written: stop it first")
    user = await require_user(ctx)
    await consume(ctx, user, "generations")
    versions = [*message.get("versions", []), _version(message)][-MAX_VERSIONS:]
    round_id = await ctx.scheduler.run_after(
        0,
        "chat:round",
        {
            "conversationId": message["conversationId"],
            "questionId": message["_id"],
            "askedAt": float(message["createdAt"]),
            "advisorIds": [message["advisorId"]],
            "regenerate": True,
        },
    )
    fields: dict[str, Any] = {
        "content": "",
        "status": "streaming",
        "versions": versions,
        "roundId": round_id,
    }
    fields |= {k: UNSET for k in VERSIONED}
    await ctx.db.patch("messages", message["_id"], fields)
    return round_id


def _version(message: Document) -> dict[str, Any]:
    version = {
        "content": message["content"],
        "createdAt": float(message["createdAt"]),
        "status": message.get("status", "complete"),
    }
    return version | {k: message[k] for k in VERSIONED if k in message}


@mutation(
    "messages:selectVersion",
    {"messageId": v.id("messages"), "version": v.number(minimum=0, maximum=MAX_VERSIONS - 1)},
)
async def select_version(ctx: MutationCtx, args: Args) -> Document:
    """Go back to an earlier version of a regenerated answer: it becomes the shown one,
    and the shown one takes its place among the versions, so nothing is lost."""
    message = await own_in_conversation(ctx, "messages", args["messageId"])
    versions = list(message.get("versions", []))
    index = int(args["version"])
    if index != args["version"] or index >= len(versions):
        raise FunctionError(
            Code.INVALID_ARGUMENT,
            f"this answer has {len(versions)} earlier versions",
            field="version",
        )
    if message.get("status") == "streaming":
        raise FunctionError(Code.CONFLICT, "this answer is still being written: stop it first")
    chosen = versions[index]
    versions[index] = _version(message)
    fields: dict[str, Any] = {"versions": versions, "content": chosen["content"]}
    fields["status"] = chosen.get("status", "complete")
    for key in VERSIONED:
        fields[key] = chosen.get(key, UNSET)
    return await ctx.db.patch("messages", message["_id"], fields)


MIGRATION = "the original's migration scripts used it; `advisor-chat import` replaces it"

RETIRED = (
    Retired(
        "messages:create",
        f"it wrote a message into any conversation without signing in; {MIGRATION}",
    ),
    Retired("messages:list", f"it read every user's messages signed out; {MIGRATION}"),
)

FUNCTIONS = (
    get_conversation_messages,
    get_recent_messages,
    get_message_by_id,
    get_message_stats,
    send_message,
    send_message.alias("messages:appendMessage"),
    update_message,
    delete_message,
    search_messages,
    get_streaming_text,
    stop,
    regenerate,
    select_version,
)
