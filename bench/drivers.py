"""The baseline: the raw driver (sqlite3, asyncpg) running the SQL the store runs.

Same statements (`store.sql`), same parameters (`message_row` builds them as
`Transaction.insert` does), same transaction kinds and connection settings as
`store/sqlite.py` and `store/postgres.py`. What the store costs on top is its own work:
validation, ids, JSON, read and write sets, the commit log, the pool.
"""

from __future__ import annotations

import contextlib
import sqlite3
from abc import ABC, abstractmethod
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import asyncpg
import orjson

from advisor_chat.schema.derive import layout_of
from advisor_chat.schema.ids import IdGenerator
from advisor_chat.store import Document
from advisor_chat.store.query import param
from advisor_chat.store.search import searched_text
from advisor_chat.store.sql import POSTGRES, SQLITE, Dialect, table_statements

MESSAGES = layout_of("messages")
INSERT_COLUMNS = ("_id", "_creationTime", "doc", *(c.name for c in MESSAGES.columns))
SEARCHED_COLUMNS = tuple(s.name for s in MESSAGES.table.search_indexes)  # PostgreSQL's
CREATED_AT_BASE = 1_700_000_000_000  # ms; message n is created at BASE + n

SYNCHRONOUS = {"0": "off", "1": "normal", "2": "full", "3": "extra"}  # PRAGMA's numbers

Row = tuple[Any, ...]


def message_fields(conversation: str, n: int) -> Document:
    """Message number `n`: what `messages:send` would insert (about 200 characters)."""
    return {
        "conversationId": conversation,
        "sender": "advisor" if n % 2 else "user",
        "content": (
            f"Message {n}: here is what I would do with the runway you describe. Cut the "
            "paid acquisition test to two channels, hire the second engineer in March, "
            "and revisit pricing once churn data covers a full quarter."
        ),
        "mentions": [],
        "createdAt": CREATED_AT_BASE + n,
    }


def message_row(
    ids: IdGenerator, conversation: str, n: int, dialect: Dialect
) -> tuple[Row, Document]:
    """Message number `n` of `conversation` as a row: see `row_of`."""
    return row_of(ids, message_fields(conversation, n), dialect)


def row_of(ids: IdGenerator, fields: Document, dialect: Dialect) -> tuple[Row, Document]:
    """One messages row exactly as `Transaction.insert` writes it, and its document."""
    doc: Document = {"_id": ids.new_id("messages"), "_creationTime": ids.creation_time(), **fields}
    columns = [param(c, c.extract(doc)) for c in MESSAGES.columns]
    if dialect.name == "postgres":  # the searched text's own column (store/search.py)
        columns += [searched_text(s, doc) for s in MESSAGES.table.search_indexes]
    return (doc["_id"], doc["_creationTime"], orjson.dumps(doc).decode(), *columns), doc


class Driver(ABC):
    """The raw driver on the database the store uses."""

    dialect: Dialect

    @property
    def insert_sql(self) -> str:
        return table_statements(self.dialect, MESSAGES).insert

    @abstractmethod
    async def insert_tx(self, row: Row) -> None:
        """One INSERT in its own write transaction, as a one-insert mutation runs."""

    @abstractmethod
    async def read_tx(self, sql: str, params: Sequence[Any]) -> list[Row]:
        """One SELECT in a read transaction, as `store.query` runs it."""

    @abstractmethod
    async def bulk(self, rows: Sequence[Row]) -> None:
        """Load rows fast (one big transaction, executemany / COPY)."""

    @abstractmethod
    async def scalar(self, sql: str) -> Any: ...

    @abstractmethod
    async def clear(self) -> None:
        """Delete every message (those the insert benchmark wrote)."""

    @abstractmethod
    async def settle(self) -> None:
        """Bring the table to the state a long-running database keeps it in."""

    @abstractmethod
    async def describe(self) -> dict[str, str]:
        """Version and the settings that bear on the figures."""

    @abstractmethod
    async def close(self) -> None: ...


