"""The store: the one object the rest of the product holds to reach the database.

    async with Store.from_settings(settings) as store:
        await store.migrate()
        outcome = await store.mutation(lambda tx: tx.insert("users", {...}))
        outcome.commit.ts   # the commit's timestamp, also published on store.commits

A mutation is one serializable transaction; when the database reports a conflict the whole
function is run again (so it must not have effects outside the transaction). A query runs
on a read-only snapshot. Both return what they read, for the live layer.

Mutations given the same `key` (the caller, from the function runner) run one at a time,
so one user's calls never conflict with each other; `Transaction.commit_in_turn` orders
the ends of mutations that rewrite rows many of them read (see there).
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from types import TracebackType
from typing import Generic, Self, TypeVar

from advisor_chat.schema.ids import IdGenerator
from advisor_chat.settings import Settings
from advisor_chat.store.backend import Backend, TransactionConflict
from advisor_chat.store.commits import Commit, CommitLog, Write
from advisor_chat.store.reads import ReadSet
from advisor_chat.store.transaction import Transaction

T = TypeVar("T")
MAX_ATTEMPTS = 20  # conflicts under heavy contention resolve within a few; 20 is generous


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

    async def close(self) -> None:
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
        committed: list[Commit] = []
        writes: list[Write] = []

        def publish() -> None:
            if writes:
                committed.append(self.commits.append(writes))

        turn = _Turn(self._turn)
        try:
            async with self.backend.write(publish, key) as conn:
                tx = Transaction(
                    conn, self.backend.dialect, self.ids, readonly=False, take_turn=turn.take
                )
                writes = tx.writes
                value = await fn(tx)
                tx.raise_if_failed()  # it caught a refused write: roll back, do not commit
        finally:
            turn.give_back()  # after COMMIT (or ROLLBACK) has returned
        commit = committed[0] if committed else None
        ts = commit.ts if commit else self.commits.latest_ts
        return Outcome(value, tx.reads, commit, ts)

    async def query(self, fn: Callable[[Transaction], Awaitable[T]]) -> Outcome[T]:
        ts = self.commits.latest_ts
        async with self.backend.read() as conn:
            tx = Transaction(conn, self.backend.dialect, self.ids, readonly=True)
            value = await fn(tx)
        return Outcome(value, tx.reads, None, ts)
