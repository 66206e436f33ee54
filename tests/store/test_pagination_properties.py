"""Index range reads, page by page, against a model: a full scan of the table, filtered and
sorted in Python by Convex's rules (hypothesis).

The model: a query selects the index keys whose equality prefix matches and whose next
field lies within the bounds, compared in Convex's value order, where a missing field sorts
below every value (so `lt` takes documents without the field and `gt` does not, as in
Convex); keys are walked in `key_order`, reversed for "desc". Paging through with cursors
must return exactly that sequence: no skips, no repeats, the same order. Documents inserted
between pages are seen exactly when their key lies ahead of the cursor at the time.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any, Literal

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from advisor_chat.errors import CursorInvalid, QueryInvalid
from advisor_chat.schema.derive import IndexLayout, layout_of
from advisor_chat.store import Store, Transaction
from advisor_chat.store.cursor import decode_cursor, encode_cursor
from advisor_chat.store.query import IndexQuery, Page
from advisor_chat.store.reads import Key, ReadSet, key_order, sort_key
from tests.store.documents import advisor, conversation, message, user

# A DB-backed example costs a few milliseconds; 40 of each keep the module near 10 s on
# both backends together while still reaching the missing-value and duplicate-key corners.
SETTINGS = settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
MAX_PAGES = 500  # far more than any generated case needs; a loop would fail, not hang

Doc = dict[str, Any]
Order = Literal["asc", "desc"]
_serial = itertools.count()


@dataclass(frozen=True)
class Query:
    eq: tuple[Any, ...]  # equality values in index order; None asks for a missing field
    lower: tuple[Literal["gt", "gte"], Any] | None = None  # on the field after the prefix
    upper: tuple[Literal["lt", "lte"], Any] | None = None
    order: Order = "asc"
    page: int = 1


# --- the model -----------------------------------------------------------------------------


def in_range(key: Key, query: Query) -> bool:
    """Convex's index range: the prefix, then bounds in Convex's value order."""
    k = len(query.eq)
    if key_order(key[:k]) != key_order(query.eq):
        return False
    value = sort_key(key[k]) if k < len(key) else None
    if query.lower is not None:
        assert value is not None
        low_op, low = query.lower
        if value < sort_key(low) or (value == sort_key(low) and low_op == "gt"):
            return False
    if query.upper is not None:
        assert value is not None
        high_op, high = query.upper
        if value > sort_key(high) or (value == sort_key(high) and high_op == "lt"):
            return False
    return True


def ahead(key: Key, cursor: Key, order: Order) -> bool:
    """Does `key` come after `cursor` in the walk?"""
    return (
        key_order(key) > key_order(cursor) if order == "asc" else key_order(key) < key_order(cursor)
    )


def expected_keys(keys: Sequence[Key], query: Query) -> list[Key]:
    """What a full walk meets: the matching keys in walk order (one per key, so a document
    under an array index appears once per matching element)."""
    chosen = sorted((k for k in keys if in_range(k, query)), key=key_order)
    if query.order == "desc":
        chosen.reverse()
    return chosen


def expected(keys: Sequence[Key], query: Query) -> list[str]:
    return [k[-1] for k in expected_keys(keys, query)]


# --- the store side ------------------------------------------------------------------------


def build(tx: Transaction, index: IndexLayout, query: Query) -> IndexQuery:
    built = tx.query(index.table, index.name)
    for column, value in zip(index.columns, query.eq, strict=False):
        built = built.eq(column.name, value)
    if query.lower is not None or query.upper is not None:
        field = index.columns[len(query.eq)].name
        if query.lower is not None:
            low_op, low = query.lower
            built = built.gt(field, low) if low_op == "gt" else built.gte(field, low)
        if query.upper is not None:
            high_op, high = query.upper
            built = built.lt(field, high) if high_op == "lt" else built.lte(field, high)
    return built.order(query.order)


async def reset(store: Store, table: str, docs: Sequence[Doc]) -> list[Doc]:
    """Empty `table`, insert `docs` (in order, in one mutation); return the table's rows as
    a full scan reads them."""

    async def run(tx: Transaction) -> None:
        for row in await tx.query(table).collect():
            await tx.delete(table, row["_id"])
        for doc in docs:
            await tx.insert(table, doc)

    await store.mutation(run)
    return (await store.query(lambda tx: tx.query(table).collect())).value


@dataclass
class Walk:
    ids: list[str]  # what the pages returned, in order
    arrived: list[tuple[Doc, Key]]  # each document inserted, and the cursor's key just then
    pages: list[tuple[ReadSet, int]]  # each page's read set, and how many rows it returned


async def walk(
    store: Store, index: IndexLayout, query: Query, arrivals: Sequence[Doc] = ()
) -> Walk:
    """Read every page; after each page that is not the last, insert the next arrival."""
    ids: list[str] = []
    arrived: list[tuple[Doc, Key]] = []
    pages: list[tuple[ReadSet, int]] = []
    pending = list(arrivals)
    cursor: str | None = None
    width = len(index.columns) + 2
    for _ in range(MAX_PAGES):

        async def read(tx: Transaction, cursor: str | None = cursor) -> Page:
            return await build(tx, index, query).paginate(query.page, cursor)

        outcome = await store.query(read)
        page = outcome.value
        assert len(page.page) <= query.page
        ids += [d["_id"] for d in page.page]
        pages.append((outcome.reads, len(page.page)))
        if page.is_done:
            return Walk(ids, arrived, pages)
        assert len(page.page) == query.page  # only the last page may be short
        cursor = page.continue_cursor
        at = decode_cursor(cursor, index.table, index.name, width).key
        assert at is not None
        last = page.page[-1]
        assert at in index.keys(last), "the cursor is not the last returned row's key"
        if pending:
            fields = pending.pop(0)

            async def insert(tx: Transaction, fields: Doc = fields) -> Doc | None:
                return await tx.get(index.table, await tx.insert(index.table, fields))

            stored = (await store.mutation(insert)).value
            assert stored is not None
            arrived.append((stored, at))
    raise AssertionError("pagination did not finish")


def check(index: IndexLayout, query: Query, originals: Sequence[Doc], run: Walk) -> None:
    keys = [k for d in originals for k in index.keys(d)]
    for doc, at in run.arrived:
        for key in index.keys(doc):
            if ahead(key, at, query.order):
                keys.append(key)  # written ahead of the reader: it must be read
    # Equal sequences: nothing skipped, nothing twice, nothing written behind the cursor.
    assert run.ids == expected(keys, query)


async def check_query(
    store: Store,
    table: str,
    index_name: str,
    originals: Sequence[Doc],
    query: Query,
    arrivals: Sequence[Doc],
) -> None:
    index = layout_of(table).indexes[index_name]
    quiet = await walk(store, index, query)
    keys = [k for d in originals for k in index.keys(d)]
    want = expected_keys(keys, query)
    assert quiet.ids == [k[-1] for k in want]
    # Each page's read set covers exactly the keys that page returned, of all the table's
    # keys: what the live layer re-runs the page for.
    start = 0
    for reads, n in quiet.pages:
        covered = {k for k in keys if reads.overlaps(table, index_name, k)}
        assert covered == set(want[start : start + n])
        start += n
    check(index, query, originals, await walk(store, index, query, arrivals))


# --- strategies ----------------------------------------------------------------------------

Orders = st.sampled_from(["asc", "desc"])
Pages = st.integers(1, 7)
Numbers = st.sampled_from([-1, 0, 0.5, 1, 2, 2, 3])  # few values: many duplicate keys
MaybeBool = st.one_of(st.none(), st.booleans())
MaybeNumber = st.one_of(st.none(), Numbers)


def bounded(eq: tuple[Any, ...], values: st.SearchStrategy[Any]) -> st.SearchStrategy[Query]:
    """`eq`, then optional bounds drawn from `values` on the next field, any order/page."""
    return st.builds(
        Query,
        eq=st.just(eq),
        lower=st.one_of(st.none(), st.tuples(st.sampled_from(["gt", "gte"]), values)),
        upper=st.one_of(st.none(), st.tuples(st.sampled_from(["lt", "lte"]), values)),
        order=Orders,
        page=Pages,
    )


def exact(eq: st.SearchStrategy[tuple[Any, ...]]) -> st.SearchStrategy[Query]:
    return st.builds(Query, eq=eq, order=Orders, page=Pages)


# --- teamTemplates.by_featured_sort: two optional fields -----------------------------------


def template(featured: bool | None, sort_order: float | None) -> Doc:
    doc: Doc = {
        "id": f"t{next(_serial)}",
        "name": "Team",
        "description": "d",
        "category": "startup",
        "advisorIds": [],
        "createdAt": 1,
        "updatedAt": 1,
    }
    if featured is not None:
        doc["featured"] = featured
    if sort_order is not None:
        doc["sortOrder"] = sort_order
    return doc


Templates = st.lists(st.tuples(MaybeBool, MaybeNumber), max_size=20)
TemplateQueries = st.one_of(
    bounded((), st.booleans()),
    MaybeBool.flatmap(lambda featured: bounded((featured,), Numbers)),
    exact(st.tuples(MaybeBool, MaybeNumber)),
)


@SETTINGS
@given(rows=Templates, arrivals=Templates, query=TemplateQueries)
# Missing values sort first: walking down must still reach them after present ones.
@example(
    rows=[(None, None), (True, 1), (None, -1), (False, 2)],
    arrivals=[(None, 0)],
    query=Query((), order="desc"),
)
@example(
    rows=[(True, None), (True, 1), (True, None)],
    arrivals=[(True, None), (True, 3)],
    query=Query((True,), order="desc"),
)
# An upper bound takes the documents without the field, which sort below every number.
@example(
    rows=[(True, None), (True, 1), (True, 3), (None, None)],
    arrivals=[],
    query=Query((True,), upper=("lt", 2)),
)
async def test_optional_fields_pages_match_the_model(
    store: Store,
    rows: list[tuple[bool | None, float | None]],
    arrivals: list[tuple[bool | None, float | None]],
    query: Query,
) -> None:
    originals = await reset(store, "teamTemplates", [template(*r) for r in rows])
    await check_query(
        store,
        "teamTemplates",
        "by_featured_sort",
        originals,
        query,
        [template(*a) for a in arrivals],
    )


# --- messages.by_conversation_created: duplicate times, several conversations --------------

CONVERSATIONS = 3
Messages = st.lists(st.tuples(st.integers(0, CONVERSATIONS - 1), Numbers), max_size=25)
Which = st.integers(0, CONVERSATIONS - 1)
MessageQueries = st.one_of(
    exact(st.just(())),
    Which.flatmap(lambda c: bounded((c,), Numbers)),
    exact(st.tuples(Which, Numbers)),
)


@SETTINGS
@given(rows=Messages, arrivals=Messages, query=MessageQueries)
@example(
    rows=[(0, 1), (1, 1), (0, 1), (0, 2), (2, 0)],
    arrivals=[(0, 1), (0, 0), (0, 3)],
    query=Query((0,), lower=("gte", 1), order="desc", page=1),
)
async def test_message_pages_match_the_model(
    store: Store, rows: list[tuple[int, float]], arrivals: list[tuple[int, float]], query: Query
) -> None:
    async def parents(tx: Transaction) -> list[str]:
        owner = await tx.insert("users", user(f"clerk-{next(_serial)}"))
        return [await tx.insert("conversations", conversation(owner)) for _ in range(3)]

    conversations = (await store.mutation(parents)).value

    def doc(which: int, created: float) -> Doc:
        return message(conversations[which]) | {"createdAt": created}

    originals = await reset(store, "messages", [doc(*r) for r in rows])
    if query.eq:  # the strategy names a conversation by its number
        query = replace(query, eq=(conversations[query.eq[0]], *query.eq[1:]))
    await check_query(
        store,
        "messages",
        "by_conversation_created",
        originals,
        query,
        [doc(*a) for a in arrivals],
    )


# --- advisors.by_tags: an index over an array field ----------------------------------------

Tags = st.lists(st.sampled_from("abcde"), max_size=4)  # repeats within a document included
TagQueries = st.one_of(
    exact(st.tuples(st.sampled_from("abcdef"))),
    bounded((), st.sampled_from(["a", "b", "bb", "c", "e", "f"])),
)


@SETTINGS
@given(rows=st.lists(Tags, max_size=15), arrivals=st.lists(Tags, max_size=6), query=TagQueries)
@example(rows=[["a", "b", "a"], ["b"], []], arrivals=[["a", "b"]], query=Query(("a",)))
async def test_array_index_pages_match_the_model(
    store: Store, rows: list[list[str]], arrivals: list[list[str]], query: Query
) -> None:
    """One key per distinct element: eq(tag) finds each holder once; a walk over a range of
    tags meets a document once per element in the range."""
    originals = await reset(store, "advisors", [advisor() | {"tags": t} for t in rows])
    await check_query(
        store, "advisors", "by_tags", originals, query, [advisor() | {"tags": t} for t in arrivals]
    )


# --- refused cursors and queries ------------------------------------------------------------


async def _two_templates_cursor(store: Store) -> str:
    async def run(tx: Transaction) -> str:
        await tx.insert("teamTemplates", template(True, 1))
        await tx.insert("teamTemplates", template(True, 2))
        page = await tx.query("teamTemplates", "by_featured_sort").eq("featured", True).paginate(1)
        return page.continue_cursor

    return (await store.mutation(run)).value


async def test_cursors_not_of_this_read_are_refused(store: Store) -> None:
    cursor = await _two_templates_cursor(store)
    for bad in ("garbage!", "e30", "=", cursor[:-4], cursor + "x"):

        async def read(tx: Transaction, bad: str = bad) -> Page:
            q = tx.query("teamTemplates", "by_featured_sort").eq("featured", True)
            return await q.paginate(1, bad)

        with pytest.raises(CursorInvalid):
            await store.query(read)
    with pytest.raises(CursorInvalid, match=r"belongs to teamTemplates\.by_featured_sort"):
        await store.query(
            lambda tx: tx.query("teamTemplates", "by_category_sort").paginate(1, cursor)
        )
    with pytest.raises(CursorInvalid):  # another table
        await store.query(lambda tx: tx.query("messages", "by_sender").paginate(1, cursor))


@pytest.mark.parametrize(
    ("what", "key"),
    [
        ("a string for the number sortOrder", [True, "x", 1.0, "01m8"]),
        ("a number for _id", [True, 1, 1.0, 5]),
        ("a string for _creationTime", [True, 1, "soon", "01m8"]),
        ("no _id", [True, 1, 1.0, None]),
        ("no _creationTime", [True, 1, None, "01m8"]),
        ("an object for sortOrder", [True, {"a": 1}, 1.0, "01m8"]),
    ],
)
async def test_a_cursor_whose_key_does_not_fit_the_index_is_refused(
    store: Store, what: str, key: list[Any]
) -> None:
    """A cursor comes back from the client: one of the right shape but holding values the
    index cannot hold is refused as a cursor, on every backend alike (not a driver error,
    not a silently wrong page)."""
    await _two_templates_cursor(store)
    forged = encode_cursor("teamTemplates", "by_featured_sort", tuple(key))

    async def read(tx: Transaction) -> Page:
        q = tx.query("teamTemplates", "by_featured_sort").eq("featured", True)
        return await q.paginate(1, forged)

    with pytest.raises(CursorInvalid):
        await store.query(read)


Build = Callable[[Transaction], IndexQuery]


async def _refused(store: Store, build: Build, match: str) -> None:
    with pytest.raises(QueryInvalid, match=match):
        await store.query(lambda tx: build(tx).collect())


async def test_queries_out_of_index_order_are_refused(store: Store) -> None:
    def templates(index: str) -> Build:
        return lambda tx: tx.query("teamTemplates", index)

    order = "out of index order"
    await _refused(store, lambda tx: templates("by_featured_sort")(tx).eq("sortOrder", 1), order)
    await _refused(
        store, lambda tx: tx.query("messages", "by_conversation_created").gt("createdAt", 1), order
    )
    await _refused(
        store,
        lambda tx: templates("by_featured_sort")(tx).gt("featured", False).eq("sortOrder", 1),
        "eq after a range",
    )
    await _refused(
        store, lambda tx: templates("by_featured")(tx).eq("featured", "yes"), "needs a boolean"
    )
    await _refused(
        store, lambda tx: templates("by_sort_order")(tx).gte("sortOrder", True), "needs a number"
    )
    with pytest.raises(QueryInvalid, match="no index"):
        await store.query(lambda tx: tx.query("teamTemplates", "by_nothing").collect())
