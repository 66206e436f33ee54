"""Private PostgreSQL and Redis servers for the test run, started by the tests themselves.

Each starts once per session on loopback, on a free port, in a temporary directory, and is
stopped and deleted at the end. `ADVISOR_CHAT_TEST_DATABASE_URL` / `_REDIS_URL` point the
suite at servers you run instead (the PostgreSQL role must be allowed to CREATE DATABASE).
A missing server binary skips the tests that need it, except under `CI=true`, where it
fails them: CI must never pass by skipping.

PostgreSQL refuses to run as root, so as root `initdb` and `pg_ctl` run as the `postgres`
OS user that Debian's `postgresql` package creates; the temporary directory is chowned to it.
"""

from __future__ import annotations

import asyncio
import contextlib
import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import NoReturn
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import pytest

POSTGRES_START_S = 60.0  # pg_ctl's own wait; a cold start on the 2-core machine takes ~1-2 s
REDIS_START_S = 30.0
PORT_ATTEMPTS = 3  # a probed free port can be taken before the server binds it; retry then
SERVER_USER = "postgres"
TEST_DATABASE = "advisor_chat_test"


class ServiceMissing(FileNotFoundError):
    """A server binary (or the OS user to run it) is not installed: skip, or fail in CI."""


def wait_until(predicate: Callable[[], bool], timeout: float, what: str = "condition") -> None:
    """Poll `predicate` every 50 ms until true; raise naming `what` after `timeout` s."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what} not ready after {timeout:.0f} s")
        time.sleep(0.05)  # polling a process we started; the deadline bounds it


def missing_service(message: str) -> NoReturn:
    if os.environ.get("CI") == "true":
        pytest.fail(f"{message} (CI=true: a missing service is a failure)")
    pytest.skip(message)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _tail(path: Path, lines: int = 20) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


def _run(args: list[str], what: str) -> None:
    """Run a server tool; a failure carries its output, which CalledProcessError hides."""
    done = subprocess.run(args, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(
            f"{what} failed with exit code {done.returncode}: {' '.join(args)}\n"
            f"{done.stdout}{done.stderr}"
        )


# --- PostgreSQL ---------------------------------------------------------------------------


def _postgres_bindir() -> Path | None:
    candidates: list[str] = []
    pg_config = shutil.which("pg_config")
    if pg_config:
        out = subprocess.run([pg_config, "--bindir"], capture_output=True, text=True, check=False)
        candidates.append(out.stdout.strip())
    candidates += sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True)
    initdb = shutil.which("initdb")
    if initdb:
        candidates.append(str(Path(initdb).resolve().parent))
    for candidate in candidates:
        if candidate and all((Path(candidate) / tool).exists() for tool in ("initdb", "pg_ctl")):
            return Path(candidate)
    return None


def _as_server_user(args: list[str]) -> list[str]:
    """initdb and postgres refuse to run as root: run them as the `postgres` OS user."""
    if os.geteuid() != 0:
        return args
    return ["runuser", "-u", SERVER_USER, "--", *args]


@dataclass(frozen=True)
class PostgresServer:
    """A server the suite may create databases on."""

    url: str  # to the `postgres` maintenance database

    def database_url(self, name: str) -> str:
        """The same server, user and options, another database."""
        return urlunsplit(urlsplit(self.url)._replace(path=f"/{name}"))


@contextlib.contextmanager
def postgres_server(*, durable: bool = False) -> Iterator[PostgresServer]:
    """Start a throw-away PostgreSQL cluster. `durable=False` turns off fsync for speed
    (tests); benchmarks pass `durable=True` to measure real commits."""
    bindir = _postgres_bindir()
    if bindir is None:
        raise ServiceMissing(
            "PostgreSQL server binaries (initdb, pg_ctl) not found; "
            "install the Debian package `postgresql` (scripts/test does so as root)"
        )
    if os.geteuid() == 0:
        try:
            pwd.getpwnam(SERVER_USER)
        except KeyError:
            raise ServiceMissing(
                f"running as root, but there is no `{SERVER_USER}` OS user to run PostgreSQL "
                "as (Debian's `postgresql` package creates it)"
            ) from None
    root = Path(tempfile.mkdtemp(prefix="advisor-chat-pg-"))
    data, log = root / "data", root / "log"
    pg_ctl = str(bindir / "pg_ctl")
    try:
        if os.geteuid() == 0:
            shutil.chown(root, SERVER_USER, SERVER_USER)
        initdb = [str(bindir / "initdb"), "-D", str(data), "-A", "trust", "-U", "postgres"]
        initdb += ["-E", "UTF8", "--locale=C", "--no-sync"]
        _run(_as_server_user(initdb), "initdb")
        port = _start_postgres(pg_ctl, data, log, root, durable)
        server = PostgresServer(f"postgresql://postgres@127.0.0.1:{port}/postgres")
        wait_until(lambda: _postgres_answers(server.url), POSTGRES_START_S, "PostgreSQL")
        yield server
    finally:
        if (data / "postmaster.pid").exists():
            stop = [pg_ctl, "-D", str(data), "-w", "-t", "30", "stop"]
            for mode in ("fast", "immediate"):  # immediate: crash-stop one that hangs
                args = _as_server_user([*stop, "-m", mode])
                if subprocess.run(args, capture_output=True, check=False).returncode == 0:
                    break
        shutil.rmtree(root, ignore_errors=True)


def _start_postgres(pg_ctl: str, data: Path, log: Path, root: Path, durable: bool) -> int:
    """Start on a free loopback port (the unix socket stays in `root`); return the port."""
    for attempt in range(PORT_ATTEMPTS):
        port = free_port()
        options = [
            f"-p {port}",
            "-h 127.0.0.1",
            f"-k {root}",
            "-c max_connections=200",  # a pool per backend per test, plus concurrency tests
            "-c shared_buffers=256MB",
        ]
        if not durable:
            options += ["-c fsync=off", "-c synchronous_commit=off", "-c full_page_writes=off"]
        start = [pg_ctl, "-D", str(data), "-l", str(log), "-o", " ".join(options)]
        try:
            _run(
                _as_server_user([*start, "-w", "-t", str(int(POSTGRES_START_S)), "start"]),
                "pg_ctl start",
            )
            return port
        except RuntimeError as exc:
            log_tail = _tail(log)
            if "already in use" in log_tail and attempt + 1 < PORT_ATTEMPTS:
                continue
            raise RuntimeError(f"{exc}\n--- server log ---\n{log_tail}") from None
    raise AssertionError("unreachable: the last attempt returns or raises")


def _postgres_answers(url: str) -> bool:
    async def probe() -> bool:
        try:
            conn = await asyncpg.connect(url, timeout=2)
        except (TimeoutError, OSError, asyncpg.PostgresError):
            return False
        await conn.close()
        return True

    return asyncio.run(probe())


async def _admin(server_url: str, sql: str) -> None:
    conn = await asyncpg.connect(server_url)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


async def create_database(server_url: str, name: str) -> None:
    await _admin(server_url, f'CREATE DATABASE "{name}"')


async def drop_database(server_url: str, name: str) -> None:
    await _admin(server_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresServer]:
    """The session's server: yours from ADVISOR_CHAT_TEST_DATABASE_URL, or a private one."""
    external = os.environ.get("ADVISOR_CHAT_TEST_DATABASE_URL")
    if external:
        yield PostgresServer(PostgresServer(external).database_url("postgres"))
        return
    try:
        with postgres_server() as server:
            yield server
    except ServiceMissing as exc:
        missing_service(str(exc))


