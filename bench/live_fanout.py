"""`python -m bench.live_fanout`: live-query fan-out over the sync protocol, beside a bare
`websockets` broadcast measured in the same run (issue 16, item 9).

- The product: `advisor-chat serve` on SQLite in a process of its own. N sessions (raw
  sync protocol over the `websockets` client, to keep this side light), each subscribed to
  its own conversation's messages (`messages:getConversationMessages`), plus SHARED
  sessions subscribed to one shared conversation; accounts made through /auth/signup, one
  per ACCOUNT_SESSIONS conversations. A writer calls `messages:sendMessage` over HTTP at
  RATE a second: every SHARED_EVERY-th into the shared conversation, the others round-robin
  into the own conversations.
- The baseline: a bare `websockets` server (this file, `--baseline-server`), holding each
  conversation's messages in memory; the writer sends the same message over a socket, and
  the server sends each subscriber of that conversation the same Transition-shaped frame
  (the whole page of messages) the product sends.

Figures: commit-to-client latency, from when the writer sent the write to when a client
holds it (an upper bound of commit-to-client: it includes the write's own trip), p50 and
p99, with every delivery counted and none missing; query re-runs per commit, read from
/metrics (`advisor_chat_sync_query_runs`, and `..._cache_hits`: queries answered from
another session's result), beside the re-runs the commits had to cause (1 for an own
conversation, SHARED for the shared one); server RSS per idle session (the
RSS grown by opening the sessions and their first results, over their number); the
product's figures over the baseline's. Targets: p99 under 50 ms, re-runs only the affected
ones, memory per idle session under 50 KB. Nothing here asserts a timing.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import math
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import orjson
from rich.console import Console
from rich.table import Table
from websockets.asyncio.client import ClientConnection, connect
from websockets.asyncio.server import ServerConnection, serve

from bench.chat_engine import BenchError
from bench.chat_http import _cpu_seconds, _environment, _free_port, _server
from bench.loop_lag import Spread

PASSWORD = "bench-password-123"  # throwaway local accounts
METRICS_TOKEN = "bench-metrics-token"
ACCOUNT_SESSIONS = 50  # conversations per account (a free plan holds 500); sign-ups cost
# tens of ms of scrypt each, so not one per session
SHARED_EVERY = 20  # one write in 20 goes to the shared conversation
PAGE = 200  # messages one subscription's page holds (the most a page may): what a run
# writes into the shared conversation must fit, `--seconds` x `--rate` / SHARED_EVERY
WRITERS = 32  # the writer's connections: writes past them wait for one
CONNECT_BATCH = 100  # sockets opened at once
STEP_S = 60.0  # one setup step's limit: a server that stops answering fails the bench
DRAIN_S = 10.0  # after the last write, how long deliveries may still arrive
PRODUCT, BASELINE = "product", "bare websockets"
SERVER_SETTINGS = {
    "ADVISOR_CHAT_LOG_LEVEL": "warning",
    "ADVISOR_CHAT_MAX_CONNECTIONS": "100000",
    "ADVISOR_CHAT_MAX_CONNECTIONS_PER_CLIENT": "0",  # every session comes from 127.0.0.1
    "ADVISOR_CHAT_METRICS_TOKEN": METRICS_TOKEN,
    "ADVISOR_CHAT_QUOTAS": '{"free": {"messagesPerMinute": 1000000000}}',
    "ADVISOR_CHAT_AUTH_LIMITS": orjson.dumps({"signUpAddress": {"count": 1_000_000_000}}).decode(),
}


# --- what both runs measure ----------------------------------------------------------------


@dataclass
class Deliveries:
    """When each write was sent, and when each subscriber held it."""

    sent: dict[int, float] = field(default_factory=dict)  # write number -> perf_counter
    trips: list[float] = field(default_factory=list)  # each write's own round trip, seconds
    expected: int = 0  # deliveries the writes owe: one per subscriber of the conversation
    latencies: list[float] = field(default_factory=list)  # seconds
    by_kind: dict[bool, list[float]] = field(default_factory=lambda: {False: [], True: []})
    written: bool = False  # every write has been sent and answered
    complete: asyncio.Event = field(default_factory=asyncio.Event)  # ...and delivered

    def arrived(self, numbers: list[int], shared: bool) -> None:
        now = time.perf_counter()
        for number in numbers:
            start = self.sent.get(number)
            if start is not None:
                self.latencies.append(now - start)
                self.by_kind[shared].append(now - start)
        self.check()

    def check(self) -> None:
        if self.written and len(self.latencies) >= self.expected:
            self.complete.set()


@dataclass(frozen=True)
class Figures:
    server: str
    sessions: int
    writes: int
    seconds: float
    latency: Spread  # ms
    own_latency: Spread  # ms, of the deliveries to the own conversations' sessions
    shared_latency: Spread  # ms, ...to the shared conversation's
    trip: Spread  # ms, a write's own round trip
    delivered: int
    expected: int
    rss_per_session: float  # bytes
    server_cpu: float  # share of one core over the window
    server_waiting: float  # share of the window the server was runnable but not running
    reruns: float | None = None  # query runs per write (product only)
    hits: float | None = None  # queries answered from the shared results, per write
    affected: float | None = None  # the runs the writes had to cause, per write


@dataclass
class Session:
    """One subscriber: its conversation and how many of its messages it holds."""

    conversation: str
    token: str
    shared: bool = False
    held: int = 0
    ready: asyncio.Event = field(default_factory=asyncio.Event)


def _waiting_seconds(pid: int) -> float:
    """Time the process was runnable but waiting for a core (Linux schedstat): on a shared
    machine, what other processes took from the server."""
    return int(Path(f"/proc/{pid}/schedstat").read_text().split()[1]) / 1e9


def _rss(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise BenchError(f"no VmRSS for {pid}")


def _numbers(page: list[dict[str, Any]]) -> list[int]:
    return [int(m["content"]) for m in page if m["content"].isdigit()]


# --- the product ---------------------------------------------------------------------------


async def _product_session(
    port: int, session: Session, deliveries: Deliveries, stop: asyncio.Event
) -> None:
    async with connect(f"ws://127.0.0.1:{port}/api/1.48.0/sync", max_size=None) as ws:
        hello = {"type": "Connect", "sessionId": "b", "connectionCount": 0}
        await ws.send(orjson.dumps(hello | {"lastCloseReason": None}).decode())
        auth = {"type": "Authenticate", "tokenType": "User", "value": session.token}
        await ws.send(orjson.dumps(auth | {"baseVersion": 0}).decode())
        args: dict[str, Any] = {"conversationId": session.conversation}
        args["paginationOpts"] = {"numItems": PAGE, "cursor": None}
        add: dict[str, Any] = {"type": "Add", "queryId": 0}
        add["udfPath"] = "messages:getConversationMessages"
        modify = {"type": "ModifyQuerySet", "baseVersion": 0, "newVersion": 1}
        await ws.send(orjson.dumps(modify | {"modifications": [add | {"args": [args]}]}).decode())
        await _receive(ws, session, deliveries, stop, _product_page)


def _product_page(message: dict[str, Any]) -> list[dict[str, Any]] | None:
    if message["type"] == "FatalError":
        raise BenchError(f"the server ended a session: {message}")
    if message["type"] != "Transition":
        return None
    for change in message["modifications"]:
        if change["type"] == "QueryUpdated":
            page: list[dict[str, Any]] = change["value"]["page"]
            return page
        if change["type"] == "QueryFailed":
            raise BenchError(f"the query failed: {change}")
    return None


async def _receive(
    ws: ClientConnection,
    session: Session,
    deliveries: Deliveries,
    stop: asyncio.Event,
    page_of: Callable[[dict[str, Any]], list[dict[str, Any]] | None],
) -> None:
    """Read frames until `stop`; each page that grew delivered its new messages."""
    reading = asyncio.ensure_future(ws.recv())
    stopping = asyncio.ensure_future(stop.wait())
    try:
        while True:
            await asyncio.wait({reading, stopping}, return_when=asyncio.FIRST_COMPLETED)
            if not reading.done():
                return
            page = page_of(orjson.loads(reading.result()))
            reading = asyncio.ensure_future(ws.recv())
            if page is None:
                continue
            if len(page) > session.held:
                deliveries.arrived(_numbers(page[session.held :]), session.shared)
                session.held = len(page)
            session.ready.set()
    finally:
        for task in (reading, stopping):
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task


async def _metric(http: httpx.AsyncClient, name: str) -> float:
    response = await http.get("/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"})
    for line in response.text.splitlines():
        if line.startswith(name + " ") or line.startswith(name + "_total "):
            return float(line.split()[1])
    raise BenchError(f"/metrics has no {name}")


async def _sign_up(http: httpx.AsyncClient, n: int) -> str:
    body = {"email": f"fanout-{n}@example.test", "password": PASSWORD}
    response = await http.post("/auth/signup", json=body)
    if response.status_code != 200:
        raise BenchError(f"sign-up: HTTP {response.status_code} {response.text}")
    return str(response.json()["accessToken"])


async def _mutation(http: httpx.AsyncClient, path: str, args: dict[str, Any], token: str) -> Any:
    response = await http.post(
        "/api/mutation",
        content=orjson.dumps({"path": path, "args": args}),
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    body = orjson.loads(response.content)
    if body.get("status") != "success":
        raise BenchError(f"{path}: HTTP {response.status_code} {body}")
    return body["value"]


async def _product(args: argparse.Namespace, directory: Path) -> Figures:
    port = _free_port()
    env = _environment(SERVER_SETTINGS | {"ADVISOR_CHAT_DATA_DIR": str(directory)})
    command = [sys.executable, "-m", "advisor_chat.cli", "serve", "--port", str(port)]
    with _server(command, env, directory, port) as process:
        limits = httpx.Limits(max_connections=WRITERS)
        base = f"http://127.0.0.1:{port}"
        async with httpx.AsyncClient(base_url=base, timeout=STEP_S, limits=limits) as http:
            accounts = max(1, math.ceil(args.sessions / ACCOUNT_SESSIONS))
            tokens = list(await asyncio.gather(*(_sign_up(http, n) for n in range(accounts))))
            own: list[Session] = []
            for n in range(args.sessions):
                token = tokens[n % accounts]  # consecutive writes go to different users
                made = await _mutation(http, "conversations:createConversation", {}, token)
                own.append(Session(str(made), token))
            shared_id = str(
                await _mutation(http, "conversations:createConversation", {}, tokens[0])
            )
            shared = [Session(shared_id, tokens[0], True) for _ in range(args.shared)]

            async def write(session: Session, number: int) -> None:
                body = {"conversationId": session.conversation, "content": str(number)}
                await _mutation(http, "messages:sendMessage", body, session.token)

            async def metrics() -> tuple[float, float]:
                runs = await _metric(http, "advisor_chat_sync_query_runs")
                return runs, await _metric(http, "advisor_chat_sync_query_cache_hits")

            return await _measure(PRODUCT, args, process.pid, own, shared, write, port, metrics)


# --- the baseline --------------------------------------------------------------------------


def baseline_server(port: int) -> None:
    """A bare `websockets` server: subscribe with {"subscribe": conversation}; a write
    {"write": conversation, "content": ...} appends a message and sends each subscriber of
    the conversation its whole page, in a frame shaped like the product's Transition."""

    async def main() -> None:
        pages: dict[str, list[dict[str, Any]]] = {}
        subscribers: dict[str, set[ServerConnection]] = {}

        def frame(conversation: str) -> str:
            page = {"page": pages[conversation], "isDone": True, "continueCursor": "x"}
            change = {"type": "QueryUpdated", "queryId": 0, "value": page, "logLines": []}
            return orjson.dumps({"type": "Transition", "modifications": [change]}).decode()

        async def handler(ws: ServerConnection) -> None:
            async for raw in ws:
                message = orjson.loads(raw)
                if "subscribe" in message:
                    conversation = message["subscribe"]
                    pages.setdefault(conversation, [])
                    subscribers.setdefault(conversation, set()).add(ws)
                    await ws.send(frame(conversation))
                else:
                    conversation = message["write"]
                    page = pages.setdefault(conversation, [])
                    page.append({"_id": f"m{len(page)}", "content": message["content"]})
                    out = frame(conversation)
                    for subscriber in list(subscribers.get(conversation, ())):
                        with contextlib.suppress(Exception):  # a closed subscriber
                            await subscriber.send(out)
                    await ws.send("ok")

        async with serve(handler, "127.0.0.1", port, max_size=None):
            await asyncio.Future()

    asyncio.run(main())


