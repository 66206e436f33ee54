"""chat: advisors answering (DESIGN.md 8). A user's message schedules a *round*, one
durable scheduled call in the long lane that runs on the server, detached from any
connection: each advisor of the round in turn reads its context, streams its answer into
`streamDeltas` and ends it `complete`, `stopped` or `error`. Later advisors of a round see
the earlier answers. After a round, low-priority chores (title, memories, summary) run in
the short lane.

Every step the round takes is one of the internal functions below, called as the user who
sent the message, so row-level security holds for the engine as for any client: a
conversation deleted mid-round stops the round at its next step. What happens to an
answer when its round is cut off is decided in one place, `end_round_answers`, used by
the stop button, by a lost round (its server died: the declaration's `on_unfinished`) and by the
round itself. The actions that ask the engine from outside (the original's sendChatMessage,
seed 002's streamAssistantResponse) are in chat_actions.py.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, Awaitable, Mapping
from typing import Any, Literal

from advisor_chat.ai.chores import (
    SummaryRequest,
    clean_summary,
    clean_title,
    grounded,
    memory_request,
    parse_memories,
    summary_request,
    title_request,
)
from advisor_chat.ai.models import Choice, Models
from advisor_chat.ai.persona import display_name, system_prompt
from advisor_chat.ai.prompt import Prompt, assemble
from advisor_chat.ai.providers.base import ChatMessage, Delta, ProviderError, Request, Usage
from advisor_chat.ai.streaming import DeltaWriter
from advisor_chat.clock import now_ms
from advisor_chat.errors import Code, FunctionError
from advisor_chat.functions.access import own_conversation, require_user
from advisor_chat.functions.context import SCHEDULED, ActionCtx, MutationCtx, QueryCtx
from advisor_chat.functions.registry import Args, action, mutation, query
from advisor_chat.functions.runner import as_function_error
from advisor_chat.functions.storage import has_room, plan_of, scope
from advisor_chat.log import get_logger
from advisor_chat.schema import limits
from advisor_chat.schema.fields import v
from advisor_chat.store import UNSET, Document
from advisor_chat.store.query import IndexQuery

log = get_logger(__name__)

HISTORY_WINDOW = 120  # newest messages a prompt is built from: its cost never grows beyond
ANSWER_TOKENS = 512  # room left for the answer within the model's budget
ROUND_MESSAGES = 64  # a round's question and answers (at most one per advisor: 20)
MAX_VERSIONS = 10  # earlier versions kept of a regenerated answer
MAX_MEMORIES = 50  # per advisor and conversation
SUMMARY_SPAN = 60  # messages folded into the summary by one chore
RETRY_DELAYS_S = (0.5, 1.5)  # a failing model is tried again after these, then the fallback
FINISH_RETRY_S = (0.05, 0.2, 0.5, 1.0)  # an answer's end lost to contention is tried again
ROUND_LIMIT_S = 600.0  # a round's time limit: every answer of it ends by then
WAITING = "Waiting for the offline model: it writes one answer at a time."

AnswerEnd = Literal["complete", "stopped", "error"]


# --- the engine's steps (internal) ----------------------------------------------------


@query(
    "chat:context",
    {
        "conversationId": v.id("conversations"),
        "advisorId": v.id("advisors"),
        "roundId": v.string(max_length=limits.ID),
        "upTo": v.optional(v.number()),  # the round's question: nothing written after it
        "before": v.optional(v.number()),  # a regenerated answer: what came before it
    },
    internal=True,
)
async def context(ctx: QueryCtx, args: Args) -> dict[str, Any] | None:
    """Everything one advisor's turn is built from, read at one snapshot: the advisor, the
    others on the board, its memories, the latest summary, and the newest messages after
    it up to the round's question, with the answers its round gave since. Another round
    running in the conversation at the same time is not this round's context. None: the
    conversation is gone, or the advisor is no longer one the user may talk to (deleted,
    archived, made private), and the turn is not taken."""
    user = await require_user(ctx)
    conversation = await ctx.db.get("conversations", args["conversationId"])
    advisor = await ctx.db.get("advisors", args["advisorId"])
    if conversation is None or conversation["userId"] != user["_id"]:
        return None
    if advisor is None or not may_answer(advisor, user):
        return None
    roster = []
    for other_id in conversation.get("advisorIds", []):
        if other_id != advisor["_id"] and (other := await ctx.db.get("advisors", other_id)):
            roster.append(other)
    memories = await (
        ctx.db.query("advisorMemories", "by_conversation_advisor")
        .eq("conversationId", conversation["_id"])
        .eq("advisorId", advisor["_id"])
        .take(MAX_MEMORIES)
    )
    summary, history = await _since_summary(ctx, conversation["_id"])
    if "before" in args:
        history = history.lt("createdAt", args["before"])
    elif "upTo" in args:
        history = history.lte("createdAt", args["upTo"])
    recent = await history.order("desc").take(HISTORY_WINDOW)
    since = [
        m
        for m in await ctx.db.query("messages", "by_round")
        .eq("roundId", args["roundId"])
        .take(ROUND_MESSAGES)
        if m["sender"] == "advisor" and m["_id"] not in {r["_id"] for r in recent}
    ]
    window = sorted(since, key=lambda m: m["createdAt"], reverse=True) + recent
    names = {a["_id"]: display_name(a) for a in [advisor, *roster]}
    for message in window:  # answers of advisors since taken off the board
        other_id = message.get("advisorId")
        if other_id and other_id not in names and (gone := await ctx.db.get("advisors", other_id)):
            names[other_id] = display_name(gone)
    return {
        "advisor": advisor,
        "roster": roster,
        "memories": memories,
        "summary": summary,
        "history": [m for m in window if m.get("status", "complete") != "streaming"],
        "more": len(recent) == HISTORY_WINDOW,  # older messages exist beyond the window
        "names": names,
        "plan": user.get("plan"),
    }


def may_answer(advisor: Document, user: Document) -> bool:
    """An advisor answers while the user may still see it and it is not archived."""
    visible = advisor.get("isPublic") or advisor.get("ownerId") == user["_id"]
    return bool(visible) and advisor.get("status") != "archived"


async def _since_summary(ctx: QueryCtx, conversation_id: str) -> tuple[Document | None, IndexQuery]:
    """The conversation's latest summary, and its messages written after the last one
    that summary covers (all of them without one), in order."""
    summary = await (
        ctx.db.query("threadSummaries", "by_conversation")
        .eq("conversationId", conversation_id)
        .order("desc")
        .first()
    )
    after = await _summary_end(ctx, summary)
    messages = ctx.db.query("messages", "by_conversation_created").eq(
        "conversationId", conversation_id
    )
    return summary, messages if after is None else messages.gt("createdAt", after)


async def _summary_end(ctx: QueryCtx, summary: Document | None) -> float | None:
    """When the last message a summary covers was written: later ones follow it."""
    if summary is None or not summary.get("endMessageId"):
        return None
    try:
        end = await ctx.db.get("messages", summary["endMessageId"])
    except Exception:  # an imported summary may name an id of another shape
        return None
    return None if end is None else float(end["createdAt"])


async def _round_message(ctx: QueryCtx, message_id: str, round_id: str) -> Document | None:
    """The message, if it is still its round's to write: a stopped answer regenerated
    since belongs to the new round, and the old one must leave it alone."""
    message = await ctx.db.get("messages", message_id)
    if message is None or message.get("roundId") != round_id:
        return None
    await own_conversation(ctx, message["conversationId"])
    return message


@mutation(
    "chat:beginAnswer",
    {
        "conversationId": v.id("conversations"),
        "advisorId": v.id("advisors"),
        "roundId": v.string(max_length=limits.ID),
        "messageId": v.optional(v.id("messages")),  # a regenerated answer: reuse it
        "waiting": v.optional(v.boolean()),
    },
    internal=True,
)
async def begin_answer(ctx: MutationCtx, args: Args) -> str | None:
    """The advisor's message, `streaming`, before its first token: every reader sees who
    is answering (and that it waits its turn for the offline model). None: the round was
    stopped meanwhile, the conversation is gone, or the regenerated answer was deleted."""
    call = await ctx.db.get(SCHEDULED, args["roundId"])
    if call is not None and (call["state"] != "inProgress" or call.get("cancelRequested")):
        return None  # stopped between two advisors: the next one never starts
    try:
        conversation = await own_conversation(ctx, args["conversationId"])
    except FunctionError:
        return None
    notice = {"notice": WAITING} if args.get("waiting") else {}
    if "messageId" in args:
        message = await _round_message(ctx, args["messageId"], args["roundId"])
        if message is None or message.get("status") != "streaming":
            return None
        if notice:
            await ctx.db.patch("messages", message["_id"], notice)
        return str(message["_id"])
    return await ctx.db.insert(
        "messages",
        {
            "conversationId": conversation["_id"],
            "sender": "advisor",
            "advisorId": args["advisorId"],
            "content": "",
            "mentions": [],
            "createdAt": now_ms(),
            "status": "streaming",
            "roundId": args["roundId"],
        }
        | notice,
    )


@mutation(
    "chat:appendDelta",
    {
        "messageId": v.id("messages"),
        "roundId": v.string(max_length=limits.ID),
        "start": v.number(minimum=0),
        "text": v.string(),
    },
    internal=True,
)
async def append_delta(ctx: MutationCtx, args: Args) -> bool:
    """One chunk of an answer in progress. False: the answer is no longer this round's
    to write (stopped, regenerated by another round, deleted), and the round stops."""
    message = await _round_message(ctx, args["messageId"], args["roundId"])
    if message is None or message.get("status") != "streaming":
        return False
    start = args["start"]
    await ctx.db.insert(
        "streamDeltas",
        {
            "messageId": message["_id"],
            "start": start,
            "end": start + len(args["text"]),
            "text": args["text"],
            "createdAt": now_ms(),
        },
    )
    if message.get("notice") == WAITING:
        await ctx.db.patch("messages", message["_id"], {"notice": UNSET})
    return True


@mutation(
    "chat:finishAnswer",
    {
        "messageId": v.id("messages"),
        "roundId": v.string(max_length=limits.ID),
        "status": v.literals("complete", "stopped", "error"),
        "content": v.string(),
        "model": v.optional(v.string(max_length=limits.NAME)),
        "notice": v.optional(v.string()),
        "tokensUsed": v.optional(v.number()),
        "error": v.optional(v.string()),
        "errorCode": v.optional(v.string(max_length=limits.LABEL)),
    },
    internal=True,
)
async def finish_answer(ctx: MutationCtx, args: Args) -> bool:
    """The answer's end: its whole text on the message, its chunks deleted, the advisor
    made the conversation's active one. An answer the stop button already ended keeps
    that end, taking the longer text the round still held; one another round took over
    (regenerated since) is left alone."""
    message = await _round_message(ctx, args["messageId"], args["roundId"])
    if message is None:
        return False
    conversation = await own_conversation(ctx, message["conversationId"])
    if message.get("status") != "streaming":
        if len(args["content"]) > len(message["content"]) and message.get("status") == "stopped":
            await ctx.db.patch("messages", message["_id"], {"content": args["content"]})
        return False
    fields: dict[str, Any] = {
        "status": args["status"],
        "content": args["content"],
        "notice": args.get("notice", UNSET),
    }
    for key in ("model", "tokensUsed", "error", "errorCode"):
        if key in args:
            fields[key] = args[key]
    await drop_deltas(ctx, message["_id"])
    await ctx.db.patch("messages", message["_id"], fields)
    if args["status"] == "complete":
        await make_active(ctx, conversation, message.get("advisorId"))
    return True


async def make_active(ctx: MutationCtx, conversation: Document, advisor_id: str | None) -> None:
    """The advisor who just answered in full becomes the conversation's active one, while
    it is on the board."""
    on_board = advisor_id in conversation.get("advisorIds", [])
    if on_board and conversation.get("activeAdvisorId") != advisor_id:
        await ctx.db.patch("conversations", conversation["_id"], {"activeAdvisorId": advisor_id})


async def drop_deltas(ctx: MutationCtx, message_id: str) -> str:
    """Delete an answer's chunks; returns their text, in order."""
    deltas = (
        await ctx.db.query("streamDeltas", "by_message_start").eq("messageId", message_id).collect()
    )
    for delta in deltas:
        await ctx.db.delete("streamDeltas", delta["_id"])
    return "".join(d["text"] for d in deltas)


