"""Transactions: atomic, serializable, and recording what they read and wrote."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from advisor_chat.errors import StoreError
from advisor_chat.store import UNSET, Commit, CommitLog, Store, Transaction
from advisor_chat.store.commits import HISTORY_WRITES
from advisor_chat.store.commits import Write as WriteSet
from advisor_chat.store.query import IndexQuery
from advisor_chat.store.reads import Bound
from tests.store.documents import (
    T0,
    Parents,
    advisor,
    insert_parents,
    insert_parents_tx,
    message,
    snapshot,
    user,
)

TOUCHED = ["users", "advisors", "userAdvisors", "conversations", "messages"]


class Boom(Exception):
    """Raised by a mutation's own code, not by the store."""


async def test_an_exception_in_a_mutation_rolls_back_all_its_writes(store: Store) -> None:
    parents = await insert_parents(store)
    selection = {
        "userId": parents.user,
        "advisorId": parents.advisor,
        "selectedAt": 1,
        "source": "marketplace",
    }
    await store.mutation(lambda tx: tx.insert("userAdvisors", selection))
    before = await snapshot(store, TOUCHED)
    seen: list[Commit] = []
    stop = store.commits.listen(seen.append)

    async def doomed(tx: Transaction) -> None:
        new_user = await tx.insert("users", user("clerk-new"))
        await tx.insert("advisors", advisor() | {"tags": ["rolled", "back"]})
        await tx.patch("conversations", parents.conversation, {"title": "T", "updatedAt": 9})
        await tx.replace("users", parents.user, user("clerk-replaced"))
        await tx.delete("advisors", parents.advisor)  # and, by cascade, the selection
        await tx.delete("messages", parents.message)
        assert await tx.get("users", new_user) is not None  # applied, inside
        raise Boom

    with pytest.raises(Boom):
        await store.mutation(doomed)
    stop()
    assert seen == []  # nothing committed, nothing published
    assert await snapshot(store, TOUCHED) == before

    async def through_indexes(tx: Transaction) -> tuple[Any, ...]:
        by_clerk = tx.query("users", "by_clerk_id")
        return (
            await tx.query("advisors", "by_tags").eq("tags", "rolled").collect(),
            await by_clerk.eq("clerkId", "clerk-parent").unique(),
            await tx.query("users", "by_clerk_id").eq("clerkId", "clerk-new").unique(),
            await tx.query("messages", "by_conversation")
            .eq("conversationId", parents.conversation)
            .collect(),
        )

    tagged, original, new, messages = (await store.query(through_indexes)).value
    assert tagged == []
    assert original is not None
    assert original["_id"] == parents.user
    assert new is None
    assert [m["_id"] for m in messages] == [parents.message]


Write = Callable[[Transaction, Parents], Awaitable[Any]]
WRITES: dict[str, Write] = {
    "insert": lambda tx, p: tx.insert("users", user("clerk-from-a-query")),
    "patch": lambda tx, p: tx.patch("users", p.user, {"plan": "pro"}),
    "patch unset": lambda tx, p: tx.patch("users", p.user, {"email": UNSET}),
    "replace": lambda tx, p: tx.replace("users", p.user, user("clerk-replaced")),
    "delete": lambda tx, p: tx.delete("users", p.user),
}


async def test_a_query_cannot_write(store: Store) -> None:
    parents = await insert_parents(store)
    before = await snapshot(store, TOUCHED)
    seen: list[Commit] = []
    stop = store.commits.listen(seen.append)
    for name, write in WRITES.items():

        async def attempt(tx: Transaction, write: Write = write) -> Any:
            return await write(tx, parents)

        with pytest.raises(StoreError, match="a query cannot write"):
            await store.query(attempt)
        assert await snapshot(store, TOUCHED) == before, name
    stop()
    assert seen == []


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


async def test_concurrent_commits_are_published_once_each_in_timestamp_order(
    store: Store,
) -> None:
    seen: list[Commit] = []
    stop = store.commits.listen(seen.append)

    async def insert(n: int, tx: Transaction) -> str:
        return await tx.insert("users", user(f"clerk-{n}"))

    outcomes = await asyncio.gather(
        *(store.mutation(functools.partial(insert, n)) for n in range(20))
    )
    stop()
    stamps = [c.ts for c in seen]
    assert stamps == sorted(set(stamps))  # strictly increasing
    assert sorted(o.ts for o in outcomes) == stamps
    for outcome in outcomes:
        assert outcome.commit is not None
        assert outcome.commit.ts == outcome.ts
        assert [w.id for w in outcome.commit.writes] == [outcome.value]
    assert {c.writes[0].id for c in seen} == {o.value for o in outcomes}


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


