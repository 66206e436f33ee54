"""`python -m bench.prisma_import`: rows per second of `advisor-chat import prisma` from a
Prisma database of 100,000 messages, beside a raw copy measured in the same run.

The baseline is the floor of the same work without our layers: read every Message row
with the driver and insert it, unmapped, into a plain table with as many indexes as our
messages table, in one transaction. The ratio says what mapping, validation, an upsert by
legacy id per row and paged transactions cost. SQLite → SQLite always; with `--postgres`,
also a PostgreSQL Prisma database (on a private, durable server) into each of our
backends. Nothing here asserts a timing.
"""

from __future__ import annotations

import argparse
import asyncio
import sqlite3
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import asyncpg
from rich.console import Console
from rich.table import Table
from tests.importers.prisma_db import Rows, bulk, write_postgres, write_sqlite
from tests.services import PostgresServer

from advisor_chat.importers.prisma import import_prisma
from advisor_chat.importers.report import Outcome
from advisor_chat.store import Store
from advisor_chat.store.backend import Backend
from advisor_chat.store.postgres import PostgresBackend
from advisor_chat.store.sqlite import SqliteBackend

COLUMNS: tuple[str, ...] = ("id", "conversationId", "sender", "advisorId", "content")
COLUMNS += ("contentJson", "mentions", "tokensUsed", "createdAt")
INDEXED = ("conversationId", "advisorId", "sender", "createdAt", "id")


@dataclass
class Run:
    label: str
    rows: int
    seconds: float

    @property
    def rate(self) -> float:
        return self.rows / self.seconds


def _quoted(names: tuple[str, ...]) -> str:
    return ", ".join(f'"{n}"' for n in names)


def raw_copy_sqlite(source: Path, target: Path) -> Run:
    started = time.perf_counter()
    src = sqlite3.connect(source)
    dst = sqlite3.connect(target, isolation_level=None)
    dst.execute("PRAGMA journal_mode = WAL")
    dst.execute("PRAGMA synchronous = normal")
    dst.execute(f"CREATE TABLE m ({_quoted(COLUMNS)})")
    for i, column in enumerate(INDEXED):
        dst.execute(f'CREATE INDEX m{i} ON m ("{column}", "createdAt")')
    dst.execute('CREATE UNIQUE INDEX m_id ON m ("id")')
    dst.execute("BEGIN")
    rows = 0
    cursor = src.execute(f'SELECT {_quoted(COLUMNS)} FROM "Message"')
    marks = ", ".join("?" for _ in COLUMNS)
    while batch := cursor.fetchmany(1000):
        dst.executemany(f"INSERT INTO m VALUES ({marks})", batch)
        rows += len(batch)
    dst.execute("COMMIT")
    src.close()
    dst.close()
    return Run("raw copy of Message (baseline)", rows, time.perf_counter() - started)


async def raw_copy_postgres(source: str, target: str) -> Run:
    started = time.perf_counter()
    src, dst = await asyncpg.connect(source), await asyncpg.connect(target)
    try:
        await dst.execute(
            'CREATE TABLE m (id text, "conversationId" text, sender text, "advisorId" text, '
            'content text, "contentJson" jsonb, mentions text[], "tokensUsed" integer, '
            '"createdAt" timestamp(3))'
        )
        for i, column in enumerate(INDEXED):
            await dst.execute(f'CREATE INDEX m{i} ON m ("{column}", "createdAt")')
        await dst.execute('CREATE UNIQUE INDEX m_id ON m ("id")')
        rows = 0
        marks = ", ".join(f"${i}" for i in range(1, len(COLUMNS) + 1))
        async with src.transaction(), dst.transaction():
            cursor = await src.cursor(f'SELECT {_quoted(COLUMNS)} FROM "Message"')
            while batch := await cursor.fetch(1000):
                await dst.executemany(f"INSERT INTO m VALUES ({marks})", [tuple(r) for r in batch])
                rows += len(batch)
    finally:
        await src.close()
        await dst.close()
    return Run("raw copy of Message (baseline)", rows, time.perf_counter() - started)


async def ours(source_url: str, backend: Backend, label: str) -> list[Run]:
    """The whole import into a new store: its messages, and all its rows."""
    async with Store(backend) as store:
        await store.migrate()
        started = time.perf_counter()
        report = await import_prisma(store, source_url)
        seconds = time.perf_counter() - started
    if report.total(Outcome.SKIPPED):
        skipped = list(report.skipped())[:3]
        raise SystemExit(f"{report.total(Outcome.SKIPPED)} rows skipped: {skipped}")
    return [
        Run(f"{label}, messages", report.count("messages", Outcome.IMPORTED), seconds),
        Run(f"{label}, all rows", report.total(Outcome.IMPORTED), seconds),
    ]


def show(console: Console, title: str, runs: list[Run]) -> None:
    table = Table(title=title)
    for column in ("run", "rows", "seconds", "rows/s", "÷ baseline"):
        table.add_column(column, justify="left" if column == "run" else "right", no_wrap=True)
    baseline = runs[0].rate
    for run in runs:
        table.add_row(
            run.label,
            f"{run.rows:,}",
            f"{run.seconds:.2f}",
            f"{run.rate:,.0f}",
            f"{run.rate / baseline:.2f}",
        )
    console.print(table)


@contextmanager
def private_postgres() -> Iterator[PostgresServer]:
    from tests.services import postgres_server

    with postgres_server(durable=True) as server:  # commits cost what they cost for real
        yield server


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=100_000, help="multiple of 1,000")
    parser.add_argument("--postgres", action="store_true", help="also from PostgreSQL")
    args = parser.parse_args()
    console = Console()
    users = max(1, args.messages // 1000)
    rows: Rows = bulk(users=users, conversations_per_user=10, messages_per_conversation=100)
    with tempfile.TemporaryDirectory(prefix="bench-prisma-") as folder:
        root = Path(folder)
        source = root / "dev.db"
        console.print(f"building a Prisma SQLite database: {users * 1000:,} messages …")
        write_sqlite(source, rows)
        runs = [raw_copy_sqlite(source, root / "raw.sqlite3")]
        runs += asyncio.run(
            ours(f"file:{source}", SqliteBackend(root / "ours.sqlite3"), "import prisma")
        )
        show(console, "Prisma on SQLite → our SQLite store", runs)
        if args.postgres:
            with private_postgres() as server:
                asyncio.run(_postgres_runs(console, server, rows, root))


async def _postgres_runs(console: Console, server: PostgresServer, rows: Rows, root: Path) -> None:
    from tests.services import create_database

    for name in ("prisma", "raw", "ours"):
        await create_database(server.url, name)
    prisma_url = server.database_url("prisma")
    console.print("building the same Prisma database on PostgreSQL …")
    await write_postgres(prisma_url, rows)
    baseline = await raw_copy_postgres(prisma_url, server.database_url("raw"))
    into_sqlite = await ours(prisma_url, SqliteBackend(root / "ours-pg.sqlite3"), "import prisma")
    show(console, "Prisma on PostgreSQL → our SQLite store", [baseline, *into_sqlite])
    ours_pg = PostgresBackend(server.database_url("ours"), pool_size=4)
    into_pg = await ours(prisma_url, ours_pg, "import prisma")
    show(console, "Prisma on PostgreSQL → our PostgreSQL store", [baseline, *into_pg])


if __name__ == "__main__":
    main()
