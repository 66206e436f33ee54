"""Clerk user webhooks over the real app, signed by Svix's own library: applied once,
refused when forged, stale, replayed or malformed, with nothing changed."""

from __future__ import annotations

import base64
import datetime
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from pydantic import SecretStr
from svix.webhooks import Webhook

from advisor_chat.api.app import create_app
from advisor_chat.settings import Settings
from advisor_chat.store import Store, Transaction

SECRET = "whsec_" + base64.b64encode(b"0123456789abcdef0123456789abcdef").decode()


@pytest.fixture
async def app_and_client(tmp_path: Path) -> AsyncIterator[tuple[Any, httpx.AsyncClient]]:
    app = create_app(
        Settings(
            data_dir=tmp_path,
            secret_key=SecretStr("s" * 40),
            clerk_webhook_secret=SecretStr(SECRET),
        )
    )
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
            yield app, http


def _event(kind: str, **data: Any) -> bytes:
    user = {
        "id": "user_2abc",
        "first_name": "Ada",
        "last_name": "Reyes",
        "image_url": "https://img.example.test/ada.png",
        "primary_email_address_id": "idn_1",
        "email_addresses": [
            {"id": "idn_0", "email_address": "old@example.test"},
            {"id": "idn_1", "email_address": "ada@example.test"},
        ],
        "public_metadata": {"plan": "pro"},
    } | data
    return orjson.dumps({"type": kind, "object": "event", "data": user})


def _signed(
    body: bytes, msg_id: str, when: datetime.datetime | None = None, secret: str = SECRET
) -> dict[str, str]:
    when = when or datetime.datetime.now(tz=datetime.UTC)
    signature = Webhook(secret).sign(msg_id, when, body.decode())
    return {
        "svix-id": msg_id,
        "svix-timestamp": str(int(when.timestamp())),
        "svix-signature": signature,
        "content-type": "application/json",
    }


async def _users(app: Any) -> list[dict[str, Any]]:
    store: Store = app.state.store

    async def read(tx: Transaction) -> list[dict[str, Any]]:
        return await tx.query("users").collect()

    return (await store.query(read)).value


async def test_created_updated_deleted_keep_the_users_row_in_sync(
    app_and_client: tuple[Any, httpx.AsyncClient],
) -> None:
    app, client = app_and_client
    created = _event("user.created")
    response = await client.post(
        "/webhooks/clerk", content=created, headers=_signed(created, "msg_1")
    )
    assert response.json() == {"status": "applied"}
    (user,) = await _users(app)
    assert (user["clerkId"], user["email"], user["name"], user["plan"]) == (
        "user_2abc",
        "ada@example.test",
        "Ada Reyes",
        "pro",
    )
    updated = _event("user.updated", first_name="Ada M.", public_metadata={"plan": "enterprise"})
    await client.post("/webhooks/clerk", content=updated, headers=_signed(updated, "msg_2"))
    (user,) = await _users(app)
    assert (user["name"], user["plan"]) == ("Ada M. Reyes", "enterprise")
    deleted = orjson.dumps({"type": "user.deleted", "data": {"id": "user_2abc", "deleted": True}})
    await client.post("/webhooks/clerk", content=deleted, headers=_signed(deleted, "msg_3"))
    assert await _users(app) == []


async def test_profile_text_from_clerk_is_made_to_fit(
    app_and_client: tuple[Any, httpx.AsyncClient],
) -> None:
    """Clerk's fields are kept to what every screen shows safely; refusing them would only
    have Svix deliver the same event again and again."""
    app, client = app_and_client
    created = _event(
        "user.created",
        first_name="Ada\u0000\t",
        last_name="R" * 400,
        image_url="data:image/svg+xml;base64,PHN2Zz4=",
        email_addresses=[{"id": "idn_1", "email_address": "a" * 400 + "@example.test"}],
    )
    response = await client.post(
        "/webhooks/clerk", content=created, headers=_signed(created, "msg_fit")
    )
    assert response.json() == {"status": "applied"}
    (user,) = await _users(app)
    assert user["name"] == ("Ada " + "R" * 400)[:200]
    assert "email" not in user
    assert "image" not in user


async def test_a_replayed_delivery_changes_nothing(
    app_and_client: tuple[Any, httpx.AsyncClient],
) -> None:
    app, client = app_and_client
    created = _event("user.created")
    headers = _signed(created, "msg_once")
    await client.post("/webhooks/clerk", content=created, headers=headers)
    await client.post(
        "/webhooks/clerk",
        content=_event("user.updated", first_name="Zed"),
        headers=_signed(_event("user.updated", first_name="Zed"), "msg_later"),
    )
    replay = await client.post("/webhooks/clerk", content=created, headers=headers)
    assert replay.json() == {"status": "replay"}
    (user,) = await _users(app)
    assert user["name"] == "Zed Reyes"  # the replayed 'created' did not roll the name back


