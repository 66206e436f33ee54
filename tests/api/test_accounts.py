"""Local accounts end to end: sign up, call functions with the token, refresh, sign out,
change password; and the `advisor-chat users` commands."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from advisor_chat.api.app import create_app
from advisor_chat.settings import Settings
from advisor_chat.store import Store
from tests.auth.spends import spends_pass_the_grace_window


@pytest.fixture
async def served(tmp_path: Path) -> AsyncIterator[tuple[httpx.AsyncClient, Store]]:
    """A client of the app, and the app's store (to move time on for spent tokens)."""
    app = create_app(Settings(data_dir=tmp_path, secret_key=SecretStr("s" * 40)))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
            yield http, app.state.store


@pytest.fixture
def client(served: tuple[httpx.AsyncClient, Store]) -> httpx.AsyncClient:
    return served[0]


async def _post(
    client: httpx.AsyncClient, path: str, body: Any, token: str | None = None
) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return await client.post(path, json=body, headers=headers)


async def _me(client: httpx.AsyncClient, token: str) -> httpx.Response:
    return await _post(client, "/api/query", {"path": "users:current", "args": {}}, token)


async def test_sign_up_then_call_functions_as_that_user(client: httpx.AsyncClient) -> None:
    signed = await _post(
        client,
        "/auth/signup",
        {"email": "Ada@Example.test", "password": "correct horse", "name": "Ada"},
    )
    assert signed.status_code == 200, signed.text
    tokens = signed.json()
    me = (await _me(client, tokens["accessToken"])).json()["value"]
    assert me["email"] == "ada@example.test"
    assert me["name"] == "Ada"
    assert me["_id"] == tokens["userId"]
    assert "passwordHash" not in me


async def test_sign_in_refresh_rotation_and_sign_out(
    served: tuple[httpx.AsyncClient, Store],
) -> None:
    client, store = served
    await _post(client, "/auth/signup", {"email": "b@example.test", "password": "password-1"})
    wrong = await _post(
        client, "/auth/signin", {"email": "b@example.test", "password": "nope-nope"}
    )
    unknown = await _post(
        client, "/auth/signin", {"email": "x@example.test", "password": "nope-nope"}
    )
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json()["errorMessage"] == unknown.json()["errorMessage"]  # no account probing
    tokens = (
        await _post(client, "/auth/signin", {"email": "b@example.test", "password": "password-1"})
    ).json()
    renewed = await _post(client, "/auth/refresh", {"refreshToken": tokens["refreshToken"]})
    assert renewed.status_code == 200
    # A reload racing the refresh: the spent token, within the grace window, rotates again.
    reload = await _post(client, "/auth/refresh", {"refreshToken": tokens["refreshToken"]})
    assert reload.status_code == 200, reload.text
    assert reload.json()["refreshToken"] != renewed.json()["refreshToken"]
    for answer in (tokens, renewed.json(), reload.json()):
        assert (await _me(client, answer["accessToken"])).status_code == 200
    again = await _post(client, "/auth/refresh", {"refreshToken": reload.json()["refreshToken"]})
    assert again.status_code == 200  # the chain goes on from the newest
    await spends_pass_the_grace_window(store)
    replay = await _post(client, "/auth/refresh", {"refreshToken": tokens["refreshToken"]})
    assert replay.status_code == 401  # after the window: reuse ends the sign-in
    assert "already used" in replay.json()["errorMessage"]
    ended = await _me(client, again.json()["accessToken"])  # the sign-in's access tokens too
    assert ended.json()["errorData"]["code"] == "UNAUTHENTICATED", ended.text

    tokens = (
        await _post(client, "/auth/signin", {"email": "b@example.test", "password": "password-1"})
    ).json()
    renewed = await _post(client, "/auth/refresh", {"refreshToken": tokens["refreshToken"]})
    new_refresh = renewed.json()["refreshToken"]
    assert (await _post(client, "/auth/signout", {"refreshToken": new_refresh})).status_code == 200
    assert (await _post(client, "/auth/refresh", {"refreshToken": new_refresh})).status_code == 401
    # A sign-out is final: the token its refresh spent a moment ago gets no grace.
    spent = await _post(client, "/auth/refresh", {"refreshToken": tokens["refreshToken"]})
    assert spent.status_code == 401


