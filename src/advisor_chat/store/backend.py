"""The one interface every database sits behind.

A backend opens read and write transactions and hands out a `Connection` that runs SQL
from `store.sql`. Driver errors are translated here, at the edge, into `StoreError`s: the
rest of the store never sees sqlite3 or asyncpg exceptions.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from typing import Any

from advisor_chat.errors import Code, StoreError
from advisor_chat.schema.derive import TableLayout, all_layouts
from advisor_chat.store.sql import Dialect

Row = Sequence[Any]
FOLLOW_POLL_S = 1.0  # the longest another process's commit waits for a ring


class TransactionConflict(StoreError):
    """A concurrent transaction won (serialization failure, deadlock, a busy SQLite file).
    The store re-runs the mutation; callers see this only when retries run out, as
    CONFLICT: nothing was written, and the same call may succeed if made again."""

    code = Code.CONFLICT


class Connection(ABC):
    """One transaction's handle on the database."""

    @abstractmethod
    async def fetch(self, sql: str, params: Sequence[Any]) -> list[Row]: ...

    @abstractmethod
    async def execute(self, sql: str, params: Sequence[Any]) -> None: ...

    @abstractmethod
    async def execute_many(self, sql: str, rows: Sequence[Sequence[Any]]) -> None: ...


@dataclass
class Catalog:
    """What the database holds now, as read from its own catalog."""

    columns: dict[str, list[str]] = field(default_factory=dict)  # table -> column names
    indexes: dict[str, tuple[str, tuple[str, ...], bool]] = field(default_factory=dict)
    # index name -> (table, columns in order, unique)
    fillfactors: dict[str, int] = field(default_factory=dict)  # tables not at the default


class Backend(ABC):
    dialect: Dialect

    @abstractmethod
    async def open(self) -> None: ...

    @abstractmethod
    async def close(self) -> None: ...

    @abstractmethod
    def read(self) -> AbstractAsyncContextManager[Connection]:
        """A read-only snapshot."""

    @abstractmethod
    def write(
        self, on_commit: Callable[[], None], key: str | None = None
    ) -> AbstractAsyncContextManager[Connection]:
        """A serializable read-write transaction. `on_commit` runs right after the database
        commit returns, before any other write can commit in this process, so commit
        timestamps follow commit order. Writes with the same `key` (a caller) run one at a
        time, each beginning after the one before it ended."""

    @abstractmethod
    async def catalog(self, conn: Connection) -> Catalog: ...

    @abstractmethod
    def doorbell(self) -> AsyncIterator[None]:
        """Rings (yields) when another process may have committed: at once where the
        database says so, and at least every FOLLOW_POLL_S whatever happens."""

    @abstractmethod
    async def maintain(self, sql: str, params: Sequence[Any]) -> None:
        """Run one housekeeping statement in a transaction of its own, outside the
        serializable write path, so it never makes a mutation conflict."""

    def pool_usage(self) -> PoolUsage | None:
        """The connection pool's state, for /metrics; None for a backend without a pool
        (SQLite: one writer thread and per-read connections)."""
        return None


@dataclass(frozen=True)
class PoolUsage:
    size: int  # connections open now
    in_use: int  # of which lent out to a transaction
    max_size: int


def unique_index_for(table: str, columns: Sequence[str]) -> tuple[str, tuple[str, ...]]:
    """Name the declared unique index over exactly `columns` of `table` (for errors)."""
    wanted = tuple(columns)
    if wanted == ("_id",):
        return "by_id", wanted
    layouts: dict[str, TableLayout] = {t.name: t for t in all_layouts()}
    layout = layouts.get(table) or layouts.get(table.split("__")[0])
    if layout is not None:
        for index in layout.indexes.values():
            if index.unique and index.field_names == wanted:
                return index.name, wanted
    return "unique", wanted
