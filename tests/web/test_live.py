"""Live everywhere: two tabs of one user stay in step (messages, a streaming answer,
renames, typing, board changes), and a reload during a streaming answer shows it
continuing."""

from __future__ import annotations

import re

from playwright.sync_api import BrowserContext, Page, expect

from tests.ai.openai_server import ScriptedOpenAI
from tests.web.conftest import nav, sign_up

ADVISOR = "Anika Lindqvist"
OTHER = "Beatriz Olmedo"


def _start_conversation(page: Page, title: str) -> str:
    nav(page).get_by_role("link", name="Marketplace").click()
    page.get_by_role("button", name=f"Add to board: {ADVISOR}").click()
    expect(page.get_by_role("button", name=f"Remove from board: {ADVISOR}")).to_be_visible()
    nav(page).get_by_role("link", name="Chat").click()
    page.get_by_role("main").get_by_role("button", name="New conversation").last.click()
    dialog = page.get_by_role("dialog", name="New conversation")
    dialog.get_by_label("Title (optional)").fill(title)
    dialog.get_by_role("button", name="Start conversation").click()
    page.wait_for_url(re.compile(r"/chat/[^/]+$"))
    return page.url


def test_two_tabs_stay_in_step_and_a_reload_mid_stream_continues(
    page: Page, context: BrowserContext, provider: ScriptedOpenAI
) -> None:
    sign_up(page, "tabs@example.test")
    url = _start_conversation(page, "Two tabs")
    other = context.new_page()  # the same browser profile: the same signed-in user
    other.goto(url)
    expect(other.get_by_role("heading", name="Two tabs")).to_be_visible()

    words = [f"w{i}" for i in range(40)]
    provider.reply(" ".join(words), token_delay_s=0.1)  # about four seconds of streaming
    page.get_by_label("Message", exact=True).fill("Talk to me")
    page.get_by_label("Message", exact=True).press("Enter")

    streaming = other.get_by_role("listitem", name=f"{ADVISOR} said")
    expect(other.get_by_role("listitem", name="You said")).to_have_text("Talk to me")
    expect(streaming).to_have_attribute("aria-busy", "true")
    expect(streaming).to_contain_text("w1 w2")  # the other tab sees it stream

    page.reload()  # mid-stream: the answer is still there, and goes on to its end
    answer = page.get_by_role("listitem", name=f"{ADVISOR} said")
    expect(answer).to_contain_text("w0 w1")
    expect(answer).to_contain_text("w39")
    expect(answer).to_have_attribute("aria-busy", "false")
    expect(streaming).to_contain_text("w39")

    page.get_by_role("button", name="Rename conversation").click()
    page.get_by_label("Conversation title").fill("Renamed in one tab")
    page.get_by_role("button", name="Save").click()
    expect(other.get_by_role("heading", name="Renamed in one tab")).to_be_visible()
    expect(other.get_by_role("link", name=re.compile("^Renamed in one tab"))).to_be_visible()

    page.get_by_label("Message", exact=True).fill("half a thought")  # typing, not sent
    elsewhere = other.get_by_text("You are writing in another tab or device…")
    expect(elsewhere).to_be_visible()
    expect(page.get_by_text("You are writing in another tab or device…")).to_have_count(0)
    page.get_by_label("Message", exact=True).fill("")
    expect(elsewhere).to_have_count(0)

    nav(other).get_by_role("link", name="Marketplace").click()
    other.get_by_role("button", name=f"Add to board: {OTHER}").click()
    board = page.get_by_role("list", name="Advisors on your board")
    expect(board.get_by_role("listitem").filter(has_text=OTHER)).to_be_visible()
