"""A worker process for the scheduled-work tests:

    python -m tests.functions.scheduled_worker PATH.sqlite3 | postgresql://...

runs a `ScheduledWorker` with its default lanes, lease and heartbeat over the test
functions of `scheduled_jobs` until it is killed; prints `ready <worker id>` first."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from advisor_chat.functions.runner import Runner
from advisor_chat.functions.scheduled import ScheduledWorker
from advisor_chat.store import Store
from advisor_chat.store.backend import Backend
from advisor_chat.store.postgres import PostgresBackend
from advisor_chat.store.sqlite import SqliteBackend
from tests.functions.scheduled_jobs import REGISTRY


def backend_for(target: str) -> Backend:
    if target.startswith("postgresql://"):
        return PostgresBackend(target, pool_size=4)
    return SqliteBackend(Path(target))


async def main(target: str) -> None:
    async with Store(backend_for(target)) as store:
        worker = ScheduledWorker(store, Runner(store, REGISTRY))
        print("ready", worker.id, flush=True)
        await worker.run_forever()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1]))
