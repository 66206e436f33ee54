"""What a transaction read, as index ranges.

A live query is re-run only when a committed write puts a key inside one of its ranges, so
every store read goes through `ReadSet.record`. Keys compare in Convex's value order:
missing < null < number < boolean < string; a bound may be a prefix of the full key
(fields..., _creationTime, _id), which is how an equality prefix or a one-field range is
written down.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

Key = tuple[Any, ...]

_RANK_NONE, _RANK_NUMBER, _RANK_BOOL, _RANK_STRING = 0, 2, 3, 4


def sort_key(value: Any) -> tuple[int, Any]:
    """Map one indexed value to a tuple Python orders as Convex orders values."""
    if value is None:
        return (_RANK_NONE, 0)
    if isinstance(value, bool):
        return (_RANK_BOOL, value)
    if isinstance(value, int | float):
        return (_RANK_NUMBER, value)
    return (_RANK_STRING, value)


def key_order(key: Key) -> tuple[tuple[int, Any], ...]:
    return tuple(sort_key(v) for v in key)


@dataclass(frozen=True)
class Bound:
    key: Key  # a prefix of the full index key
    inclusive: bool


@dataclass(frozen=True)
class KeyInterval:
    """Keys k with lower <= k[:len(lower)] and k[:len(upper)] <= upper (or strict)."""

    lower: Bound | None
    upper: Bound | None

    def contains(self, key: Key) -> bool:
        if self.lower is not None:
            head = key_order(key[: len(self.lower.key)])
            low = key_order(self.lower.key)
            if head < low or (head == low and not self.lower.inclusive):
                return False
        if self.upper is not None:
            head = key_order(key[: len(self.upper.key)])
            high = key_order(self.upper.key)
            if head > high or (head == high and not self.upper.inclusive):
                return False
        return True


@dataclass(frozen=True)
class IndexRead:
    table: str
    index: str  # "by_id" for a read of one document by id
    interval: KeyInterval


@dataclass
class ReadSet:
    reads: list[IndexRead] = field(default_factory=list)

    def record(self, read: IndexRead) -> None:
        self.reads.append(read)

    def overlaps(self, table: str, index: str, key: Key) -> bool:
        """Would writing `key` into `table.index` change what was read?"""
        return any(
            r.table == table and r.index == index and r.interval.contains(key) for r in self.reads
        )
