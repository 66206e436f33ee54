"""Reading a database made by the original app's Prisma schema: PostgreSQL (`postgresql://`,
Prisma's `?schema=` honoured) or SQLite (`file:./dev.db`, Prisma's dev databases).

Rows come out as plain dicts, read in primary-key order in pages, so a 100k-row table is
never held in memory. The source is only read, never written.
"""

from __future__ import annotations

import sqlite3
from abc import ABC, abstractmethod
from collections.abc import Sequence
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit, urlunsplit

import asyncpg

from advisor_chat.errors import SourceInvalid

#: The original schema's tables and the columns the import reads from each.
COLUMNS: dict[str, tuple[str, ...]] = {
    "User": ("id", "email", "name", "image", "plan", "createdAt", "updatedAt"),
    "Advisor": (
        "id",
        "schemaVersion",
        "status",
        "persona",
        "components",
        "metadata",
        "localization",
        "modelHint",
        "tags",
        "createdAt",
        "updatedAt",
    ),
    "Conversation": ("id", "userId", "title", "activeAdvisorId", "createdAt", "updatedAt"),
    "Message": (
        "id",
        "conversationId",
        "sender",
        "advisorId",
        "content",
        "contentJson",
        "mentions",
        "tokensUsed",
        "createdAt",
    ),
    "ThreadSummary": (
        "id",
        "conversationId",
        "content",
        "startMessageId",
        "endMessageId",
        "createdAt",
    ),
    "AdvisorMemory": (
        "id",
        "conversationId",
        "advisorId",
        "key",
        "value",
        "createdAt",
        "updatedAt",
    ),
}


POSITION = "__position"


class BadText(bytes):
    """A SQLite text value that is not UTF-8: its row is skipped, not mangled."""


