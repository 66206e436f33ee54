"""Which subscribed queries a commit affects.

A query is affected when a write's old or new key, in any index, falls in a range the query
read (both: a row that moves out of a range changes the result as much as one that moves
in). For now every watched read set is tested against every commit, a scan; an index of read
sets (Convex's subscription index) can replace it behind the same calls, and the sessions
would not notice.

Listeners of the commit log must not block, and this one does not: it tests ranges and tells
each affected session, synchronously, which of its queries to re-run.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from typing import Protocol

from advisor_chat.store.commits import Commit, CommitLog, Write
from advisor_chat.store.reads import ReadSet


class Watcher(Hashable, Protocol):
    """A session, as subscriptions see it."""

    def committed(self, commit: Commit, affected: set[int]) -> None:
        """`commit` happened; `affected` are this watcher's query ids it touched (possibly
        none, for a watcher that follows every commit)."""


def touches(reads: ReadSet, write: Write) -> bool:
    for keys in (write.old_keys, write.new_keys):
        if keys is None:
            continue
        for index, index_keys in keys.items():
            if any(reads.overlaps(write.table, index, key) for key in index_keys):
                return True
    return False


def affects(reads: ReadSet, commit: Commit) -> bool:
    return any(touches(reads, write) for write in commit.writes)


class Subscriptions:
    """The read sets of every live query of this process, keyed by (watcher, query id)."""

    def __init__(self, commits: CommitLog) -> None:
        self._watched: dict[Watcher, dict[int, ReadSet]] = {}
        self._following: set[Watcher] = set()
        self._unlisten: Callable[[], None] = commits.listen(self._on_commit)

    def close(self) -> None:
        self._unlisten()

    @property
    def queries(self) -> int:
        return sum(len(queries) for queries in self._watched.values())

    def watch(self, watcher: Watcher, query_id: int, reads: ReadSet) -> None:
        """What the query read on its latest run (replacing what it read before)."""
        self._watched.setdefault(watcher, {})[query_id] = reads

    def forget(self, watcher: Watcher, query_id: int) -> None:
        queries = self._watched.get(watcher)
        if queries is not None:
            queries.pop(query_id, None)

    def follow(self, watcher: Watcher, following: bool) -> None:
        """While following, a watcher hears of every commit: a session re-running queries
        checks their new read sets against the commits that landed meanwhile."""
        if following:
            self._following.add(watcher)
        else:
            self._following.discard(watcher)

    def drop(self, watcher: Watcher) -> None:
        self._watched.pop(watcher, None)
        self._following.discard(watcher)

    def _on_commit(self, commit: Commit) -> None:
        if not commit.writes:
            return
        hits: dict[Watcher, set[int]] = {}
        for watcher, queries in self._watched.items():
            affected = {qid for qid, reads in queries.items() if affects(reads, commit)}
            if affected:
                hits[watcher] = affected
        for watcher in hits.keys() | self._following:
            watcher.committed(commit, hits.get(watcher, set()))
