"""One transaction: get / insert / patch / replace / delete by `_id`, and index range reads.

Every read is recorded in `reads` (index ranges) and every write in `writes` (old and new
index keys), which is all the live layer needs to decide what a commit touched. Every write
is validated against the table's declaration before it reaches SQL; a write that fails
leaves the transaction unusable, on every backend alike, so it can only roll back.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from typing import Any, Literal, Self

import orjson

from advisor_chat.errors import DocumentInvalid, DocumentMissing, QueryInvalid, StoreError
from advisor_chat.schema.derive import ID_INDEX, Column, IndexLayout, TableLayout, layout_of
from advisor_chat.schema.ids import DocumentId, IdGenerator, is_valid_id, table_number_of
from advisor_chat.schema.tables import SYSTEM_FIELDS, TABLES
from advisor_chat.store.backend import Connection
from advisor_chat.store.commits import Write
from advisor_chat.store.cursor import decode_cursor, encode_cursor
from advisor_chat.store.reads import Bound, IndexRead, Key, KeyInterval, ReadSet
from advisor_chat.store.sql import (
    Dialect,
    Order,
    RangeShape,
    after_params,
    can_compare_rows,
    range_select,
    table_statements,
)

Document = dict[str, Any]
MAX_DOCUMENT_BYTES = 1 << 20  # as Convex: 1 MiB a document
MAX_PAGE = 8192  # rows one read may return


class _Unset:
    def __repr__(self) -> str:
        return "UNSET"


UNSET: Any = _Unset()  # `patch(..., {"field": UNSET})` removes an optional field


@dataclass(frozen=True)
class Page:
    page: list[Document]
    continue_cursor: str
    is_done: bool


@dataclass(frozen=True)
class _Child:
    table: str
    field: str
    index: str
    action: Literal["cascade", "unset"]


@cache
def _children(parent: str) -> tuple[_Child, ...]:
    """Rows that point at a `parent` document, and the index that finds them."""
    found = []
    for table in TABLES.values():
        for rule in table.on_delete:
            if rule.parent != parent:
                continue
            index = next(i for i in table.indexes if i.fields and i.fields[0] == rule.field)
            found.append(_Child(table.name, rule.field, index.name, rule.action))
    return tuple(found)


def _layout(table: str) -> TableLayout:
    try:
        return layout_of(table)
    except KeyError:
        raise QueryInvalid(f"unknown table {table!r}") from None


def _all_keys(layout: TableLayout, doc: Mapping[str, Any]) -> dict[str, list[Key]]:
    keys: dict[str, list[Key]] = {ID_INDEX: [(doc["_id"],)]}
    for name, index in layout.indexes.items():
        keys[name] = index.keys(doc)
    return keys


def _param(column: Column, value: Any) -> Any:
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

    def _bound(self, field: str, value: Any, op: str) -> Column:
        column = self._next_column(field, "range")
        _check_value(column, value, "range")
        return column

    def gt(self, field: str, value: Any) -> Self:
        self._bound(field, value, ">")
        self._lower = (value, ">")
        return self

    def gte(self, field: str, value: Any) -> Self:
        self._bound(field, value, ">=")
        self._lower = (value, ">=")
        return self

    def lt(self, field: str, value: Any) -> Self:
        self._bound(field, value, "<")
        self._upper = (value, "<")
        return self

    def lte(self, field: str, value: Any) -> Self:
        self._bound(field, value, "<=")
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

    async def paginate(self, num_items: int, cursor: str | None = None) -> Page:
        if not 1 <= num_items <= MAX_PAGE:
            raise QueryInvalid(f"numItems must be between 1 and {MAX_PAGE}")
        key = self._decode(cursor) if cursor else None
        docs, last, done = await self._run(num_items, key)
        if last is not None:
            next_cursor = encode_cursor(self._index.table, self._index.name, last)
        else:
            next_cursor = cursor or ""
        return Page(docs, next_cursor, done)

    async def explain(self, num_items: int | None = 50, cursor: str | None = None) -> str:
        """The database's own plan for the read `paginate(num_items, cursor)` would run."""
        key = self._decode(cursor) if cursor else None
        sql, params = self._statement(num_items, key)
        rows = await self._tx.conn.fetch(self._tx.dialect.explain_prefix + sql, params)
        return "\n".join(str(row[-1]) for row in rows)

    def _decode(self, cursor: str) -> Key:
        index = self._index
        return decode_cursor(cursor, index.table, index.name, len(index.columns) + 2)

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

    def _statement(self, limit: int | None, cursor: Key | None) -> tuple[str, list[Any]]:
        if limit is not None and not 1 <= limit <= MAX_PAGE:
            raise QueryInvalid(f"limit must be between 1 and {MAX_PAGE}")
        index = self._index
        columns = index.columns
        k = len(self._eq)
        eq = self._eq
        params: list[Any] = [
            _param(c, v) for c, v in zip(columns, eq, strict=False) if v is not None
        ]
        tail_columns = columns[k:]
        if self._lower is not None:
            params.append(_param(tail_columns[0], self._lower[0]))
        if self._upper is not None:
            params.append(_param(tail_columns[0], self._upper[0]))
        cursor_nulls: tuple[bool, ...] | None = None
        row = False
        if cursor is not None:
            if tuple(cursor[:k]) != tuple(eq):
                raise QueryInvalid("cursor belongs to another range of this index")
            tail = cursor[k:]
            cursor_nulls = tuple(v is None for v in tail)
            nullable = [c.nullable for c in tail_columns] + [False, False]
            row = can_compare_rows(nullable, cursor_nulls)
            tail_params = [_param(c, v) for c, v in zip(tail_columns, tail, strict=False)] + list(
                tail[len(tail_columns) :]
            )
            params += after_params(tuple(tail_params), cursor_nulls, self._order, row)
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


