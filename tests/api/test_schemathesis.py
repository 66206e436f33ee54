"""schemathesis against the OpenAPI document, over a real `advisor-chat serve`: whatever
it sends, signed in, the server never fails with an internal error. Function failures use
Convex's status 560 with a stable code; INTERNAL or a bare 5xx would be a bug."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.core.result import Ok

from advisor_chat.auth.tokens import LocalTokens
from advisor_chat.functions.catalog import build_registry
from advisor_chat.functions.context import Identity
from tests.services import free_port, wait_until

SECRET = "schemathesis-secret-" + "x" * 30


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
        token = LocalTokens(SECRET.encode()).issue(Identity("local_fuzz", "advisor-chat"))
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


def test_no_input_makes_the_server_fail(served: tuple[str, str]) -> None:
    base, token = served
    api = schemathesis.openapi.from_url(f"{base}/api/openapi.json")
    auth = {"Authorization": f"Bearer {token}"}
    operations = [r.ok() for r in api.get_all_operations() if isinstance(r, Ok)]
    assert len(operations) == len(build_registry())  # every function has its operation

    for operation in operations:
        _fuzzer(operation, base, auth)()


def _fuzzer(operation: Any, base: str, auth: dict[str, str]) -> Any:
    """A hypothesis test of one operation: schemathesis generates its request bodies."""

    @given(case=operation.as_strategy())
    @settings(
        max_examples=10, deadline=None, database=None, suppress_health_check=list(HealthCheck)
    )
    def fuzz(case: Any) -> None:
        response = case.call(base_url=base, headers=auth)
        assert response.status_code in (200, 560), (operation.path, response.text[:300])
        if response.status_code == 560:
            code = response.json()["errorData"]["code"]
            assert code in EXPECTED_CODES, (operation.path, response.text[:300])

    return fuzz


EXPECTED_CODES = {"UNAUTHENTICATED", "NOT_FOUND", "INVALID_ARGUMENT", "CONFLICT", "RATE_LIMITED"}


def test_the_fuzzed_server_still_answers(served: tuple[str, str]) -> None:
    base, _ = served
    assert httpx.get(f"{base}/health").json()["status"] == "ok"
