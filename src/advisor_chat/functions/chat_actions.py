"""chat_actions: asking from an action, the original app's `chat:sendChatMessage` and seed
002's `chat:streamAssistantResponse` (also `messages:streamAssistantResponse`), with the
internal functions they call. Apart from chat.py because they are entry points onto the
engine, not part of it: both answer through its round, never a copy of it. A question sent
with sendChatMessage goes through `messages:sendMessage` itself (its quota, storage, bounds
and ownership checks), and an answer streamAssistantResponse starts is a round writing into
a message made for it. An answer a client streams itself is written as the engine writes
its own, one `streamDeltas` row per call, and a scheduled call ends it `stopped` once the
client falls silent, as a typing indicator lapses (realtime.py).
"""

from __future__ import annotations

import asyncio
import itertools
from typing import Any

from advisor_chat.clock import now_ms
from advisor_chat.errors import Code, FunctionError
from advisor_chat.functions.access import (
    not_found,
    own_conversation,
    own_in_conversation,
    require_user,
    visible_advisor,
)
from advisor_chat.functions.chat import (
    ROUND_LIMIT_S,
    ROUND_MESSAGES,
    drop_deltas,
    end_round_answers,
    make_active,
    may_answer,
)
from advisor_chat.functions.context import SCHEDULED, ActionCtx, MutationCtx, QueryCtx
from advisor_chat.functions.conversations import require_seats, touch_conversation
from advisor_chat.functions.quotas import consume
from advisor_chat.functions.registry import Args, action, mutation, query
from advisor_chat.functions.runner import check_args
from advisor_chat.functions.storage import plan_of, require_small
from advisor_chat.schema import limits
from advisor_chat.schema.fields import v
from advisor_chat.store import Document
from advisor_chat.store.query import IndexQuery

CHUNKS = v.array(v.string(max_length=limits.MESSAGE), max_items=500)  # one call's strings
POLL_S = (0.02, 0.05, 0.1, 0.2, 0.5)  # sendChatMessage looks at its round this often, then 0.5
ENDS_IDLE = "chat:endIdleStream"
MAX_WAIT_S = ROUND_LIMIT_S + 60.0  # past its round's time limit, sendChatMessage gives up


async def _seated(
    ctx: MutationCtx, user: Document, conversation: Document, advisor_id: str
) -> list[str]:
    """The conversation's board with the advisor on it: one the caller may talk to
    (public or theirs, not archived), added when not yet seated, within limits.BOARD."""
    advisor = await visible_advisor(ctx, advisor_id, user)
    if not may_answer(advisor, user):
        raise FunctionError(
            Code.INVALID_ARGUMENT, "this advisor is archived: it answers no more", field="advisorId"
        )
    board = list(conversation.get("advisorIds", []))
    if advisor["_id"] not in board:
        board.append(advisor["_id"])
        require_seats(board, "advisorId")
    return board


@mutation(
    "chat:ask",
    {
        "conversationId": v.id("conversations"),
        "message": v.string(max_length=limits.MESSAGE),
        "advisorId": v.optional(v.id("advisors")),
    },
    internal=True,
)
async def ask(ctx: MutationCtx, args: Args) -> dict[str, str]:
    """sendChatMessage's question, in one transaction: the advisor given (else the active
    one) seated on the board, then the message sent by `messages:sendMessage`'s own
    handler, addressed to that advisor. A refusal writes nothing, and so is one over the
    plan's generations a day (RATE_LIMITED): sendMessage would keep the question with a
    notice, but this call promises an answer. Returns the question's and its round's ids."""
    await ctx.db.commit_in_turn()  # the conversation is read and rewritten: see sendMessage
    user = await require_user(ctx)
    conversation = await own_conversation(ctx, args["conversationId"], user)
    advisor_id = args.get("advisorId") or conversation.get("activeAdvisorId")
    if advisor_id is None:
        raise FunctionError(
            Code.INVALID_ARGUMENT,
            "this conversation has no active advisor: say which one answers (advisorId)",
            field="advisorId",
        )
    board = await _seated(ctx, user, conversation, advisor_id)
    if board != conversation.get("advisorIds", []):
        await ctx.db.patch("conversations", conversation["_id"], {"advisorIds": board})
    if ctx.registry is None:
        raise FunctionError(Code.INTERNAL, "chat:ask runs only through a runner")
    send = ctx.registry.get("messages:sendMessage")
    sent = {"conversationId": conversation["_id"], "content": args["message"]}
    try:
        question = await send.handler(ctx, check_args(send, sent | {"mentions": [advisor_id]}))
    except FunctionError as exc:
        if exc.data.get("field") == "content":  # the original's name for it
            exc.data["field"] = "message"
        raise
    asked = await ctx.db.get("messages", question)
    if asked is None or not asked.get("roundId"):
        notice = await (
            ctx.db.query("messages", "by_conversation_created")
            .eq("conversationId", conversation["_id"])
            .order("desc")
            .first()
        )
        said = notice["content"] if notice is not None else "no answer: the plan's limit"
        raise FunctionError(Code.RATE_LIMITED, said, bucket="generations")
    return {"questionId": str(question), "roundId": str(asked["roundId"]), "advisorId": advisor_id}


