"""The GCRA limiter on every backend (SQLite, PostgreSQL, a real Redis): `count` at once,
then refused with the wait; a refusal counts nothing; `give_back`; concurrent takes from
two "processes" (two stores, two Redis clients) allow exactly `count`; the store prunes
expired rows; a Redis that does not answer hands the call to the store."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from dataclasses import dataclass
from pathlib import Path

import pytest
from redis.asyncio import Redis
from structlog.testing import capture_logs

from advisor_chat.auth.limiter import PRUNE, TABLE, Limiter, RedisLimiter, StoreLimiter, step
from advisor_chat.auth.limits import Rule
from advisor_chat.clock import now_ms
from advisor_chat.store import Store, Transaction
from advisor_chat.store.postgres import PostgresBackend
from advisor_chat.store.sqlite import SqliteBackend
from tests.services import free_port
from tests.waiting import until

LimiterPair = tuple[Limiter, Limiter]  # two limiters on one state, as two processes hold


def _rule(count: int = 3, window_s: float = 60) -> Rule:
    return Rule("signInAddress", count, window_s)


def _key() -> str:
    return uuid.uuid4().hex  # Redis is shared by the session: each test its own keys


@dataclass(frozen=True)
class Source:
    kind: str
    url: str  # the PostgreSQL database's or Redis's; for SQLite the file's path


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres), "redis"])
def source(request: pytest.FixtureRequest, tmp_path: Path) -> Source:
    """Where the state lives; the servers' fixtures are resolved here, outside the loop."""
    kind: str = request.param
    if kind == "postgres":
        return Source(kind, request.getfixturevalue("fresh_postgres_url"))
    if kind == "redis":
        return Source(kind, request.getfixturevalue("redis_url"))
    return Source(kind, str(tmp_path / "throttle.sqlite3"))


@pytest.fixture
async def limiters(source: Source, tmp_path: Path) -> AsyncIterator[LimiterPair]:
    """Two limiters sharing one state: two stores on one database, or two Redis clients
    (each over a SQLite store, unused while Redis answers)."""
    async with AsyncExitStack() as stack:

        async def store() -> Store:
            if source.kind == "postgres":
                opened = Store(PostgresBackend(source.url, pool_size=20))
            else:
                path = tmp_path / "fallback.sqlite3" if source.kind == "redis" else source.url
                opened = Store(SqliteBackend(Path(path)))
            await stack.enter_async_context(opened)
            await opened.migrate()
            return opened

        if source.kind == "redis":
            pair = []
            for _ in range(2):
                client = Redis.from_url(source.url)
                stack.push_async_callback(client.aclose)
                pair.append(RedisLimiter(client, fallback=StoreLimiter(await store())))
            yield pair[0], pair[1]
        else:
            one = await store()
            two = await store()
            yield StoreLimiter(one), StoreLimiter(two)


def test_a_step_allows_count_at_one_instant_then_says_how_long_to_wait() -> None:
    rule = _rule(count=3, window_s=60)  # one attempt per 20 s once the burst is spent
    tat: float | None = None
    for _ in range(3):
        tat, wait = step(tat, 1_000.0, rule)
        assert wait == 0
    assert step(tat, 1_000.0, rule)[1] == pytest.approx(20_000)
    assert step(tat, 1_000.0 + 20_000, rule)[1] == 0  # one interval later: one more


async def test_count_at_once_then_refused_with_the_wait(limiters: LimiterPair) -> None:
    one, two = limiters
    key, rule = _key(), _rule(count=3, window_s=60)
    assert [await one.take(key, rule) for _ in range(3)] == [None, None, None]
    wait = await two.take(key, rule)  # the other process sees the same state
    assert wait is not None
    assert 19 < wait <= 20
    assert await one.take(_key(), rule) is None  # another key has its own allowance


async def test_a_refused_take_counts_nothing_and_give_back_undoes_one(
    limiters: LimiterPair,
) -> None:
    one, two = limiters
    key, rule = _key(), _rule(count=2, window_s=60)
    assert await one.take(key, rule) is None
    assert await one.take(key, rule) is None
    for _ in range(3):
        assert await two.take(key, rule) is not None
    await two.give_back(key, rule)
    assert await one.take(key, rule) is None  # exactly the one given back
    assert await one.take(key, rule) is not None
    await one.give_back(_key(), rule)  # of a key never taken: nothing to undo


async def test_concurrent_takes_on_one_key_allow_exactly_count(limiters: LimiterPair) -> None:
    one, two = limiters
    key, rule = _key(), _rule(count=5, window_s=60)
    answers = await asyncio.gather(
        *(limiter.take(key, rule) for _ in range(6) for limiter in (one, two))
    )
    assert sum(answer is None for answer in answers) == 5


async def test_the_allowance_comes_back_after_its_interval(limiters: LimiterPair) -> None:
    one, _ = limiters
    key, rule = _key(), _rule(count=2, window_s=0.4)
    assert await one.take(key, rule) is None
    assert await one.take(key, rule) is None
    assert await one.take(key, rule) is not None

    async def allowed() -> bool:
        return await one.take(key, rule) is None

    await until(allowed, 5, "a take after the interval")


async def _rows(store: Store) -> list[float]:
    async def read(tx: Transaction) -> list[float]:
        return [float(row["tat"]) for row in await tx.query(TABLE).collect()]

    return (await store.query(read)).value


async def test_the_store_prunes_expired_rows_as_new_keys_come(store: Store) -> None:
    limiter, rule = StoreLimiter(store), _rule()
    now = now_ms()

    async def expired(tx: Transaction) -> None:
        for n in range(PRUNE + 2):
            await tx.insert(TABLE, {"key": f"old-{n}", "tat": now - 1_000 - n})

    await store.mutation(expired)
    assert await limiter.take("live", rule) is None  # a new row: deletes PRUNE expired
    rows = await _rows(store)
    assert len(rows) == 3
    assert sum(tat < now for tat in rows) == 2
    assert await limiter.take("live", rule) is None  # an existing row's take prunes nothing
    assert len(await _rows(store)) == 3
    assert await limiter.take("another", rule) is None
    assert all(tat > now for tat in await _rows(store))  # only live rows left

    await limiter.give_back("live", rule)  # back to nothing taken: the row goes
    await limiter.give_back("live", rule)
    assert len(await _rows(store)) == 1


async def test_a_redis_that_does_not_answer_hands_the_call_to_the_store(store: Store) -> None:
    closed = Redis.from_url(f"redis://127.0.0.1:{free_port()}/0", socket_connect_timeout=0.5)
    try:
        limiter, rule = RedisLimiter(closed, fallback=StoreLimiter(store)), _rule(count=2)
        with capture_logs() as logs:
            assert await limiter.take("k", rule) is None
            assert await limiter.take("k", rule) is None
            assert await limiter.take("k", rule) is not None  # counted: never let through
            await limiter.give_back("k", rule)
            assert await limiter.take("k", rule) is None
        assert len(await _rows(store)) == 1
        warnings = [e for e in logs if e["event"] == "throttle_redis_failed"]
        assert len(warnings) == 5
        assert {e["log_level"] for e in warnings} == {"warning"}
    finally:
        await closed.aclose()
