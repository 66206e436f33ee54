"""schemathesis against the OpenAPI document, over a real `advisor-chat serve`: whatever
it sends, signed in, the server never fails with an internal error. Function failures use
Convex's status 560 with a stable code; INTERNAL or a bare 5xx would be a bug."""

from __future__ import annotations

from typing import Any

import httpx
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.core.result import Ok

from advisor_chat.functions.catalog import build_registry


def test_no_input_makes_the_server_fail(served: tuple[str, str]) -> None:
    base, token = served
    api = schemathesis.openapi.from_url(f"{base}/api/openapi.json")
    auth = {"Authorization": f"Bearer {token}"}
    operations = [r.ok() for r in api.get_all_operations() if isinstance(r, Ok)]
    assert len(operations) == len(list(build_registry().public()))  # every public function

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


EXPECTED_CODES = {
    "UNAUTHENTICATED",
    "FORBIDDEN",  # an administrators' function, called by a user without the role
    "NOT_FOUND",
    "INVALID_ARGUMENT",
    "CONFLICT",
    "RATE_LIMITED",
    "STORAGE_LIMITED",
}


def test_the_fuzzed_server_still_answers(served: tuple[str, str]) -> None:
    base, _ = served
    assert httpx.get(f"{base}/health").json()["status"] == "ok"
