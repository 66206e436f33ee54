"""SQLite: one file in the data directory, WAL, one writer.

Statements run inline on the event loop's thread. That is deliberate: every statement the
store issues walks an index range and takes microseconds, less than a hop to a worker
thread costs (measured here: ~95 us a hop against ~35 us for a whole insert transaction).
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
from collections.abc import AsyncIterator, Callable, Sequence
from pathlib import Path
from typing import Any

from advisor_chat.errors import StoreError, UniqueViolation
from advisor_chat.store.backend import (
    Backend,
    Catalog,
    Connection,
    Row,
    TransactionConflict,
    unique_index_for,
)
from advisor_chat.store.sql import SQLITE

LOCK_WAIT_S = 30.0  # how long a write waits for another process's write lock
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
    __slots__ = ("_db",)

    def __init__(self, db: sqlite3.Connection) -> None:
        self._db = db

    async def fetch(self, sql: str, params: Sequence[Any]) -> list[Row]:
        try:
            return self._db.execute(sql, params).fetchall()
        except sqlite3.Error as exc:
            raise _translate(exc) from exc

    async def execute(self, sql: str, params: Sequence[Any]) -> None:
        try:
            self._db.execute(sql, params)
        except sqlite3.Error as exc:
            raise _translate(exc) from exc

    async def execute_many(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
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
