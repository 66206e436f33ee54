"""Bytes a database appends to its write-ahead log over a span of work: what a round costs
the disk, pages and all, where counting documents (bench/chat_engine.py) sees only JSON."""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3

import asyncpg

from advisor_chat.store.sqlite import SqliteBackend


class WalError(RuntimeError):
    """The log could not be measured."""


class Wal:
    """Bytes a database appended to its write-ahead log over a span of work."""

    async def start(self) -> None: ...

    async def stop(self) -> int:
        return 0


class SqliteWal(Wal):
    """SQLite: the WAL checkpointed empty first, and the writer's automatic checkpoint off
    meanwhile (it would start the file over, hiding what was written before); the file's
    size after is what the span appended."""

    AUTOCHECKPOINT = 1000  # SQLite's default, which the store keeps

    def __init__(self, backend: SqliteBackend) -> None:
        self.backend = backend
        self.wal = backend.path.with_name(backend.path.name + "-wal")

    def _writer(self) -> sqlite3.Connection:
        writer = self.backend._writer  # the store's one writer: where checkpoints happen
        if writer is None:
            raise WalError("the store is closed")
        return writer

    async def start(self) -> None:
        self._writer().execute("PRAGMA wal_autocheckpoint = 0")

        def truncate() -> tuple[int, int, int]:
            with contextlib.closing(sqlite3.connect(self.backend.path)) as db:
                db.execute("PRAGMA busy_timeout = 5000")
                busy, log, done = db.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
                return int(busy), int(log), int(done)

        # A thread: the checkpoint waits for any write in progress, which this loop runs.
        busy, _, _ = await asyncio.to_thread(truncate)
        if busy:
            raise WalError("could not empty the WAL before measuring it")

    async def stop(self) -> int:
        size = self.wal.stat().st_size
        self._writer().execute(f"PRAGMA wal_autocheckpoint = {self.AUTOCHECKPOINT}")
        return size


class PostgresWal(Wal):
    """PostgreSQL: how far the server's WAL insert position moved (the bench's own server:
    only its work, and the server's own housekeeping)."""

    def __init__(self, url: str) -> None:
        self.url = url
        self._from: str | None = None

    async def start(self) -> None:
        conn = await asyncpg.connect(self.url)
        try:
            self._from = str(await conn.fetchval("SELECT pg_current_wal_lsn()::text"))
        finally:
            await conn.close()

    async def stop(self) -> int:
        conn = await asyncpg.connect(self.url)
        try:
            moved = await conn.fetchval(
                "SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), $1::text::pg_lsn)", self._from
            )
        finally:
            await conn.close()
        return int(moved)
