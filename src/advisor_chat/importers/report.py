"""What an import did, item by item, and the progress of a long one.

An import never stops at the first bad item: it records the item as skipped with the
reason and goes on. Counts are kept per table; items named by a source (a file, a row)
are kept for the per-item report, so a 100k-row import holds only its problems.
"""

from __future__ import annotations

import enum
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Protocol


class Outcome(enum.StrEnum):
    IMPORTED = "imported"
    UPDATED = "updated"
    UNCHANGED = "unchanged"
    SKIPPED = "skipped"
    EXPORTED = "exported"


@dataclass(frozen=True)
class Item:
    """One reported item: where it came from, what happened, and why."""

    table: str
    source: str
    outcome: Outcome
    reason: str = ""


@dataclass
class Report:
    """Counts per (table, outcome) plus the items worth naming."""

    dry_run: bool = False
    counts: dict[str, Counter[Outcome]] = field(default_factory=dict)
    items: list[Item] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def record(
        self, table: str, outcome: Outcome, source: str = "", reason: str = "", *, named: bool
    ) -> None:
        """Count one item; keep it by name when `named` or when it was skipped."""
        self.counts.setdefault(table, Counter())[outcome] += 1
        if named or outcome is Outcome.SKIPPED:
            self.items.append(Item(table, source, outcome, reason))

    def merge(self, other: Report) -> None:
        for table, counts in other.counts.items():
            self.counts.setdefault(table, Counter()).update(counts)
        self.items.extend(other.items)
        self.notes.extend(other.notes)

    def count(self, table: str, outcome: Outcome) -> int:
        return self.counts.get(table, Counter())[outcome]

    def total(self, outcome: Outcome) -> int:
        return sum(c[outcome] for c in self.counts.values())

    @property
    def changed(self) -> int:
        return self.total(Outcome.IMPORTED) + self.total(Outcome.UPDATED)

    def skipped(self) -> Iterator[Item]:
        return (item for item in self.items if item.outcome is Outcome.SKIPPED)


class Progress(Protocol):
    """Where a long import or export reports how far it is (a terminal bar, or nothing)."""

    def start(self, label: str, total: int | None) -> None: ...

    def advance(self, label: str, amount: int = 1) -> None: ...


class NoProgress:
    def start(self, label: str, total: int | None) -> None:
        pass

    def advance(self, label: str, amount: int = 1) -> None:
        pass
