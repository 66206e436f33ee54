"""The durable commit log: every commit that wrote is numbered in commit order, in its own
transaction; every process delivers every commit (its own and the others') once, in that
order; a process far behind is told commits were lost; old rows are pruned."""

from __future__ import annotations

import asyncio
import functools
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path

import pytest

from advisor_chat.store import Commit, CommitLog, Store, Transaction
from advisor_chat.store import journal as journal_module
from advisor_chat.store.backend import Backend
from advisor_chat.store.commits import Write
from advisor_chat.store.sqlite import SqliteBackend
from tests.store.documents import user
from tests.twins import twin
from tests.waiting import until


@asynccontextmanager
async def _following(store: Store) -> AsyncIterator[list[Commit]]:
    """The commits `store` delivers while it follows the log."""
    seen: list[Commit] = []
    stop = store.commits.listen(seen.append)
    task = asyncio.create_task(store.follow())
    try:
        yield seen
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        stop()


def _holds(check: Callable[[], bool]) -> Callable[[], Awaitable[bool]]:
    async def condition() -> bool:
        return check()

    return condition


async def _insert(n: int, tx: Transaction) -> str:
    return await tx.insert("users", user(f"clerk-{n}"))


async def _logged(store: Store) -> list[int]:
    async with store.backend.read() as conn:
        tail = await journal_module.read_after(conn, store.backend.dialect, 0)
    return [entry.seq for entry in tail.entries]


async def test_each_commit_is_numbered_and_logged_with_its_writes(store: Store) -> None:
    start = store.commits.latest_ts
    outcomes = [await store.mutation(functools.partial(_insert, n)) for n in range(3)]
    assert [o.ts for o in outcomes] == [start + 1, start + 2, start + 3]
    async with store.backend.read() as conn:
        tail = await journal_module.read_after(conn, store.backend.dialect, start)
    assert [e.seq for e in tail.entries] == [o.ts for o in outcomes]
    for entry, outcome in zip(tail.entries, outcomes, strict=True):
        assert outcome.commit is not None
        assert entry.writes == outcome.commit.writes  # index keys survive the round trip
    nothing = await store.mutation(lambda tx: tx.get("users", outcomes[0].value))
    assert nothing.commit is None
    assert await _logged(store) == [o.ts for o in outcomes]  # a read-only mutation logs none


async def test_a_failed_mutation_logs_nothing(store: Store) -> None:
    class Refused(Exception):
        pass

    async def fail(tx: Transaction) -> None:
        await tx.insert("users", user("never"))
        raise Refused

    with pytest.raises(Refused):
        await store.mutation(fail)
    assert await _logged(store) == []
    assert (await store.mutation(functools.partial(_insert, 1))).ts == 1


async def test_another_processes_commits_are_delivered_in_log_order(
    store: Store, backend: Backend
) -> None:
    """Two stores on one database (two server processes, or `import` beside `serve`),
    both writing concurrently: each delivers every commit once, in the log's order, its
    own included. On PostgreSQL this holds only if numbers follow the order commits became
    visible: a number taken earlier but landing later would be skipped by a reader that
    had already delivered a higher one (without the lock of journal.append this fails)."""
    async with (
        Store(twin(backend)) as other,
        _following(store) as here,
        _following(other) as there,
    ):
        writes = [store.mutation(functools.partial(_insert, n)) for n in range(15)]
        writes += [other.mutation(functools.partial(_insert, 100 + n)) for n in range(15)]
        await asyncio.gather(*writes)
        logged = await _logged(store)
        assert len(logged) == 30
        await until(_holds(lambda: len(here) == 30 and len(there) == 30), 10, "both deliver all 30")
        assert [c.ts for c in here] == logged == [c.ts for c in there]
        assert [c.writes for c in here] == [c.writes for c in there]
        assert not any(c.lost_before for c in here + there)


def test_a_commit_offered_ahead_waits_for_the_ones_before_it() -> None:
    log = CommitLog(latest=4)
    seen: list[int] = []
    log.listen(lambda c: seen.append(c.ts))
    write = Write("users", "u", None, {"by_id": [("u",)]})
    assert not log.offer(Commit(7, (write,)))  # 5 and 6 are someone else's, unread yet
    assert log.waiting_for == 7
    assert seen == []
    log.fill([Commit(5, ())])  # a read that began before 7 committed: 7 waits on
    assert seen == [5]
    log.fill([Commit(7, (write,))])  # 6 was never used (its transaction failed)
    assert seen == [5, 7]
    assert log.offer(Commit(6, ()))  # a late offer of what is delivered is dropped
    assert log.offer(Commit(8, ()))
    assert seen == [5, 7, 8]


async def test_a_process_behind_the_retention_is_told_commits_were_lost(
    store: Store, backend: Backend, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with Store(twin(backend)) as late:
        stale = late.commits.latest_ts
        for n in range(5):
            await store.mutation(functools.partial(_insert, n))
        monkeypatch.setattr(journal_module, "RETAIN_S", -1.0)  # everything is old
        await store.backend.maintain(
            journal_module.prune_statement(store.backend.dialect), (journal_module.prune_cutoff(),)
        )
        assert await _logged(store) == [stale + 5]  # the newest is always kept
        seen: list[Commit] = []
        late.commits.listen(seen.append)
        assert await late.catch_up() == 1
        assert [(c.ts, c.lost_before) for c in seen] == [(stale + 5, True)]


async def test_a_store_opened_later_starts_after_the_logged_commits(
    store: Store, backend: Backend
) -> None:
    for n in range(3):
        await store.mutation(functools.partial(_insert, n))
    async with Store(twin(backend)) as reopened:
        assert reopened.commits.latest_ts == store.commits.latest_ts == 3
        assert (await reopened.mutation(functools.partial(_insert, 9))).ts == 4


WRITER = """
import asyncio, sys
from pathlib import Path
from advisor_chat.store import Store
from advisor_chat.store.sqlite import SqliteBackend

async def main(path: str, count: int) -> None:
    async with Store(SqliteBackend(Path(path))) as store:
        for i in range(count):
            await store.mutation(lambda tx, i=i: tx.insert("users", {
                "clerkId": f"cli-{i}", "plan": "free", "createdAt": i, "updatedAt": i}))

asyncio.run(main(sys.argv[1], int(sys.argv[2])))
"""


async def test_commits_of_another_process_on_the_sqlite_file_are_seen(tmp_path: Path) -> None:
    """`advisor-chat import` beside `serve`: the serving process delivers the writing
    process's commits, found through SQLite's data version."""
    path = tmp_path / "shared.sqlite3"
    async with Store(SqliteBackend(path)) as store:
        await store.migrate()
        async with _following(store) as seen:
            process = await asyncio.create_subprocess_exec(
                sys.executable, "-c", WRITER, str(path), "25"
            )
            assert await process.wait() == 0
            await until(_holds(lambda: len(seen) == 25), 10, "the other process's 25 commits")
            assert [c.ts for c in seen] == list(range(1, 26))
            assert {w.table for c in seen for w in c.writes} == {"users"}
