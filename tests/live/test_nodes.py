"""Several `serve` processes on one PostgreSQL and one Redis, as a deployment runs them.

A subscriber on node A sees what is committed through node B (messages, a typing row, and
the server clearing it); with Redis stopped mutations keep committing and subscribers keep
updating (Redis holds only the sign-in throttle; the live layer follows PostgreSQL's log);
a broken LISTEN connection is opened again; and with node B killed (-9) node A serves on,
B's user goes offline within the presence lease, and that user reconnecting to A gets
current results. Each test waits on what a user would see, never on time."""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
import uuid
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from tests.api.conftest import Served, call_api, serving, sign_up
from tests.services import (
    PostgresServer,
    ServiceMissing,
    create_database,
    drop_database,
    free_port,
    missing_service,
    redis_on,
)
from tests.waiting import until

pytestmark = pytest.mark.postgres

LEASE_S = 1.5  # presence lease of the nodes: a killed node's users go offline within ~2 s
TYPING_S = 1.0
WITHIN = 15  # every condition below holds within a second or two; this bounds a hang
NODE_SETTINGS = {"presence_lease": str(LEASE_S), "typing_expiry": str(TYPING_S)}


# --- a raw sync-protocol client ----------------------------------------------------------


class Live:
    """One sync session: its queries' latest results, kept as Transitions arrive."""

    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws
        self.results: dict[int, Any] = {}
        self.closed = asyncio.Event()
        self._query_set = 0
        self._reader = asyncio.create_task(self._read())

    @classmethod
    async def open(cls, node: Served, token: str) -> Live:
        ws = await connect(f"ws://127.0.0.1:{node.port}/api/1.48.0/sync")
        hello = {"type": "Connect", "sessionId": "s", "connectionCount": 0, "clientTs": 0}
        await ws.send(json.dumps(hello | {"lastCloseReason": None}))
        auth = {"type": "Authenticate", "tokenType": "User", "value": token, "baseVersion": 0}
        await ws.send(json.dumps(auth))
        return cls(ws)

    async def subscribe(self, path: str, args: dict[str, Any]) -> int:
        query_id = self._query_set
        add = {"type": "Add", "queryId": query_id, "udfPath": path, "args": [args]}
        change = {"baseVersion": query_id, "newVersion": query_id + 1, "modifications": [add]}
        await self.ws.send(json.dumps({"type": "ModifyQuerySet"} | change))
        self._query_set += 1
        return query_id

    def seen(self, query_id: int, test: Callable[[Any], bool]) -> Callable[[], Awaitable[bool]]:
        """A condition: the query's latest result passes `test`."""

        async def holds() -> bool:
            return query_id in self.results and test(self.results[query_id])

        return holds

    async def _read(self) -> None:
        try:
            async for frame in self.ws:
                message = json.loads(frame)
                if message["type"] != "Transition":
                    continue
                for change in message["modifications"]:
                    if change["type"] == "QueryUpdated":
                        self.results[change["queryId"]] = change["value"]
                    elif change["type"] == "QueryFailed":
                        self.results[change["queryId"]] = {"error": change["errorMessage"]}
        except ConnectionClosed:
            pass
        finally:
            self.closed.set()

    async def close(self) -> None:
        await self.ws.close()
        await self._reader


# --- the deployment ----------------------------------------------------------------------


