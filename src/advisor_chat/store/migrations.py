"""Create or upgrade a database in place.

The layout (tables, index columns, indexes) is derived from the declaration, so an upgrade
is a reconciliation: create what is missing, add and backfill new index columns, rebuild an
index whose definition changed, drop indexes no longer declared. Nothing holding documents
is ever dropped. Changes to the documents themselves (a new required field, a renamed one)
are `DataMigration`s, run once each, in order, by version. It all happens in one
transaction, so an interrupted upgrade leaves the database as it was.
"""

from __future__ import annotations

import contextlib
import zlib
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING, Any

import orjson

from advisor_chat.errors import SchemaMismatch
from advisor_chat.schema.derive import Column, IndexLayout, TableLayout, table_layout
from advisor_chat.schema.tables import LOCAL_ISSUER, TABLES, Table
from advisor_chat.store import journal
from advisor_chat.store.backend import Catalog, Connection
from advisor_chat.store.query import param
from advisor_chat.store.search import create_statements, name_in_catalog, searched_text
from advisor_chat.store.sql import (
    SYSTEM_COLUMNS,
    Dialect,
    create_entries_table,
    create_table,
    entries_id_index,
    index_definition,
    q,
    set_fillfactor,
    table_fillfactor,
)
from advisor_chat.store.transaction import Transaction

if TYPE_CHECKING:
    from advisor_chat.store.store import Store

META = "_meta"
BASELINE_VERSION = 1


@dataclass(frozen=True)
class DataMigration:
    version: int
    description: str
    apply: Callable[[Transaction], Awaitable[None]]


async def _lanes_and_leases(tx: Transaction) -> None:
    """Scheduled calls written before lanes and leases: each gets the `short` lane, and one
    left in progress a lapsed lease, so the worker runs the pending and ends the lost."""
    table = "scheduledFunctions"
    while rows := await tx.query(table, "by_lane_state_time").eq("lane", None).take(500):
        for row in rows:
            fields: dict[str, Any] = {"lane": "short"}
            if row["state"] == "inProgress" and "leaseUntil" not in row:
                fields["leaseUntil"] = 0
            await tx.patch(table, row["_id"], fields)


LOCAL_SUBJECTS = ("local_", "local`")  # our subjects' range: "local_" up to the next prefix


async def _token_issuers(tx: Transaction) -> None:
    """Users record their token issuer. Ours for every local account's row, and for every
    row of one of our subjects (`local_...`: only our tokens name those; such a row without
    an account was stored by a token no sign-in backs, which now acts as nobody). Every
    other row stays without one: the configured OIDC issuer's (auth/identities.py)."""
    ours = {"tokenIssuer": LOCAL_ISSUER}
    accounts = await tx.query("accounts").collect()
    for account in accounts:
        user = await tx.get("users", account["userId"])
        if user is not None and "tokenIssuer" not in user:
            await tx.patch("users", user["_id"], ours)
    low, high = LOCAL_SUBJECTS
    local = await tx.query("users", "by_clerk_id").gte("clerkId", low).lt("clerkId", high).collect()
    for user in local:
        if "tokenIssuer" not in user:
            await tx.patch("users", user["_id"], ours)


#: Document-level changes, in version order. Version 1 is the first released schema.
DATA_MIGRATIONS: tuple[DataMigration, ...] = (
    DataMigration(2, "scheduled calls get a lane and a lease", _lanes_and_leases),
    DataMigration(3, "users record the issuer of their tokens", _token_issuers),
)
SCHEMA_VERSION = DATA_MIGRATIONS[-1].version if DATA_MIGRATIONS else BASELINE_VERSION
_LOCK_KEY = zlib.crc32(b"advisor-chat:migrate")  # PostgreSQL advisory lock: one init at a time


def _desired_indexes(
    d: Dialect, layout: TableLayout
) -> dict[str, tuple[str, tuple[str, ...], bool, str]]:
    desired: dict[str, tuple[str, tuple[str, ...], bool, str]] = {}
    for index in layout.indexes.values():
        columns = index.field_names if index.unique else (*index.field_names, *SYSTEM_COLUMNS)
        target = index.entries_table or layout.name
        desired[index.sql_name] = (target, columns, index.unique, index_definition(d, index))
        if index.entries_table:
            name = f"{index.entries_table}.by_doc"
            desired[name] = (index.entries_table, ("_id",), False, entries_id_index(d, index))
    return desired


async def _backfill(
    conn: Connection, d: Dialect, table: str, values: Mapping[str, Callable[[Any], Any]]
) -> None:
    """Fill stored columns of every row from its document: `values` maps each column to
    how its value is read from the document."""
    rows = await conn.fetch(f"SELECT {q('_id')}, {q('doc')} FROM {q(table)}", ())
    sets = ", ".join(f"{q(name)} = ?" for name in values)
    sql = d.render(f"UPDATE {q(table)} SET {sets} WHERE {q('_id')} = ?")
    updates = []
    for doc_id, payload in rows:
        doc = orjson.loads(payload)
        updates.append([read(doc) for read in values.values()] + [doc_id])
    if updates:
        await conn.execute_many(sql, updates)


def _column_value(column: Column, doc: Any) -> Any:
    return param(column, column.extract(doc))