async def test_change_password_signs_out_every_session(client: httpx.AsyncClient) -> None:
    first = (
        await _post(client, "/auth/signup", {"email": "c@example.test", "password": "old-password"})
    ).json()
    second = (
        await _post(client, "/auth/signin", {"email": "c@example.test", "password": "old-password"})
    ).json()
    bad = await _post(
        client,
        "/auth/password",
        {"oldPassword": "guess-guess", "newPassword": "new-password"},
        first["accessToken"],
    )
    assert bad.status_code == 401
    ok = await _post(
        client,
        "/auth/password",
        {"oldPassword": "old-password", "newPassword": "new-password"},
        first["accessToken"],
    )
    assert ok.status_code == 200
    for session in (first, second):
        assert (
            await _post(client, "/auth/refresh", {"refreshToken": session["refreshToken"]})
        ).status_code == 401
    old = await _post(
        client, "/auth/signin", {"email": "c@example.test", "password": "old-password"}
    )
    new = await _post(
        client, "/auth/signin", {"email": "c@example.test", "password": "new-password"}
    )
    assert (old.status_code, new.status_code) == (401, 200)


@pytest.mark.parametrize(
    ("body", "status", "field"),
    [
        ({"email": "not-an-email", "password": "long-enough"}, 400, "email"),
        ({"email": "d@example.test", "password": "short"}, 400, "password"),
        ({"email": "d@example.test", "password": "x" * 2000}, 400, "password"),
        ({"email": "d@example.test", "password": 12345678}, 400, "password"),
        ({"password": "long-enough"}, 400, "email"),
    ],
)
async def test_bad_sign_ups_are_refused_and_create_nothing(
    client: httpx.AsyncClient, body: dict[str, Any], status: int, field: str
) -> None:
    response = await _post(client, "/auth/signup", body)
    assert response.status_code == status
    assert response.json()["errorData"]["field"] == field
    retry = await _post(
        client, "/auth/signin", {"email": "d@example.test", "password": "long-enough"}
    )
    assert retry.status_code == 401


async def test_one_account_per_email(client: httpx.AsyncClient) -> None:
    await _post(client, "/auth/signup", {"email": "e@example.test", "password": "password-1"})
    again = await _post(
        client, "/auth/signup", {"email": "E@example.test", "password": "password-2"}
    )
    assert again.status_code == 409
    assert again.json()["errorData"]["code"] == "CONFLICT"


def test_cli_creates_an_account_and_prints_a_working_token(tmp_path: Path) -> None:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("ADVISOR_CHAT_") and k != "DATABASE_URL"
    }
    env["ADVISOR_CHAT_DATA_DIR"] = str(tmp_path)
    cli = [sys.executable, "-m", "advisor_chat.cli", "users"]
    created = subprocess.run(
        [*cli, "create", "f@example.test", "--name", "F", "--plan", "pro"],
        env=env,
        capture_output=True,
        text=True,
        check=False,
        stdin=subprocess.DEVNULL,
    )
    assert created.returncode == 0, created.stderr
    assert "Password: " in created.stdout  # generated: no terminal to prompt on
    token = subprocess.run(
        [*cli, "token", "f@example.test"], env=env, capture_output=True, text=True, check=False
    )
    assert token.returncode == 0, token.stderr
    missing = subprocess.run(
        [*cli, "token", "g@example.test"], env=env, capture_output=True, text=True, check=False
    )
    assert missing.returncode == 1
    assert "no account" in missing.stdout

    from advisor_chat.auth.secret import load_secret
    from advisor_chat.auth.tokens import LocalTokens

    identity = LocalTokens(load_secret(Settings(data_dir=tmp_path))).verify(token.stdout.strip())
    assert identity.email == "f@example.test"
