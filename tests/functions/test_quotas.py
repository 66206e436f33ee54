"""Per-plan quotas: over the limit a call answers RATE_LIMITED and writes nothing; the
window resets; concurrent calls cannot slip past the limit together."""

from __future__ import annotations

import asyncio

import pytest

from advisor_chat.errors import Code, FunctionError
from advisor_chat.functions.catalog import build_registry
from advisor_chat.functions.plans import PlanLimits, limits_from
from advisor_chat.functions.runner import Runner
from advisor_chat.store import Store, Transaction
from tests.functions.world import ALICE, World, build_world, snapshot

LIMIT = 4  # the world already sent one message


@pytest.fixture
def runner(store: Store) -> Runner:
    return Runner(store, build_registry(), limits={"free": PlanLimits(LIMIT, 10)})


@pytest.fixture
async def world(store: Store, runner: Runner) -> World:
    return await build_world(store, runner)


def _send(world: World, text: str = "hi") -> dict[str, str]:
    return {"conversationId": world.conversation, "content": text}


async def test_over_the_limit_is_rate_limited_and_writes_nothing(
    store: Store, runner: Runner, world: World
) -> None:
    for _ in range(LIMIT - 1):
        await runner.call("messages:sendMessage", _send(world), ALICE)
    before = await snapshot(store)
    with pytest.raises(FunctionError) as caught:
        await runner.call("messages:sendMessage", _send(world, "one too many"), ALICE)
    assert caught.value.code is Code.RATE_LIMITED
    assert caught.value.data["limit"] == LIMIT
    assert caught.value.data["retryAt"] > 0
    assert await snapshot(store) == before


async def test_the_window_resets(store: Store, runner: Runner, world: World) -> None:
    for _ in range(LIMIT - 1):
        await runner.call("messages:sendMessage", _send(world), ALICE)

    async def a_minute_later(tx: Transaction) -> None:
        rows = await tx.query("rateLimits").collect()
        (row,) = [r for r in rows if r["bucket"] == "messages"]
        await tx.patch("rateLimits", row["_id"], {"windowStart": row["windowStart"] - 60_001})

    await store.mutation(a_minute_later)
    assert (await runner.call("messages:sendMessage", _send(world), ALICE)).value


async def test_concurrent_sends_cannot_slip_past_the_limit(
    store: Store, runner: Runner, world: World
) -> None:
    results = await asyncio.gather(
        *(runner.call("messages:sendMessage", _send(world), ALICE) for _ in range(10)),
        return_exceptions=True,
    )
    sent = [r for r in results if not isinstance(r, BaseException)]
    refused = [r for r in results if isinstance(r, FunctionError)]
    assert len(sent) == LIMIT - 1
    assert len(refused) == 10 - (LIMIT - 1)
    assert all(r.code is Code.RATE_LIMITED for r in refused)
    messages = (await snapshot(store))["messages"]
    assert len([m for m in messages if m["sender"] == "user"]) == LIMIT


def test_limits_are_configurable_per_plan() -> None:
    limits = limits_from({"free": {"messagesPerMinute": 3}, "pro": {"generationsPerDay": 7}})
    assert limits["free"] == PlanLimits(3, 100)
    assert limits["pro"].generations_per_day == 7
    assert limits["enterprise"].messages_per_minute == 300
