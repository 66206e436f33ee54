"""`python -m bench` (or `scripts/bench`): every benchmark, figures beside their baselines.

Targets (issue: foundation): store insert rate >= 50% of the raw driver's; page read p99
under 2 ms on SQLite at 1M messages, and flat from 10k to 1M. Figures are printed and
written to bench/results/latest.json; nothing here asserts a timing.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
from rich.console import Console
from rich.table import Table

from bench.store_bench import Figures, postgres_pair, run_backend, sqlite_pair

console = Console()
RESULTS = Path(__file__).parent / "results"


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--backends", default="sqlite,postgres")
    parser.add_argument("--sizes", default="10000,100000,1000000")
    parser.add_argument(
        "--inserts", type=int, default=None, help="default 20000 sqlite, 5000 postgres"
    )
    parser.add_argument("--reads", type=int, default=2000)
    parser.add_argument("--postgres-url", default=os.environ.get("ADVISOR_CHAT_BENCH_DATABASE_URL"))
    return parser.parse_args()


@contextlib.contextmanager
def _postgres(url: str | None) -> Iterator[str]:
    if url:
        yield url
        return
    from tests.services import create_database, postgres_server

    with postgres_server(durable=True) as server:
        asyncio.run(create_database(server.url, "bench"))
        yield server.database_url("bench")


def _report(figures: Figures) -> dict[str, Any]:
    ratio = figures.insert_store_tps / figures.insert_raw_tps
    table = Table(title=f"{figures.backend}: inserts and page reads (store vs raw driver)")
    table.add_column("measure")
    table.add_column("store", justify="right")
    table.add_column("raw driver", justify="right")
    table.add_column("store / raw", justify="right")
    table.add_column("target", justify="right")
    table.add_row(
        "insert tx/s",
        f"{figures.insert_store_tps:,.0f}",
        f"{figures.insert_raw_tps:,.0f}",
        f"{ratio:.0%}",
        ">= 50%",
    )
    for size, r in figures.reads.items():
        target = "p99 < 2 ms" if figures.backend == "sqlite" else ""
        table.add_row(
            f"page of 50 @ {size:,}: p50 ms",
            f"{r['store_p50']:.3f}",
            f"{r['raw_p50']:.3f}",
            f"{r['store_p50'] / r['raw_p50']:.1f}x",
            "",
        )
        table.add_row(
            f"page of 50 @ {size:,}: p99 ms",
            f"{r['store_p99']:.3f}",
            f"{r['raw_p99']:.3f}",
            f"{r['store_p99'] / r['raw_p99']:.1f}x",
            target,
        )
    sizes = sorted(figures.reads)
    flat = None
    if len(sizes) > 1:
        flat = figures.reads[sizes[-1]]["store_p99"] / figures.reads[sizes[0]]["store_p99"]
        table.add_row(
            f"p99 at {sizes[-1]:,} / p99 at {sizes[0]:,}", f"{flat:.2f}", "", "", "flat (~1)"
        )
    console.print(table)
    return {
        "insert_store_tps": figures.insert_store_tps,
        "insert_raw_tps": figures.insert_raw_tps,
        "insert_ratio": ratio,
        "page_reads": {str(k): v for k, v in figures.reads.items()},
        "p99_growth": flat,
    }


def main() -> None:
    args = _arguments()
    sizes = [int(s) for s in args.sizes.split(",")]
    results: dict[str, Any] = {}
    for backend in args.backends.split(","):
        inserts = args.inserts or (20_000 if backend == "sqlite" else 5_000)
        if backend == "sqlite":
            with tempfile.TemporaryDirectory(prefix="advisor-chat-bench-") as directory:
                figures = asyncio.run(
                    run_backend(
                        "sqlite",
                        lambda: sqlite_pair(Path(directory)),
                        sizes,
                        inserts,
                        args.reads,
                        console.print,
                    )
                )
        elif backend == "postgres":
            with _postgres(args.postgres_url) as url:
                figures = asyncio.run(
                    run_backend(
                        "postgres",
                        lambda: postgres_pair(url),
                        sizes,
                        inserts,
                        args.reads,
                        console.print,
                    )
                )
        else:
            raise SystemExit(f"unknown backend {backend!r}")
        results[backend] = _report(figures)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "latest.json").write_bytes(orjson.dumps(results, option=orjson.OPT_INDENT_2))


if __name__ == "__main__":
    main()
