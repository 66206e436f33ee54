"""One transaction: get / insert / patch / replace / delete by `_id`, index range reads and
full-text searches.

Every read is recorded in `reads` (index ranges) and every write in `writes` (old and new
index keys), which is all the live layer needs to decide what a commit touched. Every write
is validated against the table's declaration before it reaches SQL; a write the database
refuses (a uniqueness rule) leaves the transaction unusable, on every backend alike, so it
can only roll back.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

import orjson

from advisor_chat.errors import DocumentInvalid, DocumentMissing, QueryInvalid, StoreError
from advisor_chat.schema.derive import ID_INDEX, IndexLayout, TableLayout, layout_of
from advisor_chat.schema.ids import (
    ID_LENGTH,
    DocumentId,
    IdGenerator,
    is_valid_id,
    table_number_of,
)
from advisor_chat.schema.tables import SYSTEM_FIELDS
from advisor_chat.store import search as search_sql
from advisor_chat.store.backend import Connection
from advisor_chat.store.cascade import (
    INLINE_ROWS,
    Child,
    child_rule,
    children_of,
    deferred_call,
)
from advisor_chat.store.commits import Write
from advisor_chat.store.query import IndexQuery, param
from advisor_chat.store.reads import Bound, IndexRead, Key, KeyInterval, ReadSet
from advisor_chat.store.sql import Dialect, table_statements

Document = dict[str, Any]
MAX_DOCUMENT_BYTES = 1 << 20  # as Convex: 1 MiB a document


class _Unset:
    def __repr__(self) -> str:
        return "UNSET"


UNSET: Any = _Unset()  # `patch(..., {"field": UNSET})` removes an optional field


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


class Transaction:
    """A store transaction. Obtain one from `Store.query` or `Store.mutation`."""

    def __init__(
        self,
        conn: Connection,
        dialect: Dialect,
        ids: IdGenerator,
        *,
        readonly: bool,
        take_turn: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        self.conn = conn
        self.dialect = dialect
        self.readonly = readonly
        self.reads = ReadSet()
        self.writes: list[Write] = []
        self._ids = ids
        self._failed: StoreError | None = None
        self._cascade_room = INLINE_ROWS  # children this transaction may still take inline
        self._take_turn = take_turn

    async def commit_in_turn(self) -> None:
        """From here until it has committed (or rolled back), this transaction runs alone
        among the process's mutations that called this too: they read, write and commit
        one after another, in the order they got here.

        For the end of a mutation that rewrites a row whose indexed fields change, such as
        a conversation's `updatedAt`. That rewrite adds entries to every index of the
        table, on the index pages where other transactions look up their own rows, and
        PostgreSQL's serializable check tracks index reads by page: two senders in
        different conversations would conflict whenever one's read of its conversation
        and the other's rewrite overlapped. So read such a row, and rewrite it, after this
        call; the turn lasts a few round trips."""
        if self._take_turn is None:
            raise StoreError("a query cannot write; use a mutation")
        await self._take_turn()

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

    async def search(
        self,
        table: str,
        index: str,
        text: str,
        filters: Mapping[str, Sequence[Any]],
        limit: int = 20,
    ) -> list[Document]:
        """Documents whose search field has every word of `text` (the last as a prefix),
        with each filter field equal to one of its values: best match first, at most
        `limit` (<= MAX_RESULTS). A text without words finds nothing."""
        layout = _layout(table)
        self._check_usable()
        found = next((s for s in layout.table.search_indexes if s.name == index), None)
        if found is None:
            raise QueryInvalid(f"{table} has no search index {index!r}")
        unknown = set(filters) - set(found.filter_fields)
        if unknown:
            raise QueryInvalid(f"{table}.{index} cannot filter on {', '.join(sorted(unknown))}")
        if not 1 <= limit <= search_sql.MAX_RESULTS:
            raise QueryInvalid(f"limit must be between 1 and {search_sql.MAX_RESULTS}")
        self._record_search_reads(layout, filters)
        words = search_sql.terms(text)
        if not words or any(len(values) == 0 for values in filters.values()):
            return []
        sql, params = search_sql.select(self.dialect, layout, found, words, filters, limit)
        return [orjson.loads(row[0]) for row in await self.conn.fetch(sql, params)]

    def _record_search_reads(
        self, layout: TableLayout, filters: Mapping[str, Sequence[Any]]
    ) -> None:
        """A search depends on every document with its filter values (or on the whole
        table, unfiltered): any write there may change which documents match, or how well."""
        for name, values in filters.items():
            leading = next(i for i in layout.table.indexes if i.fields[:1] == (name,))
            for value in values:
                point = Bound((value,), True)
                self.reads.record(IndexRead(layout.name, leading.name, KeyInterval(point, point)))
        if not filters:
            self.reads.record(IndexRead(layout.name, "by_creation_time", KeyInterval(None, None)))

    # --- writes --------------------------------------------------------------------------

    def check(self, table: str, fields: Mapping[str, Any]) -> None:
        """Every check a write of `fields` makes before it reaches the database, without
        writing: a refused document raises `DocumentInvalid`. (Writes run these same checks
        first, so a refused one leaves the transaction usable; only the database's own
        refusals, such as a uniqueness rule, end it.)"""
        layout = _layout(table)
        self._validate(layout, fields)
        doc: Document = {"_id": "0" * ID_LENGTH, "_creationTime": 0.0, **fields}
        self._check_indexable(layout, doc)
        self._encode(layout, doc)

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
        self._check_indexable(layout, doc)
        payload = self._encode(layout, doc)  # before the guard: our own check, not SQL's
        await self._guard(self._insert_row(layout, doc, payload))
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
        self._validate(layout, fields)  # refuses _id / _creationTime, as insert does
        new: Document = {"_id": old["_id"], "_creationTime": old["_creationTime"], **fields}
        await self._update(layout, old, new)
        return new

    async def delete(self, table: str, doc_id: str) -> None:
        """Delete a document and what points at it (see `OnDelete` in the schema): a
        conversation takes its messages, memories, summaries and typing rows with it. In
        this transaction while they are few; beyond that, in durable batches that this
        transaction schedules (see `store/cascade.py`)."""
        layout = _layout(table)
        self._check_writable()
        old = await self._existing(layout, doc_id)
        for child in children_of(table):
            await self._cascade(child, doc_id)
        statements = table_statements(self.dialect, layout)

        async def run() -> None:
            for sql in statements.entries_delete.values():
                await self.conn.execute(sql, (doc_id,))
            await self.conn.execute(statements.delete, (doc_id,))

        await self._guard(run())
        self.writes.append(Write(table, doc_id, _all_keys(layout, old), None))

    async def cascade_batch(self, table: str, field: str, parent_id: str) -> int:
        """One deferred batch: up to a batch of rows of `table` following `parent_id` by
        `field` (BATCH_ROWS, fewer for rows that have children of their own) are removed
        or updated, per the rule, and the next batch is scheduled if rows may remain.
        Returns how many rows this batch took. If the parent exists again (a backup
        restored over it, say), the rows are its own once more and the batches stop."""
        child = child_rule(table, field)
        if child is None:
            raise QueryInvalid(f"no delete rule follows {table}.{field}")
        self._check_writable()
        if await self.get(child.parent, parent_id) is not None:
            return 0
        found = self.query(child.table, child.index).eq(child.field, parent_id)
        rows = await found.take(child.batch)
        for row in rows:
            await self._follow(child, row, parent_id)
        if len(rows) == child.batch:
            await self.insert("scheduledFunctions", deferred_call(child, parent_id))
        return len(rows)

    async def _cascade(self, child: Child, parent_id: str) -> None:
        fits = self._cascade_room // child.cost
        found = self.query(child.table, child.index).eq(child.field, parent_id)
        rows = await found.take(fits + 1)
        if len(rows) > fits:  # too many for one transaction: batches take them all
            self._cascade_room = max(0, self._cascade_room - 1)
            await self.insert("scheduledFunctions", deferred_call(child, parent_id))
            return
        self._cascade_room -= len(rows) * child.cost
        for row in rows:
            await self._follow(child, row, parent_id)

    async def _follow(self, child: Child, row: Document, parent_id: str) -> None:
        if child.action == "cascade":
            await self.delete(child.table, row["_id"])
        elif child.action == "unset":
            await self.patch(child.table, row["_id"], {child.field: UNSET})
        else:
            kept = [item for item in row[child.field] if item != parent_id]
            await self.patch(child.table, row["_id"], {child.field: kept})

    # --- internals -----------------------------------------------------------------------

    def raise_if_failed(self) -> None:
        """Re-raise the write the database refused, so the mutation rolls back."""
        if self._failed is not None:
            raise self._failed

    def _check_indexable(self, layout: TableLayout, doc: Document) -> None:
        """PostgreSQL text cannot hold NUL; refuse it in indexed strings on every backend
        (elsewhere in a document it is stored escaped in the JSON and is fine)."""
        for column in layout.string_columns:
            value = column.extract(doc)
            values = value if column.multikey and type(value) is list else (value,)
            for item in values:
                if type(item) is str and "\x00" in item:
                    raise DocumentInvalid(layout.name, column.name, "indexed string contains NUL")
        for search in layout.table.search_indexes:
            text = search_sql.searched_text(search, doc)
            if text is not None and "\x00" in text:
                raise DocumentInvalid(
                    layout.name, search.search_field, "searched text contains NUL"
                )

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
        values = [param(c, c.extract(doc)) for c in layout.columns]
        if self.dialect.name == "postgres":
            values += [search_sql.searched_text(s, doc) for s in layout.table.search_indexes]
        return values

    async def _insert_row(self, layout: TableLayout, doc: Document, payload: str) -> None:
        statements = table_statements(self.dialect, layout)
        params = [doc["_id"], doc["_creationTime"], payload, *self._column_params(layout, doc)]
        await self.conn.execute(statements.insert, params)
        for index in layout.entry_indexes():
            await self._insert_entries(index, doc)

    async def _insert_entries(self, index: IndexLayout, doc: Document) -> None:
        sql = table_statements(self.dialect, _layout(index.table)).entries_insert[index.name]
        rows = [
            [param(c, v) for c, v in zip(index.columns, key, strict=False)] + list(key[-2:])
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
        self._check_indexable(layout, new)
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
