"""`python -m bench.rls_timing`: another user's document must answer like a missing one,
in the same timing class (DESIGN.md 5), so response times do not reveal which ids exist.

For getConversationById, getConversationMessages and getAdvisorById it times, interleaved
in random order in one run on one SQLite store, calls for: the caller's own document (the
baseline), another user's document, and a well-formed id that does not exist. It prints
p50/p99 per case and the ratio of "another user's" to "missing" — the figure that matters
(1.0 means indistinguishable). Nothing here asserts a timing.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from advisor_chat.errors import FunctionError
from advisor_chat.functions.catalog import build_registry
from advisor_chat.functions.context import Identity
from advisor_chat.functions.plans import PlanLimits
from advisor_chat.functions.runner import Runner
from advisor_chat.schema.ids import IdGenerator
from advisor_chat.store import Store
from advisor_chat.store.sqlite import SqliteBackend

ALICE = Identity("user_alice", "https://issuer.bench")
BOB = Identity("user_bob", "https://issuer.bench")
CASES = ("own", "another user's", "missing")


async def _world(store: Store, runner: Runner) -> dict[str, dict[str, Any]]:
    """Per function: its arguments for each case (Alice calls; Bob owns the others)."""
    ids = IdGenerator()
    for who in (ALICE, BOB):
        await runner.call("users:store", {}, who)
    mine = (await runner.call("conversations:createConversation", {"title": "a"}, ALICE)).value
    theirs = (await runner.call("conversations:createConversation", {"title": "b"}, BOB)).value
    for who, conversation in ((ALICE, mine), (BOB, theirs)):
        for n in range(30):
            args = {"conversationId": conversation, "content": f"message {n}"}
            await runner.call("messages:sendMessage", args, who)
    persona = {"persona": {"name": "P", "title": "T"}}
    my_advisor = (await runner.call("advisors:createAdvisor", persona, ALICE)).value
    their_advisor = (await runner.call("advisors:createAdvisor", persona, BOB)).value
    page = {"paginationOpts": {"numItems": 20, "cursor": None}}
    missing_conversation = ids.new_id("conversations")
    return {
        "conversations:getConversationById": {
            "own": {"conversationId": mine},
            "another user's": {"conversationId": theirs},
            "missing": {"conversationId": missing_conversation},
        },
        "messages:getConversationMessages": {
            "own": {"conversationId": mine} | page,
            "another user's": {"conversationId": theirs} | page,
            "missing": {"conversationId": missing_conversation} | page,
        },
        "advisors:getAdvisorById": {
            "own": {"advisorId": my_advisor},
            "another user's": {"advisorId": their_advisor},
            "missing": {"advisorId": ids.new_id("advisors")},
        },
    }


async def _measure(
    runner: Runner, args: dict[str, dict[str, Any]], path: str, n: int
) -> dict[str, list[float]]:
    plan = [case for case in CASES for _ in range(n)]
    random.Random(7).shuffle(plan)
    samples: dict[str, list[float]] = {case: [] for case in CASES}
    for case in plan:
        started = time.perf_counter()
        try:
            await runner.call(path, args[case], ALICE)
        except FunctionError as exc:
            if case == "own" or exc.code != "NOT_FOUND":
                raise
        samples[case].append((time.perf_counter() - started) * 1e6)
    return samples


def _p(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100)[int(q) - 1]


async def run(n: int) -> None:
    console = Console()
    with tempfile.TemporaryDirectory(prefix="bench-rls-") as folder:
        async with Store(SqliteBackend(Path(folder) / "bench.sqlite3")) as store:
            await store.migrate()
            unlimited = {"free": PlanLimits(10**9, 10**9)}  # the bench is not about quotas
            runner = Runner(store, build_registry(), limits=unlimited)
            world = await _world(store, runner)
            table = Table(title=f"row-level security timing, {n:,} calls a case (µs)")
            for column in ("function", "case", "p50", "p99", "p50 / missing p50"):
                table.add_column(
                    column, justify="left" if column in ("function", "case") else "right"
                )
            for path, args in world.items():
                await _measure(runner, args, path, 200)  # warm caches
                samples = await _measure(runner, args, path, n)
                missing = _p(samples["missing"], 50)
                for case in CASES:
                    p50, p99 = _p(samples[case], 50), _p(samples[case], 99)
                    table.add_row(path, case, f"{p50:.1f}", f"{p99:.1f}", f"{p50 / missing:.2f}")
            console.print(table)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=5000, help="calls per case and function")
    asyncio.run(run(parser.parse_args().calls))


if __name__ == "__main__":
    main()
