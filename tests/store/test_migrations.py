"""`migrate` creates the database, then upgrades an older one in place."""

from __future__ import annotations

import asyncio
import dataclasses
from typing import Any

import orjson
import pytest

from advisor_chat.errors import SchemaMismatch, UniqueViolation
from advisor_chat.schema.derive import all_layouts, table_layout
from advisor_chat.schema.tables import LOCAL_ISSUER, TABLES, Table
from advisor_chat.store import Store, Transaction
from advisor_chat.store.backend import Backend, Catalog
from advisor_chat.store.migrations import SCHEMA_VERSION, migrate
from advisor_chat.store.query import param
from advisor_chat.store.sql import q
from tests.store.documents import (
    Doc,
    account,
    advisor,
    conversation,
    document,
    insert_parents_tx,
    message,
    user,
)
from tests.twins import twin


async def _catalog(store: Store) -> Catalog:
    async def read(tx: Transaction) -> Catalog:
        return await store.backend.catalog(tx.conn)

    return (await store.query(read)).value


async def _sql(store: Store, *statements: str) -> None:
    async def run(tx: Transaction) -> None:
        for sql in statements:
            await tx.conn.execute(sql, ())

    await store.mutation(run)


async def test_migrate_twice_changes_nothing_the_second_time(store: Store) -> None:
    assert await store.migrate() == []


async def _older_release(store: Store) -> dict[str, Any]:
    """Data written, then the database rolled back to look like an older release: no
    `messages.by_sender` (index and column), no `advisors.by_tags` entries, an index whose
    definition has since changed, and one since removed."""
    parents = (await store.mutation(insert_parents_tx)).value

    async def write(tx: Transaction) -> dict[str, Any]:
        tagged = await tx.insert("advisors", document("advisors", "maximal", parents))
        advisor_msg = await tx.insert("messages", document("messages", "maximal", parents))
        return {"parents": parents, "tagged": tagged, "advisor_message": advisor_msg}

    written = (await store.mutation(write)).value
    await _sql(
        store,
        'DROP INDEX "messages.by_sender"',
        'ALTER TABLE "messages" DROP COLUMN "sender"',
        'DROP TABLE "advisors__by_tags"',
        'DROP INDEX "users.by_email"',
        'CREATE INDEX "users.by_email" ON "users" ("plan")',
        'CREATE INDEX "users.by_retired" ON "users" ("clerkId")',
    )
    return written


async def _everything(store: Store) -> dict[str, list[dict[str, Any]]]:
    async def read(tx: Transaction) -> dict[str, list[dict[str, Any]]]:
        tables = ["users", "advisors", "conversations", "messages"]
        return {t: await tx.query(t).collect() for t in tables}

    return (await store.query(read)).value


async def test_upgrade_in_place_adds_backfills_rebuilds_and_drops(store: Store) -> None:
    written = await _older_release(store)
    before = await _everything(store)
    catalog = await _catalog(store)
    assert "messages.by_sender" not in catalog.indexes
    assert "advisors__by_tags" not in catalog.columns

    done = await store.migrate()

    assert "added columns sender to messages" in done
    assert "created index messages.by_sender" in done
    assert "created entries of advisors.by_tags" in done
    assert "rebuilt index users.by_email" in done
    assert "dropped index users.by_retired" in done
    catalog = await _catalog(store)
    assert catalog.indexes["messages.by_sender"][1] == ("sender", "_creationTime", "_id")
    assert catalog.indexes["users.by_email"][1] == ("email", "_creationTime", "_id")
    assert "users.by_retired" not in catalog.indexes
    assert await _everything(store) == before  # documents untouched

    async def through_new_indexes(tx: Transaction) -> tuple[list[str], list[str]]:
        advisors = await tx.query("messages", "by_sender").eq("sender", "advisor").collect()
        tagged = await tx.query("advisors", "by_tags").eq("tags", "runway").collect()
        return [d["_id"] for d in advisors], [d["_id"] for d in tagged]

    advisor_messages, tagged = (await store.query(through_new_indexes)).value
    assert advisor_messages == [written["advisor_message"]]
    assert tagged == [written["tagged"]]
    assert await store.migrate() == []


