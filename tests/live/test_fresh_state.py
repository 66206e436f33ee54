"""Old state + Transitions == fresh state (zulip's events rule, over Convex's protocol).

A raw WebSocket client subscribes to several queries with different arguments (pages of
messages of two conversations, a conversation that will be deleted, the conversation list,
memories by conversation, by advisor, by key), while writers in three lanes insert, edit
and delete messages, rename and delete conversations, and set and delete memories over
HTTP, at once. When the writes have stopped, one more mutation over the socket names a
timestamp past all of them; once a Transition reaches it, the client's view (every
Transition's modifications applied in order, as the client applies them) must equal a
fresh run of each query over HTTP: nothing missed, nothing stale, failures included (a
query of a deleted conversation fails NOT_FOUND and keeps failing, through its read set).
On SQLite and PostgreSQL, against a real server.
"""

from __future__ import annotations

import asyncio
import itertools
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from websockets.asyncio.client import ClientConnection, connect

from advisor_chat.api.sync.protocol import decode_ts
from tests.api.conftest import Served, serving, sign_up

STEP_S = 20  # every frame comes within milliseconds; this bounds a hang
LANES = 3
DOOMED_BY_ID = 8  # the query id of getConversationById of the third conversation
BACKENDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
_emails = itertools.count()


@pytest.fixture(params=BACKENDS)
def server(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Served]:
    env = {}
    if request.param == "postgres":
        env["DATABASE_URL"] = str(request.getfixturevalue("fresh_postgres_url"))
    with serving(tmp_path, env, quotas='{"free": {"messagesPerMinute": 100000}}') as served:
        yield served


# One write: (what, which conversation 0-2, a small number picking a key or a message, text)
ops = st.lists(
    st.tuples(
        st.sampled_from(["send", "send", "edit", "delete", "rename", "remember", "forget"]),
        st.integers(0, 2),
        st.integers(0, 3),
        st.sampled_from(["", "a", "b"]),
    ),
    min_size=5,
    max_size=30,
)


@dataclass
class Client:
    """A sync client's view: each query's latest result, as Transitions leave it."""

    ws: ClientConnection
    results: dict[int, Any] = field(default_factory=dict)
    end: dict[str, Any] | None = None  # the last Transition's endVersion
    ts: int = 0
    transitions: int = 0
    last_modifications: list[dict[str, Any]] = field(default_factory=list)
    answers: dict[int, dict[str, Any]] = field(default_factory=dict)  # MutationResponses
    changed: asyncio.Event = field(default_factory=asyncio.Event)

    async def read(self) -> None:
        async for frame in self.ws:
            message = json.loads(frame)
            match message["type"]:
                case "Transition":
                    if self.end is not None:  # each Transition starts where the last ended
                        assert message["startVersion"] == self.end
                    self.end = message["endVersion"]
                    self.ts = decode_ts(message["endVersion"]["ts"])
                    self.transitions += 1
                    self.last_modifications = message["modifications"]
                    for change in message["modifications"]:
                        self.apply(change)
                case "MutationResponse":
                    self.answers[message["requestId"]] = message
                case "FatalError" | "AuthError":
                    raise AssertionError(message)
            self.changed.set()

    def apply(self, change: dict[str, Any]) -> None:
        match change["type"]:
            case "QueryUpdated":
                self.results[change["queryId"]] = ("ok", change["value"])
            case "QueryFailed":
                failed = (change["errorMessage"], change["errorData"])
                self.results[change["queryId"]] = ("error", failed)
            case "QueryRemoved":
                self.results.pop(change["queryId"], None)

    async def until(self, done: Any) -> None:
        async with asyncio.timeout(STEP_S):
            while not done():
                self.changed.clear()
                await self.changed.wait()


async def _call(http: httpx.AsyncClient, kind: str, path: str, args: dict[str, Any]) -> Any:
    answer = (await http.post(f"/api/{kind}", json={"path": path, "args": args})).json()
    if answer["status"] == "success":
        return ("ok", answer["value"])
    return ("error", (answer["errorMessage"], answer["errorData"]))


async def _ok(http: httpx.AsyncClient, kind: str, path: str, args: dict[str, Any]) -> Any:
    status, value = await _call(http, kind, path, args)
    assert status == "ok", value
    return value


def _pinned(args: dict[str, Any], result: Any) -> dict[str, Any]:
    """`args` of a paginated query, with the end its subscribed page is pinned at."""
    if "paginationOpts" not in args or result is None or result[0] != "ok":
        return args
    end = result[1]["continueCursor"]
    return args | {"paginationOpts": args["paginationOpts"] | {"endCursor": end}}


