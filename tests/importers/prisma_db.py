"""A database made by the original app's Prisma schema, built by the tests.

The DDL is what `prisma migrate` generates for that schema (PostgreSQL: enums, jsonb,
text[], timestamp(3), foreign keys; SQLite: DATETIME holding integer milliseconds, JSON as
text, String[] as JSON text since SQLite has no lists). Rows are given once, as Python
values, and written the way Prisma would write them to either database.
"""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import asyncpg

POSTGRES_DDL = """
CREATE TYPE "AdvisorStatus" AS ENUM ('active', 'inactive', 'archived');
CREATE TYPE "MessageSender" AS ENUM ('user', 'advisor', 'system');
CREATE TABLE "User" (
    "id" TEXT NOT NULL, "email" TEXT, "name" TEXT, "image" TEXT,
    "plan" TEXT NOT NULL DEFAULT 'free',
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updatedAt" TIMESTAMP(3) NOT NULL,
    CONSTRAINT "User_pkey" PRIMARY KEY ("id"));
CREATE TABLE "Advisor" (
    "id" TEXT NOT NULL, "schemaVersion" TEXT NOT NULL,
    "status" "AdvisorStatus" NOT NULL DEFAULT 'active',
    "persona" JSONB NOT NULL, "components" JSONB NOT NULL, "metadata" JSONB,
    "localization" JSONB, "modelHint" TEXT, "tags" TEXT[] DEFAULT ARRAY[]::TEXT[],
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updatedAt" TIMESTAMP(3) NOT NULL,
    CONSTRAINT "Advisor_pkey" PRIMARY KEY ("id"));
CREATE TABLE "Conversation" (
    "id" TEXT NOT NULL, "userId" TEXT NOT NULL, "title" TEXT, "activeAdvisorId" TEXT,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updatedAt" TIMESTAMP(3) NOT NULL,
    CONSTRAINT "Conversation_pkey" PRIMARY KEY ("id"));
CREATE TABLE "Message" (
    "id" TEXT NOT NULL, "conversationId" TEXT NOT NULL, "sender" "MessageSender" NOT NULL,
    "advisorId" TEXT, "content" TEXT NOT NULL, "contentJson" JSONB,
    "mentions" TEXT[] DEFAULT ARRAY[]::TEXT[], "tokensUsed" INTEGER,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    CONSTRAINT "Message_pkey" PRIMARY KEY ("id"));
CREATE TABLE "ThreadSummary" (
    "id" TEXT NOT NULL, "conversationId" TEXT NOT NULL, "content" TEXT NOT NULL,
    "startMessageId" TEXT, "endMessageId" TEXT,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    CONSTRAINT "ThreadSummary_pkey" PRIMARY KEY ("id"));
CREATE TABLE "AdvisorMemory" (
    "id" TEXT NOT NULL, "conversationId" TEXT NOT NULL, "advisorId" TEXT NOT NULL,
    "key" TEXT NOT NULL, "value" JSONB NOT NULL,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updatedAt" TIMESTAMP(3) NOT NULL,
    CONSTRAINT "AdvisorMemory_pkey" PRIMARY KEY ("id"));
CREATE UNIQUE INDEX "AdvisorMemory_conversationId_advisorId_key_key"
    ON "AdvisorMemory"("conversationId", "advisorId", "key");
ALTER TABLE "Conversation" ADD CONSTRAINT "Conversation_userId_fkey" FOREIGN KEY ("userId")
    REFERENCES "User"("id") ON DELETE RESTRICT ON UPDATE CASCADE;
ALTER TABLE "Conversation" ADD CONSTRAINT "Conversation_activeAdvisorId_fkey"
    FOREIGN KEY ("activeAdvisorId") REFERENCES "Advisor"("id")
    ON DELETE SET NULL ON UPDATE CASCADE;
ALTER TABLE "Message" ADD CONSTRAINT "Message_conversationId_fkey"
    FOREIGN KEY ("conversationId") REFERENCES "Conversation"("id")
    ON DELETE RESTRICT ON UPDATE CASCADE;
ALTER TABLE "Message" ADD CONSTRAINT "Message_advisorId_fkey" FOREIGN KEY ("advisorId")
    REFERENCES "Advisor"("id")
    ON DELETE SET NULL ON UPDATE CASCADE;
ALTER TABLE "ThreadSummary" ADD CONSTRAINT "ThreadSummary_conversationId_fkey"
    FOREIGN KEY ("conversationId") REFERENCES "Conversation"("id")
    ON DELETE RESTRICT ON UPDATE CASCADE;
ALTER TABLE "AdvisorMemory" ADD CONSTRAINT "AdvisorMemory_conversationId_fkey"
    FOREIGN KEY ("conversationId") REFERENCES "Conversation"("id")
    ON DELETE RESTRICT ON UPDATE CASCADE;
ALTER TABLE "AdvisorMemory" ADD CONSTRAINT "AdvisorMemory_advisorId_fkey"
    FOREIGN KEY ("advisorId") REFERENCES "Advisor"("id") ON DELETE RESTRICT ON UPDATE CASCADE;
"""

