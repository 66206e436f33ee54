"""A real `advisor-chat serve` for the tests that talk to it over the network."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator

import httpx
import pytest

from advisor_chat.auth.tokens import LocalTokens
from advisor_chat.functions.context import Identity
from tests.services import free_port, wait_until

SECRET = "served-secret-" + "x" * 30


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    data = tmp_path_factory.mktemp("served")
    port = free_port()
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("ADVISOR_CHAT_") and k != "DATABASE_URL"
    }
    env |= {
        "ADVISOR_CHAT_DATA_DIR": str(data),
        "ADVISOR_CHAT_SECRET_KEY": SECRET,
        "ADVISOR_CHAT_LOG_LEVEL": "warning",
    }
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
        token = token_for(Identity("local_fuzz", "advisor-chat"))
        stored = httpx.post(
            f"{base}/api/mutation",
            json={"path": "users:store", "args": {}},
            headers={"Authorization": f"Bearer {token}"},
        )
        assert stored.status_code == 200, stored.text
        yield base, token
    finally:
        process.terminate()
        process.wait(timeout=30)


def token_for(identity: Identity) -> str:
    """A bearer token the served app accepts, as `advisor-chat users token` would print."""
    return LocalTokens(SECRET.encode()).issue(identity)
