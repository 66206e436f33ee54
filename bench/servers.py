"""The PostgreSQL server a benchmark runs against: the one given, or a private one."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Iterator


@contextlib.contextmanager
def postgres(
    url: str | None, progress: Callable[[str], None], *, database: str | None = "bench"
) -> Iterator[str]:
    """`url` as given; else a private temporary server, started and deleted here, and the
    URL of a new `database` on it (None: the server's own URL, for benchmarks that create
    their databases themselves)."""
    if url:
        yield url
        return
    from tests.services import create_database, postgres_server

    # durable=True: fsync, synchronous_commit and full_page_writes keep their defaults, so a
    # commit costs what it costs in production.
    with postgres_server(durable=True) as server:
        progress(f"postgres: private server at {server.url}")
        if database is None:
            yield server.url
            return
        asyncio.run(create_database(server.url, database))
        yield server.database_url(database)
