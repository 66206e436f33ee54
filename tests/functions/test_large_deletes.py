"""Deleting a conversation of many messages, or a user of many conversations, through the
functions: the answer comes at once, everything of it is hidden from every query at once,
and the scheduled batches remove the rest."""

from __future__ import annotations

from typing import Any

import pytest

from advisor_chat.auth.identities import delete_user
from advisor_chat.clock import now_ms
from advisor_chat.errors import Code, FunctionError
from advisor_chat.functions.runner import Runner
from advisor_chat.functions.scheduled import ScheduledWorker
from advisor_chat.store import Store, Transaction
from advisor_chat.store.cascade import INLINE_ROWS
from tests.functions.world import ALICE, World
from tests.store.documents import advisor, count

MANY = INLINE_ROWS + 150


async def _fill(store: Store, conversation: str, n: int, word: str) -> None:
    async def fill(tx: Transaction) -> None:
        for i in range(n):
            doc: dict[str, Any] = {
                "conversationId": conversation,
                "sender": "user",
                "content": f"{word} number {i}",
                "mentions": [],
                "createdAt": now_ms(),
            }
            await tx.insert("messages", doc)

    await store.mutation(fill)


async def _drain(store: Store, runner: Runner) -> None:
    worker = ScheduledWorker(store, runner)
    while await worker.run_due():
        pass


async def _code(runner: Runner, path: str, args: dict[str, Any]) -> Code | None:
    try:
        await runner.call(path, args, ALICE)
    except FunctionError as error:
        return error.code
    return None


async def test_a_deleted_conversation_is_hidden_at_once_and_emptied_by_batches(
    store: Store, runner: Runner, world: World
) -> None:
    await _fill(store, world.conversation, MANY, "zebra")
    other = (await runner.call("conversations:createConversation", {"title": "Kept"}, ALICE)).value
    await _fill(store, other, 3, "zebra")
    await runner.call(
        "conversations:deleteConversation", {"conversationId": world.conversation}, ALICE
    )

    assert await count(store, "messages") > MANY  # still stored, but nobody reaches them
    gone = {"conversationId": world.conversation}
    assert await _code(runner, "conversations:getConversationById", gone) is Code.NOT_FOUND
    page = {"paginationOpts": {"numItems": 10, "cursor": None}}
    assert await _code(runner, "messages:getConversationMessages", gone | page) is Code.NOT_FOUND
    assert await _code(runner, "messages:deleteMessage", {"messageId": world.message}) is (
        Code.NOT_FOUND
    )
    assert await _code(runner, "advisorMemories:list", gone) is Code.NOT_FOUND
    assert await _code(runner, "threadSummaries:getConversationSummaries", gone) is (Code.NOT_FOUND)
    found = (await runner.call("messages:searchMessages", {"query": "zebra"}, ALICE)).value
    assert {m["conversationId"] for m in found} == {other}
    listed = (await runner.call("conversations:getUserConversations", page, ALICE)).value
    assert [c["_id"] for c in listed["page"]] == [other]

    await _drain(store, runner)

    async def left(tx: Transaction) -> int:
        q = tx.query("messages", "by_conversation").eq("conversationId", world.conversation)
        return len(await q.take(10))

    assert (await store.query(left)).value == 0
    assert await count(store, "messages") == 3
    assert await count(store, "advisorMemories") == 0
    assert await count(store, "threadSummaries") == 0


@pytest.mark.parametrize("conversations", [3, INLINE_ROWS // 2])
async def test_a_deleted_user_leaves_nothing_reachable_then_nothing_at_all(
    store: Store, runner: Runner, world: World, conversations: int
) -> None:
    """The user is deleted as the Clerk webhook deletes one; signing in again makes a new,
    empty account, never the old one's data."""
    for n in range(conversations):
        created = await runner.call("conversations:createConversation", {"title": f"c{n}"}, ALICE)
        await _fill(store, created.value, 2, "kiwi")
    user = (await runner.call("users:current", {}, ALICE)).value
    await store.mutation(lambda tx: tx.delete("users", user["_id"]))

    page = {"paginationOpts": {"numItems": 50, "cursor": None}}
    assert await _code(runner, "conversations:getUserConversations", page) is (Code.UNAUTHENTICATED)
    await runner.call("users:store", {}, ALICE)  # signs in again: a new users row
    listed = (await runner.call("conversations:getUserConversations", page, ALICE)).value
    assert listed["page"] == []
    assert (await runner.call("messages:searchMessages", {"query": "kiwi"}, ALICE)).value == []
    gone = {"conversationId": world.conversation}
    assert await _code(runner, "conversations:getConversationById", gone) is Code.NOT_FOUND

    await _drain(store, runner)
    assert await count(store, "conversations") == 0
    assert await count(store, "messages") == 0


async def test_a_deleted_users_many_private_advisors_go_in_batches(
    store: Store, runner: Runner, world: World
) -> None:
    """More private advisors than one transaction removes (an enterprise plan's thousands):
    the user's deletion answers at once and the batches take the advisors, and their
    seats on the user's board, with them; the marketplace keeps its public advisors."""
    user = (await runner.call("users:current", {}, ALICE)).value

    async def fill(tx: Transaction) -> None:
        for i in range(MANY):
            mine = advisor() | {"ownerId": user["_id"], "isPublic": False}
            made = await tx.insert("advisors", mine | {"persona": {"name": f"A{i}", "title": "T"}})
            doc = {"userId": user["_id"], "advisorId": made, "selectedAt": 1, "source": "custom"}
            await tx.insert("userAdvisors", doc)

    await store.mutation(fill)
    public = await _public_advisors(store)

    async def delete(tx: Transaction) -> None:
        row = await tx.get("users", user["_id"])
        assert row is not None
        await delete_user(tx, row)

    async def owned(tx: Transaction) -> int:
        return len(await tx.query("advisors", "by_owner").eq("ownerId", user["_id"]).take(10))

    await store.mutation(delete)
    assert (await store.query(owned)).value > 0  # left to the batches, reachable by no one
    await _drain(store, runner)
    assert (await store.query(owned)).value == 0
    assert await count(store, "userAdvisors") == 0
    assert await _public_advisors(store) == public


async def _public_advisors(store: Store) -> list[str]:
    async def public(tx: Transaction) -> list[str]:
        return [
            a["_id"] for a in await tx.query("advisors", "by_public").eq("isPublic", True).collect()
        ]

    return (await store.query(public)).value
