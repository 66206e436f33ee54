"""`python -m bench.loop_lag`: how long the event loop is kept from other work while the
product does something big, and what 20 answers streaming meanwhile feel.

A ticker task sleeps TICK_S and records how late it wakes: that overshoot is the loop's
lag, which every request, socket and stream of the process waits on top of its own work.
It runs alone first (the baseline, same run), then beside 20 simulated streams, each
committing a `streamDeltas` row for its own streaming advisor message every 100 ms through
`Runner.call` (as the chat engine writes an answer), then with the streams running while,
one after another:

- `messages:searchMessages` by a user with many messages, for a word in all of them;
- import pages: one mutation upserting 500 messages by legacy id, as a Prisma import page;
- `conversations:deleteConversation` of a 100,000-message conversation, with a
  `ScheduledWorker` running, so whatever the product does (one transaction, or batches it
  schedules) is measured, until every message row of the conversation is really gone.

Targets (issue 13, "Bounded work"), with the disruptors: lag p99 < 50 ms, max < 250 ms;
stream commit p99 < 100 ms; on both backends. The tables are filled by the raw driver
before anything is measured. Figures are printed; nothing here asserts a timing.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

from rich.console import Console
from rich.table import Table

from advisor_chat.clock import now_ms
from advisor_chat.errors import FunctionError
from advisor_chat.functions.access import own_in_conversation
from advisor_chat.functions.catalog import build_registry
from advisor_chat.functions.context import Identity, MutationCtx
from advisor_chat.functions.plans import PlanLimits
from advisor_chat.functions.registry import Args, Registry, mutation
from advisor_chat.functions.runner import Runner
from advisor_chat.functions.scheduled import ScheduledWorker
from advisor_chat.schema.fields import v
from advisor_chat.store import Store, Transaction
from advisor_chat.store.postgres import PostgresBackend
from advisor_chat.store.sqlite import SqliteBackend
from bench import servers
from bench.drivers import Driver, PostgresDriver, Row, SqliteDriver, message_fields, message_row
from bench.page_reads import BATCH, BenchError

TICK_S = 0.002  # the ticker's sleep; how late it wakes is the lag
STREAMS = 20
STREAM_EVERY_S = 0.1  # a chunk per stream every 100 ms (the chat engine's flush interval)
QUIET_S = 3.0  # the ticker alone, then the streams alone, before any disruptor
GAP_S = 1.0  # streams alone between disruptors, so each window holds one disruptor's effect
SEARCHES = 5
IMPORT_PAGES = 3
IMPORT_PAGE = 500  # rows in one Prisma import page
SEARCH_CONVERSATIONS = 100
SEARCH_WORD = "runway"  # in every bench message
OWNER = Identity("bench_owner", "https://issuer.bench")
SEARCHER = Identity("bench_searcher", "https://issuer.bench")
LAG_P99_MS, LAG_MAX_MS, COMMIT_P99_MS = 50.0, 250.0, 100.0


@mutation(
    "bench:appendStreamDelta",
    {"messageId": v.id("messages"), "start": v.number(minimum=0), "text": v.string()},
)
async def append_stream_delta(ctx: MutationCtx, args: Args) -> str:
    """A streaming answer's next chunk, written as the chat engine writes one."""
    message = await own_in_conversation(ctx, "messages", args["messageId"])
    start = int(args["start"])
    return await ctx.db.insert(
        "streamDeltas",
        {
            "messageId": message["_id"],
            "start": start,
            "end": start + len(args["text"]),
            "text": args["text"],
            "createdAt": now_ms(),
        },
    )


@dataclass(frozen=True)
class Spread:
    p50: float  # ms
    p99: float
    max: float
    n: int

    @classmethod
    def of(cls, seconds: list[float]) -> Spread:
        ms = sorted(s * 1000 for s in seconds)
        if len(ms) < 2:
            only = ms[0] if ms else float("nan")
            return cls(only, only, only, len(ms))
        cuts = statistics.quantiles(ms, n=100, method="inclusive")
        return cls(cuts[49], cuts[98], ms[-1], len(ms))


