"""PostgreSQL through asyncpg: SERIALIZABLE writes, REPEATABLE READ read-only snapshots.

A serialization failure or deadlock surfaces as `TransactionConflict`, which the store
answers by re-running the whole mutation.

Conflicts are kept from arising where they are not real. One caller's writes queue (an
asyncio lock per caller in this process, a session advisory lock across processes, both
taken before BEGIN so the snapshot is taken after the wait): two of them would otherwise
collide on the rows they both touch (the caller's quota counter, their conversation). And
sequential scans are off on the pool's connections: a sequential scan takes a predicate
lock on the whole table, so once ANALYZE finds a table small, every write to it would
conflict with every concurrent reader. Every read the store makes walks an index anyway.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from typing import Any

import asyncpg

from advisor_chat.errors import StoreError, UniqueViolation
from advisor_chat.store import journal
from advisor_chat.store.backend import (
    FOLLOW_POLL_S,
    Backend,
    Catalog,
    Connection,
    PoolUsage,
    Row,
    TransactionConflict,
)
from advisor_chat.store.sql import POSTGRES


def _translate(exc: Exception) -> StoreError:
    if isinstance(exc, asyncpg.UniqueViolationError):
        constraint = exc.constraint_name or ""
        table, _, index = constraint.partition(".")
        if constraint.endswith("_pkey"):
            return UniqueViolation(constraint.removesuffix("_pkey"), "by_id", ("_id",))
        from advisor_chat.schema.derive import layout_of

        fields: tuple[str, ...] = ()
        with contextlib.suppress(KeyError):
            fields = layout_of(table).indexes[index].field_names
        return UniqueViolation(table, index, fields)
    if isinstance(exc, asyncpg.SerializationError | asyncpg.DeadlockDetectedError):
        return TransactionConflict(str(exc))
    return StoreError(f"postgres: {exc}")


class PostgresConnection(Connection):
    __slots__ = ("_conn", "refused")

    def __init__(self, conn: asyncpg.Connection | asyncpg.pool.PoolConnectionProxy) -> None:
        self._conn = conn
        # A statement PostgreSQL refused aborts the whole transaction; a COMMIT after it
        # would silently roll back, so the write path checks this first.
        self.refused: StoreError | None = None

    async def fetch(self, sql: str, params: Sequence[Any]) -> list[Row]:
        with self._refusals():
            return list(await self._conn.fetch(sql, *params))  # type: ignore[arg-type]

    async def execute(self, sql: str, params: Sequence[Any]) -> None:
        with self._refusals():
            await self._conn.execute(sql, *params)

    async def execute_many(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        with self._refusals():
            await self._conn.executemany(sql, rows)

    @contextlib.contextmanager
    def _refusals(self) -> Iterator[None]:
        try:
            yield
        except asyncpg.PostgresError as exc:
            self.refused = _translate(exc)
            raise self.refused from exc


class _CallerLocks:
    """One asyncio lock per caller, kept only while someone holds or waits for it. A
    queued write waits here, holding no pool connection."""

    def __init__(self) -> None:
        self._locks: dict[str, asyncio.Lock] = {}
        self._users: dict[str, int] = {}

    @contextlib.asynccontextmanager
    async def hold(self, key: str | None) -> AsyncIterator[None]:
        if key is None:
            yield
            return
        lock = self._locks.setdefault(key, asyncio.Lock())
        self._users[key] = self._users.get(key, 0) + 1
        try:
            async with lock:
                yield
        finally:
            self._users[key] -= 1
            if not self._users[key]:
                del self._users[key], self._locks[key]


# Session advisory locks for callers: the two-integer key space, which cannot meet the
# one-bigint key the migrations lock on. The second integer is a hash of the caller's key;
# two callers sharing one only queue behind each other, which costs time, never safety.
_CALLER_LOCK_CLASS = 0x61637731  # "acw1"


def _advisory_key(key: str) -> tuple[int, int]:
    digest = hashlib.blake2b(key.encode(), digest_size=4).digest()
    return _CALLER_LOCK_CLASS, int.from_bytes(digest, "big", signed=True)


async def _end(conn: asyncpg.pool.PoolConnectionProxy, sql: str) -> None:
    """Run what ends a transaction (and frees the caller's lock); asyncpg first waits for
    a statement it is cancelling. A connection that cannot is closed instead: it must never
    go back to the pool inside a transaction or holding a lock (asyncpg would report
    "Resetting connection with an active transaction", and the lock would stay taken)."""
    try:
        await conn.execute(sql)
    except asyncio.CancelledError:
        conn.terminate()
        raise
    except Exception:  # the session ends with the connection: so do its transaction and locks
        conn.terminate()


async def _no_session_reset(conn: asyncpg.Connection) -> None:
    """The store changes no session state (no SET, LISTEN or cursors; a caller's advisory
    lock is released before the connection goes back, or the connection is closed), so
    it needs no `RESET ALL` round trip on its way back to the pool. Measured: ~40% of a
    one-insert mutation."""


class PostgresBackend(Backend):
    dialect = POSTGRES

    def __init__(self, url: str, pool_size: int = 10) -> None:
        self.url = url
        self.pool_size = pool_size
        self._pool: asyncpg.Pool | None = None
        self._callers = _CallerLocks()

    async def open(self) -> None:
        self._pool = await asyncpg.create_pool(
            self.url,
            min_size=1,
            max_size=self.pool_size,
            command_timeout=60,
            reset=_no_session_reset,
            server_settings={"enable_seqscan": "off"},  # see the module's docstring
        )

    async def close(self) -> None:
        if self._pool is not None:
            await self._pool.close()
            self._pool = None

    def pool_usage(self) -> PoolUsage | None:
        if self._pool is None:
            return None
        size = self._pool.get_size()
        return PoolUsage(size, size - self._pool.get_idle_size(), self._pool.get_max_size())

    def _require_pool(self) -> asyncpg.Pool:
        if self._pool is None:
            raise StoreError("store is closed")
        return self._pool

    @contextlib.asynccontextmanager
    async def read(self) -> AsyncIterator[Connection]:
        async with (
            self._require_pool().acquire() as conn,
            conn.transaction(isolation="repeatable_read", readonly=True),
        ):
            yield PostgresConnection(conn)

    @contextlib.asynccontextmanager
    async def write(
        self, on_commit: Callable[[], None], key: str | None = None
    ) -> AsyncIterator[Connection]:
        """BEGIN and COMMIT are sent by hand rather than through asyncpg's transaction
        object: the caller's lock goes in the same round trip as the COMMIT, and every way
        out (a refusal, an exception, a cancellation at any point, even mid-COMMIT) ends
        the transaction and frees the lock before the connection goes back to the pool.
        (asyncpg's object, cancelled during BEGIN, left the connection marked as inside
        a transaction, which asyncpg then reported while resetting it.)"""
        lock = _advisory_key(key) if key is not None else None
        unlock = "SELECT pg_advisory_unlock({}, {})".format(*lock) if lock else ""
        then = f"; {unlock}" if unlock else ""  # in the same round trip
        async with self._callers.hold(key), self._require_pool().acquire() as conn:
            handle = PostgresConnection(conn)
            try:
                if lock is not None:
                    await conn.execute("SELECT pg_advisory_lock($1, $2)", *lock)
                await conn.execute("BEGIN ISOLATION LEVEL SERIALIZABLE")
                yield handle
                if handle.refused is not None:
                    raise handle.refused
            except BaseException:
                await _end(conn, "ROLLBACK" + then)
                raise
            # The COMMIT is shielded: cancelled while it is in flight, the write may land
            # all the same, and a write that landed must be announced (live queries, the
            # scheduler) before the cancellation goes on; a lost announcement would hide a
            # committed write from every subscriber.
            commit = asyncio.ensure_future(conn.execute("COMMIT" + then))
            cancelled: asyncio.CancelledError | None = None
            try:
                try:
                    await asyncio.shield(commit)
                except asyncio.CancelledError as stop:
                    cancelled = stop
                    await commit  # its outcome decides what is announced
            except asyncpg.PostgresError as exc:
                # Refused at COMMIT (a serialization failure): the server rolled it back,
                # and skipped the statements after it, so the lock is still held.
                if unlock:
                    await _end(conn, unlock)
                raise _translate(exc) from exc
            except BaseException:
                # The connection broke, or a second cancellation: whether it committed is
                # not known here, but the connection leaves clean either way.
                await _end(conn, "ROLLBACK" + then)
                raise
            on_commit()
            if cancelled is not None:
                raise cancelled

    async def doorbell(self) -> AsyncIterator[None]:
        """Every logged commit NOTIFYs (store/journal.py), delivered at its commit, in
        commit order; a connection of its own LISTENs. Lost notifications (the connection
        broke, the server restarted) are covered by ringing at least every FOLLOW_POLL_S,
        and the connection is opened again."""
        rang = asyncio.Event()

        def ring(*_: object) -> None:
            rang.set()

        while True:
            listener: asyncpg.Connection | None = None
            try:
                listener = await asyncpg.connect(self.url)
                await listener.add_listener(journal.CHANNEL, ring)
                yield  # anything committed while not listening
                while not listener.is_closed():
                    with contextlib.suppress(TimeoutError):
                        async with asyncio.timeout(FOLLOW_POLL_S):
                            await rang.wait()
                    rang.clear()
                    yield
            except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError):
                await asyncio.sleep(FOLLOW_POLL_S)
                yield
            finally:
                if listener is not None and not listener.is_closed():
                    with contextlib.suppress(Exception):
                        await listener.close(timeout=1)

    async def maintain(self, sql: str, params: Sequence[Any]) -> None:
        async with self._require_pool().acquire() as conn:
            await conn.execute(sql, *params)

    async def catalog(self, conn: Connection) -> Catalog:
        catalog = Catalog()
        rows = await conn.fetch(
            "SELECT table_name, column_name FROM information_schema.columns "
            "WHERE table_schema = current_schema() ORDER BY table_name, ordinal_position",
            (),
        )
        for table, column in rows:
            catalog.columns.setdefault(table, []).append(column)
        rows = await conn.fetch(
            """
            SELECT i.relname, t.relname, ix.indisunique,
                   array(SELECT a.attname FROM unnest(ix.indkey) WITH ORDINALITY k(attnum, n)
                         JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = k.attnum
                         ORDER BY k.n)
            FROM pg_index ix
            JOIN pg_class i ON i.oid = ix.indexrelid
            JOIN pg_class t ON t.oid = ix.indrelid
            JOIN pg_namespace ns ON ns.oid = t.relnamespace
            WHERE ns.nspname = current_schema()
            """,
            (),
        )
        for index, table, unique, columns in rows:
            catalog.indexes[index] = (table, tuple(columns), bool(unique))
        rows = await conn.fetch(
            """
            SELECT c.relname, substr(o.option, length('fillfactor=') + 1)::int
            FROM pg_class c
            JOIN pg_namespace ns ON ns.oid = c.relnamespace
            CROSS JOIN unnest(c.reloptions) o(option)
            WHERE ns.nspname = current_schema() AND c.relkind = 'r'
              AND o.option LIKE 'fillfactor=%'
            """,
            (),
        )
        catalog.fillfactors.update((table, fillfactor) for table, fillfactor in rows)
        return catalog
