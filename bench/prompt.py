"""`python -m bench.prompt`: building an advisor's prompt costs what fits in its budget, not
the conversation's length (DESIGN.md 2.5: the same for message 10 and message 100,000).

For conversations of 10, 1,000 and 100,000 messages it times `assemble` (Margaret
Thornbury's shipped persona with her board, eight memories, a summary; the bytes/4
estimate counting tokens) given the newest `--window` messages, as the chat engine passes
them, and given the whole list, to show the walk stops at the first message that does not
fit. Beside it, in the same run and interleaved, the baseline: counting and joining the
same messages that made it in (the least any prompt builder must do with them).

Targets: p50 at 100,000 over p50 at 1,000 flat (~1) for assemble with the whole list, as
for the baseline; 10 messages all fit, so that size does less work for both. Figures are
printed; nothing here asserts a timing.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from rich.console import Console
from rich.table import Table

from advisor_chat.ai.persona import display_name, system_prompt
from advisor_chat.ai.prompt import Prompt, assemble
from advisor_chat.ai.providers.counting import EstimateCounter
from advisor_chat.importers.files import load_all
from advisor_chat.importers.formats import advisor_from_file
from advisor_chat.importers.marketplace import shipped_content

SIZES = (10, 1_000, 100_000)
BOARD = ("margaret-thornbury-v1", "samir-haddad-v1", "jonah-whitfield-v1", "tomasz-wierzba-v1")
ME = BOARD[0]
COUNTER = EstimateCounter()
# A user asks in a sentence or three; an advisor answers in a few paragraphs.
QUESTION = "We have {n} customers and burn about 40k a month. Should we hire a second engineer? "
ANSWER = (
    "Cash first: at your current burn the runway is about fourteen months. A second "
    "engineer adds roughly nine thousand a month, which takes it to ten. Before deciding, "
    "build a downside case where revenue stays flat for two quarters. "
) * 3


@dataclass(frozen=True)
class Spread:
    p50: float  # µs
    p99: float

    @classmethod
    def of(cls, ns: list[int]) -> Spread:
        cuts = statistics.quantiles([n / 1000 for n in ns], n=100, method="inclusive")
        return cls(cuts[49], cuts[98])


@dataclass(frozen=True)
class Row:
    size: int
    fitted: int  # messages of the history in the prompt
    window: Spread
    whole: Spread
    baseline: Spread


def _advisors() -> dict[str, dict[str, Any]]:
    files = load_all([shipped_content() / "advisors"], "advisor")
    parsed = (advisor_from_file(f.data, f.path.stem) for f in files)
    return {p.legacy_id: p.fields | {"_id": p.legacy_id} for p in parsed}


def _history(size: int) -> list[dict[str, Any]]:
    """`size` messages, newest first: questions, each answered by one of the board."""
    messages: list[dict[str, Any]] = []
    for n in range(size):
        at = size - n  # newest first
        if at % 2:
            messages.append({"sender": "user", "content": QUESTION.format(n=at)})
        else:
            who = BOARD[(at // 2) % len(BOARD)]
            messages.append({"sender": "advisor", "advisorId": who, "content": ANSWER})
    return messages


def _timed(call: Callable[[Sequence[dict[str, Any]]], object], messages: Sequence[Any]) -> int:
    start = time.perf_counter_ns()
    call(messages)
    return time.perf_counter_ns() - start


def _baseline(messages: Sequence[dict[str, Any]]) -> str:
    for message in messages:
        COUNTER.count(message["content"])
    return "\n".join(message["content"] for message in messages)


def run(runs: int, window: int, budget: int, answer: int) -> list[Row]:
    advisors = _advisors()
    board = [advisors[a] for a in BOARD]
    system = system_prompt(advisors[ME], board)
    names = {a["_id"]: display_name(a) for a in board}
    memories = [{"key": f"fact_{n}", "value": f"value number {n}"} for n in range(8)]
    summary = {"content": "The user runs a seed-stage company and is weighing hires. " * 6}

    def build(history: Sequence[dict[str, Any]]) -> Prompt:
        return assemble(
            system=system,
            advisor_id=ME,
            names=names,
            memories=memories,
            summary=summary,
            history=history,
            counter=COUNTER,
            budget=budget,
            answer_tokens=answer,
        )

    rows = []
    for size in SIZES:
        history = _history(size)
        newest = history[:window]  # what the engine reads: an index range, newest first
        fitted = build(history).history_used
        used = history[:fitted]
        samples: dict[str, list[int]] = {"window": [], "whole": [], "baseline": []}
        for n in range(runs + runs // 10):  # the first tenth warms up, and is dropped
            times = {
                "window": _timed(build, newest),
                "whole": _timed(build, history),
                "baseline": _timed(_baseline, used),
            }
            if n >= runs // 10:
                for key, ns in times.items():
                    samples[key].append(ns)
        rows.append(
            Row(
                size,
                fitted,
                Spread.of(samples["window"]),
                Spread.of(samples["whole"]),
                Spread.of(samples["baseline"]),
            )
        )
    return rows


def report(console: Console, rows: list[Row], window: int, budget: int, runs: int) -> None:
    table = Table(
        title=f"assemble vs baseline (count + join what fits), µs, {runs:,} runs a size",
        caption=f"budget {budget:,} tokens; the engine's window: the newest {window} messages",
    )
    for column in ("history", "in prompt", "window p50", "p99", "whole p50", "p99"):
        table.add_column(column, justify="right")
    for column in ("baseline p50", "p99", "whole / baseline"):
        table.add_column(column, justify="right")
    for row in rows:
        table.add_row(
            f"{row.size:,}",
            f"{row.fitted:,}",
            f"{row.window.p50:.1f}",
            f"{row.window.p99:.1f}",
            f"{row.whole.p50:.1f}",
            f"{row.whole.p99:.1f}",
            f"{row.baseline.p50:.1f}",
            f"{row.baseline.p99:.1f}",
            f"{row.whole.p50 / row.baseline.p50:.1f}x",
        )
    console.print(table)
    by_size = {row.size: row for row in rows}
    largest = by_size[SIZES[-1]]
    for smaller in SIZES[:-1]:
        small = by_size[smaller]
        console.print(
            f"p50 at {SIZES[-1]:,} / p50 at {smaller:,}: "
            f"assemble (window) {largest.window.p50 / small.window.p50:.2f}, "
            f"assemble (whole list) {largest.whole.p50 / small.whole.p50:.2f}, "
            f"baseline {largest.baseline.p50 / small.baseline.p50:.2f}"
            + ("   target: flat (~1)" if smaller != SIZES[0] else "   (10 all fit: less work)"),
            highlight=False,
        )


def main() -> None:
    parser = argparse.ArgumentParser(
        prog="python -m bench.prompt",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--runs", type=int, default=2000, help="timed calls a size and case")
    parser.add_argument("--window", type=int, default=200, help="newest messages passed")
    parser.add_argument("--budget", type=int, default=8000, help="tokens of prompt + answer")
    parser.add_argument("--answer", type=int, default=1024, help="tokens kept for the answer")
    args = parser.parse_args()
    if args.runs < 10:
        parser.error("--runs needs at least 10")
    rows = run(args.runs, args.window, args.budget, args.answer)
    report(Console(), rows, args.window, args.budget, args.runs)


if __name__ == "__main__":
    main()
