"""The shared query results: a result is answered again until a commit writes a key into
what it read (old or new key), a failure is never kept, and the cache holds a bounded
number of results."""

from __future__ import annotations

from advisor_chat.errors import Code, FunctionError
from advisor_chat.functions.context import Identity
from advisor_chat.functions.runner import QueryRun
from advisor_chat.live.query_cache import QueryCache, cache_key
from advisor_chat.store.commits import Commit, Write
from advisor_chat.store.reads import Bound, IndexRead, KeyInterval, ReadSet

ALICE = Identity("alice", "local")


def _reads(conversation: str) -> ReadSet:
    point = Bound((conversation,), True)
    return ReadSet([IndexRead("messages", "by_conversation", KeyInterval(point, point))])


def _message_into(conversation: str, old: str | None = None) -> Commit:
    key = (conversation, 1.0, "m1")
    before = None if old is None else {"by_conversation": [(old, 1.0, "m1")]}
    return Commit(1, (Write("messages", "m1", before, {"by_conversation": [key]}),))


def test_a_result_is_kept_until_a_write_touches_what_it_read() -> None:
    cache = QueryCache()
    key_x = cache_key("messages:list", {"conversationId": "x"}, ALICE)
    key_y = cache_key("messages:list", {"conversationId": "y"}, ALICE)
    cache.put(key_x, QueryRun(["a"], None, _reads("x")))
    cache.put(key_y, QueryRun(["b"], None, _reads("y")))
    cache.committed(_message_into("z"))
    assert cache.get(key_x) is not None
    assert cache.get(key_y) is not None
    cache.committed(_message_into("x"))
    assert cache.get(key_x) is None
    assert cache.get(key_y) is not None
    cache.committed(_message_into("z", old="y"))  # a message moved out of y
    assert cache.get(key_y) is None
    assert len(cache) == 0


def test_arguments_and_identities_are_told_apart() -> None:
    one, true = cache_key("q:q", {"n": 1}, ALICE), cache_key("q:q", {"n": True}, ALICE)
    assert one != true
    assert cache_key("q:q", {"a": 1, "b": 2}, ALICE) == cache_key("q:q", {"b": 2, "a": 1}, ALICE)
    assert cache_key("q:q", {}, ALICE) != cache_key("q:q", {}, Identity("bob", "local"))


def test_failures_are_not_kept_and_the_cache_is_bounded() -> None:
    cache = QueryCache(size=2)
    failed = FunctionError(Code.INTERNAL, "the store failed")
    key = cache_key("q:q", {}, None)
    cache.put(key, QueryRun(None, failed, _reads("x")))
    assert cache.get(key) is None
    keys = [cache_key("q:q", {"n": n}, None) for n in range(3)]
    for n, each in enumerate(keys):
        cache.put(each, QueryRun(n, None, _reads("x")))
    assert [cache.get(k) is not None for k in keys] == [False, True, True]
    cache.committed(_message_into("x"))
    assert len(cache) == 0
