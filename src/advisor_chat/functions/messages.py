"""messages: what the caller and their advisors said in a conversation."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from advisor_chat.ai.mentions import Member, Mentions, parse_mentions, who_answers
from advisor_chat.ai.persona import display_name
from advisor_chat.clock import now_ms
from advisor_chat.errors import Code, FunctionError
from advisor_chat.functions.access import own_conversation, own_in_conversation, require_user
from advisor_chat.functions.chat import MAX_VERSIONS, end_round_answers
from advisor_chat.functions.context import SCHEDULED, MutationCtx, QueryCtx
from advisor_chat.functions.conversations import MAX_BOARD
from advisor_chat.functions.pagination import PAGINATION_OPTS, paginate
from advisor_chat.functions.quotas import consume
from advisor_chat.functions.registry import Args, mutation, query
from advisor_chat.functions.storage import require_small
from advisor_chat.schema import limits
from advisor_chat.schema.fields import v
from advisor_chat.store import UNSET, Document

MAX_CONTENT = limits.MESSAGE  # characters in one message
CONTENT = v.string(max_length=MAX_CONTENT)
MENTIONS = v.optional(v.array(v.string(max_length=limits.NAME), max_items=limits.ITEMS))
SEARCHED_CONVERSATIONS = 2_000  # a search across conversations covers the most recent
STOP_SCAN = 50  # a conversation's stop looks for rounds among its newest messages
_MAY_MENTION = re.compile(r"(?<![\w@])@\w")  # a mention may be in the text
VERSIONED = ("model", "tokensUsed", "error", "errorCode", "notice")  # kept with each version


@query(
    "messages:getConversationMessages",
    {
        "conversationId": v.id("conversations"),
        "paginationOpts": PAGINATION_OPTS,
        "order": v.optional(v.literals("asc", "desc")),
    },
)
async def get_conversation_messages(ctx: QueryCtx, args: Args) -> dict[str, Any]:
    """Messages in the order they were written, a page at a time; `order: "desc"` gives
    the newest first, as a chat view loads them (older pages on scroll, new messages
    joining the first page)."""
    conversation = await own_conversation(ctx, args["conversationId"])
    listed = (
        ctx.db.query("messages", "by_conversation_created")
        .eq("conversationId", conversation["_id"])
        .order(args.get("order", "asc"))
    )
    return await paginate(listed, args, ctx.journal)


@mutation(
    "messages:sendMessage",
    {"conversationId": v.id("conversations"), "content": CONTENT, "mentions": MENTIONS},
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
    commits; see `commit_in_turn`)."""
    user = await require_user(ctx)
    content = args["content"]
    if not content.strip():
        raise FunctionError(Code.INVALID_ARGUMENT, "a message cannot be empty", field="content")
    require_small(ctx, user, {"content": content})
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
        },
    )
    if answering:
        await _schedule_round(ctx, user, conversation["_id"], message_id, answering, now)
    changes: dict[str, Any] = {"updatedAt": now}
    if board != conversation.get("advisorIds", []):
        changes["advisorIds"] = board
    await ctx.db.patch("conversations", conversation["_id"], changes)
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
    for advisor_id in args.get("mentions", []):  # ids a client resolved itself
        if advisor_id in board and advisor_id not in named:
            named.append(advisor_id)
    if len(board) > MAX_BOARD:
        raise FunctionError(
            Code.INVALID_ARGUMENT, f"a conversation seats at most {MAX_BOARD} advisors"
        )
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


@mutation("messages:updateMessage", {"messageId": v.id("messages"), "content": CONTENT})
async def update_message(ctx: MutationCtx, args: Args) -> Document:
    """Edit one of the caller's own messages (advisors' answers are not theirs to edit)."""
    message = await own_in_conversation(ctx, "messages", args["messageId"])
    if message["sender"] != "user":
        raise FunctionError(Code.INVALID_ARGUMENT, "only your own messages can be edited")
    require_small(ctx, await require_user(ctx), {"content": args["content"]})
    return await ctx.db.patch("messages", message["_id"], {"content": args["content"]})


@mutation("messages:deleteMessage", {"messageId": v.id("messages")})
async def delete_message(ctx: MutationCtx, args: Args) -> None:
    message = await own_in_conversation(ctx, "messages", args["messageId"])
    await ctx.db.delete("messages", message["_id"])


@query(
    "messages:searchMessages",
    {
        "query": v.string(max_length=limits.SEARCH),
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


FUNCTIONS = (
    get_conversation_messages,
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
