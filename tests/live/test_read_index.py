"""The read-set index answers exactly what testing every read set would: for random read
sets (equality prefixes, ranges with open, inclusive and exclusive bounds of any prefix
length, over values of every kind) and random writes, the subscriptions it finds for a
commit are those whose read set `overlaps` a written key, also after some are replaced or
removed."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from advisor_chat.live.read_index import ReadIndex
from advisor_chat.live.subscriptions import affects
from advisor_chat.store.commits import Commit, Write
from advisor_chat.store.reads import Bound, IndexRead, Key, KeyInterval, ReadSet

TABLES = ("messages", "conversations")
INDEXES = ("by_conversation", "by_id")
# Few distinct values, of every kind Convex orders, so bounds and keys often meet.
values = st.one_of(
    st.none(),
    st.integers(0, 3),
    st.sampled_from([1.5, 2.0]),
    st.booleans(),
    st.sampled_from(["a", "b", "c"]),
)
KEYS = st.lists(st.tuples(values, values, values), min_size=1, max_size=5, unique=True)


@st.composite
def cases(draw: st.DrawFn, subscriptions: int = 12) -> tuple[dict[int, ReadSet], Commit]:
    """Read sets and a commit over a few keys (field, _creationTime, _id): bounds are cut
    from those keys or from any values, so a bound often equals a key or its prefix, where
    inclusive and exclusive differ."""
    pool = draw(KEYS)
    keys = st.sampled_from(pool)
    prefixes = st.one_of(
        st.builds(lambda key, n: key[:n], keys, st.integers(0, 3)),
        st.lists(values, max_size=3).map(tuple),
    )
    bounds = st.one_of(st.none(), st.builds(Bound, prefixes, st.booleans()))

    @st.composite
    def intervals(draw: st.DrawFn) -> KeyInterval:
        if draw(st.booleans()):  # an equality prefix, the common read
            point = Bound(draw(prefixes), True)
            return KeyInterval(point, point)
        return KeyInterval(draw(bounds), draw(bounds))

    reads = st.builds(IndexRead, st.sampled_from(TABLES), st.sampled_from(INDEXES), intervals())
    read_sets = st.builds(ReadSet, st.lists(reads, max_size=4))
    key_maps = st.one_of(
        st.none(),
        st.dictionaries(st.sampled_from(INDEXES), st.lists(keys, min_size=1, max_size=2)),
    )
    writes = st.builds(Write, st.sampled_from(TABLES), st.just("id"), key_maps, key_maps)
    lost = st.sampled_from([False] * 9 + [True])  # a gap in the log: everything, rarely
    commit = draw(st.builds(Commit, st.just(1), st.lists(writes, max_size=3).map(tuple), lost))
    subscribed = draw(st.dictionaries(st.integers(0, 30), read_sets, max_size=subscriptions))
    return subscribed, commit


def scan(read_sets: dict[int, ReadSet], commit: Commit) -> set[int]:
    return {sub for sub, reads in read_sets.items() if affects(reads, commit)}


@settings(max_examples=100, deadline=None)
@given(cases())
def test_the_index_finds_what_a_scan_finds(case: tuple[dict[int, ReadSet], Commit]) -> None:
    subscribed, commit = case
    index: ReadIndex[int] = ReadIndex()
    for sub, reads in subscribed.items():
        index.put(sub, reads)
    assert index.affected(commit) == scan(subscribed, commit)


@settings(max_examples=50, deadline=None)
@given(cases(), cases(subscriptions=6), st.sets(st.integers(0, 30)))
def test_replaced_and_removed_read_sets_leave_nothing_behind(
    case: tuple[dict[int, ReadSet], Commit],
    again: tuple[dict[int, ReadSet], Commit],
    removed: set[int],
) -> None:
    (first, commit), (rerun, _) = case, again
    index: ReadIndex[int] = ReadIndex()
    for sub, reads in first.items():
        index.put(sub, reads)
    for sub, reads in rerun.items():
        index.put(sub, reads)
    for sub in removed:
        index.remove(sub)
    current = {sub: reads for sub, reads in (first | rerun).items() if sub not in removed}
    assert index.affected(commit) == scan(current, commit)
    assert len(index) == len(current)
    for sub in list(current):
        index.remove(sub)
    assert index.affected(commit) == set()
    assert index.indexes == 0  # every bucket emptied and dropped


def test_a_page_of_one_conversation_is_found_by_its_keys_only() -> None:
    """A paginated read (conversation X, from a cursor to the page's end) is touched by a
    message of X inside the page, not by one of X past it, nor by one of Y."""
    page = KeyInterval(Bound(("X", 10, "m10"), False), Bound(("X", 20, "m20"), True))
    everything = KeyInterval(Bound(("Y",), True), Bound(("Y",), True))
    reads = ReadSet([IndexRead("messages", "by_conversation", page)])
    other = ReadSet([IndexRead("messages", "by_conversation", everything)])
    index: ReadIndex[str] = ReadIndex()
    index.put("page", reads)
    index.put("y", other)

    def found(key: Key) -> set[str]:
        return index.holding("messages", "by_conversation", key)

    assert found(("X", 15, "m15")) == {"page"}
    assert found(("X", 20, "m20")) == {"page"}
    assert found(("X", 10, "m10")) == set()  # the cursor itself is exclusive
    assert found(("X", 21, "m21")) == set()
    assert found(("Y", 15, "m15")) == {"y"}
