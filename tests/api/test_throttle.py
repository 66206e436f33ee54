"""The sign-in throttle over HTTP against a real `advisor-chat serve`: floods refused with
429, Retry-After and errorData naming the limit; the owner of an account under attack
still signs in with a device token; and the state shared by two server processes, on one
PostgreSQL database and on Redis. Client addresses are X-Forwarded-For's, sent from
127.0.0.1 (a trusted proxy by default); each test uses addresses and emails of its own."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.api.conftest import PASSWORD, serving
from tests.services import PostgresServer, create_database, drop_database

MINUTES_15 = 900
LIMITS = {
    "signInAddress": {"count": 6, "windowSeconds": MINUTES_15},  # 150 s apart once spent
    "signInAccount": {"count": 3, "windowSeconds": MINUTES_15},
    "signInDevice": {"count": 3, "windowSeconds": MINUTES_15},
    "signUpAddress": {"count": 2, "windowSeconds": 3600},
    "refreshAddress": {"count": 2, "windowSeconds": MINUTES_15},
    "refreshAccount": {"count": 3, "windowSeconds": MINUTES_15},
    "passwordAccount": {"count": 2, "windowSeconds": MINUTES_15},
}
WRONG = "not the password"


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with serving(tmp_path_factory.mktemp("throttle"), auth_limits=json.dumps(LIMITS)) as s:
        yield s.base


def _address() -> str:
    """A client address of its own, in the documentation prefix 2001:db8::/32, random so
    that a Redis kept between runs (ADVISOR_CHAT_TEST_REDIS_URL) holds nothing of it."""
    tail = uuid.uuid4().hex
    return f"2001:db8:{tail[0:4]}:{tail[4:8]}::{tail[8:12]}"


class Client:
    """One client address, as the server sees it through X-Forwarded-For."""

    def __init__(self, base: str, address: str) -> None:
        self.base = base
        self.headers = {"X-Forwarded-For": address}

    def post(self, path: str, body: dict[str, Any], token: str | None = None) -> httpx.Response:
        headers = self.headers | ({"Authorization": f"Bearer {token}"} if token else {})
        return httpx.post(f"{self.base}/auth/{path}", json=body, headers=headers, timeout=30)

    def sign_in(self, email: str, password: str, device: str | None = None) -> httpx.Response:
        body = {"email": email, "password": password}
        return self.post("signin", body | ({"deviceToken": device} if device else {}))


def _client(base: str) -> Client:
    return Client(base, _address())


def _email() -> str:
    return f"owner-{uuid.uuid4().hex[:8]}@example.test"


def _signed_up(base: str, email: str) -> dict[str, str]:
    answer = _client(base).post("signup", {"email": email, "password": PASSWORD})
    assert answer.status_code == 200, answer.text
    tokens: dict[str, str] = answer.json()
    return tokens


def _refused(answer: httpx.Response, limit: str, refusal: str) -> int:
    """Asserts a 429 naming `limit`; returns its Retry-After."""
    assert answer.status_code == 429, answer.text
    body = answer.json()
    retry_after = body["errorData"]["retryAfter"]
    assert body["errorData"] == {"code": "RATE_LIMITED", "limit": limit, "retryAfter": retry_after}
    assert answer.headers["retry-after"] == str(retry_after)
    assert body["errorMessage"] == f"too many {refusal}; try again in {retry_after} s"
    return int(retry_after)


async def test_a_flood_from_one_address_is_counted_before_any_password_check(base: str) -> None:
    """Twelve wrong guesses at once, each for another email (no account limit near): the
    address limit (6) lets exactly six reach the password check, refuses the rest."""
    address = _address()
    async with httpx.AsyncClient(headers={"X-Forwarded-For": address}, timeout=30) as http:
        answers = await asyncio.gather(
            *(
                http.post(f"{base}/auth/signin", json={"email": _email(), "password": WRONG})
                for _ in range(12)
            )
        )
    statuses = sorted(answer.status_code for answer in answers)
    assert statuses == [401] * 6 + [429] * 6
    for answer in answers:
        if answer.status_code == 429:
            retry_after = _refused(answer, "signInAddress", "sign-in attempts from this address")
            assert 140 <= retry_after <= 150  # one interval, 900 s / 6, less the time taken
    email = _email()
    _signed_up(base, email)
    flooded = Client(base, address).sign_in(email, PASSWORD)  # the address is spent
    _refused(flooded, "signInAddress", "sign-in attempts from this address")
    assert _client(base).sign_in(email, PASSWORD).status_code == 200  # another is not


def test_a_successful_sign_in_gives_its_attempt_back(base: str) -> None:
    email, client = _email(), _client(base)
    _signed_up(base, email)
    for _ in range(LIMITS["signInAccount"]["count"] * 3):
        assert client.sign_in(email, PASSWORD).status_code == 200


def test_the_owner_signs_in_with_a_device_token_while_the_account_is_under_attack(
    base: str,
) -> None:
    email = _email()
    device = _signed_up(base, email)["deviceToken"]
    for _ in range(LIMITS["signInAccount"]["count"]):  # from addresses all over
        assert _client(base).sign_in(email, WRONG).status_code == 401
    attacked = _client(base).sign_in(email, WRONG)
    _refused(attacked, "signInAccount", "sign-in attempts for this account")
    # A device token of another account, or a forged one, is no device token at all.
    other = _signed_up(base, _email())["deviceToken"]
    for forged in (other, device[:-2] + "xx"):
        stolen = _client(base).sign_in(email, PASSWORD, device=forged)
        _refused(stolen, "signInAccount", "sign-in attempts for this account")

    owner = _client(base).sign_in(email, PASSWORD, device=device)
    assert owner.status_code == 200, owner.text
    assert owner.json()["deviceToken"] != device  # a fresh one each sign-in
    # The accepted trade-off: a device that never signed in waits like the attacker.
    new_device = _client(base).sign_in(email, PASSWORD)
    _refused(new_device, "signInAccount", "sign-in attempts for this account")


def test_wrong_guesses_with_a_device_token_are_counted_per_device(base: str) -> None:
    email = _email()
    device = _signed_up(base, email)["deviceToken"]
    for _ in range(LIMITS["signInDevice"]["count"]):
        assert _client(base).sign_in(email, WRONG, device=device).status_code == 401
    spent = _client(base).sign_in(email, PASSWORD, device=device)
    _refused(spent, "signInDevice", "sign-in attempts from this device")
    assert _client(base).sign_in(email, PASSWORD).status_code == 200  # the account is not


def test_sign_ups_are_counted_per_address(base: str) -> None:
    client = _client(base)
    for _ in range(LIMITS["signUpAddress"]["count"]):
        assert client.post("signup", {"email": _email(), "password": PASSWORD}).status_code == 200
    refused = client.post("signup", {"email": _email(), "password": PASSWORD})
    assert _refused(refused, "signUpAddress", "sign-ups from this address") > 1000


def test_failed_refreshes_per_address_and_refreshes_per_account(base: str) -> None:
    guesser = _client(base)
    for _ in range(LIMITS["refreshAddress"]["count"]):
        assert guesser.post("refresh", {"refreshToken": "guess"}).status_code == 401
    _refused(
        guesser.post("refresh", {"refreshToken": "guess"}),
        "refreshAddress",
        "failed refreshes from this address",
    )

    token, client = _signed_up(base, _email())["refreshToken"], _client(base)
    for _ in range(LIMITS["refreshAccount"]["count"]):  # successes: nothing for the address
        answer = client.post("refresh", {"refreshToken": token})
        assert answer.status_code == 200, answer.text
        token = answer.json()["refreshToken"]
    _refused(
        client.post("refresh", {"refreshToken": token}),
        "refreshAccount",
        "refreshes for this account",
    )


def test_wrong_old_passwords_are_counted_per_account(base: str) -> None:
    access = _signed_up(base, _email())["accessToken"]
    change = {"oldPassword": WRONG, "newPassword": "a new password"}
    for _ in range(LIMITS["passwordAccount"]["count"]):
        assert _client(base).post("password", change, access).status_code == 401
    right = change | {"oldPassword": PASSWORD}
    refused = _client(base).post("password", right, access)
    _refused(refused, "passwordAccount", "password change attempts for this account")


@pytest.fixture(params=[pytest.param("postgres", marks=pytest.mark.postgres), "redis"])
def two_processes(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[str, str]]:
    """Two `serve` processes of one deployment: on one PostgreSQL database, or each on a
    SQLite file of its own and one Redis (so only Redis can carry the state across)."""
    limits = json.dumps({"signInAddress": {"count": 3, "windowSeconds": MINUTES_15}})
    with ExitStack() as stack:
        env: dict[str, str] = {}
        data: list[Path] = [tmp_path_factory.mktemp("one"), tmp_path_factory.mktemp("two")]
        if request.param == "postgres":
            server: PostgresServer = request.getfixturevalue("postgres")
            name = f"test_{uuid.uuid4().hex[:16]}"
            asyncio.run(create_database(server.url, name))
            stack.callback(lambda: asyncio.run(drop_database(server.url, name)))
            env["DATABASE_URL"] = server.database_url(name)
        else:
            env["REDIS_URL"] = request.getfixturevalue("redis_url")
        one = stack.enter_context(serving(data[0], env, auth_limits=limits))
        two = stack.enter_context(serving(data[1], env, auth_limits=limits))
        yield one.base, two.base


def test_one_process_failures_throttle_the_other(two_processes: tuple[str, str]) -> None:
    one, two = two_processes
    address = _address()
    for _ in range(3):
        assert Client(one, address).sign_in(_email(), WRONG).status_code == 401
    refused = Client(two, address).sign_in(_email(), WRONG)
    _refused(refused, "signInAddress", "sign-in attempts from this address")
    assert Client(two, _address()).sign_in(_email(), WRONG).status_code == 401
