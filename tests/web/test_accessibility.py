"""Every view, light and dark, at desktop and phone width: axe-core finds no serious or
critical violation (WCAG A/AA rules, contrast included), and a screenshot of each is kept.
An open conversation's view is checked in test_chat.py, where it has answers in it."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Literal

import pytest
from playwright.sync_api import Browser, Page, ViewportSize, expect

from tests.api.conftest import Served
from tests.web.conftest import STEP_MS, check_view, nav, sign_up

PHONE: ViewportSize = {"width": 390, "height": 844}
DESKTOP: ViewportSize = {"width": 1280, "height": 800}
Scheme = Literal["light", "dark"]


@pytest.mark.parametrize("scheme", ["light", "dark"])
@pytest.mark.parametrize("width", ["desktop", "phone"])
def test_every_view_is_accessible_and_photographed(
    browser: Browser, server: Served, artifacts: Path, scheme: Scheme, width: str
) -> None:
    context = browser.new_context(
        base_url=server.base, viewport=PHONE if width == "phone" else DESKTOP, color_scheme=scheme
    )
    context.set_default_timeout(STEP_MS)
    page = context.new_page()
    try:
        tag = f"{scheme}-{width}"
        page.goto("/signin")
        expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
        assert page.evaluate("document.documentElement.dataset.theme") == scheme
        check_view(page, artifacts, f"signin-{tag}")

        page.goto("/signup")
        page.get_by_label("Password").fill("short")
        page.get_by_label("Email").fill(f"axe-{tag}@example.test")
        page.get_by_role("button", name="Create account").click()
        expect(page.get_by_role("alert")).to_be_visible()
        check_view(page, artifacts, f"signup-error-{tag}")

        sign_up(page, f"axe-{tag}@example.test", "Axe Tester")
        expect(page.get_by_role("status").filter(has_text="Connected")).to_be_attached()
        check_view(page, artifacts, f"chat-empty-{tag}")

        nav(page).get_by_role("link", name="Marketplace").click()
        expect(page.get_by_role("button", name=re.compile("^Add to board: ")).first).to_be_visible()
        check_view(page, artifacts, f"marketplace-{tag}")
        page.get_by_role("button", name=re.compile("^Add to board: ")).first.click()
        expect(page.get_by_role("button", name=re.compile("^Remove from board: "))).to_have_count(1)

        nav(page).get_by_role("link", name="My advisors").click()
        expect(page.get_by_role("heading", name="My advisors")).to_be_visible()
        check_view(page, artifacts, f"my-advisors-{tag}")

        nav(page).get_by_role("link", name="Chat").click()
        board = page.get_by_role("list", name="Advisors on your board")
        expect(board.get_by_role("listitem")).to_have_count(1)
        check_view(page, artifacts, f"chat-{tag}")

        page.get_by_role("button", name="New conversation").last.click()
        expect(page.get_by_role("dialog", name="New conversation")).to_be_visible()
        check_view(page, artifacts, f"chat-new-conversation-{tag}")
        page.get_by_role("button", name="Cancel").click()
        expect(page.get_by_role("dialog")).to_have_count(0)
    finally:
        context.close()


def test_the_theme_toggle_switches_and_is_kept(page: Page) -> None:
    sign_up(page, "theme@example.test")
    start = page.evaluate("document.documentElement.dataset.theme")
    other = "dark" if start == "light" else "light"
    page.get_by_role("button", name=f"Switch to {other} theme").click()
    assert page.evaluate("document.documentElement.dataset.theme") == other
    page.reload()
    expect(page.get_by_role("button", name=f"Switch to {start} theme")).to_be_visible()
    assert page.evaluate("document.documentElement.dataset.theme") == other
