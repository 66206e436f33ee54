"""An index of read sets: the subscriptions whose ranges hold a written key, found without
testing every subscription (Convex's subscription index, in its own shape).

Every read interval becomes a half-open span [lo, hi) of keys in Convex's value order
(`key_order`): a bound that is a prefix of the full key stands for all the keys it starts,
so an inclusive lower bound P is P itself, an exclusive one is P followed by `TOP` (past
every key that starts with P), and the same for the upper bound the other way round. A key
k is then in the interval exactly when lo <= k < hi, plain tuple comparison.

Every key in a span starts with the common prefix C of its two bounds. So each span is
filed under C, in a hash map, and a key looks up each prefix length the index has spans
of: `conversationId = X` (the common read) is one dictionary hit that yields its
subscriptions without testing them, since its span is all of C's keys. Spans that are only
part of C's keys (a page of a paginated query, a range of times) sit in a list sorted by lo,
and only those starting at or before the key are tested. A write costs, per index key,
one lookup per prefix length in use (a handful) plus the spans it finds.
"""

from __future__ import annotations

from bisect import bisect_right, insort
from collections import Counter
from collections.abc import Hashable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from advisor_chat.store.commits import Commit, Write
from advisor_chat.store.reads import IndexRead, Key, KeyInterval, ReadSet, key_order

Order = tuple[Any, ...]  # a key, or a prefix of one, as `key_order` maps it
TOP: Order = (9,)  # above every value's sort key (their ranks are 0-4)
S = TypeVar("S", bound=Hashable)


def span(interval: KeyInterval) -> tuple[Order, Order]:
    """The interval as [lo, hi) over whole keys in Convex's order."""
    lower, upper = interval.lower, interval.upper
    lo: Order = () if lower is None else key_order(lower.key) + (() if lower.inclusive else (TOP,))
    hi: Order = (
        (TOP,) if upper is None else key_order(upper.key) + ((TOP,) if upper.inclusive else ())
    )
    return lo, hi


def common_prefix(interval: KeyInterval) -> Order:
    """The prefix every key of the interval starts with (empty if a side is open)."""
    if interval.lower is None or interval.upper is None:
        return ()
    low, high = key_order(interval.lower.key), key_order(interval.upper.key)
    length = 0
    for a, b in zip(low, high, strict=False):
        if a != b:
            break
        length += 1
    return low[:length]


@dataclass(frozen=True)
class _Entry:
    """One span of one subscription, as filed (kept to remove it again)."""

    table: str
    index: str
    prefix: Order
    lo: Order
    hi: Order

    @property
    def whole(self) -> bool:
        """Is it every key that starts with its prefix (no need to test a key)?"""
        return self.lo == self.prefix and self.hi == (*self.prefix, TOP)


@dataclass
class _Bucket(Generic[S]):
    """The spans filed under one prefix of one index."""

    whole: set[S] = field(default_factory=set)
    ranges: list[tuple[Order, Order, S]] = field(default_factory=list)  # sorted by lo

    def __bool__(self) -> bool:
        return bool(self.whole or self.ranges)

    def add(self, entry: _Entry, sub: S) -> None:
        if entry.whole:
            self.whole.add(sub)
        else:
            insort(self.ranges, (entry.lo, entry.hi, sub), key=_lo)

    def remove(self, entry: _Entry, sub: S) -> None:
        if entry.whole:
            self.whole.discard(sub)
            return
        at = bisect_right(self.ranges, entry.lo, key=_lo)
        while at > 0:  # back over the spans starting at entry.lo
            at -= 1
            lo, hi, other = self.ranges[at]
            if lo != entry.lo:
                break
            if hi == entry.hi and other == sub:
                del self.ranges[at]
                return

    def holding(self, key: Order) -> Iterator[S]:
        yield from self.whole
        for _, hi, sub in self.ranges[: bisect_right(self.ranges, key, key=_lo)]:
            if key < hi:
                yield sub


def _lo(item: tuple[Order, Order, Any]) -> Order:
    return item[0]


