"""How imports and exports look in a terminal: progress bars while they run, a summary
table and the per-item lines when they end."""

from __future__ import annotations

from types import TracebackType

from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, TaskID, TextColumn, TimeRemainingColumn
from rich.progress import Progress as RichBars
from rich.table import Table

from advisor_chat.importers.report import Outcome, Report

MAX_ITEMS_SHOWN = 200


class Bars:
    """`importers.report.Progress` as rich progress bars (hidden when not a terminal)."""

    def __init__(self, console: Console) -> None:
        self._bars = RichBars(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeRemainingColumn(),
            console=console,
            transient=False,
        )
        self._tasks: dict[str, TaskID] = {}

    def __enter__(self) -> Bars:
        self._bars.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._bars.stop()

    def start(self, label: str, total: int | None) -> None:
        self._tasks[label] = self._bars.add_task(label, total=total)

    def advance(self, label: str, amount: int = 1) -> None:
        self._bars.advance(self._tasks[label], amount)


def show(console: Console, report: Report, title: str) -> None:
    """The summary table, then each named item that was not plainly unchanged."""
    outcomes = [o for o in Outcome if o is not Outcome.EXPORTED or report.total(o)]
    if report.total(Outcome.EXPORTED):
        outcomes = [Outcome.EXPORTED]
    table = Table(title=f"{title} (dry run: nothing was written)" if report.dry_run else title)
    table.add_column("table")
    for outcome in outcomes:
        table.add_column(outcome.value, justify="right")
    for name, counts in report.counts.items():
        table.add_row(name, *(str(counts[o]) for o in outcomes))
    console.print(table)
    shown = 0
    for item in report.items:
        if item.outcome is Outcome.UNCHANGED and not item.reason:
            continue
        if shown == MAX_ITEMS_SHOWN:
            console.print(f"… and {len(report.items) - shown} more")
            break
        colour = "red" if item.outcome is Outcome.SKIPPED else "green"
        reason = f": {escape(item.reason)}" if item.reason else ""
        console.print(f"[{colour}]{item.outcome.value}[/{colour}] {escape(item.source)}{reason}")
        shown += 1
    for note in report.notes:
        console.print(f"[yellow]note[/yellow] {escape(note)}")
