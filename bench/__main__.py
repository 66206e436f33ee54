"""`python -m bench` (or `scripts/bench`): store figures beside raw-driver baselines
measured in the same run, on SQLite and PostgreSQL.

- single-document insert transactions per second;
- the 50 newest messages of a conversation, p50 / p99, at each table size.

Targets (issue: foundation): store insert rate >= 50% of the raw driver's; page read p99
under 2 ms on SQLite at 1M messages, and flat from 10k to 1M. Figures are printed and
written to bench/results/latest.json; nothing here asserts a timing.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import os
import platform
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
from rich.console import Console

from bench import servers
from bench.page_reads import BenchError
from bench.report import as_json, print_backend
from bench.suite import BackendFigures, run_postgres, run_sqlite

RESULTS = Path(__file__).parent / "results"  # gitignored
URL_ENV = "ADVISOR_CHAT_BENCH_DATABASE_URL"
DEFAULT_INSERTS = {"sqlite": 20_000, "postgres": 5_000}  # ~10 s a side on the 2-core machine


def _int_list(text: str) -> list[int]:
    return [int(part) for part in text.split(",") if part]


def _arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--backends", default="sqlite,postgres", help="comma-separated: sqlite, postgres"
    )
    parser.add_argument(
        "--sizes",
        type=_int_list,
        default=[10_000, 100_000, 1_000_000],
        help="messages in the table for the page reads, comma-separated (default 10k,100k,1M)",
    )
    parser.add_argument(
        "--inserts",
        type=int,
        default=None,
        help="insert transactions a side (default 20000 sqlite, 5000 postgres)",
    )
    parser.add_argument("--reads", type=int, default=2000, help="page reads a side per size")
    parser.add_argument(
        "--postgres-url",
        default=os.environ.get(URL_ENV),
        help=f"an empty database to use (default ${URL_ENV}; else a private temporary "
        "server, durable settings, started and deleted by the bench)",
    )
    args = parser.parse_args(argv)
    args.backends = [b for b in args.backends.split(",") if b]
    for backend in args.backends:
        if backend not in DEFAULT_INSERTS:
            parser.error(f"unknown backend {backend!r}")
    if args.reads < 2 or not args.sizes:
        parser.error("--reads needs at least 2, --sizes at least one size")
    return args


def _run(backend: str, args: argparse.Namespace, progress: Callable[[str], None]) -> BackendFigures:
    inserts = args.inserts or DEFAULT_INSERTS[backend]
    if backend == "sqlite":
        with tempfile.TemporaryDirectory(prefix="advisor-chat-bench-") as directory:
            return asyncio.run(
                run_sqlite(Path(directory), args.sizes, inserts, args.reads, progress)
            )
    with servers.postgres(args.postgres_url, progress) as url:
        return asyncio.run(run_postgres(url, args.sizes, inserts, args.reads, progress))


def main(argv: list[str] | None = None) -> None:
    args = _arguments(argv)
    console = Console(width=None if sys.stdout.isatty() else 150)  # a log keeps whole rows
    started = time.perf_counter()

    def progress(message: str) -> None:
        console.print(f"[{time.perf_counter() - started:6.1f}s] {message}", highlight=False)

    results: dict[str, Any] = {
        "run": {
            "at": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
            "python": sys.version.split()[0],
            "platform": platform.platform(),
            "cpus": os.cpu_count(),
            "sizes": args.sizes,
            "reads": args.reads,
        }
    }
    RESULTS.mkdir(exist_ok=True)
    for backend in args.backends:
        try:
            figures = _run(backend, args, progress)
        except BenchError as exc:
            raise SystemExit(f"bench: {exc}") from exc
        print_backend(console, figures)
        results[backend] = as_json(figures)
        results["run"]["seconds"] = round(time.perf_counter() - started, 1)
        # Written after each backend, so a failure later keeps the figures so far.
        (RESULTS / "latest.json").write_bytes(orjson.dumps(results, option=orjson.OPT_INDENT_2))
    progress(f"figures written to {RESULTS / 'latest.json'}")


if __name__ == "__main__":
    main()
