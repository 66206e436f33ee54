"""The private servers the suite starts really serve, and each test's database is its own."""

from __future__ import annotations

import socket
from urllib.parse import urlsplit

import asyncpg
import pytest

from tests.services import wait_until


async def test_postgres_url_answers(postgres_url: str) -> None:
    conn = await asyncpg.connect(postgres_url)
    try:
        version = await conn.fetchval("SELECT version()")
        assert "PostgreSQL" in version
    finally:
        await conn.close()


async def test_fresh_database_is_empty_and_writable(fresh_postgres_url: str) -> None:
    conn = await asyncpg.connect(fresh_postgres_url)
    try:
        tables = await conn.fetch("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
        assert tables == []
        await conn.execute("CREATE TABLE t (x int)")
        await conn.execute("INSERT INTO t VALUES (42)")
        assert await conn.fetchval("SELECT x FROM t") == 42
    finally:
        await conn.close()


def _resp(sock: socket.socket, *parts: str) -> bytes:
    """Send one RESP command; the replies here are short enough for one recv."""
    command = f"*{len(parts)}\r\n" + "".join(f"${len(p)}\r\n{p}\r\n" for p in parts)
    sock.sendall(command.encode())
    return sock.recv(256)


def test_redis_answers_ping_set_get(redis_url: str) -> None:
    url = urlsplit(redis_url)
    assert url.hostname is not None
    assert url.port is not None
    with socket.create_connection((url.hostname, url.port), timeout=5) as sock:
        assert _resp(sock, "PING") == b"+PONG\r\n"
        assert _resp(sock, "SET", "k", "v") == b"+OK\r\n"
        assert _resp(sock, "GET", "k") == b"$1\r\nv\r\n"


def test_wait_until_gives_up_at_its_deadline() -> None:
    with pytest.raises(TimeoutError, match="never not ready"):
        wait_until(lambda: False, timeout=0.1, what="never")
