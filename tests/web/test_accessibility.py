"""Every view, light and dark, at desktop and phone width: axe-core finds no serious or
critical violation (WCAG A/AA rules, contrast included), and a screenshot of each is kept."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Literal

import pytest
from playwright.sync_api import Browser, Page, ViewportSize, expect

from tests.api.conftest import Served
from tests.web.conftest import STEP_MS, nav, sign_up

AXE = Path(__file__).parents[2] / "web" / "node_modules" / "axe-core" / "axe.min.js"
PHONE: ViewportSize = {"width": 390, "height": 844}
DESKTOP: ViewportSize = {"width": 1280, "height": 800}
Scheme = Literal["light", "dark"]


def _violations(page: Page) -> list[dict[str, Any]]:
    """axe-core's serious and critical violations of the page as it is now."""
    if not page.evaluate("typeof window.axe !== 'undefined'"):
        page.add_script_tag(path=AXE)
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


def _check(page: Page, artifacts: Path, name: str) -> None:
    page.screenshot(path=artifacts / f"{name}.png", full_page=True)
    assert _violations(page) == [], name


@pytest.mark.parametrize("scheme", ["light", "dark"])
@pytest.mark.parametrize("width", ["desktop", "phone"])
def test_every_view_is_accessible_and_photographed(
    browser: Browser, server: Served, artifacts: Path, scheme: Scheme, width: str
) -> None:
    # The CSP refuses injected scripts: axe is a test's tool, so this context bypasses it
    # (the other tests run the app under the CSP).
    context = browser.new_context(
        base_url=server.base,
        viewport=PHONE if width == "phone" else DESKTOP,
        color_scheme=scheme,
        bypass_csp=True,
    )
    context.set_default_timeout(STEP_MS)
    page = context.new_page()
    try:
        tag = f"{scheme}-{width}"
        page.goto("/signin")
        expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
        assert page.evaluate("document.documentElement.dataset.theme") == scheme
        _check(page, artifacts, f"signin-{tag}")

        page.goto("/signup")
        page.get_by_label("Password").fill("short")
        page.get_by_label("Email").fill(f"axe-{tag}@example.test")
        page.get_by_role("button", name="Create account").click()
        expect(page.get_by_role("alert")).to_be_visible()
        _check(page, artifacts, f"signup-error-{tag}")

        sign_up(page, f"axe-{tag}@example.test", "Axe Tester")
        expect(page.get_by_role("status").filter(has_text="Connected")).to_be_attached()
        _check(page, artifacts, f"chat-empty-{tag}")

        nav(page).get_by_role("link", name="Marketplace").click()
        expect(page.get_by_role("button", name=re.compile("^Add to board: ")).first).to_be_visible()
        _check(page, artifacts, f"marketplace-{tag}")
        page.get_by_role("button", name=re.compile("^Add to board: ")).first.click()
        expect(page.get_by_role("button", name=re.compile("^Remove from board: "))).to_have_count(1)

        nav(page).get_by_role("link", name="My advisors").click()
        expect(page.get_by_role("heading", name="My advisors")).to_be_visible()
        _check(page, artifacts, f"my-advisors-{tag}")

        nav(page).get_by_role("link", name="Chat").click()
        board = page.get_by_role("complementary", name="Your board")
        expect(board.get_by_role("listitem")).to_have_count(1)
        _check(page, artifacts, f"chat-{tag}")
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
