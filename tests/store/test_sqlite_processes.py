"""Several processes writing one SQLite file: the write lock is waited for, never lost."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path

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
