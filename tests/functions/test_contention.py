"""`messages:sendMessage` under contention, called through the runner by real signed-in
users: many users at once, and many senders in one conversation, all succeed, with every
message stored exactly once and each quota counter equal to the sends (quotas high, but
counted). A call still conflicting after the store's retries answers CONFLICT, retryable,
and leaves nothing behind."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from advisor_chat.errors import Code, FunctionError
from advisor_chat.functions.catalog import build_registry
from advisor_chat.functions.context import Identity, MutationCtx
from advisor_chat.functions.plans import DEFAULT_LIMITS, PlanLimits
from advisor_chat.functions.registry import Args, Registry, mutation
from advisor_chat.functions.runner import Runner
from advisor_chat.store import Document, Store, Transaction
from advisor_chat.store.backend import TransactionConflict
from tests.loop_errors import loop_errors
from tests.store.documents import count, user

UNLIMITED = {plan: PlanLimits(10**6, 10**6) for plan in DEFAULT_LIMITS}
USERS, PER_USER = 6, 5  # all 30 calls at once
SENDERS, PER_SENDER = 8, 4  # one user, one conversation; the senders at once


@pytest.fixture
def runner(store: Store) -> Runner:
    return Runner(store, build_registry(), limits=UNLIMITED)


async def _person(runner: Runner, n: int) -> tuple[Identity, str]:
    who = Identity(f"user_{n}", "https://issuer.test", name=f"Sender {n}")
    await runner.call("users:store", {}, who)
    args = {"title": f"Conversation {n}"}
    return who, (await runner.call("conversations:createConversation", args, who)).value


async def _send(runner: Runner, who: Identity, conversation: str, text: str) -> str:
    args = {"conversationId": conversation, "content": text}
    return str((await runner.call("messages:sendMessage", args, who)).value)


async def _stored(store: Store, who: Identity, conversation: str) -> tuple[Any, ...]:
    """(message contents, the quota counter, the conversation) as stored."""

    async def read(tx: Transaction) -> tuple[list[Document], Document | None, Document | None]:
        owner = await tx.query("users", "by_clerk_id").eq("clerkId", who.subject).unique()
        assert owner is not None
        by_conversation = tx.query("messages", "by_conversation")
        messages = await by_conversation.eq("conversationId", conversation).collect()
        by_user = tx.query("rateLimits", "by_user_bucket").eq("userId", owner["_id"])
        quota = await by_user.eq("bucket", "messages").unique()
        return messages, quota, await tx.get("conversations", conversation)

    messages, quota, thread = (await store.query(read)).value
    assert quota is not None
    assert thread is not None
    newest = max(m["createdAt"] for m in messages)
    return sorted(m["content"] for m in messages), quota["count"], thread["updatedAt"] == newest


async def test_many_users_sending_at_once_all_succeed(store: Store, runner: Runner) -> None:
    people = [await _person(runner, n) for n in range(USERS)]
    with loop_errors() as errors:
        sent = await asyncio.gather(
            *(
                _send(runner, who, conversation, f"{n}: message {m}")
                for n, (who, conversation) in enumerate(people)
                for m in range(PER_USER)
            )
        )
    assert len(set(sent)) == USERS * PER_USER
    for n, (who, conversation) in enumerate(people):
        expected = sorted(f"{n}: message {m}" for m in range(PER_USER))
        assert await _stored(store, who, conversation) == (expected, PER_USER, True)
    assert store.stats.gave_up == 0
    assert errors == []


async def test_many_senders_in_one_conversation_all_succeed_without_conflict(
    store: Store, runner: Runner
) -> None:
    """One user's calls queue: none of them even needs a retry."""
    who, conversation = await _person(runner, 0)

    async def sender(s: int) -> list[str]:
        return [await _send(runner, who, conversation, f"{s}.{m}") for m in range(PER_SENDER)]

    retries = store.stats.retries
    with loop_errors() as errors:
        sent = await asyncio.gather(*(sender(s) for s in range(SENDERS)))
    assert len({message for batch in sent for message in batch}) == SENDERS * PER_SENDER
    expected = sorted(f"{s}.{m}" for s in range(SENDERS) for m in range(PER_SENDER))
    assert await _stored(store, who, conversation) == (expected, SENDERS * PER_SENDER, True)
    assert store.stats.retries == retries
    assert errors == []


async def test_a_message_to_someone_elses_conversation_leaves_nothing(
    store: Store, runner: Runner
) -> None:
    """The conversation is checked last (see send_message): what was written before is
    rolled back, the quota counter included."""
    _, theirs = await _person(runner, 0)
    me, mine = await _person(runner, 1)
    await _send(runner, me, mine, "counted")
    with pytest.raises(FunctionError) as caught:
        await _send(runner, me, theirs, "not yours")
    assert caught.value.code is Code.NOT_FOUND
    assert await _stored(store, me, mine) == (["counted"], 1, True)
    assert await count(store, "messages") == 1


async def test_a_call_conflicting_past_the_retries_answers_conflict(store: Store) -> None:
    @mutation("tests:collide", {})
    async def collide(ctx: MutationCtx, args: Args) -> None:
        await ctx.db.insert("users", user("never-stored"))
        raise TransactionConflict("a concurrent transaction won")

    runner = Runner(store, Registry([collide]))
    with loop_errors() as errors, pytest.raises(FunctionError) as caught:
        await runner.call("tests:collide", {}, Identity("user_0", "https://issuer.test"))
    assert caught.value.code is Code.CONFLICT
    assert caught.value.data == {"retryable": True}
    assert await count(store, "users") == 0
    assert errors == []
