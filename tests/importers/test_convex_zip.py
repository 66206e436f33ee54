"""Convex snapshot exports: the round trip, and ZIPs that are not what they claim."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pytest

from advisor_chat.errors import SourceInvalid
from advisor_chat.importers.convex_zip import (
    EXPORTED,
    NOT_EXPORTED,
    export_convex,
    import_convex,
)
from advisor_chat.importers.marketplace import load_shipped
from advisor_chat.importers.prisma import import_prisma
from advisor_chat.importers.report import Outcome
from advisor_chat.schema.tables import TABLES
from advisor_chat.store import Store, Transaction
from advisor_chat.store.cascade import INLINE_ROWS
from advisor_chat.store.sqlite import SqliteBackend
from tests.importers.prisma_db import bulk, write_sqlite
from tests.store.documents import conversation, count, documents, message, user


def _members(path: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def _zip(path: Path, members: dict[str, str]) -> Path:
    with zipfile.ZipFile(path, "w") as archive:
        for name, text in members.items():
            archive.writestr(name, text)
    return path


async def _filled(store: Store, tmp_path: Path) -> None:
    """The marketplace plus a Prisma history: every kind of document we hold."""
    await load_shipped(store)
    source = tmp_path / "dev.db"
    write_sqlite(source, bulk(users=2, conversations_per_user=2, messages_per_conversation=30))
    await import_prisma(store, f"file:{source}")


async def test_export_then_import_into_an_empty_database_then_export_is_the_same(
    store: Store, tmp_path: Path
) -> None:
    await _filled(store, tmp_path)
    first = tmp_path / "first.zip"
    exported = await export_convex(store, first)
    assert exported.total(Outcome.EXPORTED) > 100

    members = _members(first)
    listed = [json.loads(line) for line in members["_tables/documents.jsonl"].splitlines()]
    assert [t["name"] for t in listed] == [t for t in TABLES if t not in NOT_EXPORTED]
    assert len({t["id"] for t in listed}) == len(listed)
    messages = [json.loads(x) for x in members["messages/documents.jsonl"].splitlines()]
    assert len(messages) == 120
    assert all({"_id", "_creationTime", "conversationId"} <= set(m) for m in messages)

    async with Store(SqliteBackend(tmp_path / "empty.sqlite3")) as empty:
        await empty.migrate()
        report = await import_convex(empty, first)
        assert report.total(Outcome.SKIPPED) == 0
        assert report.count("messages", Outcome.IMPORTED) == 120
        for table in EXPORTED:  # the same documents, _id and _creationTime included
            assert await documents(empty, table) == await documents(store, table)
        second = tmp_path / "second.zip"
        await export_convex(empty, second)
    again = _members(second)
    for name, data in members.items():
        if name.endswith(".jsonl"):
            assert again[name] == data, name

    # Importing the same export again changes nothing.
    repeat = await import_convex(store, first)
    assert repeat.changed == 0


async def test_an_export_leaves_out_what_a_large_delete_has_yet_to_remove(
    store: Store, tmp_path: Path
) -> None:
    """The children a delete left to its batches belong to nothing: an export taken
    meanwhile must not carry them to a database with no batch to remove them."""

    async def fill(tx: Transaction) -> tuple[str, str]:
        user_id = await tx.insert("users", user("clerk-ada"))
        gone = await tx.insert("conversations", conversation(user_id))
        kept = await tx.insert("conversations", conversation(user_id))
        for i in range(INLINE_ROWS + 5):
            await tx.insert("messages", message(gone, f"gone {i}"))
        await tx.insert("messages", message(kept, "kept"))
        return gone, kept

    gone, kept = (await store.mutation(fill)).value
    await store.mutation(lambda tx: tx.delete("conversations", gone))
    assert await count(store, "messages") == INLINE_ROWS + 6  # the batches have not run
    path = tmp_path / "meanwhile.zip"
    report = await export_convex(store, path)
    exported = [json.loads(x) for x in _members(path)["messages/documents.jsonl"].splitlines()]
    assert [m["conversationId"] for m in exported] == [kept]
    assert report.count("messages", Outcome.EXPORTED) == 1
    assert any(f"{INLINE_ROWS + 5} messages" in note for note in report.notes)


async def test_a_failed_export_leaves_no_file(store: Store, tmp_path: Path) -> None:
    target = tmp_path / "missing-folder" / "out.zip"
    with pytest.raises(OSError, match="No such file or directory"):
        await export_convex(store, target)
    assert not target.exists()
    assert not target.with_name("out.zip.partial").exists()


async def test_documents_our_schema_refuses_are_skipped_and_foreign_tables_reported(
    store: Store, tmp_path: Path
) -> None:
    user = {
        "_id": "k57a2b3c4d5e6f7g8h9j0k1m2n3p4q5",
        "_creationTime": 1.7e12,
        "clerkId": "u1",
        "plan": "free",
        "createdAt": 1.7e12,
        "updatedAt": 1.7e12,
    }
    stray = {
        "_id": "x1",
        "_creationTime": 1.7e12,
        "clerkId": "u2",
        "plan": 3,
        "createdAt": 1,
        "updatedAt": 1,
    }
    path = _zip(
        tmp_path / "mixed.zip",
        {
            "_tables/documents.jsonl": '{"name": "users", "id": 10001}\n'
            '{"name": "invoices", "id": 10002}\n',
            "users/documents.jsonl": json.dumps(user) + "\n\n" + json.dumps(stray) + "\n",
            "invoices/documents.jsonl": '{"_id": "i1", "_creationTime": 1, "total": 3}\n',
        },
    )
    report = await import_convex(store, path)
    assert report.count("users", Outcome.IMPORTED) == 1
    [invoices, bad_user] = sorted(report.skipped(), key=lambda i: i.table)
    assert invoices.table == "invoices"
    assert bad_user.source == "users/documents.jsonl:3"  # the blank line 2 is passed over
    assert "users.plan" in bad_user.reason
    assert any("'invoices' is not in our schema: 1 document" in n for n in report.notes)
    [kept] = await documents(store, "users")
    assert kept["_id"] == user["_id"]
    assert kept["_creationTime"] == 1.7e12


async def test_a_clash_with_a_unique_rule_is_skipped_not_fatal(
    store: Store, tmp_path: Path
) -> None:
    def user(doc_id: str) -> str:
        return json.dumps(
            {
                "_id": doc_id,
                "_creationTime": 1,
                "clerkId": "same",
                "plan": "free",
                "createdAt": 1,
                "updatedAt": 1,
            }
        )

    path = _zip(
        tmp_path / "clash.zip",
        {
            "_tables/documents.jsonl": '{"name": "users", "id": 10001}\n',
            "users/documents.jsonl": user("first") + "\n" + user("second") + "\n",
        },
    )
    report = await import_convex(store, path)
    assert report.count("users", Outcome.IMPORTED) == 1
    [clash] = report.skipped()
    assert "by_clerk_id" in clash.reason
    assert [u["_id"] for u in await documents(store, "users")] == ["first"]


@pytest.mark.parametrize(
    ("members", "expected"),
    [
        (None, r"not a ZIP file"),
        ({"users/documents.jsonl": ""}, r"not a Convex export: it has no _tables/documents\.jsonl"),
        ({"_tables/documents.jsonl": '{"name": "users"}\n'}, r"lists 'users' but users/doc"),
        ({"_tables/documents.jsonl": "[1]\n"}, r"_tables/documents\.jsonl: line 1: expected"),
        (
            {
                "_tables/documents.jsonl": '{"name": "users"}\n',
                "users/documents.jsonl": '{"_id": "a", "_creationTime": 1, "clerkId": "a", '
                '"plan": "free", "createdAt": 1, "updatedAt": 1}\n{"_id": "b", oops}\n',
            },
            r"users/documents\.jsonl: line 2: not JSON",
        ),
    ],
)
async def test_a_file_that_is_not_a_convex_export_changes_nothing(
    store: Store, tmp_path: Path, members: dict[str, str] | None, expected: str
) -> None:
    path = tmp_path / "input.zip"
    if members is None:
        path.write_text("just text", encoding="utf-8")
    else:
        _zip(path, members)
    with pytest.raises(SourceInvalid, match=expected):
        await import_convex(store, path)
    assert await documents(store, "users") == []


async def test_dry_run_imports_nothing(store: Store, tmp_path: Path) -> None:
    await load_shipped(store)
    path = tmp_path / "snap.zip"
    await export_convex(store, path)
    async with Store(SqliteBackend(tmp_path / "other.sqlite3")) as other:
        await other.migrate()
        report = await import_convex(other, path, dry_run=True)
        assert report.count("advisors", Outcome.IMPORTED) == len(await documents(store, "advisors"))
        assert await documents(other, "advisors") == []
