"""A real `advisor-chat serve` for the tests that talk to it over the network."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from advisor_chat.auth.limits import LIMIT_NAMES
from tests.services import free_port, wait_until

SECRET = "served-secret-" + "x" * 30
PASSWORD = "served password"
# For servers whose tests sign up and in many times, all from 127.0.0.1: the defaults are
# meant for one person's attempts. The throttle's own tests set theirs.
LOOSE_AUTH_LIMITS = json.dumps({name: {"count": 100_000} for name in LIMIT_NAMES})


@dataclass(frozen=True)
class Served:
    base: str
    port: int
    process: subprocess.Popen[bytes]


@contextmanager
def serving(data: Path, env: dict[str, str] | None = None, **settings: str) -> Iterator[Served]:
    """`advisor-chat serve` on a free port of 127.0.0.1, its data in `data`, with
    `settings` as ADVISOR_CHAT_<NAME> variables and `env` as given; once it answers
    /ready. None of the caller's own settings, database, Redis or provider reach it; its
    sign-in limits are LOOSE_AUTH_LIMITS unless `auth_limits` is given."""
    with serving_at(free_port(), data, env, **settings) as server:
        yield server


@contextmanager
def serving_at(
    port: int, data: Path, env: dict[str, str] | None = None, **settings: str
) -> Iterator[Served]:
    """`serving` on a given port: a server started again where a client knows it."""
    given = env or {}
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("ADVISOR_CHAT_", "OPENAI_"))
        and k not in ("DATABASE_URL", "REDIS_URL", "FORWARDED_ALLOW_IPS")
    }
    env |= {
        "ADVISOR_CHAT_DATA_DIR": str(data),
        "ADVISOR_CHAT_SECRET_KEY": SECRET,
        "ADVISOR_CHAT_LOG_LEVEL": "warning",
        "ADVISOR_CHAT_AUTH_LIMITS": LOOSE_AUTH_LIMITS,
    }
    env |= {f"ADVISOR_CHAT_{name.upper()}": value for name, value in settings.items()}
    env |= given
    process = subprocess.Popen(
        [sys.executable, "-m", "advisor_chat.cli", "serve", "--port", str(port)],
        env=env,
        cwd=data,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"

    def up() -> bool:
        assert process.poll() is None, "serve exited"
        try:
            return httpx.get(f"{base}/ready", timeout=1).status_code == 200
        except httpx.TransportError:
            return False

    try:
        wait_until(up, 60, "advisor-chat serve")
        yield Served(base, port, process)
    finally:
        process.terminate()
        process.wait(timeout=30)


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    with serving(tmp_path_factory.mktemp("served")) as server:
        base = server.base
        token = sign_up(base, "fuzz@example.test")
        stored = httpx.post(
            f"{base}/api/mutation",
            json={"path": "users:store", "args": {}},
            headers={"Authorization": f"Bearer {token}"},
        )
        assert stored.status_code == 200, stored.text
        yield base, token


def sign_up(base: str, email: str, name: str | None = None) -> str:
    """The access token of a new local account on the served app, signed up as a client
    does: only a token of a live sign-in is accepted."""
    return str(sign_up_tokens(base, email, name)["accessToken"])


def sign_up_tokens(base: str, email: str, name: str | None = None) -> dict[str, str]:
    """The sign-up's answer: accessToken, refreshToken, expiresIn, userId."""
    body = {"email": email, "password": PASSWORD} | ({"name": name} if name else {})
    response = httpx.post(f"{base}/auth/signup", json=body, timeout=10)
    assert response.status_code == 200, response.text
    answer: dict[str, str] = response.json()
    return answer


def call_api(base: str, token: str, kind: str, path: str, args: dict[str, Any]) -> Any:
    """`path(args)` over the Convex HTTP API as the token's user: its value, the call
    asserted to have succeeded."""
    answer = httpx.post(
        f"{base}/api/{kind}",
        json={"path": path, "args": args},
        headers={"Authorization": f"Bearer {token}"},
        timeout=10,
    ).json()
    assert answer["status"] == "success", answer
    return answer["value"]