def _older_declaration() -> dict[str, Table]:
    """The tables as an older release declared them: messages without `legacyId` (the
    field and its unique index) and without `by_sender`; advisors without `by_tags`."""
    messages, advisors = TABLES["messages"], TABLES["advisors"]
    fields = {k: v for k, v in messages.document.fields.items() if k != "legacyId"}
    old_messages = Table(
        "messages",
        dataclasses.replace(messages.document, fields=fields),
        tuple(i for i in messages.indexes if i.name not in ("by_sender", "by_legacy_id")),
        messages.on_delete,
    )
    old_advisors = Table(
        "advisors",
        advisors.document,
        tuple(i for i in advisors.indexes if i.name != "by_tags"),
        advisors.on_delete,
    )
    return {**TABLES, "messages": old_messages, "advisors": old_advisors}


async def _insert_as(store: Store, tx: Transaction, table: Table, fields: Doc) -> str:
    """Insert a row as a release with `table`'s declaration wrote it (the store's own write
    path speaks only the current layout)."""
    table.document.check(fields, table.name, "")
    layout = table_layout(table)
    assert not list(layout.entry_indexes())
    doc_id = store.ids.new_id(table.name)
    created = store.ids.creation_time()
    doc = {"_id": doc_id, "_creationTime": created, **fields}
    names = ["_id", "_creationTime", "doc", *(c.name for c in layout.columns)]
    sql = store.backend.dialect.render(
        f"INSERT INTO {q(table.name)} ({', '.join(q(n) for n in names)}) "
        f"VALUES ({', '.join('?' * len(names))})"
    )
    values = [doc_id, created, orjson.dumps(doc).decode()]
    values += [param(c, c.extract(doc)) for c in layout.columns]
    await tx.conn.execute(sql, values)
    return doc_id


def _declared_indexes() -> dict[str, tuple[str, tuple[str, ...], bool]]:
    tail = ("_creationTime", "_id")
    return {
        index.sql_name: (
            index.entries_table or layout.name,
            index.field_names if index.unique else (*index.field_names, *tail),
            index.unique,
        )
        for layout in all_layouts()
        for index in layout.indexes.values()
    }


async def test_upgrade_from_an_older_declaration(backend: Backend) -> None:
    old = _older_declaration()
    async with Store(backend) as store:
        assert "created table messages" in await migrate(store, tables=old)
        catalog = await _catalog(store)
        assert not {"sender", "legacyId"} & set(catalog.columns["messages"])
        assert "messages.by_sender" not in catalog.indexes
        assert "advisors__by_tags" not in catalog.columns

        async def write(tx: Transaction) -> tuple[list[str], list[str]]:
            owner = await tx.insert("users", user("clerk-old"))
            chat = await tx.insert("conversations", conversation(owner))
            advisors = [
                await _insert_as(store, tx, old["advisors"], advisor() | {"tags": tags})
                for tags in (["runway", "hiring"], ["runway", "runway"], [])
            ]
            messages = [
                await _insert_as(
                    store, tx, old["messages"], message(chat) | {"sender": s, "createdAt": n}
                )
                for n, s in enumerate(["user", "advisor", "user", "advisor"])
            ]
            return advisors, messages

        advisors, messages = (await store.mutation(write)).value
        before = await _everything(store)

        done = await store.migrate()

        assert sorted(done) == [
            "added columns sender, legacyId to messages",
            "created entries of advisors.by_tags",
            "created index advisors.by_tags",
            "created index advisors__by_tags.by_doc",
            "created index messages.by_legacy_id",
            "created index messages.by_sender",
            "created search index messages.search_content",
        ]
        catalog = await _catalog(store)
        for name, expected in _declared_indexes().items():
            assert catalog.indexes.get(name) == expected, name
        assert await _everything(store) == before  # documents untouched

        async def through_new_indexes(tx: Transaction) -> dict[str, list[str]]:
            reads = {
                "by_sender": tx.query("messages", "by_sender").eq("sender", "advisor"),
                "no legacyId": tx.query("messages", "by_legacy_id").eq("legacyId", None),
                "runway": tx.query("advisors", "by_tags").eq("tags", "runway"),
                "hiring": tx.query("advisors", "by_tags").eq("tags", "hiring"),
                "all tags": tx.query("advisors", "by_tags"),
            }
            return {k: [d["_id"] for d in await r.collect()] for k, r in reads.items()}

        found = (await store.query(through_new_indexes)).value
        assert found["by_sender"] == [messages[1], messages[3]]
        assert sorted(found["no legacyId"]) == sorted(messages)
        assert found["runway"] == advisors[:2]  # the repeated tag indexed once
        assert found["hiring"] == advisors[:1]
        assert sorted(found["all tags"]) == sorted([advisors[0], advisors[0], advisors[1]])

        # The upgraded tables take writes under the new rules.
        chat = before["conversations"][0]["_id"]

        async def write_new(tx: Transaction) -> None:
            await tx.insert("messages", message(chat) | {"legacyId": "m-1"})
            await tx.patch("advisors", advisors[0], {"tags": ["runway"]})

        await store.mutation(write_new)
        with pytest.raises(UniqueViolation):
            await store.mutation(
                lambda tx: tx.insert("messages", message(chat) | {"legacyId": "m-1"})
            )
        hiring = await store.query(
            lambda tx: tx.query("advisors", "by_tags").eq("tags", "hiring").collect()
        )
        assert hiring.value == []
        assert await store.migrate() == []