async def test_read_set_of_a_descending_page_ends_at_its_last_row(store: Store) -> None:
    parents = (await store.mutation(insert_parents_tx)).value

    async def add(tx: Transaction) -> None:
        for n in range(2, 10):
            await tx.insert("messages", message(parents.conversation) | {"createdAt": n})

    await store.mutation(add)

    def newest_first(tx: Transaction) -> IndexQuery:
        return (
            tx.query("messages", "by_conversation_created")
            .eq("conversationId", parents.conversation)
            .order("desc")
        )

    first = await store.query(lambda tx: newest_first(tx).paginate(3))
    (read,) = first.reads.reads
    last = first.value.page[-1]
    assert last["createdAt"] == 8  # T0 (the parent message), 9, 8
    assert read.interval.upper == Bound((parents.conversation,), True)
    assert read.interval.lower == Bound(
        (parents.conversation, 8, last["_creationTime"], last["_id"]), True
    )
    assert first.reads.overlaps(
        "messages", "by_conversation_created", (parents.conversation, 100, 1.0, "z")
    )  # a newer message would change the first page
    assert not first.reads.overlaps(
        "messages", "by_conversation_created", (parents.conversation, 3, 1.0, "z")
    )
    # The last page reads from its cursor to the start of the range.
    rest = await store.query(lambda tx: newest_first(tx).paginate(100, first.value.continue_cursor))
    assert rest.value.is_done
    (read,) = rest.reads.reads
    assert read.interval.lower == Bound((parents.conversation,), True)
    assert read.interval.upper == Bound(
        (parents.conversation, 8, last["_creationTime"], last["_id"]), False
    )


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


async def test_index_reads_inside_a_mutation_see_its_own_writes(store: Store) -> None:
    parents = await insert_parents(store)

    async def run(tx: Transaction) -> None:
        tagged = await tx.insert("advisors", advisor() | {"tags": ["runway", "hiring"]})
        found = await tx.query("advisors", "by_tags").eq("tags", "hiring").collect()
        assert [d["_id"] for d in found] == [tagged]
        await tx.patch("advisors", tagged, {"tags": ["runway"]})
        assert await tx.query("advisors", "by_tags").eq("tags", "hiring").collect() == []

        def latest(tx: Transaction) -> IndexQuery:
            return tx.query("conversations", "by_user_updated").eq("userId", parents.user)

        second = await tx.insert(
            "conversations", {"userId": parents.user, "createdAt": T0, "updatedAt": T0 + 5}
        )
        ordered = await latest(tx).order("desc").collect()
        assert [c["_id"] for c in ordered] == [second, parents.conversation]
        await tx.patch("conversations", parents.conversation, {"updatedAt": T0 + 50})
        ordered = await latest(tx).order("desc").collect()
        assert [c["_id"] for c in ordered] == [parents.conversation, second]

        await tx.delete("conversations", parents.conversation)  # and its message
        assert await tx.get("conversations", parents.conversation) is None
        assert await tx.get("messages", parents.message) is None
        assert [c["_id"] for c in await latest(tx).collect()] == [second]

    await store.mutation(run)


async def test_a_check_then_insert_cannot_race(store: Store) -> None:
    """Ten concurrent "insert a session unless the user has one" mutations: serializable
    means exactly one inserts (no write skew, although no unique rule forbids two)."""
    parents = await insert_parents(store)

    async def ensure_session(n: int, tx: Transaction) -> bool:
        existing = await tx.query("sessions", "by_user").eq("userId", parents.user).first()
        await asyncio.sleep(0)  # let the others read the same empty range
        if existing is not None:
            return False
        await tx.insert(
            "sessions",
            {"userId": parents.user, "refreshHash": f"h{n}", "expiresAt": 9, "createdAt": 1},
        )
        return True

    outcomes = await asyncio.gather(
        *(store.mutation(functools.partial(ensure_session, n)) for n in range(10))
    )
    assert sum(o.value for o in outcomes) == 1

    async def sessions(tx: Transaction) -> list[dict[str, Any]]:
        return await tx.query("sessions", "by_user").eq("userId", parents.user).collect()

    assert len((await store.query(sessions)).value) == 1


async def test_a_count_stops_at_its_bound_and_reads_the_whole_range(store: Store) -> None:
    """A count sees the mutation's own writes, counts no further than asked, and its read
    covers the range end to end: any later write into it is a conflict."""
    parents = await insert_parents(store)

    async def run(tx: Transaction) -> tuple[int, int, int]:
        def theirs() -> IndexQuery:
            return tx.query("conversations", "by_user").eq("userId", parents.user)

        for n in range(4):
            await tx.insert(
                "conversations", {"userId": parents.user, "createdAt": n, "updatedAt": n}
            )
        return await theirs().count(100), await theirs().count(3), await theirs().count(1)

    outcome = await store.mutation(run)
    assert outcome.value == (5, 3, 1)

    async def count(tx: Transaction) -> int:
        return await tx.query("conversations", "by_user").eq("userId", parents.user).count(2)

    counted = await store.query(count)
    assert counted.value == 2
    assert counted.reads.overlaps("conversations", "by_user", (parents.user, 9e15, "z"))
    assert not counted.reads.overlaps("conversations", "by_user", ("another user", 1.0, "z"))


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


def test_the_commit_history_holds_a_bounded_number_of_writes() -> None:
    """Write sets are many small objects that every full garbage collection walks: the
    in-memory history keeps the newest commits up to HISTORY_WRITES writes (and always
    the latest), so a long run of big commits cannot stall the event loop."""
    log = CommitLog()
    write = WriteSet("messages", "id", None, {"by_id": [("id",)]})
    for seq in range(1, 3 * HISTORY_WRITES // 50 + 1):
        assert log.offer(Commit(seq, (write,) * 50))
    kept = log.since(0)
    assert HISTORY_WRITES - 50 < sum(len(c.writes) for c in kept) <= HISTORY_WRITES
    huge = Commit(log.latest_ts + 1, (write,) * (HISTORY_WRITES + 1))
    assert log.offer(huge)
    assert log.since(0) == [huge]