async def end_round_answers(ctx: MutationCtx, round_id: str) -> int:
    """End every answer of a round still `streaming` as `stopped`, with the text its
    chunks hold. A round's messages are found by its id (`by_round`): the question (if
    the user has not deleted it) and at most one answer per advisor."""
    ended = 0
    for message in (
        await ctx.db.query("messages", "by_round").eq("roundId", round_id).take(ROUND_MESSAGES)
    ):
        if message.get("status") == "streaming":
            text = await drop_deltas(ctx, message["_id"])
            await ctx.db.patch(
                "messages",
                message["_id"],
                {"status": "stopped", "content": message["content"] + text, "notice": UNSET},
            )
            ended += 1
    return ended


async def _round_unfinished(ctx: MutationCtx, args: Args) -> None:
    """A round that did not end by itself (stopped, failed, timed out, or its server died
    mid-answer: `on_unfinished`): its answers end `stopped` with the text written so far,
    never left streaming."""
    if ctx.call_id is not None:
        await end_round_answers(ctx, ctx.call_id)


ROUND_ARGS = {
    "conversationId": v.id("conversations"),
    # The user's question, or, with `regenerate`, the answer written in place: one
    # regenerated, or one `streamAssistantResponse` made before its round.
    "questionId": v.id("messages"),
    "askedAt": v.number(),  # its createdAt: the round's context ends there
    "advisorIds": v.array(v.id("advisors"), max_items=limits.BOARD),
    "regenerate": v.optional(v.boolean()),
}


