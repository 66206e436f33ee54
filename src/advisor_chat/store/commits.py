"""Committed write sets, in commit order, handed to this process's listeners.

This is the hook the live layer stands on: the store offers every commit here, its own
right after they land and other processes' as it reads them from the durable log
(store/journal.py), and never imports `live`. A commit's `ts` is its sequence number in
that log: the database's commit order, the same in every process.

Commits are delivered strictly in order and each once. A commit offered ahead of one not
yet seen (another process's, read a moment later) waits in `_pending` until the log has
been read up to it (`fill`); a number the log never holds (a transaction that failed after
taking it) is skipped once a later one is known.
"""

from __future__ import annotations

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
    ts: int  # the commit's sequence number in the durable log
    writes: tuple[Write, ...]
    # Commits before this one could not be read (the log had pruned them): a listener
    # must treat everything as changed.
    lost_before: bool = False


Listener = Callable[[Commit], Any]


class CommitLog:
    """In-process sequence of commits. Listeners are called synchronously, in commit order;
    they must not block. A listener that raises is logged and skipped: the commit has
    happened, so the mutation's caller must still be told it committed (a failure answer
    would make a client retry, duplicating the write)."""

    def __init__(self, latest: int = 0) -> None:
        self._latest = latest
        self._history: deque[Commit] = deque()
        self._held_writes = 0  # writes in _history
        self._listeners: list[Listener] = []
        self._pending: dict[int, Commit] = {}  # offered ahead of a commit not yet seen

    @property
    def latest_ts(self) -> int:
        """The newest commit delivered: everything up to it has been, in order."""
        return self._latest

    @property
    def waiting_for(self) -> int | None:
        """The newest commit offered but held back for an earlier one, if any."""
        return max(self._pending) if self._pending else None

    def start_at(self, seq: int) -> None:
        """Where delivery begins (the log's newest commit when the store opens)."""
        if not self._history and seq > self._latest:
            self._latest = seq

    def offer(self, commit: Commit) -> bool:
        """Deliver `commit` if it is the next one, else hold it until `fill` reaches it.
        Returns whether it (and any held after it) has been delivered."""
        if commit.ts <= self._latest:
            return True  # already delivered (read from the log meanwhile)
        if commit.ts != self._latest + 1:
            self._pending[commit.ts] = commit
            return False
        self._deliver(commit)
        self._drain()
        return True

    def fill(self, commits: Sequence[Commit]) -> None:
        """Deliver commits read from the log after `latest_ts`, in order (numbers missing
        between them were never used). A held commit is delivered when the read reaches
        it: only a read that began after it committed does, and such a read also saw
        every commit numbered before it."""
        for commit in commits:
            if commit.ts <= self._latest:
                continue
            self._pending.pop(commit.ts, None)
            self._deliver(commit)
        self._drain()

    def _drain(self) -> None:
        while self._latest + 1 in self._pending:
            self._deliver(self._pending.pop(self._latest + 1))

    def _deliver(self, commit: Commit) -> None:
        self._latest = commit.ts
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
                log.exception("commit_listener_failed", listener=repr(listener), ts=commit.ts)

    def since(self, ts: int) -> list[Commit]:
        """Commits after `ts` still in memory (the oldest may have been dropped)."""
        return [c for c in self._history if c.ts > ts]

    def listen(self, listener: Listener) -> Callable[[], None]:
        """Register a listener; returns the function that removes it."""
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener)
