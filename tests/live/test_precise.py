"""Precise invalidation, end to end: a commit re-runs the subscriptions whose read sets
hold its keys and no other. Sessions of one user watch two conversations; three messages
written one after another into the first re-run its query three times, as /metrics counts
runs, and the other conversation's query not once (its session is told nothing: its next
Transition, owed to a mutation of its own that touches none of its reads, is empty). A
twin session subscribed to the same query as the first gets every message too; on SQLite,
where a run does not wait, it is answered from the first's results, with no run of its own.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from websockets.asyncio.client import connect

from advisor_chat.api.sync.protocol import decode_ts
from tests.api.conftest import Served, serving, sign_up
from tests.live.test_fresh_state import Client, _ok

METRICS = "precise-metrics-token"


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def server(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Served]:
    env = {}
    if request.param == "postgres":
        env["DATABASE_URL"] = str(request.getfixturevalue("fresh_postgres_url"))
    with serving(tmp_path, env, metrics_token=METRICS) as served:
        yield served


async def _runs(http: httpx.AsyncClient) -> float:
    page = await http.get("/metrics", headers={"Authorization": f"Bearer {METRICS}"})
    [line] = [
        line
        for line in page.text.splitlines()
        if line.startswith("advisor_chat_sync_query_runs_total ")
    ]
    return float(line.split()[1])


async def _subscribe(client: Client, token: str, conversation: str) -> None:
    hello = {"type": "Connect", "sessionId": "p", "connectionCount": 0, "lastCloseReason": None}
    await client.ws.send(json.dumps(hello))
    auth = {"type": "Authenticate", "tokenType": "User", "value": token, "baseVersion": 0}
    await client.ws.send(json.dumps(auth))
    args = {"conversationId": conversation, "paginationOpts": {"numItems": 50, "cursor": None}}
    add = {"type": "Add", "queryId": 0, "udfPath": "messages:getConversationMessages"}
    modify: dict[str, Any] = {"type": "ModifyQuerySet", "baseVersion": 0, "newVersion": 1}
    modify["modifications"] = [add | {"args": [args]}]
    await client.ws.send(json.dumps(modify))
    await client.until(lambda: 0 in client.results)


def _page(client: Client) -> list[str]:
    status, value = client.results[0]
    assert status == "ok", value
    return [m["content"] for m in value["page"]]


async def test_a_commit_re_runs_only_the_queries_it_touches(
    server: Served, request: pytest.FixtureRequest
) -> None:
    token = sign_up(server.base, "precise@example.test")
    headers = {"Authorization": f"Bearer {token}"}
    sqlite = request.node.callspec.params["server"] == "sqlite"
    async with httpx.AsyncClient(base_url=server.base, headers=headers, timeout=20) as http:
        await _ok(http, "mutation", "users:store", {})
        create = "conversations:createConversation"
        written, watched = [await _ok(http, "mutation", create, {}) for _ in range(2)]
        url = f"ws://127.0.0.1:{server.port}/api/1.48.0/sync"
        async with connect(url) as ws_a, connect(url) as ws_b, connect(url) as ws_twin:
            a, b, twin = Client(ws_a), Client(ws_b), Client(ws_twin)
            readers = [asyncio.create_task(c.read()) for c in (a, b, twin)]
            await _subscribe(a, token, written)
            await _subscribe(b, token, watched)
            await _subscribe(twin, token, written)
            before = await _runs(http)

            for n in range(3):  # one at a time: each is one round of the first session
                args = {"conversationId": written, "content": f"m{n}"}
                await _ok(http, "mutation", "messages:sendMessage", args)
                await a.until(lambda n=n: len(_page(a)) == n + 1)
                await twin.until(lambda n=n: len(_page(twin)) == n + 1)

            # The second session's own mutation touches nothing it reads: the Transition
            # it is owed says so, and its query has not been run.
            mutation = {"type": "Mutation", "requestId": 0, "udfPath": create, "args": [{}]}
            transitions = b.transitions
            await ws_b.send(json.dumps(mutation))
            await b.until(lambda: 0 in b.answers)
            done_ts = decode_ts(b.answers[0]["ts"])
            await b.until(lambda: b.ts >= done_ts)
            assert b.transitions == transitions + 1
            assert b.last_modifications == []
            assert _page(b) == []
            assert _page(twin) == _page(a) == ["m0", "m1", "m2"]
            runs = await _runs(http) - before
            if sqlite:
                assert runs == 3
            else:  # the twin's round may start while the first's run still waits
                assert 3 <= runs <= 6
            for reader in readers:
                reader.cancel()