@action(
    "chat:round",
    ROUND_ARGS,
    internal=True,
    lane="long",
    time_limit_s=ROUND_LIMIT_S,
    on_unfinished=_round_unfinished,
)
async def run_round(ctx: ActionCtx, args: Args) -> dict[str, Any]:
    """Each advisor of the round answers in turn; a stop ends the round. The round's id
    is its scheduled call's, which the question and every answer carry."""
    models = _models(ctx)
    round_id = ctx.call_id
    if round_id is None:
        raise FunctionError(Code.INVALID_ARGUMENT, "a round runs only as a scheduled call")
    ends: list[str] = []
    answered: list[str] = []
    chores: dict[str, Any] = {}
    for advisor_id in args["advisorIds"]:
        end, chores = await _answer(ctx, models, args, round_id, advisor_id)
        ends.append(end)
        if end == "complete":
            answered.append(advisor_id)
        if end in ("stopped", "gone"):
            break
    if answered:
        await ctx.run_mutation(
            "chat:afterRound",
            {"conversationId": args["conversationId"], "advisorIds": answered} | chores,
        )
    return {"answers": ends}


def _models(ctx: ActionCtx) -> Models:
    if ctx.models is None:
        raise FunctionError(Code.PROVIDER_ERROR, "no model provider is configured")
    return ctx.models