class SqliteDriver(Driver):
    dialect = SQLITE

    def __init__(self, path: Path, synchronous: str = "normal") -> None:
        self.db = sqlite3.connect(path, isolation_level=None)
        # The store's PRAGMAs (store/sqlite.py): WAL, its synchronous, busy wait, page cache.
        self.db.execute("PRAGMA journal_mode = WAL")
        self.db.execute(f"PRAGMA synchronous = {synchronous}")
        self.db.execute("PRAGMA busy_timeout = 50")
        self.db.execute("PRAGMA cache_size = -65536")

    async def insert_tx(self, row: Row) -> None:
        self.db.execute("BEGIN IMMEDIATE")
        self.db.execute(self.insert_sql, row)
        self.db.execute("COMMIT")

    async def read_tx(self, sql: str, params: Sequence[Any]) -> list[Row]:
        self.db.execute("BEGIN")
        rows = self.db.execute(sql, params).fetchall()
        self.db.execute("COMMIT")
        return rows

    async def bulk(self, rows: Sequence[Row]) -> None:
        self.db.execute("BEGIN IMMEDIATE")
        self.db.executemany(self.insert_sql, rows)
        self.db.execute("COMMIT")

    async def scalar(self, sql: str) -> Any:
        return self.db.execute(sql).fetchone()[0]

    async def clear(self) -> None:
        self.db.execute("DELETE FROM messages")

    async def settle(self) -> None:
        # Fold the bulk load's WAL into the database file, as the auto-checkpoint does over
        # time. The store never runs ANALYZE, so neither does the bench.
        self.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")

    async def describe(self) -> dict[str, str]:
        settings = ("journal_mode", "synchronous", "cache_size", "page_size")
        found = {s: str(self.db.execute(f"PRAGMA {s}").fetchone()[0]) for s in settings}
        found["synchronous"] = SYNCHRONOUS.get(found["synchronous"], found["synchronous"])
        return {"version": sqlite3.sqlite_version, **found}

    async def close(self) -> None:
        self.db.close()


class PostgresDriver(Driver):
    dialect = POSTGRES

    def __init__(self, conn: asyncpg.Connection) -> None:
        self.conn = conn

    @classmethod
    async def connect(cls, url: str) -> PostgresDriver:
        return cls(await asyncpg.connect(url))

    async def insert_tx(self, row: Row) -> None:
        async with self.conn.transaction(isolation="serializable"):  # as the store's writes
            await self.conn.execute(self.insert_sql, *row)

    async def read_tx(self, sql: str, params: Sequence[Any]) -> list[Row]:
        async with self.conn.transaction(isolation="repeatable_read", readonly=True):
            return [tuple(r) for r in await self.conn.fetch(sql, *params)]

    async def bulk(self, rows: Sequence[Row]) -> None:
        # Every column `message_row` fills: COPY would leave one it is not told of NULL.
        columns = INSERT_COLUMNS + SEARCHED_COLUMNS
        await self.conn.copy_records_to_table("messages", records=rows, columns=columns)

    async def scalar(self, sql: str) -> Any:
        return await self.conn.fetchval(sql)

    async def clear(self) -> None:
        await self.conn.execute("DELETE FROM messages")

    async def settle(self) -> None:
        # What autovacuum does to a table that lives long: hint bits and the visibility map
        # set, statistics current. Without it the first reads after a COPY write hint bits.
        await self.conn.execute("VACUUM (ANALYZE) messages")
        # Write the load out now, not in a checkpoint during the timed reads. Needs a
        # superuser or pg_checkpoint on a server of your own; without, the reads take that.
        with contextlib.suppress(asyncpg.InsufficientPrivilegeError):
            await self.conn.execute("CHECKPOINT")

    async def describe(self) -> dict[str, str]:
        settings = ("server_version", "fsync", "synchronous_commit", "shared_buffers")
        return {s: str(await self.conn.fetchval(f"SHOW {s}")) for s in settings}

    async def close(self) -> None:
        await self.conn.close()
