"""`import prisma`: a database built from the original schema's SQL, on SQLite and
PostgreSQL, with the edge cases the wild has, imported into each of our backends."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from advisor_chat.auth.identities import bury
from advisor_chat.errors import SourceInvalid
from advisor_chat.importers.prisma import import_prisma
from advisor_chat.importers.report import Outcome
from advisor_chat.schema.tables import LOCAL_ISSUER
from advisor_chat.store import Document, Store
from advisor_chat.store.sqlite import SqliteBackend
from tests.importers.prisma_db import (
    Raw,
    Rows,
    at,
    bulk,
    ms,
    persona,
    write_postgres,
    write_sqlite,
)
from tests.services import create_database
from tests.store.documents import documents

CLI = [sys.executable, "-m", "advisor_chat.cli"]
TABLES = ("users", "advisors", "conversations", "messages", "threadSummaries", "advisorMemories")
SQLITE_ONLY_BAD_ROWS = 2  # rows only SQLite can hold: a dangling id, bytes that are not UTF-8


def edge_cases(sqlite: bool) -> Rows:
    """Every kind of row the import must map, default, re-point or refuse."""
    rows: Rows = {
        "User": [
            {
                "id": "user_2alice",
                "email": "alice@example.com",
                "name": "Alice Ødegård 🚀",
                "image": None,
                "plan": "premium",
                "createdAt": at(0),
                "updatedAt": at(1),
            },
            {
                "id": "user_2bob",
                "email": None,
                "name": None,
                "image": None,
                "plan": "base",
                "createdAt": at(0, 5),
                "updatedAt": at(0, 5),
            },
            {
                "id": "user_2carol",
                "email": "carol@example.com",
                "name": "كارول",
                "image": None,
                "plan": "gold",
                "createdAt": at(0, 9),
                "updatedAt": at(0, 9),
            },
        ],
        "Advisor": [
            {
                "id": "alex-reyes-v3",
                "schemaVersion": "1.1-base",
                "status": "active",
                "persona": persona("Alex Reyes", "Investor Advisor") | {"mood": "calm"},
                "components": [{"id": "responseProtocol", "version": "1", "config": {}}],
                "metadata": {"tags": ["investing"], "owner": {"org": "Board"}},
                "localization": None,
                "modelHint": "gpt-4o",
                "tags": ["investing", "startups"],
                "createdAt": at(0),
                "updatedAt": at(0),
            },
            {
                "id": "amara-johnson-v2",
                "schemaVersion": "1.0",
                "status": "inactive",
                "persona": persona("Amara Johnson", "CTO Advisor"),
                "components": [],
                "metadata": None,
                "localization": {"defaultLanguage": "en"},
                "modelHint": None,
                "tags": [],
                "createdAt": at(0),
                "updatedAt": at(0),
            },
            # Duplicate keys in the JSON text (last wins, as in every JSON reader) on SQLite;
            # PostgreSQL's jsonb keeps one already.
            {
                "id": "dup-keys",
                "schemaVersion": "1.1-base",
                "status": "active",
                "persona": Raw('{"name": "First", "name": "Dana Kim", "title": "Coach"}')
                if sqlite
                else persona("Dana Kim", "Coach"),
                "components": [],
                "metadata": None,
                "localization": None,
                "modelHint": None,
                "tags": [],
                "createdAt": at(0),
                "updatedAt": at(0),
            },
            {
                "id": "no-title",
                "schemaVersion": "1.1-base",
                "status": "active",
                "persona": {"name": "Nameless"},
                "components": [],
                "metadata": None,
                "localization": None,
                "modelHint": None,
                "tags": [],
                "createdAt": at(0),
                "updatedAt": at(0),
            },
        ],
        "Conversation": [
            {
                "id": "conv-a1",
                "userId": "user_2alice",
                "title": "Seed round 💸",
                "activeAdvisorId": "alex-reyes-v3",
                "createdAt": at(2),
                "updatedAt": at(3),
            },
            {
                "id": "conv-a2",
                "userId": "user_2alice",
                "title": None,
                "activeAdvisorId": "no-title",
                "createdAt": at(2, 1),
                "updatedAt": at(2, 1),
            },
            {
                "id": "conv-b1",
                "userId": "user_2bob",
                "title": "空のスレッド",
                "activeAdvisorId": None,
                "createdAt": at(2, 2),
                "updatedAt": at(2, 2),
            },
        ],
        "Message": [
            {
                "id": "m1",
                "conversationId": "conv-a1",
                "sender": "user",
                "advisorId": None,
                "content": "@alex should we raise? ‏שלום e\u0301",
                "contentJson": None,
                "mentions": ["alex-reyes-v3", "ghost-advisor"],
                "tokensUsed": None,
                "createdAt": at(2, 10),
            },
            {
                "id": "m2",
                "conversationId": "conv-a1",
                "sender": "advisor",
                "advisorId": "alex-reyes-v3",
                "content": "Not yet.",
                "contentJson": {"usage": {"totalTokens": 12}},
                "mentions": [],
                "tokensUsed": 12,
                "createdAt": at(2, 20),
            },
            {
                "id": "m3",
                "conversationId": "conv-a1",
                "sender": "advisor",
                "advisorId": "amara-johnson-v2",
                "content": "Agreed, but ship first.",
                "contentJson": None,
                "mentions": [],
                "tokensUsed": None,
                "createdAt": at(2, 30),
            },
            {
                "id": "m4",
                "conversationId": "conv-a2",
                "sender": "advisor",
                "advisorId": "no-title",
                "content": "I was never imported.",
                "contentJson": None,
                "mentions": [],
                "tokensUsed": None,
                "createdAt": at(2, 40),
            },
            {
                "id": "m5",
                "conversationId": "conv-a1",
                "sender": "system",
                "advisorId": None,
                "content": "",
                "contentJson": {},
                "mentions": [],
                "tokensUsed": None,
                "createdAt": at(2, 50),
            },
        ],
        "ThreadSummary": [
            {
                "id": "s1",
                "conversationId": "conv-a1",
                "content": "Raise later.",
                "startMessageId": "m1",
                "endMessageId": "m3",
                "createdAt": at(3),
            },
            {
                "id": "s2",
                "conversationId": "conv-a1",
                "content": "Range half gone.",
                "startMessageId": "m-missing",
                "endMessageId": None,
                "createdAt": at(3, 1),
            },
        ],
        "AdvisorMemory": [
            {
                "id": "k1",
                "conversationId": "conv-a1",
                "advisorId": "alex-reyes-v3",
                "key": "runway",
                "value": {"months": 14},
                "createdAt": at(3),
                "updatedAt": at(4),
            },
            {
                "id": "k2",
                "conversationId": "conv-a2",
                "advisorId": "alex-reyes-v3",
                "key": "runway",
                "value": [],
                "createdAt": at(3),
                "updatedAt": at(3),
            },
            {
                "id": "k3",
                "conversationId": "conv-a1",
                "advisorId": "no-title",
                "key": "orphan",
                "value": "x",
                "createdAt": at(3),
                "updatedAt": at(3),
            },
        ],
    }
    if sqlite:  # SQLite keeps no foreign keys and any bytes: rows PostgreSQL would refuse
        rows["Message"] += [
            {
                "id": "m6",
                "conversationId": "conv-gone",
                "sender": "user",
                "advisorId": None,
                "content": "dangling",
                "mentions": [],
                "createdAt": at(2, 60),
            },
            {
                "id": "m7",
                "conversationId": "conv-b1",
                "sender": "user",
                "advisorId": None,
                "content": b"caf\xe9 latin-1",
                "mentions": [],
                "createdAt": at(2, 70),
            },
        ]
        rows["User"][2]["createdAt"] = Raw("2024-03-01T09:00:09.000Z")  # ISO text, too
    return rows


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def prisma_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The edge-case database, on each kind of Prisma database."""
    if request.param == "sqlite":
        path = tmp_path / "dev.db"
        write_sqlite(path, edge_cases(sqlite=True))
        return f"file:{path}"
    server = request.getfixturevalue("postgres")
    name = f"prisma_{os.getpid()}_{time.monotonic_ns()}"
    asyncio.run(create_database(server.database_url("postgres"), name))
    url: str = server.database_url(name)
    asyncio.run(write_postgres(url, edge_cases(sqlite=False)))
    # As Prisma's own .env has it: options asyncpg must not pass on to the server.
    return url + "?schema=public&connection_limit=5&pool_timeout=10"