async def _backfill_entries(conn: Connection, d: Dialect, index: IndexLayout) -> None:
    assert index.entries_table is not None
    rows = await conn.fetch(f"SELECT {q('doc')} FROM {q(index.table)}", ())
    cols = [*index.field_names, *SYSTEM_COLUMNS]
    sql = d.render(
        f"INSERT INTO {q(index.entries_table)} ({', '.join(q(c) for c in cols)}) "
        f"VALUES ({', '.join('?' * len(cols))})"
    )
    entries = [list(key) for payload in rows for key in index.keys(orjson.loads(payload[0]))]
    if entries:
        await conn.execute_many(sql, entries)


async def _reconcile(
    conn: Connection, d: Dialect, catalog: Catalog, tables: Mapping[str, Table]
) -> list[str]:
    done: list[str] = []
    ours: set[str] = set()
    desired: dict[str, tuple[str, tuple[str, ...], bool, str]] = {}
    for table in tables.values():
        layout = table_layout(table)
        ours.add(layout.name)
        existing = catalog.columns.get(layout.name)
        if existing is None:
            for sql in create_table(d, layout):
                await conn.execute(sql, ())
            done.append(f"created table {layout.name}")
        else:
            missing = [c for c in layout.columns if c.name not in existing]
            for column in missing:
                kind = d.column_type(column)
                await conn.execute(
                    f"ALTER TABLE {q(layout.name)} ADD COLUMN {q(column.name)} {kind}", ()
                )
            if missing:
                readers = {c.name: partial(_column_value, c) for c in missing}
                await _backfill(conn, d, layout.name, readers)
                done.append(f"added columns {', '.join(c.name for c in missing)} to {layout.name}")
            for index in layout.entry_indexes():
                assert index.entries_table is not None
                if index.entries_table not in catalog.columns:
                    await conn.execute(create_entries_table(d, index), ())
                    await _backfill_entries(conn, d, index)
                    done.append(f"created entries of {index.sql_name}")
            fillfactor = table_fillfactor(d, layout)
            if catalog.fillfactors.get(layout.name) != fillfactor:
                await conn.execute(set_fillfactor(d, layout), ())
                done.append(f"set fillfactor {fillfactor or 100} on {layout.name}")
        for index in layout.entry_indexes():
            assert index.entries_table is not None
            ours.add(index.entries_table)
        desired.update(_desired_indexes(d, layout))
    for name, (target, columns, unique, definition) in desired.items():
        found = catalog.indexes.get(name)
        if found == (target, columns, unique):
            continue
        if found is not None:
            await conn.execute(f"DROP INDEX {q(name)}", ())
        await conn.execute(definition, ())
        done.append(f"{'rebuilt' if found else 'created'} index {name}")
    searches: set[str] = set()
    for table in tables.values():
        layout = table_layout(table)
        for search_index in table.search_indexes:
            name = name_in_catalog(d, layout, search_index)
            searches.add(name)
            if name in catalog.columns or name in catalog.indexes:
                continue
            statements = create_statements(d, layout, search_index)
            if d.name == "postgres":  # the text column, filled from the documents first
                await conn.execute(statements.pop(0), ())
                text = partial(searched_text, search_index)
                await _backfill(conn, d, layout.name, {search_index.name: text})
            for sql in statements:
                await conn.execute(sql, ())
            done.append(f"created search index {layout.name}.{search_index.name}")
    for name, (owner, _, _) in catalog.indexes.items():
        if owner in ours and "." in name and name not in desired and name not in searches:
            await conn.execute(f"DROP INDEX {q(name)}", ())
            done.append(f"dropped index {name}")
    return done


class _WouldDo(Exception):
    pass


async def migrate(
    store: Store, tables: Mapping[str, Table] = TABLES, *, apply: bool = True
) -> list[str]:
    backend = store.backend
    d = backend.dialect
    done: list[str] = []

    async def run(tx: Transaction) -> None:
        done.clear()  # a re-run after a conflict reports only what its own attempt did
        conn = tx.conn
        if d.name == "postgres":
            await conn.execute(d.render("SELECT pg_advisory_xact_lock(?)"), (_LOCK_KEY,))
            # Backfills read whole tables; the pool's connections otherwise avoid that.
            await conn.execute("SET LOCAL enable_seqscan = on", ())
        await conn.execute(
            f"CREATE TABLE IF NOT EXISTS {q(META)} (key TEXT PRIMARY KEY, value TEXT NOT NULL)", ()
        )
        for statement in journal.create_statements(d):
            await conn.execute(statement, ())
        rows = await conn.fetch(
            d.render(f"SELECT value FROM {q(META)} WHERE key = ?"), ("version",)
        )
        version = int(rows[0][0]) if rows else 0
        if version > SCHEMA_VERSION:
            raise SchemaMismatch(
                f"the database is at schema version {version}, this release knows up to "
                f"{SCHEMA_VERSION}: upgrade advisor-chat"
            )
        catalog = await backend.catalog(conn)
        done.extend(await _reconcile(conn, d, catalog, tables))
        for step in DATA_MIGRATIONS:
            if step.version > version:
                await step.apply(tx)
                done.append(f"migrated data to version {step.version}: {step.description}")
        target = max(version, SCHEMA_VERSION)
        if target != version:
            await conn.execute(
                d.render(
                    f"INSERT INTO {q(META)} (key, value) VALUES (?, ?) "
                    "ON CONFLICT (key) DO UPDATE SET value = excluded.value"
                ),
                ("version", str(target)),
            )
            if version == 0:
                done.append(f"initialised schema version {target}")
        if not apply:
            raise _WouldDo

    with contextlib.suppress(_WouldDo):  # rolled back: `done` says what applying would do
        await store.mutation(run)
    return done