@query(
    "chat:roundAnswer",
    {"roundId": v.string(max_length=limits.ID), "advisorId": v.id("advisors")},
    internal=True,
)
async def round_answer(ctx: QueryCtx, args: Args) -> dict[str, Any]:
    """Whether the caller's round has ended, and its answer by the advisor (else its
    first): once the round's call has ended, every answer of it has (`on_unfinished`)."""
    user = await require_user(ctx)
    call = await ctx.db.get(SCHEDULED, args["roundId"])
    answers = []
    for message in (
        await ctx.db.query("messages", "by_round")
        .eq("roundId", args["roundId"])
        .take(ROUND_MESSAGES)
    ):
        if message["sender"] == "advisor":
            await own_conversation(ctx, message["conversationId"], user)
            answers.append(message)
    mine = [m for m in answers if m.get("advisorId") == args["advisorId"]]
    ended = call is None or call["state"] not in ("pending", "inProgress")
    return {
        "ended": ended,
        "answer": next(iter(mine or answers), None),
        "error": call.get("error") if call is not None else None,
    }


@mutation("chat:stopRound", {"roundId": v.string(max_length=limits.ID)}, internal=True)
async def stop_round(ctx: MutationCtx, args: Args) -> int:
    """End a round its caller no longer waits for, as the stop button does: cancelled
    wherever it runs, its answers `stopped` with their text."""
    call = await ctx.db.get(SCHEDULED, args["roundId"])
    identity = ctx.require_identity()
    scheduled_by = (call or {}).get("identity") or {}
    if (scheduled_by.get("issuer"), scheduled_by.get("subject")) != (
        identity.issuer,
        identity.subject,
    ):
        return 0  # not a round of the caller's
    await ctx.scheduler.cancel(args["roundId"])
    return await end_round_answers(ctx, args["roundId"])


@action(
    "chat:sendChatMessage",
    {
        "conversationId": v.id("conversations"),
        "message": v.string(max_length=limits.MESSAGE),
        "advisorId": v.optional(v.id("advisors")),
    },
)
async def send_chat_message(ctx: ActionCtx, args: Args) -> dict[str, Any]:
    """The original app's chat action: the question saved, and the advisor's answer (the
    one given, else the conversation's active one), streamed as any answer is, then
    returned whole: `{success, messageId, content, tokensUsed?}`. An answer ended by the
    stop button returns `success: false` with its text; a failed one raises its code. If
    this call is cut off while waiting (its connection closed, the server stopping), its
    round is stopped too, so nothing is left answering for nobody; its server dying ends
    the round through `on_unfinished`."""
    asked = await ctx.run_mutation("chat:ask", args)
    round_id = asked["roundId"]
    try:
        found = await _round_end(ctx, round_id, asked["advisorId"])
    except asyncio.CancelledError:
        await ctx.run_mutation("chat:stopRound", {"roundId": round_id})
        raise
    except TimeoutError:
        await ctx.run_mutation("chat:stopRound", {"roundId": round_id})
        raise FunctionError(Code.TIMEOUT, "the answer took too long: it was stopped") from None
    answer = found["answer"]
    if answer is None:
        code, _, said = (found.get("error") or "").partition(": ")
        known = code if code in Code.__members__ else Code.INTERNAL.value
        raise FunctionError(Code(known), said or "the round ended without an answer")
    if answer.get("status") == "error":
        code = answer.get("errorCode", Code.PROVIDER_ERROR.value)
        known = code if code in Code.__members__ else Code.PROVIDER_ERROR.value
        raise FunctionError(
            Code(known), answer.get("error", "the answer failed"), messageId=answer["_id"]
        )
    result: dict[str, Any] = {
        "success": answer.get("status", "complete") == "complete",
        "messageId": answer["_id"],
        "content": answer["content"],
    }
    if "tokensUsed" in answer:
        result["tokensUsed"] = answer["tokensUsed"]
    if answer.get("status") == "stopped":
        result["stopped"] = True
    return result


