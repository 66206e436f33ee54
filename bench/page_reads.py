"""The index page read: the 50 newest messages of one conversation, through the store
against the raw driver running the same SELECT, as the messages table grows.

The table is filled fast by the raw driver (executemany / COPY in big transactions) with
rows built exactly as the store writes them, then checked through the store: the newest
page is the documents inserted, sampled documents read back equal. Every hundredth
message belongs to the read conversation, so the page's rows are spread over the newest
5,000 of the table at every size, like a conversation among many active ones.
"""

from __future__ import annotations

import random
import statistics
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

import orjson

from advisor_chat.store import Document, Page, Store, Transaction
from advisor_chat.store.sql import RangeShape, range_select
from bench.drivers import MESSAGES, Driver, Row, message_row

PAGE = 50
INDEX = "by_conversation_created"
TARGET_SHARE = 100  # every 100th message is in the read conversation
BATCH = 50_000  # rows a bulk transaction; ~25 MB of parameters
SAMPLE = 200  # documents read back through the store after each fill
PAGE_SHAPE = RangeShape(
    eq_nulls=(False,),
    lower="",
    upper="",
    order="desc",
    cursor_nulls=None,
    row_cursor=False,
    limited=True,
)


class BenchError(RuntimeError):
    """The store returned something other than what was loaded: figures would be void."""


@dataclass(frozen=True)
class Latency:
    p50: float  # ms
    p99: float
    max: float

    @classmethod
    def of(cls, samples_ns: list[int]) -> Latency:
        ms = [s / 1e6 for s in samples_ns]
        cuts = statistics.quantiles(ms, n=100, method="inclusive")
        return cls(p50=cuts[49], p99=cuts[98], max=max(ms))


@dataclass(frozen=True)
class ReadFigures:
    size: int  # messages in the table
    conversation_size: int  # messages in the read conversation
    reads: int
    store: Latency
    raw: Latency
    plan: str  # the database's plan for the store's SELECT


async def _page(store: Store, conversation: str) -> Page:
    outcome = await store.query(
        lambda tx: (
            tx.query("messages", INDEX)
            .eq("conversationId", conversation)
            .order("desc")
            .paginate(PAGE)
        )
    )
    return outcome.value


class MessageTable:
    """The messages table as loaded so far, and what the checks compare against."""

    def __init__(
        self,
        store: Store,
        driver: Driver,
        target: str,
        others: list[str],
        progress: Callable[[str], None],
    ) -> None:
        self.store = store
        self.driver = driver
        self.target = target
        self.others = others
        self.progress = progress
        self.count = 0
        self.target_count = 0
        self.newest: deque[Document] = deque(maxlen=PAGE)  # of the target, oldest first
        self.sample: list[Document] = []  # uniform over the table (reservoir)
        self._random = random.Random(0)

    def _conversation(self, n: int) -> str:
        if n % TARGET_SHARE == 0:
            return self.target
        # Round-robin over the others, skipping the target's turns, so every one is used.
        return self.others[(n - n // TARGET_SHARE - 1) % len(self.others)]

    async def grow(self, size: int) -> None:
        """Load messages until the table holds `size` of them."""
        name = self.driver.dialect.name
        start = time.perf_counter()
        first = self.count
        batch: list[Row] = []
        for n in range(self.count, size):
            conversation = self._conversation(n)
            row, doc = message_row(self.store.ids, conversation, n, self.store.backend.dialect)
            batch.append(row)
            if conversation == self.target:
                self.newest.append(doc)
                self.target_count += 1
            if len(self.sample) < SAMPLE:
                self.sample.append(doc)
            elif (j := self._random.randrange(n + 1)) < SAMPLE:
                self.sample[j] = doc
            if len(batch) == BATCH or n == size - 1:
                await self.driver.bulk(batch)
                batch.clear()
                rate = (n + 1 - first) / (time.perf_counter() - start)
                self.progress(f"{name}: loaded {n + 1:,} / {size:,} messages ({rate:,.0f}/s)")
        self.count = max(self.count, size)
        await self.driver.settle()

    async def verify(self) -> None:
        """The store reads back what was loaded; otherwise no figure means anything."""
        in_table = await self.driver.scalar("SELECT count(*) FROM messages")
        if in_table != self.count:
            raise BenchError(f"messages holds {in_table:,} rows, {self.count:,} were loaded")
        expected = list(reversed(self.newest))
        page = await _page(self.store, self.target)
        if page.page != expected:
            raise BenchError("the store's newest page is not the newest messages loaded")
        # With exactly PAGE messages the store may not know it is done yet; Convex neither.
        if self.target_count != PAGE and page.is_done != (self.target_count < PAGE):
            raise BenchError(f"is_done={page.is_done} with {self.target_count} in the conversation")
        sql = range_select(self.driver.dialect, MESSAGES.indexes[INDEX], PAGE_SHAPE)
        raw = await self.driver.read_tx(sql, (self.target, PAGE))
        if [orjson.loads(r[0]) for r in raw] != expected:
            raise BenchError("the raw SELECT's newest page is not the newest messages loaded")

        async def read_sample(tx: Transaction) -> list[Document | None]:
            return [await tx.get("messages", doc["_id"]) for doc in self.sample]

        if (await self.store.query(read_sample)).value != self.sample:
            raise BenchError("documents read back through the store differ from those loaded")


async def bench_page_reads(
    store: Store, driver: Driver, table: MessageTable, reads: int
) -> ReadFigures:
    """`reads` timed page reads a side, alternating which side goes first."""
    target = table.target
    sql = range_select(driver.dialect, MESSAGES.indexes[INDEX], PAGE_SHAPE)
    params = (target, PAGE)

    async def plan(tx: Transaction) -> str:
        query = tx.query("messages", INDEX).eq("conversationId", target).order("desc")
        return await query.explain(PAGE)

    for _ in range(max(100, reads // 10)):  # warm page caches and statement caches
        await _page(store, target)
        await driver.read_tx(sql, params)
    store_ns: list[int] = []
    raw_ns: list[int] = []
    for i in range(reads):
        for side in (0, 1) if i % 2 == 0 else (1, 0):
            t = time.perf_counter_ns()
            if side == 0:
                await _page(store, target)
                store_ns.append(time.perf_counter_ns() - t)
            else:
                await driver.read_tx(sql, params)
                raw_ns.append(time.perf_counter_ns() - t)
    return ReadFigures(
        size=table.count,
        conversation_size=table.target_count,
        reads=reads,
        store=Latency.of(store_ns),
        raw=Latency.of(raw_ns),
        plan=(await store.query(plan)).value,
    )
