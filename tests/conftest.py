"""Fixtures shared by every layer's tests: a migrated store on each backend."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from advisor_chat.store import Store
from advisor_chat.store.backend import Backend
from advisor_chat.store.postgres import PostgresBackend
from advisor_chat.store.sqlite import SqliteBackend

pytest_plugins = ["tests.services"]

BACKENDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Backend:
    """A fresh, empty database of each kind (PostgreSQL: a new database per test)."""
    if request.param == "postgres":
        url: str = request.getfixturevalue("fresh_postgres_url")
        return PostgresBackend(url, pool_size=20)
    return SqliteBackend(tmp_path / "store.sqlite3")


@pytest.fixture
async def store(backend: Backend) -> AsyncIterator[Store]:
    async with Store(backend) as opened:
        await opened.migrate()
        yield opened
