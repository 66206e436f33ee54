"""`messages:sendMessage` over HTTP, for `bench.chat` (figure 5): a real server in a process
of its own, on SQLite, and clients in this one, one keep-alive connection each, each call
after the one before.

- The product: `advisor-chat serve` (`python -m advisor_chat.cli serve`) on a new data
  directory, local accounts signed up through `/auth/signup`, one conversation each, every
  client posting `/api/mutation` `messages:sendMessage` as its own user:
  - no round: conversations with no advisor on the board, so no round is scheduled;
  - with rounds: a conversation with one advisor, whose model is the scripted provider (its
    default answer: a short echo, at once), so every call also starts a round the same
    server runs (the answer, its chunks, its end, then title and memory chores).
- The baseline: bench/asgi_baseline.py, a bare Starlette app under the same uvicorn
  settings, inserting the same message row into the same SQLite schema per request.

Two kinds of client: httpx (async), and raw HTTP/1.1 on asyncio streams. An httpx call
costs the client about 1 ms of CPU, so on 2 cores httpx clients cap what they can ask
for near 1,000 calls/s, under what the bare baseline can serve: with httpx the baseline is
client-bound. The raw client costs a fraction of that, so the servers are what runs out.

Both servers log at `warning` (the product's default `info` adds uvicorn's access line per
request, to either). Calls are counted in a window after a warm-up; CPU is each process's
own (user + system) over that window, as a share of one core.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import httpx
import orjson

from bench.chat_engine import ANSWER_MODEL, CHORES_MODEL, BenchError
from bench.loop_lag import Spread
from bench.provider import RemoteProvider

ROOT = Path(__file__).parent.parent
START_S = 60.0  # a server's start: migrations and the shipped marketplace, ~2 s
STOP_S = 15.0  # a graceful stop; then it is killed
WARMUP_S = 1.0
CALL_S = 30.0  # one call's limit: a server that stops answering fails the bench, not hangs it
PASSWORD = "bench-password-123"  # throwaway local accounts
UNLIMITED = '{"free": {"messagesPerMinute": 1000000000, "generationsPerDay": 1000000000}}'
# Every account is signed up from 127.0.0.1, past the per-address sign-up limit.
AUTH_UNLIMITED = orjson.dumps({"signUpAddress": {"count": 1_000_000_000}}).decode()
LOG_LEVEL = "warning"
SERVER_ENV_DROPPED = ("ADVISOR_CHAT_", "OPENAI_", "DATABASE_URL", "REDIS_URL")
PRODUCT, BASELINE = "product", "bare ASGI + sqlite3"
CLIENTS: tuple[Client, ...] = ("httpx", "raw")


Client = Literal["httpx", "raw"]


@dataclass(frozen=True)
class HttpRun:
    server: str  # product | bare ASGI
    client: Client
    rounds: bool  # the conversations have an advisor: every call starts a round
    clients: int
    calls: int  # completed in the window
    failed: int
    seconds: float
    latency: Spread  # ms, of the calls completed in the window
    server_cpu: float  # share of one core
    client_cpu: float
    answers: int | None = None  # with rounds: answers the provider finished in the window

    @property
    def per_s(self) -> float:
        return self.calls / self.seconds


@dataclass(frozen=True)
class HttpFigures:
    runs: list[HttpRun]

    def find(self, server: str, client: Client, rounds: bool = False) -> HttpRun:
        return next(
            r for r in self.runs if (r.server, r.client, r.rounds) == (server, client, rounds)
        )

    def ratio(self, client: Client, rounds: bool = False) -> float:
        """The product's calls/s over the baseline's, with the same clients."""
        return self.find(PRODUCT, client, rounds).per_s / self.find(BASELINE, client).per_s


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _environment(extra: dict[str, str]) -> dict[str, str]:
    """This environment without the product's settings (a DATABASE_URL here must not turn
    the server to PostgreSQL), the repository importable, and `extra`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(SERVER_ENV_DROPPED)}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    return env | extra


def product_serve(
    directory: Path, port: int, provider_url: str, log_level: str
) -> tuple[list[str], dict[str, str]]:
    """`advisor-chat serve` on `port` with its data in `directory` and its answers from the
    provider at `provider_url`, quotas and sign-in limits out of reach: the command and its
    environment, as every benchmark of the served product starts it."""
    env = _environment(
        {
            "ADVISOR_CHAT_DATA_DIR": str(directory),
            "ADVISOR_CHAT_LOG_LEVEL": log_level,
            "ADVISOR_CHAT_QUOTAS": UNLIMITED,
            "ADVISOR_CHAT_AUTH_LIMITS": AUTH_UNLIMITED,
            "OPENAI_BASE_URL": provider_url,
            "ADVISOR_CHAT_MODEL": CHORES_MODEL,
            "ADVISOR_CHAT_PLAN_MODELS": orjson.dumps({"free": ANSWER_MODEL}).decode(),
        }
    )
    command = [sys.executable, "-m", "advisor_chat.cli", "serve"]
    command += ["--host", "127.0.0.1", "--port", str(port)]
    return command, env


