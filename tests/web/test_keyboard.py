"""The composer by keyboard alone: `@` opens the advisors' list, the arrow keys move
through it, Enter picks, Escape closes; `@board` asks everyone. Then the conversation at
phone width, checked with axe."""

from __future__ import annotations

import re
from pathlib import Path

from playwright.sync_api import Page, expect

from tests.ai.openai_server import ScriptedOpenAI
from tests.services import wait_until
from tests.web.conftest import check_view, nav, sign_up

FIRST = "Anika Lindqvist"
SECOND = "Beatriz Olmedo"


def test_mentions_by_keyboard_alone(page: Page, provider: ScriptedOpenAI, artifacts: Path) -> None:
    sign_up(page, "keys@example.test")
    nav(page).get_by_role("link", name="Marketplace").click()
    for name in (FIRST, SECOND):
        page.get_by_role("button", name=f"Add to board: {name}").focus()
        page.keyboard.press("Enter")
        expect(page.get_by_role("button", name=f"Remove from board: {name}")).to_be_visible()
    nav(page).get_by_role("link", name="Chat").focus()
    page.keyboard.press("Enter")
    page.get_by_role("main").get_by_role("button", name="New conversation").last.focus()
    page.keyboard.press("Enter")
    dialog = page.get_by_role("dialog", name="New conversation")
    expect(dialog.get_by_label("Title (optional)")).to_be_focused()  # the dialog takes focus
    page.keyboard.type("By keyboard")
    dialog.get_by_role("button", name="Start conversation").focus()
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"/chat/[^/]+$"))
    asked = len(provider.requests)

    composer = page.get_by_role("textbox", name="Message")
    composer.focus()
    page.keyboard.type("Hello @")
    menu = page.get_by_role("listbox", name="Mention an advisor")
    expect(menu.get_by_role("option")).to_have_count(3)  # @board and the two advisors
    expect(composer).to_have_attribute("aria-controls", "mention-options")
    page.keyboard.type("b")
    expect(menu.get_by_role("option")).to_have_count(2)  # board, Beatriz
    page.keyboard.press("ArrowDown")
    expect(menu.get_by_role("option", selected=True)).to_contain_text(SECOND)
    page.keyboard.press("Enter")  # picks, does not send
    expect(menu).to_have_count(0)
    expect(composer).to_have_value(f"Hello @{SECOND} ")
    page.keyboard.type("what do you think?")
    page.keyboard.press("Enter")
    expect(page.get_by_role("listitem", name="You said")).to_have_text(
        f"Hello @{SECOND} what do you think?"
    )
    expect(page.get_by_role("listitem", name=f"{SECOND} said")).to_contain_text("Echo:")

    page.keyboard.type("@an")
    expect(menu.get_by_role("option")).to_have_count(1)
    page.keyboard.press("Escape")  # closes the list, keeps the text
    expect(menu).to_have_count(0)
    expect(composer).to_have_value("@an")
    page.keyboard.press("Control+a")
    page.keyboard.type("Everyone: @boa")
    expect(menu.get_by_role("option", selected=True)).to_contain_text("@board")
    page.keyboard.press("Tab")
    expect(composer).to_have_value("Everyone: @board ")
    page.keyboard.type("ready?")
    page.keyboard.press("Enter")
    expect(page.get_by_role("listitem", name=f"{FIRST} said")).to_contain_text("ready?")
    expect(page.get_by_role("listitem", name=f"{SECOND} said")).to_have_count(2)
    # Three answers and what each advisor remembers after them: all asked for before the
    # next test scripts its answers, so none of these takes one.
    wait_until(lambda: len(provider.requests) >= asked + 6, 15, "the rounds' chores")

    page.set_viewport_size({"width": 390, "height": 844})  # a phone: the conversation alone
    expect(page.get_by_role("link", name="All conversations")).to_be_visible()
    check_view(page, artifacts, "chat-conversation-phone")
