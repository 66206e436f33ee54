"""SQLite: one file in the data directory, WAL, one writer.

Statements run inline on the event loop's thread, in slices. Inline, because every
statement the store issues walks an index range and takes microseconds, less than a hop to
a worker thread costs (measured here: ~95 us a hop against ~35 us for a whole insert
transaction). In slices, because a transaction of many statements (a 500-row import page,
a cascade) would otherwise hold the loop for all of them: once a transaction has run
SLICE_S, its next statement first lets every other ready task run (`asyncio.sleep(0)`), and
a long result is stepped through FETCH_ROWS at a time the same way. The in-process write
lock stays held across those turns, so writes stay serialized; readers have their own WAL
connections and snapshots, and run meanwhile. A single statement is still not cut: the
store keeps each one bounded instead (searches rank a capped candidate set).

Decided by measurement against a writer thread (every statement of a write, and of a read,
hopped to an owned thread; sqlite3 lets go of the GIL while it steps), on the 2-core
machine, with others' work running (`python -m bench.loop_lag`, two runs each, and
`python -m bench --backends sqlite --sizes 10000 --inserts 20000`):

| | inline, unsliced (before) | thread | inline, sliced (this) |
|---|---|---|---|
| insert tx/s (store / raw) | 2,615 (80%) | 1,824 (47%) | 2,576-2,640 (70-80%) |
| page read p50 | 0.116 ms | 0.261 ms | 0.072 ms |
| loop lag p99 / max, import page of 500 | 4.7 / 147 ms | 1.0 / 22-38 ms | 11-12 / 26 ms |
| the import page itself | 142-184 ms | 170-237 ms | 105-116 ms |
| loop lag p99 / max, one search | 6-20 / 720-1,222 ms | 2-3 / 5-6 ms | 1-3 / 42-44 ms |
| one-transaction delete of 100k messages | 19-24 s, loop blocked | 38-44 s | 14-16 s |
| loop lag p99 / max during it | 19-24 s | 1.0 / 630-666 ms | 112-114 / 573-625 ms |

(The search row is before and after the candidate cap of `store/search.py`.) The thread
keeps the loop freest, but halves write throughput and slows every write and page read by
its hops; a long write transaction then also holds the write lock 2-3 times longer, which
is what the streams that wait on it feel. Slices keep inline speed and bound the loop to a
few milliseconds a statement. The lag left during a one-transaction delete is not the
statements': it is decoding 100k documents in one `collect()` (~0.5 s) and the garbage
collector walking them, which batched deletion removes.

The one thing that can wait long is kept off the loop: taking the write lock while another
process holds the file (`BEGIN IMMEDIATE` is retried with an async back-off, never a
blocking busy-wait). SQLite's own WAL auto-checkpoint stays on: it runs every ~1000 pages
inside a commit and costs a few milliseconds; checkpointing from a worker thread instead
was measured to halve insert throughput through lock and GIL contention.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import sqlite3
import time
from collections.abc import AsyncIterator, Callable, Sequence
from pathlib import Path
from typing import Any

from advisor_chat.errors import StoreError, UniqueViolation
from advisor_chat.store.backend import (
    FOLLOW_POLL_S,
    Backend,
    Catalog,
    Connection,
    Row,
    TransactionConflict,
    unique_index_for,
)
from advisor_chat.store.sql import SQLITE

LOCK_WAIT_S = 30.0  # how long a write waits for another process's write lock
SLICE_S = 0.004  # a transaction's turn on the loop: well under a frame, ~100 statements
FETCH_ROWS = 512  # rows a read steps through between looks at the clock
DATA_VERSION_POLL_S = 0.02  # how often another process's commits are looked for
_UNIQUE = re.compile(r"UNIQUE constraint failed: (.+)")


def _translate(exc: sqlite3.Error) -> StoreError:
    message = str(exc)
    match = _UNIQUE.match(message)
    if isinstance(exc, sqlite3.IntegrityError) and match:
        qualified = [part.strip() for part in match.group(1).split(",")]
        table = qualified[0].partition(".")[0]
        columns = [part.partition(".")[2] for part in qualified]
        index, fields = unique_index_for(table, columns)
        return UniqueViolation(table.split("__")[0], index, fields)
    if isinstance(exc, sqlite3.OperationalError) and "locked" in message:
        return TransactionConflict(message)
    return StoreError(f"sqlite: {message}")


class SqliteConnection(Connection):
    """One transaction's statements, run inline, in slices: once the transaction has held
    the event loop SLICE_S, its next statement first lets every other ready task run."""

    __slots__ = ("_db", "_since")

    def __init__(self, db: sqlite3.Connection) -> None:
        self._db = db
        self._since = time.perf_counter()

    async def _turn(self) -> None:
        if time.perf_counter() - self._since >= SLICE_S:
            await asyncio.sleep(0)
            self._since = time.perf_counter()

    async def fetch(self, sql: str, params: Sequence[Any]) -> list[Row]:
        await self._turn()
        try:
            cursor = self._db.execute(sql, params)
            rows = cursor.fetchmany(FETCH_ROWS)
            if len(rows) < FETCH_ROWS:
                return rows
            # A long result: stepped through in slices too, the snapshot held meanwhile.
            while more := cursor.fetchmany(FETCH_ROWS):
                rows += more
                await self._turn()
            return rows
        except sqlite3.Error as exc:
            raise _translate(exc) from exc

    async def execute(self, sql: str, params: Sequence[Any]) -> None:
        await self._turn()
        try:
            self._db.execute(sql, params)
        except sqlite3.Error as exc:
            raise _translate(exc) from exc

    async def execute_many(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        await self._turn()
        try:
            self._db.executemany(sql, rows)
        except sqlite3.Error as exc:
            raise _translate(exc) from exc


class SqliteBackend(Backend):
    dialect = SQLITE

    def __init__(
        self, path: Path, synchronous: str = "normal", lock_wait_s: float = LOCK_WAIT_S
    ) -> None:
        self.path = path
        self.synchronous = synchronous
        self.lock_wait_s = lock_wait_s
        self._writer: sqlite3.Connection | None = None
        self._readers: list[sqlite3.Connection] = []
        self._write_lock = asyncio.Lock()

    def _connect(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        db.execute("PRAGMA busy_timeout = 50")
        db.execute(f"PRAGMA synchronous = {self.synchronous}")
        db.execute("PRAGMA cache_size = -65536")  # 64 MiB of page cache per connection
        return db

    async def open(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        writer = self._connect()
        writer.execute("PRAGMA journal_mode = WAL")
        # No busy-wait inside SQLite for the writer: it would block the event loop. A busy
        # write lock is waited for in `_begin_immediate`, asynchronously.
        writer.execute("PRAGMA busy_timeout = 0")
        self._writer = writer

    async def close(self) -> None:
        for db in self._readers:
            db.close()
        self._readers.clear()
        if self._writer is not None:
            with contextlib.suppress(sqlite3.Error):
                self._writer.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            self._writer.close()
            self._writer = None

    @contextlib.asynccontextmanager
    async def read(self) -> AsyncIterator[Connection]:
        db = self._readers.pop() if self._readers else self._connect()
        db.execute("BEGIN")
        try:
            yield SqliteConnection(db)
        finally:
            db.execute("COMMIT")
            if len(self._readers) < 8:
                self._readers.append(db)
            else:
                db.close()

    @contextlib.asynccontextmanager
    async def write(
        self, on_commit: Callable[[], None], key: str | None = None
    ) -> AsyncIterator[Connection]:
        """`key` needs nothing here: every write already runs alone."""
        db = self._writer
        if db is None:
            raise StoreError("store is closed")
        async with self._write_lock:
            await self._begin_immediate(db)
            try:
                yield SqliteConnection(db)
            except BaseException:
                db.execute("ROLLBACK")
                raise
            try:
                db.execute("COMMIT")
            except sqlite3.Error as exc:
                with contextlib.suppress(sqlite3.Error):
                    db.execute("ROLLBACK")
                raise _translate(exc) from exc
            on_commit()

    async def doorbell(self) -> AsyncIterator[None]:
        """SQLite's `data_version` changes whenever another connection, in this process or
        another, commits to the file: checked every DATA_VERSION_POLL_S on a connection of
        its own, a pragma that reads no page."""
        db = self._connect()
        try:
            seen = db.execute("PRAGMA data_version").fetchone()[0]
            waited = 0.0
            while True:
                await asyncio.sleep(DATA_VERSION_POLL_S)
                waited += DATA_VERSION_POLL_S
                version = db.execute("PRAGMA data_version").fetchone()[0]
                if version != seen or waited >= FOLLOW_POLL_S:
                    seen, waited = version, 0.0
                    yield
        finally:
            db.close()

    async def maintain(self, sql: str, params: Sequence[Any]) -> None:
        """SQLite has one writer: housekeeping takes its turn like any write."""
        async with self.write(lambda: None) as conn:
            await conn.execute(sql, params)

    async def _begin_immediate(self, db: sqlite3.Connection) -> None:
        delay, waited = 0.001, 0.0
        while True:
            try:
                db.execute("BEGIN IMMEDIATE")
                return
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc):
                    raise _translate(exc) from exc
                if waited >= self.lock_wait_s:
                    # Not a conflict to retry: another process has held the file too long.
                    raise StoreError(
                        f"sqlite: {self.path} stayed locked by another process for "
                        f"{self.lock_wait_s:g} s"
                    ) from exc
            await asyncio.sleep(delay)
            waited += delay
            delay = min(delay * 2, 0.05)

    async def catalog(self, conn: Connection) -> Catalog:
        catalog = Catalog()
        rows = await conn.fetch(
            "SELECT type, name, tbl_name FROM sqlite_master WHERE type IN ('table', 'index')",
            (),
        )
        for kind, name, table in rows:
            if kind == "table":
                cols = await conn.fetch(f'PRAGMA table_info("{name}")', ())
                catalog.columns[name] = [c[1] for c in cols]
            elif not str(name).startswith("sqlite_autoindex"):
                info = await conn.fetch(f'PRAGMA index_info("{name}")', ())
                unique = await conn.fetch(
                    'SELECT 1 FROM pragma_index_list(?) WHERE name = ? AND "unique" = 1',
                    (table, name),
                )
                columns = tuple(c[2] for c in sorted(info, key=lambda c: c[0]))
                catalog.indexes[name] = (table, columns, bool(unique))
        return catalog
