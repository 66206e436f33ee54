"""Sessions that end and identities that stay their issuer's, over HTTP against two real
`advisor-chat serve` processes of one deployment (one database), on SQLite and PostgreSQL:
what one process ends, the other refuses at its next request. The deployment also trusts an
OIDC issuer (Clerk-like: a real JWKS server) and takes Clerk's webhooks."""

from __future__ import annotations

import asyncio
import base64
import datetime
import time
import uuid
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from svix.webhooks import Webhook

from advisor_chat.store import Store
from advisor_chat.store.backend import Backend
from advisor_chat.store.postgres import PostgresBackend
from advisor_chat.store.sqlite import SqliteBackend
from tests.api.conftest import PASSWORD, serving, sign_up_tokens
from tests.auth.issuer import ISSUER, PARTY, Jwks, published
from tests.auth.spends import spends_pass_the_grace_window
from tests.services import PostgresServer, create_database, drop_database

WEBHOOK_SECRET = "whsec_" + base64.b64encode(b"0123456789abcdef0123456789abcdef").decode()


@dataclass(frozen=True)
class Deployment:
    one: str  # base URLs of the two server processes
    two: str
    issuer: Jwks
    database: Path | str  # the SQLite file, or PostgreSQL's URL

    async def spends_pass_the_grace_window(self) -> None:
        """Through a store of the test's own on the deployment's database."""
        backend: Backend
        if isinstance(self.database, Path):
            backend = SqliteBackend(self.database)
        else:
            backend = PostgresBackend(self.database, pool_size=1)
        async with Store(backend) as store:
            await spends_pass_the_grace_window(store)


