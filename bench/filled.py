"""A database that looks lived in: 50,000 users, each with a conversation, a messages
quota row and four messages (200,000), loaded fast by the raw driver (COPY / executemany
in one transaction) with rows built exactly as `Transaction.insert` writes them, then
analysed, as autovacuum would have done on a database that grew to this size.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
import orjson

from advisor_chat.schema.derive import layout_of
from advisor_chat.schema.ids import IdGenerator
from advisor_chat.store import Document
from advisor_chat.store.query import param
from advisor_chat.store.search import searched_text
from advisor_chat.store.sql import (
    POSTGRES,
    SQLITE,
    Dialect,
    q,
    search_columns,
    table_statements,
)

CREATED_AT_BASE = 1_700_000_000_000  # ms
TABLES = ("users", "conversations", "rateLimits", "messages")


@dataclass(frozen=True)
class Fill:
    users: int = 50_000  # each with one conversation and one quota row
    messages_per_conversation: int = 4

    @property
    def messages(self) -> int:
        return self.users * self.messages_per_conversation


def _documents(fill: Fill) -> Iterator[tuple[str, Document]]:
    """(table, fields) for every row, in the order a product would have written them."""
    for n in range(fill.users):
        at = CREATED_AT_BASE + n * 1000
        yield "users", {"clerkId": f"fill-{n}", "plan": "free", "createdAt": at, "updatedAt": at}
        yield "conversations", {"title": f"Runway {n}", "createdAt": at, "updatedAt": at}
        yield "rateLimits", {"bucket": "messages", "windowStart": at, "count": 1}
        for m in range(fill.messages_per_conversation):
            yield (
                "messages",
                {
                    "sender": "user" if m % 2 == 0 else "advisor",
                    "content": f"Message {m} of conversation {n}: what should we cut first?",
                    "mentions": [],
                    "createdAt": at + m,
                    "status": "complete",
                },
            )


def rows(fill: Fill, ids: IdGenerator, dialect: Dialect) -> dict[str, list[tuple[Any, ...]]]:
    """Every table's rows as the store's INSERT takes them (see `Transaction._insert_row`)."""
    out: dict[str, list[tuple[Any, ...]]] = {table: [] for table in TABLES}
    user = conversation = ""
    for table, fields in _documents(fill):
        if table in ("conversations", "rateLimits"):
            fields["userId"] = user
        elif table == "messages":
            fields["conversationId"] = conversation
        layout = layout_of(table)
        doc: Document = {"_id": ids.new_id(table), "_creationTime": ids.creation_time(), **fields}
        assert not any(i.keys(doc) for i in layout.entry_indexes()), "no entries tables here"
        row = [doc["_id"], doc["_creationTime"], orjson.dumps(doc).decode()]
        row += [param(c, c.extract(doc)) for c in layout.columns]
        if dialect.name == "postgres":
            row += [searched_text(s, doc) for s in layout.table.search_indexes]
        out[table].append(tuple(row))
        if table == "users":
            user = doc["_id"]
        elif table == "conversations":
            conversation = doc["_id"]
    return out


def _columns(dialect: Dialect, table: str) -> list[str]:
    layout = layout_of(table)
    names = ["_id", "_creationTime", "doc", *(c.name for c in layout.columns)]
    return names + search_columns(dialect, layout)


async def fill_postgres(url: str, fill: Fill, progress: Callable[[str], None]) -> None:
    loaded = rows(fill, IdGenerator(), POSTGRES)
    conn = await asyncpg.connect(url)
    try:
        async with conn.transaction():
            for table, records in loaded.items():
                columns = _columns(POSTGRES, table)
                await conn.copy_records_to_table(table, records=records, columns=columns)
                progress(f"postgres: loaded {len(records):,} {table}")
        # What autovacuum does to tables that grew to this size: statistics, visibility map.
        await conn.execute(f"VACUUM (ANALYZE) {', '.join(q(t) for t in TABLES)}")
    finally:
        await conn.close()


def fill_sqlite(path: Path, fill: Fill, progress: Callable[[str], None]) -> None:
    loaded = rows(fill, IdGenerator(), SQLITE)
    db = sqlite3.connect(path, isolation_level=None)
    try:
        db.execute("BEGIN IMMEDIATE")
        for table, records in loaded.items():
            db.executemany(table_statements(SQLITE, layout_of(table)).insert, records)
            progress(f"sqlite: loaded {len(records):,} {table}")
        db.execute("COMMIT")
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        db.close()