async def _by_legacy(store: Store, table: str) -> dict[str, Document]:
    return {d["legacyId"]: d for d in await documents(store, table)}


async def test_everything_is_imported_and_re_pointed(store: Store, prisma_url: str) -> None:
    report = await import_prisma(store, prisma_url)
    sqlite = prisma_url.startswith("file:")
    users = await _by_legacy(store, "users")
    assert users["user_2alice"]["clerkId"] == "user_2alice"
    assert users["user_2alice"]["plan"] == "enterprise"
    assert users["user_2bob"]["plan"] == "pro"
    assert "email" not in users["user_2bob"]
    assert users["user_2carol"]["plan"] == "free"  # unknown plan, noted
    assert users["user_2carol"]["createdAt"] == ms(at(0, 9))
    assert users["user_2alice"]["updatedAt"] == ms(at(1))
    assert users["user_2alice"]["name"] == "Alice Ødegård 🚀"

    advisors = await _by_legacy(store, "advisors")
    assert set(advisors) == {"alex-reyes-v3", "amara-johnson-v2", "dup-keys"}
    alex = advisors["alex-reyes-v3"]
    assert alex["isPublic"] is True
    assert alex["tags"] == ["investing", "startups"]
    assert alex["modelHint"] == "gpt-4o"
    assert alex["extensions"] == {"persona": {"mood": "calm"}}
    assert alex["components"][0]["id"] == "responseProtocol"
    assert advisors["amara-johnson-v2"]["status"] == "inactive"
    assert "metadata" not in advisors["amara-johnson-v2"]
    assert advisors["dup-keys"]["persona"]["name"] == "Dana Kim"

    conversations = await _by_legacy(store, "conversations")
    a1, a2 = conversations["conv-a1"], conversations["conv-a2"]
    assert a1["userId"] == users["user_2alice"]["_id"]
    assert a1["activeAdvisorId"] == alex["_id"]
    # The board: the active advisor, then every advisor that answered, first answer first.
    assert a1["advisorIds"] == [alex["_id"], advisors["amara-johnson-v2"]["_id"]]
    assert "activeAdvisorId" not in a2  # its advisor was refused
    assert "title" not in a2
    assert conversations["conv-b1"]["title"] == "空のスレッド"

    messages = await _by_legacy(store, "messages")
    assert messages["m1"]["mentions"] == [alex["_id"]]  # the unknown mention left out
    assert messages["m1"]["content"] == "@alex should we raise? ‏שלום e\u0301"
    assert messages["m1"]["conversationId"] == a1["_id"]
    assert messages["m2"]["contentJson"] == {"usage": {"totalTokens": 12}}
    assert messages["m2"]["advisorId"] == alex["_id"]
    assert messages["m2"]["createdAt"] == ms(at(2, 20))
    assert messages["m2"]["_creationTime"] == ms(at(2, 20))
    assert "advisorId" not in messages["m4"]
    assert "contentJson" not in messages["m1"]
    assert messages["m5"]["contentJson"] == {}
    assert messages["m5"]["content"] == ""

    summaries = await _by_legacy(store, "threadSummaries")
    assert summaries["s1"]["startMessageId"] == messages["m1"]["_id"]
    assert summaries["s1"]["endMessageId"] == messages["m3"]["_id"]
    assert "startMessageId" not in summaries["s2"]

    memories = {
        (m["conversationId"], m["key"]): m for m in await documents(store, "advisorMemories")
    }
    assert memories[(a1["_id"], "runway")]["value"] == {"months": 14}
    assert memories[(a2["_id"], "runway")]["value"] == []
    assert len(memories) == 2

    skipped = {item.source: item.reason for item in report.skipped()}
    expected = {"Advisor no-title", "AdvisorMemory k3"}
    if sqlite:
        expected |= {"Message m6", "Message m7"}
        assert "not imported" in skipped["Message m6"]
        assert "not UTF-8" in skipped["Message m7"]
    assert set(skipped) == expected
    assert "persona.title" in skipped["Advisor no-title"]
    assert report.count("messages", Outcome.IMPORTED) == 5
    notes = " | ".join(report.notes)
    assert "plan 'gold'" in notes
    assert "mentioned advisor was not found" in notes


