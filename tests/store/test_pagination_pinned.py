"""Pages pinned by their end cursors (Convex's reactive pagination), against the model of
test_pagination_properties: read a list page by page, keep each page's (cursor, end]; then
insert rows anywhere (before, between and after the pages) and delete rows, the rows at the
page boundaries included; re-read every page with its pinned end. The pages, joined, must be
the whole list as it now is: no row lost, none twice, in order; each page's read set must
cover exactly the keys of its range, so the live layer re-runs it for exactly those writes.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

from hypothesis import example, given
from hypothesis import strategies as st

from advisor_chat.schema.derive import IndexLayout, layout_of
from advisor_chat.store import Store, Transaction
from advisor_chat.store.cursor import decode_cursor
from advisor_chat.store.query import Page
from advisor_chat.store.reads import Key
from tests.store.test_pagination_properties import (
    SETTINGS,
    Doc,
    MaybeBool,
    MaybeNumber,
    Query,
    TemplateQueries,
    build,
    expected_keys,
    reset,
    template,
)

TABLE, INDEX = "teamTemplates", "by_featured_sort"  # two optional fields: NULLs at both ends
Row = tuple[bool | None, float | None]
Op = tuple[Literal["insert"], Row] | tuple[Literal["delete", "delete_boundary"], int]
Rows = st.lists(st.tuples(MaybeBool, MaybeNumber), max_size=16)
Ops = st.lists(
    st.one_of(
        st.tuples(st.just("insert"), st.tuples(MaybeBool, MaybeNumber)),
        st.tuples(st.sampled_from(["delete", "delete_boundary"]), st.integers(0, 1000)),
    ),
    max_size=10,
)
Bound = tuple[str | None, str | None]  # (cursor, endCursor) of one page
MAX_PAGES = 200


async def read(store: Store, query: Query, cursor: str | None, end: str | None) -> tuple[Page, Any]:
    async def run(tx: Transaction) -> Page:
        return await build(tx, index(), query).paginate(
            query.page if end is None else 1000, cursor, end
        )

    outcome = await store.query(run)
    return outcome.value, outcome.reads


def index() -> IndexLayout:
    return layout_of(TABLE).indexes[INDEX]


async def first_pages(store: Store, query: Query) -> list[Bound]:
    """Read the list as a client does the first time: each page `query.page` rows, the
    next starting where the last ended; keep each page's (cursor, continueCursor)."""
    bounds: list[Bound] = []
    cursor: str | None = None
    for _ in range(MAX_PAGES):
        page, _ = await read(store, query, cursor, None)
        bounds.append((cursor, page.continue_cursor))
        if page.is_done:
            return bounds
        cursor = page.continue_cursor
    raise AssertionError("pagination did not finish")


async def rows_now(store: Store) -> list[Doc]:
    docs: list[Doc] = (await store.query(lambda tx: tx.query(TABLE).collect())).value
    return docs


def end_key(end: str | None) -> Key | None:
    if end is None:
        return None
    layout = index()
    return decode_cursor(end, TABLE, INDEX, len(layout.columns) + 2).key


async def insert(store: Store, fields: Doc) -> None:
    async def run(tx: Transaction) -> None:
        await tx.insert(TABLE, fields)

    await store.mutation(run)


async def apply(store: Store, ops: Sequence[Op], boundaries: list[Key]) -> None:
    for op in ops:
        docs = await rows_now(store)
        if op[0] == "insert":
            await insert(store, template(*op[1]))
            continue
        if op[0] == "delete_boundary":  # a row whose key ends a page, if one is left
            docs = [d for d in docs if any(k in boundaries for k in index().keys(d))] or docs
        if docs:
            gone: str = docs[op[1] % len(docs)]["_id"]

            async def delete(tx: Transaction, gone: str = gone) -> None:
                await tx.delete(TABLE, gone)

            await store.mutation(delete)


@SETTINGS
@given(rows=Rows, ops=Ops, query=TemplateQueries)
# The measured bug: a row arriving at the head of page 1 pushed page 1's last row out of
# both pages. Pinned, page 1 grows by one and page 2 is unchanged.
@example(
    rows=[(True, 1), (True, 2), (True, 3), (True, 4)],
    ops=[("insert", (True, 0))],
    query=Query((True,), page=2),
)
# Newest first, a row arriving at the top and one deleted at the boundary of pages 1 and 2.
@example(
    rows=[(True, 1), (True, 2), (True, 3), (True, 4), (True, 5)],
    ops=[("insert", (True, 9)), ("delete_boundary", 0), ("insert", (True, 3.5))],
    query=Query((True,), order="desc", page=2),
)
# Missing values sort first: pinned ends among them, walking both ways.
@example(
    rows=[(None, None), (None, 1), (True, None), (False, 2), (None, None)],
    ops=[("insert", (None, None)), ("delete_boundary", 1), ("insert", (None, 0))],
    query=Query((), order="desc", page=2),
)
@example(
    rows=[(None, None), (None, None), (None, 1), (True, None)],
    ops=[("delete_boundary", 0), ("insert", (None, None)), ("insert", (False, None))],
    query=Query((None,), page=1),
)
async def test_pinned_pages_neither_lose_nor_repeat_a_row(
    store: Store, rows: list[Row], ops: list[Op], query: Query
) -> None:
    await reset(store, TABLE, [template(*r) for r in rows])
    bounds = await first_pages(store, query)
    boundaries = [k for _, end in bounds if (k := end_key(end)) is not None]
    await apply(store, ops, boundaries)

    docs = await rows_now(store)
    keys = [k for d in docs for k in index().keys(d)]
    want = expected_keys(keys, query)
    joined: list[Key] = []
    for n, (cursor, end) in enumerate(bounds):
        page, reads = await read(store, query, cursor, end)
        got = [k for d in page.page for k in index().keys(d) if k in want]
        assert len(got) == len(page.page)
        joined += got
        last = n == len(bounds) - 1
        assert page.is_done is last  # only the last page is done, and it stays open
        if not last:
            assert page.continue_cursor == end  # adjacent to the next page, whatever moved
        # The read set is the page's range: the keys it returned, and no other key.
        covered = [k for k in keys if reads.overlaps(TABLE, INDEX, k)]
        assert sorted(map(repr, covered)) == sorted(map(repr, got))
    assert joined == want


async def test_a_page_past_its_row_cap_is_truncated_and_splits(store: Store) -> None:
    """A pinned page holding more rows than it may read returns what fit, marked
    truncated, with a split cursor; its two halves, read pinned, are the whole range."""
    await reset(store, TABLE, [template(True, n) for n in range(7)])
    query = Query((True,), page=2)
    first, _ = await read(store, query, None, None)
    end = first.continue_cursor
    for n in range(10, 15):  # the page grows from 2 rows to 7
        await insert(store, template(True, -n))

    async def capped(tx: Transaction) -> Page:
        return await build(tx, index(), query).paginate(4, None, end)

    page = (await store.query(capped)).value
    assert page.truncated
    assert not page.is_done
    assert len(page.page) == 4
    assert page.continue_cursor == end
    assert page.split_cursor is not None
    whole, _ = await read(store, query, None, end)
    assert len(whole.page) == 7
    assert not whole.truncated
    head, _ = await read(store, query, None, page.split_cursor)
    tail, _ = await read(store, query, page.split_cursor, end)
    assert [d["_id"] for d in head.page + tail.page] == [d["_id"] for d in whole.page]
    assert len(head.page) == 2  # cut in the middle of what the capped page read
