"""Full-text search indexes (Convex's `searchIndex`) on both databases.

SQLite: an FTS5 table over a view of the document table (the text is read out of the JSON,
not stored twice), kept current by triggers on the table, so every write path maintains
it in the same transaction. PostgreSQL: a GIN index over `to_tsvector('simple', …)` of the
same JSON field. Either way a search is: every word, the last as a prefix (so results come
as the user types), narrowed by equality on the filter fields, best match first, newest
first among equals. Filter values are checked exactly on the table's own columns too.

Bounded: a search ranks at most MAX_CANDIDATES matching rows, taken inside the statement
before any ranking, and always within the filter values (narrowed in the text index, so
other users' matches never use the cap up). SQLite takes the newest candidates (FTS5 walks
its doclists by rowid, newest first, and stops); PostgreSQL the first its GIN bitmap yields
(table order, so mostly the oldest: GIN cannot yield newest first). A word in fewer rows
than the cap is ranked over all of them, as before; a common word answers the best among
the candidates. What stays proportional to the matches is the index's own walk, not the
rows: FTS5 merges the doclists of every term the prefix covers, GIN builds its bitmap.
Measured on 1,000,000 messages all holding the word, 100,000 of them in the caller's 200
conversations (2-core machine): SQLite 0.9-1.4 s before, 0.11-0.24 s capped (about 60 ms
of it the prefix's doclists, ~18 µs a candidate ranked by bm25); PostgreSQL 10-12 s before
(ts_rank re-reading every match, and rechecking lossy bitmap pages), 0.21-0.31 s capped
(95 ms of it the GIN bitmap; the rest rechecks to_tsvector on lossy pages: a stored
tsvector column would remove that). A word nobody wrote: under 15 ms on both.
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
MAX_CANDIDATES = 1000  # newest matches a search ranks; why, in the module's docstring
MAX_FTS_FILTER_VALUES = 500  # filter values in one full-text query (more: one per group)
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


def _pg_vector(index: SearchIndex, row: str | None = None) -> str:
    """The indexed expression (`row` qualifies the column, and then it is not indexed)."""
    column = f"{row}.{q(index.name)}" if row else q(index.name)
    return f"to_tsvector('simple'::regconfig, coalesce({column}, ''))"


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


def _chunks(values: Sequence[Any]) -> list[list[Any]]:
    return [
        list(values[i : i + MAX_FTS_FILTER_VALUES])
        for i in range(0, len(values), MAX_FTS_FILTER_VALUES)
    ]


def _sqlite_candidates(
    fts: str, index: SearchIndex, words: Sequence[str], given: list[tuple[int, str, list[Any]]]
) -> tuple[str, list[Any]]:
    """The newest MAX_CANDIDATES rows having the words and the filter values, with their
    rank. Filter values go into the full-text query, MAX_FTS_FILTER_VALUES at a time (one
    capped query per group, merged), so the cap never spends itself on other rows."""
    *head, last = words
    phrases = [_fts_phrase(w) for w in head] + [_fts_phrase(last) + "*"]
    base = "body : (" + " AND ".join(phrases) + ")"
    # bm25 weighs the searched text only: filter phrases must not change a row's rank.
    weights = ", ".join(["1.0"] + ["0.0"] * len(index.filter_fields))
    one = (
        f"SELECT rowid, bm25({fts}, {weights}) AS score FROM {fts} WHERE {fts} MATCH ? "
        "ORDER BY rowid DESC LIMIT ?"
    )
    matches = [base]
    for i, _, values in given:
        matches = [
            f"{m} AND f{i} : (" + " OR ".join(_fts_phrase(str(v)) for v in chunk) + ")"
            for m in matches
            for chunk in _chunks(values)
        ]
    params: list[Any] = [p for m in matches for p in (m, MAX_CANDIDATES)]
    if len(matches) == 1:
        return one, params
    merged = " UNION ALL ".join(f"SELECT * FROM ({one})" for _ in matches)
    return f"SELECT * FROM ({merged}) ORDER BY rowid DESC LIMIT ?", [*params, MAX_CANDIDATES]


def select(
    d: Dialect,
    layout: TableLayout,
    index: SearchIndex,
    words: Sequence[str],
    filters: Mapping[str, Sequence[Any]],
    limit: int,
) -> tuple[str, list[Any]]:
    """SQL and parameters returning `doc` of the best `limit` matches among the newest
    MAX_CANDIDATES (see the module's docstring)."""
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
    created = q("_creationTime")
    if d.name == "sqlite":
        candidates, params = _sqlite_candidates(q(fts_table(layout, index)), index, words, given)
        where = f" WHERE {' AND '.join(exact)}" if exact else ""
        sql = (
            f"SELECT t.{q('doc')} FROM ({candidates}) f JOIN {table} t ON t.rowid = f.rowid"
            f"{where} ORDER BY f.score, t.{created} DESC LIMIT ?"
        )
        params += exact_params
    else:
        query = " & ".join([f"'{w}'" for w in words[:-1]] + [f"'{words[-1]}':*"])
        vector = _pg_vector(index)
        where = " AND ".join([f"{vector} @@ to_tsquery('simple'::regconfig, ?)", *exact])
        # Ranked outside the capped subquery: ts_rank re-reads each candidate's text.
        sql = (
            f"SELECT c.{q('doc')} FROM (SELECT t.{q('doc')}, t.{created}, t.{q(index.name)} "
            f"FROM {table} t WHERE {where} LIMIT ?) c "
            f"ORDER BY ts_rank({_pg_vector(index, 'c')}, to_tsquery('simple'::regconfig, ?)) "
            f"DESC, c.{created} DESC LIMIT ?"
        )
        params = [query, *exact_params, MAX_CANDIDATES, query]
    params.append(limit)
    return d.render(sql), params