async def _baseline(args: argparse.Namespace, directory: Path) -> Figures:
    port = _free_port()
    command = [sys.executable, "-m", "bench.live_fanout", "--baseline-server", str(port)]
    process = await asyncio.create_subprocess_exec(*command, env=_environment({}), cwd=directory)
    try:
        deadline = time.monotonic() + STEP_S
        while True:  # polling another process's start; the deadline bounds it
            try:
                writer = await connect(f"ws://127.0.0.1:{port}", max_size=None)
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise BenchError("the baseline server did not start") from None
                await asyncio.sleep(0.1)
        own = [Session(f"c{n}", "") for n in range(args.sessions)]
        shared = [Session("shared", "", True) for _ in range(args.shared)]
        lock = asyncio.Lock()

        async def write(session: Session, number: int) -> None:
            async with lock:  # one socket: one write and its answer at a time
                message = {"write": session.conversation, "content": str(number)}
                await writer.send(orjson.dumps(message).decode())
                await writer.recv()

        async def no_metrics() -> tuple[float, float]:
            return math.nan, math.nan

        try:
            return await _measure(BASELINE, args, process.pid, own, shared, write, port, no_metrics)
        finally:
            await writer.close()
    finally:
        process.terminate()
        await process.wait()


async def _baseline_session(
    port: int, session: Session, deliveries: Deliveries, stop: asyncio.Event
) -> None:
    async with connect(f"ws://127.0.0.1:{port}", max_size=None) as ws:
        await ws.send(orjson.dumps({"subscribe": session.conversation}).decode())
        await _receive(ws, session, deliveries, stop, _baseline_page)


