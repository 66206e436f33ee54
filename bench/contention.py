"""`python -m bench.contention`: concurrent `messages:sendMessage` calls (issue 13, item 1).

Workloads, every call through `Runner.call` as a real signed-in user (made by `users:store`,
with a conversation from `conversations:createConversation`); quotas are raised out of
reach but still counted, so RATE_LIMITED is not what is measured:

- many users: 20 users send 15 messages each, all 300 calls at once;
- one conversation: one user, 10 senders in one conversation, 10 messages each, the
  senders at once.

Each runs on a fresh database and on a filled one (bench/filled.py: 50,000 users and
conversations, 200,000 messages), on PostgreSQL (SERIALIZABLE) and on SQLite (one writer)
for comparison. Printed: calls failed, by code; serialization retries per 1,000 commits
(`Store.stats`); asyncpg's "Resetting connection with an active transaction" reports;
throughput; and whether every sent message was stored exactly once with the quota counter
equal to the sends. Figures, not assertions; written to bench/results/contention.json.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime
import os
import platform
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import orjson
from rich.console import Console
from rich.table import Table

from advisor_chat.errors import FunctionError
from advisor_chat.functions.catalog import build_registry
from advisor_chat.functions.context import Identity
from advisor_chat.functions.plans import DEFAULT_LIMITS, PlanLimits
from advisor_chat.functions.runner import Runner
from advisor_chat.store import Store, Transaction
from advisor_chat.store.backend import Backend
from advisor_chat.store.postgres import PostgresBackend
from advisor_chat.store.sqlite import SqliteBackend
from bench import servers
from bench.filled import Fill, fill_postgres, fill_sqlite

RESULTS = Path(__file__).parent / "results"  # gitignored
URL_ENV = "ADVISOR_CHAT_BENCH_DATABASE_URL"
ISSUER = "https://issuer.bench"
QUOTA_WINDOW_S = 60  # the messages quota counts a minute; a longer run restarts the count
UNLIMITED = {plan: PlanLimits(10**9, 10**9) for plan in DEFAULT_LIMITS}


@dataclass(frozen=True)
class Workload:
    name: str
    users: int  # each with one conversation
    senders: int  # per user, all in that conversation, running at once
    messages: int  # each sender's, one after another

    @property
    def calls(self) -> int:
        return self.users * self.senders * self.messages


WORKLOADS = (
    Workload("20 users x 15 messages, all at once", users=20, senders=15, messages=1),
    Workload("1 conversation, 10 senders x 10 messages", users=1, senders=10, messages=10),
)


@dataclass
class Run:
    calls: int
    seconds: float
    commits: int
    retries: int
    gave_up: int
    resets: int  # asyncpg: "Resetting connection with an active transaction"
    failed: dict[str, int]  # code -> calls
    stored_right: bool | None  # None: ran past the quota window, counters not comparable

    @property
    def retries_per_1000(self) -> float:
        return 1000 * self.retries / max(1, self.commits)


@dataclass
class Figures:
    backend: str
    database: str  # fresh | filled
    workload: str
    runs: list[Run] = field(default_factory=list)


class _ResetWatch:
    """Counts asyncpg's reports of a connection released inside a transaction (it reports
    them through the loop's exception handler, not as warnings)."""

    def __init__(self) -> None:
        self.count = 0

    def __enter__(self) -> _ResetWatch:
        loop = asyncio.get_running_loop()
        self._previous = loop.get_exception_handler()

        def handler(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
            if "active transaction" in str(context.get("message", "")):
                self.count += 1
            elif self._previous is not None:
                self._previous(loop, context)
            else:
                loop.default_exception_handler(context)

        loop.set_exception_handler(handler)
        return self

    def __exit__(self, *_: object) -> None:
        asyncio.get_running_loop().set_exception_handler(self._previous)


async def _people(runner: Runner, workload: Workload) -> list[tuple[Identity, str, str]]:
    """(identity, users row id, conversation id) per user, made through the functions."""
    tag = uuid.uuid4().hex[:8]
    people = []
    for n in range(workload.users):
        who = Identity(f"bench-{tag}-{n}", ISSUER, name=f"Sender {n}")
        user = (await runner.call("users:store", {}, who)).value
        args = {"title": f"Contention {n}"}
        conversation = (await runner.call("conversations:createConversation", args, who)).value
        people.append((who, user, conversation))
    return people


async def run_workload(store: Store, workload: Workload) -> Run:
    runner = Runner(store, build_registry(), limits=UNLIMITED)
    people = await _people(runner, workload)
    sent: Counter[str] = Counter()  # conversation -> messages stored
    failed: Counter[str] = Counter()

    async def sender(who: Identity, conversation: str, s: int) -> None:
        for m in range(workload.messages):
            args = {"conversationId": conversation, "content": f"sender {s}, message {m}"}
            try:
                await runner.call("messages:sendMessage", args, who)
            except FunctionError as exc:
                failed[str(exc.code)] += 1
            else:
                sent[conversation] += 1

    before = asdict(store.stats)
    with _ResetWatch() as resets:
        started = time.perf_counter()
        async with asyncio.TaskGroup() as group:
            for who, _, conversation in people:
                for s in range(workload.senders):
                    group.create_task(sender(who, conversation, s))
        seconds = time.perf_counter() - started
    after = asdict(store.stats)
    stored_right = None
    if seconds < QUOTA_WINDOW_S:
        stored_right = await _stored_right(store, people, sent)
    return Run(
        calls=workload.calls,
        seconds=seconds,
        commits=after["commits"] - before["commits"],
        retries=after["retries"] - before["retries"],
        gave_up=after["gave_up"] - before["gave_up"],
        resets=resets.count,
        failed=dict(failed),
        stored_right=stored_right,
    )


async def _stored_right(
    store: Store, people: list[tuple[Identity, str, str]], sent: Counter[str]
) -> bool:
    """Every acknowledged message stored once, no other; each quota counter equal to the
    user's stored messages."""

    async def check(tx: Transaction) -> bool:
        for _, user, conversation in people:
            messages = (
                await tx.query("messages", "by_conversation")
                .eq("conversationId", conversation)
                .collect()
            )
            quota = (
                await tx.query("rateLimits", "by_user_bucket")
                .eq("userId", user)
                .eq("bucket", "messages")
                .unique()
            )
            count = quota["count"] if quota else 0
            if len(messages) != sent[conversation] or count != sent[conversation]:
                return False
        return True

    return (await store.query(check)).value


# --- databases ---------------------------------------------------------------------------


Opener = Callable[[], contextlib.AbstractAsyncContextManager[Store]]


@contextlib.asynccontextmanager
async def _store(backend: Backend) -> AsyncIterator[Store]:
    async with Store(backend) as store:
        await store.migrate()
        yield store


class Postgres:
    """Databases on one server: the bench's private one, or `--postgres-url`'s (whose role
    must be allowed to CREATE DATABASE; the bench drops what it creates)."""

    def __init__(self, server_url: str, pool_size: int) -> None:
        self.server_url = server_url
        self.pool_size = pool_size

    @contextlib.asynccontextmanager
    async def database(
        self, fill: Fill | None, progress: Callable[[str], None]
    ) -> AsyncIterator[Store]:
        from tests.services import PostgresServer, create_database, drop_database

        server = PostgresServer(self.server_url)
        name = f"bench_contention_{uuid.uuid4().hex[:12]}"
        await create_database(server.database_url("postgres"), name)
        url = server.database_url(name)
        try:
            async with _store(PostgresBackend(url, self.pool_size)) as store:
                if fill is not None:
                    await fill_postgres(url, fill, progress)
                yield store
        finally:
            await drop_database(server.database_url("postgres"), name)


class Sqlite:
    def __init__(self, directory: Path) -> None:
        self.directory = directory

    @contextlib.asynccontextmanager
    async def database(
        self, fill: Fill | None, progress: Callable[[str], None]
    ) -> AsyncIterator[Store]:
        path = self.directory / f"{uuid.uuid4().hex[:12]}.sqlite3"
        if fill is not None:
            async with _store(SqliteBackend(path)):
                pass  # create the tables, then load them behind the store's back
            fill_sqlite(path, fill, progress)
        try:
            async with _store(SqliteBackend(path)) as store:
                yield store
        finally:
            for leftover in self.directory.glob(f"{path.name}*"):
                leftover.unlink()


async def run_backend(
    kind: str,
    databases: Postgres | Sqlite,
    states: list[str],
    repeat: int,
    fill: Fill,
    progress: Callable[[str], None],
) -> list[Figures]:
    found: list[Figures] = []
    for state in states:
        figures = {w: Figures(kind, state, w.name) for w in WORKLOADS}
        if state == "fresh":  # a new database for every run
            for _ in range(repeat):
                for workload in WORKLOADS:
                    async with databases.database(None, progress) as store:
                        figures[workload].runs.append(await run_workload(store, workload))
                        progress(f"{kind} {state}: {workload.name}: {_line(figures[workload])}")
        else:  # filled once (it takes a while); every run brings new users
            progress(f"{kind}: filling a database ({fill.users:,} users, {fill.messages:,} msgs)")
            async with databases.database(fill, progress) as store:
                for _ in range(repeat):
                    for workload in WORKLOADS:
                        figures[workload].runs.append(await run_workload(store, workload))
                        progress(f"{kind} {state}: {workload.name}: {_line(figures[workload])}")
        found += figures.values()
    return found


# --- report ------------------------------------------------------------------------------


def _range(values: list[float], fmt: str) -> str:
    low, high = min(values), max(values)
    return format(low, fmt) if f"{low:{fmt}}" == f"{high:{fmt}}" else f"{low:{fmt}}-{high:{fmt}}"


def _failed(figures: Figures) -> str:
    total: Counter[str] = Counter()
    for run in figures.runs:
        total.update(run.failed)
    calls = sum(r.calls for r in figures.runs)
    if not total:
        return f"0 of {calls:,}"
    codes = ", ".join(f"{code} {n}" for code, n in total.most_common())
    return f"{sum(total.values())} of {calls:,} ({codes})"


def _line(figures: Figures) -> str:
    run = figures.runs[-1]
    return (
        f"failed {sum(run.failed.values())}/{run.calls}, "
        f"{run.retries_per_1000:.0f} retries per 1,000 commits, {run.calls / run.seconds:.0f}/s"
    )


def print_figures(console: Console, found: list[Figures]) -> None:
    table = Table(title="messages:sendMessage under contention (range over runs)")
    columns = (
        *("backend", "database", "workload", "runs", "calls failed"),
        *("retries / 1,000 commits", "gave up", "conn. resets", "calls/s", "stored right"),
    )
    for column in columns:
        table.add_column(column, justify="left" if column in columns[:3] else "right")
    for f in found:
        checks = {r.stored_right for r in f.runs}
        right = "yes" if checks == {True} else "NO" if False in checks else "n/a"
        table.add_row(
            f.backend,
            f.database,
            f.workload,
            str(len(f.runs)),
            _failed(f),
            _range([r.retries_per_1000 for r in f.runs], ".0f"),
            str(sum(r.gave_up for r in f.runs)),
            str(sum(r.resets for r in f.runs)),
            _range([r.calls / r.seconds for r in f.runs], ".0f"),
            right,
        )
    console.print(table)


# --- command line ------------------------------------------------------------------------


def _arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.contention",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--backends", default="postgres,sqlite", help="comma-separated: postgres, sqlite"
    )
    parser.add_argument("--fresh", action="store_true", help="only on fresh databases")
    parser.add_argument("--filled", action="store_true", help="only on a filled database")
    parser.add_argument("--repeat", type=int, default=3, help="runs of each workload (3)")
    parser.add_argument("--fill-users", type=int, default=Fill().users, help="filled: users")
    parser.add_argument("--pool-size", type=int, default=10, help="PostgreSQL connections")
    parser.add_argument(
        "--postgres-url",
        default=os.environ.get(URL_ENV),
        help=f"a server to use (default ${URL_ENV}; its role must be allowed to CREATE "
        "DATABASE); else a private temporary server, durable settings, started and deleted "
        "by the bench",
    )
    args = parser.parse_args(argv)
    args.backends = [b for b in args.backends.split(",") if b]
    if unknown := set(args.backends) - {"postgres", "sqlite"}:
        parser.error(f"unknown backend {', '.join(sorted(unknown))}")
    args.states = [s for s in ("fresh", "filled") if getattr(args, s)] or ["fresh", "filled"]
    if args.repeat < 1:
        parser.error("--repeat needs at least 1")
    return args