class Transaction:
    """A store transaction. Obtain one from `Store.query` or `Store.mutation`."""

    def __init__(
        self, conn: Connection, dialect: Dialect, ids: IdGenerator, *, readonly: bool
    ) -> None:
        self.conn = conn
        self.dialect = dialect
        self.readonly = readonly
        self.reads = ReadSet()
        self.writes: list[Write] = []
        self._ids = ids
        self._failed: StoreError | None = None

    # --- reads ---------------------------------------------------------------------------

    def query(self, table: str, index: str = "by_creation_time") -> IndexQuery:
        layout = _layout(table)
        found = layout.indexes.get(index)
        if found is None:
            raise QueryInvalid(f"{table} has no index {index!r}")
        return IndexQuery(self, found)

    async def get(self, table: str, doc_id: str) -> Document | None:
        layout = _layout(table)
        self._check_usable()
        self.reads.record(
            IndexRead(table, ID_INDEX, KeyInterval(Bound((doc_id,), True), Bound((doc_id,), True)))
        )
        if type(doc_id) is not str or not is_valid_id(doc_id):
            return None
        number = table_number_of(doc_id)
        if number is not None and number != layout.table.number:
            return None
        rows = await self.conn.fetch(table_statements(self.dialect, layout).get, (doc_id,))
        return orjson.loads(rows[0][0]) if rows else None

    # --- writes --------------------------------------------------------------------------

    async def insert(
        self,
        table: str,
        fields: Mapping[str, Any],
        *,
        id: str | None = None,
        creation_time: float | None = None,
    ) -> DocumentId:
        """Insert a document. `id`/`creation_time` keep an imported document's own."""
        layout = _layout(table)
        self._check_writable()
        self._validate(layout, fields)
        doc_id = self._ids.new_id(table) if id is None else self._imported_id(layout, id)
        created = self._ids.creation_time() if creation_time is None else float(creation_time)
        doc: Document = {"_id": doc_id, "_creationTime": created, **fields}
        await self._guard(self._insert_row(layout, doc))
        self.writes.append(Write(table, doc_id, None, _all_keys(layout, doc)))
        return doc_id

    async def patch(self, table: str, doc_id: str, fields: Mapping[str, Any]) -> Document:
        """Shallow-merge `fields`; `UNSET` removes one. Returns the new document."""
        layout = _layout(table)
        self._check_writable()
        old = await self._existing(layout, doc_id)
        new = dict(old)
        for key, value in fields.items():
            if key in SYSTEM_FIELDS:
                raise DocumentInvalid(table, key, "system field, set by the store")
            if value is UNSET:
                new.pop(key, None)
            else:
                new[key] = value
        await self._update(layout, old, new)
        return new

    async def replace(self, table: str, doc_id: str, fields: Mapping[str, Any]) -> Document:
        layout = _layout(table)
        self._check_writable()
        old = await self._existing(layout, doc_id)
        new: Document = {"_id": old["_id"], "_creationTime": old["_creationTime"], **fields}
        await self._update(layout, old, new)
        return new

    async def delete(self, table: str, doc_id: str) -> None:
        """Delete a document and, in this same transaction, what points at it (see
        `OnDelete` in the schema): a conversation takes its messages, memories, summaries
        and typing rows with it."""
        layout = _layout(table)
        self._check_writable()
        old = await self._existing(layout, doc_id)
        for child in _children(table):
            rows = await self.query(child.table, child.index).eq(child.field, doc_id).collect()
            for row in rows:
                if child.action == "cascade":
                    await self.delete(child.table, row["_id"])
                else:
                    await self.patch(child.table, row["_id"], {child.field: UNSET})
        statements = table_statements(self.dialect, layout)

        async def run() -> None:
            for sql in statements.entries_delete.values():
                await self.conn.execute(sql, (doc_id,))
            await self.conn.execute(statements.delete, (doc_id,))

        await self._guard(run())
        self.writes.append(Write(table, doc_id, _all_keys(layout, old), None))

    # --- internals -----------------------------------------------------------------------

    def _check_usable(self) -> None:
        if self._failed is not None:
            raise StoreError(f"transaction failed earlier and can only roll back: {self._failed}")

    def _check_writable(self) -> None:
        if self.readonly:
            raise StoreError("a query cannot write; use a mutation")
        self._check_usable()

    async def _guard(self, op: Any) -> None:
        try:
            await op
        except StoreError as exc:
            self._failed = exc
            raise

    def _validate(self, layout: TableLayout, fields: Mapping[str, Any]) -> None:
        if type(fields) is not dict:
            raise DocumentInvalid(layout.name, "(document)", "expected object")
        for key in fields:
            if key in SYSTEM_FIELDS:
                raise DocumentInvalid(layout.name, key, "system field, set by the store")
        layout.table.document.check(fields, layout.name, "")

    def _imported_id(self, layout: TableLayout, doc_id: str) -> DocumentId:
        if type(doc_id) is not str or not is_valid_id(doc_id):
            raise DocumentInvalid(layout.name, "_id", "not a valid id")
        number = table_number_of(doc_id)
        if number is not None and number != layout.table.number:
            raise DocumentInvalid(layout.name, "_id", "an id of another table")
        return DocumentId(doc_id)

    def _encode(self, layout: TableLayout, doc: Document) -> str:
        payload = orjson.dumps(doc)
        if len(payload) > MAX_DOCUMENT_BYTES:
            raise DocumentInvalid(
                layout.name, "(document)", f"larger than {MAX_DOCUMENT_BYTES} bytes"
            )
        return payload.decode()

    def _column_params(self, layout: TableLayout, doc: Document) -> list[Any]:
        return [_param(c, c.extract(doc)) for c in layout.columns]

    async def _insert_row(self, layout: TableLayout, doc: Document) -> None:
        statements = table_statements(self.dialect, layout)
        payload = self._encode(layout, doc)
        params = [doc["_id"], doc["_creationTime"], payload, *self._column_params(layout, doc)]
        await self.conn.execute(statements.insert, params)
        for index in layout.entry_indexes():
            await self._insert_entries(index, doc)

    async def _insert_entries(self, index: IndexLayout, doc: Document) -> None:
        sql = table_statements(self.dialect, _layout(index.table)).entries_insert[index.name]
        rows = [
            [_param(c, v) for c, v in zip(index.columns, key, strict=False)] + list(key[-2:])
            for key in index.keys(doc)
        ]
        if rows:
            await self.conn.execute_many(sql, rows)

    async def _existing(self, layout: TableLayout, doc_id: str) -> Document:
        doc = await self.get(layout.name, doc_id)
        if doc is None:
            raise DocumentMissing(layout.name, doc_id)
        return doc

    async def _update(self, layout: TableLayout, old: Document, new: Document) -> None:
        body = {k: v for k, v in new.items() if k not in SYSTEM_FIELDS}
        self._validate(layout, body)
        statements = table_statements(self.dialect, layout)
        payload = self._encode(layout, new)

        async def run() -> None:
            params = [payload, *self._column_params(layout, new), new["_id"]]
            await self.conn.execute(statements.update, params)
            for index in layout.entry_indexes():
                if index.keys(old) != index.keys(new):
                    await self.conn.execute(statements.entries_delete[index.name], (new["_id"],))
                    await self._insert_entries(index, new)

        await self._guard(run())
        self.writes.append(
            Write(layout.name, new["_id"], _all_keys(layout, old), _all_keys(layout, new))
        )
