"""The official Convex npm client (`ConvexHttpClient`, pinned in tests/clients/npm) works
against our server: queries, mutations, `function`, auth, and errors as `ConvexError`
with our codes in `data`. It runs under Node; `scripts/test` installs it with `npm ci`."""

from __future__ import annotations

from typing import Any

from tests.api.conftest import sign_up
from tests.clients.node import run_script


def _run_client(base: str) -> dict[str, Any]:
    env = {
        "ALICE_TOKEN": sign_up(base, "npm-alice@example.test", name="Alice"),
        "BOB_TOKEN": sign_up(base, "npm-bob@example.test", name="Bob"),
    }
    return run_script("http_client.mjs", base, env, timeout_s=120)


def test_the_official_http_client_queries_mutates_and_sees_our_errors(
    served: tuple[str, str],
) -> None:
    base, _ = served
    seen = _run_client(base)
    assert seen["me"]["_id"] == seen["aliceUser"]
    assert seen["me"]["name"] == "Alice"
    [message] = seen["page"]["page"]
    assert message["_id"] == seen["messageId"]
    assert message["content"] == "Hello from the official client 🚀"
    assert message["conversationId"] == seen["conversation"]
    assert seen["page"]["isDone"] is True
    assert seen["viaFunction"]["title"] == "Board meeting ✓"

    def failed(name: str, code: str) -> dict[str, Any]:
        entry: dict[str, Any] = seen[name]
        assert entry["ok"] is False, name
        assert entry["convexError"] is True, name
        assert entry["data"]["code"] == code, name
        return entry

    assert "not found" in failed("bobReadsAlice", "NOT_FOUND")["message"].lower()
    failed("anonymous", "UNAUTHENTICATED")
    assert failed("badArgs", "INVALID_ARGUMENT")["data"]["field"] == "content"
    failed("unknownFunction", "NOT_FOUND")
    failed("wrongKind", "NOT_FOUND")
