"""The sync endpoint's bounds over a real server and raw sockets: bad input ends only its
own session (FatalError, or AuthError for a refused token), an oversized frame closes 1009,
and a client that stops reading is dropped while another keeps getting its updates."""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import Iterator
from typing import Any

import jwt
import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from advisor_chat.auth.tokens import LEEWAY_S, LocalTokens
from advisor_chat.functions.context import Identity
from tests.api.conftest import SECRET, Served, call_api, serving, sign_up

MAX_FRAME = 100_000
MAX_QUEUED = 2 << 20  # over any one page below (32 messages of 30 KB)
STEP_S = 10  # every awaited frame comes within milliseconds; this bounds a hang


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    with serving(
        tmp_path_factory.mktemp("sync"),
        ws_max_size=str(MAX_FRAME),
        sync_max_queued_bytes=str(MAX_QUEUED),
        sync_send_timeout="2",
        sync_max_subscriptions="3",
        quotas='{"free": {"messagesPerMinute": 1000}}',
    ) as served:
        yield served


@pytest.fixture(scope="module")
def token(server: Served) -> str:
    token = sign_up(server.base, "sync-alice@example.test")
    call_api(server.base, token, "mutation", "users:store", {})
    return token


async def _open(server: Served, token: str | None = None, **options: Any) -> ClientConnection:
    ws = await connect(f"ws://127.0.0.1:{server.port}/api/1.48.0/sync", **options)
    connect_message = {"type": "Connect", "sessionId": "t", "connectionCount": 0}
    await ws.send(json.dumps(connect_message | {"lastCloseReason": None, "clientTs": 0}))
    if token is not None:
        auth = {"type": "Authenticate", "tokenType": "User", "value": token, "baseVersion": 0}
        await ws.send(json.dumps(auth))
    return ws


async def _next(ws: ClientConnection, kind: str) -> dict[str, Any]:
    async with asyncio.timeout(STEP_S):
        while True:
            message: dict[str, Any] = json.loads(await ws.recv())
            if message["type"] == kind:
                return message


async def _result(ws: ClientConnection) -> Any:
    """The next result of the session's one query (skipping Transitions without it)."""
    while True:
        transition = await _next(ws, "Transition")
        if transition["modifications"]:
            [change] = transition["modifications"]
            return change["value"]


async def _subscribe(
    ws: ClientConnection, path: str, args: dict[str, Any], version: int = 0
) -> None:
    add = {"type": "Add", "queryId": version, "udfPath": path, "args": [args]}
    change = {"baseVersion": version, "newVersion": version + 1, "modifications": [add]}
    await ws.send(json.dumps({"type": "ModifyQuerySet"} | change))


async def _closed_with(ws: ClientConnection) -> int | None:
    """The close code the server sent, reading until the connection ends."""
    try:
        async with asyncio.timeout(STEP_S):
            while True:
                await ws.recv()
    except ConnectionClosed as closed:
        return closed.rcvd.code if closed.rcvd else None


async def _still_live(server: Served, token: str, ws: ClientConnection) -> None:
    """`ws` (subscribed to users:current) gets a mutation's answer and its Transition."""
    await ws.send(
        json.dumps({"type": "Mutation", "requestId": 1, "udfPath": "users:store", "args": [{}]})
    )
    response = await _next(ws, "MutationResponse")
    assert response["success"] is True
    await _next(ws, "Transition")


ADD = {"type": "Add", "udfPath": "users:current", "args": [{}]}
BAD_FRAMES = [
    "{not json",
    json.dumps({"type": "Subscribe"}),
    json.dumps({"type": "ModifyQuerySet", "baseVersion": 4, "newVersion": 5, "modifications": []}),
    json.dumps({"type": "Authenticate", "tokenType": "None", "baseVersion": 3}),
    json.dumps(
        {
            "type": "ModifyQuerySet",
            "baseVersion": 0,
            "newVersion": 1,
            "modifications": [ADD | {"queryId": n} for n in range(4)],  # the bound is 3
        }
    ),
]


@pytest.mark.parametrize("frame", BAD_FRAMES)
async def test_bad_input_ends_only_its_own_session(server: Served, token: str, frame: str) -> None:
    other = await _open(server, token)
    await _subscribe(other, "users:current", {})
    first = await _next(other, "Transition")
    assert first["endVersion"]["querySet"] >= 0
    victim = await _open(server, token)
    await victim.send(frame)
    fatal = await _next(victim, "FatalError")
    assert fatal["error"]
    assert await _closed_with(victim) == 1008
    await _still_live(server, token, other)
    await other.close()


async def test_an_oversized_frame_closes_1009(server: Served, token: str) -> None:
    other = await _open(server, token)
    await _subscribe(other, "users:current", {})
    await _next(other, "Transition")
    victim = await _open(server, token, max_size=None)
    await victim.send("x" * (MAX_FRAME + 1))
    assert await _closed_with(victim) == 1009
    await _still_live(server, token, other)
    await other.close()


async def test_a_refused_token_is_an_auth_error(server: Served) -> None:
    ws = await _open(server)
    auth = {"type": "Authenticate", "tokenType": "User", "value": "not.a.jwt", "baseVersion": 0}
    await ws.send(json.dumps(auth))
    refused = await _next(ws, "AuthError")
    assert (refused["baseVersion"], refused["authUpdateAttempted"]) == (0, True)
    assert await _closed_with(ws) == 1000