def _cpu_seconds(pid: int) -> float:
    """User + system CPU of a process so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@contextlib.contextmanager
def _server(
    command: list[str], env: dict[str, str], directory: Path, port: int
) -> Iterator[subprocess.Popen[bytes]]:
    """Start a server, wait for its /ready, and stop it (SIGINT, then kill) at the end."""
    log = (directory / f"server-{port}.log").open("wb")
    process = subprocess.Popen(
        command, env=env, cwd=directory, stdout=log, stderr=subprocess.STDOUT
    )
    try:
        deadline = time.monotonic() + START_S
        while True:
            if process.poll() is not None:
                raise BenchError(f"{command[2]} exited: {_tail(log.name)}")
            try:
                if httpx.get(f"http://127.0.0.1:{port}/ready", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass  # not listening yet
            if time.monotonic() > deadline:
                raise BenchError(f"{command[2]} not ready after {START_S:g} s: {_tail(log.name)}")
            time.sleep(0.1)  # polling another process's start; the deadline bounds it
        yield process
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGINT)
            try:
                process.wait(STOP_S)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(STOP_S)
        log.close()


def _tail(path: str) -> str:
    return Path(path).read_text(errors="replace")[-2000:]


async def _call(
    http: httpx.AsyncClient, path: str, args: Mapping[str, object], token: str
) -> object:
    kind = "query" if path.startswith("advisors:get") else "mutation"
    response = await http.post(
        f"/api/{kind}",
        content=orjson.dumps({"path": path, "args": args, "format": "json"}),
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    body = orjson.loads(response.content)
    if response.status_code != 200 or body.get("status") != "success":
        raise BenchError(f"{path}: HTTP {response.status_code} {body}")
    return body["value"]


async def _accounts(url: str, count: int, tag: str) -> list[str]:
    """Access tokens of `count` new local accounts."""
    async with httpx.AsyncClient(base_url=url, timeout=30) as http:

        async def one(n: int) -> str:
            body = {"email": f"bench-{tag}-{n}@example.test", "password": PASSWORD}
            response = await http.post("/auth/signup", json=body)
            if response.status_code != 200:
                raise BenchError(f"sign-up: HTTP {response.status_code} {response.text}")
            return str(response.json()["accessToken"])

        return list(await asyncio.gather(*(one(n) for n in range(count))))


async def _conversations(url: str, tokens: list[str], with_advisor: bool) -> list[str]:
    async with httpx.AsyncClient(base_url=url, timeout=30) as http:
        board: list[object] = []
        if with_advisor:
            advisors = await _call(http, "advisors:getActiveAdvisors", {}, tokens[0])
            if not isinstance(advisors, list) or not advisors:
                raise BenchError("the server lists no advisor")
            board = [advisors[0]["_id"]]
        found = []
        for token in tokens:
            args = {"advisorIds": board}
            found.append(str(await _call(http, "conversations:createConversation", args, token)))
        return found


Record = Callable[[float, float, bool], None]  # (began, done, succeeded)


async def _httpx_client(url: str, seats: list[tuple[str, str]], end: float, record: Record) -> None:
    limits = httpx.Limits(max_connections=len(seats), max_keepalive_connections=len(seats))
    async with httpx.AsyncClient(base_url=url, limits=limits, timeout=CALL_S) as http:

        async def calls(token: str, conversation: str) -> None:
            headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
            n = 0
            while (began := time.perf_counter()) < end:
                n += 1
                response = await http.post(
                    "/api/mutation", content=_body(conversation, n), headers=headers
                )
                ok = response.status_code == 200 and b'"status":"success"' in response.content
                record(began, time.perf_counter(), ok)

        await asyncio.gather(*(calls(token, conversation) for token, conversation in seats))


async def _raw_client(url: str, seats: list[tuple[str, str]], end: float, record: Record) -> None:
    """HTTP/1.1 on plain asyncio streams, one keep-alive connection per seat: a fraction of
    httpx's cost per call, so the server rather than the client is what runs out."""
    address = httpx.URL(url)
    host, port = address.host, address.port or 80

    async def calls(token: str, conversation: str) -> None:
        reader, writer = await asyncio.open_connection(host, port)
        head = (
            f"POST /api/mutation HTTP/1.1\r\nHost: {host}:{port}\r\n"
            f"Authorization: Bearer {token}\r\nContent-Type: application/json\r\n"
        )
        try:
            n = 0
            while (began := time.perf_counter()) < end:
                n += 1
                body = _body(conversation, n)
                writer.write(f"{head}Content-Length: {len(body)}\r\n\r\n".encode() + body)
                async with asyncio.timeout(CALL_S):
                    status = await reader.readline()
                    length = None
                    while (line := await reader.readline()) not in (b"\r\n", b""):
                        name, _, value = line.partition(b":")
                        if name.strip().lower() == b"content-length":
                            length = int(value)
                    if length is None:
                        raise BenchError(f"a response without Content-Length: {status!r}")
                    data = await reader.readexactly(length)
                ok = status.split()[1:2] == [b"200"] and b'"status":"success"' in data
                record(began, time.perf_counter(), ok)
        finally:
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()

    await asyncio.gather(*(calls(token, conversation) for token, conversation in seats))


