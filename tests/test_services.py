"""The private servers the suite starts really serve."""

from __future__ import annotations

import socket

import asyncpg

from tests.services import PostgresServer


async def test_postgres_serves_a_fresh_database(fresh_postgres_url: str) -> None:
    conn = await asyncpg.connect(fresh_postgres_url)
    try:
        version = await conn.fetchval("SELECT version()")
        assert "PostgreSQL" in version
        await conn.execute("CREATE TABLE t (x int)")
        await conn.execute("INSERT INTO t VALUES (42)")
        assert await conn.fetchval("SELECT x FROM t") == 42
    finally:
        await conn.close()


async def test_each_test_gets_an_empty_database(
    fresh_postgres_url: str, postgres: PostgresServer
) -> None:
    conn = await asyncpg.connect(fresh_postgres_url)
    try:
        tables = await conn.fetch("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
        assert tables == []
    finally:
        await conn.close()


def _resp(sock: socket.socket, *parts: str) -> bytes:
    command = f"*{len(parts)}\r\n" + "".join(f"${len(p)}\r\n{p}\r\n" for p in parts)
    sock.sendall(command.encode())
    return sock.recv(256)


def test_redis_answers_ping_set_get(redis_url: str) -> None:
    host, port = redis_url.removeprefix("redis://").split("/")[0].split(":")
    with socket.create_connection((host, int(port)), timeout=5) as sock:
        assert _resp(sock, "PING") == b"+PONG\r\n"
        assert _resp(sock, "SET", "k", "v") == b"+OK\r\n"
        assert _resp(sock, "GET", "k") == b"$1\r\nv\r\n"
