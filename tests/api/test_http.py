"""Convex's HTTP API over the real app: success and error envelopes, auth by Bearer token."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
from fastapi import FastAPI
from pydantic import SecretStr

from advisor_chat.api.app import create_app
from advisor_chat.settings import Settings
from advisor_chat.store import Store

SECRET = "test-secret-that-is-long-enough-for-hs256"


@pytest.fixture
async def app(tmp_path: Path) -> AsyncIterator[FastAPI]:
    """The real app, its lifespan run."""
    made = create_app(Settings(data_dir=tmp_path, secret_key=SecretStr(SECRET)))
    async with made.router.lifespan_context(made):
        yield made


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """The app, spoken to over ASGI."""
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
        yield http


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def _token(client: httpx.AsyncClient, email: str = "alice@example.test") -> str:
    """A signed-in local account's access token (signed up on first use)."""
    body = {"email": email, "password": "alice's password"}
    signed = await client.post("/auth/signin", json=body)
    if signed.status_code == 401:
        signed = await client.post("/auth/signup", json=body)
    return str(signed.json()["accessToken"])


async def _call(
    client: httpx.AsyncClient, kind: str, path: str, args: Any, token: str | None = None
) -> httpx.Response:
    headers = _bearer(token) if token else {}
    return await client.post(
        f"/api/{kind}", json={"path": path, "args": args, "format": "json"}, headers=headers
    )


async def test_signed_in_caller_stores_and_reads_their_row(client: httpx.AsyncClient) -> None:
    token = await _token(client)
    stored = await _call(client, "mutation", "users:store", {}, token)
    assert stored.status_code == 200
    assert stored.json()["status"] == "success"
    me = await _call(client, "query", "users:current", [{}], token)  # the official client's shape
    assert me.json()["value"]["email"] == "alice@example.test"
    run = await client.post("/api/run/users/current", json={"args": {}}, headers=_bearer(token))
    assert run.json()["value"]["_id"] == stored.json()["value"]


async def test_unauthenticated_call_gets_the_error_envelope(client: httpx.AsyncClient) -> None:
    response = await _call(client, "query", "users:current", {})
    assert response.status_code == 560
    body = response.json()
    assert body["status"] == "error"
    assert body["errorData"]["code"] == "UNAUTHENTICATED"
    assert body["errorMessage"]


def _forged(**changes: Any) -> str:
    now = int(time.time())
    claims = {
        "iss": "advisor-chat",
        "aud": "advisor-chat",
        "sub": "local_alice",
        "iat": now,
        "nbf": now,
        "exp": now + 600,
    }
    key = changes.pop("key", SECRET)
    algorithm = changes.pop("algorithm", "HS256")
    claims.update(changes)
    return jwt.encode(claims, key, algorithm=algorithm)


@pytest.mark.parametrize(
    "token",
    [
        _forged(exp=int(time.time()) - 3600),
        _forged(nbf=int(time.time()) + 3600),
        _forged(iss="https://elsewhere.test"),
        _forged(aud="someone-else"),
        _forged(key="another-secret-that-is-long-enough-for-hs256"),
        _forged(algorithm="none", key=None),
        _forged(),  # well signed, but of no sign-in
        _forged(sid="0" * 27),  # of a sign-in that never was
        "not-a-jwt",
    ],
    ids=[
        "expired",
        "not-yet-valid",
        "wrong-issuer",
        "wrong-audience",
        "wrong-key",
        "alg-none",
        "no-sign-in",
        "unknown-sign-in",
        "garbage",
    ],
)
async def test_bad_tokens_are_refused_and_nothing_is_written(
    app: FastAPI, client: httpx.AsyncClient, token: str
) -> None:
    response = await _call(client, "mutation", "users:store", {}, token)
    assert response.status_code == 560
    assert response.json()["errorData"]["code"] == "UNAUTHENTICATED"
    store: Store = app.state.store
    assert (await store.query(lambda tx: tx.query("users").collect())).value == []


@pytest.mark.parametrize(
    ("body", "code"),
    [
        (b"{not json", "INVALID_ARGUMENT"),
        (b"[]", "INVALID_ARGUMENT"),
        (b'{"path": 5, "args": {}}', "INVALID_ARGUMENT"),
        (b'{"path": "users:current", "args": {}, "format": "xml"}', "INVALID_ARGUMENT"),
        (b'{"path": "users:current", "args": [{}, {}]}', "INVALID_ARGUMENT"),
        (b'{"path": "users:nothing", "args": {}}', "NOT_FOUND"),
        (b'{"path": "users:store", "args": {}}', "NOT_FOUND"),  # a mutation, asked as a query
        (b'{"path": "users:getUserByClerkId", "args": {"clerkId": 1}}', "INVALID_ARGUMENT"),
    ],
)
async def test_malformed_requests_get_stable_codes(
    client: httpx.AsyncClient, body: bytes, code: str
) -> None:
    response = await client.post(
        "/api/query",
        content=body,
        headers={"Content-Type": "application/json", **_bearer(await _token(client))},
    )
    assert response.status_code == 560
    assert response.json()["errorData"]["code"] == code


async def test_a_non_bearer_authorization_is_refused(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/api/query",
        json={"path": "users:current", "args": {}},
        headers={"Authorization": "Basic x"},
    )
    assert response.json()["errorData"]["code"] == "UNAUTHENTICATED"


async def test_the_openapi_document_is_served(client: httpx.AsyncClient) -> None:
    document = (await client.get("/api/openapi.json")).json()
    assert document["openapi"].startswith("3.1")
    assert "/api/run/messages/sendMessage" in document["paths"]