def main(argv: list[str] | None = None) -> None:
    args = _arguments(argv)
    console = Console(width=None if sys.stdout.isatty() else 170)
    started = time.perf_counter()

    def progress(message: str) -> None:
        console.print(f"[{time.perf_counter() - started:6.1f}s] {message}", highlight=False)

    fill = Fill(users=args.fill_users)
    found: list[Figures] = []
    for backend in args.backends:
        if backend == "postgres":
            with servers.postgres(args.postgres_url, progress, database=None) as url:
                databases: Postgres | Sqlite = Postgres(url, args.pool_size)
                found += asyncio.run(
                    run_backend(backend, databases, args.states, args.repeat, fill, progress)
                )
        else:
            with tempfile.TemporaryDirectory(prefix="advisor-chat-bench-") as directory:
                databases = Sqlite(Path(directory))
                found += asyncio.run(
                    run_backend(backend, databases, args.states, args.repeat, fill, progress)
                )
    print_figures(console, found)
    results = {
        "run": {
            "at": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
            "python": sys.version.split()[0],
            "platform": platform.platform(),
            "cpus": os.cpu_count(),
            "seconds": round(time.perf_counter() - started, 1),
        },
        "figures": [asdict(f) for f in found],
    }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "contention.json").write_bytes(orjson.dumps(results, option=orjson.OPT_INDENT_2))
    progress(f"figures written to {RESULTS / 'contention.json'}")


if __name__ == "__main__":
    main()
