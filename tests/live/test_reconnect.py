"""The official npm ConvexClient across a restart of `serve`: stopped (SIGTERM, and
separately kill -9) and started again on the same port and database, the client reconnects
by itself, resends the mutation issued while the server was down, which lands exactly once,
and its subscription shows what was written through the new server.

The wire is recorded by tests/clients/npm/reconnect_client.mjs: the reconnect's Connect
carries the same sessionId, the next connectionCount and the highest timestamp the client
saw; the new server's first Transition starts from nothing and reaches at least that
timestamp (timestamps are the durable commit log's sequence numbers, so a restart never
moves them back, and the client's pending mutation is confirmed by them)."""

from __future__ import annotations

import asyncio
import json
import os
import queue
import subprocess
import threading
from pathlib import Path
from typing import Any, Literal

import pytest
from websockets.asyncio.client import connect

from advisor_chat.api.sync.protocol import decode_ts
from tests.api.conftest import Served, call_api, serving, serving_at, sign_up_tokens
from tests.clients.node import CLIENT_DIR, node_command

STEP_S = 90.0  # the client's reconnect waits out its backoff (1 s doubling, ≤ 16 s)
Stop = Literal["terminate", "kill"]


class Driven:
    """The Node script: a JSON line out per step, a command line in per step."""

    def __init__(self, process: subprocess.Popen[str]) -> None:
        self.process = process
        self._lines: queue.Queue[str | None] = queue.Queue()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def close(self) -> None:
        """Stop the script and release its pipes (once its output has been read out)."""
        self.process.kill()
        self.process.wait(timeout=10)
        self._reader.join(timeout=10)
        for pipe in (self.process.stdin, self.process.stdout, self.process.stderr):
            if pipe is not None:
                pipe.close()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self._lines.put(line)
        self._lines.put(None)

    def expect(self, event: str) -> dict[str, Any]:
        try:
            line = self._lines.get(timeout=STEP_S)
        except queue.Empty:
            pytest.fail(f"the client said nothing for {STEP_S:.0f} s, waiting for {event!r}")
        if line is None:
            assert self.process.stderr is not None
            pytest.fail(f"the client exited waiting for {event!r}: {self.process.stderr.read()}")
        said: dict[str, Any] = json.loads(line)
        assert said["event"] == event, said
        return said

    def tell(self, command: str) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(command + "\n")
        self.process.stdin.flush()


@pytest.fixture
def client_script() -> list[str]:
    return node_command("reconnect_client.mjs")


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database(request: pytest.FixtureRequest) -> dict[str, str]:
    """The environment naming the database both servers share."""
    if request.param == "postgres":
        return {"DATABASE_URL": str(request.getfixturevalue("fresh_postgres_url"))}
    return {}  # SQLite in the data directory, which both servers share


def _contents(served: Served, token: str, conversation: str) -> list[str]:
    page = call_api(
        served.base,
        token,
        "query",
        "messages:getConversationMessages",
        {"conversationId": conversation, "paginationOpts": {"numItems": 50, "cursor": None}},
    )
    return [message["content"] for message in page["page"]]


def _stop(served: Served, how: Stop) -> None:
    if how == "terminate":
        served.process.terminate()
    else:
        served.process.kill()
    served.process.wait(timeout=30)


