"""SQLite runs inline on the event loop, in slices: a long transaction or a long result
lets other tasks run between statements, while writes stay serialized."""

from __future__ import annotations

import asyncio
from pathlib import Path

from advisor_chat.store import Store, Transaction
from advisor_chat.store.sqlite import SqliteBackend
from tests.store.documents import insert_parents

ROWS = 3000  # statements enough for a transaction to outlast many slices on any machine


class Ticker:
    """Counts how often the loop gave it a turn."""

    def __init__(self) -> None:
        self.ticks = 0

    async def run(self) -> None:
        while True:
            self.ticks += 1
            await asyncio.sleep(0)


def _message(conversation: str, n: int) -> dict[str, object]:
    return {
        "conversationId": conversation,
        "sender": "user",
        "content": f"message {n} about the runway and the next hire",
        "mentions": [],
        "createdAt": n,
    }


async def test_a_long_write_lets_other_tasks_and_readers_run_and_stays_serialized(
    tmp_path: Path,
) -> None:
    async with Store(SqliteBackend(tmp_path / "s.sqlite3")) as store:
        await store.migrate()
        parents = await insert_parents(store)
        ticker = Ticker()
        ticking = asyncio.create_task(ticker.run())
        seen_by_reader: list[int] = []
        started = asyncio.Event()

        async def long_write(tx: Transaction) -> tuple[int, int]:
            before = ticker.ticks
            for n in range(ROWS):
                await tx.insert("messages", _message(parents.conversation, n))
                if n == 10:
                    started.set()
            return before, ticker.ticks

        async def count(tx: Transaction) -> int:
            q = tx.query("messages", "by_conversation").eq("conversationId", parents.conversation)
            return len(await q.collect())

        async def reader() -> None:
            await started.wait()
            seen_by_reader.append((await store.query(count)).value)

        async def second_write() -> int:
            await started.wait()
            done = await store.mutation(lambda tx: tx.insert("messages", _message("x", -1)))
            assert done.commit is not None
            return done.commit.ts

        held = (await store.query(count)).value
        try:
            first, _, second_ts = await asyncio.gather(
                store.mutation(long_write), reader(), second_write()
            )
        finally:
            ticking.cancel()
        before, after = first.value
        assert after > before  # the loop ran other tasks during the transaction
        assert seen_by_reader == [held]  # a reader ran meanwhile, on its own snapshot
        assert first.commit is not None
        assert second_ts > first.commit.ts  # the other write waited for the lock
        assert (await store.query(count)).value == held + ROWS


async def test_a_long_result_is_read_in_slices(tmp_path: Path) -> None:
    async with Store(SqliteBackend(tmp_path / "s.sqlite3")) as store:
        await store.migrate()
        parents = await insert_parents(store)

        async def load(tx: Transaction) -> None:
            for n in range(20_000):
                await tx.insert("messages", _message(parents.conversation, n))

        await store.mutation(load)
        ticker = Ticker()
        ticking = asyncio.create_task(ticker.run())
        await asyncio.sleep(0)

        async def read_all(tx: Transaction) -> tuple[int, int]:
            before = ticker.ticks
            rows = await tx.conn.fetch('SELECT "doc" FROM "messages"', ())
            return before, ticker.ticks if len(rows) >= 20_000 else -1

        try:
            before, after = (await store.query(read_all)).value
        finally:
            ticking.cancel()
        assert after > before
