"""Several processes writing one SQLite file: the write lock is waited for, never lost."""

from __future__ import annotations

import asyncio
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from advisor_chat.errors import StoreError
from advisor_chat.store import Store, Transaction
from advisor_chat.store.sqlite import SqliteBackend

WRITER = """
import asyncio, sys
from pathlib import Path
from advisor_chat.store import Store
from advisor_chat.store.sqlite import SqliteBackend

async def main(path: str, tag: str, count: int) -> None:
    async with Store(SqliteBackend(Path(path))) as store:
        for i in range(count):
            async def insert(tx, i=i):
                return await tx.insert("users", {
                    "clerkId": f"{tag}-{i}", "plan": "free", "createdAt": i, "updatedAt": i,
                })
            await store.mutation(insert)

asyncio.run(main(sys.argv[1], sys.argv[2], int(sys.argv[3])))
"""


async def _count_users(path: Path) -> int:
    async with Store(SqliteBackend(path)) as store:

        async def count(tx: Transaction) -> int:
            return len(await tx.query("users").collect())

        return (await store.query(count)).value


async def test_concurrent_writer_processes_all_commit(tmp_path: Path) -> None:
    path = tmp_path / "shared.sqlite3"
    async with Store(SqliteBackend(path)) as store:
        await store.migrate()
    per_process = 1500
    processes = [
        await asyncio.create_subprocess_exec(
            sys.executable,
            "-c",
            WRITER,
            str(path),
            f"p{n}",
            str(per_process),
            stderr=subprocess.PIPE,
        )
        for n in range(3)
    ]
    results = [await p.communicate() for p in processes]
    for process, (_, stderr) in zip(processes, results, strict=True):
        assert process.returncode == 0, stderr.decode()
    assert await _count_users(path) == 3 * per_process


async def test_a_held_write_lock_is_waited_for_without_blocking_the_loop(tmp_path: Path) -> None:
    path = tmp_path / "locked.sqlite3"
    async with Store(SqliteBackend(path)) as store:
        await store.migrate()
        other = sqlite3.connect(path, isolation_level=None)
        other.execute("BEGIN IMMEDIATE")  # another process's writer, as SQLite sees it
        ticks = 0

        async def ticker() -> None:
            nonlocal ticks
            while True:
                ticks += 1
                await asyncio.sleep(0.005)

        ticking = asyncio.create_task(ticker())
        asyncio.get_running_loop().call_later(0.3, other.execute, "COMMIT")
        user = {"clerkId": "waited", "plan": "free", "createdAt": 1, "updatedAt": 1}
        await store.mutation(lambda tx: tx.insert("users", user))
        ticking.cancel()
        other.close()
        assert ticks > 10  # the loop kept running while the write waited for the lock
        found = await store.query(
            lambda tx: tx.query("users", "by_clerk_id").eq("clerkId", "waited").unique()
        )
        assert found.value is not None


async def test_a_lock_held_too_long_fails_clearly_and_writes_nothing(tmp_path: Path) -> None:
    path = tmp_path / "stuck.sqlite3"
    async with Store(SqliteBackend(path, lock_wait_s=0.2)) as store:
        await store.migrate()
        other = sqlite3.connect(path, isolation_level=None)
        other.execute("BEGIN IMMEDIATE")
        user = {"clerkId": "never", "plan": "free", "createdAt": 1, "updatedAt": 1}
        with pytest.raises(StoreError, match="stayed locked by another process"):
            await store.mutation(lambda tx: tx.insert("users", user))
        other.execute("ROLLBACK")
        other.close()
    assert await _count_users(path) == 0