async def _round_end(ctx: ActionCtx, round_id: str, advisor_id: str) -> dict[str, Any]:
    """Wait for the round's call to end (raising TimeoutError past MAX_WAIT_S)."""
    async with asyncio.timeout(MAX_WAIT_S):
        for turn in itertools.count():
            found: dict[str, Any] = await ctx.run_query(
                "chat:roundAnswer", {"roundId": round_id, "advisorId": advisor_id}
            )
            if found["ended"]:
                return found
            await asyncio.sleep(POLL_S[min(turn, len(POLL_S) - 1)])
    raise AssertionError("unreachable")


@mutation(
    "chat:startAnswer",
    {"conversationId": v.id("conversations"), "advisorId": v.id("advisors")},
    internal=True,
)
async def start_answer(ctx: MutationCtx, args: Args) -> str:
    """streamAssistantResponse without chunks: the advisor's message, `streaming`, and the
    round that writes it from the conversation so far (as a regenerated answer is
    written). Counts one generation; the advisor is seated on the board if needed."""
    await ctx.db.commit_in_turn()
    user = await require_user(ctx)
    conversation = await own_conversation(ctx, args["conversationId"], user)
    board = await _seated(ctx, user, conversation, args["advisorId"])
    await consume(ctx, user, "generations")
    now = now_ms()
    message_id = await _advisor_message(ctx, conversation["_id"], args["advisorId"], now)
    round_id = await ctx.scheduler.run_after(
        0,
        "chat:round",
        {
            "conversationId": conversation["_id"],
            "questionId": message_id,
            "askedAt": now,
            "advisorIds": [args["advisorId"]],
            "regenerate": True,
        },
    )
    await ctx.db.patch("messages", message_id, {"roundId": round_id})
    await touch_conversation(ctx, conversation, board, now)
    return message_id


async def _advisor_message(
    ctx: MutationCtx, conversation_id: str, advisor_id: str, now: float
) -> str:
    return await ctx.db.insert(
        "messages",
        {
            "conversationId": conversation_id,
            "sender": "advisor",
            "advisorId": advisor_id,
            "content": "",
            "mentions": [],
            "createdAt": now,
            "status": "streaming",
        },
    )


CLIENT_STREAM_ARGS = {
    "conversationId": v.id("conversations"),
    "advisorId": v.id("advisors"),
    "partialChunks": CHUNKS,
    "messageId": v.optional(v.id("messages")),  # the answer a first call made: continue it
    "done": v.optional(v.boolean()),  # the last call: the answer ends `complete`
}


@mutation("chat:streamChunks", CLIENT_STREAM_ARGS, internal=True)
async def stream_chunks(ctx: MutationCtx, args: Args) -> str:
    """streamAssistantResponse with chunks: a first call (no `messageId`) makes the
    advisor's message, `streaming`, counted as one message against the plan, and schedules
    its idle end; each call appends its chunks as one `streamDeltas` row; `done` ends it
    `complete`. The whole answer is held to a message's bounds: MESSAGE characters and the
    plan's value size. Returns the message's id."""
    user = await require_user(ctx)
    text = "".join(args["partialChunks"])
    if "messageId" not in args or args.get("done"):
        await ctx.db.commit_in_turn()  # the conversation is rewritten: see sendMessage
    conversation = await own_conversation(ctx, args["conversationId"], user)
    now = now_ms()
    if "messageId" not in args:
        board = await _seated(ctx, user, conversation, args["advisorId"])
        await _require_fits(ctx, user, None, 0, text)
        await consume(ctx, user, "messages")
        message_id = await _advisor_message(ctx, conversation["_id"], args["advisorId"], now)
        ends = await ctx.scheduler.run_at(
            now + ctx.timings.client_stream_idle_ms, ENDS_IDLE, {"messageId": message_id}
        )
        await ctx.db.patch("messages", message_id, {"roundId": ends})
        await touch_conversation(ctx, conversation, board, now)
        start = 0
    else:
        message = await _client_stream(ctx, args, conversation)
        message_id = message["_id"]
        last = await _chunks(ctx, message_id).order("desc").first()
        start = int(last["end"]) if last is not None else 0
        await _require_fits(ctx, user, message_id, start, text)
    if text:
        await ctx.db.insert(
            "streamDeltas",
            {"messageId": message_id, "start": start, "end": start + len(text), "text": text}
            | {"createdAt": now},
        )
    if args.get("done"):
        if start + len(text) == 0:
            raise FunctionError(
                Code.INVALID_ARGUMENT, "an answer cannot be empty", field="partialChunks"
            )
        content = await drop_deltas(ctx, message_id)
        await ctx.db.patch("messages", message_id, {"status": "complete", "content": content})
        await make_active(ctx, conversation, args["advisorId"])
    return str(message_id)


