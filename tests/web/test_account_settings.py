"""The account page: the name advisors use, a new password (the other devices signed out,
this one not), and deleting the account with everything in it; refusals in words, axe on
the page."""

from __future__ import annotations

import re
from pathlib import Path

from playwright.sync_api import Browser, Page, expect

from tests.api.conftest import Served
from tests.web.conftest import PASSWORD, STEP_MS, check_view, nav, sign_up

NEW_PASSWORD = "a longer and newer secret"


def open_account(page: Page, email: str) -> None:
    page.get_by_role("link", name=email).click()  # the account, named by its email
    expect(page.get_by_role("heading", name="Your account", level=1)).to_be_visible()


def sign_in(page: Page, email: str, password: str) -> None:
    page.goto("/signin")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in", exact=True).click()


def test_name_and_password_other_devices_signed_out(
    page: Page, browser: Browser, server: Served, artifacts: Path
) -> None:
    email = "settings@example.test"
    sign_up(page, email)
    other = browser.new_context(base_url=server.base)  # another device, signed in too
    other.set_default_timeout(STEP_MS)
    device = other.new_page()
    try:
        sign_in(device, email, PASSWORD)
        expect(nav(device)).to_be_visible()

        open_account(page, email)
        check_view(page, artifacts, "account")
        page.get_by_label("Your name").fill("Ada Lovelace")
        page.get_by_role("button", name="Save name").click()
        expect(page.get_by_role("status").filter(has_text="Your name is saved.")).to_be_visible()
        page.reload()
        expect(page.get_by_label("Your name")).to_have_value("Ada Lovelace")

        # Refusals: the wrong current password (said by the server), two new ones that differ.
        current = page.get_by_label("Current password")
        current.fill("not my password")
        page.get_by_label("New password", exact=True).fill(NEW_PASSWORD)
        page.get_by_label("New password, again").fill(NEW_PASSWORD)
        page.get_by_role("button", name="Change password").click()
        expect(page.get_by_role("alert")).to_have_text("Wrong password.")
        expect(current).to_have_attribute("aria-invalid", "true")
        current.fill(PASSWORD)
        page.get_by_label("New password, again").fill(NEW_PASSWORD + "!")
        page.get_by_role("button", name="Change password").click()
        expect(page.get_by_role("alert")).to_have_text("The new passwords do not match.")

        page.get_by_label("New password, again").fill(NEW_PASSWORD)
        page.get_by_role("button", name="Change password").click()
        changed = page.get_by_role("status").filter(has_text="Your password is changed.")
        expect(changed).to_be_visible()
        expect(current).to_have_value("")

        # This tab stays signed in and live; the other device is signed out.
        nav(page).get_by_role("link", name="Marketplace").click()
        page.get_by_role("button", name=re.compile("^Add to board: ")).first.click()
        expect(page.get_by_role("button", name=re.compile("^Remove from board: "))).to_have_count(1)
        # The other device's open tab finds its sign-in ended and lands on the sign-in page.
        expect(device.get_by_role("heading", name="Sign in", exact=True)).to_be_visible()

        page.get_by_role("button", name="Sign out").click()
        sign_in(page, email, PASSWORD)
        expect(page.get_by_role("alert")).to_have_text("Wrong email or password.")
        sign_in(page, email, NEW_PASSWORD)
        expect(nav(page)).to_be_visible()
    finally:
        other.close()


def test_deleting_the_account_takes_everything_with_it(page: Page) -> None:
    email = "leaving@example.test"
    sign_up(page, email)
    nav(page).get_by_role("link", name="Marketplace").click()
    page.get_by_role("button", name=re.compile("^Add to board: ")).first.click()
    board = page.get_by_role("list", name="Advisors on your board")
    expect(board.get_by_role("listitem")).to_have_count(1)

    open_account(page, email)
    page.get_by_role("button", name="Delete my account").click()
    dialog = page.get_by_role("alertdialog", name="Delete your account?")
    dialog.get_by_role("button", name="Keep it").click()  # changing one's mind changes nothing
    expect(dialog).to_have_count(0)
    expect(page.get_by_role("heading", name="Your account", level=1)).to_be_visible()

    page.get_by_role("button", name="Delete my account").click()
    dialog.get_by_role("button", name="Delete my account").click()
    expect(page.get_by_role("heading", name="Sign in", exact=True)).to_be_visible()
    sign_in(page, email, PASSWORD)
    expect(page.get_by_role("alert")).to_have_text("Wrong email or password.")

    sign_up(page, email)  # the address is free again: a new, empty account
    nav(page).get_by_role("link", name="Marketplace").click()
    expect(page.get_by_role("heading", name="Your board (0)")).to_be_visible()