class Redis:
    """A private Redis on a fixed port that a test can stop and start again."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.port = free_port()
        self._running = contextlib.ExitStack()

    def start(self) -> str:
        try:
            return self._running.enter_context(redis_on(self.port, self.root))
        except ServiceMissing as exc:
            missing_service(str(exc))

    def stop(self) -> None:
        self._running.close()


@contextlib.contextmanager
def _nodes(root: Path, database_url: str, redis_url: str) -> Iterator[tuple[Served, Served]]:
    """Two nodes on one database; B starts once A has created the schema."""
    env = {"DATABASE_URL": database_url, "REDIS_URL": redis_url}
    (root / "a").mkdir()
    (root / "b").mkdir()
    with (
        serving(root / "a", env, **NODE_SETTINGS) as a,
        serving(root / "b", env, **NODE_SETTINGS) as b,
    ):
        yield a, b


@dataclass(frozen=True)
class Deployment:
    a: Served
    b: Served
    database_url: str
    redis: Redis


@pytest.fixture(scope="module")
def deployment(
    tmp_path_factory: pytest.TempPathFactory, postgres: PostgresServer
) -> Iterator[Deployment]:
    """Two nodes, a database and a Redis of their own, shared by the tests that leave
    them running (each leaves Redis up)."""
    root = tmp_path_factory.mktemp("nodes")
    name = f"nodes_{uuid.uuid4().hex[:12]}"
    asyncio.run(create_database(postgres.url, name))
    url = postgres.database_url(name)
    (root / "redis").mkdir()
    redis = Redis(root / "redis")
    try:
        with _nodes(root, url, redis.start()) as (a, b):
            yield Deployment(a, b, url, redis)
    finally:
        redis.stop()
        asyncio.run(drop_database(postgres.url, name))


async def _user(node: Served, email: str, name: str) -> str:
    token = await asyncio.to_thread(sign_up, node.base, email, name)
    await asyncio.to_thread(call_api, node.base, token, "mutation", "users:store", {})
    return token


async def _conversation(node: Served, token: str) -> str:
    conversation: str = await asyncio.to_thread(
        call_api, node.base, token, "mutation", "conversations:createConversation", {}
    )
    return conversation


async def _send(node: Served, token: str, conversation: str, text: str) -> None:
    args = {"conversationId": conversation, "content": text}
    await asyncio.to_thread(call_api, node.base, token, "mutation", "messages:sendMessage", args)


def _texts(result: Any) -> list[str]:
    """The user's messages in a list without `paginationOpts` (an array)."""
    return [m["content"] for m in result if m.get("sender") == "user"]


def _names(result: Any) -> list[str]:
    return [t["name"] for t in result]


def _has(text: str) -> Callable[[Any], bool]:
    return lambda result: text in _texts(result)


def _online(node: Served, token: str, expected: bool) -> Callable[[], Awaitable[bool]]:
    async def holds() -> bool:
        presence = await asyncio.to_thread(
            call_api, node.base, token, "query", "realtime:getUserPresence", {}
        )
        return presence is not None and presence["isOnline"] is expected

    return holds


async def _listeners(database_url: str) -> set[int]:
    """Backends LISTENing for the commit log's doorbell."""
    conn = await asyncpg.connect(database_url)
    try:
        rows = await conn.fetch(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
            "AND query LIKE 'LISTEN%'"
        )
    finally:
        await conn.close()
    return {row["pid"] for row in rows}


# --- the tests ---------------------------------------------------------------------------


async def test_a_subscriber_on_one_node_follows_commits_through_another(
    deployment: Deployment,
) -> None:
    a, b = deployment.a, deployment.b
    alice = await _user(a, "alice@example.test", "Alice")
    conversation = await _conversation(b, alice)
    on_a = await Live.open(a, alice)
    messages = await on_a.subscribe(
        "messages:getConversationMessages", {"conversationId": conversation}
    )
    typing = await on_a.subscribe("realtime:getTypingUsers", {"conversationId": conversation})
    await until(on_a.seen(messages, lambda r: _texts(r) == []), WITHIN, "the first page")

    await _send(b, alice, conversation, "through B")
    await until(on_a.seen(messages, _has("through B")), WITHIN, "B's message on A")

    # Typing set through B shows on A by name, and the server clears it: no client
    # says it stopped.
    args = {"conversationId": conversation, "isTyping": True}
    await asyncio.to_thread(call_api, b.base, alice, "mutation", "realtime:setTypingStatus", args)
    await until(on_a.seen(typing, lambda r: _names(r) == ["Alice"]), WITHIN, "typing on A")
    await until(on_a.seen(typing, lambda r: _names(r) == []), WITHIN, "typing cleared")

    # The PostgreSQL doorbell: its LISTEN connections broken, each node opens another.
    before = await _listeners(deployment.database_url)
    assert len(before) == 2
    conn = await asyncpg.connect(deployment.database_url)
    await conn.execute("SELECT pg_terminate_backend(pid) FROM unnest($1::int[]) pid", before)
    await conn.close()

    async def listening_again() -> bool:
        now = await _listeners(deployment.database_url)
        return len(now) == 2 and not now & before

    await until(listening_again, WITHIN, "LISTEN again")
    await _send(b, alice, conversation, "after LISTEN broke")
    await until(on_a.seen(messages, _has("after LISTEN broke")), WITHIN, "seen on A")
    await on_a.close()


