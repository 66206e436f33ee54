"""The store: the one object the rest of the product holds to reach the database.

    async with Store.from_settings(settings) as store:
        await store.migrate()
        outcome = await store.mutation(lambda tx: tx.insert("users", {...}))
        outcome.commit.ts   # the commit's number in the durable log, also on store.commits

A mutation is one serializable transaction; when the database reports a conflict the whole
function is run again (so it must not have effects outside the transaction). A query runs
on a read-only snapshot. Both return what they read, for the live layer.

Mutations given the same `key` (the caller, from the function runner) run one at a time,
so one user's calls never conflict with each other; `Transaction.commit_in_turn` orders
the ends of mutations that rewrite rows many of them read (see there).

Every mutation that writes logs its write set in its own transaction (store/journal.py);
`store.commits` delivers the commits in log order, this process's at once and, once
`follow()` runs, every other process's as the database rings (SQLite's data version,
PostgreSQL's NOTIFY) or, at the latest, within FOLLOW_POLL_S.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from types import TracebackType
from typing import Generic, Self, TypeVar

from advisor_chat.log import get_logger
from advisor_chat.schema.ids import IdGenerator
from advisor_chat.settings import Settings
from advisor_chat.store import journal
from advisor_chat.store.backend import Backend, TransactionConflict
from advisor_chat.store.commits import Commit, CommitLog
from advisor_chat.store.reads import ReadSet
from advisor_chat.store.transaction import Transaction

T = TypeVar("T")
MAX_ATTEMPTS = 20  # conflicts under heavy contention resolve within a few; 20 is generous
PRUNE_EVERY_S = 30.0  # how often a following process drops log rows past their retention
log = get_logger(__name__)


@dataclass
class MutationStats:
    """Running totals of `Store.mutation`, for benchmarks and metrics: plain integer
    bumps, so counting costs nothing measurable."""

    commits: int = 0  # mutations that finished (a mutation that wrote nothing included)
    retries: int = 0  # attempts the database refused for a conflict, then run again
    gave_up: int = 0  # mutations still conflicting after MAX_ATTEMPTS


@dataclass(frozen=True)
class Outcome(Generic[T]):
    value: T
    reads: ReadSet
    commit: Commit | None  # None for a query, or a mutation that wrote nothing
    ts: int  # the commit's timestamp, or the snapshot's for a query


class _Turn:
    """One attempt's claim on the store's commit turn, given back when it has ended."""

    def __init__(self, lock: asyncio.Lock) -> None:
        self._lock = lock
        self._held = False

    async def take(self) -> None:
        if not self._held:
            await self._lock.acquire()
            self._held = True

    def give_back(self) -> None:
        if self._held:
            self._held = False
            self._lock.release()


class Store:
    def __init__(self, backend: Backend) -> None:
        self.backend = backend
        self.commits = CommitLog()
        self.ids = IdGenerator()
        self.stats = MutationStats()
        self._turn = asyncio.Lock()  # see `Transaction.commit_in_turn`
        self._filling: asyncio.Task[None] | None = None  # reads the log up to held commits
        self._reading = asyncio.Lock()  # one read of the log at a time

    @classmethod
    def from_settings(cls, settings: Settings) -> Store:
        if settings.uses_postgres:
            from advisor_chat.store.postgres import PostgresBackend

            assert settings.database_url is not None
            return cls(PostgresBackend(settings.database_url, settings.postgres_pool_size))
        from advisor_chat.store.sqlite import SqliteBackend

        return cls(SqliteBackend(settings.sqlite_path, settings.sqlite_synchronous))

    async def open(self) -> None:
        await self.backend.open()
        async with self.backend.read() as conn:
            self.commits.start_at(await journal.latest(conn, self.backend.dialect))

    async def close(self) -> None:
        if self._filling is not None:
            self._filling.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._filling
        await self.backend.close()

    async def __aenter__(self) -> Self:
        await self.open()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    async def migrate(self, *, apply: bool = True) -> list[str]:
        """Create or upgrade the database in place; returns what was done. With
        `apply=False`, returns what would be done and changes nothing."""
        from advisor_chat.store.migrations import migrate

        return await migrate(self, apply=apply)

    async def mutation(
        self, fn: Callable[[Transaction], Awaitable[T]], *, key: str | None = None
    ) -> Outcome[T]:
        """Run `fn` in one serializable transaction, again while the database reports a
        conflict (up to MAX_ATTEMPTS, then `TransactionConflict`). Mutations with the same
        `key` run one after another, each beginning after the one before it ended."""
        attempt = 1
        while True:
            try:
                outcome = await self._attempt(fn, key)
            except TransactionConflict:
                if attempt == MAX_ATTEMPTS:
                    self.stats.gave_up += 1
                    raise
                self.stats.retries += 1
                # Jittered back-off so the transactions that collided do not collide again.
                await asyncio.sleep(random.uniform(0, 0.002 * attempt))
                attempt += 1
            else:
                self.stats.commits += 1
                return outcome

    async def _attempt(
        self, fn: Callable[[Transaction], Awaitable[T]], key: str | None
    ) -> Outcome[T]:
        logged: list[Commit] = []
        committed: list[Commit] = []

        def publish() -> None:
            if logged:
                committed.append(logged[0])
                if not self.commits.offer(logged[0]):
                    self._fill_soon()

        turn = _Turn(self._turn)
        try:
            async with self.backend.write(publish, key) as conn:
                tx = Transaction(
                    conn, self.backend.dialect, self.ids, readonly=False, take_turn=turn.take
                )
                value = await fn(tx)
                tx.raise_if_failed()  # it caught a refused write: roll back, do not commit
                if tx.writes:
                    seq = await journal.append(conn, self.backend.dialect, tx.writes)
                    logged.append(Commit(seq, tuple(tx.writes)))
        finally:
            turn.give_back()  # after COMMIT (or ROLLBACK) has returned
        commit = committed[0] if committed else None
        ts = commit.ts if commit else self.commits.latest_ts
        return Outcome(value, tx.reads, commit, ts)

    def _fill_soon(self) -> None:
        """A commit is held back for earlier ones (another process's): read the log up to
        it, in a task, so the mutation that made it need not wait."""
        if self._filling is None or self._filling.done():
            self._filling = asyncio.create_task(self._fill_held())

    async def _fill_held(self) -> None:
        while self.commits.waiting_for is not None:
            if not await self.catch_up():
                await asyncio.sleep(0.005)  # not visible to this read yet: it will be

    async def catch_up(self) -> int:
        """Deliver every commit the log holds after `commits.latest_ts`, in order; returns
        how many were read. Concurrent calls take turns."""
        read = 0
        async with self._reading:
            while True:
                after = self.commits.latest_ts
                async with self.backend.read() as conn:
                    tail = await journal.read_after(conn, self.backend.dialect, after)
                entries = tail.entries
                read += len(entries)
                commits = [Commit(e.seq, e.writes) for e in entries]
                if commits and tail.oldest is not None and tail.oldest > after + 1:
                    # Rows this process had not read were pruned: say so with the first.
                    log.warning("commit_log_gap", after=after, oldest=tail.oldest)
                    commits[0] = Commit(commits[0].ts, commits[0].writes, lost_before=True)
                self.commits.fill(commits)
                if len(entries) < journal.READ_PAGE:
                    return read

    async def follow(self) -> None:
        """Until cancelled: deliver other processes' commits as the database rings, and
        drop log rows past their retention now and then."""
        loop = asyncio.get_running_loop()
        pruned = loop.time()
        async for _ in self.backend.doorbell():
            try:
                await self.catch_up()
                if loop.time() - pruned >= PRUNE_EVERY_S:
                    pruned = loop.time()
                    await self.backend.maintain(
                        journal.prune_statement(self.backend.dialect), (journal.prune_cutoff(),)
                    )
            except Exception:  # the database is away: the next ring tries again
                log.exception("commit_log_follow_failed")

    async def query(self, fn: Callable[[Transaction], Awaitable[T]]) -> Outcome[T]:
        ts = self.commits.latest_ts
        async with self.backend.read() as conn:
            tx = Transaction(conn, self.backend.dialect, self.ids, readonly=True)
            value = await fn(tx)
        return Outcome(value, tx.reads, None, ts)