async def _answer(
    ctx: ActionCtx, models: Models, args: Args, round_id: str, advisor_id: str
) -> tuple[str, dict[str, Any]]:
    """One advisor's answer, from its first step to its end: how it ended, and what the
    round's chores should know of its prompt. Whatever interrupts it (the stop button, a
    time limit, a failure of the store or of a bug) ends the answer, not left streaming;
    if even that fails, the round's `on_unfinished` does it."""
    conversation_id = args["conversationId"]
    begin: dict[str, Any] = {
        "conversationId": conversation_id,
        "advisorId": advisor_id,
        "roundId": round_id,
        "waiting": bool(getattr(models.provider, "busy", False)),
    }
    bound = {"upTo": args["askedAt"]}
    if args.get("regenerate"):
        begin["messageId"] = args["questionId"]
        bound = {"before": args["askedAt"]}
    message_id = await ctx.run_mutation("chat:beginAnswer", begin)
    if message_id is None:
        return "gone", {}
    writer: DeltaWriter | None = None
    try:
        found = await ctx.run_query(
            "chat:context",
            {"conversationId": conversation_id, "advisorId": advisor_id, "roundId": round_id}
            | bound,
        )
        if found is None:
            await _finish(ctx, message_id, round_id, "stopped", "", {})
            return "gone", {}
        choice = models.choose(found["advisor"].get("modelHint"), found["plan"])

        async def flush(start: int, text: str) -> bool:
            delta = {"messageId": message_id, "roundId": round_id, "start": start, "text": text}
            return bool(await ctx.run_mutation("chat:appendDelta", delta))

        async with DeltaWriter(flush) as writer:
            outcome = await _generate(models, choice, found, advisor_id, writer)
        chores = outcome.pop("chores")
        status: AnswerEnd = (
            "stopped" if writer.stopped else "error" if "error" in outcome else "complete"
        )
        await _finish(ctx, message_id, round_id, status, writer.text, outcome)
        return status, chores
    except (asyncio.CancelledError, Exception) as exc:
        # Stopped (cancel), out of time, the server shutting down: `stopped` with what it
        # had. Anything else (the store failing, a bug): `error`, keeping the text.
        text = writer.text if writer is not None else ""
        end: dict[str, Any] = {}
        status = "stopped"
        if not isinstance(exc, asyncio.CancelledError):
            status = "error"
            failure = as_function_error(exc, "chat:round")
            end = {"error": f"the answer failed: {failure.message}", "errorCode": failure.code}
        try:
            await _finish(ctx, message_id, round_id, status, text, end)
        except Exception:  # the store is closing: the round's `on_unfinished` ends it
            log.warning("answer_end_deferred", message=message_id, exc_info=True)
        raise


