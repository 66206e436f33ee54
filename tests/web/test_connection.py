"""A lost connection is shown, and the app recovers by itself when the server is back:
still signed in, live again, and a change made after recovery goes through. This server
has no provider: the chat says its answers come from the small embedded model."""

from __future__ import annotations

import re
from pathlib import Path

from playwright.sync_api import Browser, expect

from tests.api.conftest import serving_at
from tests.services import free_port
from tests.web.conftest import STEP_MS, nav, sign_up


def test_a_server_restart_is_shown_and_recovered_from(
    browser: Browser, tmp_path: Path, artifacts: Path
) -> None:
    port = free_port()
    context = browser.new_context(base_url=f"http://127.0.0.1:{port}")
    context.set_default_timeout(STEP_MS)
    page = context.new_page()
    status = page.get_by_role("status").filter(has_text=re.compile("Connect"))
    try:
        with serving_at(port, tmp_path):
            sign_up(page, "restart@example.test")
            expect(status).to_have_text("Connected")
        expect(status).to_have_text("Connection lost, reconnecting…")
        page.screenshot(path=artifacts / "connection-lost.png")
        with serving_at(port, tmp_path):
            expect(status).to_have_text("Connected")
            nav(page).get_by_role("link", name="Marketplace").click()
            page.get_by_role("button", name=re.compile("^Add to board: ")).first.click()
            remove = page.get_by_role("button", name=re.compile("^Remove from board: "))
            expect(remove).to_have_count(1)
            expect(page.get_by_text("restart@example.test")).to_be_visible()
            nav(page).get_by_role("link", name="Chat").click()
            page.get_by_role("main").get_by_role("button", name="New conversation").last.click()
            page.get_by_role("dialog").get_by_role("button", name="Start conversation").click()
            expect(page.get_by_text("small offline model")).to_be_visible()
            expect(page.get_by_text("OPENAI_BASE_URL")).to_be_visible()
    finally:
        context.close()