@dataclass
class Timeline:
    """Samples as (start, seconds) on `time.perf_counter`'s clock, and named windows."""

    lag: list[tuple[float, float]] = field(default_factory=list)  # (slept at, overshoot)
    commits: list[tuple[float, float]] = field(default_factory=list)  # (due at, took)
    windows: list[tuple[str, float, float, str]] = field(default_factory=list)

    def lag_in(self, start: float, end: float) -> Spread:
        # A late tick counts in every window its sleep overlapped.
        return Spread.of([s for t, s in self.lag if t <= end and t + TICK_S + s >= start])

    def commits_in(self, start: float, end: float) -> Spread:
        return Spread.of([s for t, s in self.commits if t <= end and t + s >= start])


@dataclass
class World:
    doomed: str  # OWNER's conversation of --messages messages, deleted during the run
    imports: str  # OWNER's conversation the import pages write into
    answers: list[str]  # OWNER's streaming advisor messages, one per stream


async def _ticker(timeline: Timeline) -> None:
    clock = time.perf_counter
    while True:
        slept_at = clock()
        await asyncio.sleep(TICK_S)
        timeline.lag.append((slept_at, max(0.0, clock() - slept_at - TICK_S)))


async def _stream(runner: Runner, message: str, offset: float, timeline: Timeline) -> None:
    """Commit a chunk every STREAM_EVERY_S. A commit's latency runs from when its chunk was
    due, so time spent waiting for a blocked loop counts; a late commit shifts the next
    one rather than bunching them."""
    clock = time.perf_counter
    due = clock() + offset
    start = 0
    text = "Cut paid acquisition to two channels and revisit pricing next quarter. " * 2
    while True:
        await asyncio.sleep(max(0.0, due - clock()))
        args = {"messageId": message, "start": start, "text": text}
        await runner.call("bench:appendStreamDelta", args, OWNER)
        timeline.commits.append((due, clock() - due))
        start += len(text)
        due = max(due + STREAM_EVERY_S, clock())