async def _version(store: Store) -> str:
    async def read(tx: Transaction) -> str:
        rows = await tx.conn.fetch(
            store.backend.dialect.render('SELECT value FROM "_meta" WHERE key = ?'), ("version",)
        )
        return str(rows[0][0])

    return (await store.query(read)).value


async def test_a_newer_database_is_refused_and_left_alone(store: Store) -> None:
    await _sql(
        store,
        "UPDATE \"_meta\" SET value = '99' WHERE key = 'version'",
        'DROP INDEX "users.by_plan"',
    )
    before = await _catalog(store)
    with pytest.raises(SchemaMismatch, match="schema version 99"):
        await store.migrate()
    after = await _catalog(store)
    assert "users.by_plan" not in after.indexes  # nothing was changed
    assert (after.indexes, after.columns) == (before.indexes, before.columns)
    assert await _version(store) == "99"


async def test_an_upgrade_that_cannot_apply_leaves_the_database_as_it_was(store: Store) -> None:
    await _older_release(store)
    # Two users sharing a clerkId, as a database without the rule could hold: the upgrade
    # cannot build the unique index, fails after its other steps, and keeps none of them.
    await _sql(
        store,
        'DROP INDEX "users.by_clerk_id"',
        'INSERT INTO "users" ("_id", "_creationTime", "doc", "clerkId", "plan") '
        'SELECT \'duplicate\', "_creationTime", "doc", "clerkId", "plan" FROM "users"',
    )
    before = await _catalog(store)
    with pytest.raises(UniqueViolation) as caught:
        await store.migrate()
    assert (caught.value.table, caught.value.index) == ("users", "by_clerk_id")
    after = await _catalog(store)
    assert after.indexes == before.indexes
    assert after.columns == before.columns


async def test_concurrent_first_migrations_both_succeed(backend: Backend) -> None:
    """Both succeed; one creates the schema and says so, the other finds it done and
    reports nothing (not the steps of an attempt that was rolled back and re-run)."""
    async with Store(backend) as one, Store(twin(backend)) as two:
        results = await asyncio.gather(one.migrate(), two.migrate())
        created, found_done = sorted(results, key=len, reverse=True)
        assert "created table users" in created
        assert f"initialised schema version {SCHEMA_VERSION}" in created
        assert found_done == []
        assert await one.migrate() == []
        catalog = await _catalog(one)
        assert "messages.by_conversation_created" in catalog.indexes


async def test_upgrade_in_place_sets_the_declared_fillfactor(store: Store) -> None:
    """A database made before the quota counters kept room for in-place updates gets it
    (PostgreSQL; SQLite has no such setting and reports nothing)."""
    postgres = store.backend.dialect.name == "postgres"
    if postgres:
        await _sql(store, 'ALTER TABLE "rateLimits" RESET (fillfactor)')
        assert "rateLimits" not in (await _catalog(store)).fillfactors
    done = await store.migrate()
    assert done == (["set fillfactor 50 on rateLimits"] if postgres else [])
    assert (await _catalog(store)).fillfactors == ({"rateLimits": 50} if postgres else {})
    assert await store.migrate() == []


