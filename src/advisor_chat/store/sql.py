"""SQL text for both dialects, generated from the layout and cached by shape.

Written with `?` placeholders; PostgreSQL's `$n` numbering is applied once per cached
statement, so the hot path never formats SQL.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from typing import Any, Literal

from advisor_chat.schema.derive import Column, IndexLayout, TableLayout, layout_of

DialectName = Literal["sqlite", "postgres"]
Order = Literal["asc", "desc"]
SYSTEM_COLUMNS = ("_creationTime", "_id")


def q(name: str) -> str:
    """Quote an identifier. Our names are ASCII letters, digits, '_' and '.'."""
    return f'"{name}"'


@dataclass(frozen=True)
class Dialect:
    name: DialectName

    def column_type(self, column: Column) -> str:
        if self.name == "sqlite":
            return {"string": "TEXT", "number": "REAL", "boolean": "INTEGER"}[column.kind]
        # "C" collation: byte order, the same order Python and Convex give strings.
        return {"string": 'text COLLATE "C"', "number": "double precision", "boolean": "boolean"}[
            column.kind
        ]

    @property
    def id_type(self) -> str:
        return "TEXT" if self.name == "sqlite" else 'text COLLATE "C"'

    @property
    def time_type(self) -> str:
        return "REAL" if self.name == "sqlite" else "double precision"

    @property
    def doc_type(self) -> str:
        return "TEXT" if self.name == "sqlite" else "text"

    def order(self, order: Order) -> str:
        """Missing fields sort first ascending, as Convex's `undefined`; SQLite does so by
        default, PostgreSQL must be told."""
        if self.name == "sqlite":
            return "ASC" if order == "asc" else "DESC"
        return "ASC NULLS FIRST" if order == "asc" else "DESC NULLS LAST"

    @property
    def explain_prefix(self) -> str:
        return "EXPLAIN QUERY PLAN " if self.name == "sqlite" else "EXPLAIN "

    def render(self, sql: str) -> str:
        if self.name == "sqlite":
            return sql
        counter = iter(range(1, 10_000))
        return re.sub(r"\?", lambda _: f"${next(counter)}", sql)


SQLITE = Dialect("sqlite")
POSTGRES = Dialect("postgres")


def search_columns(d: Dialect, layout: TableLayout) -> list[str]:
    """Columns holding searched text: PostgreSQL only (see `store.search`); SQLite's
    full-text index reads the text out of the document itself."""
    return [s.name for s in layout.table.search_indexes] if d.name == "postgres" else []


# --- DDL -----------------------------------------------------------------------------------


def create_table(d: Dialect, layout: TableLayout) -> list[str]:
    cols = [
        f"{q('_id')} {d.id_type} PRIMARY KEY",
        f"{q('_creationTime')} {d.time_type} NOT NULL",
        f"{q('doc')} {d.doc_type} NOT NULL",
    ]
    cols += [f"{q(c.name)} {d.column_type(c)}" for c in layout.columns]
    cols += [f"{q(name)} text" for name in search_columns(d, layout)]
    create = f"CREATE TABLE IF NOT EXISTS {q(layout.name)} ({', '.join(cols)})"
    if (fillfactor := table_fillfactor(d, layout)) is not None:
        create += f" WITH (fillfactor = {fillfactor})"
    statements = [create]
    for index in layout.entry_indexes():
        statements.append(create_entries_table(d, index))
    return statements


def table_fillfactor(d: Dialect, layout: TableLayout) -> int | None:
    """The table's declared fillfactor where it is not the default (PostgreSQL only)."""
    return layout.fillfactor if d.name == "postgres" and layout.fillfactor != 100 else None


def set_fillfactor(d: Dialect, layout: TableLayout) -> str:
    """Bring an existing table to its declared fillfactor (pages written from now on)."""
    if (fillfactor := table_fillfactor(d, layout)) is None:
        return f"ALTER TABLE {q(layout.name)} RESET (fillfactor)"
    return f"ALTER TABLE {q(layout.name)} SET (fillfactor = {fillfactor})"


