"""`migrate` creates the database, then upgrades an older one in place."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from advisor_chat.errors import SchemaMismatch, UniqueViolation
from advisor_chat.store import Store, Transaction
from advisor_chat.store.backend import Backend, Catalog
from advisor_chat.store.postgres import PostgresBackend
from advisor_chat.store.sqlite import SqliteBackend
from tests.store.documents import document, insert_parents_tx


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


async def test_a_newer_database_is_refused_and_left_alone(store: Store) -> None:
    await _sql(
        store,
        "UPDATE \"_meta\" SET value = '99' WHERE key = 'version'",
        'DROP INDEX "users.by_plan"',
    )
    with pytest.raises(SchemaMismatch, match="schema version 99"):
        await store.migrate()
    catalog = await _catalog(store)
    assert "users.by_plan" not in catalog.indexes  # nothing was changed


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


def _second(backend: Backend) -> Backend:
    if isinstance(backend, PostgresBackend):
        return PostgresBackend(backend.url)
    assert isinstance(backend, SqliteBackend)
    return SqliteBackend(backend.path)


async def test_concurrent_first_migrations_both_succeed(backend: Backend) -> None:
    async with Store(backend) as one, Store(_second(backend)) as two:
        results = await asyncio.gather(one.migrate(), two.migrate())
        assert any(results)  # one of them created the schema; neither failed
        assert await one.migrate() == []
        catalog = await _catalog(one)
        assert "messages.by_conversation_created" in catalog.indexes
