"""`cli.remote.Remote` against a real served app: the token kept fresh, a refresh token
spent by another run followed through the session file, an ended sign-in forgotten, and
answers that are not the API said plainly."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from advisor_chat.cli.remote import Remote, RemoteError, SignedOut
from advisor_chat.cli.sessions import SessionFile
from tests.api.conftest import serving
from tests.cli.conftest import Server

PASSWORD = "correct horse battery"


async def test_a_refused_access_token_is_refreshed_and_the_call_retried(
    server: Server, tmp_path: Path
) -> None:
    sessions = SessionFile(tmp_path / "session.json")
    async with Remote.client() as http:
        remote = Remote(server.url, sessions, http)
        await remote.sign_up("refused@example.com", PASSWORD, None)
        await remote.mutation("users:store", {})
        before = sessions.get(server.url)
        remote._access = "not-a-token"  # what the server says of one 15 minutes old
        assert await remote.query("marketplace:getUserSelectedAdvisors", {}) == []
        after = sessions.get(server.url)
    assert before is not None
    assert after is not None
    assert after.refresh_token != before.refresh_token  # the rotated one, kept at once


async def test_a_token_rotated_by_another_run_is_taken_from_the_session_file(
    server: Server, tmp_path: Path
) -> None:
    sessions = SessionFile(tmp_path / "session.json")
    async with Remote.client() as http:
        first = Remote(server.url, sessions, http)
        await first.sign_up("shared@example.com", PASSWORD, None)
        await first.mutation("users:store", {})
        kept = sessions.get(server.url)
        assert kept is not None
        second = Remote(server.url, sessions, http)
        await second.resume(kept)  # spends the token `first` holds
        first._access = "not-a-token"
        assert await first.query("marketplace:getUserSelectedAdvisors", {}) == []
        # Neither presented a spent token (that would end the sign-in for both): the
        # second run, in turn behind, still goes on.
        second._access = "not-a-token"
        assert await second.query("marketplace:getUserSelectedAdvisors", {}) == []
        assert await first.query("marketplace:getUserSelectedAdvisors", {}) == []


async def test_a_sign_in_ended_on_the_server_is_forgotten(server: Server, tmp_path: Path) -> None:
    sessions = SessionFile(tmp_path / "session.json")
    async with Remote.client() as http:
        remote = Remote(server.url, sessions, http)
        await remote.sign_up("ended@example.com", PASSWORD, None)
        kept = sessions.get(server.url)
        assert kept is not None
        await Remote(server.url, SessionFile(tmp_path / "other.json"), http).sign_out(kept)
        with pytest.raises(SignedOut, match="sign in again"):
            await remote.resume(kept)
    assert sessions.get(server.url) is None


async def test_a_server_that_is_not_ours_is_said_plainly(server: Server, tmp_path: Path) -> None:
    other = server.openai.base_url.removesuffix("/v1")  # a web server, not the API
    async with Remote.client() as http:
        remote = Remote(other, SessionFile(tmp_path / "session.json"), http)
        with pytest.raises(RemoteError, match="is it an AI Advisor Chat server"):
            await remote.check()
        with pytest.raises(RemoteError, match="is it an AI Advisor Chat server"):
            await remote.sign_in("a@example.com", PASSWORD)
    assert not (tmp_path / "session.json").exists()


def test_the_session_file_is_private_and_survives_garbage(tmp_path: Path) -> None:
    from advisor_chat.cli.sessions import StoredSignIn

    path = tmp_path / "config" / "advisor-chat" / "session.json"
    sessions = SessionFile(path)
    assert sessions.get("http://x") is None
    sessions.put("http://x/", StoredSignIn("token", "a@example.com", "u1"))
    assert sessions.get("http://x") == StoredSignIn("token", "a@example.com", "u1")
    assert path.stat().st_mode & 0o777 == 0o600
    assert path.parent.stat().st_mode & 0o777 == 0o700
    assert json.loads(path.read_text()) == {
        "http://x": {"refresh_token": "token", "email": "a@example.com", "user_id": "u1"}
    }
    path.write_text("{not json")
    assert sessions.get("http://x") is None
    assert not sessions.forget("http://x")


async def test_the_terminal_signs_in_with_its_device_token_while_the_account_is_attacked(
    tmp_path: Path,
) -> None:
    """The device token a sign-in gave is kept past sign-out and presented at the next
    sign-in, so wrong guesses at the account from elsewhere do not lock its owner out of
    the terminal; a terminal that never signed in here is refused meanwhile."""
    email = "owner@example.com"
    limits = json.dumps({"signInAccount": {"count": 2, "windowSeconds": 600}})
    with serving(tmp_path, auth_limits=limits) as served:
        sessions = SessionFile(tmp_path / "session.json")
        async with Remote.client() as http:
            owner = Remote(served.base, sessions, http)
            await owner.sign_up(email, PASSWORD, None)
            await owner.sign_out()
            await owner.sign_in(email, PASSWORD)  # gives this terminal its device token
            await owner.sign_out()
            assert sessions.get(served.base) is None
            assert sessions.device(served.base, email) is not None
            for _ in range(3):  # the attacker, from another address
                await http.post(
                    served.base + "/auth/signin",
                    json={"email": email, "password": "wrong guess!"},
                    headers={"X-Forwarded-For": "203.0.113.9"},
                )
            stranger = Remote(
                served.base, SessionFile(tmp_path / "elsewhere" / "session.json"), http
            )
            with pytest.raises(RemoteError) as refused:
                await stranger.sign_in(email, PASSWORD)
            assert refused.value.code == "RATE_LIMITED"
            await owner.sign_in(email, PASSWORD)
            assert await owner.query("marketplace:getUserSelectedAdvisors", {}) == []