def _quoted(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


class PrismaSource(ABC):
    """One Prisma database, opened read-only."""

    def __init__(self, label: str) -> None:
        self.label = label

    @abstractmethod
    async def open(self) -> None: ...

    @abstractmethod
    async def close(self) -> None: ...

    @abstractmethod
    async def _fetch(self, sql: str, params: Sequence[Any]) -> list[dict[str, Any]]: ...

    @abstractmethod
    async def _columns(self) -> dict[str, set[str]]:
        """Every table of the database and its columns."""

    @abstractmethod
    def _param(self, n: int) -> str: ...

    def _table(self, name: str) -> str:
        return _quoted(name)

    async def check(self) -> None:
        """Refuse a database that is not the original schema's, naming what is missing."""
        found = await self._columns()
        missing = [t for t in COLUMNS if t not in found]
        if missing:
            raise SourceInvalid(
                self.label,
                "not a Prisma database of the original app: no table " + ", ".join(missing),
            )
        for table, columns in COLUMNS.items():
            absent = [c for c in columns if c not in found[table]]
            if absent:
                raise SourceInvalid(
                    self.label, f"table {table} lacks column(s) {', '.join(absent)}"
                )

    async def count(self, table: str) -> int:
        rows = await self._fetch(f"SELECT COUNT(*) AS n FROM {self._table(table)}", ())
        return int(rows[0]["n"])

    #: What rows are read in order of: a unique key the database indexes.
    position = _quoted("id")

    async def page(self, table: str, after: Any, limit: int) -> list[dict[str, Any]]:
        """The next `limit` rows of `table` after position `after` (None: from the start);
        each row carries its position as `POSITION`, the cursor of the next page."""
        columns = ", ".join(_quoted(c) for c in COLUMNS[table])
        where = f"WHERE {self.position} > {self._param(1)} " if after is not None else ""
        limit_param = self._param(2 if after is not None else 1)
        sql = (
            f"SELECT {self.position} AS {_quoted(POSITION)}, {columns} "
            f"FROM {self._table(table)} {where}ORDER BY 1 LIMIT {limit_param}"
        )
        return await self._fetch(sql, (after, limit) if after is not None else (limit,))

    async def boards(self) -> dict[str, list[str]]:
        """Each conversation's advisors that have answered in it, first answer first."""
        rows = await self._fetch(
            'SELECT "conversationId" AS c, "advisorId" AS a, MIN("createdAt") AS t '
            f'FROM {self._table("Message")} WHERE "advisorId" IS NOT NULL '
            'GROUP BY "conversationId", "advisorId" ORDER BY 1, 3, 2',
            (),
        )
        boards: dict[str, list[str]] = {}
        for row in rows:
            if isinstance(row["c"], str) and isinstance(row["a"], str):
                boards.setdefault(row["c"], []).append(row["a"])
        return boards


class SqliteSource(PrismaSource):
    # rowid, not id: an id that is not UTF-8 comes back as bytes, and bytes sort after
    # every text in SQLite, so paging by such an id would end the table early.
    position = "rowid"

    def __init__(self, path: Path) -> None:
        super().__init__(str(path))
        self.path = path
        self._conn: sqlite3.Connection | None = None

    async def open(self) -> None:
        if not self.path.is_file():
            raise SourceInvalid(str(self.path), "no such SQLite database file")
        conn = sqlite3.connect(f"{self.path.resolve().as_uri()}?mode=ro", uri=True)
        conn.row_factory = sqlite3.Row
        conn.text_factory = _text
        try:
            conn.execute("SELECT COUNT(*) FROM sqlite_master").fetchone()
        except sqlite3.DatabaseError as exc:
            conn.close()
            raise SourceInvalid(str(self.path), f"not a SQLite database: {exc}") from exc
        self._conn = conn

    async def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    async def _fetch(self, sql: str, params: Sequence[Any]) -> list[dict[str, Any]]:
        assert self._conn is not None
        return [dict(row) for row in self._conn.execute(sql, tuple(params)).fetchall()]

    async def _columns(self) -> dict[str, set[str]]:
        tables = await self._fetch("SELECT name FROM sqlite_master WHERE type = 'table'", ())
        found: dict[str, set[str]] = {}
        for row in tables:
            name = str(row["name"])
            info = await self._fetch(f"PRAGMA table_info({_quoted(name)})", ())
            found[name] = {str(c["name"]) for c in info}
        return found

    def _param(self, n: int) -> str:
        return "?"


def _text(raw: bytes) -> str | BadText:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return BadText(raw)


class PostgresSource(PrismaSource):
    def __init__(self, url: str) -> None:
        parts = urlsplit(url)
        query = parse_qs(parts.query)
        self.schema = query.pop("schema", ["public"])[0]
        # Prisma's URL carries its own options (connection_limit, pool_timeout, pgbouncer…),
        # which asyncpg would send to the server as settings; keep only libpq's.
        kept = {k: values for k, values in query.items() if k in LIBPQ_PARAMETERS}
        super().__init__(without_password(url))
        self.url = urlunsplit(parts._replace(query=urlencode(kept, doseq=True)))
        self._conn: asyncpg.Connection | None = None

    async def open(self) -> None:
        try:
            self._conn = await asyncpg.connect(self.url, timeout=10)
        except (OSError, asyncpg.PostgresError, TimeoutError) as exc:
            raise SourceInvalid(self.label, f"cannot connect: {exc}") from exc
        await self._conn.execute("SET default_transaction_read_only = on")

    async def close(self) -> None:
        if self._conn is not None:
            await self._conn.close()
            self._conn = None

    async def _fetch(self, sql: str, params: Sequence[Any]) -> list[dict[str, Any]]:
        assert self._conn is not None
        return [dict(row) for row in await self._conn.fetch(sql, *params)]

    async def _columns(self) -> dict[str, set[str]]:
        rows = await self._fetch(
            "SELECT table_name AS t, column_name AS c FROM information_schema.columns "
            "WHERE table_schema = $1",
            (self.schema,),
        )
        found: dict[str, set[str]] = {}
        for row in rows:
            found.setdefault(row["t"], set()).add(row["c"])
        return found

    def _table(self, name: str) -> str:
        return f"{_quoted(self.schema)}.{_quoted(name)}"

    def _param(self, n: int) -> str:
        return f"${n}"


LIBPQ_PARAMETERS = frozenset(
    {
        "sslmode",
        "sslcert",
        "sslkey",
        "sslrootcert",
        "sslcrl",
        "sslpassword",
        "passfile",
        "target_session_attrs",
        "application_name",
        "host",
        "port",
        "user",
        "password",
        "dbname",
    }
)


def without_password(url: str) -> str:
    """The URL as it may be shown: no password."""
    parts = urlsplit(url)
    if "@" not in parts.netloc:
        return url
    credentials, host = parts.netloc.rsplit("@", 1)
    return urlunsplit(parts._replace(netloc=f"{credentials.split(':', 1)[0]}@{host}"))


def open_source(url: str) -> PrismaSource:
    """The source a Prisma DATABASE_URL names: PostgreSQL, or a SQLite file."""
    scheme = urlsplit(url).scheme
    if scheme in ("postgres", "postgresql"):
        return PostgresSource(url)
    if scheme in ("file", "sqlite"):
        path = url.split(":", 1)[1]
        if path.startswith("//"):
            path = path[2:]
        return SqliteSource(Path(path.split("?", 1)[0]))
    if scheme == "" or len(scheme) == 1:  # a bare path (or a Windows drive letter)
        return SqliteSource(Path(url))
    raise SourceInvalid(without_password(url), "expected a postgresql:// URL or a SQLite file: URL")