def _baseline_page(message: dict[str, Any]) -> list[dict[str, Any]] | None:
    page: list[dict[str, Any]] = message["modifications"][0]["value"]["page"]
    return page


# --- one run -------------------------------------------------------------------------------


async def _measure(
    server: str,
    args: argparse.Namespace,
    pid: int,
    own: list[Session],
    shared: list[Session],
    write: Callable[[Session, int], Coroutine[Any, Any, None]],
    port: int,
    reruns: Callable[[], Awaitable[tuple[float, float]]],
) -> Figures:
    """Open every session, measure the RSS they cost idle, then write at the rate for the
    window and collect the deliveries."""
    deliveries = Deliveries()
    stop = asyncio.Event()
    open_session = _product_session if server == PRODUCT else _baseline_session
    sessions = own + shared
    await asyncio.sleep(1.0)  # the server settles after its setup before the RSS is read
    rss_before = _rss(pid)
    tasks: list[asyncio.Task[None]] = []
    for start in range(0, len(sessions), CONNECT_BATCH):
        batch = sessions[start : start + CONNECT_BATCH]
        tasks += [asyncio.create_task(open_session(port, s, deliveries, stop)) for s in batch]
        async with asyncio.timeout(STEP_S):
            for session in batch:
                await session.ready.wait()
    await asyncio.sleep(1.0)
    rss_after = _rss(pid)
    runs_before, hits_before = await reruns()

    pause = 1 / args.rate
    targets = own or shared
    pending: set[asyncio.Task[None]] = set()
    cpu_before, waiting_before = _cpu_seconds(pid), _waiting_seconds(pid)
    started = time.perf_counter()
    writes = affected = 0
    while (now := time.perf_counter()) - started < args.seconds:
        due = started + writes * pause
        if now < due:
            await asyncio.sleep(due - now)
        if writes % SHARED_EVERY == SHARED_EVERY - 1 and shared:
            target, subscribers = shared[0], len(shared)
        else:
            target, subscribers = targets[writes % len(targets)], 1
        deliveries.sent[writes] = time.perf_counter()
        deliveries.expected += subscribers
        affected += subscribers
        task = asyncio.create_task(_timed(write(target, writes), deliveries.trips))
        pending.add(task)
        task.add_done_callback(pending.discard)
        writes += 1
    if pending:
        await asyncio.gather(*pending)
    seconds = time.perf_counter() - started
    server_cpu = (_cpu_seconds(pid) - cpu_before) / seconds
    server_waiting = (_waiting_seconds(pid) - waiting_before) / seconds
    deliveries.written = True
    deliveries.check()
    with contextlib.suppress(TimeoutError):  # a delivery missing: counted, not waited for
        async with asyncio.timeout(DRAIN_S):
            await deliveries.complete.wait()
    runs_after, hits_after = await reruns()
    runs, hits = runs_after - runs_before, hits_after - hits_before
    stop.set()
    await asyncio.gather(*tasks, return_exceptions=True)
    return Figures(
        server=server,
        sessions=len(sessions),
        writes=writes,
        seconds=seconds,
        latency=Spread.of(deliveries.latencies),
        own_latency=Spread.of(deliveries.by_kind[False]),
        shared_latency=Spread.of(deliveries.by_kind[True]),
        trip=Spread.of(deliveries.trips),
        delivered=len(deliveries.latencies),
        expected=deliveries.expected,
        rss_per_session=(rss_after - rss_before) / len(sessions),
        server_cpu=server_cpu,
        server_waiting=server_waiting,
        reruns=None if math.isnan(runs) else runs / writes,
        hits=None if math.isnan(hits) else hits / writes,
        affected=affected / writes,
    )


