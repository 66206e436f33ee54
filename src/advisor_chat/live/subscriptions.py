"""Which subscribed queries a commit affects.

A query is affected when a write's old or new key, in any index, falls in a range the query
read (both: a row that moves out of a range changes the result as much as one that moves
in). The read sets are filed in an index (live/read_index.py), so a commit costs the
subscriptions it touches, not one test per subscription; `affects` is the same decision
for one read set, which a session uses on the commits that landed while it ran a round.

Listeners of the commit log must not block, and this one does not: it looks the written
keys up and tells each affected session, synchronously, which of its queries to re-run.
Sessions run their queries through `run`, which answers from the results other sessions
just computed for the same query, arguments and identity (live/query_cache.py).
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Sequence
from typing import Any, Protocol

from advisor_chat.functions.context import Identity
from advisor_chat.functions.runner import Runner, Snapshot
from advisor_chat.live.query_cache import QueryCache, cache_key
from advisor_chat.live.read_index import ReadIndex
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
    return commit.lost_before or any(touches(reads, write) for write in commit.writes)


class Subscriptions:
    """The read sets of every live query of this process, keyed by (watcher, query id).

    `runs` counts the queries run (first runs and re-runs, not those answered from the
    cache), `invalidations` the (session, query) pairs commits marked for a re-run: /metrics
    shows both, and the fan-out bench divides them by the commits."""

    def __init__(self, commits: CommitLog) -> None:
        self._commits = commits
        self.cache = QueryCache()
        self._index: ReadIndex[tuple[Watcher, int]] = ReadIndex()
        self._watched: dict[Watcher, set[int]] = {}
        self._following: set[Watcher] = set()
        self._unlisten: Callable[[], None] = commits.listen(self._on_commit)
        self.runs = 0
        self.invalidations = 0

    def close(self) -> None:
        self._unlisten()

    @property
    def queries(self) -> int:
        return len(self._index)

    def watch(self, watcher: Watcher, query_id: int, reads: ReadSet) -> None:
        """What the query read on its latest run (replacing what it read before)."""
        self._watched.setdefault(watcher, set()).add(query_id)
        self._index.put((watcher, query_id), reads)

    def forget(self, watcher: Watcher, query_id: int) -> None:
        queries = self._watched.get(watcher)
        if queries is not None:
            queries.discard(query_id)
        self._index.remove((watcher, query_id))

    def follow(self, watcher: Watcher, following: bool) -> None:
        """While following, a watcher hears of every commit: a session re-running queries
        checks their new read sets against the commits that landed meanwhile."""
        if following:
            self._following.add(watcher)
        else:
            self._following.discard(watcher)

    def drop(self, watcher: Watcher) -> None:
        for query_id in self._watched.pop(watcher, ()):
            self._index.remove((watcher, query_id))
        self._following.discard(watcher)

    async def run(
        self,
        runner: Runner,
        calls: Sequence[tuple[str, Any]],
        identity: Identity | None,
        journals: Sequence[str | None],
    ) -> Snapshot:
        """`runner.run_queries(calls, identity, journals)`, or, when every one of them is
        cached, the cached results as of the latest commit (what a run now would find). A
        page's journal is part of its key: the same arguments pinned elsewhere are another
        query."""
        keys = [
            cache_key(path, args, identity, journal)
            for (path, args), journal in zip(calls, journals, strict=True)
        ]
        cached = [self.cache.get(key) for key in keys]
        if calls and all(run is not None for run in cached):
            self.cache.hits += len(calls)
            return Snapshot(self._commits.latest_ts, tuple(r for r in cached if r is not None))
        snapshot = await runner.run_queries(calls, identity, journals)
        self.runs += len(calls)
        if self._commits.latest_ts == snapshot.ts:  # nothing landed unseen meanwhile
            for key, run in zip(keys, snapshot.runs, strict=True):
                self.cache.put(key, run)
        return snapshot

    def _on_commit(self, commit: Commit) -> None:
        if not commit.writes and not commit.lost_before:
            return
        self.cache.committed(commit)  # before any session hears of it and asks again
        hits: dict[Watcher, set[int]] = {}
        for watcher, query_id in self._index.affected(commit):
            hits.setdefault(watcher, set()).add(query_id)
            self.invalidations += 1
        for watcher in hits.keys() | self._following:
            watcher.committed(commit, hits.get(watcher, set()))
