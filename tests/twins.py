"""Another backend on a test's database: what a second server process opens, for tests of
what two processes sharing one database see."""

from __future__ import annotations

from advisor_chat.store.backend import Backend
from advisor_chat.store.postgres import PostgresBackend
from advisor_chat.store.sqlite import SqliteBackend


def twin(backend: Backend, pool_size: int = 10) -> Backend:
    """A new backend on `backend`'s database (open it after the first has migrated it)."""
    if isinstance(backend, PostgresBackend):
        return PostgresBackend(backend.url, pool_size=pool_size)
    assert isinstance(backend, SqliteBackend)
    return SqliteBackend(backend.path)
