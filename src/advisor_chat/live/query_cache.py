"""Recent query results, shared by the sessions that subscribe to the same query with the
same arguments and identity (as Convex's query cache): a commit into a conversation 100
sessions watch runs its query once, not 100 times.

A result is kept with its read set, filed in a `ReadIndex`; every delivered commit drops
the results whose ranges hold one of its keys, synchronously, before any session hears of
it. So a result still held equals a fresh run at the latest delivered commit. A run is
kept only if no commit was delivered while it ran (one that landed meanwhile might have
changed it unseen), and only if it succeeded: a failure may be the store's, not the data's.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any

import orjson

from advisor_chat.functions.context import Identity
from advisor_chat.functions.runner import QueryRun
from advisor_chat.live.read_index import ReadIndex
from advisor_chat.store.commits import Commit

CACHED = 256  # results held at most: enough for the queries one commit re-runs at once
CacheKey = tuple[str, bytes, Identity | None, str | None]


def cache_key(
    path: str, args: Any, identity: Identity | None, journal: str | None = None
) -> CacheKey:
    """Arguments as canonical JSON: 1, 1.0 and true are three arguments, as for Convex.
    A paginated query's journal (where its page ends) is part of what it is."""
    return (path, orjson.dumps(args, option=orjson.OPT_SORT_KEYS), identity, journal)


class QueryCache:
    def __init__(self, size: int = CACHED) -> None:
        self._size = size
        self._runs: OrderedDict[CacheKey, QueryRun] = OrderedDict()
        self._index: ReadIndex[CacheKey] = ReadIndex()
        self.hits = 0

    def __len__(self) -> int:
        return len(self._runs)

    def get(self, key: CacheKey) -> QueryRun | None:
        run = self._runs.get(key)
        if run is not None:
            self._runs.move_to_end(key)
        return run

    def put(self, key: CacheKey, run: QueryRun) -> None:
        if run.error is not None:
            return
        self._runs[key] = run
        self._runs.move_to_end(key)
        self._index.put(key, run.reads)
        while len(self._runs) > self._size:
            oldest, _ = self._runs.popitem(last=False)
            self._index.remove(oldest)

    def committed(self, commit: Commit) -> None:
        """Drop what `commit` may have changed."""
        for key in self._index.affected(commit):
            self._runs.pop(key, None)
            self._index.remove(key)