async def _scenario(server: Served, writes: list[tuple[str, int, int, str]]) -> None:
    token = sign_up(server.base, f"fresh-{next(_emails)}@example.test")
    headers = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(base_url=server.base, headers=headers, timeout=STEP_S) as http:
        await _ok(http, "mutation", "users:store", {})
        conversations = [
            await _ok(http, "mutation", "conversations:createConversation", {"title": t})
            for t in ("one", "two", "doomed")
        ]
        first_page = {"numItems": 3, "cursor": None}
        whole = {"numItems": 100, "cursor": None}
        marketplace = {"paginationOpts": first_page}
        advisors = await _ok(http, "query", "marketplace:getMarketplaceAdvisors", marketplace)
        advisor = advisors["page"][0]["_id"]
        queries: list[tuple[str, dict[str, Any]]] = [
            ("messages:getConversationMessages", {"conversationId": c, "paginationOpts": p})
            for c in conversations
            for p in (first_page, whole)
        ]
        queries += [
            ("conversations:getConversationById", {"conversationId": c}) for c in conversations
        ]
        queries += [("conversations:getUserConversations", {"paginationOpts": whole})]
        queries += [("advisorMemories:list", {"conversationId": c}) for c in conversations[:2]]
        queries += [
            ("advisorMemories:list", {"conversationId": conversations[0], "advisorId": advisor}),
            (
                "advisorMemories:getMemoryByKey",
                {"conversationId": conversations[1], "advisorId": advisor, "key": "k1"},
            ),
        ]

        async with connect(f"ws://127.0.0.1:{server.port}/api/1.48.0/sync") as ws:
            client = Client(ws)
            reader = asyncio.create_task(client.read())
            connect_message = {"type": "Connect", "sessionId": "s", "connectionCount": 0}
            await ws.send(json.dumps(connect_message | {"lastCloseReason": None}))
            auth = {"type": "Authenticate", "tokenType": "User", "value": token}
            await ws.send(json.dumps(auth | {"baseVersion": 0}))
            adds = [
                {"type": "Add", "queryId": qid, "udfPath": path, "args": [args]}
                for qid, (path, args) in enumerate(queries)
            ]
            modify = {"type": "ModifyQuerySet", "baseVersion": 0, "newVersion": 1}
            await ws.send(json.dumps(modify | {"modifications": adds}))

            sent: list[str] = []  # message ids, shared by the lanes
            doomed_deleted = False

            async def write(op: tuple[str, int, int, str]) -> None:
                nonlocal doomed_deleted
                what, which, pick, text = op
                conversation = conversations[which]
                match what:
                    case "send":
                        args = {"conversationId": conversation, "content": f"m{pick}{text}"}
                        status, value = await _call(http, "mutation", "messages:sendMessage", args)
                        if status == "ok":
                            sent.append(value)
                    case "edit" if sent:
                        message = sent[pick % len(sent)]
                        args = {"messageId": message, "content": f"edited {text}"}
                        await _call(http, "mutation", "messages:updateMessage", args)
                    case "delete" if sent:
                        message = sent.pop(pick % len(sent))
                        await _call(
                            http, "mutation", "messages:deleteMessage", {"messageId": message}
                        )
                    case "rename" if which < 2:
                        title = text or None
                        args = {"conversationId": conversation, "title": title}
                        await _call(http, "mutation", "conversations:updateConversation", args)
                    case "rename":  # the third conversation goes, with what it holds
                        doomed_deleted = True
                        args = {"conversationId": conversation}
                        await _call(http, "mutation", "conversations:deleteConversation", args)
                    case "remember" | "forget":
                        keyed = {"conversationId": conversation, "advisorId": advisor}
                        keyed |= {"key": f"k{pick}"}
                        if what == "remember":
                            args = keyed | {"value": text or "v"}
                            await _call(http, "mutation", "advisorMemories:setMemory", args)
                        else:
                            found = await _call(
                                http, "query", "advisorMemories:getMemoryByKey", keyed
                            )
                            if found[0] == "ok" and found[1] is not None:
                                args = {"memoryId": found[1]["_id"]}
                                await _call(http, "mutation", "advisorMemories:deleteMemory", args)

            async def lane(mine: list[tuple[str, int, int, str]]) -> None:
                for op in mine:
                    await write(op)

            await asyncio.gather(*(lane(writes[n::LANES]) for n in range(LANES)))

            # Past every write: a mutation on the socket, then the Transition reaching it.
            mutation = {"type": "Mutation", "requestId": 0}
            create = {"udfPath": "conversations:createConversation", "args": [{"title": "end"}]}
            await ws.send(json.dumps(mutation | create))
            await client.until(lambda: 0 in client.answers)
            answer = client.answers[0]
            assert answer["success"], answer
            done_ts = decode_ts(answer["ts"])
            await client.until(lambda: client.ts >= done_ts)

            # A subscribed page is pinned at the end its first run answered (its journal);
            # the fresh run of that page reads up to the same end.
            fresh = {
                qid: await _call(http, "query", path, _pinned(args, client.results.get(qid)))
                for qid, (path, args) in enumerate(queries)
            }
            assert client.results == fresh
            if doomed_deleted:  # the deleted conversation's queries failed, and say so
                assert client.results[DOOMED_BY_ID][0] == "error"
            reader.cancel()


@settings(
    max_examples=4,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(writes=ops)
def test_a_clients_state_after_its_transitions_equals_a_fresh_run(
    server: Served, writes: list[tuple[str, int, int, str]]
) -> None:
    asyncio.run(_scenario(server, writes))