async def test_a_rerun_changes_nothing(store: Store, prisma_url: str) -> None:
    await import_prisma(store, prisma_url)
    before = {t: await documents(store, t) for t in TABLES}
    again = await import_prisma(store, prisma_url)
    assert again.changed == 0
    assert again.total(Outcome.UNCHANGED) == sum(len(v) for v in before.values())
    assert {t: await documents(store, t) for t in TABLES} == before


async def test_dry_run_writes_nothing(store: Store, prisma_url: str) -> None:
    report = await import_prisma(store, prisma_url, dry_run=True)
    assert report.count("messages", Outcome.IMPORTED) == 5  # children saw their parents
    assert report.count("threadSummaries", Outcome.IMPORTED) == 2
    for table in TABLES:
        assert await documents(store, table) == []


async def test_a_user_who_signed_in_before_the_import_is_adopted(
    store: Store, prisma_url: str
) -> None:
    async def sign_in(tx: Any) -> str:
        fields = {
            "clerkId": "user_2bob",
            "tokenIssuer": "https://clerk.example.test",
            "plan": "free",
            "createdAt": 1.0,
            "updatedAt": 1.0,
        }
        return await tx.insert("users", fields)  # type: ignore[no-any-return]

    bob = (await store.mutation(sign_in)).value
    await import_prisma(store, prisma_url)
    users = [u for u in await documents(store, "users") if u["clerkId"] == "user_2bob"]
    assert [u["_id"] for u in users] == [bob]
    assert users[0]["legacyId"] == "user_2bob"
    assert users[0]["tokenIssuer"] == "https://clerk.example.test"  # still his issuer's
    alice = (await _by_legacy(store, "users"))["user_2alice"]
    assert "tokenIssuer" not in alice  # the configured OIDC issuer's, as Clerk's were