async def _build(store: Store, runner: Runner, driver: Driver, args: argparse.Namespace) -> World:
    for who in (OWNER, SEARCHER):
        await runner.call("users:store", {}, who)

    async def create(who: Identity, title: str) -> str:
        done = await runner.call("conversations:createConversation", {"title": title}, who)
        return str(done.value)

    doomed, streams, imports = [await create(OWNER, t) for t in ("doomed", "streams", "imports")]
    searched = [await create(SEARCHER, f"s{n}") for n in range(SEARCH_CONVERSATIONS)]

    async def answers(tx: Transaction) -> list[str]:
        fields = {"conversationId": streams, "sender": "advisor", "content": "", "mentions": []}
        return [
            await tx.insert("messages", fields | {"createdAt": now_ms(), "status": "streaming"})
            for _ in range(STREAMS)
        ]

    world = World(doomed, imports, (await store.mutation(answers)).value)
    plan = [(doomed, args.messages)] + [
        (c, args.search_messages // SEARCH_CONVERSATIONS) for c in searched
    ]
    batch: list[Row] = []
    n = 0
    for conversation, count in plan:
        for _ in range(count):
            batch.append(message_row(store.ids, conversation, n, driver.dialect)[0])
            n += 1
            if len(batch) == BATCH:
                await driver.bulk(batch)
                batch.clear()
    if batch:
        await driver.bulk(batch)
    await driver.settle()
    held = await driver.scalar("SELECT count(*) FROM messages")
    if held != STREAMS + n:
        raise BenchError(f"messages holds {held:,} rows, {STREAMS + n:,} were written")
    return world


async def _any_left(store: Store, conversation: str) -> bool:
    async def first(tx: Transaction) -> object:
        return (
            await tx.query("messages", "by_conversation").eq("conversationId", conversation).first()
        )

    return (await store.query(first)).value is not None


async def _timed(call: Awaitable[object]) -> float:
    started = time.perf_counter()
    await call
    return time.perf_counter() - started


async def _search(runner: Runner) -> float:
    started = time.perf_counter()
    found = (await runner.call("messages:searchMessages", {"query": SEARCH_WORD}, SEARCHER)).value
    took = time.perf_counter() - started
    if len(found) != 20:
        raise BenchError(f"the search found {len(found)} messages, not a page of 20")
    return took


async def _import_page(store: Store, conversation: str, page: int) -> float:
    async def write(tx: Transaction) -> None:
        for i in range(IMPORT_PAGE):
            legacy = f"bench-import-{page}-{i}"
            if await tx.query("messages", "by_legacy_id").eq("legacyId", legacy).first() is None:
                fields = message_fields(conversation, i) | {"legacyId": legacy}
                await tx.insert("messages", fields | {"status": "complete"})

    return await _timed(store.mutation(write))


async def _delete(store: Store, runner: Runner, doomed: str, give_up_s: float) -> str:
    """The call's own time, and the time until every message of the conversation is gone
    (or how far it got in `give_up_s`)."""
    started = time.perf_counter()
    args = {"conversationId": doomed}
    call = asyncio.create_task(runner.call("conversations:deleteConversation", args, OWNER))
    try:
        await asyncio.wait_for(asyncio.shield(call), give_up_s)
    except TimeoutError:
        call.cancel()
        await asyncio.gather(call, return_exceptions=True)
        return f"call not returned after {give_up_s:,.0f} s: given up"
    except FunctionError as exc:
        return f"call failed after {time.perf_counter() - started:,.1f} s: {exc.code}"
    called = time.perf_counter() - started
    while await _any_left(store, doomed):
        if time.perf_counter() - started > give_up_s:
            return f"call {called * 1000:,.0f} ms; rows left after {give_up_s:,.0f} s"
        await asyncio.sleep(0.05)
    gone = time.perf_counter() - started
    return f"call {called * 1000:,.0f} ms; all rows gone after {gone:,.2f} s"


def _ms(seconds: list[float]) -> str:
    if len(seconds) == 1:
        return f"{seconds[0] * 1000:,.1f} ms"
    return f"median {statistics.median(seconds) * 1000:,.1f}, max {max(seconds) * 1000:,.1f} ms"


async def _measure(store: Store, runner: Runner, world: World, give_up_s: float) -> Timeline:
    timeline = Timeline()
    clock = time.perf_counter
    background = [asyncio.create_task(_ticker(timeline))]

    async def window(name: str, run: Callable[[], Awaitable[str]]) -> None:
        start = clock()
        what = await run()
        timeline.windows.append((name, start, clock(), what))

    async def quiet() -> str:
        await asyncio.sleep(QUIET_S)
        return f"{QUIET_S:g} s"

    try:
        await window("ticker alone (baseline)", quiet)
        background.append(asyncio.create_task(ScheduledWorker(store, runner).run_forever()))
        background += [
            asyncio.create_task(_stream(runner, m, i * STREAM_EVERY_S / STREAMS, timeline))
            for i, m in enumerate(world.answers)
        ]
        await window(f"{STREAMS} streams", quiet)
        loaded = clock()

        async def repeated(times: int, run: Callable[[int], Awaitable[float]]) -> str:
            took = []
            for i in range(times):
                if i:
                    await asyncio.sleep(GAP_S / 2)  # else back-to-back calls add up, inline
                took.append(await run(i))
            return _ms(took)

        async def searches() -> str:
            return await repeated(SEARCHES, lambda _: _search(runner))

        async def imports() -> str:
            return await repeated(IMPORT_PAGES, lambda i: _import_page(store, world.imports, i))

        async def delete() -> str:
            return await _delete(store, runner, world.doomed, give_up_s)

        for name, run in (
            (f"search x{SEARCHES}", searches),
            (f"import page of {IMPORT_PAGE} x{IMPORT_PAGES}", imports),
            ("delete the 100k conversation", delete),
        ):
            await asyncio.sleep(GAP_S)
            await window(name, run)
        await asyncio.sleep(GAP_S)
        timeline.windows.append(("streams + disruptors (all)", loaded, clock(), ""))
    finally:
        for task in background:
            task.cancel()
        await asyncio.gather(*background, return_exceptions=True)
    return timeline


def _met(ok: bool) -> str:
    return "[green]met[/]" if ok else "[red]missed[/]"


def _show(console: Console, backend: str, timeline: Timeline, messages: int) -> None:
    table = Table(title=f"{backend}: event-loop lag and stream commits, same run (ms)")
    columns = ("window", "lag p50", "p99", "max", "commit p50", "p99", "max", "its own time")
    for column in columns:
        table.add_column(column, justify="left" if column == "window" else "right")
    for name, start, end, what in timeline.windows:
        lag = timeline.lag_in(start, end)
        commit = timeline.commits_in(start, end)
        commits = (
            [f"{commit.p50:.1f}", f"{commit.p99:.1f}", f"{commit.max:.1f}"]
            if commit.n
            else ["", "", ""]
        )
        style = "bold" if name.startswith("streams + disruptors") else None
        table.add_row(
            name,
            f"{lag.p50:.2f}",
            f"{lag.p99:.1f}",
            f"{lag.max:.1f}",
            *commits,
            what,
            style=style,
        )
    console.print(table)
    _, start, end, _ = timeline.windows[-1]
    lag, commit = timeline.lag_in(start, end), timeline.commits_in(start, end)
    console.print(
        f"{backend} targets with the disruptors ({messages:,}-message deletion): "
        f"lag p99 {lag.p99:.1f} < {LAG_P99_MS:g} ms {_met(lag.p99 < LAG_P99_MS)}, "
        f"max {lag.max:.1f} < {LAG_MAX_MS:g} ms {_met(lag.max < LAG_MAX_MS)}, "
        f"stream commit p99 {commit.p99:.1f} < {COMMIT_P99_MS:g} ms "
        f"{_met(commit.p99 < COMMIT_P99_MS)}"
    )


async def _run(
    store: Store, driver: Driver, args: argparse.Namespace, progress: Callable[[str], None]
) -> Timeline:
    await store.migrate()
    unlimited = {"free": PlanLimits(10**9, 10**9)}  # the bench is not about quotas
    registry = Registry([*build_registry(), append_stream_delta])
    runner = Runner(store, registry, limits=unlimited)
    name = store.backend.dialect.name
    total = args.messages + args.search_messages
    progress(f"{name}: loading {total:,} messages with the raw driver (not measured)")
    world = await _build(store, runner, driver, args)
    await driver.close()
    progress(f"{name}: measuring")
    return await _measure(store, runner, world, args.give_up_after)


async def _sqlite(
    directory: Path, args: argparse.Namespace, progress: Callable[[str], None]
) -> Timeline:
    backend = SqliteBackend(directory / "bench.sqlite3")
    async with Store(backend) as store:
        await store.migrate()
        return await _run(store, SqliteDriver(backend.path, backend.synchronous), args, progress)


async def _postgres(
    url: str, args: argparse.Namespace, progress: Callable[[str], None]
) -> Timeline:
    async with Store(PostgresBackend(url)) as store:
        await store.migrate()
        return await _run(store, await PostgresDriver.connect(url), args, progress)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m bench.loop_lag",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--backends", default="sqlite,postgres", help="sqlite, postgres")
    parser.add_argument("--messages", type=int, default=100_000, help="in the deleted conversation")
    parser.add_argument(
        "--search-messages",
        type=int,
        default=100_000,
        help=f"the searching user's, over {SEARCH_CONVERSATIONS} conversations",
    )
    parser.add_argument(
        "--give-up-after",
        type=float,
        default=600.0,
        help="seconds a deletion may take before it is reported unfinished (default 600)",
    )
    parser.add_argument("--postgres-url", help="an empty database (default: a private server)")
    args = parser.parse_args(argv)
    console = Console(width=None if sys.stdout.isatty() else 160)
    started = time.perf_counter()

    def progress(message: str) -> None:
        console.print(f"[{time.perf_counter() - started:6.1f}s] {message}", highlight=False)

    for backend in [b for b in args.backends.split(",") if b]:
        try:
            if backend == "sqlite":
                with tempfile.TemporaryDirectory(prefix="advisor-chat-lag-") as folder:
                    timeline = asyncio.run(_sqlite(Path(folder), args, progress))
            elif backend == "postgres":
                with servers.postgres(args.postgres_url, progress) as url:
                    timeline = asyncio.run(_postgres(url, args, progress))
            else:
                raise SystemExit(f"unknown backend {backend!r}")
        except BenchError as exc:
            raise SystemExit(f"bench: {exc}") from exc
        _show(console, backend, timeline, args.messages)


if __name__ == "__main__":
    main()
