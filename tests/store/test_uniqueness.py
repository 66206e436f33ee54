"""Every uniqueness rule holds in the database: a duplicate is refused with `UniqueViolation`
naming table and index, the failed mutation leaves nothing behind, and concurrent writers
end with exactly one row, on every backend."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import pytest

from advisor_chat.errors import StoreError, UniqueViolation
from advisor_chat.schema.ids import IdGenerator
from advisor_chat.schema.tables import TABLES, Index
from advisor_chat.store import Commit, Outcome, Store, Transaction
from tests.store.documents import (
    Doc,
    advisor,
    conversation,
    count,
    document,
    insert_parents,
    message,
    snapshot,
    user,
)

T = TypeVar("T")
ALL_TABLES = list(TABLES)
RACERS = 20

UNIQUE: list[tuple[str, Index]] = [
    (table.name, index) for table in TABLES.values() for index in table.indexes if index.unique
]

# The rules the product relies on (seed 000's "one row per ..." comments, and ours).
REQUIRED_RULES = {
    ("users", ("clerkId",)),
    ("userAdvisors", ("userId", "advisorId")),
    ("advisorMemories", ("conversationId", "advisorId", "key")),
    ("userPresence", ("userId",)),
    ("typingIndicators", ("conversationId", "userId")),
    ("users", ("legacyId",)),
    ("advisors", ("legacyId",)),
    ("conversations", ("legacyId",)),
    ("messages", ("legacyId",)),
    ("teamTemplates", ("id",)),
}


def test_every_required_rule_is_declared_unique() -> None:
    declared = {(table, index.fields) for table, index in UNIQUE}
    assert declared >= REQUIRED_RULES


@pytest.mark.parametrize(
    ("table", "index"), UNIQUE, ids=[f"{table}.{index.name}" for table, index in UNIQUE]
)
async def test_duplicate_is_refused_naming_the_rule_and_the_mutation_leaves_nothing(
    store: Store, table: str, index: Index
) -> None:
    parents = await insert_parents(store)
    others = await insert_parents(store, tag="other")
    first = document(table, "maximal", parents)
    await store.mutation(lambda tx: tx.insert(table, first))
    # Another document, equal to the first on this rule's fields and on no other rule's.
    duplicate = document(table, "minimal", others) | {f: first[f] for f in index.fields}
    before = await snapshot(store, ALL_TABLES)

    async def fresh_rows_then_duplicate(tx: Transaction) -> None:
        fresh_user = await tx.insert("users", user("clerk-fresh"))
        await tx.insert("conversations", conversation(fresh_user))
        await tx.insert(table, duplicate)

    with pytest.raises(UniqueViolation) as caught:
        await store.mutation(fresh_rows_then_duplicate)
    error = caught.value
    assert (error.table, error.index, error.fields) == (table, index.name, index.fields)
    assert str(error).startswith(f"{table}.{index.name}: unique rule broken")
    assert await snapshot(store, ALL_TABLES) == before

    # Patching another document onto the rule is refused the same way, and changes nothing.
    second = document(table, "minimal", others)
    second_id = (await store.mutation(lambda tx: tx.insert(table, second))).value
    before = await snapshot(store, ALL_TABLES)
    with pytest.raises(UniqueViolation) as caught:
        await store.mutation(
            lambda tx: tx.patch(table, second_id, {f: first[f] for f in index.fields})
        )
    assert (caught.value.table, caught.value.index) == (table, index.name)
    assert await snapshot(store, ALL_TABLES) == before


async def test_an_imported_id_cannot_be_imported_twice(store: Store) -> None:
    imported = "k57a9bq1ndd1jb7d4x2t6cg4jx6xj8ry"  # a Convex id: kept as it is

    async def import_user(tx: Transaction, clerk_id: str) -> str:
        return await tx.insert("users", user(clerk_id), id=imported, creation_time=1.0)

    await store.mutation(lambda tx: import_user(tx, "clerk-a"))
    with pytest.raises(UniqueViolation) as caught:
        await store.mutation(lambda tx: import_user(tx, "clerk-b"))
    assert (caught.value.table, caught.value.index) == ("users", "by_id")

    async def clerks(tx: Transaction) -> list[str]:
        return [d["clerkId"] for d in await tx.query("users").collect()]

    assert (await store.query(clerks)).value == ["clerk-a"]


async def test_many_rows_without_a_legacy_id_are_allowed(store: Store) -> None:
    parents = await insert_parents(store)
    rows: dict[str, Callable[[int], Doc]] = {
        "users": lambda n: user(f"clerk-{n}"),
        "advisors": lambda n: advisor(),
        "conversations": lambda n: conversation(parents.user),
        "messages": lambda n: message(parents.conversation, f"m{n}"),
        "threadSummaries": lambda n: document("threadSummaries", "minimal", parents),
    }
    assert set(rows) == {t for t, index in UNIQUE if index.fields == ("legacyId",)}
    before = {table: await count(store, table) for table in rows}

    async def insert_many(tx: Transaction) -> None:
        for table, make in rows.items():
            await tx.insert(table, make(0) | {"legacyId": f"{table}-legacy"})
            for n in range(1, 4):
                await tx.insert(table, make(n))

    await store.mutation(insert_many)
    assert {table: await count(store, table) for table in rows} == {
        table: n + 4 for table, n in before.items()
    }


async def test_a_mutation_that_swallows_the_violation_still_commits_nothing(
    store: Store,
) -> None:
    """After a refused write the transaction is unusable, so it can only roll back: a
    mutation that catches the error and returns must not commit what it wrote before it
    (SQLite would keep the fresh row; PostgreSQL would silently roll back yet publish a
    commit). The store must raise instead, on every backend alike."""
    await store.mutation(lambda tx: tx.insert("users", user("clerk-taken")))
    before = await snapshot(store, ALL_TABLES)
    seen: list[Commit] = []
    stop = store.commits.listen(seen.append)

    async def swallow(tx: Transaction) -> str:
        await tx.insert("users", user("clerk-fresh"))
        with pytest.raises(UniqueViolation):
            await tx.insert("users", user("clerk-taken"))
        with pytest.raises(StoreError):  # poisoned: no further reads or writes
            await tx.get("users", IdGenerator().new_id("users"))
        return "swallowed"

    with pytest.raises(StoreError):
        await store.mutation(swallow)
    stop()
    assert seen == []
    assert await snapshot(store, ALL_TABLES) == before


# --- concurrent writers ----------------------------------------------------------------------


async def _race(
    store: Store, attempts: list[Callable[[Transaction], Awaitable[T]]]
) -> list[Outcome[T] | BaseException]:
    return await asyncio.gather(*(store.mutation(a) for a in attempts), return_exceptions=True)


def _split(
    results: list[Outcome[T] | BaseException],
) -> tuple[list[Outcome[T]], list[BaseException]]:
    won = [r for r in results if isinstance(r, Outcome)]
    lost = [r for r in results if not isinstance(r, Outcome)]
    return won, lost


async def test_concurrent_inserts_of_one_clerk_id_leave_exactly_one(store: Store) -> None:
    def attempt(n: int) -> Callable[[Transaction], Awaitable[str]]:
        return lambda tx: tx.insert("users", user("clerk-same") | {"createdAt": n})

    won, lost = _split(await _race(store, [attempt(n) for n in range(RACERS)]))
    assert len(won) == 1, lost
    assert len(lost) == RACERS - 1
    assert all(isinstance(e, UniqueViolation) and e.index == "by_clerk_id" for e in lost), lost

    async def rows(tx: Transaction) -> list[Any]:
        return await tx.query("users", "by_clerk_id").eq("clerkId", "clerk-same").collect()

    (row,) = (await store.query(rows)).value
    assert row["_id"] == won[0].value


async def test_concurrent_selection_of_one_advisor_leaves_exactly_one(store: Store) -> None:
    parents = await insert_parents(store)
    selection = document("userAdvisors", "minimal", parents)

    def attempt(n: int) -> Callable[[Transaction], Awaitable[str]]:
        return lambda tx: tx.insert("userAdvisors", selection | {"selectedAt": n})

    won, lost = _split(await _race(store, [attempt(n) for n in range(RACERS)]))
    assert len(won) == 1, lost
    assert all(isinstance(e, UniqueViolation) and e.index == "by_user_advisor" for e in lost), lost

    async def rows(tx: Transaction) -> list[Any]:
        return (
            await tx.query("userAdvisors", "by_user_advisor")
            .eq("userId", parents.user)
            .eq("advisorId", parents.advisor)
            .collect()
        )

    (row,) = (await store.query(rows)).value
    assert row["_id"] == won[0].value


async def test_concurrent_get_or_create_is_serializable(store: Store) -> None:
    """Read, then insert if missing: no unique rule is hit, because serializable
    transactions make every racer after the first see the first one's row."""

    async def get_or_create(tx: Transaction) -> str:
        found = await tx.query("users", "by_clerk_id").eq("clerkId", "clerk-once").unique()
        if found is not None:
            return str(found["_id"])
        await asyncio.sleep(0)  # let the other racers read before this one writes
        return await tx.insert("users", user("clerk-once"))

    won, lost = _split(await _race(store, [get_or_create] * RACERS))
    assert lost == []
    assert len({o.value for o in won}) == 1
    assert len([o for o in won if o.commit is not None]) == 1  # only the creator wrote
    assert await count(store, "users") == 1