SQLITE_DDL = """
CREATE TABLE "User" ("id" TEXT NOT NULL PRIMARY KEY, "email" TEXT, "name" TEXT, "image" TEXT,
    "plan" TEXT NOT NULL DEFAULT 'free',
    "createdAt" DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP, "updatedAt" DATETIME NOT NULL);
CREATE TABLE "Advisor" ("id" TEXT NOT NULL PRIMARY KEY, "schemaVersion" TEXT NOT NULL,
    "status" TEXT NOT NULL DEFAULT 'active', "persona" JSONB NOT NULL,
    "components" JSONB NOT NULL, "metadata" JSONB, "localization" JSONB, "modelHint" TEXT,
    "tags" JSONB NOT NULL DEFAULT '[]',
    "createdAt" DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP, "updatedAt" DATETIME NOT NULL);
CREATE TABLE "Conversation" ("id" TEXT NOT NULL PRIMARY KEY, "userId" TEXT NOT NULL,
    "title" TEXT, "activeAdvisorId" TEXT,
    "createdAt" DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP, "updatedAt" DATETIME NOT NULL,
    CONSTRAINT "Conversation_userId_fkey" FOREIGN KEY ("userId") REFERENCES "User" ("id"),
    CONSTRAINT "Conversation_activeAdvisorId_fkey" FOREIGN KEY ("activeAdvisorId")
        REFERENCES "Advisor" ("id"));
CREATE TABLE "Message" ("id" TEXT NOT NULL PRIMARY KEY, "conversationId" TEXT NOT NULL,
    "sender" TEXT NOT NULL, "advisorId" TEXT, "content" TEXT NOT NULL, "contentJson" JSONB,
    "mentions" JSONB NOT NULL DEFAULT '[]', "tokensUsed" INTEGER,
    "createdAt" DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
    CONSTRAINT "Message_conversationId_fkey" FOREIGN KEY ("conversationId")
        REFERENCES "Conversation" ("id"),
    CONSTRAINT "Message_advisorId_fkey" FOREIGN KEY ("advisorId") REFERENCES "Advisor" ("id"));
CREATE TABLE "ThreadSummary" ("id" TEXT NOT NULL PRIMARY KEY, "conversationId" TEXT NOT NULL,
    "content" TEXT NOT NULL, "startMessageId" TEXT, "endMessageId" TEXT,
    "createdAt" DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP);
CREATE TABLE "AdvisorMemory" ("id" TEXT NOT NULL PRIMARY KEY, "conversationId" TEXT NOT NULL,
    "advisorId" TEXT NOT NULL, "key" TEXT NOT NULL, "value" JSONB NOT NULL,
    "createdAt" DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP, "updatedAt" DATETIME NOT NULL);
CREATE UNIQUE INDEX "AdvisorMemory_conversationId_advisorId_key_key"
    ON "AdvisorMemory"("conversationId", "advisorId", "key");
"""

JSON_COLUMNS = {"persona", "components", "metadata", "localization", "contentJson", "value"}
LIST_COLUMNS = {"tags", "mentions"}
TABLE_ORDER = ("User", "Advisor", "Conversation", "Message", "ThreadSummary", "AdvisorMemory")

Rows = dict[str, list[dict[str, Any]]]


class Raw(str):
    """A column value written verbatim (e.g. JSON text with duplicate keys)."""


