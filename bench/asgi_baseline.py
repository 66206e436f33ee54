"""`python -m bench.asgi_baseline --port N --database PATH [--synchronous normal]`: the
baseline of `bench.chat`'s HTTP figure, in a process of its own.

A bare Starlette app served as `advisor-chat serve` serves the product (`uvicorn.run` with
the same host, port and log level; uvicorn's other defaults alike): `POST /api/mutation`
reads the JSON body and inserts the message row `messages:sendMessage` would insert, into
the product's own schema (the store creates it first, search triggers included), one
transaction a request, with the raw driver on the event loop's thread as the store runs
SQLite (WAL, the same synchronous setting). No auth, validation, quota, conversation bump
or round: what a request and its row cost, and nothing else.
"""

from __future__ import annotations

import argparse
import asyncio
from pathlib import Path

import orjson
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from advisor_chat.clock import now_ms
from advisor_chat.schema.ids import IdGenerator
from advisor_chat.store import Store
from advisor_chat.store.sql import SQLITE
from advisor_chat.store.sqlite import SqliteBackend
from bench.drivers import SqliteDriver, row_of


def create_app(database: Path, synchronous: str) -> Starlette:
    driver = SqliteDriver(database, synchronous)
    ids = IdGenerator()

    async def mutation(request: Request) -> Response:
        args = orjson.loads(await request.body())["args"]
        fields = {
            "conversationId": args["conversationId"],
            "sender": "user",
            "content": args["content"],
            "mentions": [],
            "createdAt": now_ms(),
            "status": "complete",
        }
        row, doc = row_of(ids, fields, SQLITE)
        await driver.insert_tx(row)
        body = orjson.dumps({"status": "success", "value": doc["_id"]})
        return Response(body, media_type="application/json")

    async def ready(request: Request) -> Response:
        return Response(b'{"status":"ok"}', media_type="application/json")

    return Starlette(
        routes=[
            Route("/api/mutation", mutation, methods=["POST"]),
            Route("/ready", ready, methods=["GET"]),
        ]
    )


async def _migrate(database: Path, synchronous: str) -> None:
    async with Store(SqliteBackend(database, synchronous)) as store:
        await store.migrate()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.asgi_baseline", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--database", type=Path, required=True)
    parser.add_argument("--synchronous", default="normal", choices=("normal", "full"))
    parser.add_argument("--log-level", default="warning")
    args = parser.parse_args(argv)
    asyncio.run(_migrate(args.database, args.synchronous))
    app = create_app(args.database, args.synchronous)
    uvicorn.run(app, host=args.host, port=args.port, log_level=args.log_level)


if __name__ == "__main__":
    main()
