"""Connections bounded before any request is read, against a real `advisor-chat serve`:
header size and count, the header deadline (silent and trickling clients), the keep-alive
timeout, the caps in all and per client address, and a flood of idle and trickling
connections that leaves /health answering within a second.

Every connection targets 127.0.0.1; some come from other loopback source addresses
(127.0.0.2 and up) to stand for other clients. Counts and times are bounded: at most a few
hundred sockets, for a few seconds.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.api.conftest import Served, serving
from tests.api.raw import Raw, peak_memory, request, reset_peak_memory
from tests.waiting import until

MIB = 1 << 20
HEADER_TIMEOUT = 2.0
KEEP_ALIVE = 1
TOKEN = "metrics-token-for-tests"
UPGRADE = {
    "Upgrade": "websocket",
    "Connection": "Upgrade",
    "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==",
    "Sec-WebSocket-Version": "13",
}


@pytest.fixture(scope="module")
def edge(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    with serving(
        tmp_path_factory.mktemp("edge"),
        header_timeout=str(HEADER_TIMEOUT),
        keep_alive_timeout=str(KEEP_ALIVE),
        max_connections_per_client="100",
        metrics_token=TOKEN,
    ) as served:
        yield served


@pytest.fixture(scope="module")
def capped(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """Small caps, and the default header deadline (10 s): idle connections stay."""
    with serving(
        tmp_path_factory.mktemp("capped"),
        max_connections="12",
        max_connections_per_client="5",
        metrics_token=TOKEN,
    ) as served:
        yield served


@contextlib.asynccontextmanager
async def held(port: int, source: str, n: int) -> AsyncIterator[list[Raw]]:
    conns: list[Raw] = []
    try:
        for _ in range(n):
            conns.append(await Raw.open(port, source))
        yield conns
    finally:
        for conn in conns:
            await conn.aclose()


async def metric(served: Served, name: str, **labels: str) -> float:
    async with httpx.AsyncClient() as client:
        page = await client.get(
            f"{served.base}/metrics", headers={"Authorization": f"Bearer {TOKEN}"}
        )
    for family in text_string_to_metric_families(page.text):
        for sample in family.samples:
            if sample.name == name and sample.labels == labels:
                return sample.value
    return 0.0


async def all_closed(served: Served) -> None:
    """Until the server counts no connection open but the one asking."""

    async def closed() -> bool:
        return await metric(served, "advisor_chat_connections_open") <= 1

    await until(closed, 5, "connections closed")


async def health_within_a_second(base: str) -> float:
    async with httpx.AsyncClient() as client:
        started = time.monotonic()
        answer = await client.get(f"{base}/health", timeout=1.0)
        assert answer.status_code == 200
        return time.monotonic() - started


# --- headers -----------------------------------------------------------------------------


async def test_a_64_mb_header_is_refused_431_in_bounded_memory(edge: Served) -> None:
    reset_peak_memory(edge.process.pid)
    before = peak_memory(edge.process.pid)
    raw = await Raw.open(edge.port)

    async def offer() -> None:
        await raw.send(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: ")
        with contextlib.suppress(OSError):
            for _ in range(64):
                await raw.send(b"a" * MIB)

    sending = asyncio.create_task(offer())
    try:
        answer = await raw.answer(within=5)
        assert (answer.status, answer.code) == (431, "HEADERS_TOO_LARGE")
        await raw.closed(within=5)
    finally:
        sending.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await sending
        await raw.aclose()
    grown = peak_memory(edge.process.pid) - before
    assert grown < 16 * MIB, f"peak memory grew {grown / MIB:.1f} MiB"


@pytest.mark.parametrize(
    "headers",
    [{"X-Big": "a" * (40 << 10)}, {f"X-Many-{i}": "1" for i in range(150)}],
    ids=["40 KiB in one read", "150 headers"],
)
async def test_headers_over_the_limits_are_refused_431(
    edge: Served, headers: dict[str, str]
) -> None:
    raw = await Raw.open(edge.port)
    try:
        await raw.send(request("GET", "/health", headers))
        answer = await raw.answer()
        assert (answer.status, answer.code) == (431, "HEADERS_TOO_LARGE")
        assert answer.headers["content-security-policy"]
        await raw.closed(within=5)
    finally:
        await raw.aclose()


def test_headers_within_the_limits_are_answered(edge: Served) -> None:
    headers = {"X-Fine": "a" * (20 << 10)} | {f"X-Many-{i}": "1" for i in range(80)}
    assert httpx.get(f"{edge.base}/health", headers=headers).status_code == 200


# --- time --------------------------------------------------------------------------------


async def test_a_silent_connection_is_closed_at_the_header_deadline(edge: Served) -> None:
    raw = await Raw.open(edge.port)
    started = time.monotonic()
    try:
        assert await raw.closed(within=HEADER_TIMEOUT + 3) == b""  # closed, nothing said
    finally:
        await raw.aclose()
    assert time.monotonic() - started >= HEADER_TIMEOUT - 0.5


async def test_a_trickling_client_is_cut_at_the_header_deadline(edge: Served) -> None:
    """A slowloris: a header byte every 100 ms never extends the deadline."""
    raw = await Raw.open(edge.port)

    async def trickle() -> None:
        await raw.send(b"GET /health HTTP/1.1\r\nX-Slow: ")
        with contextlib.suppress(OSError):
            while True:
                await raw.send(b"a")
                await asyncio.sleep(0.1)

    started = time.monotonic()
    trickling = asyncio.create_task(trickle())
    try:
        answer = await raw.answer(within=HEADER_TIMEOUT + 3)
        assert (answer.status, answer.code) == (408, "REQUEST_TIMEOUT")
    finally:
        trickling.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await trickling
        await raw.aclose()
    assert time.monotonic() - started >= HEADER_TIMEOUT - 0.5


async def test_an_idle_kept_alive_connection_is_closed(edge: Served) -> None:
    raw = await Raw.open(edge.port)
    try:
        for _ in range(2):  # kept alive between answers
            await raw.send(request("GET", "/health"))
            assert (await raw.answer()).status == 200
        started = time.monotonic()
        assert await raw.closed(within=KEEP_ALIVE + 3) == b""
        assert time.monotonic() - started >= KEEP_ALIVE - 0.5
    finally:
        await raw.aclose()


# --- the flood ---------------------------------------------------------------------------


async def test_health_answers_within_a_second_through_a_flood(edge: Served) -> None:
    """300 connections, each from an address at or under its cap: 200 idle, 100 sending a
    header byte every 200 ms. /health answers within a second all along; the header
    deadline then closes every one of them."""
    idle_sources = [f"127.0.0.{i}" for i in (20, 21)]
    idle = [await Raw.open(edge.port, source) for source in idle_sources for _ in range(100)]
    trickling = [await Raw.open(edge.port, "127.0.0.22") for _ in range(100)]

    async def trickle(raw: Raw) -> None:
        with contextlib.suppress(OSError):
            await raw.send(b"GET /health HTTP/1.1\r\nX-Slow: ")
            while True:
                await raw.send(b"a")
                await asyncio.sleep(0.2)

    tasks = [asyncio.create_task(trickle(raw)) for raw in trickling]
    try:
        assert await metric(edge, "advisor_chat_connections_open") >= 300
        latencies = []
        for _ in range(6):
            latencies.append(await health_within_a_second(edge.base))
            await asyncio.sleep(0.25)
        ends = await asyncio.gather(
            *(raw.closed(within=HEADER_TIMEOUT + 5) for raw in idle + trickling)
        )
        assert all(end == b"" for end in ends[: len(idle)])
        assert all(b" 408 " in end for end in ends[len(idle) :])
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        for raw in idle + trickling:
            await raw.aclose()
    assert max(latencies) < 1.0
    await health_within_a_second(edge.base)
    await all_closed(edge)


# --- caps --------------------------------------------------------------------------------


async def test_one_address_past_its_cap_is_answered_429(capped: Served) -> None:
    async with held(capped.port, "127.0.0.3", 5) as five:
        await five[-1].send(request("GET", "/health"))
        assert (await five[-1].answer()).status == 200  # the fifth is served
        async with held(capped.port, "127.0.0.3", 1) as (sixth,):
            await sixth.send(request("GET", "/health"))
            answer = await sixth.answer()
            assert (answer.status, answer.code) == (429, "TOO_MANY_CONNECTIONS")
            assert answer.headers["retry-after"] == "1"
        # Another address, and a trusted proxy's (127.0.0.1 by default), are not held back.
        async with held(capped.port, "127.0.0.4", 1) as (other,):
            await other.send(request("GET", "/health"))
            assert (await other.answer()).status == 200
        await health_within_a_second(capped.base)
    refused = "advisor_chat_connections_refused_total"
    assert await metric(capped, refused, reason="max_connections_per_client") >= 1
    await all_closed(capped)
    async with held(capped.port, "127.0.0.3", 1) as (again,):  # its slots came back
        await again.send(request("GET", "/health"))
        assert (await again.answer()).status == 200


async def test_past_the_servers_cap_a_connection_is_answered_503(capped: Served) -> None:
    async with (
        held(capped.port, "127.0.0.5", 5),
        held(capped.port, "127.0.0.6", 5),
        held(capped.port, "127.0.0.7", 2) as last,
    ):
        await last[-1].send(request("GET", "/health"))
        assert (await last[-1].answer()).status == 200  # the twelfth
        async with held(capped.port, "127.0.0.8", 1) as (over,):
            await over.send(request("GET", "/health"))
            answer = await over.answer()
            assert (answer.status, answer.code) == (503, "TOO_MANY_CONNECTIONS")
    await all_closed(capped)
    await health_within_a_second(capped.base)


async def test_a_websocket_upgrade_gives_its_slot_back(capped: Served) -> None:
    """Upgrades go to the WebSocket protocol (no endpoint yet: each is refused 403);
    twice the address's cap of them in turn are all let in, so each slot came back."""
    for _ in range(10):
        raw = await Raw.open(capped.port, "127.0.0.9")
        try:
            await raw.send(request("GET", "/no-socket-here", UPGRADE))
            assert (await raw.answer()).status == 403
            await raw.closed(within=5)
        finally:
            await raw.aclose()
    await all_closed(capped)
