"""Contention: a mutation whose retries run out rolls back cleanly and reports a conflict;
one caller's mutations queue instead of colliding (across pools too, as across processes);
mutations that end in the commit turn do not collide over the index pages they share; a
write cut off by cancellation leaves no transaction and no lock on a pooled connection."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import asyncpg
import pytest

from advisor_chat.errors import Code
from advisor_chat.store import Commit, Store, Transaction
from advisor_chat.store.backend import TransactionConflict
from advisor_chat.store.postgres import PostgresBackend
from advisor_chat.store.store import MAX_ATTEMPTS
from tests.loop_errors import loop_errors
from tests.store.documents import conversation, count, message, user


async def until(predicate: Callable[[], Awaitable[bool]], within_s: float = 10) -> None:
    deadline = time.monotonic() + within_s
    while not await predicate():
        assert time.monotonic() < deadline, "condition not reached"
        await asyncio.sleep(0.02)


@pytest.fixture
async def pg_store(fresh_postgres_url: str) -> AsyncIterator[Store]:
    async with Store(PostgresBackend(fresh_postgres_url, pool_size=8)) as opened:
        await opened.migrate()
        yield opened


async def _new_user(store: Store, clerk_id: str = "counter") -> str:
    return (await store.mutation(lambda tx: tx.insert("users", user(clerk_id)))).value


async def _increment(user_id: str, tx: Transaction) -> None:
    doc = await tx.get("users", user_id)
    assert doc is not None
    await asyncio.sleep(0)  # let the others read the same value
    await tx.patch("users", user_id, {"updatedAt": doc["updatedAt"] + 1})


async def test_a_mutation_conflicting_past_its_retries_writes_nothing(store: Store) -> None:
    attempts = 0

    async def doomed(tx: Transaction) -> None:
        nonlocal attempts
        attempts += 1
        await tx.insert("users", user(f"written-{attempts}"))
        raise TransactionConflict("a concurrent transaction won")

    with loop_errors() as errors, pytest.raises(TransactionConflict) as caught:
        await store.mutation(doomed)
    assert caught.value.code is Code.CONFLICT
    assert attempts == MAX_ATTEMPTS
    assert (store.stats.retries, store.stats.gave_up) == (MAX_ATTEMPTS - 1, 1)
    assert await count(store, "users") == 0
    assert errors == []


@pytest.mark.postgres
async def test_a_real_serialization_failure_past_the_retries_rolls_back_cleanly(
    pg_store: Store, fresh_postgres_url: str
) -> None:
    """Every attempt reads a row that another connection then rewrites and commits,
    before the attempt rewrites it too: PostgreSQL refuses each one."""
    target = await _new_user(pg_store)
    other = await asyncpg.connect(fresh_postgres_url)

    async def loses(tx: Transaction) -> None:
        await tx.insert("users", user(f"lost-{pg_store.stats.retries}"))
        assert await tx.get("users", target) is not None  # reads it...
        await other.execute('UPDATE "users" SET "plan" = "plan" WHERE "_id" = $1', target)
        await tx.patch("users", target, {"plan": "pro"})  # ...and loses it here

    try:
        with loop_errors() as errors, pytest.raises(TransactionConflict) as caught:
            await pg_store.mutation(loses)
    finally:
        await other.close()
    assert caught.value.code is Code.CONFLICT
    assert "could not serialize" in str(caught.value)
    assert (pg_store.stats.retries, pg_store.stats.gave_up) == (MAX_ATTEMPTS - 1, 1)
    assert await count(pg_store, "users") == 1  # the target alone: no attempt left a row
    assert errors == []
    await pg_store.mutation(lambda tx: _increment(target, tx))  # the pool is fine


@pytest.mark.postgres
async def test_one_callers_mutations_queue_instead_of_conflicting(
    pg_store: Store, fresh_postgres_url: str
) -> None:
    """Twenty read-modify-writes of one row: with the caller's key none conflicts, also
    between two pools on the database (as between two server processes)."""
    target = await _new_user(pg_store)
    async with Store(PostgresBackend(fresh_postgres_url, pool_size=8)) as second:
        runs = [
            store.mutation(lambda tx: _increment(target, tx), key="issuer|alice")
            for store in (pg_store, second)
            for _ in range(10)
        ]
        await asyncio.gather(*runs)
        assert second.stats.retries == 0
    assert pg_store.stats.retries == 0
    final = (await pg_store.query(lambda tx: tx.get("users", target))).value
    assert final is not None
    assert final["updatedAt"] == user("counter")["updatedAt"] + 20


@pytest.mark.postgres
async def test_mutations_ending_in_the_commit_turn_do_not_collide(pg_store: Store) -> None:
    """Each writes, then reads its conversation and moves its `updatedAt`. The
    conversations' ids share index pages, so without the turn the reads and rewrites
    overlap and PostgreSQL's page-level check refuses most of them."""
    owner = await _new_user(pg_store)

    async def conversations(tx: Transaction) -> list[str]:
        return [await tx.insert("conversations", conversation(owner)) for _ in range(24)]

    ids = (await pg_store.mutation(conversations)).value

    async def send(conversation_id: str, tx: Transaction) -> None:
        await tx.insert("messages", message(conversation_id))
        await tx.commit_in_turn()
        doc = await tx.get("conversations", conversation_id)
        assert doc is not None
        await tx.patch("conversations", conversation_id, {"updatedAt": doc["updatedAt"] + 1})

    await asyncio.gather(*(pg_store.mutation(functools.partial(send, c)) for c in ids))
    assert pg_store.stats.retries == 0
    assert await count(pg_store, "messages") == len(ids)


