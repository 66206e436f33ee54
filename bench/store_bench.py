"""Store benchmarks, each beside a raw-driver baseline measured in the same run.

- inserts: single-document insert transactions per second, `store.mutation(insert)`
  against the driver executing the same INSERT in its own transaction (parameters built
  before the clock starts, so the baseline is the driver alone).
- page reads: the 50 newest messages of one conversation, through the store (parsed
  documents) against the driver executing the same SELECT in a read transaction, at each
  table size, to show the latency stays flat as history grows.

Rounds alternate store and baseline so machine noise lands on both alike.
"""

from __future__ import annotations

import sqlite3
import statistics
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
import orjson

from advisor_chat.schema.derive import layout_of
from advisor_chat.store import Store, Transaction
from advisor_chat.store.postgres import PostgresBackend
from advisor_chat.store.sql import Dialect, RangeShape, range_select, table_statements
from advisor_chat.store.sqlite import SqliteBackend

MESSAGES = layout_of("messages")
PAGE_SHAPE = RangeShape((False,), "", "", "desc", None, False, True)
CONTENT = "Here is what I would do with the runway you describe: " * 4
CONVERSATIONS = 1000
TARGET_SHARE = 100  # the read conversation gets one message in this many, at every size
ROUNDS = 4


@dataclass
class Figures:
    backend: str
    insert_store_tps: float = 0.0
    insert_raw_tps: float = 0.0
    reads: dict[int, dict[str, float]] = field(default_factory=dict)


def _message(conversation: str, n: int) -> dict[str, Any]:
    return {
        "conversationId": conversation,
        "sender": "advisor" if n % 2 else "user",
        "content": CONTENT,
        "mentions": [],
        "createdAt": 1_700_000_000_000 + n,
    }


def _row(store: Store, conversation: str, n: int) -> tuple[Any, ...]:
    """One messages row exactly as the store writes it."""
    doc: dict[str, Any] = {
        "_id": store.ids.new_id("messages"),
        "_creationTime": store.ids.creation_time(),
        **_message(conversation, n),
    }
    columns = [
        float(v) if c.kind == "number" and v is not None else v
        for c, v in zip(MESSAGES.columns, MESSAGES.column_values(doc), strict=True)
    ]
    return (doc["_id"], doc["_creationTime"], orjson.dumps(doc).decode(), *columns)


def _percentile(samples: list[float], p: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(p * len(ordered)))]


class Driver:
    """The raw driver on the same database: the baseline."""

    dialect: Dialect

    async def insert_tx(self, sql: str, params: tuple[Any, ...]) -> None:
        raise NotImplementedError

    async def read_tx(self, sql: str, params: tuple[Any, ...]) -> list[Any]:
        raise NotImplementedError

    async def bulk(self, rows: list[tuple[Any, ...]]) -> None:
        raise NotImplementedError

    async def close(self) -> None:
        raise NotImplementedError


class SqliteDriver(Driver):
    def __init__(self, path: Path, dialect: Dialect) -> None:
        self.dialect = dialect
        self.db = sqlite3.connect(path, isolation_level=None)
        self.db.execute("PRAGMA synchronous = normal")
        self.db.execute("PRAGMA busy_timeout = 50")

    async def insert_tx(self, sql: str, params: tuple[Any, ...]) -> None:
        self.db.execute("BEGIN IMMEDIATE")
        self.db.execute(sql, params)
        self.db.execute("COMMIT")

    async def read_tx(self, sql: str, params: tuple[Any, ...]) -> list[Any]:
        self.db.execute("BEGIN")
        rows = self.db.execute(sql, params).fetchall()
        self.db.execute("COMMIT")
        return rows

    async def bulk(self, rows: list[tuple[Any, ...]]) -> None:
        sql = table_statements(self.dialect, MESSAGES).insert
        self.db.execute("BEGIN IMMEDIATE")
        self.db.executemany(sql, rows)
        self.db.execute("COMMIT")

    async def close(self) -> None:
        self.db.close()


class PostgresDriver(Driver):
    def __init__(self, conn: asyncpg.Connection, dialect: Dialect) -> None:
        self.dialect = dialect
        self.conn = conn

    async def insert_tx(self, sql: str, params: tuple[Any, ...]) -> None:
        async with self.conn.transaction(isolation="serializable"):
            await self.conn.execute(sql, *params)

    async def read_tx(self, sql: str, params: tuple[Any, ...]) -> list[Any]:
        async with self.conn.transaction(isolation="repeatable_read", readonly=True):
            return list(await self.conn.fetch(sql, *params))

    async def bulk(self, rows: list[tuple[Any, ...]]) -> None:
        columns = ["_id", "_creationTime", "doc", *(c.name for c in MESSAGES.columns)]
        await self.conn.copy_records_to_table("messages", records=rows, columns=columns)

    async def close(self) -> None:
        await self.conn.close()


async def _timed(n: int, op: Callable[[int], Awaitable[Any]]) -> float:
    start = time.perf_counter_ns()
    for i in range(n):
        await op(i)
    return (time.perf_counter_ns() - start) / 1e9