@pytest.mark.parametrize("how", ["terminate", "kill"])
def test_the_client_reconnects_to_a_restarted_server(
    tmp_path: Path, database: dict[str, str], client_script: list[str], how: Stop
) -> None:
    with serving(tmp_path, database) as first:
        tokens = sign_up_tokens(first.base, "reconnect@example.test", "Rita")
        token = tokens["accessToken"]
        call_api(first.base, token, "mutation", "users:store", {})
        conversation = call_api(
            first.base, token, "mutation", "conversations:createConversation", {"title": "Restart"}
        )
        call_api(
            first.base,
            token,
            "mutation",
            "messages:sendMessage",
            {"conversationId": conversation, "content": "before"},
        )
        env = os.environ | {
            "ADVISOR_CHAT_URL": first.base,
            "ACCESS_TOKEN": token,
            "CONVERSATION": conversation,
            "EXPECT": json.dumps(["before", "while down", "after restart"]),
        }
        process = subprocess.Popen(
            client_script,
            env=env,
            cwd=CLIENT_DIR,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        client = Driven(process)
        try:
            assert client.expect("subscribed")["page"] == ["before"]

            _stop(first, how)
            client.tell("down")
            client.expect("mutated while down")
            with serving_at(first.port, tmp_path, database) as second:
                call_api(
                    second.base,
                    token,
                    "mutation",
                    "messages:sendMessage",
                    {"conversationId": conversation, "content": "after restart"},
                )
                client.tell("up")
                seen = client.expect("caught up")
                stored = _contents(second, token, conversation)
        finally:
            client.close()

    assert seen["result"]["ok"] is True, seen["result"]
    assert sorted(stored) == ["after restart", "before", "while down"]  # exactly once
    assert sorted(seen["page"]) == sorted(stored)
    # Read-your-writes across the restart: when the promise resolved, its message was there.
    assert "while down" in seen["pageWhenDone"]
    assert seen["errors"] == []
    assert seen["connectionState"]["isWebSocketConnected"] is True
    assert seen["connectionState"]["connectionCount"] >= 2
    _check_the_wire(seen["frames"])


def _check_the_wire(frames: list[dict[str, Any]]) -> None:
    connects = [f for f in frames if f["dir"] == "out" and f["message"]["type"] == "Connect"]
    assert len(connects) >= 2, connects
    assert len({f["message"]["sessionId"] for f in connects}) == 1  # one session, resumed
    first_connect, reconnect = connects[0], connects[-1]
    assert reconnect["message"]["connectionCount"] > first_connect["message"]["connectionCount"]
    observed = decode_ts(reconnect["message"]["maxObservedTimestamp"])
    assert observed > 0

    # The new server's first Transition starts the client's state afresh and is not behind
    # anything the client saw from the old one.
    after = reconnect["connection"]
    transitions = [
        f["message"]
        for f in frames
        if f["dir"] == "in" and f["connection"] == after and f["message"]["type"] == "Transition"
    ]
    assert transitions, "no Transition after the reconnect"
    start = transitions[0]["startVersion"]
    assert (start["querySet"], start["identity"], decode_ts(start["ts"])) == (0, 0, 0)
    assert decode_ts(transitions[0]["endVersion"]["ts"]) >= observed

    # The mutation issued while the server was down went out only after the reconnect,
    # once, and was answered there.
    sends = [
        f
        for f in frames
        if f["dir"] == "out"
        and f["message"]["type"] == "Mutation"
        and f["message"]["args"][0].get("content") == "while down"
    ]
    assert [f["connection"] for f in sends] == [after]
    request_id = sends[0]["message"]["requestId"]
    [answer] = [
        f["message"]
        for f in frames
        if f["dir"] == "in"
        and f["message"]["type"] == "MutationResponse"
        and f["message"]["requestId"] == request_id
    ]
    assert answer["success"] is True
    assert decode_ts(answer["ts"]) > observed


async def test_a_mutation_resent_after_its_answer_was_lost_lands_once(
    live_server: Served,
) -> None:
    """What the npm client does on every reconnect (request_manager's `restart`): resend,
    under the same sessionId and requestId, each mutation not yet confirmed by a Transition,
    including one whose MutationResponse it got, or that committed while the answer was
    lost. Convex runs each (sessionId, requestId) once, so the client counts on it."""
    token = sign_up_tokens(live_server.base, "resend@example.test", "Remy")["accessToken"]
    call_api(live_server.base, token, "mutation", "users:store", {})
    conversation = call_api(
        live_server.base, token, "mutation", "conversations:createConversation", {"title": "Once"}
    )
    mutation = {
        "type": "Mutation",
        "requestId": 0,
        "udfPath": "messages:sendMessage",
        "args": [{"conversationId": conversation, "content": "once"}],
    }
    for connection_count in (0, 1):  # the first answer "lost": the socket drops after it
        async with connect(f"ws://127.0.0.1:{live_server.port}/api/sync") as ws:
            connect_message = {
                "type": "Connect",
                "sessionId": "6f1c2a52-0a39-4d0e-9d0b-3f1b2c4d5e6f",
                "connectionCount": connection_count,
                "lastCloseReason": None if connection_count == 0 else "Disconnected",
                "clientTs": 0,
            }
            auth = {"type": "Authenticate", "tokenType": "User", "value": token, "baseVersion": 0}
            for message in (connect_message, auth, mutation):
                await ws.send(json.dumps(message))
            async with asyncio.timeout(STEP_S):
                while (answer := json.loads(await ws.recv()))["type"] != "MutationResponse":
                    pass
            assert answer["success"] is True, answer
    assert _contents(live_server, token, conversation) == ["once"]
