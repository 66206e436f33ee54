"""`python -m bench.prisma_import`: rows per second of `advisor-chat import prisma` from a
SQLite Prisma database of 100,000 messages, beside a raw copy measured in the same run.

The baseline is the floor of the same work without our layers: read every Message row
from the Prisma file and insert it, unmapped, into a plain table with the same number of
indexes as our messages table, in one transaction (WAL, synchronous=normal, as the store).
The ratio says what mapping, validation, upserts by legacy id and paged transactions cost.
Nothing here asserts a timing.
"""

from __future__ import annotations

import argparse
import asyncio
import sqlite3
import tempfile
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table
from tests.importers.prisma_db import bulk, write_sqlite

from advisor_chat.importers.prisma import import_prisma
from advisor_chat.importers.report import Outcome
from advisor_chat.store import Store
from advisor_chat.store.sqlite import SqliteBackend


def raw_copy(source: Path, target: Path) -> tuple[int, float]:
    """(rows, seconds) to copy the Message table into an indexed table of a new file."""
    started = time.perf_counter()
    src = sqlite3.connect(source)
    dst = sqlite3.connect(target, isolation_level=None)
    dst.execute("PRAGMA journal_mode = WAL")
    dst.execute("PRAGMA synchronous = normal")
    columns = "id, conversationId, sender, advisorId, content, contentJson, mentions, tokensUsed"
    dst.execute(f"CREATE TABLE m ({columns}, createdAt)")
    for i, column in enumerate(("conversationId", "advisorId", "sender", "createdAt", "id")):
        dst.execute(f"CREATE INDEX m{i} ON m ({column}, createdAt)")
    dst.execute("CREATE UNIQUE INDEX m_id ON m (id)")
    dst.execute("BEGIN")
    rows = 0
    cursor = src.execute(f'SELECT {columns}, createdAt FROM "Message"')
    while batch := cursor.fetchmany(1000):
        dst.executemany("INSERT INTO m VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", batch)
        rows += len(batch)
    dst.execute("COMMIT")
    src.close()
    dst.close()
    return rows, time.perf_counter() - started


async def ours(source: Path, target: Path) -> tuple[int, int, float]:
    """(messages, all rows, seconds) for the whole import into a new SQLite store."""
    async with Store(SqliteBackend(target)) as store:
        await store.migrate()
        started = time.perf_counter()
        report = await import_prisma(store, f"file:{source}")
        seconds = time.perf_counter() - started
    if report.total(Outcome.SKIPPED):
        raise SystemExit(
            f"{report.total(Outcome.SKIPPED)} rows skipped: {list(report.skipped())[:3]}"
        )
    return report.count("messages", Outcome.IMPORTED), report.total(Outcome.IMPORTED), seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=100_000, help="multiple of 1,000")
    args = parser.parse_args()
    console = Console()
    users = max(1, args.messages // 1000)
    with tempfile.TemporaryDirectory(prefix="bench-prisma-") as folder:
        root = Path(folder)
        source = root / "dev.db"
        console.print(f"building a Prisma SQLite database: {users * 1000:,} messages …")
        write_sqlite(
            source, bulk(users=users, conversations_per_user=10, messages_per_conversation=100)
        )
        raw_rows, raw_s = raw_copy(source, root / "raw.sqlite3")
        messages, rows, ours_s = asyncio.run(ours(source, root / "ours.sqlite3"))
    table = Table(title="import prisma (SQLite → SQLite)")
    for column in ("run", "rows", "seconds", "rows/s"):
        table.add_column(column, justify="right" if column != "run" else "left")
    table.add_row(
        "raw copy of Message (baseline)",
        f"{raw_rows:,}",
        f"{raw_s:.2f}",
        f"{raw_rows / raw_s:,.0f}",
    )
    table.add_row(
        "advisor-chat import prisma, messages",
        f"{messages:,}",
        f"{ours_s:.2f}",
        f"{messages / ours_s:,.0f}",
    )
    table.add_row(
        "advisor-chat import prisma, all rows",
        f"{rows:,}",
        f"{ours_s:.2f}",
        f"{rows / ours_s:,.0f}",
    )
    console.print(table)
    console.print(f"ratio import/raw (rows/s): {rows / ours_s / (raw_rows / raw_s):.2f}")


if __name__ == "__main__":
    main()
