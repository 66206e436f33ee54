"""`python -m bench.session_check`: what the per-request sign-in check costs (issue 14,
item 4: every call made with one of our access tokens reads, in its own transaction,
whether its sign-in still holds).

On each backend, the real app (its lifespan run, spoken to in-process over ASGI, so no
network or HTTP server time is counted) holds `--accounts` local accounts with a few
sessions each. Interleaved in random order, over tokens of random accounts, it times:

- `signature`: `TokenVerifier.verify` of our token (no database);
- `users:current, unchecked`: that query through the runner as a caller with no sign-in to
  check (an OIDC issuer's), a cheap function call;
- `users:current`: the same query as the token's caller, the check in its transaction;
- `check alone`: the check as a read transaction of its own, for comparison (what checking
  at verification, outside the call's transaction, costs);
- `request`: POST /api/query users:current with the token, the whole request.

It prints p50 / p99 in µs per case, and what the check adds to the call (p50 of
users:current minus unchecked) as a share of the request's p50. Nothing asserts a timing.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import os
import random
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import replace
from functools import partial
from pathlib import Path
from typing import Any

import httpx
from pydantic import SecretStr
from rich.console import Console
from rich.table import Table

from advisor_chat.api.app import create_app
from advisor_chat.auth.accounts import REFRESH_TTL_S
from advisor_chat.auth.signins import require_live
from advisor_chat.auth.tokens import LocalTokens
from advisor_chat.auth.verifier import TokenVerifier
from advisor_chat.clock import now_ms
from advisor_chat.functions.context import Identity
from advisor_chat.functions.runner import Runner
from advisor_chat.schema.tables import LOCAL_ISSUER
from advisor_chat.settings import Settings
from advisor_chat.store import Store, Transaction
from bench import servers

URL_ENV = "ADVISOR_CHAT_BENCH_DATABASE_URL"
SESSIONS_EACH = 4  # a sign-in refreshed three times: spent rows beside the live one
PAGE = 250  # accounts written per transaction
CASES = ("signature", "users:current, unchecked", "users:current", "check alone", "request")


async def _accounts(store: Store, tokens: LocalTokens, n: int) -> list[str]:
    """`n` accounts, each with one sign-in of SESSIONS_EACH sessions; their access tokens.
    Written directly: hashing n passwords would time scrypt, not the check."""
    issued: list[str] = []

    async def page(tx: Transaction, *, start: int, count: int) -> list[str]:
        made = []
        now = now_ms()
        for i in range(start, start + count):
            subject = f"local_bench{i:08d}"
            user = {"clerkId": subject, "tokenIssuer": LOCAL_ISSUER, "plan": "free"}
            user_id = await tx.insert("users", user | {"createdAt": now, "updatedAt": now})
            account = {"email": f"a{i}@bench.test", "passwordHash": "x", "userId": user_id}
            await tx.insert("accounts", account | {"createdAt": now, "updatedAt": now})
            sign_in = store.ids.new_id("sessions")
            for s in range(SESSIONS_EACH):
                session: dict[str, Any] = {
                    "userId": user_id,
                    "refreshHash": hashlib.sha256(f"{i}.{s}".encode()).hexdigest(),
                    "expiresAt": now + REFRESH_TTL_S * 1000,
                    "createdAt": now,
                    "epoch": 0,
                    "signInId": sign_in,
                }
                if s < SESSIONS_EACH - 1:
                    session["revokedAt"] = now
                await tx.insert("sessions", session, id=sign_in if s == 0 else None)
            made.append(tokens.issue(Identity(subject, LOCAL_ISSUER), sign_in, ttl_s=3600))
        return made

    for start in range(0, n, PAGE):
        written = await store.mutation(partial(page, start=start, count=min(PAGE, n - start)))
        issued += written.value
    return issued


def _p(values: list[float], q: int) -> float:
    return statistics.quantiles(values, n=100)[q - 1]


async def _measure(settings: Settings, accounts: int, n: int, label: str) -> Table:
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        store: Store = app.state.store
        verifier: TokenVerifier = app.state.verifier
        runner: Runner = app.state.runner
        tokens = await _accounts(store, app.state.tokens, accounts)
        identities = [verifier.local.verify(t) for t in tokens]
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://bench") as http:

            async def request(token: str) -> None:
                answer = await http.post(
                    "/api/query",
                    json={"path": "users:current", "args": {}},
                    headers={"Authorization": f"Bearer {token}"},
                )
                assert answer.status_code == 200, answer.text

            async def check(identity: Identity) -> None:
                await store.query(lambda tx: require_live(tx, identity))

            unchecked = [replace(identity, sign_in=None) for identity in identities]
            cases: dict[str, Callable[[int], Awaitable[Any]]] = {
                "signature": lambda i: verifier.verify(tokens[i]),
                "users:current, unchecked": lambda i: runner.call(
                    "users:current", {}, unchecked[i]
                ),
                "users:current": lambda i: runner.call("users:current", {}, identities[i]),
                "check alone": lambda i: check(identities[i]),
                "request": lambda i: request(tokens[i]),
            }
            rng = random.Random(7)
            samples: dict[str, list[float]] = {case: [] for case in CASES}
            for rounds, keep in ((max(n // 10, 50), False), (n, True)):  # warm up, then time
                plan = [case for case in CASES for _ in range(rounds)]
                rng.shuffle(plan)
                for case in plan:
                    i = rng.randrange(len(tokens))
                    started = time.perf_counter()
                    await cases[case](i)
                    if keep:
                        samples[case].append((time.perf_counter() - started) * 1e6)
    table = Table(title=f"{label}: {accounts:,} accounts, {n:,} calls a case (µs)")
    for column in ("case", "p50", "p99"):
        table.add_column(column, justify="left" if column == "case" else "right")
    for case in CASES:
        table.add_row(case, f"{_p(samples[case], 50):.0f}", f"{_p(samples[case], 99):.0f}")
    added = _p(samples["users:current"], 50) - _p(samples["users:current, unchecked"], 50)
    share = added / _p(samples["request"], 50)
    table.caption = f"the check adds {added:.0f} µs at p50, {share:.0%} of a request"
    return table


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, default=5000, help="local accounts")
    parser.add_argument("--calls", type=int, default=2000, help="timed calls per case")
    parser.add_argument("--backends", default="sqlite,postgres", help="sqlite, postgres")
    parser.add_argument("--postgres-url", default=os.environ.get(URL_ENV), help="an empty db")
    args = parser.parse_args()
    console = Console()
    secret = SecretStr("bench-secret-" + "x" * 32)
    for backend in args.backends.split(","):
        with tempfile.TemporaryDirectory(prefix="bench-session-") as folder:
            if backend == "sqlite":
                settings = Settings(data_dir=Path(folder), secret_key=secret)
                table = asyncio.run(_measure(settings, args.accounts, args.calls, "SQLite"))
            else:
                with servers.postgres(args.postgres_url, console.print) as url:
                    settings = Settings(data_dir=Path(folder), secret_key=secret, database_url=url)
                    table = asyncio.run(_measure(settings, args.accounts, args.calls, "PostgreSQL"))
        console.print(table)


if __name__ == "__main__":
    main()