async def _timed(call: Coroutine[Any, Any, None], into: list[float]) -> None:
    start = time.perf_counter()
    await call
    into.append(time.perf_counter() - start)


# --- the report ----------------------------------------------------------------------------


def _show(console: Console, product: Figures, baseline: Figures, args: argparse.Namespace) -> None:
    table = Table(
        title=f"Live fan-out: {args.sessions} own + {args.shared} shared sessions, "
        f"{args.rate:g} writes/s for {args.seconds:g} s (SQLite)"
    )
    for column in ("measure", PRODUCT, BASELINE, "product / baseline"):
        table.add_column(column, justify="right" if column != "measure" else "left")

    def row(name: str, p: float, b: float, unit: str, digits: int = 1) -> None:
        ratio = f"{p / b:.2f}" if b else "-"
        table.add_row(name, f"{p:,.{digits}f}{unit}", f"{b:,.{digits}f}{unit}", ratio)

    row("commit-to-client p50", product.latency.p50, baseline.latency.p50, " ms")
    row("commit-to-client p99", product.latency.p99, baseline.latency.p99, " ms")
    row("commit-to-client max", product.latency.max, baseline.latency.max, " ms")
    for name, p, b in (
        ("own conversations", product.own_latency, baseline.own_latency),
        ("the shared one", product.shared_latency, baseline.shared_latency),
    ):
        row(f"  to {name}: p50", p.p50, b.p50, " ms")
        row(f"  to {name}: p99", p.p99, b.p99, " ms")
    row("the write's own round trip p50", product.trip.p50, baseline.trip.p50, " ms")
    row("the write's own round trip p99", product.trip.p99, baseline.trip.p99, " ms")
    row(
        "RSS per idle session",
        product.rss_per_session / 1024,
        baseline.rss_per_session / 1024,
        " KB",
    )
    row("server CPU (share of a core)", product.server_cpu, baseline.server_cpu, "", 2)
    row("server waiting for a core", product.server_waiting, baseline.server_waiting, "", 2)
    table.add_row(
        "deliveries / owed",
        f"{product.delivered:,} / {product.expected:,}",
        f"{baseline.delivered:,} / {baseline.expected:,}",
        "",
    )
    table.add_row(
        "writes in the window",
        f"{product.writes:,} in {product.seconds:.1f} s",
        f"{baseline.writes:,} in {baseline.seconds:.1f} s",
        "",
    )
    table.add_row(
        "query runs + shared results per write (affected)",
        f"{product.reruns:.2f} + {product.hits:.2f} ({product.affected:.2f})",
        "-",
        "",
    )
    console.print(table)
    console.print(
        f"Targets: p99 < 50 ms: {'met' if product.latency.p99 < 50 else 'NOT met'}; "
        f"re-runs only the affected: "
        f"{'met' if (product.reruns or 0) <= (product.affected or 0) else 'NOT met'}; "
        f"RSS per idle session < 50 KB: "
        f"{'met' if product.rss_per_session < 50 * 1024 else 'NOT met'}."
    )


def _arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.live_fanout",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--sessions", type=int, default=1000, help="own-conversation sessions")
    parser.add_argument("--shared", type=int, default=100, help="sessions on the shared one")
    parser.add_argument("--rate", type=float, default=100.0, help="writes a second")
    parser.add_argument("--seconds", type=float, default=20.0, help="the measured window")
    parser.add_argument("--baseline-server", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.baseline_server is None:
        if args.sessions < 1 or args.rate <= 0:
            parser.error("--sessions needs at least 1, --rate more than 0")
        if args.rate * args.seconds / SHARED_EVERY > PAGE - 10:
            parser.error(f"the shared conversation would outgrow its page of {PAGE}")
    return args


def main(argv: list[str] | None = None) -> None:
    args = _arguments(argv)
    if args.baseline_server is not None:
        baseline_server(args.baseline_server)
        return
    console = Console(width=120)  # one line a row, also in a log
    with tempfile.TemporaryDirectory(prefix="bench-fanout-") as tmp:
        product = asyncio.run(_product(args, Path(tmp)))
        baseline = asyncio.run(_baseline(args, Path(tmp)))
    _show(console, product, baseline, args)


if __name__ == "__main__":
    main()
