"""A real `advisor-chat serve` on each backend, for the sync protocol's tests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.api.conftest import Served, serving

BACKENDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


@pytest.fixture(params=BACKENDS)
def live_server(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Served]:
    """The server on a fresh database of each kind."""
    env = {}
    if request.param == "postgres":
        env["DATABASE_URL"] = str(request.getfixturevalue("fresh_postgres_url"))
    with serving(tmp_path, env) as server:
        yield server