async def test_neither_a_local_account_nor_a_deleted_user_is_imported_over(
    store: Store, prisma_url: str
) -> None:
    """A Prisma id that is a local account's subject here is not Clerk's to import (the
    account keeps its row); a user deleted here since is not brought back by a re-run."""

    async def prepare(tx: Any) -> None:
        local = {"clerkId": "user_2carol", "tokenIssuer": LOCAL_ISSUER, "plan": "free"}
        await tx.insert("users", local | {"createdAt": 1.0, "updatedAt": 1.0})
        await bury(tx, "user_2bob", None)

    await store.mutation(prepare)
    report = await import_prisma(store, prisma_url)
    skipped = {item.source: item.reason for item in report.skipped()}
    assert "a local account's here" in skipped["User user_2carol"]
    assert "deleted here since" in skipped["User user_2bob"]
    users = {u["clerkId"]: u for u in await documents(store, "users")}
    assert set(users) == {"user_2alice", "user_2carol"}
    assert "legacyId" not in users["user_2carol"]


async def test_a_database_without_the_prisma_tables_is_refused(
    store: Store, tmp_path: Path
) -> None:
    path = tmp_path / "other.db"
    conn = sqlite3.connect(path)
    conn.executescript('CREATE TABLE "User" (id TEXT PRIMARY KEY); CREATE TABLE notes (x);')
    conn.close()
    with pytest.raises(SourceInvalid, match="no table Advisor, Conversation, Message"):
        await import_prisma(store, f"file:{path}")
    (tmp_path / "junk.db").write_bytes(b"not a database at all" * 100)
    with pytest.raises(SourceInvalid, match=r"junk\.db: not a SQLite database"):
        await import_prisma(store, f"file:{tmp_path / 'junk.db'}")
    with pytest.raises(SourceInvalid, match="no such SQLite database file"):
        await import_prisma(store, f"file:{tmp_path / 'missing.db'}")
    with pytest.raises(SourceInvalid, match="expected a postgresql:// URL") as caught:
        await import_prisma(store, "mysql://app:s3cret@localhost/app")
    assert "s3cret" not in str(caught.value)
    for table in TABLES:
        assert await documents(store, table) == []


def _normalised(db: Path) -> dict[str, list[Any]]:
    """Every imported document with our ids replaced by the Prisma ids they stand for, so
    two runs (which mint different ids) can be compared."""
    conn = sqlite3.connect(db)
    docs = {t: [json.loads(r[0]) for r in conn.execute(f'SELECT doc FROM "{t}"')] for t in TABLES}
    conn.close()
    names = {d["_id"]: d.get("legacyId") for table in docs.values() for d in table}

    def swap(value: Any) -> Any:
        if isinstance(value, str):
            return names.get(value, value)
        if isinstance(value, list):
            return [swap(v) for v in value]
        if isinstance(value, dict):
            return {k: swap(v) for k, v in value.items() if k not in ("_id", "updatedAt")}
        return value

    return {t: sorted((swap(d) for d in rows), key=repr) for t, rows in docs.items()}


