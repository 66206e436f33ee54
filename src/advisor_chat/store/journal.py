"""The durable commit log: the `_commits` table, one row per mutation that wrote, written
in the mutation's own transaction. So a commit is announced exactly when it committed, in
every process, and its sequence number is the database's commit order:

- SQLite has one writer at a time for the whole file, across processes; the row's
  AUTOINCREMENT key is taken inside that turn, and a rolled-back transaction gives its
  number back.
- PostgreSQL commits concurrently, and a sequence alone hands numbers out in the order
  transactions ask, not the order they commit (measured: 43-82 of 299 adjacent commits
  inverted). Each writer therefore takes one transaction-level advisory lock just before
  numbering its commit, held until its COMMIT has ended: commits number and land one at a
  time, in order. The rest of the transaction ran concurrently; only the numbering and the
  COMMIT are serialized, as Convex's own committer serializes them. A number whose
  transaction then failed (a serialization failure at COMMIT) is never used: a gap below a
  number already visible is final, so a reader that sees N knows everything before N.
  The commit's NOTIFY (delivered at commit, in commit order) rings the other processes.

Rows are kept RETAIN_S; a reader further behind than that learns commits were lost and
treats everything as changed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import orjson

from advisor_chat.clock import now_ms
from advisor_chat.store.backend import Connection
from advisor_chat.store.commits import Write
from advisor_chat.store.sql import Dialect, q

TABLE = "_commits"
SEQUENCE = "_commit_seq"
CHANNEL = "advisor_chat_commits"  # PostgreSQL NOTIFY channel: the doorbell of other processes
# pg_advisory_xact_lock's one-bigint key space ("acwlog"); migrations lock on another key,
# callers on the two-integer space.
LOCK_KEY = 0x6163776C6F67
RETAIN_S = 120.0  # how long a commit stays readable by a process catching up
READ_PAGE = 1000  # rows one catch-up read takes


def create_statements(d: Dialect) -> list[str]:
    if d.name == "sqlite":
        return [
            f"CREATE TABLE IF NOT EXISTS {q(TABLE)} (seq INTEGER PRIMARY KEY AUTOINCREMENT, "
            "at REAL NOT NULL, writes TEXT NOT NULL)"
        ]
    return [
        f"CREATE SEQUENCE IF NOT EXISTS {q(SEQUENCE)}",
        f"CREATE TABLE IF NOT EXISTS {q(TABLE)} (seq bigint PRIMARY KEY, "
        "at double precision NOT NULL, writes text NOT NULL)",
    ]


def encode(writes: Sequence[Write]) -> str:
    return orjson.dumps([[w.table, w.id, w.old_keys, w.new_keys] for w in writes]).decode()


def _keys(raw: dict[str, list[list[Any]]] | None) -> dict[str, list[tuple[Any, ...]]] | None:
    """Index keys as the transaction records them: a list of key tuples per index."""
    if raw is None:
        return None
    return {index: [tuple(key) for key in keys] for index, keys in raw.items()}


def decode(payload: str | bytes) -> tuple[Write, ...]:
    return tuple(
        Write(table, doc_id, _keys(old), _keys(new))
        for table, doc_id, old, new in orjson.loads(payload)
    )


async def append(conn: Connection, d: Dialect, writes: Sequence[Write]) -> int:
    """Log the transaction's writes as its last statement; returns its sequence number."""
    payload = encode(writes)
    if d.name == "sqlite":
        rows = await conn.fetch(
            f"INSERT INTO {q(TABLE)} (at, writes) VALUES (?, ?) RETURNING seq",
            (now_ms(), payload),
        )
        return int(rows[0][0])
    await conn.execute("SELECT pg_advisory_xact_lock($1)", (LOCK_KEY,))
    rows = await conn.fetch(
        f"WITH logged AS (INSERT INTO {q(TABLE)} (seq, at, writes) "
        f"VALUES (nextval('{SEQUENCE}'), $1, $2) RETURNING seq) "
        f"SELECT seq, pg_notify('{CHANNEL}', seq::text) FROM logged",
        (now_ms(), payload),
    )
    return int(rows[0][0])


@dataclass(frozen=True)
class Entry:
    seq: int
    writes: tuple[Write, ...]


@dataclass(frozen=True)
class Tail:
    entries: list[Entry]  # after the sequence number asked for, in order
    oldest: int | None  # the oldest number still kept (None: the log is empty)


async def read_after(conn: Connection, d: Dialect, seq: int, limit: int = READ_PAGE) -> Tail:
    """The logged commits after `seq`, oldest first, from one snapshot."""
    rows = await conn.fetch(
        d.render(f"SELECT seq, writes FROM {q(TABLE)} WHERE seq > ? ORDER BY seq LIMIT ?"),
        (seq, limit),
    )
    oldest = await conn.fetch(f"SELECT MIN(seq) FROM {q(TABLE)}", ())
    entries = [Entry(int(s), decode(w)) for s, w in rows]
    return Tail(entries, None if oldest[0][0] is None else int(oldest[0][0]))


async def latest(conn: Connection, d: Dialect) -> int:
    """The newest logged commit's number; 0 for a database without one (or without the
    log yet: it is created by the first migration)."""
    if d.name == "sqlite":
        found = await conn.fetch(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (TABLE,)
        )
    else:
        found = await conn.fetch("SELECT to_regclass($1)", (q(TABLE),))
        found = [row for row in found if row[0] is not None]
    if not found:
        return 0
    if d.name == "sqlite":  # numbers are never reused, even after the rows are pruned
        rows = await conn.fetch("SELECT seq FROM sqlite_sequence WHERE name = ?", (TABLE,))
    else:
        rows = await conn.fetch(f"SELECT MAX(seq) FROM {q(TABLE)}", ())
    return int(rows[0][0]) if rows and rows[0][0] is not None else 0


def prune_statement(d: Dialect) -> str:
    """Delete rows older than a cut-off (ms), always keeping the newest."""
    return d.render(
        f"DELETE FROM {q(TABLE)} WHERE at < ? AND seq < (SELECT MAX(seq) FROM {q(TABLE)})"
    )


def prune_cutoff() -> float:
    return now_ms() - RETAIN_S * 1000