def _body(conversation: str, n: int) -> bytes:
    args = {"conversationId": conversation, "content": f"Message {n}: what should we do next?"}
    return orjson.dumps({"path": "messages:sendMessage", "args": args, "format": "json"})


async def _load(
    server: str,
    client: Client,
    url: str,
    pid: int,
    seats: list[tuple[str, str]],
    seconds: float,
    rounds: bool = False,
) -> tuple[HttpRun, float, float]:
    """Each seat posts sendMessage, one call after another, until the window ends; returns
    the run and its window (perf_counter). Calls that end in the window count."""
    start = time.perf_counter() + WARMUP_S
    end = start + seconds
    latencies: list[float] = []
    failed = 0

    def record(began: float, done: float, ok: bool) -> None:
        nonlocal failed
        if start <= done <= end:
            if ok:
                latencies.append(done - began)
            else:
                failed += 1

    run = _httpx_client if client == "httpx" else _raw_client
    calls = asyncio.create_task(run(url, seats, end, record))
    await asyncio.sleep(max(0.0, start - time.perf_counter()))
    cpu = (_cpu_seconds(pid), time.process_time())
    await asyncio.sleep(max(0.0, end - time.perf_counter()))
    used = (_cpu_seconds(pid) - cpu[0], time.process_time() - cpu[1])
    await calls
    figures = HttpRun(
        server,
        client,
        rounds,
        len(seats),
        len(latencies),
        failed,
        seconds,
        Spread.of(latencies),
        used[0] / seconds,
        used[1] / seconds,
    )
    return figures, start, end


async def run_http(
    provider: RemoteProvider, directory: Path, clients: int, seconds: float
) -> HttpFigures:
    product_port, baseline_port = _free_port(), _free_port()
    runs: list[HttpRun] = []
    product_dir = directory / "product"
    product_dir.mkdir()
    serve, env = product_serve(product_dir, product_port, provider.base_url, LOG_LEVEL)
    url = f"http://127.0.0.1:{product_port}"
    with _server(serve, env, product_dir, product_port) as server:
        tokens = await _accounts(url, 2 * clients, "http")
        quiet_ones, busy_ones = tokens[:clients], tokens[clients:]
        quiet = list(zip(quiet_ones, await _conversations(url, quiet_ones, False), strict=True))
        busy = list(zip(busy_ones, await _conversations(url, busy_ones, True), strict=True))
        for client in CLIENTS:
            runs.append((await _load(PRODUCT, client, url, server.pid, quiet, seconds))[0])
        since = time.perf_counter()
        busy_run, start, end = await _load(
            PRODUCT, "httpx", url, server.pid, busy, seconds, rounds=True
        )
        answered = [a for a in provider.streamed(since) if a.sent and start <= a.sent[-1] <= end]
        runs.append(dataclasses.replace(busy_run, answers=len(answered)))
    database = directory / "baseline.sqlite3"
    command = [sys.executable, "-m", "bench.asgi_baseline", "--port", str(baseline_port)]
    command += ["--database", str(database), "--log-level", LOG_LEVEL]
    url = f"http://127.0.0.1:{baseline_port}"
    with _server(command, _environment({}), directory, baseline_port) as server:
        for client in CLIENTS:
            runs.append((await _load(BASELINE, client, url, server.pid, quiet, seconds))[0])
    return HttpFigures(runs)
