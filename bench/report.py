"""Figures as a table per backend, and as JSON for bench/results/latest.json.

Targets (issue: foundation): store insert rate >= 50% of the raw driver's; page read p99
under 2 ms on SQLite at 1M messages, and flat from 10k to 1M. They are printed beside the
figures; nothing here asserts a timing.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from rich.console import Console
from rich.table import Table

from bench.page_reads import ReadFigures
from bench.suite import BackendFigures

INSERT_RATIO_TARGET = 0.5
SQLITE_P99_TARGET_MS = 2.0


def _met(ok: bool) -> str:
    return "[green]met[/]" if ok else "[red]missed[/]"


def growth(reads: list[ReadFigures]) -> tuple[float, float] | None:
    """p99 at the largest size over p99 at the smallest: store, raw driver."""
    if len(reads) < 2:
        return None
    first, last = reads[0], reads[-1]
    return last.store.p99 / first.store.p99, last.raw.p99 / first.raw.p99


def print_backend(console: Console, figures: BackendFigures) -> None:
    env = ", ".join(f"{k} {v}" for k, v in figures.environment.items())
    table = Table(title=f"{figures.backend}: store vs raw driver, same run", caption=env)
    for column in ("measure", "store", "raw driver", "store / raw", "target", "met?"):
        table.add_column(column, justify="left" if column == "measure" else "right")
    if (ins := figures.inserts) is not None:
        table.add_row(
            f"insert tx/s (median of {len(ins.store_rounds)} rounds, {ins.per_side:,} a side)",
            f"{ins.store_tps:,.0f}",
            f"{ins.raw_tps:,.0f}",
            f"{ins.ratio:.0%}",
            f">= {INSERT_RATIO_TARGET:.0%}",
            _met(ins.ratio >= INSERT_RATIO_TARGET),
        )
    for r in figures.reads:
        where = f"page of 50 @ {r.size:,} ({r.conversation_size:,} in conv.)"
        table.add_row(
            f"{where}: p50 ms",
            f"{r.store.p50:.3f}",
            f"{r.raw.p50:.3f}",
            f"{r.store.p50 / r.raw.p50:.2f}x",
        )
        target, met = "", ""
        if figures.backend == "sqlite":
            target = f"< {SQLITE_P99_TARGET_MS:g} ms"
            met = _met(r.store.p99 < SQLITE_P99_TARGET_MS)
        table.add_row(
            f"{where}: p99 ms",
            f"{r.store.p99:.3f}",
            f"{r.raw.p99:.3f}",
            f"{r.store.p99 / r.raw.p99:.2f}x",
            target,
            met,
        )
    if (g := growth(figures.reads)) is not None:
        first, last = figures.reads[0].size, figures.reads[-1].size
        table.add_row(
            f"p99 at {last:,} / p99 at {first:,}", f"{g[0]:.2f}", f"{g[1]:.2f}", "", "flat (~1)"
        )
    console.print(table)
    if figures.reads:
        biggest = figures.reads[-1]
        console.print(f"plan at {biggest.size:,}: {biggest.plan}", highlight=False)


def as_json(figures: BackendFigures) -> dict[str, Any]:
    out = dataclasses.asdict(figures)
    if figures.inserts is not None:
        out["inserts"]["ratio"] = figures.inserts.ratio
    if (g := growth(figures.reads)) is not None:
        out["p99_growth"] = {"store": g[0], "raw": g[1]}
    return out