@pytest.fixture(scope="session")
def postgres_url(postgres: PostgresServer) -> str:
    """One database shared by the session: ADVISOR_CHAT_TEST_DATABASE_URL as given, or
    `advisor_chat_test` on the private server (deleted with it)."""
    external = os.environ.get("ADVISOR_CHAT_TEST_DATABASE_URL")
    if external:
        return external
    asyncio.run(create_database(postgres.url, TEST_DATABASE))
    return postgres.database_url(TEST_DATABASE)


@pytest.fixture
def fresh_postgres_url(postgres: PostgresServer) -> Iterator[str]:
    """A new, empty database for one test, dropped after it (even if a connection is
    left open)."""
    name = f"test_{uuid.uuid4().hex[:16]}"
    asyncio.run(create_database(postgres.url, name))
    try:
        yield postgres.database_url(name)
    finally:
        asyncio.run(drop_database(postgres.url, name))


# --- Redis --------------------------------------------------------------------------------


@contextlib.contextmanager
def redis_server() -> Iterator[str]:
    """Start a throw-away, non-persistent Redis; yield its URL."""
    binary = shutil.which("redis-server")
    if binary is None:
        raise ServiceMissing(
            "redis-server not found; install the Debian package `redis-server` "
            "(scripts/test does so as root)"
        )
    root = Path(tempfile.mkdtemp(prefix="advisor-chat-redis-"))
    try:
        for attempt in range(PORT_ATTEMPTS):
            port = free_port()
            with _redis_process(binary, port, root) as started:
                if started:
                    yield f"redis://127.0.0.1:{port}/0"
                    return
            log_tail = _tail(root / "log")
            if "already in use" not in log_tail or attempt + 1 == PORT_ATTEMPTS:
                raise RuntimeError(f"redis-server exited at start:\n{log_tail}")
    finally:
        shutil.rmtree(root, ignore_errors=True)


@contextlib.contextmanager
def redis_on(port: int, root: Path) -> Iterator[str]:
    """A Redis on `port` (a free one, see `free_port`), stopped on leaving: a test stops
    the Redis under running servers and starts another on the same port."""
    binary = shutil.which("redis-server")
    if binary is None:
        raise ServiceMissing("redis-server not found; install the Debian package `redis-server`")
    with _redis_process(binary, port, root) as started:
        if not started:
            raise RuntimeError(f"redis-server exited at start:\n{_tail(root / 'log')}")
        yield f"redis://127.0.0.1:{port}/0"


@contextlib.contextmanager
def _redis_process(binary: str, port: int, root: Path) -> Iterator[bool]:
    """Run redis-server on `port`; yield whether it answered (False: it exited at start)."""
    args = [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", ""]
    args += ["--appendonly", "no", "--dir", str(root), "--logfile", str(root / "log")]
    process = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_until(lambda: process.poll() is not None or redis_ping(port), REDIS_START_S, "Redis")
        yield process.poll() is None
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def redis_ping(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1) as sock:
            sock.sendall(b"*1\r\n$4\r\nPING\r\n")
            return sock.recv(64).startswith(b"+PONG")
    except OSError:
        return False


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    """ADVISOR_CHAT_TEST_REDIS_URL, or a private server's URL."""
    external = os.environ.get("ADVISOR_CHAT_TEST_REDIS_URL")
    if external:
        yield external
        return
    try:
        with redis_server() as url:
            yield url
    except ServiceMissing as exc:
        missing_service(str(exc))