@dataclass
class _IndexSpans(Generic[S]):
    """Every span read from one index of one table."""

    buckets: dict[Order, _Bucket[S]] = field(default_factory=dict)
    lengths: Counter[int] = field(default_factory=Counter)  # buckets per prefix length


class ReadIndex(Generic[S]):
    """The read sets of subscriptions `S`, to find which ones a write touches."""

    def __init__(self) -> None:
        self._indexes: dict[tuple[str, str], _IndexSpans[S]] = {}
        self._entries: dict[S, frozenset[_Entry]] = {}
        self._memo: tuple[ReadSet, int, frozenset[_Entry]] | None = None

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, sub: S) -> bool:
        return sub in self._entries

    @property
    def indexes(self) -> int:
        """How many (table, index) pairs hold spans (none once every read set is removed)."""
        return len(self._indexes)

    def put(self, sub: S, reads: ReadSet) -> None:
        """`sub` now depends on `reads` (replacing what it depended on before)."""
        entries = self._filed(reads)
        if self._entries.get(sub) == entries:
            return  # a re-run that read what it read before: most of them
        self.remove(sub)
        for entry in entries:
            spans = self._indexes.setdefault((entry.table, entry.index), _IndexSpans())
            bucket = spans.buckets.get(entry.prefix)
            if bucket is None:
                bucket = spans.buckets[entry.prefix] = _Bucket()
                spans.lengths[len(entry.prefix)] += 1
            bucket.add(entry, sub)
        self._entries[sub] = entries

    def _filed(self, reads: ReadSet) -> frozenset[_Entry]:
        """The spans of `reads`. Sessions answered from one shared result file the same
        ReadSet one after another (a hundred on a busy conversation): it is mapped once."""
        memo = self._memo
        if memo is not None and memo[0] is reads and memo[1] == len(reads.reads):
            return memo[2]
        entries = frozenset(e for e in map(_entry, reads.reads) if e.lo < e.hi)  # empty: none
        self._memo = (reads, len(reads.reads), entries)
        return entries

    def remove(self, sub: S) -> None:
        for entry in self._entries.pop(sub, ()):
            spans = self._indexes[(entry.table, entry.index)]
            bucket = spans.buckets[entry.prefix]
            bucket.remove(entry, sub)
            if bucket:
                continue
            del spans.buckets[entry.prefix]
            length = len(entry.prefix)
            spans.lengths[length] -= 1
            if not spans.lengths[length]:
                del spans.lengths[length]
            if not spans.buckets:
                del self._indexes[(entry.table, entry.index)]

    def holding(self, table: str, index: str, key: Key) -> set[S]:
        """The subscriptions that read a range of `table.index` holding `key`."""
        spans = self._indexes.get((table, index))
        if spans is None:
            return set()
        order = key_order(key)
        found: set[S] = set()
        for length in spans.lengths:
            bucket = spans.buckets.get(order[:length])
            if bucket is not None and len(order) >= length:
                found.update(bucket.holding(order))
        return found

    def touched(self, write: Write) -> set[S]:
        """Subscriptions a write changes: its old keys leave their ranges, its new keys
        enter theirs, in every index of the document."""
        found: set[S] = set()
        for keys in (write.old_keys, write.new_keys):
            for index, index_keys in (keys or {}).items():
                if (write.table, index) not in self._indexes:
                    continue
                for key in index_keys:
                    found |= self.holding(write.table, index, key)
        return found

    def affected(self, commit: Commit) -> set[S]:
        """Subscriptions the commit may change: all of them after a gap in the log."""
        if commit.lost_before:
            return set(self._entries)
        return _union(self.touched(write) for write in commit.writes)


def _entry(read: IndexRead) -> _Entry:
    # Not cached by the read: 1 == True in Python, not in Convex's order.
    lo, hi = span(read.interval)
    return _Entry(read.table, read.index, common_prefix(read.interval), lo, hi)


def _union(sets: Iterable[set[S]]) -> set[S]:
    found: set[S] = set()
    for each in sets:
        found |= each
    return found
