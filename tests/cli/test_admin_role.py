"""`advisor-chat users admin EMAIL [--revoke]` and `users admins`, run as an operator runs
them (processes, on SQLite and PostgreSQL): the admin functions then answer to that user,
and to no one once the role is revoked."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from advisor_chat.auth.tokens import LocalTokens
from advisor_chat.errors import Code, FunctionError
from advisor_chat.functions.catalog import build_registry
from advisor_chat.functions.context import Identity
from advisor_chat.functions.runner import Runner
from advisor_chat.store import Store
from advisor_chat.store.backend import Backend
from advisor_chat.store.postgres import PostgresBackend
from advisor_chat.store.sqlite import SqliteBackend
from tests.conftest import BACKENDS

CLI = [sys.executable, "-m", "advisor_chat.cli"]
SECRET = "admin-role-secret-" + "x" * 30
PASSWORD = "password-123"


@dataclass
class Deployment:
    env: dict[str, str]
    cwd: Path
    backend: Backend

    def run(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*CLI, *args],
            env=self.env,
            cwd=self.cwd,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )

    def ok(self, *args: str) -> str:
        done = self.run(*args)
        assert done.returncode == 0, done.stdout + done.stderr
        return done.stdout


@pytest.fixture(params=BACKENDS)
def deployment(request: pytest.FixtureRequest, tmp_path: Path) -> Deployment:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("ADVISOR_CHAT_") and k not in ("DATABASE_URL", "REDIS_URL")
    }
    env |= {"ADVISOR_CHAT_DATA_DIR": str(tmp_path / "state"), "ADVISOR_CHAT_SECRET_KEY": SECRET}
    backend: Backend
    if request.param == "postgres":
        url: str = request.getfixturevalue("fresh_postgres_url")
        env["DATABASE_URL"] = url
        backend = PostgresBackend(url, pool_size=4)
    else:
        backend = SqliteBackend(tmp_path / "state" / "advisor-chat.sqlite3")
    return Deployment(env, tmp_path, backend)


@pytest.fixture
async def runner(deployment: Deployment) -> AsyncIterator[Runner]:
    for email, name in (("alice@example.test", "Alice"), ("bob@example.test", "Bob")):
        await asyncio.to_thread(
            deployment.ok, "users", "create", email, "--password", PASSWORD, "--name", name
        )
    async with Store(deployment.backend) as store:
        yield Runner(store, build_registry())


async def _signed_in(deployment: Deployment, email: str) -> Identity:
    token = (await asyncio.to_thread(deployment.ok, "users", "token", email)).strip()
    return LocalTokens(SECRET.encode()).verify(token)


async def _forbidden(runner: Runner, identity: Identity) -> None:
    with pytest.raises(FunctionError) as caught:
        await runner.call("users:getAllUsers", {}, identity)
    assert caught.value.code is Code.FORBIDDEN


async def test_granting_and_revoking_the_role(deployment: Deployment, runner: Runner) -> None:
    alice = await _signed_in(deployment, "alice@example.test")
    bob = await _signed_in(deployment, "bob@example.test")
    await _forbidden(runner, alice)
    assert "No admins." in await asyncio.to_thread(deployment.ok, "users", "admins")

    granted = await asyncio.to_thread(deployment.ok, "users", "admin", "alice@example.test")
    assert "alice@example.test" in granted
    assert "is now an admin" in granted
    everyone = (await runner.call("users:getAllUsers", {}, alice)).value
    assert sorted(u["email"] for u in everyone) == ["alice@example.test", "bob@example.test"]
    bob_id = next(u["_id"] for u in everyone if u["email"] == "bob@example.test")
    await runner.call("users:updateUserPlan", {"userId": bob_id, "plan": "pro"}, alice)
    assert (await runner.call("auth:hasUserPlan", {"plan": "pro"}, bob)).value is True
    await _forbidden(runner, bob)
    listed = await asyncio.to_thread(deployment.ok, "users", "admins")
    assert "alice@example.test" in listed
    assert "bob@example.test" not in listed
    again = await asyncio.to_thread(deployment.ok, "users", "admin", "alice@example.test")
    assert "was already an admin" in again

    revoked = await asyncio.to_thread(
        deployment.ok, "users", "admin", "ALICE@example.test", "--revoke"
    )
    assert "is no longer an admin" in revoked
    await _forbidden(runner, alice)
    assert "No admins." in await asyncio.to_thread(deployment.ok, "users", "admins")


async def test_an_unknown_email_changes_nothing_and_says_so(
    deployment: Deployment, runner: Runner
) -> None:
    done = await asyncio.to_thread(deployment.run, "users", "admin", "nobody@example.test")
    assert done.returncode == 1
    assert "no user with the email nobody@example.test" in done.stdout
    assert "Traceback" not in done.stdout + done.stderr
    assert "No admins." in await asyncio.to_thread(deployment.ok, "users", "admins")