def _cli_env(data_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ADVISOR_CHAT_")}
    env.pop("DATABASE_URL", None)
    return env | {"ADVISOR_CHAT_DATA_DIR": str(data_dir)}


def _import_to_the_end(url: str, data_dir: Path) -> None:
    done = subprocess.run(
        [*CLI, "import", "prisma", url],
        env=_cli_env(data_dir),
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def _messages_in(db: Path) -> int:
    try:
        conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=0.05)
        try:
            return int(conn.execute('SELECT COUNT(*) FROM "messages"').fetchone()[0])
        finally:
            conn.close()
    except sqlite3.Error:
        return 0


def test_an_import_killed_half_way_then_rerun_equals_one_clean_run(tmp_path: Path) -> None:
    source = tmp_path / "big.db"
    rows = bulk(users=20, conversations_per_user=5, messages_per_conversation=100)  # 10k
    write_sqlite(source, rows)
    url = f"file:{source}"

    clean_dir, crash_dir = tmp_path / "clean", tmp_path / "crash"
    _import_to_the_end(url, clean_dir)

    crash_db = crash_dir / "advisor-chat.sqlite3"
    victim = subprocess.Popen(
        [*CLI, "import", "prisma", url],
        env=_cli_env(crash_dir),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 120
    while _messages_in(crash_db) == 0 and victim.poll() is None and time.monotonic() < deadline:
        time.sleep(0.005)
    victim.send_signal(signal.SIGKILL)
    victim.wait(timeout=30)
    half = _messages_in(crash_db)
    assert 0 < half < 10_000, f"the kill should land mid-import, found {half} messages"

    _import_to_the_end(url, crash_dir)
    assert _messages_in(crash_db) == 10_000
    assert _normalised(crash_db) == _normalised(clean_dir / "advisor-chat.sqlite3")


async def test_bulk_import_reports_every_row(tmp_path: Path) -> None:
    source = tmp_path / "bulk.db"
    write_sqlite(source, bulk(users=3, conversations_per_user=2, messages_per_conversation=400))
    async with Store(SqliteBackend(tmp_path / "ours.sqlite3")) as store:
        await store.migrate()
        report = await import_prisma(store, f"file:{source}")
        assert report.count("messages", Outcome.IMPORTED) == 2400  # across 5 pages
        assert report.count("advisorMemories", Outcome.IMPORTED) == 6
        assert len(await documents(store, "messages")) == 2400


async def test_what_changed_here_since_wins_over_an_older_source(
    store: Store, prisma_url: str
) -> None:
    async def sign_in_later(tx: Any) -> None:
        # Bob signed in after the Prisma data was written: Clerk gave him an email.
        fields = {
            "clerkId": "user_2bob",
            "email": "bob@new.example",
            "plan": "enterprise",
            "createdAt": ms(at(9)),
            "updatedAt": ms(at(9)),
        }
        await tx.insert("users", fields)

    await store.mutation(sign_in_later)
    await import_prisma(store, prisma_url)
    bob = (await _by_legacy(store, "users"))["user_2bob"]
    assert bob["email"] == "bob@new.example"  # the source's NULL did not erase it
    assert bob["plan"] == "enterprise"  # nor its older plan replace the newer one
    assert bob["legacyId"] == "user_2bob"  # but the import adopted the row

    conversation = (await _by_legacy(store, "conversations"))["conv-a1"]
    message = (await _by_legacy(store, "messages"))["m1"]

    async def edit_here(tx: Any) -> None:
        await tx.patch(
            "conversations", conversation["_id"], {"title": "Renamed", "updatedAt": ms(at(30))}
        )
        await tx.patch("messages", message["_id"], {"content": "edited here"})

    await store.mutation(edit_here)
    again = await import_prisma(store, prisma_url)
    assert again.changed == 0
    assert (await _by_legacy(store, "conversations"))["conv-a1"]["title"] == "Renamed"
    assert (await _by_legacy(store, "messages"))["m1"]["content"] == "edited here"


async def test_odd_values_skip_their_row_only(
    store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("advisor_chat.importers.prisma.PAGE", 2)  # pages end on bad rows
    users = [
        {"id": f"u{n}", "plan": "free", "createdAt": at(0), "updatedAt": at(0)} for n in range(6)
    ]
    users[1]["id"] = b"u1-caf\xe9"  # not UTF-8, and the last row of the first page
    users[3]["createdAt"] = Raw("--5")
    advisor = {
        "id": "odd-tags",
        "schemaVersion": "1",
        "status": "active",
        "persona": persona("Odd Tags"),
        "components": [],
        "tags": [{"k": 1}],
        "createdAt": at(0),
        "updatedAt": at(0),
    }
    path = tmp_path / "odd.db"
    write_sqlite(path, {"User": users, "Advisor": [advisor]})
    report = await import_prisma(store, f"file:{path}")
    skipped = {item.source: item.reason for item in report.skipped()}
    assert set(await _by_legacy(store, "users")) == {"u0", "u2", "u4", "u5"}
    assert "not UTF-8" in next(r for s, r in skipped.items() if s.startswith("User b"))
    assert "createdAt: '--5' is not a date" in skipped["User u3"]
    assert "advisors.tags" in skipped["Advisor odd-tags"]
