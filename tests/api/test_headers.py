"""The edge's headers, against a real `advisor-chat serve`: security headers on every
answer, nothing cacheable, no framework docs, no paths revealed, no redirect built from
the Host header; and the allowed hosts."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
import structlog
from starlette.types import Message

from advisor_chat.api.app import create_app
from advisor_chat.api.headers import SECURITY_HEADERS
from advisor_chat.settings import Settings

EXPECTED = {name.decode(): value.decode() for name, value in SECURITY_HEADERS}


def _answers(base: str, token: str) -> list[httpx.Response]:
    signed = {"Authorization": f"Bearer {token}"}
    return [
        httpx.get(f"{base}/health"),
        httpx.get(f"{base}/"),
        httpx.get(f"{base}/api/openapi.json"),
        httpx.post(f"{base}/api/query", json={"path": "users:current", "args": {}}, headers=signed),
        httpx.post(f"{base}/api/query", json={"path": "nope:nothing", "args": {}}),
        httpx.post(f"{base}/auth/signin", json={"email": "a@example.com", "password": "x" * 12}),
        httpx.post(
            f"{base}/auth/signup", json={"email": "headers@example.com", "password": "p" * 12}
        ),
        httpx.get(f"{base}/api/no/such/page"),
        httpx.get(f"{base}/chat/some-conversation"),  # a page of the web app
    ]


def test_every_answer_carries_the_security_headers_and_is_not_cached(
    served: tuple[str, str],
) -> None:
    base, token = served
    answers = _answers(base, token)
    assert {a.status_code for a in answers} >= {200, 401, 404}
    tokens = answers[6]
    assert tokens.status_code == 200
    assert "accessToken" in tokens.json()
    for answer in answers:
        for name, value in EXPECTED.items():
            assert answer.headers.get(name) == value, (answer.url, name)
    assert "frame-ancestors 'none'" in EXPECTED["content-security-policy"]


@pytest.mark.parametrize("path", ["/docs", "/redoc", "/openapi.json", "/docs/oauth2-redirect"])
def test_no_framework_docs_are_served(served: tuple[str, str], path: str) -> None:
    base, _ = served
    assert httpx.get(f"{base}{path}").status_code == 404


def test_no_redirect_takes_the_host_headers_word(served: tuple[str, str]) -> None:
    base, _ = served
    answer = httpx.get(f"{base}/health/", headers={"Host": "evil.example"})
    assert answer.status_code == 404
    assert "location" not in answer.headers


async def test_only_the_allowed_hosts_are_answered(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, allowed_hosts="chat.example.com, localhost")
    transport = httpx.ASGITransport(app=create_app(settings))
    async with httpx.AsyncClient(transport=transport, base_url="http://chat.example.com") as c:
        assert (await c.get("/health")).status_code == 200
        refused = await c.get("/health", headers={"Host": "evil.example"})
        assert refused.status_code == 400
        assert refused.headers["x-content-type-options"] == "nosniff"


async def test_a_client_that_leaves_mid_body_is_an_info_line_not_an_error(
    tmp_path: Path,
) -> None:
    """The server sees the body stop and the client go: no exception escapes to the
    server (which would log an ERROR with a traceback), one info event is logged."""
    app = create_app(Settings(data_dir=tmp_path))
    chunks: list[Message] = [
        {"type": "http.request", "body": b'{"path": "users:cur', "more_body": True},
        {"type": "http.disconnect"},
    ]
    sent: list[Message] = []

    async def receive() -> Message:
        return chunks.pop(0) if chunks else {"type": "http.disconnect"}

    async def send(message: Message) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/api/query",
        "raw_path": b"/api/query",
        "root_path": "",
        "query_string": b"",
        "headers": [(b"host", b"localhost"), (b"content-length", b"1000")],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8000),
    }
    with structlog.testing.capture_logs() as logs:
        await app(scope, receive, send)
    assert sent == []  # nobody to answer
    assert {"event": "request_aborted", "method": "POST", "path": "/api/query"}.items() <= (
        logs[-1].items()
    )
    assert logs[-1]["log_level"] == "info"
