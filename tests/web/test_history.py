"""Scrolling back through a long conversation loads its earlier messages, a page at a
time, oldest at the top."""

from __future__ import annotations

import re

from playwright.sync_api import Page, expect

from tests.api.conftest import Served, call_api
from tests.web.conftest import access_token, sign_up

MESSAGES = 45  # a first page of 30, then the rest on scrolling back


def test_scrolling_back_loads_earlier_messages(page: Page, server: Served) -> None:
    sign_up(page, "history@example.test")  # no advisors: nobody answers
    token = access_token(page)
    conversation = call_api(
        server.base, token, "mutation", "conversations:createConversation", {"title": "Long"}
    )
    for n in range(1, MESSAGES + 1):
        call_api(
            server.base,
            token,
            "mutation",
            "messages:sendMessage",
            {"conversationId": conversation, "content": f"Message number {n}"},
        )
    page.goto(f"/chat/{conversation}")
    messages = page.get_by_role("list", name="Messages").get_by_role("listitem")
    expect(messages).to_have_count(30)
    expect(messages.filter(has_text=re.compile(f"^Message number {MESSAGES}$"))).to_be_visible()
    expect(messages.filter(has_text=re.compile("^Message number 1$"))).to_have_count(0)

    # Bottom-up (column-reverse): the top of the history is the most negative scrollTop.
    page.locator(".message-scroller").evaluate("el => { el.scrollTop = -el.scrollHeight; }")
    expect(messages).to_have_count(MESSAGES)
    expect(messages.filter(has_text=re.compile("^Message number 1$"))).to_be_visible()
    expect(page.get_by_role("button", name="Load earlier messages")).to_have_count(0)
    first = messages.filter(has_text=re.compile("^Message number 1$")).bounding_box()
    second = messages.filter(has_text=re.compile("^Message number 2$")).bounding_box()
    assert first is not None
    assert second is not None
    assert first["y"] < second["y"]  # read top to bottom, oldest first
