"""Every benchmark on one database: inserts on the empty table, then page reads at each
size, growing the table between them (10k -> 100k -> 1M) rather than refilling it."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from advisor_chat.store import Store, Transaction
from advisor_chat.store.postgres import PostgresBackend
from advisor_chat.store.sqlite import SqliteBackend
from bench.drivers import Driver, PostgresDriver, SqliteDriver
from bench.inserts import InsertFigures, bench_inserts
from bench.page_reads import BenchError, MessageTable, ReadFigures, bench_page_reads

CONVERSATIONS = 1000  # besides the read conversation and the insert benchmark's


@dataclass
class BackendFigures:
    backend: str
    environment: dict[str, str]
    inserts: InsertFigures | None = None
    reads: list[ReadFigures] = field(default_factory=list)


async def _conversations(store: Store, n: int) -> list[str]:
    async def create(tx: Transaction) -> list[str]:
        clerk_id = f"bench-{uuid.uuid4()}"  # unique: by_clerk_id is a unique index
        user = await tx.insert(
            "users", {"clerkId": clerk_id, "plan": "pro", "createdAt": 1, "updatedAt": 1}
        )
        fields = {"userId": user, "title": "bench", "createdAt": 1, "updatedAt": 1}
        return [await tx.insert("conversations", fields) for _ in range(n)]

    return (await store.mutation(create)).value


async def run_backend(
    store: Store,
    driver: Driver,
    sizes: list[int],
    inserts: int,
    reads: int,
    progress: Callable[[str], None],
) -> BackendFigures:
    """Run on a migrated `store` whose messages table is empty; `driver` is its baseline."""
    name = driver.dialect.name
    figures = BackendFigures(name, await driver.describe())
    if held := await driver.scalar("SELECT count(*) FROM messages"):
        raise BenchError(f"{name}: messages already holds {held:,} rows; use an empty database")
    insert_into, target, *others = await _conversations(store, CONVERSATIONS + 2)

    progress(f"{name}: {inserts:,} single-document insert transactions a side, store vs raw")
    figures.inserts = await bench_inserts(store, driver, insert_into, inserts)
    written = await driver.scalar("SELECT count(*) FROM messages")
    if written != 2 * figures.inserts.per_side:
        raise BenchError(f"{name}: {written:,} messages after {figures.inserts.per_side:,} a side")
    await driver.clear()  # the page-read sizes count every row in the table

    table = MessageTable(store, driver, target, others, progress)
    for size in sorted(sizes):
        await table.grow(size)
        await table.verify()
        progress(f"{name}: {reads:,} page reads a side at {table.count:,} messages")
        figures.reads.append(await bench_page_reads(store, driver, table, reads))
    return figures


async def run_sqlite(
    directory: Path, sizes: list[int], inserts: int, reads: int, progress: Callable[[str], None]
) -> BackendFigures:
    backend = SqliteBackend(directory / "bench.sqlite3")
    async with Store(backend) as store:
        await store.migrate()
        driver = SqliteDriver(backend.path, backend.synchronous)
        try:
            return await run_backend(store, driver, sizes, inserts, reads, progress)
        finally:
            await driver.close()


async def run_postgres(
    url: str, sizes: list[int], inserts: int, reads: int, progress: Callable[[str], None]
) -> BackendFigures:
    async with Store(PostgresBackend(url)) as store:
        await store.migrate()
        driver = await PostgresDriver.connect(url)
        try:
            return await run_backend(store, driver, sizes, inserts, reads, progress)
        finally:
            await driver.close()
