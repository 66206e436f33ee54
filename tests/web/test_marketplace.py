"""The marketplace: a team template adds all its advisors to the board in one click."""

from __future__ import annotations

from playwright.sync_api import Page, expect

from tests.web.conftest import nav, sign_up

TEAM = "Startup Launch Squad"  # content/teams/launch-squad.json


def test_one_click_adds_the_whole_team(page: Page) -> None:
    sign_up(page, "team@example.test")
    nav(page).get_by_role("link", name="Marketplace").click()
    members = page.get_by_role("list", name=f"Advisors of {TEAM}").get_by_role("listitem")
    expect(members.first).to_be_visible()
    names = members.locator("span.small").all_inner_texts()  # beside each avatar
    assert len(names) >= 2
    assert "An advisor" not in names  # every member named

    page.get_by_role("button", name=f"Add the whole team: {TEAM}").click()
    card = page.get_by_role("listitem").filter(has=page.get_by_role("heading", name=TEAM))
    expect(card.get_by_text("All on your board")).to_be_visible()
    for name in names:
        expect(page.get_by_role("button", name=f"Remove from board: {name}")).to_be_visible()

    nav(page).get_by_role("link", name="Chat").click()
    board = page.get_by_role("list", name="Advisors on your board").get_by_role("listitem")
    expect(board).to_have_count(len(names))