async def _finish(
    ctx: ActionCtx,
    message_id: str,
    round_id: str,
    status: AnswerEnd,
    text: str,
    fields: Mapping[str, Any],
) -> None:
    """End the answer. Its end must land: one that lost to contention past the store's
    own retries (seen on PostgreSQL with 20 answers streaming) is tried again."""
    end = {"messageId": message_id, "roundId": round_id, "status": status, "content": text}
    end |= {k: str(value) if k == "errorCode" else value for k, value in fields.items()}
    for delay in FINISH_RETRY_S:
        try:
            await ctx.run_mutation("chat:finishAnswer", end)
            return
        except FunctionError as exc:
            if exc.code is not Code.CONFLICT:
                raise
            log.warning("answer_end_retried", message=message_id)
            await asyncio.sleep(delay)
    await ctx.run_mutation("chat:finishAnswer", end)


async def _generate(
    models: Models,
    choice: Choice,
    found: Mapping[str, Any],
    advisor_id: str,
    writer: DeltaWriter,
) -> dict[str, Any]:
    """Stream the answer from `choice`, retried with backoff while nothing was written,
    then from the global fallback model. Returns the answer's fields: its model, usage,
    notice, or its error and code; and the chores the round should schedule."""
    fallback = models.fallback()
    attempts: list[tuple[Choice, float]] = [(choice, 0.0)]
    attempts += [(choice, delay) for delay in RETRY_DELAYS_S]
    if fallback.model != choice.model:
        attempts += [(fallback, 0.0), (fallback, RETRY_DELAYS_S[0])]
    failure: ProviderError | None = None
    hopeless: set[str] = set()  # models that failed in a way trying again cannot mend
    for current, delay in attempts:
        if current.model in hopeless:
            continue
        if delay:
            await asyncio.sleep(delay)
        prompt = await asyncio.to_thread(_prompt, current, found, advisor_id)
        request = Request(
            model=current.model,
            messages=prompt.messages,
            max_tokens=ANSWER_TOKENS,
            cache_key=advisor_id,
        )
        usage: Usage | None = None
        stream = current.provider.stream(request)
        try:
            async for event in stream:
                if isinstance(event, Delta):
                    writer.add(event.text)
                    if writer.stopped:
                        break
                else:
                    usage = event
            if not writer.text and not writer.stopped:
                raise ProviderError(  # e.g. a reasoning model spending its budget thinking
                    f"{current.model} returned an empty answer", retryable=True, kind="provider"
                )
        except ProviderError as exc:
            failure = exc
            if not exc.retryable:
                hopeless.add(current.model)
            log.warning("answer_failed", model=current.model, kind=exc.kind, error=exc.message)
            if writer.text:  # a stream cut mid-way: the partial text is kept, not redone
                break
            continue
        finally:
            if isinstance(stream, AsyncGenerator):  # a stop leaves it early: close its request
                await stream.aclose()
        # Left out of the prompt (cut to fit, or older than the window it was built
        # from): what is older than the oldest message it kept is due for a summary.
        left_out = prompt.truncated or found["more"]
        chores: dict[str, Any] = {"truncated": left_out}
        if left_out and prompt.history_used:
            chores["keepFrom"] = found["history"][prompt.history_used - 1]["createdAt"]
        result: dict[str, Any] = {"model": current.label, "chores": chores}
        if usage is not None:
            result["tokensUsed"] = usage.prompt_tokens + usage.completion_tokens
        if (notice := current.provider.describe(current.model)) is not None:
            result["notice"] = notice
        if current is not choice:
            result["notice"] = (
                f"{choice.model} failed ({failure.message if failure else 'error'}); "
                f"answered by {current.model}. " + result.get("notice", "")
            ).strip()
        return result
    assert failure is not None
    reason = failure.message
    if writer.text:
        reason = f"the answer was cut off: {reason}"
    return {
        "model": choice.label,
        "error": reason,
        "errorCode": Code.PROVIDER_ERROR.value,
        "chores": {"truncated": False},
    }


