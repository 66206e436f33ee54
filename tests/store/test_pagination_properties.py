"""Index range reads return exactly what a full scan with the same filter and order returns,
page after page, while other writers insert between pages (hypothesis)."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any, Literal

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from advisor_chat.errors import CursorInvalid, QueryInvalid
from advisor_chat.schema.derive import layout_of
from advisor_chat.store import Store, Transaction
from advisor_chat.store.query import IndexQuery
from advisor_chat.store.reads import Key, key_order

SETTINGS = settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
_serial = itertools.count()

OptionalBool = st.one_of(st.none(), st.booleans())
SmallNumber = st.sampled_from([-1, 0, 0.5, 1, 2, 2, 3])


@dataclass(frozen=True)
class Query:
    eq: tuple[Any, ...]  # equality values, in index order ("missing" is None)
    lower: tuple[Literal["gt", "gte"], Any] | None
    upper: tuple[Literal["lt", "lte"], Any] | None
    order: Literal["asc", "desc"]
    page: int


def _queries(eq: st.SearchStrategy[tuple[Any, ...]]) -> st.SearchStrategy[Query]:
    return st.builds(
        Query,
        eq=eq,
        lower=st.one_of(st.none(), st.tuples(st.sampled_from(["gt", "gte"]), SmallNumber)),
        upper=st.one_of(st.none(), st.tuples(st.sampled_from(["lt", "lte"]), SmallNumber)),
        order=st.sampled_from(["asc", "desc"]),
        page=st.integers(1, 7),
    )


def _build(tx: Transaction, table: str, index: str, query: Query) -> IndexQuery:
    layout = layout_of(table).indexes[index]
    built = tx.query(table, index)
    for column, value in zip(layout.columns, query.eq, strict=False):
        built = built.eq(column.name, value)
    if len(query.eq) < len(layout.columns):
        field = layout.columns[len(query.eq)].name
        if query.lower:
            built = getattr(built, query.lower[0])(field, query.lower[1])
        if query.upper:
            built = getattr(built, query.upper[0])(field, query.upper[1])
    return built.order(query.order)


def _matches(key: Key, query: Query, n_fields: int) -> bool:
    k = len(query.eq)
    if key_order(key[:k]) != key_order(query.eq):
        return False
    if k >= n_fields:
        return True
    value = key[k]
    if query.lower is not None:
        if value is None or isinstance(value, bool):
            return False
        low_op, low = query.lower
        if not (value > low if low_op == "gt" else value >= low):
            return False
    if query.upper is not None:
        if value is None or isinstance(value, bool):
            return False
        high_op, high = query.upper
        if not (value < high if high_op == "lt" else value <= high):
            return False
    return True


def _expected(docs: list[dict[str, Any]], table: str, index: str, query: Query) -> list[str]:
    layout = layout_of(table).indexes[index]
    keyed = [(layout.key(d), d["_id"]) for d in docs]
    chosen = [(k, i) for k, i in keyed if _matches(k, query, len(layout.columns))]
    chosen.sort(key=lambda pair: key_order(pair[0]), reverse=query.order == "desc")
    return [i for _, i in chosen]


async def _page_through(
    store: Store,
    table: str,
    index: str,
    query: Query,
    between_pages: list[dict[str, Any]],
) -> tuple[list[str], list[dict[str, Any]], list[Key | None]]:
    """Read every page; before each later page insert the next of `between_pages`.
    Returns the ids read, the documents inserted, and the cursor key at each insert."""
    layout = layout_of(table).indexes[index]
    got: list[str] = []
    inserted: list[dict[str, Any]] = []
    cursors: list[Key | None] = []
    cursor: str | None = None
    pending = list(between_pages)
    last_key: Key | None = None
    for _ in range(1000):

        async def page(tx: Transaction, cursor: str | None = cursor) -> Any:
            return await _build(tx, table, index, query).paginate(query.page, cursor)

        result = (await store.query(page)).value
        got += [d["_id"] for d in result.page]
        if result.page:
            last_key = layout.key(result.page[-1])
        if result.is_done:
            return got, inserted, cursors
        cursor = result.continue_cursor
        if pending:
            fields = pending.pop(0)

            async def insert(tx: Transaction, fields: dict[str, Any] = fields) -> Any:
                doc_id = await tx.insert(table, fields)
                return await tx.get(table, doc_id)

            stored = (await store.mutation(insert)).value
            assert stored is not None
            inserted.append(stored)
            cursors.append(last_key)
    raise AssertionError("pagination did not finish")


def _check(
    got: list[str],
    originals: list[dict[str, Any]],
    inserted: list[dict[str, Any]],
    cursors: list[Key | None],
    table: str,
    index: str,
    query: Query,
) -> None:
    layout = layout_of(table).indexes[index]
    assert len(got) == len(set(got)), "a document was returned twice"
    visible = list(originals)
    for doc, at in zip(inserted, cursors, strict=True):
        key = key_order(layout.key(doc))
        assert at is not None
        ahead = key > key_order(at) if query.order == "asc" else key < key_order(at)
        if ahead:
            visible.append(doc)  # inserted ahead of the cursor: must be read
        else:
            assert doc["_id"] not in got, "a document inserted behind the cursor was read"
    assert got == _expected(visible, table, index, query)


def _template(featured: bool | None, sort_order: float | None) -> dict[str, Any]:
    doc: dict[str, Any] = {
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


Templates = st.lists(st.tuples(OptionalBool, st.one_of(st.none(), SmallNumber)), max_size=25)


@SETTINGS
@given(
    rows=Templates,
    extra=Templates,
    query=_queries(
        st.one_of(
            st.just(()),
            st.tuples(OptionalBool),
            st.tuples(OptionalBool, st.one_of(st.none(), SmallNumber)),
        )
    ),
)
# Missing values sort first: walking down must still reach them after a present one.
@example(
    rows=[(None, None), (True, 1), (None, -1), (False, 2)],
    extra=[(None, 0)],
    query=Query((), None, None, "desc", 1),
)
@example(
    rows=[(True, None), (True, 1), (True, None)],
    extra=[(True, None), (True, 3)],
    query=Query((True,), None, None, "desc", 1),
)
async def test_optional_fields_index_pages_match_a_full_scan(
    store: Store,
    rows: list[tuple[bool | None, float | None]],
    extra: list[tuple[bool | None, float | None]],
    query: Query,
) -> None:
    """teamTemplates.by_featured_sort: both fields optional (missing sorts first)."""
    if len(query.eq) != 1:  # a range only on sortOrder, the number after featured
        query = Query(query.eq, None, None, query.order, query.page)

    async def reset(tx: Transaction) -> None:
        for doc in await tx.query("teamTemplates").collect():
            await tx.delete("teamTemplates", doc["_id"])
        for featured, sort_order in rows:
            await tx.insert("teamTemplates", _template(featured, sort_order))

    await store.mutation(reset)
    originals = (await store.query(lambda tx: tx.query("teamTemplates").collect())).value
    got, inserted, cursors = await _page_through(
        store, "teamTemplates", "by_featured_sort", query, [_template(*e) for e in extra]
    )
    _check(got, originals, inserted, cursors, "teamTemplates", "by_featured_sort", query)


Messages = st.lists(SmallNumber, max_size=30)


@SETTINGS
@given(times=Messages, extra=Messages, query=_queries(st.just(())))
async def test_message_pages_match_a_full_scan_while_messages_arrive(
    store: Store, times: list[float], extra: list[float], query: Query
) -> None:
    """messages.by_conversation_created: many messages share a createdAt."""

    async def conversation(tx: Transaction) -> str:
        user = await tx.insert(
            "users",
            {"clerkId": f"c{next(_serial)}", "plan": "free", "createdAt": 1, "updatedAt": 1},
        )
        conv = await tx.insert("conversations", {"userId": user, "createdAt": 1, "updatedAt": 1})
        for t in times:
            await tx.insert("messages", _message(conv, t))
        return conv

    conv = (await store.mutation(conversation)).value
    query = Query((conv,), query.lower, query.upper, query.order, query.page)

    async def originals_of(tx: Transaction) -> list[dict[str, Any]]:
        return await tx.query("messages", "by_conversation").eq("conversationId", conv).collect()

    originals = (await store.query(originals_of)).value
    got, inserted, cursors = await _page_through(
        store, "messages", "by_conversation_created", query, [_message(conv, t) for t in extra]
    )
    _check(got, originals, inserted, cursors, "messages", "by_conversation_created", query)


def _message(conversation: str, created: float) -> dict[str, Any]:
    return {
        "conversationId": conversation,
        "sender": "user",
        "content": "hi",
        "mentions": [],
        "createdAt": created,
    }


@SETTINGS
@given(
    tag_sets=st.lists(st.lists(st.sampled_from("abcde"), max_size=4), max_size=15),
    tag=st.sampled_from("abcdef"),
    page=st.integers(1, 5),
    order=st.sampled_from(["asc", "desc"]),
)
async def test_array_index_pages_find_each_tagged_document_once(
    store: Store, tag_sets: list[list[str]], tag: str, page: int, order: Literal["asc", "desc"]
) -> None:
    """advisors.by_tags: one entry per distinct element; eq(tag) finds holders once each."""

    async def reset(tx: Transaction) -> None:
        for doc in await tx.query("advisors").collect():
            await tx.delete("advisors", doc["_id"])
        for tags in tag_sets:
            await tx.insert(
                "advisors",
                {
                    "schemaVersion": "1",
                    "status": "active",
                    "persona": {"name": "N", "title": "T"},
                    "tags": tags,
                    "createdAt": 1,
                    "updatedAt": 1,
                },
            )

    await store.mutation(reset)
    query = Query((tag,), None, None, order, page)
    got, _, _ = await _page_through(store, "advisors", "by_tags", query, [])
    everyone = (await store.query(lambda tx: tx.query("advisors").collect())).value
    holders = sorted(
        (d for d in everyone if tag in d["tags"]),
        key=lambda d: key_order((d["_creationTime"], d["_id"])),
        reverse=order == "desc",
    )
    assert got == [d["_id"] for d in holders]


async def test_cursors_are_checked(store: Store) -> None:
    async def first_page(tx: Transaction) -> str:
        await tx.insert("teamTemplates", _template(True, 1))
        await tx.insert("teamTemplates", _template(True, 2))
        return ""

    await store.mutation(first_page)

    async def cursor_of(tx: Transaction) -> str:
        page = await tx.query("teamTemplates", "by_featured").paginate(1)
        return page.continue_cursor

    cursor = (await store.query(cursor_of)).value
    for bad in ("garbage!", "e30", cursor[:-4]):

        async def read(tx: Transaction, bad: str = bad) -> Any:
            return await tx.query("teamTemplates", "by_featured").paginate(1, bad)

        with pytest.raises(CursorInvalid):
            await store.query(read)
    with pytest.raises(CursorInvalid, match=r"belongs to teamTemplates\.by_featured"):
        await store.query(lambda tx: tx.query("teamTemplates", "by_sort_order").paginate(1, cursor))
    with pytest.raises(QueryInvalid, match="out of index order"):
        await store.query(
            lambda tx: tx.query("teamTemplates", "by_featured_sort").eq("sortOrder", 1).collect()
        )
    with pytest.raises(QueryInvalid, match="needs a boolean"):
        await store.query(
            lambda tx: tx.query("teamTemplates", "by_featured").eq("featured", "yes").collect()
        )
    with pytest.raises(QueryInvalid, match="no index"):
        await store.query(lambda tx: tx.query("teamTemplates", "by_nothing").collect())
