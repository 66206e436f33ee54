"""Index range reads, built like Convex's `withIndex(...)`: equalities on a prefix of the
index fields, then an optional range on the next one, walked in either order, with a limit
and an opaque cursor. Each read records the key range it covered in the transaction's
read set: up to the last row returned when a page stops early, to the end when it does not,
and exactly (cursor, end] for a page pinned by an end cursor.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, Self

import orjson

from advisor_chat.errors import CursorInvalid, QueryInvalid
from advisor_chat.schema.derive import Column, IndexLayout
from advisor_chat.store.cursor import Position, decode_cursor, encode_cursor
from advisor_chat.store.reads import Bound, IndexRead, Key, KeyInterval
from advisor_chat.store.sql import (
    Order,
    RangeShape,
    after_params,
    range_select,
)

if TYPE_CHECKING:
    from advisor_chat.store.transaction import Transaction

Document = dict[str, Any]
MAX_PAGE = 8192  # rows one read may return


@dataclass(frozen=True)
class Page:
    """One page. `continue_cursor` starts the next page; on the last page (`is_done`) it is
    an end cursor. `split_cursor` cuts the page in two balanced halves (None under three
    rows); `truncated`: the page's range held more rows (or bytes) than the read allowed,
    so the page stops early and must be split to be whole."""

    page: list[Document]
    continue_cursor: str
    is_done: bool
    split_cursor: str | None = None
    truncated: bool = False
    size: int = 0  # characters of stored JSON in `page`


def param(column: Column, value: Any) -> Any:
    if value is None:
        return None
    if column.kind == "number":
        return float(value)
    return value


_PYTHON_TYPES: dict[str, type | tuple[type, ...]] = {
    "string": str,
    "number": (int, float),
    "boolean": bool,
}


def _fits(kind: str, value: Any) -> bool:
    if kind == "number":
        return isinstance(value, int | float) and not isinstance(value, bool)
    return isinstance(value, _PYTHON_TYPES[kind])


def _check_value(column: Column, value: Any, role: str) -> None:
    expected = _PYTHON_TYPES[column.kind]
    ok = isinstance(value, expected) and not (column.kind == "number" and isinstance(value, bool))
    if value is None and role == "eq":
        return
    if not ok:
        raise QueryInvalid(f"{column.name}: {role} needs a {column.kind}, got {value!r:.40}")


class IndexQuery:
    """A read through one index, built like Convex's `withIndex(...)`: equalities on a
    prefix of the index fields, then an optional range on the next one."""

    def __init__(self, tx: Transaction, index: IndexLayout) -> None:
        self._tx = tx
        self._index = index
        self._eq: list[Any] = []
        self._lower: tuple[Any, Literal[">", ">="]] | None = None
        self._upper: tuple[Any, Literal["<", "<="]] | None = None
        self._order: Order = "asc"

    def _next_column(self, field: str, role: str) -> Column:
        position = len(self._eq)
        columns = self._index.columns
        if role == "eq" and (self._lower is not None or self._upper is not None):
            raise QueryInvalid(f"{self._index.sql_name}: eq after a range")
        if position >= len(columns) or columns[position].name != field:
            expected = columns[position].name if position < len(columns) else "nothing"
            raise QueryInvalid(
                f"{self._index.sql_name}: {role}({field!r}) out of index order, "
                f"expected {expected!r}"
            )
        return columns[position]

    def eq(self, field: str, value: Any) -> Self:
        column = self._next_column(field, "eq")
        _check_value(column, value, "eq")
        self._eq.append(value)
        return self

    def _bound(self, field: str, value: Any) -> None:
        _check_value(self._next_column(field, "range"), value, "range")

    def gt(self, field: str, value: Any) -> Self:
        self._bound(field, value)
        self._lower = (value, ">")
        return self

    def gte(self, field: str, value: Any) -> Self:
        self._bound(field, value)
        self._lower = (value, ">=")
        return self

    def lt(self, field: str, value: Any) -> Self:
        self._bound(field, value)
        self._upper = (value, "<")
        return self

    def lte(self, field: str, value: Any) -> Self:
        self._bound(field, value)
        self._upper = (value, "<=")
        return self

    def order(self, order: Order) -> Self:
        if order not in ("asc", "desc"):
            raise QueryInvalid(f"order must be 'asc' or 'desc', not {order!r}")
        self._order = order
        return self

    async def take(self, n: int) -> list[Document]:
        docs, _, _ = await self._run(n, None)
        return docs

    async def first(self) -> Document | None:
        docs = await self.take(1)
        return docs[0] if docs else None

    async def unique(self) -> Document | None:
        docs = await self.take(2)
        if len(docs) > 1:
            raise QueryInvalid(f"{self._index.sql_name}: more than one document matched")
        return docs[0] if docs else None

    async def collect(self) -> list[Document]:
        docs, _, _ = await self._run(None, None)
        return docs

    async def count(self, up_to: int) -> int:
        """How many documents the range holds, counting no further than `up_to` (a limit
        check needs no more). The whole range joins the read set, so any write into it
        conflicts: two transactions cannot both find room for the last document."""
        sql, params = self._statement(up_to, None)
        rows = await self._tx.conn.fetch(f"SELECT COUNT(*) FROM ({sql}) AS counted", params)
        self._record(None, None)
        return int(rows[0][0])

    async def paginate(
        self,
        num_items: int,
        cursor: str | None = None,
        end_cursor: str | None = None,
        *,
        max_bytes: int | None = None,
    ) -> Page:
        """The rows after `cursor`: `num_items` of them; or, given `end_cursor`, every row
        up to and including its key however many there now are (up to `num_items`, past
        which the page is `truncated`), so a page re-read with the end it first answered
        neither loses nor repeats a row while others are written around it. An end cursor
        from a last page leaves the page open to the range's end. `max_bytes` stops the page
        after the row that reaches that many characters of stored JSON (at least one row).
        """
        if not 1 <= num_items <= MAX_PAGE:
            raise QueryInvalid(f"numItems must be between 1 and {MAX_PAGE}")
        start = self._decode(cursor) if cursor else Position(None)
        end = self._decode(end_cursor) if end_cursor else None
        pinned = end is not None and not end.end
        until = end.key if end is not None and not end.end else None
        rows = await self._fetch(num_items + 1 if end is not None else num_items, start, until)
        docs, keys, size = self._take(rows, num_items, max_bytes)
        # Rows left in the range: ones fetched but not taken, or (no end) a full page.
        full = len(rows) > len(docs) or (end is None and len(rows) == num_items)
        done = not full and not pinned
        truncated = full and end is not None
        reached: Key | None = None  # done: to the range's end
        if full:
            reached = keys[-1]  # what the page read
        elif pinned:
            reached = until  # the whole of (cursor, end]: whatever is written into it
        self._record(start.key, reached)
        table, name = self._index.table, self._index.name
        split = None
        if len(keys) > 2:
            split = encode_cursor(table, name, keys[(len(keys) - 1) // 2])
        if pinned and end_cursor:
            continue_cursor = end_cursor
        elif done or end is not None:
            continue_cursor = encode_cursor(table, name, keys[-1] if keys else start.key, end=True)
        else:
            continue_cursor = encode_cursor(table, name, keys[-1])
        is_done = done or (end is not None and end.end)
        return Page(docs, continue_cursor, is_done, split, truncated, size)

    async def explain(self, num_items: int | None = 50, cursor: str | None = None) -> str:
        """The database's own plan for the read `paginate(num_items, cursor)` would run."""
        key = self._decode(cursor).key if cursor else None
        sql, params = self._statement(num_items, key)
        rows = await self._tx.conn.fetch(self._tx.dialect.explain_prefix + sql, params)
        return "\n".join(str(row[-1]) for row in rows)

    def _decode(self, cursor: str) -> Position:
        """A cursor's key must fit the index: each value of its field's kind (or missing
        where the field is optional), then a number and a string for (_creationTime, _id)."""
        index = self._index
        position = decode_cursor(cursor, index.table, index.name, len(index.columns) + 2)
        key = position.key
        if key is None:
            return position
        for column, value in zip(index.columns, key, strict=False):
            if value is None and column.nullable:
                continue
            if not _fits(column.kind, value):
                raise CursorInvalid("cursor is not valid for this index")
        if not _fits("number", key[-2]) or not _fits("string", key[-1]):
            raise CursorInvalid("cursor is not valid for this index")
        return position

    async def _run(
        self, limit: int | None, cursor: Key | None
    ) -> tuple[list[Document], Key | None, bool]:
        sql, params = self._statement(limit, cursor)
        rows = await self._tx.conn.fetch(sql, params)
        loads = orjson.loads
        docs = [loads(r[0]) for r in rows]
        done = limit is None or len(rows) < limit
        last: Key | None = None
        if docs:
            last = self._key_of(docs[-1], rows[-1])
        self._record(cursor, None if done else last)
        return docs, last, done

    async def _fetch(self, limit: int, start: Position, until: Key | None) -> list[Any]:
        sql, params = self._statement(limit, start.key, until)
        return list(await self._tx.conn.fetch(sql, params))

    def _take(
        self, rows: list[Any], limit: int, max_bytes: int | None
    ) -> tuple[list[Document], list[Key], int]:
        """The first `limit` rows, stopping after the one that reaches `max_bytes`."""
        loads = orjson.loads
        docs: list[Document] = []
        keys: list[Key] = []
        size = 0
        for row in rows[:limit]:
            doc = loads(row[0])
            docs.append(doc)
            keys.append(self._key_of(doc, row))
            size += len(row[0])
            if max_bytes is not None and size >= max_bytes:
                break
        return docs, keys, size

    def _statement(
        self, limit: int | None, cursor: Key | None, until: Key | None = None
    ) -> tuple[str, list[Any]]:
        if limit is not None and not 1 <= limit <= MAX_PAGE:
            raise QueryInvalid(f"limit must be between 1 and {MAX_PAGE}")
        index = self._index
        columns = index.columns
        k = len(self._eq)
        eq = self._eq
        params: list[Any] = [
            param(c, v) for c, v in zip(columns, eq, strict=False) if v is not None
        ]
        tail_columns = columns[k:]
        if self._lower is not None:
            params.append(param(tail_columns[0], self._lower[0]))
        if self._upper is not None:
            params.append(param(tail_columns[0], self._upper[0]))
        cursor_nulls: tuple[bool, ...] | None = None
        row = False
        if cursor is not None:
            if tuple(cursor[:k]) != tuple(eq):
                raise QueryInvalid("cursor belongs to another range of this index")
            tail = cursor[k:]
            cursor_nulls = tuple(v is None for v in tail)
            nullable = [c.nullable for c in tail_columns] + [False, False]
            # A row comparison lets the database seek to the cursor. Ascending, it is exact
            # even over optional fields: a row holding NULL compares false, and NULLs sort
            # first, behind the cursor. Descending, NULLs come after it, so spell it out.
            row = not any(cursor_nulls) and (self._order == "asc" or not any(nullable))
            tail_params = [param(c, v) for c, v in zip(tail_columns, tail, strict=False)] + list(
                tail[len(tail_columns) :]
            )
            params += after_params(tuple(tail_params), cursor_nulls, self._order, row)
        end_nulls: tuple[bool, ...] | None = None
        row_end = False
        if until is not None:
            if tuple(until[:k]) != tuple(eq):
                raise QueryInvalid("end cursor belongs to another range of this index")
            tail = until[k:]
            end_nulls = tuple(v is None for v in tail)
            nullable = [c.nullable for c in tail_columns] + [False, False]
            back: Order = "desc" if self._order == "asc" else "asc"
            row_end = not any(end_nulls) and (back == "asc" or not any(nullable))
            tail_params = [param(c, v) for c, v in zip(tail_columns, tail, strict=False)] + list(
                tail[len(tail_columns) :]
            )
            params += after_params(tuple(tail_params), end_nulls, back, row_end)
        if limit is not None:
            params.append(limit)
        shape = RangeShape(
            eq_nulls=tuple(v is None for v in eq),
            lower=self._lower[1] if self._lower else "",
            upper=self._upper[1] if self._upper else "",
            order=self._order,
            cursor_nulls=cursor_nulls,
            row_cursor=row,
            limited=limit is not None,
            end_nulls=end_nulls,
            row_end=row_end,
        )
        return range_select(self._tx.dialect, index, shape), params

    def _key_of(self, doc: Document, row: Any) -> Key:
        array = self._index.multikey
        if array is None:
            return self._index.key(doc)
        element = row[1]  # the entry's element, selected beside the document
        if array.kind == "boolean" and element is not None:
            element = bool(element)
        return self._index.key(doc, element)

    def _record(self, cursor: Key | None, reached: Key | None) -> None:
        prefix = tuple(self._eq)
        lower = Bound(prefix, True) if prefix else None
        upper = Bound(prefix, True) if prefix else None
        if self._lower is not None:
            lower = Bound((*prefix, self._lower[0]), self._lower[1] == ">=")
        if self._upper is not None:
            upper = Bound((*prefix, self._upper[0]), self._upper[1] == "<=")
        if self._order == "asc":
            if cursor is not None:
                lower = Bound(cursor, False)
            if reached is not None:
                upper = Bound(reached, True)
        else:
            if cursor is not None:
                upper = Bound(cursor, False)
            if reached is not None:
                lower = Bound(reached, True)
        interval = KeyInterval(lower, upper)
        self._tx.reads.record(IndexRead(self._index.table, self._index.name, interval))