async def test_with_redis_gone_mutations_commit_and_subscribers_update(
    deployment: Deployment,
) -> None:
    a, b = deployment.a, deployment.b
    carol = await _user(a, "carol@example.test", "Carol")
    conversation = await _conversation(a, carol)
    on_a = await Live.open(a, carol)
    messages = await on_a.subscribe(
        "messages:getConversationMessages", {"conversationId": conversation}
    )
    await _send(b, carol, conversation, "Redis up")
    await until(on_a.seen(messages, _has("Redis up")), WITHIN, "seen with Redis")

    deployment.redis.stop()  # Redis stops under both nodes
    await _send(b, carol, conversation, "Redis down")
    await until(on_a.seen(messages, _has("Redis down")), WITHIN, "seen without Redis")
    dan = await _user(b, "dan@example.test", "Dan")  # the throttle uses the store
    assert await asyncio.to_thread(call_api, a.base, dan, "query", "users:current", {})

    deployment.redis.start()  # back, on the same address
    await _send(b, carol, conversation, "Redis back")
    await until(on_a.seen(messages, _has("Redis back")), WITHIN, "seen once back")
    await _user(b, "erin@example.test", "Erin")
    assert not on_a.closed.is_set()  # one session all along
    await on_a.close()


async def test_a_user_is_online_across_nodes_until_the_last_session_or_its_node_ends(
    tmp_path: Path, fresh_postgres_url: str, redis_url: str
) -> None:
    """Two nodes of its own: it kills one."""
    with _nodes(tmp_path, fresh_postgres_url, redis_url) as (a, b):
        alice = await _user(a, "alice@example.test", "Alice")
        bob = await _user(b, "bob@example.test", "Bob")
        bobs_chat = await _conversation(b, bob)

        # Two sessions of Bob's, one on each node: online until both have closed.
        on_b = await Live.open(b, bob)
        second = await Live.open(a, bob)
        await until(_online(a, bob, True), WITHIN, "Bob online")
        await second.close()
        await until(_online(b, bob, True), WITHIN, "Bob still online")  # B's session holds
        await on_b.close()
        await until(_online(a, bob, False), WITHIN, "Bob offline once both closed")

        # Bob on B only, Alice on A; then B is killed.
        on_b = await Live.open(b, bob)
        bobs_messages = await on_b.subscribe(
            "messages:getConversationMessages", {"conversationId": bobs_chat}
        )
        await until(on_b.seen(bobs_messages, lambda r: _texts(r) == []), WITHIN, "Bob's page")
        on_a = await Live.open(a, alice)
        alices_chat = await _conversation(a, alice)
        alices_messages = await on_a.subscribe(
            "messages:getConversationMessages", {"conversationId": alices_chat}
        )
        await until(_online(a, bob, True), WITHIN, "Bob online on B")
        await until(_online(a, alice, True), WITHIN, "Alice online on A")

        b.process.send_signal(signal.SIGKILL)
        b.process.wait()
        await asyncio.wait_for(on_b.closed.wait(), WITHIN)  # Bob's connection is gone

        # A serves on: Alice's subscription updates, Bob's presence ends with B's lease.
        await _send(a, alice, alices_chat, "after B died")
        await until(on_a.seen(alices_messages, _has("after B died")), WITHIN, "A serves on")
        await until(_online(a, bob, False), WITHIN, "Bob offline within B's lease")
        assert await _online(a, alice, True)()  # A's renewals keep Alice's

        # Bob, reconnecting to A, gets current results: what was sent while he was away.
        await _send(a, bob, bobs_chat, "sent while away")
        again = await Live.open(a, bob)
        resumed = await again.subscribe(
            "messages:getConversationMessages", {"conversationId": bobs_chat}
        )
        await until(again.seen(resumed, _has("sent while away")), WITHIN, "current on A")
        await until(_online(a, bob, True), WITHIN, "Bob online again, on A")
        await again.close()
        await on_a.close()