async def test_the_commit_turn_is_given_back_when_a_mutation_fails(store: Store) -> None:
    async def fails_in_turn(tx: Transaction) -> None:
        await tx.commit_in_turn()
        await tx.insert("users", user("rolled-back"))
        raise ValueError("a bug")

    with pytest.raises(ValueError, match="a bug"):
        await store.mutation(fails_in_turn)

    async def takes_turn(tx: Transaction) -> str:
        await tx.commit_in_turn()
        return await tx.insert("users", user("committed"))

    async with asyncio.timeout(10):
        await store.mutation(takes_turn)
    assert await count(store, "users") == 1


@pytest.mark.postgres
async def test_cancelled_writes_leave_no_transaction_or_lock_behind(
    pg_store: Store, fresh_postgres_url: str
) -> None:
    """Mutations cancelled at every point of their life (waiting for the caller's lock,
    BEGIN, a statement, the turn, COMMIT): none hands the pool a connection inside a
    transaction or still holding the caller's advisory lock."""
    target = await _new_user(pg_store)
    thread = await pg_store.mutation(lambda tx: tx.insert("conversations", conversation(target)))
    thread_id = thread.value

    async def write(tx: Transaction) -> None:
        await _increment(target, tx)
        await tx.commit_in_turn()
        await tx.insert("messages", message(thread_id))

    cancelled: list[bool] = []
    announced: list[Commit] = []
    stop_listening = pg_store.commits.listen(announced.append)
    with loop_errors() as errors:
        for steps in range(60):
            task = asyncio.create_task(pg_store.mutation(write, key="issuer|alice"))
            for _ in range(steps):
                await asyncio.sleep(0)  # a few turns of the event loop, then cancel
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            cancelled.append(task.cancelled())
        async with asyncio.timeout(10):  # the caller's lock is free again
            await pg_store.mutation(lambda tx: _increment(target, tx), key="issuer|alice")
    stop_listening()
    assert any(cancelled)
    assert errors == []
    # Every write that landed was announced, even one cancelled while its COMMIT ran.
    stored = await count(pg_store, "messages")
    assert stored == sum(1 for c in announced if any(w.table == "messages" for w in c.writes))
    watcher = await asyncpg.connect(fresh_postgres_url)
    try:

        async def no_advisory_locks() -> bool:
            held: Any = await watcher.fetchval(
                "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory'"
            )
            return bool(held == 0)

        await until(no_advisory_locks)  # a closed connection's server process ends soon
    finally:
        await watcher.close()