def _prompt(choice: Choice, found: Mapping[str, Any], advisor_id: str) -> Prompt:
    """Built off the event loop: counting tokens may load a tokenizer."""
    counter = choice.provider.counter(choice.model)
    system = system_prompt(
        found["advisor"], found["roster"], max_tokens=choice.budget // 2, counter=counter
    )
    return assemble(
        system=system,
        advisor_id=advisor_id,
        names=found["names"],
        memories=found["memories"],
        summary=found["summary"],
        history=found["history"],
        counter=counter,
        budget=choice.budget,
        answer_tokens=min(ANSWER_TOKENS, choice.budget // 3),
    )


# --- after a round: title, memories, summary (low priority, best effort) --------------


CHORE_ARGS = {"conversationId": v.id("conversations")}


@mutation(
    "chat:afterRound",
    {
        "conversationId": v.id("conversations"),
        "advisorIds": v.array(v.id("advisors"), max_items=limits.BOARD),
        "truncated": v.optional(v.boolean()),
        "keepFrom": v.optional(v.number()),
    },
    internal=True,
)
async def after_round(ctx: MutationCtx, args: Args) -> list[str]:
    """Schedule the round's chores, each its own call in the short lane (they never hold
    a slot an answer could use, and one slow chore delays no other): the summary first,
    a title while the conversation has none, then what each advisor should remember."""
    conversation = await own_conversation(ctx, args["conversationId"])
    scope = {"conversationId": conversation["_id"]}
    scheduled = []
    if args.get("truncated") and "keepFrom" in args:
        summary = scope | {"keepFrom": args["keepFrom"]}
        scheduled.append(await ctx.scheduler.run_after(0, "chat:summarize", summary))
    if not conversation.get("title"):
        scheduled.append(await ctx.scheduler.run_after(0, "chat:title", scope))
    for advisor_id in args["advisorIds"]:
        remember = scope | {"advisorId": advisor_id}
        scheduled.append(await ctx.scheduler.run_after(0, "chat:remember", remember))
    return scheduled


async def _chore(name: str, conversation_id: str, work: Awaitable[bool | int]) -> bool | int:
    """A chore whose model fails is skipped: the conversation is whole without it, and
    the next round tries again."""
    try:
        return await work
    except ProviderError as exc:
        log.info("chore_skipped", chore=name, conversation=conversation_id, error=exc.message)
        return False


@action("chat:title", CHORE_ARGS, internal=True)
async def title(ctx: ActionCtx, args: Args) -> bool | int:
    """A short title for an untitled conversation, from its first exchange."""
    conversation_id = args["conversationId"]
    return await _chore("title", conversation_id, _title(ctx, _models(ctx), conversation_id))


@action("chat:remember", CHORE_ARGS | {"advisorId": v.id("advisors")}, internal=True)
async def remember(ctx: ActionCtx, args: Args) -> bool | int:
    """The durable facts about the user's situation an advisor should keep."""
    conversation_id = args["conversationId"]
    work = _memories(ctx, _models(ctx), conversation_id, args["advisorId"])
    return await _chore("memories", conversation_id, work)


@action("chat:summarize", CHORE_ARGS | {"keepFrom": v.number()}, internal=True)
async def summarize(ctx: ActionCtx, args: Args) -> bool | int:
    """Fold what no longer fits the prompt into a new thread summary."""
    conversation_id = args["conversationId"]
    work = _summary(ctx, _models(ctx), conversation_id, args["keepFrom"])
    return await _chore("summary", conversation_id, work)


async def _complete(models: Models, messages: list[ChatMessage], max_tokens: int) -> str:
    choice = models.fallback()
    request = Request(model=choice.model, messages=messages, max_tokens=max_tokens, temperature=0.2)
    text, _ = await choice.provider.complete(request)
    return text


async def _title(ctx: ActionCtx, models: Models, conversation_id: str) -> bool:
    source = await ctx.run_query("chat:titleSource", {"conversationId": conversation_id})
    if source is None:
        return False
    text = await _complete(models, title_request(source["question"], source["answer"]), 24)
    title = clean_title(text, fallback_from=source["question"])
    return bool(
        await ctx.run_mutation(
            "chat:saveTitle", {"conversationId": conversation_id, "title": title}
        )
    )


async def _memories(ctx: ActionCtx, models: Models, conversation_id: str, advisor_id: str) -> int:
    source = await ctx.run_query(
        "chat:memorySource", {"conversationId": conversation_id, "advisorId": advisor_id}
    )
    if source is None:
        return 0
    choice = models.fallback()

    def build() -> list[ChatMessage]:
        return memory_request(
            source["span"],
            names=source["names"],
            known=source["known"],
            counter=choice.provider.counter(choice.model),
            budget=choice.budget // 2,
        )

    request = await asyncio.to_thread(build)
    user_said = "\n".join(m["content"] for m in source["span"] if m["sender"] == "user")
    facts = grounded(parse_memories(await _complete(models, request, 128)), user_said)
    if not facts:
        return 0
    saved = await ctx.run_mutation(
        "chat:saveMemories",
        {"conversationId": conversation_id, "advisorId": advisor_id, "facts": facts},
    )
    return int(saved)


async def _summary(ctx: ActionCtx, models: Models, conversation_id: str, keep_from: float) -> bool:
    source = await ctx.run_query(
        "chat:summarySource", {"conversationId": conversation_id, "keepFrom": keep_from}
    )
    if source is None:
        return False
    choice = models.fallback()
    span = source["messages"]

    def build() -> SummaryRequest:
        return summary_request(
            span,
            names=source["names"],
            counter=choice.provider.counter(choice.model),
            budget=choice.budget // 2,
            previous=source["previous"],
        )

    request = await asyncio.to_thread(build)
    if request.covered < 1:
        return False
    content = clean_summary(await _complete(models, request.messages, 256))
    if content is None:
        return False
    await ctx.run_mutation(
        "chat:saveSummary",
        {
            "conversationId": conversation_id,
            "content": content,
            "startMessageId": source["startMessageId"],
            "endMessageId": span[request.covered - 1]["_id"],
        },
    )
    return True


@query("chat:titleSource", {"conversationId": v.id("conversations")}, internal=True)
async def title_source(ctx: QueryCtx, args: Args) -> dict[str, str] | None:
    """The first exchange of an untitled conversation, or None."""
    conversation = await own_conversation(ctx, args["conversationId"])
    if conversation.get("title"):
        return None
    first = await (
        ctx.db.query("messages", "by_conversation_created")
        .eq("conversationId", conversation["_id"])
        .take(20)
    )
    asked = next((m for m in first if m["sender"] == "user" and m["content"].strip()), None)
    answered = next(
        (
            m
            for m in first
            if m["sender"] == "advisor" and m.get("status", "complete") == "complete"
        ),
        None,
    )
    if asked is None or answered is None:
        return None
    return {"question": asked["content"], "answer": answered["content"]}


@mutation(
    "chat:saveTitle",
    {"conversationId": v.id("conversations"), "title": v.string(max_length=200)},
    internal=True,
)
async def save_title(ctx: MutationCtx, args: Args) -> bool:
    """Only while still untitled: a name the user gave meanwhile wins."""
    conversation = await own_conversation(ctx, args["conversationId"])
    if conversation.get("title") or not args["title"].strip():
        return False
    await ctx.db.patch("conversations", conversation["_id"], {"title": args["title"]})
    return True


@query(
    "chat:memorySource",
    {"conversationId": v.id("conversations"), "advisorId": v.id("advisors")},
    internal=True,
)
async def memory_source(ctx: QueryCtx, args: Args) -> dict[str, Any] | None:
    """The advisor's latest answer and the question it answered (oldest first), its name,
    and what it already remembers."""
    conversation = await own_conversation(ctx, args["conversationId"])
    recent = await (
        ctx.db.query("messages", "by_conversation_created")
        .eq("conversationId", conversation["_id"])
        .order("desc")
        .take(40)
    )
    answer = next(
        (
            m
            for m in recent
            if m.get("advisorId") == args["advisorId"]
            and m["sender"] == "advisor"
            and m.get("status", "complete") == "complete"
        ),
        None,
    )
    if answer is None:
        return None
    asked = next(
        (m for m in recent if m["sender"] == "user" and m["createdAt"] <= answer["createdAt"]),
        None,
    )
    if asked is None:
        return None
    known = await (
        ctx.db.query("advisorMemories", "by_conversation_advisor")
        .eq("conversationId", conversation["_id"])
        .eq("advisorId", args["advisorId"])
        .take(MAX_MEMORIES)
    )
    advisor = await ctx.db.get("advisors", args["advisorId"])
    names = {args["advisorId"]: display_name(advisor)} if advisor is not None else {}
    return {"span": [asked, answer], "names": names, "known": known}


@mutation(
    "chat:saveMemories",
    {
        "conversationId": v.id("conversations"),
        "advisorId": v.id("advisors"),
        "facts": v.object({}, open=True),  # key → value, as parse_memories gives them
    },
    internal=True,
)
async def save_memories(ctx: MutationCtx, args: Args) -> int:
    """Upsert each fact by key, never over a value the user set; new keys only while the
    advisor remembers fewer than MAX_MEMORIES in this conversation, and the conversation
    holds fewer memories than the user's plan keeps (functions/storage.py)."""
    user = await require_user(ctx)
    conversation = await own_conversation(ctx, args["conversationId"], user)
    theirs = (
        ctx.db.query("advisorMemories", "by_conversation_advisor")
        .eq("conversationId", conversation["_id"])
        .eq("advisorId", args["advisorId"])
    )
    known = {m["key"]: m for m in await theirs.take(MAX_MEMORIES + 1)}
    now = now_ms()
    saved = 0
    for key, value in args["facts"].items():
        if not isinstance(value, str) or not key or len(key) > 200 or len(value) > 1_000:
            continue
        if (existing := known.get(key)) is not None:
            if existing.get("setBy") != "user" and existing["value"] != value:
                changes = {"value": value, "updatedAt": now, "setBy": "advisor"}
                await ctx.db.patch("advisorMemories", existing["_id"], changes)
                saved += 1
        elif len(known) < MAX_MEMORIES and await has_room(
            ctx, user, "memories", conversation["_id"]
        ):
            doc = {
                "conversationId": conversation["_id"],
                "advisorId": args["advisorId"],
                "key": key,
                "value": value,
                "createdAt": now,
                "updatedAt": now,
                "setBy": "advisor",
            }
            known[key] = doc | {"_id": await ctx.db.insert("advisorMemories", doc)}
            saved += 1
    return saved


@query(
    "chat:summarySource",
    {"conversationId": v.id("conversations"), "keepFrom": v.number()},
    internal=True,
)
async def summary_source(ctx: QueryCtx, args: Args) -> dict[str, Any] | None:
    """The messages after the latest summary that no longer fit the prompt (those before
    `keepFrom`), at most SUMMARY_SPAN of them, oldest first, with that summary."""
    conversation = await own_conversation(ctx, args["conversationId"])
    previous, span = await _since_summary(ctx, conversation["_id"])
    messages = [
        m
        for m in await span.lt("createdAt", args["keepFrom"]).take(SUMMARY_SPAN)
        if m.get("status", "complete") in ("complete", "stopped")
    ]
    if not messages:
        return None
    names: dict[str, str] = {}
    for message in messages:
        advisor_id = message.get("advisorId")
        if (
            advisor_id
            and advisor_id not in names
            and (found := await ctx.db.get("advisors", advisor_id))
        ):
            names[advisor_id] = display_name(found)
    start = (previous or {}).get("startMessageId") or messages[0]["_id"]
    return {
        "previous": previous["content"] if previous else None,
        "messages": messages,
        "names": names,
        "startMessageId": start,
    }


@mutation(
    "chat:saveSummary",
    {
        "conversationId": v.id("conversations"),
        "content": v.string(max_length=20_000),
        "startMessageId": v.string(max_length=limits.ID),
        "endMessageId": v.string(max_length=limits.ID),
    },
    internal=True,
)
async def save_summary(ctx: MutationCtx, args: Args) -> str | None:
    """Store the new summary. Where the conversation already holds as many summaries as
    the user's plan keeps, the oldest make room: the new one carries what they said (it
    starts where the previous one started). None: the plan keeps no summaries."""
    user = await require_user(ctx)
    conversation = await own_conversation(ctx, args["conversationId"], user)
    if plan_of(ctx, user).stored("summaries") == 0:
        return None
    oldest = scope(ctx, "summaries", conversation["_id"])
    while not await has_room(ctx, user, "summaries", conversation["_id"]):
        dropped = await oldest.first()
        if dropped is None:
            break
        await ctx.db.delete("threadSummaries", dropped["_id"])
    fields = {k: args[k] for k in ("content", "startMessageId", "endMessageId")}
    return await ctx.db.insert(
        "threadSummaries", {"conversationId": conversation["_id"], "createdAt": now_ms()} | fields
    )


FUNCTIONS = (
    context,
    begin_answer,
    append_delta,
    finish_answer,
    run_round,
    after_round,
    title,
    remember,
    summarize,
    title_source,
    save_title,
    memory_source,
    save_memories,
    summary_source,
    save_summary,
)
