"""The web app in Debian's Chromium, driven by Python Playwright, against a real
`advisor-chat serve` whose answers come from the local OpenAI-compatible test server.

One server and one browser for these tests (the browser package-scoped: see `playwright`),
and a fresh browser context for each test: its own storage, so its own signed-in user.
No browser is downloaded: Playwright launches /usr/bin/chromium (`playwright install` is
never run), headless, sandboxless (the tests run as root), with no network of its own
beyond the server. A missing Chromium, or an app that was not built, skips these tests,
except under CI=true, where it fails them.

Screenshots go to ADVISOR_CHAT_TEST_ARTIFACTS, default tests/web/artifacts/ (gitignored).
"""

from __future__ import annotations

import json
import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import (
    Browser,
    BrowserContext,
    Locator,
    Page,
    Playwright,
    expect,
    sync_playwright,
)

from advisor_chat.api.webapp import WEB_ROOT
from tests.ai.openai_server import ScriptedOpenAI
from tests.api.conftest import Served, serving
from tests.services import missing_service
from tests.web.chromium import CHROMIUM, CHROMIUM_ARGS

AXE = Path(__file__).parents[2] / "web" / "node_modules" / "axe-core" / "axe.min.js"
PROVIDER_KEY = "sk-web-tests"
STEP_MS = 15_000  # each awaited condition is met in well under a second; this stops a hang
PASSWORD = "correct horse battery"

expect.set_options(timeout=STEP_MS)


@pytest.fixture(scope="session")
def artifacts() -> Path:
    default = Path(__file__).parent / "artifacts"
    path = Path(os.environ.get("ADVISOR_CHAT_TEST_ARTIFACTS", default))
    path.mkdir(parents=True, exist_ok=True)
    return path


@pytest.fixture(scope="session")
def provider() -> Iterator[ScriptedOpenAI]:
    with ScriptedOpenAI() as server:
        server.api_key = PROVIDER_KEY
        yield server


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory, provider: ScriptedOpenAI) -> Iterator[Served]:
    if not (WEB_ROOT / "index.html").is_file():
        missing_service("the web app is not built (scripts/build-web)")
    env = {"OPENAI_BASE_URL": provider.base_url, "OPENAI_API_KEY": PROVIDER_KEY}
    # A long history is written in a moment by the scroll-back test.
    quotas = json.dumps({"free": {"messagesPerMinute": 1000}})
    with serving(tmp_path_factory.mktemp("web"), env, quotas=quotas) as served:
        yield served


# Package scope, not session: sync Playwright keeps an event loop running on this thread
# while it is open, and the async tests of the other packages need the thread's loop.
@pytest.fixture(scope="package")
def playwright() -> Iterator[Playwright]:
    if shutil.which(CHROMIUM) is None:
        missing_service(f"{CHROMIUM} is not installed (Debian's chromium package)")
    with sync_playwright() as driver:
        yield driver


@pytest.fixture(scope="package")
def browser(playwright: Playwright) -> Iterator[Browser]:
    # launch() gives every run a fresh temporary profile (user-data-dir), removed at close.
    browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
    yield browser
    browser.close()


@pytest.fixture
def context(browser: Browser, server: Served) -> Iterator[BrowserContext]:
    context = browser.new_context(base_url=server.base, viewport={"width": 1280, "height": 800})
    context.set_default_timeout(STEP_MS)
    yield context
    context.close()


@pytest.fixture
def page(context: BrowserContext) -> Iterator[Page]:
    """A page that fails its test on any error the browser reports (a CSP refusal, an
    uncaught exception)."""
    page = context.new_page()
    problems: list[str] = []
    page.on("pageerror", lambda error: problems.append(f"page error: {error}"))
    page.on(
        "console",
        lambda message: (
            problems.append(f"console: {message.text}")
            if message.type == "error" and "Content Security Policy" in message.text
            else None
        ),
    )
    yield page
    assert problems == []


def sign_up(page: Page, email: str, name: str = "") -> None:
    """Sign up through the app's own form, ending on the chat view."""
    page.goto("/signup")
    if name:
        page.get_by_label("Name (optional)").fill(name)
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Create account").click()
    page.get_by_role("navigation", name="Main").wait_for()
    page.wait_for_url(re.compile(r"/$"))


def nav(page: Page) -> Locator:
    return page.get_by_role("navigation", name="Main")


def accessibility_violations(page: Page) -> list[dict[str, Any]]:
    """axe-core's serious and critical violations (WCAG 2.1 A and AA rules, contrast
    included) of the page as it is now. axe is evaluated through the DevTools protocol,
    which the page's CSP does not govern: the app itself keeps running under its CSP."""
    if not page.evaluate("typeof window.axe !== 'undefined'"):
        page.evaluate(AXE.read_text())
    found: list[dict[str, Any]] = page.evaluate(
        """async () => {
            const result = await window.axe.run(document, {
                runOnly: { type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"] },
            });
            return result.violations
                .filter((v) => v.impact === "serious" || v.impact === "critical")
                .map((v) => ({ id: v.id, help: v.help, nodes: v.nodes.map((n) => n.target) }));
        }"""
    )
    return found


def check_view(page: Page, artifacts: Path, name: str) -> None:
    """Keep a screenshot of the view, then assert axe finds nothing serious in it."""
    page.screenshot(path=artifacts / f"{name}.png", full_page=True)
    assert accessibility_violations(page) == [], name


def access_token(page: Page) -> str:
    """The signed-in user's access token, as the app keeps it."""
    token = page.evaluate("JSON.parse(localStorage.getItem('advisor-chat.session')).accessToken")
    assert isinstance(token, str)
    return token
