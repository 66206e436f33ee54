"""Single-document insert transactions per second: `store.mutation(insert)` against the
raw driver running the same INSERT in the same kind of transaction.

Both sides get their input built before the clock starts: the store the fields a caller
would pass, the driver the finished parameter row (id, creation time and JSON included),
so the baseline is the driver and the database alone. Rounds alternate which side goes
first, and the figure is the median round, so machine noise (and SQLite's WAL checkpoints,
PostgreSQL's background writer) lands on both alike.
"""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass

from advisor_chat.store import Document, Store
from bench.drivers import Driver, Row, message_fields, message_row

ROUNDS = 4


@dataclass(frozen=True)
class InsertFigures:
    per_side: int  # transactions each side ran, over all rounds
    store_tps: float  # median round
    raw_tps: float
    store_rounds: list[float]
    raw_rounds: list[float]

    @property
    def ratio(self) -> float:
        return self.store_tps / self.raw_tps


async def _store_insert(store: Store, doc: Document) -> None:
    await store.mutation(lambda tx: tx.insert("messages", doc))


async def _store_round(store: Store, fields: list[Document]) -> float:
    start = time.perf_counter_ns()
    for doc in fields:
        await _store_insert(store, doc)
    return len(fields) / ((time.perf_counter_ns() - start) / 1e9)


async def _raw_round(driver: Driver, rows: list[Row]) -> float:
    start = time.perf_counter_ns()
    for row in rows:
        await driver.insert_tx(row)
    return len(rows) / ((time.perf_counter_ns() - start) / 1e9)


async def bench_inserts(store: Store, driver: Driver, conversation: str, n: int) -> InsertFigures:
    """`n` insert transactions a side into `conversation`; the rows stay (see `clear`)."""
    per_round = max(1, n // ROUNDS)
    store_rates: list[float] = []
    raw_rates: list[float] = []
    serial = 0
    for round_ in range(ROUNDS):
        rows = [
            message_row(store.ids, conversation, serial + i, driver.dialect)[0]
            for i in range(per_round)
        ]
        serial += per_round
        fields = [message_fields(conversation, serial + i) for i in range(per_round)]
        serial += per_round
        if round_ % 2 == 0:
            raw_rates.append(await _raw_round(driver, rows))
            store_rates.append(await _store_round(store, fields))
        else:
            store_rates.append(await _store_round(store, fields))
            raw_rates.append(await _raw_round(driver, rows))
    return InsertFigures(
        per_side=per_round * ROUNDS,
        store_tps=statistics.median(store_rates),
        raw_tps=statistics.median(raw_rates),
        store_rounds=store_rates,
        raw_rounds=raw_rates,
    )