async def test_scheduled_calls_from_before_lanes_get_a_lane_and_a_lapsed_lease(
    store: Store,
) -> None:
    """A database of schema version 1 may hold scheduled calls without `lane` (and, in
    progress, without `leaseUntil`): the upgrade gives them `short` and a lapsed lease, so
    the worker runs the pending one and ends the lost one."""

    async def write(tx: Transaction) -> list[str]:
        base = {"name": "chat:generate", "args": {}, "scheduledTime": 1.0, "lane": "short"}
        pending = await tx.insert("scheduledFunctions", base | {"state": "pending"})
        running = await tx.insert(
            "scheduledFunctions", base | {"state": "inProgress", "startedTime": 1.0}
        )
        return [pending, running]

    ids = (await store.mutation(write)).value
    d = store.backend.dialect

    async def strip(tx: Transaction) -> None:
        for doc_id in ids:
            doc = await tx.get("scheduledFunctions", doc_id)
            assert doc is not None
            old = {k: v for k, v in doc.items() if k != "lane"}
            await tx.conn.execute(
                d.render('UPDATE "scheduledFunctions" SET doc = ?, lane = NULL WHERE _id = ?'),
                (orjson.dumps(old).decode(), doc_id),
            )
        await tx.conn.execute("UPDATE \"_meta\" SET value = '1' WHERE key = 'version'", ())

    await store.mutation(strip)
    done = await store.migrate()
    assert "migrated data to version 2: scheduled calls get a lane and a lease" in done

    async def read(tx: Transaction) -> list[dict[str, Any] | None]:
        return [await tx.get("scheduledFunctions", doc_id) for doc_id in ids]

    pending, running = (await store.query(read)).value
    assert pending is not None
    assert running is not None
    assert pending["lane"] == running["lane"] == "short"
    assert "leaseUntil" not in pending
    assert running["leaseUntil"] == 0
    assert await store.migrate() == []


async def test_users_from_before_issuers_get_ours_if_they_are_local_accounts(
    store: Store,
) -> None:
    """A database of schema version 2 has users without `tokenIssuer`: the upgrade records
    ours on local accounts' rows and on rows of our subjects (`local_...`), and leaves the
    rest to the configured OIDC issuer (absent)."""

    async def write(tx: Transaction) -> dict[str, str]:
        ids: dict[str, str] = {
            name: await tx.insert("users", user(clerk_id))
            for name, clerk_id in (
                ("account", "local_0a1b"),
                ("orphan", "local_9z"),
                ("clerk", "user_2abc"),
                ("near", "locals"),  # outside our subjects' range, just
            )
        }
        await tx.insert("accounts", account(ids["account"], "a@example.test"))
        await tx.conn.execute("UPDATE \"_meta\" SET value = '2' WHERE key = 'version'", ())
        return ids

    ids = (await store.mutation(write)).value
    done = await store.migrate()
    assert "migrated data to version 3: users record the issuer of their tokens" in done

    async def read(tx: Transaction) -> dict[str, str | None]:
        found = {name: await tx.get("users", doc_id) for name, doc_id in ids.items()}
        return {name: doc.get("tokenIssuer") for name, doc in found.items() if doc is not None}

    assert (await store.query(read)).value == {
        "account": LOCAL_ISSUER,
        "orphan": LOCAL_ISSUER,
        "clerk": None,
        "near": None,
    }
    assert await store.migrate() == []


async def test_a_database_from_before_the_throttle_gets_its_table(backend: Backend) -> None:
    """The release before the sign-in throttle had no `throttles`: starting this one on
    its database creates the table and its indexes, and the documents stay as they were."""
    before_throttle = {name: table for name, table in TABLES.items() if name != "throttles"}
    async with Store(backend) as store:
        await migrate(store, tables=before_throttle)
        assert "throttles" not in (await _catalog(store)).columns
        await store.mutation(lambda tx: tx.insert("users", user("clerk-before")))
        before = await _everything(store)

        done = await store.migrate()

        assert "created table throttles" in done
        catalog = await _catalog(store)
        for name, expected in _declared_indexes().items():
            assert catalog.indexes.get(name) == expected, name
        assert await _everything(store) == before
        await store.mutation(lambda tx: tx.insert("throttles", {"key": "k", "tat": 1.0}))
        assert await store.migrate() == []