async def test_a_session_ends_when_its_token_expires(server: Served, token: str) -> None:
    """Nothing is served past a token's life: at its expiry (and the verifier's leeway) the
    client gets an AuthError it did not ask for, on which the official client fetches a
    fresh token and reconnects, and the connection closes; another session goes on."""
    claims = jwt.decode(token, options={"verify_signature": False})
    identity = Identity(claims["sub"], claims["iss"], email=claims.get("email"))
    tokens = LocalTokens(SECRET.encode())
    # Expired a moment ago, still inside the leeway: accepted now, lapsing within a second.
    short = tokens.issue(identity, claims["sid"], ttl_s=-(LEEWAY_S - 1))
    ws = await _open(server, short)
    await _subscribe(ws, "users:current", {})
    assert (await _result(ws))["email"] == claims["email"]
    other = await _open(server, token)
    await _subscribe(other, "users:current", {})
    await _next(other, "Transition")
    expired = await _next(ws, "AuthError")
    assert (expired["baseVersion"], expired["authUpdateAttempted"]) == (0, False)
    assert await _closed_with(ws) == 1000
    await _still_live(server, token, other)
    await other.close()


async def test_a_mutation_is_followed_by_a_transition_reaching_its_commit(
    server: Served, token: str
) -> None:
    ws = await _open(server, token)
    await _subscribe(ws, "users:current", {})
    await _next(ws, "Transition")
    await ws.send(
        json.dumps({"type": "Mutation", "requestId": 0, "udfPath": "users:store", "args": [{}]})
    )
    response = await _next(ws, "MutationResponse")
    transition = await _next(ws, "Transition")
    reached = int.from_bytes(_b64(transition["endVersion"]["ts"]), "little")
    assert reached >= int.from_bytes(_b64(response["ts"]), "little")
    await ws.close()


def _b64(encoded: str) -> bytes:
    import base64

    return base64.b64decode(encoded)


async def test_a_client_that_stops_reading_is_dropped_and_others_go_on(
    server: Served, token: str
) -> None:
    conversation = call_api(server.base, token, "mutation", "conversations:createConversation", {})
    big = "x" * 30_000
    for _ in range(8):
        call_api(
            server.base,
            token,
            "mutation",
            "messages:sendMessage",
            {"conversationId": conversation, "content": big},
        )
    page = {"conversationId": conversation, "paginationOpts": {"numItems": 200, "cursor": None}}

    stalled = await _RawClient.open(server, token)  # subscribes, then never reads
    await stalled.send(
        {
            "type": "ModifyQuerySet",
            "baseVersion": 0,
            "newVersion": 1,
            "modifications": [
                {
                    "type": "Add",
                    "queryId": 0,
                    "udfPath": "messages:getConversationMessages",
                    "args": [page],
                }
            ],
        }
    )
    reader = await _open(server, token, max_size=None)
    await _subscribe(reader, "messages:getConversationMessages", page)
    await _result(reader)

    sent = 8
    for _ in range(24):  # ~10 MB of pages; the stalled client holds a few hundred KB at most
        call_api(
            server.base,
            token,
            "mutation",
            "messages:sendMessage",
            {"conversationId": conversation, "content": big},
        )
        sent += 1
        assert len((await _result(reader))["page"]) == sent
    assert await stalled.dropped()  # else it would wait here for more, forever
    await reader.close()


class _RawClient:
    """A WebSocket client on a plain socket with a small receive window, so that not
    reading really stops the server's writes (a client library reads on its own)."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer

    @classmethod
    async def open(cls, server: Served, token: str) -> _RawClient:
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # before connect: no autotuning
        sock.setblocking(False)
        await asyncio.get_running_loop().sock_connect(sock, ("127.0.0.1", server.port))
        reader, writer = await asyncio.open_connection(sock=sock)
        writer.write(
            b"GET /api/sync HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
            b"Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
            b"Sec-WebSocket-Version: 13\r\n\r\n"
        )
        head = await reader.readuntil(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 101"), head
        client = cls(reader, writer)
        auth = {"type": "Authenticate", "tokenType": "User", "value": token, "baseVersion": 0}
        await client.send(auth)
        return client

    async def send(self, message: dict[str, Any]) -> None:
        payload = json.dumps(message).encode()
        size = len(payload)
        if size < 126:
            head = bytes([0x81, 0x80 | size])
        elif size < 1 << 16:
            head = bytes([0x81, 0x80 | 126]) + size.to_bytes(2, "big")
        else:
            head = bytes([0x81, 0x80 | 127]) + size.to_bytes(8, "big")
        self.writer.write(head + bytes(4) + payload)  # a zero mask leaves the payload as is
        await self.writer.drain()

    async def dropped(self) -> bool:
        """Read what the server sent until the connection ends (True), within STEP_S."""
        try:
            async with asyncio.timeout(STEP_S):
                while await self.reader.read(1 << 16):
                    pass
        except ConnectionResetError:
            pass
        finally:
            self.writer.close()
        return True
