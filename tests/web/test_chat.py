"""The chat journey in the browser, answers streamed from the local OpenAI-compatible
server: add advisors, start a conversation with them, ask both (each mentioned by name
through the @ list), watch both answers stream in attributed, stop one, regenerate it, go
back to its earlier version, search, rename, delete; a failed send keeps its text (and its
message, shown at once while sending, leaves the list); a message sent offline shows at
once as sending and goes through when the network is back; user text never runs script."""

from __future__ import annotations

import re
from pathlib import Path

from playwright.sync_api import BrowserContext, Dialog, Page, expect

from tests.ai.openai_server import ScriptedOpenAI
from tests.services import wait_until
from tests.web.conftest import check_view, nav, sign_up

FIRST = "Anika Lindqvist"
SECOND = "Beatriz Olmedo"
STREAM_S = 0.1  # per token: each answer streams for about a second, long enough to watch


def test_the_whole_chat_journey(page: Page, provider: ScriptedOpenAI, artifacts: Path) -> None:
    sign_up(page, "journey@example.test", "Jo")
    nav(page).get_by_role("link", name="Marketplace").click()
    for name in (FIRST, SECOND):
        page.get_by_role("button", name=f"Add to board: {name}").click()
        expect(page.get_by_role("button", name=f"Remove from board: {name}")).to_be_visible()

    nav(page).get_by_role("link", name="Chat").click()
    page.get_by_role("main").get_by_role("button", name="New conversation").last.click()
    dialog = page.get_by_role("dialog", name="New conversation")
    dialog.get_by_label("Title (optional)").fill("Launch plan")
    expect(dialog.get_by_role("checkbox")).to_have_count(2)
    page.screenshot(path=artifacts / "chat-new-conversation-dialog.png")
    dialog.get_by_role("button", name="Start conversation").click()
    page.wait_for_url(re.compile(r"/chat/[^/]+$"))
    expect(page.get_by_role("heading", name="Launch plan")).to_be_visible()
    expect(page.get_by_role("link", name=re.compile("^Launch plan"))).to_have_attribute(
        "aria-current", "page"
    )
    board = page.get_by_role("list", name="Advisors on your board")
    expect(board.get_by_role("listitem").filter(has_text=FIRST)).to_contain_text("Active")

    asked = len(provider.requests)
    provider.reply("Start with **small experiments** and measure each one.", token_delay_s=STREAM_S)
    provider.reply("Write the agreements down before you need them.", token_delay_s=STREAM_S)
    composer = page.get_by_label("Message", exact=True)
    # Both advisors, each mentioned by name through the @ list.
    mentions = page.get_by_role("listbox", name="Mention an advisor")
    composer.press_sequentially("@Ani")
    expect(mentions.get_by_role("option")).to_have_count(1)
    composer.press("Enter")  # picks, does not send
    composer.press_sequentially("and @Beat")
    expect(mentions.get_by_role("option", selected=True)).to_contain_text(SECOND)
    composer.press("Tab")
    expect(mentions).to_have_count(0)
    composer.press_sequentially("how do we launch?")
    composer.press("Shift+Enter")  # a new line, not a send
    composer.press_sequentially("Two lines.")
    expect(composer).to_have_value(f"@{FIRST} and @{SECOND} how do we launch?\nTwo lines.")
    composer.press("Enter")
    expect(composer).to_have_value("")
    mine = page.get_by_role("listitem", name="You said")
    expect(mine).to_contain_text("Two lines.")
    expect(mine).not_to_contain_text("Sending…")  # the server's copy, once it has it

    first = page.get_by_role("listitem", name=f"{FIRST} said")
    expect(first).to_have_attribute("aria-busy", "true")  # streaming, shown as it arrives
    expect(first).to_contain_text("Start with")
    page.screenshot(path=artifacts / "chat-streaming.png")
    expect(first).to_have_attribute("aria-busy", "false")
    expect(first.locator("strong", has_text="small experiments")).to_be_visible()
    second = page.get_by_role("listitem", name=f"{SECOND} said")
    expect(second).to_contain_text("Write the agreements down before you need them.")
    expect(second).to_have_attribute("aria-busy", "false")
    # The round's chores (what each advisor remembers) ask the provider too: let them
    # finish before scripting the next answer, so none of them takes it.
    wait_until(lambda: len(provider.requests) >= asked + 4, 15, "the round's chores")

    provider.reply(" ".join(["slowly"] * 200), token_delay_s=STREAM_S)
    composer.fill(f"@{FIRST} tell me more")
    composer.press("Enter")
    streaming = page.get_by_role("listitem", name=f"{FIRST} said").and_(
        page.locator("[aria-busy=true]")
    )
    expect(streaming).to_contain_text("slowly slowly")
    page.get_by_role("button", name="Stop answering").click()
    stopped = page.get_by_role("listitem", name=f"{FIRST} said").filter(has_text="Stopped.")
    expect(stopped).to_have_count(1)
    expect(page.get_by_role("button", name="Stop answering")).to_have_count(0)
    page.screenshot(path=artifacts / "chat-stopped.png")

    stopped.get_by_role("button", name=f"Regenerate {FIRST}'s answer").click()
    regenerated = page.get_by_role("listitem", name=f"{FIRST} said").filter(
        has_text="1 earlier version"
    )
    expect(regenerated).to_contain_text("Echo:")  # the test server's answer when unscripted
    expect(regenerated).to_have_attribute("aria-busy", "false")
    regenerated.get_by_text("1 earlier version").click()  # the stopped text, kept
    earlier = regenerated.get_by_role("listitem").filter(has_text="Version 1 (stopped)")
    expect(earlier).to_contain_text("slowly slowly")
    earlier.get_by_role("button", name="Show this version (version 1)").click()
    swapped = page.get_by_role("listitem", name=f"{FIRST} said").filter(has_text="Stopped.")
    expect(swapped).to_have_count(1)
    expect(swapped.get_by_role("listitem").filter(has_text="Version 1")).to_contain_text("Echo:")
    check_view(page, artifacts, "chat-conversation-light")
    page.get_by_role("button", name="Switch to dark theme").click()
    check_view(page, artifacts, "chat-conversation-dark")

    page.get_by_role("searchbox", name="Search messages").fill("agreem")
    found = page.get_by_role("list", name="Messages found").get_by_role("link")
    expect(found).to_have_count(1)  # every word, the last as a prefix
    expect(found).to_contain_text(f"{SECOND} in Launch plan")
    expect(found).to_contain_text("Write the agreements down")
    page.get_by_role("searchbox", name="Search messages").fill("nothing like this")
    expect(page.get_by_role("status").filter(has_text="No messages match")).to_be_visible()
    page.get_by_role("searchbox", name="Search messages").fill("")

    page.get_by_role("button", name="Rename conversation").click()
    page.get_by_label("Conversation title").fill("Launch, renamed")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_role("heading", name="Launch, renamed")).to_be_visible()
    expect(page.get_by_role("link", name=re.compile("^Launch, renamed"))).to_be_visible()

    page.get_by_role("button", name="Delete conversation").click()
    confirm = page.get_by_role("alertdialog")
    expect(confirm).to_contain_text("cannot be undone")
    page.screenshot(path=artifacts / "chat-delete-confirmation.png")
    confirm.get_by_role("button", name="Delete conversation").click()
    page.wait_for_url(re.compile(r"/$"))
    expect(page.get_by_role("link", name=re.compile("^Launch, renamed"))).to_have_count(0)
    expect(page.get_by_text("No conversations yet.")).to_be_visible()


