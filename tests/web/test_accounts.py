"""Signing up, out and in through the app, as a person does; errors in words."""

from __future__ import annotations

from playwright.sync_api import Page, expect

from tests.web.conftest import PASSWORD, nav, sign_up


def test_sign_up_reload_sign_out_and_in_again(page: Page) -> None:
    sign_up(page, "ada@example.test", "Ada")
    expect(page.get_by_text("ada@example.test")).to_be_visible()

    page.reload()  # the session is kept: still signed in, and live
    expect(nav(page).get_by_role("link", name="Marketplace")).to_be_visible()
    expect(page.get_by_role("status").filter(has_text="Connected")).to_be_attached()

    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    page.reload()  # signed out stays signed out
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()

    page.get_by_label("Email").fill("ada@example.test")
    page.get_by_label("Password").fill("not the password")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert")).to_have_text("Wrong email or password.")

    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(nav(page).get_by_role("link", name="Chat")).to_be_visible()
    expect(page.get_by_text("ada@example.test")).to_be_visible()


def test_a_refused_sign_up_says_why_in_words(page: Page) -> None:
    page.goto("/signup")
    page.get_by_label("Email").fill("short@example.test")
    page.get_by_label("Password").fill("short")
    page.get_by_role("button", name="Create account").click()
    expect(page.get_by_role("alert")).to_contain_text("Password must be")
    expect(page.get_by_label("Password")).to_have_attribute("aria-invalid", "true")

    page.get_by_label("Email").fill("not an email")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Create account").click()
    expect(page.get_by_role("alert")).to_have_text("Not an email address.")
