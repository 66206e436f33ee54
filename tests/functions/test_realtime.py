"""realtime: one typing row per (conversation, user) that the server clears once it lapses,
one presence row per user that the server's leases decide."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest

from advisor_chat.clock import now_ms
from advisor_chat.functions.catalog import build_registry
from advisor_chat.functions.realtime import hold_presence, release_presence, sweep_presence
from advisor_chat.functions.runner import Runner
from advisor_chat.functions.scheduled import ScheduledWorker
from advisor_chat.functions.timings import Timings
from advisor_chat.store import Store, Transaction
from tests.functions.world import ALICE, World, snapshot
from tests.waiting import until

EXPIRY = "realtime:expireTyping"


async def _typing(runner: Runner, world: World) -> list[dict[str, Any]]:
    args = {"conversationId": world.conversation}
    value: list[dict[str, Any]] = (await runner.call("realtime:getTypingUsers", args, ALICE)).value
    return value


async def _set_typing(runner: Runner, world: World, typing: bool) -> None:
    args = {"conversationId": world.conversation, "isTyping": typing}
    await runner.call("realtime:setTypingStatus", args, ALICE)


async def _expiry_calls(store: Store) -> list[dict[str, Any]]:
    calls = (await snapshot(store))["scheduledFunctions"]
    return [c for c in calls if c["name"] == EXPIRY and c["state"] == "pending"]


async def test_typing_is_one_row_refreshed_in_place(
    store: Store, runner: Runner, world: World
) -> None:
    for typing in (True, True, False, True):
        await _set_typing(runner, world, typing)
    assert len((await snapshot(store))["typingIndicators"]) == 1
    [alice] = await _typing(runner, world)
    assert alice["name"] == "Alice"
    (row,) = (await snapshot(store))["typingIndicators"]
    assert alice["lastTypingAt"] == row["lastTypingAt"]
    assert alice["expiresAt"] == row["lastTypingAt"] + 10_000
    await _set_typing(runner, world, False)
    assert await _typing(runner, world) == []


async def test_a_burst_of_refreshes_schedules_one_expiry_that_follows_the_last(
    store: Store, runner: Runner, world: World
) -> None:
    for _ in range(5):
        await _set_typing(runner, world, True)
    [first] = await _expiry_calls(store)
    (row,) = (await snapshot(store))["typingIndicators"]
    assert first["scheduledTime"] < row["lastTypingAt"] + 10_000  # set by the burst's first
    # Run it as though its time had come: the row was refreshed since, so it is not
    # cleared; the call comes back when the latest refresh lapses.
    await ScheduledWorker(store, runner).run_due(first["scheduledTime"])
    calls = {c["_id"]: c for c in (await snapshot(store))["scheduledFunctions"]}
    assert calls[first["_id"]]["state"] == "success"
    assert len(await _typing(runner, world)) == 1
    [again] = await _expiry_calls(store)
    assert again["scheduledTime"] == row["lastTypingAt"] + 10_000


@pytest.fixture
async def quick(store: Store) -> AsyncIterator[Runner]:
    """A runner whose typing rows lapse after 300 ms, with a scheduled worker running."""
    runner = Runner(store, build_registry(), timings=Timings(typing_expiry_ms=300))
    worker = ScheduledWorker(store, runner, poll_s=0.05)
    task = asyncio.create_task(worker.run_forever())
    yield runner
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)


async def test_a_typing_row_lapses_through_a_commit_with_no_client(
    store: Store, quick: Runner, world: World
) -> None:
    """No client says it stopped: the server's call clears the row, so a subscriber would
    see it go through an ordinary commit (the query reads no clock)."""
    await _set_typing(quick, world, True)
    [alice] = await _typing(quick, world)
    assert alice["expiresAt"] - alice["lastTypingAt"] == 300

    async def stopped() -> bool:
        return not await _typing(quick, world)

    await until(stopped, 10, "the typing row cleared")
    (row,) = (await snapshot(store))["typingIndicators"]
    assert row["isTyping"] is False
    await _set_typing(quick, world, True)  # a new burst counts again, and lapses again
    assert len(await _typing(quick, world)) == 1
    await until(stopped, 10, "the second burst cleared")


async def test_the_client_reports_where_it_is_and_the_server_whether_it_is_online(
    store: Store, runner: Runner, world: World
) -> None:
    await runner.call(
        "realtime:updateUserPresence",
        {"isOnline": True, "currentConversationId": world.conversation},
        ALICE,
    )
    presence = (await runner.call("realtime:getUserPresence", {}, ALICE)).value
    assert presence["currentConversationId"] == world.conversation
    assert presence["isOnline"] is False  # no session of hers is open on any server
    await runner.call(
        "realtime:updateUserPresence", {"isOnline": False, "currentConversationId": None}, ALICE
    )
    presence = (await runner.call("realtime:getUserPresence", {}, ALICE)).value
    assert "currentConversationId" not in presence
    assert len((await snapshot(store))["userPresence"]) == 1


async def _alice(store: Store) -> str:
    (alice,) = [u for u in (await snapshot(store))["users"] if u["name"] == "Alice"]
    return str(alice["_id"])


async def test_a_user_is_online_while_any_node_holds_a_lease(
    store: Store, runner: Runner, world: World
) -> None:
    alice = await _alice(store)
    until_ms = now_ms() + 60_000

    async def online() -> bool:
        value = (await runner.call("realtime:getUserPresence", {}, ALICE)).value
        assert not {"nodes", "leaseUntil"} & value.keys()  # the server's own
        return bool(value["isOnline"])

    await store.mutation(lambda tx: hold_presence(tx, alice, "node-a", until_ms))
    await store.mutation(lambda tx: hold_presence(tx, alice, "node-b", until_ms))
    assert await online()
    await store.mutation(lambda tx: release_presence(tx, alice, "node-a"))
    assert await online()
    await store.mutation(lambda tx: release_presence(tx, alice, "node-b"))
    assert not await online()
    assert len((await snapshot(store))["userPresence"]) == 1


async def test_the_sweep_ends_lapsed_leases_only(
    store: Store, runner: Runner, world: World
) -> None:
    alice = await _alice(store)
    now = now_ms()
    await store.mutation(lambda tx: hold_presence(tx, alice, "dead", now + 1_000))
    await store.mutation(lambda tx: hold_presence(tx, alice, "alive", now + 5_000))

    async def sweep(at: float) -> int:
        return (await store.mutation(lambda tx: sweep_presence(tx, at))).value

    assert await sweep(now + 500) == 0  # nothing lapsed yet
    assert await sweep(now + 2_000) == 1  # the dead node's lease
    (row,) = (await snapshot(store))["userPresence"]
    assert (row["isOnline"], row["nodes"]) == (True, {"alive": now + 5_000})
    assert await sweep(now + 6_000) == 1
    (row,) = (await snapshot(store))["userPresence"]
    assert row["isOnline"] is False
    assert not {"nodes", "leaseUntil"} & row.keys()
    assert row["lastSeenAt"] == now + 6_000
    assert await sweep(now + 7_000) == 0


async def test_a_row_online_without_a_lease_is_swept_offline(
    store: Store, runner: Runner, world: World
) -> None:
    """As rows written before the server decided presence (the client's `isOnline`)."""
    alice = await _alice(store)

    async def legacy(tx: Transaction) -> None:
        await tx.insert("userPresence", {"userId": alice, "isOnline": True, "lastSeenAt": 1})

    await store.mutation(legacy)
    assert (await store.mutation(lambda tx: sweep_presence(tx, now_ms()))).value == 1
    (row,) = (await snapshot(store))["userPresence"]
    assert row["isOnline"] is False
