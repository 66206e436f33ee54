"""The uniqueness rules hold, in the database, under concurrent inserts too."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from advisor_chat.errors import UniqueViolation
from advisor_chat.store import Store, Transaction
from tests.store.examples import Parents, example, make_parents


async def _count(store: Store, table: str) -> int:
    async def run(tx: Transaction) -> int:
        return len(await tx.query(table).collect())

    return (await store.query(run)).value


# (table, index, a factory for a document that collides with example(table, full=True))
RULES: list[tuple[str, str]] = [
    ("users", "by_clerk_id"),
    ("users", "by_legacy_id"),
    ("advisors", "by_legacy_id"),
    ("userAdvisors", "by_user_advisor"),
    ("teamTemplates", "by_template_id"),
    ("conversations", "by_legacy_id"),
    ("messages", "by_legacy_id"),
    ("advisorMemories", "by_conversation_advisor_key"),
    ("typingIndicators", "by_conversation_user"),
    ("userPresence", "by_user"),
    ("streamDeltas", "by_message_start"),
]


def _colliding(table: str, index: str, parents: Parents) -> dict[str, Any]:
    """A second document equal to the first on the index's fields, different elsewhere."""
    doc = example(table, parents, full=True)
    if table == "users":
        doc |= {"clerkId": "other"} if index == "by_legacy_id" else {"legacyId": "u-2"}
    elif table in ("advisors", "conversations", "messages"):
        doc |= {"createdAt": 99}
    elif table == "userAdvisors":
        doc |= {"source": "custom", "teamId": "x"}
    elif table == "teamTemplates":
        doc |= {"name": "Another"}
    elif table == "advisorMemories":
        doc |= {"value": "other"}
    elif table == "typingIndicators":
        doc |= {"isTyping": False}
    elif table == "userPresence":
        doc |= {"isOnline": False}
    elif table == "streamDeltas":
        doc |= {"text": "other"}
    return doc


@pytest.mark.parametrize(("table", "index"), RULES, ids=[f"{t}.{i}" for t, i in RULES])
async def test_duplicate_is_rejected_naming_the_rule_and_nothing_is_written(
    store: Store, table: str, index: str
) -> None:
    parents = (await store.mutation(make_parents)).value
    first = example(table, parents, full=True)
    await store.mutation(lambda tx: tx.insert(table, first))
    before = await _count(store, table)
    users_before = await _count(store, "users")

    async def insert_then_collide(tx: Transaction) -> None:
        await tx.insert(
            "users", {"clerkId": "fresh", "plan": "pro", "createdAt": 1, "updatedAt": 1}
        )
        await tx.insert(table, _colliding(table, index, parents))

    with pytest.raises(UniqueViolation) as caught:
        await store.mutation(insert_then_collide)
    assert caught.value.table == table
    assert caught.value.index == index
    assert str(caught.value).startswith(f"{table}.{index}: unique rule broken")
    assert await _count(store, table) == before
    assert await _count(store, "users") == users_before


async def test_many_documents_without_legacy_id_are_allowed(store: Store) -> None:
    for n in range(5):

        async def insert(tx: Transaction, n: int = n) -> str:
            user = {"clerkId": f"c{n}", "plan": "free", "createdAt": 1, "updatedAt": 1}
            return await tx.insert("users", user)

        await store.mutation(insert)
    assert await _count(store, "users") == 5


async def _race(
    store: Store, n: int, fn: Callable[[Transaction], Awaitable[Any]]
) -> list[BaseException | Any]:
    results: list[BaseException | Any] = await asyncio.gather(
        *(store.mutation(fn) for _ in range(n)), return_exceptions=True
    )
    return results


async def test_concurrent_duplicate_inserts_leave_exactly_one(store: Store) -> None:
    results = await _race(
        store,
        20,
        lambda tx: tx.insert(
            "users", {"clerkId": "same", "plan": "free", "createdAt": 1, "updatedAt": 1}
        ),
    )
    failures = [r for r in results if isinstance(r, BaseException)]
    assert len(failures) == 19
    assert all(isinstance(f, UniqueViolation) for f in failures), failures
    assert await _count(store, "users") == 1


async def test_concurrent_selection_of_the_same_advisor_leaves_one_row(store: Store) -> None:
    parents = (await store.mutation(make_parents)).value
    row = example("userAdvisors", parents, full=False)
    results = await _race(store, 20, lambda tx: tx.insert("userAdvisors", row))
    assert sum(not isinstance(r, BaseException) for r in results) == 1
    assert await _count(store, "userAdvisors") == 1


async def test_concurrent_get_or_create_is_serializable(store: Store) -> None:
    async def get_or_create(tx: Transaction) -> str:
        found = await tx.query("users", "by_clerk_id").eq("clerkId", "once").unique()
        if found is not None:
            return str(found["_id"])
        return await tx.insert(
            "users", {"clerkId": "once", "plan": "free", "createdAt": 1, "updatedAt": 1}
        )

    results = await _race(store, 20, get_or_create)
    ids = [r.value for r in results if not isinstance(r, BaseException)]
    assert len(ids) == 20, results
    assert len(set(ids)) == 1
    assert await _count(store, "users") == 1
