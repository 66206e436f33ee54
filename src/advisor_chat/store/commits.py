"""Committed write sets, stamped with a monotonic commit timestamp and handed to listeners.

This is the hook the live layer stands on: the store appends here after every commit and
never imports `live`. Timestamps are integers (nanoseconds since the epoch, bumped to stay
strictly increasing), as Convex's are.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from advisor_chat.log import get_logger
from advisor_chat.store.reads import Key

log = get_logger(__name__)

HISTORY = 4096  # commits kept for a listener that catches up from a timestamp
# ...and at most this many writes among them. Every write holds its index keys (a few
# dozen small objects), and Python's full garbage collection walks all of them: 4096
# commits of a 50-row cleanup batch each held ~4M objects, and each collection stopped
# the event loop for 100-400 ms (measured with bench/loop_lag.py; 33 ms max with this).
HISTORY_WRITES = 4096


@dataclass(frozen=True)
class Write:
    """One document's change. `old`/`new` are None for an insert/delete; the key maps hold
    every index's keys (including "by_id") before and after, for read-set intersection."""

    table: str
    id: str
    old_keys: Mapping[str, Sequence[Key]] | None
    new_keys: Mapping[str, Sequence[Key]] | None


@dataclass(frozen=True)
class Commit:
    ts: int
    writes: tuple[Write, ...]


Listener = Callable[[Commit], Any]


class CommitLog:
    """In-process sequence of commits. Listeners are called synchronously, in commit order,
    right after the database commit returns; they must not block. A listener that raises is
    logged and skipped: the commit has happened, so the mutation's caller must still be told
    it committed (a failure answer would make a client retry, duplicating the write)."""

    def __init__(self) -> None:
        self._latest = time.time_ns()
        self._history: deque[Commit] = deque()
        self._held_writes = 0  # writes in _history
        self._listeners: list[Listener] = []

    @property
    def latest_ts(self) -> int:
        return self._latest

    def next_ts(self) -> int:
        return max(self._latest + 1, time.time_ns())

    def append(self, writes: Sequence[Write]) -> Commit:
        ts = self.next_ts()
        self._latest = ts
        commit = Commit(ts, tuple(writes))
        self._history.append(commit)
        self._held_writes += len(commit.writes)
        while len(self._history) > HISTORY or (
            self._held_writes > HISTORY_WRITES and len(self._history) > 1
        ):
            self._held_writes -= len(self._history.popleft().writes)
        for listener in tuple(self._listeners):
            try:
                listener(commit)
            except Exception:  # the commit stands; one broken listener must not undo the answer
                log.exception("commit_listener_failed", listener=repr(listener), ts=ts)
        return commit

    def since(self, ts: int) -> list[Commit]:
        """Commits after `ts` still in memory (the oldest may have been dropped)."""
        return [c for c in self._history if c.ts > ts]

    def listen(self, listener: Listener) -> Callable[[], None]:
        """Register a listener; returns the function that removes it."""
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener)
