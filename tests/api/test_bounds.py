"""Bodies bounded before they are read, against a real `advisor-chat serve`: a declared
length over the limit refused unread, a chunked body cut at the limit, memory bounded by
the limit rather than the offer, webhooks' own limit, a body that trickles past its time;
and the WebSocket message bound, on a WebSocket app in process (no endpoint serves one
yet)."""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import httpx
import orjson
import pytest
from starlette.types import Message, Receive, Scope, Send

from advisor_chat.api.bounds import MESSAGE_TOO_BIG, Bounds
from tests.api.conftest import Served, serving
from tests.api.raw import Raw, peak_memory, request, reset_peak_memory

MIB = 1 << 20
OFFER = 300 * MIB  # what the attack offered
BODY_TIMEOUT = 1.5


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    with serving(tmp_path_factory.mktemp("bounds"), body_timeout=str(BODY_TIMEOUT)) as served:
        yield served


async def _offer(raw: Raw, chunked: bool) -> int:
    """Send up to OFFER bytes of body, as fast as the server takes them; returns how many
    MiB went out before the server stopped taking them (or all)."""
    piece = b"a" * MIB
    if chunked:
        piece = b"%x\r\n" % MIB + piece + b"\r\n"
    sent = 0
    with contextlib.suppress(OSError):
        while sent < OFFER // MIB:
            await raw.send(piece)
            sent += 1
    return sent


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
async def test_a_300_mb_body_is_refused_in_the_memory_of_its_limit(
    server: Served, chunked: bool
) -> None:
    reset_peak_memory(server.process.pid)
    before = peak_memory(server.process.pid)
    raw = await Raw.open(server.port)
    framing = {"Transfer-Encoding": "chunked"} if chunked else {"Content-Length": str(OFFER)}
    await raw.send(request("POST", "/api/mutation", {"Content-Type": "application/json"} | framing))
    sending = asyncio.create_task(_offer(raw, chunked))
    try:
        answer = await raw.answer(within=5)
        assert answer.status == 413
        assert answer.code == "PAYLOAD_TOO_LARGE"
        assert answer.json()["errorData"]["limit"] == MIB
        assert answer.headers["x-content-type-options"] == "nosniff"
        await raw.closed(within=5)  # the rest of that body is nobody's: the server closes
    finally:
        sending.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await sending
        await raw.aclose()
    grown = peak_memory(server.process.pid) - before
    assert grown < 32 * MIB, f"peak memory grew {grown / MIB:.1f} MiB"


async def test_a_declared_length_over_the_limit_is_answered_before_any_body(
    server: Served,
) -> None:
    raw = await Raw.open(server.port)
    try:
        await raw.send(request("POST", "/api/query", {"Content-Length": str(MIB + 1)}))
        answer = await raw.answer(within=2)  # no byte of the body was sent
        assert (answer.status, answer.code) == (413, "PAYLOAD_TOO_LARGE")
    finally:
        await raw.aclose()


def test_a_body_within_the_limit_is_read_and_one_byte_more_is_not(server: Served) -> None:
    envelope = b'{"path": "users:current", "args": {"pad": ""}}'
    padded = envelope.replace(b'""', b'"' + b"x" * (MIB - len(envelope)) + b'"')
    assert len(padded) == MIB
    read = httpx.post(f"{server.base}/api/query", content=padded, timeout=10)
    assert read.status_code == 560  # the function's own refusal: the body was read
    assert read.json()["errorData"]["code"] == "INVALID_ARGUMENT"
    over = httpx.post(f"{server.base}/api/query", content=padded + b" ", timeout=10)
    assert over.status_code == 413
    assert over.json()["errorData"]["code"] == "PAYLOAD_TOO_LARGE"


def test_webhooks_have_their_own_limit_and_auth_the_apis(server: Served) -> None:
    webhook = f"{server.base}/webhooks/clerk"
    # Unconfigured, so 404 once read; the limit (256 KiB) holds before that.
    assert httpx.post(webhook, content=b"x" * (200 << 10)).status_code == 404
    refused = httpx.post(webhook, content=b"x" * (300 << 10))
    assert refused.status_code == 413
    assert refused.json()["errorData"] == {"code": "PAYLOAD_TOO_LARGE", "limit": 256 << 10}
    signin = httpx.post(f"{server.base}/auth/signin", content=b"x" * (2 * MIB))
    assert signin.status_code == 413


async def test_a_body_that_trickles_past_its_time_is_refused(server: Served) -> None:
    raw = await Raw.open(server.port)
    try:
        await raw.send(request("POST", "/api/query", {"Content-Length": "100"}) + b'{"pa')
        answer = await raw.answer(within=BODY_TIMEOUT + 3)
        assert (answer.status, answer.code) == (408, "REQUEST_TIMEOUT")
        await raw.closed(within=5)
    finally:
        await raw.aclose()


async def test_a_websocket_message_over_its_size_closes_the_socket_1009() -> None:
    """An echo app behind the bounds: the small message is echoed, the large one closes
    the socket with 1009 and reaches the app as a disconnect."""
    seen: list[Message] = []

    async def echo(scope: Scope, receive: Receive, send: Send) -> None:
        assert scope["type"] == "websocket"
        assert (await receive())["type"] == "websocket.connect"
        await send({"type": "websocket.accept"})
        while (message := await receive())["type"] == "websocket.receive":
            await send({"type": "websocket.send", "text": message["text"]})
        seen.append(message)

    refused: Counter[str] = Counter()
    app = Bounds(
        echo,
        max_body_bytes=MIB,
        max_webhook_body_bytes=MIB,
        body_timeout=1,
        ws_max_size=1000,
        refused=refused,
    )
    incoming: list[Message] = [
        {"type": "websocket.connect"},
        {"type": "websocket.receive", "text": "é" * 500},  # 1000 bytes: at the limit
        {"type": "websocket.receive", "text": "é" * 501},
    ]
    sent: list[Message] = []

    async def receive() -> Message:
        return incoming.pop(0)

    async def send(message: Message) -> None:
        sent.append(message)

    scope = {"type": "websocket", "path": "/sync", "headers": [], "query_string": b""}
    await app(scope, receive, send)
    assert [m["type"] for m in sent] == ["websocket.accept", "websocket.send", "websocket.close"]
    assert sent[-1]["code"] == MESSAGE_TOO_BIG
    assert seen == [{"type": "websocket.disconnect", "code": MESSAGE_TOO_BIG}]
    assert refused == {"PAYLOAD_TOO_LARGE": 1}


async def test_bounds_answer_the_envelope_in_process(tmp_path: Path) -> None:
    """The same refusal through the app alone (no server protocol): the envelope, the
    status, the security headers."""
    from advisor_chat.api.app import create_app
    from advisor_chat.settings import Settings

    app = create_app(Settings(data_dir=tmp_path, max_body_bytes=2048))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://localhost") as client:
        answer = await client.post("/api/query", content=orjson.dumps({"pad": "x" * 4096}))
    assert answer.status_code == 413
    assert answer.json() == {
        "status": "error",
        "errorMessage": "request body larger than 2048 bytes",
        "errorData": {"code": "PAYLOAD_TOO_LARGE", "limit": 2048},
    }
    assert answer.headers["cache-control"] == "no-store"
