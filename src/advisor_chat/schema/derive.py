"""The physical layout every backend builds from the declaration.

A table is stored as one row per document: `_id`, `_creationTime`, the whole document as
JSON in `doc`, and one column per field some index reads (dotted paths such as
`persona.name` included), kept in step by the store on every write. An index over an array
field (`advisors.by_tags`) has an entries table with one row per distinct element, so
"advisors tagged X" walks an index instead of scanning.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from functools import cache, cached_property
from typing import Any

from advisor_chat.schema.fields import Array, ColumnKind, Object, Optional, Validator
from advisor_chat.schema.tables import TABLES, Index, Table

ID_INDEX = "by_id"

# How full inserts leave each page, in percent (PostgreSQL's fillfactor; 100 unless named).
# A table whose rows are rewritten on the hot path keeps room, so a rewrite that changes no
# indexed field stays on its page (a HOT update) and adds no index entries, which other
# writers' serializable checks would otherwise see: the quota counters are rewritten by
# every call they count.
FILLFACTOR: Mapping[str, int] = {"rateLimits": 50}


@dataclass(frozen=True)
class Column:
    """A stored copy of one (possibly nested) field, for indexing."""

    name: str  # the SQL column name: the dotted field path
    path: tuple[str, ...]
    kind: ColumnKind
    nullable: bool  # absent fields are NULL, which sorts first as Convex's `undefined`
    multikey: bool  # an array: indexed one entry per distinct element

    def extract(self, doc: Mapping[str, Any]) -> Any:
        value: Any = doc
        for part in self.path:
            if type(value) is not dict:
                return None
            value = value.get(part)
        return value

    def elements(self, doc: Mapping[str, Any]) -> list[Any]:
        """Distinct elements of a multikey column, in first-seen order."""
        values = self.extract(doc) or []
        return list(dict.fromkeys(values))


@dataclass(frozen=True)
class IndexLayout:
    table: str
    name: str
    columns: tuple[Column, ...]
    unique: bool

    @property
    def sql_name(self) -> str:
        return f"{self.table}.{self.name}"

    @cached_property
    def multikey(self) -> Column | None:
        return next((c for c in self.columns if c.multikey), None)

    @property
    def entries_table(self) -> str | None:
        """Side table holding one row per element for an index over an array field."""
        return f"{self.table}__{self.name}" if self.multikey else None

    @property
    def field_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)

    def key(self, doc: Mapping[str, Any], element: Any = None) -> tuple[Any, ...]:
        """The index key (fields..., _creationTime, _id); for an index over an array field,
        the key of one of its elements."""
        values = [element if c.multikey else c.extract(doc) for c in self.columns]
        return (*values, doc["_creationTime"], doc["_id"])

    def keys(self, doc: Mapping[str, Any]) -> list[tuple[Any, ...]]:
        """Every key of `doc`: one, or one per distinct element of the array field."""
        array = self.multikey
        if array is None:
            return [self.key(doc)]
        return [self.key(doc, element) for element in array.elements(doc)]


@dataclass(frozen=True)
class TableLayout:
    table: Table
    columns: tuple[Column, ...]  # scalar columns on the table itself
    indexes: Mapping[str, IndexLayout]

    @property
    def name(self) -> str:
        return self.table.name

    @property
    def fillfactor(self) -> int:
        return FILLFACTOR.get(self.table.name, 100)

    @cached_property
    def string_columns(self) -> tuple[Column, ...]:
        """Every indexed string field, array ones included (their entries are indexed)."""
        found = {c.name: c for i in self.indexes.values() for c in i.columns if c.kind == "string"}
        return tuple(found.values())

    def column_values(self, doc: Mapping[str, Any]) -> list[Any]:
        return [c.extract(doc) for c in self.columns]

    def entry_indexes(self) -> Iterator[IndexLayout]:
        return (i for i in self.indexes.values() if i.multikey is not None)


def _resolve(table: Table, path: str) -> Column:
    validator: Validator = table.document
    nullable = False
    parts = tuple(path.split("."))
    for part in parts:
        if isinstance(validator, Optional):
            nullable = True
            validator = validator.inner
        if not isinstance(validator, Object) or part not in validator.fields:
            raise ValueError(f"{table.name}: index field {path!r} is not declared")
        validator = validator.fields[part]
    if isinstance(validator, Optional):
        nullable = True
        validator = validator.inner
    multikey = isinstance(validator, Array)
    kind = validator.items.column_kind if isinstance(validator, Array) else validator.column_kind
    if kind is None:
        raise ValueError(f"{table.name}: index field {path!r} is not a scalar or array of one")
    return Column(path, parts, kind, nullable, multikey)


def _index_layout(table: Table, index: Index) -> IndexLayout:
    columns = tuple(_resolve(table, f) for f in index.fields)
    if sum(c.multikey for c in columns) > 1:
        raise ValueError(f"{table.name}.{index.name}: at most one array field per index")
    return IndexLayout(table.name, index.name, columns, index.unique)


def table_layout(table: Table) -> TableLayout:
    indexes = {i.name: _index_layout(table, i) for i in table.indexes}
    seen: dict[str, Column] = {}
    for layout in indexes.values():
        for column in layout.columns:
            if not column.multikey:
                seen.setdefault(column.name, column)
    return TableLayout(table, tuple(seen.values()), indexes)


@cache
def layout_of(name: str) -> TableLayout:
    return table_layout(TABLES[name])


def all_layouts(tables: Mapping[str, Table] = TABLES) -> list[TableLayout]:
    return [table_layout(t) for t in tables.values()]
