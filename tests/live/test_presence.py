"""Presence from sessions, on each backend: online from a user's first session on any node
until their last one closes; a node that stops renewing (killed) loses its users within its
lease; a session that authenticated before its users row existed counts once it does."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

from advisor_chat.functions.catalog import build_registry
from advisor_chat.functions.context import Identity
from advisor_chat.functions.runner import Runner
from advisor_chat.live.presence import Presence
from advisor_chat.store import Store
from tests.functions.world import ALICE, BOB
from tests.waiting import until

LEASE_MS = 400.0


async def _presence(store: Store, who: Identity) -> Any:
    return (await Runner(store, build_registry()).call("realtime:getUserPresence", {}, who)).value


async def _online(store: Store, who: Identity) -> bool:
    presence = await _presence(store, who)
    return presence is not None and presence["isOnline"] is True


@asynccontextmanager
async def _running(presence: Presence) -> AsyncIterator[Presence]:
    task = asyncio.create_task(presence.run_forever())
    try:
        yield presence
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


async def _stored(store: Store, *who: Identity) -> None:
    runner = Runner(store, build_registry())
    for identity in who:
        await runner.call("users:store", {}, identity)


async def test_online_from_the_first_session_on_any_node_until_the_last_closes(
    store: Store,
) -> None:
    await _stored(store, ALICE, BOB)
    a, b = Presence(store, LEASE_MS), Presence(store, LEASE_MS)
    first, second = a.hold(), b.hold()
    first.identify(ALICE)
    await a.write()
    assert await _online(store, ALICE)
    second.identify(ALICE)
    await b.write()
    first.release()
    await a.write()
    assert await _online(store, ALICE)  # her session on the other node holds
    assert not await _online(store, BOB)
    second.release()
    await b.write()
    assert not await _online(store, ALICE)


async def test_two_sessions_on_one_node_and_a_refreshed_token_count_as_one_user(
    store: Store,
) -> None:
    await _stored(store, ALICE)
    node = Presence(store, LEASE_MS)
    tabs = [node.hold(), node.hold()]
    for tab in tabs:
        tab.identify(ALICE)
    tabs[0].identify(ALICE)  # a new token of the same user
    await node.write()
    assert node.online_here == 1
    tabs[0].release()
    await node.write()
    assert await _online(store, ALICE)
    tabs[1].identify(None)  # signed out: no longer her session
    await node.write()
    assert not await _online(store, ALICE)
    assert node.online_here == 0


async def test_a_session_that_opens_and_closes_between_writes_costs_nothing(
    store: Store,
) -> None:
    await _stored(store, ALICE)
    node = Presence(store, LEASE_MS)
    before = store.commits.latest_ts
    hold = node.hold()
    hold.identify(ALICE)
    hold.release()
    await node.write()
    assert store.commits.latest_ts == before
    assert await _presence(store, ALICE) is None


async def test_a_node_that_stops_renewing_loses_its_users_within_the_lease(
    store: Store,
) -> None:
    """A node killed with -9 renews nothing more: the survivor's sweep ends its lease,
    while the survivor's own users stay online through their renewals."""
    await _stored(store, ALICE, BOB)
    dead = Presence(store, LEASE_MS)
    dead.hold().identify(ALICE)
    await dead.write()
    async with _running(Presence(store, LEASE_MS)) as alive:
        alive.hold().identify(BOB)
        await until(lambda: _online(store, BOB), 5, "Bob online")
        assert await _online(store, ALICE)
        await until(lambda: _not(_online(store, ALICE)), 5, "Alice's dead lease swept")
        for _ in range(3):  # a lease and more: Bob's is renewed all along
            await until(_later_than(store, store.commits.latest_ts), 5, "a renewal")
            assert await _online(store, BOB)


async def _not(condition: Any) -> bool:
    return not await condition


def _later_than(store: Store, ts: int) -> Callable[[], Awaitable[bool]]:
    """Whether a commit after `ts` has landed."""

    async def later() -> bool:
        return store.commits.latest_ts > ts

    return later


async def test_a_session_counts_once_its_users_row_is_stored(store: Store) -> None:
    async with _running(Presence(store, 60_000)) as node:
        node.hold().identify(ALICE)  # authenticated before `users:store`
        await _stored(store, ALICE)
        await until(lambda: _online(store, ALICE), 5, "Alice online once stored")


async def test_a_stopping_node_gives_up_its_leases(store: Store) -> None:
    await _stored(store, ALICE)
    async with _running(Presence(store, 60_000)) as node:
        node.hold().identify(ALICE)
        await until(lambda: _online(store, ALICE), 5, "Alice online")
    assert not await _online(store, ALICE)  # at once, not a minute later
