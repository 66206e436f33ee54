"""Signing in with an OIDC issuer (Clerk, or any other) in the browser: the app's
"Continue with …" button, the issuer's own page (tests/auth/provider.py, a real local
provider speaking the authorization-code flow with PKCE), the return to the app, and what
a person then notices: they are in, their board works, a reload keeps them in, their
tokens are renewed through the issuer, sign-out ends it there too; a cancelled or stale
sign-in says so in words.

These tests have their own server, configured with the issuer (the `server` fixture is
overridden here), beside the package's.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jwt
import pytest
from playwright.sync_api import Page, expect

from advisor_chat.api.webapp import WEB_ROOT
from tests.ai.openai_server import ScriptedOpenAI
from tests.api.conftest import Served, serving_at
from tests.auth.provider import OidcProvider
from tests.services import free_port, missing_service, wait_until
from tests.web.conftest import PROVIDER_KEY, STEP_MS, check_view, nav

ISSUER_NAME = "Test SSO"
ADA = "ada@example.test"


@pytest.fixture(scope="module")
def issuer() -> Iterator[OidcProvider]:
    with OidcProvider() as provider:
        yield provider


@pytest.fixture(scope="module")
def server(
    tmp_path_factory: pytest.TempPathFactory, provider: ScriptedOpenAI, issuer: OidcProvider
) -> Iterator[Served]:
    """The app, offering the issuer's sign-in; its callback registered at the issuer."""
    if not (WEB_ROOT / "index.html").is_file():
        missing_service("the web app is not built (scripts/build-web)")
    port = free_port()
    issuer.register(f"http://127.0.0.1:{port}/signin/callback")
    env = {"OPENAI_BASE_URL": provider.base_url, "OPENAI_API_KEY": PROVIDER_KEY}
    settings = {
        "oidc_issuer": issuer.issuer,
        "oidc_client_id": issuer.client_id,
        "oidc_name": ISSUER_NAME,
    }
    with serving_at(port, tmp_path_factory.mktemp("web-oidc"), env, **settings) as served:
        yield served


@pytest.fixture(autouse=True)
def default_lifetime(issuer: OidcProvider) -> Iterator[None]:
    yield
    issuer.token_lifetime_s = 300


def stored_session(page: Page) -> dict[str, Any]:
    raw = page.evaluate("localStorage.getItem('advisor-chat.session')")
    assert isinstance(raw, str), "no session stored"
    session: dict[str, Any] = json.loads(raw)
    return session


def refreshes(issuer: OidcProvider) -> int:
    """Refresh-token grants the issuer answered with tokens."""
    return sum(
        1 for r in issuer.token_requests if r.grant_type == "refresh_token" and r.status == 200
    )


def continue_at_issuer(page: Page, issuer: OidcProvider) -> None:
    """From the app's sign-in page to the issuer's page, as a person clicks through."""
    page.goto("/signin")
    page.get_by_role("button", name=f"Continue with {ISSUER_NAME}").click()
    page.wait_for_url(re.compile(re.escape(issuer.issuer) + r"/authorize\?"))
    expect(page.get_by_role("heading", name="Sign in to AI Advisor Chat")).to_be_visible()


def sign_in_at_issuer(page: Page, issuer: OidcProvider) -> None:
    continue_at_issuer(page, issuer)
    page.get_by_role("button", name="Continue as Ada Lovelace").click()
    nav(page).wait_for()
    page.wait_for_url(re.compile(r"/$"))


def test_sign_in_with_the_issuer_reload_and_sign_out(
    page: Page, issuer: OidcProvider, artifacts: Path
) -> None:
    page.goto("/signin")
    expect(page.get_by_role("button", name=f"Continue with {ISSUER_NAME}")).to_be_visible()
    expect(page.get_by_role("button", name="Sign in")).to_be_visible()  # local accounts too
    check_view(page, artifacts, "signin-with-issuer")

    sign_in_at_issuer(page, issuer)
    expect(page.get_by_text(ADA)).to_be_visible()  # the account, from the issuer's token
    session = stored_session(page)
    assert session["kind"] == "oidc"
    claims = jwt.decode(session["accessToken"], options={"verify_signature": False})
    assert (claims["iss"], claims["aud"]) == (issuer.issuer, issuer.client_id)
    assert not page.url.count("code=")  # the code is gone from the address bar

    # The account works: a users row was made, and writes go through as this person.
    nav(page).get_by_role("link", name="Marketplace").click()
    page.get_by_role("button", name="Add to board: Hana Moriyama").click()
    board = page.get_by_role("list", name="Advisors on your board")
    expect(board).to_contain_text("Hana Moriyama")

    page.reload()
    expect(board).to_contain_text("Hana Moriyama")
    expect(page.get_by_text(ADA)).to_be_visible()
    refresh_token = stored_session(page)["refreshToken"]
    assert isinstance(refresh_token, str)

    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("heading", name="Sign in", exact=True)).to_be_visible()
    assert page.evaluate("localStorage.getItem('advisor-chat.session')") is None
    wait_until(lambda: refresh_token in issuer.revoked, STEP_MS / 1000, "revoked at the issuer")

    # Signing in again finds the same account, board and all.
    sign_in_at_issuer(page, issuer)
    nav(page).get_by_role("link", name="Marketplace").click()
    expect(board).to_contain_text("Hana Moriyama")


def test_a_cancelled_or_stale_sign_in_says_so(
    page: Page, issuer: OidcProvider, artifacts: Path
) -> None:
    continue_at_issuer(page, issuer)
    page.get_by_role("button", name="Cancel").click()
    expect(page.get_by_role("heading", name="The sign-in did not complete")).to_be_visible()
    expect(page.get_by_role("alert")).to_have_text("The sign-in was cancelled.")
    check_view(page, artifacts, "signin-cancelled")
    assert page.evaluate("localStorage.getItem('advisor-chat.session')") is None
    page.get_by_role("link", name="Back to sign in").click()
    expect(page.get_by_role("heading", name="Sign in", exact=True)).to_be_visible()

    # A callback this tab never started (an old link, a forged one) exchanges nothing.
    used = len(issuer.token_requests)
    page.goto("/signin/callback?code=made-up&state=not-this-tabs")
    expect(page.get_by_role("alert")).to_contain_text("not the one this tab started")
    assert len(issuer.token_requests) == used
    assert page.evaluate("localStorage.getItem('advisor-chat.session')") is None


def test_short_lived_tokens_are_renewed_through_the_issuer(
    page: Page, issuer: OidcProvider
) -> None:
    """ID tokens of 15 s: the app renews them with the issuer's rotating refresh tokens
    (each one refused once used) and the person stays signed in, reading and writing."""
    issuer.token_lifetime_s = 15
    sign_in_at_issuer(page, issuer)
    before = refreshes(issuer)
    wait_until(lambda: refreshes(issuer) >= before + 2, 60, "two renewals through the issuer")
    nav(page).get_by_role("link", name="Marketplace").click()
    page.get_by_role("button", name="Add to board: Samir Haddad").click()
    board = page.get_by_role("list", name="Advisors on your board")
    expect(board).to_contain_text("Samir Haddad")
    session = stored_session(page)
    assert session["refreshToken"] in issuer.refresh_tokens()  # the newest, still live
    expect(page.get_by_text(ADA)).to_be_visible()