def create_entries_table(d: Dialect, index: IndexLayout) -> str:
    assert index.entries_table is not None
    cols = [f"{q(c.name)} {d.column_type(c)}" for c in index.columns]
    cols += [f"{q('_creationTime')} {d.time_type} NOT NULL", f"{q('_id')} {d.id_type} NOT NULL"]
    return f"CREATE TABLE IF NOT EXISTS {q(index.entries_table)} ({', '.join(cols)})"


def index_definition(d: Dialect, index: IndexLayout) -> str:
    """The CREATE INDEX for one declared index. A unique index covers just its fields (the
    rule); any other ends in (_creationTime, _id), the order reads and cursors walk."""
    target = index.entries_table or index.table
    columns = list(index.field_names)
    if not index.unique:
        columns += SYSTEM_COLUMNS
    ordered = ", ".join(f"{q(c)} {d.order('asc')}" for c in columns)
    unique = "UNIQUE " if index.unique else ""
    return f"CREATE {unique}INDEX IF NOT EXISTS {q(index.sql_name)} ON {q(target)} ({ordered})"


def entries_id_index(d: Dialect, index: IndexLayout) -> str:
    """Lets a write find the entries of one document to replace them."""
    assert index.entries_table is not None
    name = f"{index.entries_table}.by_doc"
    return f"CREATE INDEX IF NOT EXISTS {q(name)} ON {q(index.entries_table)} ({q('_id')})"


# --- statements ----------------------------------------------------------------------------


@dataclass(frozen=True)
class TableStatements:
    insert: str
    update: str
    delete: str
    get: str
    entries_insert: dict[str, str]
    entries_delete: dict[str, str]


def table_statements(d: Dialect, layout: TableLayout) -> TableStatements:
    return _table_statements(d, layout.name)


@cache
def _table_statements(d: Dialect, table: str) -> TableStatements:
    layout = layout_of(table)
    t = q(layout.name)
    stored = [*(c.name for c in layout.columns), *search_columns(d, layout)]
    names = ["_id", "_creationTime", "doc", *stored]
    insert = (
        f"INSERT INTO {t} ({', '.join(q(n) for n in names)}) VALUES ({', '.join('?' * len(names))})"
    )
    sets = ", ".join(f"{q(n)} = ?" for n in ["doc", *stored])
    update = f"UPDATE {t} SET {sets} WHERE {q('_id')} = ?"
    entries_insert: dict[str, str] = {}
    entries_delete: dict[str, str] = {}
    for index in layout.entry_indexes():
        assert index.entries_table is not None
        e = q(index.entries_table)
        cols = [*index.field_names, *SYSTEM_COLUMNS]
        column_list = ", ".join(q(c) for c in cols)
        entries_insert[index.name] = d.render(
            f"INSERT INTO {e} ({column_list}) VALUES ({', '.join('?' * len(cols))})"
        )
        entries_delete[index.name] = d.render(f"DELETE FROM {e} WHERE {q('_id')} = ?")
    return TableStatements(
        insert=d.render(insert),
        update=d.render(update),
        delete=d.render(f"DELETE FROM {t} WHERE {q('_id')} = ?"),
        get=d.render(f"SELECT {q('doc')} FROM {t} WHERE {q('_id')} = ?"),
        entries_insert=entries_insert,
        entries_delete=entries_delete,
    )


@dataclass(frozen=True)
class RangeShape:
    """Everything about an index read that changes its SQL text, and nothing else."""

    eq_nulls: tuple[bool, ...]  # per equality field: is the value missing (IS NULL)?
    lower: Literal["", ">", ">="]
    upper: Literal["", "<", "<="]
    order: Order
    cursor_nulls: tuple[bool, ...] | None  # per tail column of the cursor key; None: no cursor
    row_cursor: bool  # cursor compares as one row value (no missing values can be involved)
    limited: bool
    end_nulls: tuple[bool, ...] | None = None  # the same for the end key (kept: at or before)
    row_end: bool = False