async def bench_inserts(
    store: Store, driver: Driver, conversation: str, total: int
) -> tuple[float, float]:
    per_round = max(1, total // ROUNDS)
    sql = table_statements(driver.dialect, MESSAGES).insert
    store_rates: list[float] = []
    raw_rates: list[float] = []
    serial = 0
    for _ in range(ROUNDS):
        prepared = [_row(store, conversation, serial + i) for i in range(per_round)]
        serial += per_round

        async def raw(i: int, prepared: list[tuple[Any, ...]] = prepared) -> None:
            await driver.insert_tx(sql, prepared[i])

        raw_rates.append(per_round / await _timed(per_round, raw))
        docs = [_message(conversation, serial + i) for i in range(per_round)]
        serial += per_round

        async def one(i: int, docs: list[dict[str, Any]] = docs) -> None:
            async def insert(tx: Transaction) -> str:
                return await tx.insert("messages", docs[i])

            await store.mutation(insert)

        store_rates.append(per_round / await _timed(per_round, one))
    return statistics.median(store_rates), statistics.median(raw_rates)


async def fill(
    store: Store,
    driver: Driver,
    conversations: list[str],
    start: int,
    stop: int,
    progress: Callable[[str], None],
) -> None:
    target = conversations[0]
    batch: list[tuple[Any, ...]] = []
    for n in range(start, stop):
        conversation = (
            target if n % TARGET_SHARE == 0 else conversations[1 + n % (len(conversations) - 1)]
        )
        batch.append(_row(store, conversation, n))
        if len(batch) == 50_000:
            await driver.bulk(batch)
            batch.clear()
            progress(f"  loaded {n + 1:,} messages")
    if batch:
        await driver.bulk(batch)


async def bench_page_reads(
    store: Store, driver: Driver, conversation: str, reads: int
) -> dict[str, float]:
    sql = range_select(driver.dialect, MESSAGES.indexes["by_conversation_created"], PAGE_SHAPE)

    async def page(tx: Transaction) -> Any:
        return (
            await tx.query("messages", "by_conversation_created")
            .eq("conversationId", conversation)
            .order("desc")
            .paginate(50)
        )

    check = (await store.query(page)).value
    raw = await driver.read_tx(sql, (conversation, 50))
    assert [d["_id"] for d in check.page] == [orjson.loads(r[0])["_id"] for r in raw]
    assert len(check.page) == 50
    store_ms: list[float] = []
    raw_ms: list[float] = []
    for _ in range(max(50, reads // 10)):  # warm caches and statement caches
        await store.query(page)
        await driver.read_tx(sql, (conversation, 50))
    for _ in range(reads):
        t = time.perf_counter_ns()
        await store.query(page)
        store_ms.append((time.perf_counter_ns() - t) / 1e6)
        t = time.perf_counter_ns()
        await driver.read_tx(sql, (conversation, 50))
        raw_ms.append((time.perf_counter_ns() - t) / 1e6)
    return {
        "store_p50": _percentile(store_ms, 0.50),
        "store_p99": _percentile(store_ms, 0.99),
        "raw_p50": _percentile(raw_ms, 0.50),
        "raw_p99": _percentile(raw_ms, 0.99),
    }


async def run_backend(
    name: str,
    backend_and_driver: Callable[[], Awaitable[tuple[Store, Driver]]],
    sizes: list[int],
    inserts: int,
    reads: int,
    progress: Callable[[str], None],
) -> Figures:
    figures = Figures(name)
    store, driver = await backend_and_driver()
    try:
        await store.migrate()

        async def setup(tx: Transaction) -> list[str]:
            user = await tx.insert(
                "users", {"clerkId": "bench", "plan": "pro", "createdAt": 1, "updatedAt": 1}
            )
            return [
                await tx.insert("conversations", {"userId": user, "createdAt": 1, "updatedAt": 1})
                for _ in range(CONVERSATIONS + 1)
            ]

        conversations = (await store.mutation(setup)).value
        progress(f"{name}: {inserts:,} single-document insert transactions, store vs raw")
        figures.insert_store_tps, figures.insert_raw_tps = await bench_inserts(
            store, driver, conversations[-1], inserts
        )
        loaded = 0
        for size in sizes:
            progress(f"{name}: filling messages to {size:,}")
            await fill(store, driver, conversations[:-1], loaded, size, progress)
            loaded = size
            if name == "postgres":
                await store.mutation(lambda tx: tx.conn.execute("ANALYZE", ()))
            progress(f"{name}: {reads:,} page reads at {size:,} messages")
            figures.reads[size] = await bench_page_reads(store, driver, conversations[0], reads)
    finally:
        await driver.close()
        await store.close()
    return figures


async def sqlite_pair(directory: Path) -> tuple[Store, Driver]:
    path = directory / "bench.sqlite3"
    store = Store(SqliteBackend(path))
    await store.open()
    await store.migrate()
    return store, SqliteDriver(path, store.backend.dialect)


async def postgres_pair(url: str) -> tuple[Store, Driver]:
    store = Store(PostgresBackend(url))
    await store.open()
    conn = await asyncpg.connect(url)
    return store, PostgresDriver(conn, store.backend.dialect)