def test_a_failed_send_keeps_the_text_and_markup_never_runs(page: Page) -> None:
    dialogs: list[str] = []

    def seen(dialog: Dialog) -> None:
        dialogs.append(dialog.message)
        dialog.dismiss()

    page.on("dialog", seen)
    sign_up(page, "safety@example.test")
    page.get_by_role("main").get_by_role("button", name="New conversation").last.click()
    page.get_by_role("dialog").get_by_role("button", name="Start conversation").click()
    page.wait_for_url(re.compile(r"/chat/[^/]+$"))

    composer = page.get_by_label("Message", exact=True)
    too_long = "x" * 32_001  # over the server's limit of one message
    composer.fill(too_long)
    composer.press("Enter")
    expect(page.get_by_role("alert")).to_be_visible()
    expect(composer).to_have_value(too_long)
    # Shown at once while it was being sent, it is gone from the list once refused.
    expect(page.get_by_role("listitem", name="You said")).to_have_count(0)
    page.reload()  # the draft survives a reload too
    expect(page.get_by_label("Message", exact=True)).to_have_value(too_long)

    hostile = '<img src=x onerror="alert(1)"> [click](javascript:alert(2)) **bold**'
    composer = page.get_by_label("Message", exact=True)
    composer.fill(hostile)
    composer.press("Enter")
    mine = page.get_by_role("listitem", name="You said")
    expect(mine.locator("strong")).to_have_text("bold")
    expect(mine.locator("img")).to_have_count(0)
    link = mine.get_by_role("link", name="click")
    assert (link.get_attribute("href") or "") == ""
    assert dialogs == []


def test_a_message_sent_offline_shows_at_once_and_goes_through_once_back(
    page: Page, context: BrowserContext
) -> None:
    sign_up(page, "offline@example.test")
    page.get_by_role("main").get_by_role("button", name="New conversation").last.click()
    page.get_by_role("dialog").get_by_role("button", name="Start conversation").click()
    page.wait_for_url(re.compile(r"/chat/[^/]+$"))
    composer = page.get_by_label("Message", exact=True)
    # The conversation and its (empty) message list loaded while online, as on a train
    # that has just left the station; only then is the network cut.
    expect(composer).to_be_editable()
    expect(page.get_by_text("Loading messages…")).to_have_count(0)
    expect(page.get_by_text("Loading conversation…")).to_have_count(0)

    context.set_offline(True)
    composer.fill("written on the train")
    composer.press("Enter")
    mine = page.get_by_role("listitem", name="You said")
    expect(mine).to_contain_text("written on the train")  # in the list before the server has it
    expect(mine).to_contain_text("Sending…")
    expect(composer).to_have_value("written on the train")  # the draft stays until then

    context.set_offline(False)
    expect(mine).not_to_contain_text("Sending…")
    expect(mine).to_have_count(1)  # the server's copy replaced it
    expect(mine).to_contain_text("written on the train")
    expect(composer).to_have_value("")
