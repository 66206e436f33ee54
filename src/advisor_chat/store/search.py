"""Full-text search indexes (Convex's `searchIndex`) on both databases.

SQLite: an FTS5 table over a view of the document table (the text is read out of the JSON,
not stored twice), kept current by triggers on the table, so every write path maintains
it in the same transaction. PostgreSQL: a GIN index over `to_tsvector('simple', …)` of the
same JSON field. Either way a search is: every word, the last as a prefix (so results come
as the user types), narrowed by equality on the filter fields, best match first, newest
first among equals. Filter values are checked exactly on the table's own columns too.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from advisor_chat.schema.derive import TableLayout
from advisor_chat.schema.tables import SearchIndex
from advisor_chat.store.sql import Dialect, q

MAX_TERMS = 16
MAX_RESULTS = 256
MAX_FTS_FILTER_VALUES = 500  # beyond this, SQLite narrows by the join alone
_WORD = re.compile(r"[^\W_]+")  # letters and digits: "_" separates words, as in FTS5


def fts_table(layout: TableLayout, index: SearchIndex) -> str:
    return f"{layout.name}__{index.name}"


def gin_index(layout: TableLayout, index: SearchIndex) -> str:
    return f"{layout.name}.{index.name}"


def _json_path(field: str) -> str:
    return "$." + field


def searched_text(index: SearchIndex, doc: Mapping[str, Any]) -> str | None:
    value: Any = doc
    for part in index.search_field.split("."):
        value = value.get(part) if type(value) is dict else None
    return value if type(value) is str else None


def _pg_vector(index: SearchIndex) -> str:
    return f"to_tsvector('simple'::regconfig, coalesce({q(index.name)}, ''))"


def name_in_catalog(d: Dialect, layout: TableLayout, index: SearchIndex) -> str:
    """What the catalog lists when the index exists: SQLite's FTS5 table (among tables),
    PostgreSQL's GIN index (among indexes)."""
    return fts_table(layout, index) if d.name == "sqlite" else gin_index(layout, index)


def create_statements(d: Dialect, layout: TableLayout, index: SearchIndex) -> list[str]:
    """The statements that create the index and (SQLite) fill it from the rows already
    there; PostgreSQL's column is filled by `migrations` before its index is built."""
    if d.name == "postgres":
        name = gin_index(layout, index)
        return [
            f"ALTER TABLE {q(layout.name)} ADD COLUMN IF NOT EXISTS {q(index.name)} text",
            f"CREATE INDEX IF NOT EXISTS {q(name)} ON {q(layout.name)} "
            f"USING GIN ({_pg_vector(index)})",
        ]
    fts = fts_table(layout, index)
    view = f"{fts}_source"
    filters = [f"f{i}" for i in range(len(index.filter_fields))]
    text = f"json_extract({{row}}.{q('doc')}, '{_json_path(index.search_field)}')"
    source_cols = ", ".join(
        [f"{text.format(row=q(layout.name))} AS body"]
        + [
            f"{q(layout.name)}.{q(f)} AS {a}"
            for f, a in zip(index.filter_fields, filters, strict=True)
        ]
    )
    fts_cols = ", ".join(["body", *filters])

    def values(row: str) -> str:
        return ", ".join(
            [f"{row}.rowid", text.format(row=row)] + [f"{row}.{q(f)}" for f in index.filter_fields]
        )

    remove = (
        f"INSERT INTO {q(fts)}({q(fts)}, rowid, {fts_cols}) VALUES ('delete', {values('old')});"
    )
    add = f"INSERT INTO {q(fts)}(rowid, {fts_cols}) VALUES ({values('new')});"
    table = q(layout.name)
    return [
        f"CREATE VIEW IF NOT EXISTS {q(view)} AS SELECT {table}.rowid AS doc_rowid, "
        f"{source_cols} FROM {table}",
        f"CREATE VIRTUAL TABLE IF NOT EXISTS {q(fts)} USING fts5({fts_cols}, content='{view}', "
        "content_rowid='doc_rowid', tokenize='unicode61 remove_diacritics 2')",
        f"CREATE TRIGGER IF NOT EXISTS {q(fts + '_ai')} AFTER INSERT ON {table} BEGIN {add} END",
        f"CREATE TRIGGER IF NOT EXISTS {q(fts + '_ad')} AFTER DELETE ON {table} BEGIN {remove} END",
        f"CREATE TRIGGER IF NOT EXISTS {q(fts + '_au')} AFTER UPDATE ON {table} "
        f"BEGIN {remove} {add} END",
        f"INSERT INTO {q(fts)}({q(fts)}) VALUES ('rebuild')",
    ]


def terms(text: str) -> list[str]:
    """The words of a search, lower-cased, at most MAX_TERMS."""
    return [w.lower() for w in _WORD.findall(text)][:MAX_TERMS]


def _fts_phrase(value: str) -> str:
    return '"' + value.replace('"', '""') + '"'


def select(
    d: Dialect,
    layout: TableLayout,
    index: SearchIndex,
    words: Sequence[str],
    filters: Mapping[str, Sequence[Any]],
    limit: int,
) -> tuple[str, list[Any]]:
    """SQL and parameters returning `doc` of the best `limit` matches."""
    given = [
        (i, name, list(filters[name]))
        for i, name in enumerate(index.filter_fields)
        if name in filters
    ]
    exact = [
        f"t.{q(name)} IN ({', '.join('?' * len(values))})" if values else "0 = 1"
        for _, name, values in given
    ]
    exact_params = [value for _, _, values in given for value in values]
    table = q(layout.name)
    if d.name == "sqlite":
        fts = q(fts_table(layout, index))
        *head, last = words
        phrases = [_fts_phrase(w) for w in head] + [_fts_phrase(last) + "*"]
        match = "body : (" + " AND ".join(phrases) + ")"
        for i, _, values in given:  # narrowed inside the index too, when not too many
            if 0 < len(values) <= MAX_FTS_FILTER_VALUES:
                match += f" AND f{i} : (" + " OR ".join(_fts_phrase(str(v)) for v in values) + ")"
        where = " AND ".join([f"{fts} MATCH ?", *exact])
        sql = (
            f"SELECT t.{q('doc')} FROM {fts} f JOIN {table} t ON t.rowid = f.rowid "
            f"WHERE {where} ORDER BY f.rank, t.{q('_creationTime')} DESC LIMIT ?"
        )
        params: list[Any] = [match, *exact_params]
    else:
        query = " & ".join([f"'{w}'" for w in words[:-1]] + [f"'{words[-1]}':*"])
        vector = _pg_vector(index)
        where = " AND ".join([f"{vector} @@ to_tsquery('simple'::regconfig, ?)", *exact])
        sql = (
            f"SELECT t.{q('doc')} FROM {table} t WHERE {where} "
            f"ORDER BY ts_rank({vector}, to_tsquery('simple'::regconfig, ?)) DESC, "
            f"t.{q('_creationTime')} DESC LIMIT ?"
        )
        params = [query, *exact_params, query]
    params.append(limit)
    return d.render(sql), params
