"""The marketplace in the browser, over the shipped advisors and teams: browse the featured
advisors, narrow by category and tags, search by text (on the server), read a profile,
add and remove an advisor and see the board change, add a whole team; axe on the
marketplace and the profile, light and dark, with screenshots."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Literal

import pytest
from playwright.sync_api import Browser, Locator, Page, expect

from tests.api.conftest import Served
from tests.web.conftest import STEP_MS, check_view, nav, sign_up

FEATURED = ["Hana Moriyama", "Ifeoma Hartley", "Lucía Ferreyra", "Margaret Thornbury"]
TEAM = "Startup Launch Squad"
TEAM_MEMBERS = ["Ifeoma Hartley", "Anika Lindqvist", "Lucía Ferreyra", "Beatriz Olmedo"]


def open_marketplace(page: Page) -> None:
    nav(page).get_by_role("link", name="Marketplace").click()
    expect(page.get_by_role("heading", name="Marketplace", level=1)).to_be_visible()
    expect(card_names(featured(page))).to_have_count(len(FEATURED))


def featured(page: Page) -> Locator:
    return page.get_by_role("list", name="Featured advisors", exact=True)


def board(page: Page) -> Locator:
    return page.get_by_role("list", name="Advisors on your board")


def card_names(grid: Locator) -> Locator:
    return grid.get_by_role("heading", level=3)


def chip(page: Page, group: str, name: str | re.Pattern[str]) -> Locator:
    return page.get_by_role("group", name=group).get_by_role("button", name=name, exact=True)


def test_browse_filter_search_and_profile(page: Page, artifacts: Path) -> None:
    sign_up(page, "market@example.test")
    open_marketplace(page)
    expect(card_names(featured(page))).to_have_text(FEATURED, use_inner_text=True)
    others = page.get_by_role("list", name="More advisors")
    expect(card_names(others)).to_have_count(12 - len(FEATURED))  # each once
    expect(page.get_by_role("heading", name="Your board (0)")).to_be_visible()
    page.screenshot(path=artifacts / "marketplace-featured.png", full_page=True)

    # A category: only its advisors, the featured and team sections out of the way.
    chip(page, "Category", re.compile("^legal")).click()
    legal = page.get_by_role("list", name="Advisors in legal")
    expect(card_names(legal)).to_have_text(["Beatriz Olmedo", "Jonah Whitfield"])
    expect(chip(page, "Category", re.compile("^legal"))).to_have_attribute("aria-pressed", "true")
    expect(featured(page)).to_have_count(0)
    # The filter is in the address: a reload keeps it, Back undoes it.
    expect(page).to_have_url(re.compile(r"/marketplace\?category=legal$"))
    page.reload()
    expect(card_names(legal)).to_have_text(["Beatriz Olmedo", "Jonah Whitfield"])
    expect(chip(page, "Category", re.compile("^legal"))).to_have_attribute("aria-pressed", "true")
    page.go_back()
    expect(page).to_have_url(re.compile(r"/marketplace$"))
    expect(card_names(featured(page))).to_have_count(len(FEATURED))
    page.go_forward()
    expect(card_names(legal)).to_have_text(["Beatriz Olmedo", "Jonah Whitfield"])
    chip(page, "Category", re.compile("^All")).click()
    expect(card_names(featured(page))).to_have_count(len(FEATURED))

    # Tags: any of them; a category narrows them further.
    chip(page, "Tags", "prioritization").click()
    tagged = page.get_by_role("list", name="Tagged advisors")
    expect(card_names(tagged)).to_have_text(["Anika Lindqvist", "Ifeoma Hartley"])
    page.get_by_role("group", name="Tags").get_by_role("button", name=re.compile("^All ")).click()
    chip(page, "Tags", "security").click()
    expect(card_names(tagged)).to_have_count(3)
    expect(tagged).to_contain_text("Kofi Adjei")
    chip(page, "Category", re.compile("^product")).click()
    expect(card_names(tagged)).to_have_text(["Anika Lindqvist"])
    page.screenshot(path=artifacts / "marketplace-filtered.png", full_page=True)
    page.get_by_role("button", name="Clear tags").click()
    chip(page, "Category", re.compile("^All")).click()

    # Text search, on the server: as typed, accents ignored, best match first.
    search = page.get_by_role("searchbox", name="Search advisors")
    search.fill("architect")
    results = page.get_by_role("list", name="Search results")
    expect(card_names(results).first).to_have_text("Hana Moriyama")
    expect(
        page.get_by_role("status").filter(has_text=re.compile("match(es)? “architect”"))
    ).to_be_visible()
    search.fill("lucia")
    expect(card_names(results)).to_have_text(["Lucía Ferreyra"])
    expect(page).to_have_url(re.compile(r"/marketplace\?q=lucia$"))  # once typing pauses
    page.reload()
    expect(search).to_have_value("lucia")
    expect(card_names(results)).to_have_text(["Lucía Ferreyra"])
    search.fill("fundrai")  # a word being typed
    expect(card_names(results).first).to_have_text("Samir Haddad")
    page.screenshot(path=artifacts / "marketplace-search.png", full_page=True)
    search.fill("zebra keeper")
    expect(page.get_by_role("status").filter(has_text="No advisors match")).to_be_visible()
    search.fill("")
    expect(card_names(featured(page))).to_have_count(len(FEATURED))

    # The profile: persona, specialties, principles, education, location; add from it.
    opener = page.get_by_role("button", name="View profile: Hana Moriyama")
    opener.click()
    profile = page.get_by_role("dialog", name="Hana Moriyama")
    expect(profile).to_contain_text("Principal Software Architect")
    for heading, text in [
        ("Specialties", "Data modeling"),
        ("Principles", "Data models outlive code, so design them with the most care."),
        ("Education", "Master of Engineering, Information Science"),
    ]:
        expect(profile.get_by_role("heading", name=heading)).to_be_visible()
        expect(profile).to_contain_text(text)
    expect(profile).to_contain_text("Osaka, Osaka Prefecture, Japan")
    expect(profile).to_contain_text("Technical Feasibility Reviewer, Product & Growth Lab")
    page.screenshot(path=artifacts / "marketplace-profile.png")
    profile.get_by_role("button", name="Add to board: Hana Moriyama").click()
    expect(profile.get_by_role("button", name="Remove from board: Hana Moriyama")).to_be_visible()
    expect(profile).to_contain_text("On your board")
    page.keyboard.press("Escape")
    expect(profile).to_have_count(0)
    expect(opener).to_be_focused()  # back where the user was
    expect(board(page).get_by_role("listitem")).to_have_count(1)
    expect(board(page)).to_contain_text("Hana Moriyama")
    expect(page.get_by_role("heading", name="Your board (1)")).to_be_visible()

    # Remove from the card, add another: the board follows, here and in the chat view.
    page.get_by_role("button", name="Remove from board: Hana Moriyama").click()
    expect(page.get_by_role("heading", name="Your board (0)")).to_be_visible()
    expect(board(page)).to_have_count(0)
    page.get_by_role("button", name="Add to board: Samir Haddad").click()
    expect(board(page).get_by_role("listitem")).to_have_count(1)
    expect(board(page)).to_contain_text("Samir Haddad")
    nav(page).get_by_role("link", name="Chat").click()
    expect(board(page).get_by_role("listitem")).to_have_count(1)
    expect(board(page)).to_contain_text("Samir Haddad")


def test_a_whole_team_in_one_click(page: Page, artifacts: Path) -> None:
    sign_up(page, "team@example.test")
    open_marketplace(page)
    page.get_by_role("button", name="Add to board: Anika Lindqvist").click()
    expect(board(page).get_by_role("listitem")).to_have_count(1)

    team = page.get_by_role("listitem").filter(
        has=page.get_by_role("heading", name=TEAM, exact=True)
    )
    members = team.get_by_role("list", name=f"Advisors in {TEAM}")
    expect(members.get_by_role("listitem")).to_have_count(len(TEAM_MEMBERS))
    for name in TEAM_MEMBERS:
        expect(members).to_contain_text(name)
    expect(members).to_contain_text("Launch Lead")  # each member's role in the team
    anika = members.get_by_role("listitem").filter(has_text="Anika Lindqvist")
    expect(anika).to_contain_text("On your board")
    team.screenshot(path=artifacts / "marketplace-team-before.png")

    team.get_by_role("button", name=f"Add the whole team: {TEAM}").click()
    expect(team.get_by_role("status")).to_have_text("Added 3 advisors to your board.")
    expect(team.get_by_role("button", name=f"Add the whole team: {TEAM}")).to_be_disabled()
    expect(team).to_contain_text("Whole team on your board")
    expect(board(page).get_by_role("listitem")).to_have_count(len(TEAM_MEMBERS))
    for name in TEAM_MEMBERS:
        expect(page.get_by_role("button", name=f"Remove from board: {name}")).to_be_visible()
    team.screenshot(path=artifacts / "marketplace-team-added.png")

    nav(page).get_by_role("link", name="Chat").click()
    rail = board(page)
    expect(rail.get_by_role("listitem")).to_have_count(len(TEAM_MEMBERS))
    for name in TEAM_MEMBERS:
        expect(rail).to_contain_text(name)


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_the_marketplace_and_a_profile_are_accessible(
    browser: Browser, server: Served, artifacts: Path, scheme: Literal["light", "dark"]
) -> None:
    context = browser.new_context(
        base_url=server.base, viewport={"width": 1280, "height": 800}, color_scheme=scheme
    )
    context.set_default_timeout(STEP_MS)
    page = context.new_page()
    try:
        sign_up(page, f"market-axe-{scheme}@example.test")
        open_marketplace(page)
        page.get_by_role("button", name="Add to board: Margaret Thornbury").click()
        expect(board(page).get_by_role("listitem")).to_have_count(1)
        expect(
            page.get_by_role("list", name="Team templates").get_by_role("listitem")
        ).not_to_have_count(0)
        check_view(page, artifacts, f"marketplace-browse-{scheme}")

        chip(page, "Tags", "finance").click()
        page.get_by_role("searchbox", name="Search advisors").fill("margaret")
        expect(card_names(page.get_by_role("list", name="Search results"))).to_have_count(1)
        check_view(page, artifacts, f"marketplace-search-{scheme}")

        page.get_by_role("button", name="View profile: Margaret Thornbury").click()
        expect(page.get_by_role("dialog", name="Margaret Thornbury")).to_contain_text("Principles")
        check_view(page, artifacts, f"marketplace-profile-{scheme}")
    finally:
        context.close()


def test_the_marketplace_at_phone_width(browser: Browser, server: Served, artifacts: Path) -> None:
    context = browser.new_context(base_url=server.base, viewport={"width": 390, "height": 844})
    context.set_default_timeout(STEP_MS)
    page = context.new_page()
    try:
        sign_up(page, "market-phone@example.test")
        open_marketplace(page)
        check_view(page, artifacts, "marketplace-phone")
        page.get_by_role("button", name="View profile: Ifeoma Hartley").click()
        profile = page.get_by_role("dialog", name="Ifeoma Hartley")
        profile.get_by_role("button", name="Add to board: Ifeoma Hartley").click()
        expect(
            profile.get_by_role("button", name="Remove from board: Ifeoma Hartley")
        ).to_be_visible()
        check_view(page, artifacts, "marketplace-profile-phone")
    finally:
        context.close()