@cache
def range_select(d: Dialect, index: IndexLayout, shape: RangeShape) -> str:
    """SELECT doc [, element] for one index read. Parameters, in order: the non-null
    equality values, lower bound, upper bound, the cursor's non-null tail values, the end
    key's (see `after_params`), limit."""
    entries = index.entries_table
    src = "e" if entries else "t"
    if entries:
        array = index.multikey
        assert array is not None
        select = f"t.{q('doc')}, e.{q(array.name)}"
        source = f"{q(entries)} e JOIN {q(index.table)} t ON t.{q('_id')} = e.{q('_id')}"
    else:
        select = f"t.{q('doc')}"
        source = f"{q(index.table)} t"
    columns = [*index.columns]
    names = [c.name for c in columns] + list(SYSTEM_COLUMNS)
    nullable = [c.nullable for c in columns] + [False, False]
    k = len(shape.eq_nulls)
    where: list[str] = []
    for name, is_null in zip(names[:k], shape.eq_nulls, strict=True):
        where.append(f"{src}.{q(name)} IS NULL" if is_null else f"{src}.{q(name)} = ?")
    if shape.lower:
        where.append(f"{src}.{q(names[k])} {shape.lower} ?")
    if shape.upper:
        column = f"{src}.{q(names[k])}"
        if nullable[k] and not shape.lower:
            # A missing value sorts below every value (Convex's `undefined`), so it is
            # "less than" any upper bound.
            where.append(f"({column} {shape.upper} ? OR {column} IS NULL)")
        else:
            where.append(f"{column} {shape.upper} ?")
    tail = names[k:]
    if shape.cursor_nulls is not None:
        where.append(
            _after(src, tail, nullable[k:], shape.cursor_nulls, shape.order, shape.row_cursor)
        )
    if shape.end_nulls is not None:
        # At or before the end key in walk order: at or after it walking the other way.
        back: Order = "desc" if shape.order == "asc" else "asc"
        where.append(
            _after(src, tail, nullable[k:], shape.end_nulls, back, shape.row_end, inclusive=True)
        )
    order = ", ".join(f"{src}.{q(n)} {d.order(shape.order)}" for n in tail)
    sql = f"SELECT {select} FROM {source}"
    if where:
        sql += " WHERE " + " AND ".join(where)
    sql += f" ORDER BY {order}"
    if shape.limited:
        sql += " LIMIT ?"
    return d.render(sql)


def _after(
    src: str,
    names: list[str],
    nullable: list[bool],
    nulls: tuple[bool, ...],
    order: Order,
    row: bool,
    inclusive: bool = False,
) -> str:
    """Keys strictly after the cursor in walk order (keyset pagination); with `inclusive`,
    the cursor's own key too (the last column, `_id`, is never missing, so only the last
    step changes).

    With no missing values in play this is one row comparison, which both databases serve
    from the index; otherwise it is spelled out so that NULL (Convex `undefined`, first in
    ascending order) compares as the index orders it.
    """
    op = (">" if order == "asc" else "<") + ("=" if inclusive else "")
    if row:
        cols = ", ".join(f"{src}.{q(n)}" for n in names)
        return f"({cols}) {op} ({', '.join('?' * len(names))})"
    disjuncts: list[str] = []
    for j, name in enumerate(names):
        equal = [
            f"{src}.{q(n)} IS NULL" if is_null else f"{src}.{q(n)} = ?"
            for n, is_null in zip(names[:j], nulls[:j], strict=True)
        ]
        col = f"{src}.{q(name)}"
        last = inclusive and j == len(names) - 1
        if order == "asc":
            step = f"{col} IS NOT NULL" if nulls[j] else f"{col} {'>=' if last else '>'} ?"
        elif nulls[j]:
            continue  # nothing sorts below a missing value
        elif last:
            step = f"{col} <= ?"  # `_id`: never missing
        else:
            step = f"({col} < ? OR {col} IS NULL)" if nullable[j] else f"{col} < ?"
        disjuncts.append("(" + " AND ".join([*equal, step]) + ")")
    return "(" + " OR ".join(disjuncts) + ")" if disjuncts else "(1 = 0)"


def after_params(
    values: tuple[Any, ...], nulls: tuple[bool, ...], order: Order, row: bool
) -> list[Any]:
    """Parameters for `_after`, in the order its text uses them."""
    if row:
        return list(values)
    params: list[Any] = []
    for j in range(len(values)):
        if order == "desc" and nulls[j]:
            continue
        params.extend(v for v, is_null in zip(values[:j], nulls[:j], strict=True) if not is_null)
        if not nulls[j]:
            params.append(values[j])
    return params