def _sqlite_value(column: str, value: Any) -> Any:
    if isinstance(value, Raw | bytes):
        return value if isinstance(value, bytes) else str(value)
    if isinstance(value, dt.datetime):
        return int(value.replace(tzinfo=dt.UTC).timestamp() * 1000)  # Prisma's encoding
    if column in JSON_COLUMNS or column in LIST_COLUMNS:
        return None if value is None else json.dumps(value, ensure_ascii=False)
    return value


def write_sqlite(path: Path, rows: Rows) -> None:
    conn = sqlite3.connect(path)
    conn.executescript(SQLITE_DDL)
    for table in TABLE_ORDER:
        for row in rows.get(table, []):
            columns = ", ".join(f'"{c}"' for c in row)
            marks = ", ".join("?" for _ in row)
            conn.execute(
                f'INSERT INTO "{table}" ({columns}) VALUES ({marks})',
                [_sqlite_value(c, v) for c, v in row.items()],
            )
    conn.commit()
    conn.close()


def _pg_value(column: str, value: Any) -> Any:
    if isinstance(value, Raw):
        return str(value)
    if column in JSON_COLUMNS:
        return None if value is None else json.dumps(value, ensure_ascii=False)
    return value


async def write_postgres(url: str, rows: Rows) -> None:
    conn = await asyncpg.connect(url)
    try:
        await conn.execute(POSTGRES_DDL)
        for table in TABLE_ORDER:
            shapes: dict[tuple[str, ...], list[list[Any]]] = {}
            for row in rows.get(table, []):
                values = [_pg_value(c, v) for c, v in row.items()]
                shapes.setdefault(tuple(row), []).append(values)
            for names, batch in shapes.items():  # one executemany per column set
                columns = ", ".join(f'"{c}"' for c in names)
                marks = ", ".join(f"${i}" for i in range(1, len(names) + 1))
                sql = f'INSERT INTO "{table}" ({columns}) VALUES ({marks})'
                await conn.executemany(sql, batch)
    finally:
        await conn.close()


def at(day: int, second: int = 0) -> dt.datetime:
    return dt.datetime(2024, 3, 1, 9, 0, 0) + dt.timedelta(days=day, seconds=second)


def ms(moment: dt.datetime) -> float:
    return moment.replace(tzinfo=dt.UTC).timestamp() * 1000


def persona(name: str, title: str = "Advisor") -> dict[str, Any]:
    return {"name": name, "title": title, "archetype": "The Operator"}


def bulk(users: int, conversations_per_user: int, messages_per_conversation: int) -> Rows:
    """A plain, valid dataset of the given size (for crash, re-run and bench runs)."""
    rows: Rows = {t: [] for t in TABLE_ORDER}
    rows["Advisor"] = [
        {
            "id": f"adv-{a}",
            "schemaVersion": "1.1-base",
            "status": "active",
            "persona": persona(f"Advisor {a}"),
            "components": [],
            "tags": ["bulk"],
            "createdAt": at(0),
            "updatedAt": at(0),
        }
        for a in range(3)
    ]
    for u in range(users):
        rows["User"].append(
            {"id": f"user_{u:05}", "plan": "free", "createdAt": at(1), "updatedAt": at(1)}
        )
        for c in range(conversations_per_user):
            conv = f"conv-{u:05}-{c:03}"
            rows["Conversation"].append(
                {
                    "id": conv,
                    "userId": f"user_{u:05}",
                    "title": f"Thread {c}",
                    "activeAdvisorId": "adv-0",
                    "createdAt": at(2),
                    "updatedAt": at(3),
                }
            )
            for m in range(messages_per_conversation):
                advisor = m % 2 == 1
                rows["Message"].append(
                    {
                        "id": f"msg-{u:05}-{c:03}-{m:05}",
                        "conversationId": conv,
                        "sender": "advisor" if advisor else "user",
                        "advisorId": f"adv-{m % 3}" if advisor else None,
                        "content": f"message {m} of {conv}",
                        "mentions": [],
                        "tokensUsed": 40 if advisor else None,
                        "createdAt": at(2, m),
                    }
                )
            rows["AdvisorMemory"].append(
                {
                    "id": f"mem-{conv}",
                    "conversationId": conv,
                    "advisorId": "adv-1",
                    "key": "goal",
                    "value": {"text": "ship"},
                    "createdAt": at(3),
                    "updatedAt": at(3),
                }
            )
    return rows


def chain(*parts: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    return [row for part in parts for row in part]