@pytest.mark.parametrize(
    "case", ["forged", "wrong secret", "stale", "future", "no headers", "tampered"]
)
async def test_bad_deliveries_are_refused_and_change_nothing(
    app_and_client: tuple[Any, httpx.AsyncClient], case: str
) -> None:
    app, client = app_and_client
    body = _event("user.created")
    headers = _signed(body, "msg_x")
    now = datetime.datetime.now(tz=datetime.UTC)
    if case == "forged":
        headers["svix-signature"] = "v1," + base64.b64encode(b"x" * 32).decode()
    elif case == "wrong secret":
        other = "whsec_" + base64.b64encode(b"another-secret-another-secret!!").decode()
        headers = _signed(body, "msg_x", secret=other)
    elif case == "stale":
        headers = _signed(body, "msg_x", when=now - datetime.timedelta(minutes=10))
    elif case == "future":
        headers = _signed(body, "msg_x", when=now + datetime.timedelta(minutes=10))
    elif case == "no headers":
        headers = {"content-type": "application/json"}
    elif case == "tampered":
        body = _event("user.created", public_metadata={"plan": "enterprise"})
    response = await client.post("/webhooks/clerk", content=body, headers=headers)
    assert response.status_code == 401
    assert response.json()["errorData"]["code"] == "UNAUTHENTICATED"
    assert await _users(app) == []


async def test_a_signed_delivery_that_is_not_a_user_event_is_a_bad_request(
    app_and_client: tuple[Any, httpx.AsyncClient],
) -> None:
    app, client = app_and_client
    body = b'{"hello": "world"}'
    response = await client.post("/webhooks/clerk", content=body, headers=_signed(body, "msg_y"))
    assert response.status_code == 400
    assert await _users(app) == []


async def _deliver(client: httpx.AsyncClient, body: bytes, msg_id: str) -> str:
    response = await client.post("/webhooks/clerk", content=body, headers=_signed(body, msg_id))
    assert response.status_code == 200, response.text
    return str(response.json()["status"])


async def test_a_deleted_user_leaves_a_tombstone_and_late_deliveries_do_not_revive_them(
    app_and_client: tuple[Any, httpx.AsyncClient],
) -> None:
    """Svix retries out of order: a user.updated sent before the deletion may arrive after
    it. A deletion of a user never stored here is recorded too: their earlier session
    tokens must not store them now."""
    app, client = app_and_client
    await _deliver(client, _event("user.created"), "msg_c")
    deleted = orjson.dumps({"type": "user.deleted", "data": {"id": "user_2abc", "deleted": True}})
    assert await _deliver(client, deleted, "msg_d") == "applied"
    assert await _deliver(client, _event("user.updated"), "msg_late") == "ignored"
    assert await _users(app) == []
    never = orjson.dumps({"type": "user.deleted", "data": {"id": "user_never", "deleted": True}})
    assert await _deliver(client, never, "msg_never") == "applied"
    store: Store = app.state.store
    tombstones = (await store.query(lambda tx: tx.query("deletedUsers").collect())).value
    assert sorted(t["clerkId"] for t in tombstones) == ["user_2abc", "user_never"]


async def test_a_clerk_event_never_touches_a_local_account(
    app_and_client: tuple[Any, httpx.AsyncClient],
) -> None:
    app, client = app_and_client
    signed = await client.post(
        "/auth/signup", json={"email": "local@example.test", "password": "password-1"}
    )
    (user,) = await _users(app)
    subject = user["clerkId"]
    for n, kind in enumerate(("user.updated", "user.created", "user.deleted")):
        body = _event(kind, id=subject, first_name="Mallory")
        assert await _deliver(client, body, f"msg_local_{n}") == "ignored"
    assert await _users(app) == [user]
    me = await client.post(
        "/api/query",
        json={"path": "users:current", "args": {}},
        headers={"Authorization": f"Bearer {signed.json()['accessToken']}"},
    )
    assert me.json()["value"] == user


async def test_with_an_issuer_configured_its_users_record_it(tmp_path: Path) -> None:
    issuer = "https://clerk.example.test"
    app = create_app(
        Settings(
            data_dir=tmp_path,
            secret_key=SecretStr("s" * 40),
            clerk_webhook_secret=SecretStr(SECRET),
            oidc_issuer=issuer + "/",
        )
    )
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            await _deliver(client, _event("user.created"), "msg_i")
            (user,) = await _users(app)
            assert user["tokenIssuer"] == issuer