@pytest.fixture(
    scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def deployment(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Deployment]:
    with ExitStack() as stack:
        keys, jwks_url = stack.enter_context(published())
        settings = {
            "oidc_issuer": ISSUER,
            "oidc_jwks_url": jwks_url,
            "oidc_authorized_parties": PARTY,
            "clerk_webhook_secret": WEBHOOK_SECRET,
        }
        env = {}
        if request.param == "postgres":
            server: PostgresServer = request.getfixturevalue("postgres")
            name = f"test_{uuid.uuid4().hex[:16]}"
            asyncio.run(create_database(server.url, name))
            stack.callback(lambda: asyncio.run(drop_database(server.url, name)))
            env["DATABASE_URL"] = server.database_url(name)
        data = tmp_path_factory.mktemp("deployment")
        one = stack.enter_context(serving(data, env, **settings))
        two = stack.enter_context(serving(data, env, **settings))
        database = env.get("DATABASE_URL") or data / "advisor-chat.sqlite3"
        yield Deployment(one.base, two.base, keys, database)


def _call(base: str, token: str, path: str, kind: str = "query") -> httpx.Response:
    return httpx.post(
        f"{base}/api/{kind}",
        json={"path": path, "args": {}, "format": "json"},
        headers={"Authorization": f"Bearer {token}"},
        timeout=10,
    )


def _me(base: str, token: str) -> Any:
    answer = _call(base, token, "users:current")
    assert answer.status_code == 200, answer.text
    return answer.json()["value"]


def _refused(answer: httpx.Response, message: str) -> None:
    assert answer.status_code == 560, answer.text
    assert answer.json()["errorData"]["code"] == "UNAUTHENTICATED"
    assert message in answer.json()["errorMessage"]


def _auth(base: str, endpoint: str, body: dict[str, str], token: str | None = None) -> Any:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return httpx.post(f"{base}/auth/{endpoint}", json=body, headers=headers, timeout=10)


def _sign_in(base: str, email: str, password: str = PASSWORD) -> dict[str, str]:
    answer = _auth(base, "signin", {"email": email, "password": password})
    assert answer.status_code == 200, answer.text
    tokens: dict[str, str] = answer.json()
    return tokens


def test_a_sign_out_through_one_process_ends_the_tokens_in_the_other_at_once(
    deployment: Deployment,
) -> None:
    one, two = deployment.one, deployment.two
    first = sign_up_tokens(one, "out@example.test")
    other = _sign_in(two, "out@example.test")
    renewed = _auth(two, "refresh", {"refreshToken": first["refreshToken"]}).json()
    for base in (one, two):
        for tokens in (first, renewed, other):
            assert _me(base, tokens["accessToken"])["email"] == "out@example.test"
    assert _auth(two, "signout", {"refreshToken": first["refreshToken"]}).status_code == 200
    for tokens in (first, renewed):
        _refused(_call(one, tokens["accessToken"], "users:current"), "signed out")
        _refused(_call(one, tokens["accessToken"], "users:store", "mutation"), "signed out")
    assert _me(one, other["accessToken"])["email"] == "out@example.test"  # another device


def test_a_password_change_through_one_process_ends_every_sign_in_in_the_other(
    deployment: Deployment,
) -> None:
    one, two = deployment.one, deployment.two
    first = sign_up_tokens(one, "change@example.test")
    other = _sign_in(two, "change@example.test")
    changed = _auth(
        one,
        "password",
        {"oldPassword": PASSWORD, "newPassword": "a new password"},
        first["accessToken"],
    )
    assert changed.status_code == 200, changed.text
    for tokens in (first, other):
        _refused(_call(two, tokens["accessToken"], "users:current"), "the password was changed")
    again = _sign_in(two, "change@example.test", "a new password")
    assert _me(one, again["accessToken"])["email"] == "change@example.test"


def test_a_token_one_process_just_spent_rotates_again_in_the_other(
    deployment: Deployment,
) -> None:
    """A reload landing on another server process than the refresh it raced: within the
    grace window it is answered fresh tokens, and every access token of the sign-in holds
    in both processes."""
    one, two = deployment.one, deployment.two
    first = sign_up_tokens(one, "grace@example.test")
    successor = _auth(one, "refresh", {"refreshToken": first["refreshToken"]}).json()
    again = _auth(two, "refresh", {"refreshToken": first["refreshToken"]})
    assert again.status_code == 200, again.text
    onward = _auth(one, "refresh", {"refreshToken": again.json()["refreshToken"]})
    assert onward.status_code == 200, onward.text
    for base in (one, two):
        for tokens in (first, successor, again.json(), onward.json()):
            assert _me(base, tokens["accessToken"])["email"] == "grace@example.test"


def test_a_refresh_token_reused_after_the_grace_window_ends_its_sign_in_everywhere(
    deployment: Deployment,
) -> None:
    one, two = deployment.one, deployment.two
    first = sign_up_tokens(one, "reuse@example.test")
    successor = _auth(one, "refresh", {"refreshToken": first["refreshToken"]}).json()
    asyncio.run(deployment.spends_pass_the_grace_window())
    reused = _auth(two, "refresh", {"refreshToken": first["refreshToken"]})
    assert reused.status_code == 401
    assert "already used" in reused.json()["errorMessage"]
    assert _auth(one, "refresh", {"refreshToken": successor["refreshToken"]}).status_code == 401
    for base in (one, two):
        _refused(_call(base, successor["accessToken"], "users:current"), "signed out")


def _clerk_event(kind: str, msg_id: str, **data: Any) -> tuple[bytes, dict[str, str]]:
    body = orjson.dumps({"type": kind, "object": "event", "data": data})
    when = datetime.datetime.now(tz=datetime.UTC)
    headers = {
        "svix-id": msg_id,
        "svix-timestamp": str(int(when.timestamp())),
        "svix-signature": Webhook(WEBHOOK_SECRET).sign(msg_id, when, body.decode()),
        "content-type": "application/json",
    }
    return body, headers


def test_a_clerk_user_deleted_by_the_webhook_is_not_recreated_by_an_earlier_token(
    deployment: Deployment,
) -> None:
    one, two = deployment.one, deployment.two
    token = deployment.issuer.token(sub="user_2gone", iat=int(time.time()) - 5)
    stored = _call(one, token, "users:store", "mutation")
    assert stored.status_code == 200, stored.text
    assert _me(two, token)["tokenIssuer"] == ISSUER
    body, headers = _clerk_event("user.deleted", "msg_gone", id="user_2gone", deleted=True)
    delivered = httpx.post(f"{two}/webhooks/clerk", content=body, headers=headers, timeout=10)
    assert delivered.json() == {"status": "applied"}
    assert _me(one, token) is None
    _refused(_call(one, token, "users:store", "mutation"), "this account was deleted")
    assert _me(two, token) is None


def test_an_issuers_token_never_acts_as_a_local_account_of_the_same_subject(
    deployment: Deployment,
) -> None:
    one, two = deployment.one, deployment.two
    local = sign_up_tokens(one, "local@example.test")
    mine = _me(one, local["accessToken"])
    assert mine["tokenIssuer"] == "advisor-chat"
    subject = mine["clerkId"]
    forged = deployment.issuer.token(sub=subject, email="mallory@example.test")
    assert _me(two, forged) is None
    by_id = httpx.post(
        f"{two}/api/query",
        json={"path": "users:getUserByClerkId", "args": {"clerkId": subject}},
        headers={"Authorization": f"Bearer {forged}"},
        timeout=10,
    )
    assert by_id.json()["value"] is None
    _refused(_call(two, forged, "users:store", "mutation"), "another issuer's user")
    assert _me(one, local["accessToken"]) == mine  # untouched