def _chunks(ctx: QueryCtx, message_id: str) -> IndexQuery:
    return ctx.db.query("streamDeltas", "by_message_start").eq("messageId", message_id)


async def _client_stream(ctx: MutationCtx, args: Args, conversation: Document) -> Document:
    """The answer a first call made, still streaming, in this conversation by this advisor."""
    message = await ctx.db.get("messages", args["messageId"])
    if message is None or message["conversationId"] != conversation["_id"]:
        raise not_found("messages", args["messageId"])
    call = await ctx.db.get(SCHEDULED, message["roundId"]) if message.get("roundId") else None
    if call is None or call["name"] != ENDS_IDLE or message.get("advisorId") != args["advisorId"]:
        raise FunctionError(
            Code.INVALID_ARGUMENT,
            "this message is not an answer this advisor's client is streaming",
            field="messageId",
        )
    if message.get("status") != "streaming":
        raise FunctionError(
            Code.CONFLICT,
            f"this answer has ended ({message.get('status')}): start another",
            field="messageId",
        )
    return message


async def _require_fits(
    ctx: MutationCtx, user: Document, message_id: str | None, start: int, text: str
) -> None:
    """The answer with `text` added stays within a message's bounds. Its size in bytes is
    counted only when it may be near the plan's limit (a character is at most 4 bytes)."""
    if start + len(text) > limits.MESSAGE:
        raise FunctionError(
            Code.INVALID_ARGUMENT,
            f"an answer holds at most {limits.MESSAGE} characters",
            field="partialChunks",
        )
    if 4 * start + len(text.encode()) > plan_of(ctx, user).value_bytes:
        earlier = [] if message_id is None else await _chunks(ctx, message_id).collect()
        require_small(ctx, user, {"partialChunks": "".join(d["text"] for d in earlier) + text})


@mutation(ENDS_IDLE, {"messageId": v.id("messages")}, internal=True)
async def end_idle_stream(ctx: MutationCtx, args: Args) -> bool:
    """A client-streamed answer that received nothing for `client_stream_idle_ms` ends
    `stopped` with its text; one still receiving is looked at again when it would lapse.
    Ended by the client, stopped or deleted meanwhile: nothing to do."""
    try:
        message = await own_in_conversation(ctx, "messages", args["messageId"])
    except FunctionError:
        return False
    if message.get("status") != "streaming" or not message.get("roundId"):
        return False
    last = await _chunks(ctx, message["_id"]).order("desc").first()
    since = float(last["createdAt"] if last is not None else message["createdAt"])
    lapses = since + ctx.timings.client_stream_idle_ms
    if lapses > now_ms():
        await ctx.scheduler.run_at(lapses, ENDS_IDLE, args)
        return False
    return await end_round_answers(ctx, message["roundId"]) > 0


@action(
    "chat:streamAssistantResponse",
    {
        "conversationId": v.id("conversations"),
        "advisorId": v.id("advisors"),
        "partialChunks": v.optional(CHUNKS),
        "messageId": v.optional(v.id("messages")),
        "done": v.optional(v.boolean()),
    },
)
async def stream_assistant_response(ctx: ActionCtx, args: Args) -> str:
    """Seed 002's streamAssistantResponse(conversationId, advisorId, partialChunks?).
    Without `partialChunks`: the advisor starts answering the conversation so far, its
    answer streamed by the engine; returns the answer's message id at once. With them: a
    client streaming an answer itself appends to it (see `chat:streamChunks`); the first
    call returns the id the next ones pass as `messageId`, the last passes `done`."""
    if "partialChunks" in args:
        return str(await ctx.run_mutation("chat:streamChunks", args))
    for name in ("messageId", "done"):
        if name in args:
            raise FunctionError(
                Code.INVALID_ARGUMENT,
                f"{name} continues an answer a client streams: give partialChunks with it",
                field=name,
            )
    started = {"conversationId": args["conversationId"], "advisorId": args["advisorId"]}
    return str(await ctx.run_mutation("chat:startAnswer", started))


FUNCTIONS = (
    ask,
    round_answer,
    stop_round,
    send_chat_message,
    start_answer,
    stream_chunks,
    end_idle_stream,
    stream_assistant_response,
    stream_assistant_response.alias("messages:streamAssistantResponse"),
)
