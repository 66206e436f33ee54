"""Transactions: atomic, serializable, and recording what they read and wrote."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from advisor_chat.store import Commit, Store, Transaction
from advisor_chat.store.reads import Bound
from tests.store.documents import T0, insert_parents_tx


async def test_commits_are_published_in_order_with_increasing_timestamps(store: Store) -> None:
    seen: list[Commit] = []
    stop = store.commits.listen(seen.append)
    outcomes = []
    for n in range(5):

        async def insert(tx: Transaction, n: int = n) -> str:
            user = {"clerkId": f"c{n}", "plan": "free", "createdAt": n, "updatedAt": n}
            return await tx.insert("users", user)

        outcomes.append(await store.mutation(insert))
    stop()
    await store.mutation(
        lambda tx: tx.insert(
            "users", {"clerkId": "late", "plan": "free", "createdAt": 1, "updatedAt": 1}
        )
    )
    assert [c.ts for c in seen] == [o.ts for o in outcomes]
    stamps = [c.ts for c in seen]
    assert stamps == sorted(set(stamps))
    assert [c.writes[0].id for c in seen] == [o.value for o in outcomes]
    assert len(seen) == 5  # the listener removed itself
    # A mutation that writes nothing commits nothing.
    nothing = await store.mutation(lambda tx: tx.get("users", outcomes[0].value))
    assert nothing.commit is None


async def test_write_set_has_old_and_new_index_keys(store: Store) -> None:
    parents = (await store.mutation(insert_parents_tx)).value
    outcome = await store.mutation(
        lambda tx: tx.patch("conversations", parents.conversation, {"updatedAt": 50, "title": "T"})
    )
    assert outcome.commit is not None
    (write,) = outcome.commit.writes
    assert write.table == "conversations"
    assert write.id == parents.conversation
    assert write.old_keys is not None
    assert write.new_keys is not None
    old = write.old_keys["by_user_updated"][0]
    new = write.new_keys["by_user_updated"][0]
    assert old[:2] == (parents.user, T0)
    assert new[:2] == (parents.user, 50)
    assert old[2:] == new[2:]  # same _creationTime and _id
    assert write.old_keys["by_id"] == [(parents.conversation,)]


async def test_read_set_records_the_range_actually_read(store: Store) -> None:
    parents = (await store.mutation(insert_parents_tx)).value

    async def add(tx: Transaction) -> None:
        for n in range(2, 10):
            await tx.insert(
                "messages",
                {
                    "conversationId": parents.conversation,
                    "sender": "user",
                    "content": "x",
                    "mentions": [],
                    "createdAt": n,
                },
            )

    await store.mutation(add)

    async def page(tx: Transaction) -> Any:
        return (
            await tx.query("messages", "by_conversation_created")
            .eq("conversationId", parents.conversation)
            .paginate(3)
        )

    outcome = await store.query(page)
    (read,) = outcome.reads.reads
    last = outcome.value.page[-1]
    assert read.table == "messages"
    assert read.index == "by_conversation_created"
    assert read.interval.lower == Bound((parents.conversation,), True)
    assert read.interval.upper is not None
    assert last["createdAt"] == 4  # 2, 3, 4: the parent message was written at T0, later
    assert read.interval.upper.key == (parents.conversation, 4, last["_creationTime"], last["_id"])
    # A message written later in the conversation lies outside what the page read.
    assert not outcome.reads.overlaps(
        "messages", "by_conversation_created", (parents.conversation, 9, 1.0, "z")
    )
    assert outcome.reads.overlaps(
        "messages", "by_conversation_created", (parents.conversation, 2, 1.0, "z")
    )
    assert not outcome.reads.overlaps("messages", "by_conversation_created", ("other", 2, 1.0, "z"))


async def test_read_your_writes_inside_a_mutation(store: Store) -> None:
    async def write_then_read(tx: Transaction) -> tuple[Any, list[Any]]:
        user = await tx.insert(
            "users", {"clerkId": "me", "plan": "free", "createdAt": 1, "updatedAt": 1}
        )
        await tx.patch("users", user, {"plan": "pro"})
        found = await tx.query("users", "by_plan").eq("plan", "pro").collect()
        return await tx.get("users", user), found

    got, found = (await store.mutation(write_then_read)).value
    assert got["plan"] == "pro"
    assert [d["_id"] for d in found] == [got["_id"]]


async def test_conflicting_read_modify_writes_are_serialized(store: Store) -> None:
    """Twenty concurrent increments of one counter: none is lost (PostgreSQL re-runs the
    mutations its serialization check rejects)."""
    user = (
        await store.mutation(
            lambda tx: tx.insert(
                "users", {"clerkId": "n", "plan": "free", "createdAt": 0, "updatedAt": 0}
            )
        )
    ).value

    async def increment(tx: Transaction) -> None:
        doc = await tx.get("users", user)
        assert doc is not None
        await asyncio.sleep(0)  # let the others read the same value
        await tx.patch("users", user, {"updatedAt": doc["updatedAt"] + 1})

    await asyncio.gather(*(store.mutation(increment) for _ in range(20)))
    final = (await store.query(lambda tx: tx.get("users", user))).value
    assert final is not None
    assert final["updatedAt"] == 20


@pytest.mark.parametrize("bad", ["", "x" * 200, "not an id!", "01m8"])
async def test_get_of_a_malformed_or_foreign_id_is_missing(store: Store, bad: str) -> None:
    assert (await store.query(lambda tx: tx.get("users", bad))).value is None
    parents = (await store.mutation(insert_parents_tx)).value
    assert (await store.query(lambda tx: tx.get("messages", parents.user))).value is None
