"""My advisors in the browser: a custom advisor made with the persona form (a refused
field shown beside itself, fixed, saved), edited, put on the board, made from a persona
file (and refused files listed by their fields), archived after a confirmation and
restored, deleted after a confirmation; axe on the list and the form, light and dark,
with screenshots."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from playwright.sync_api import Page, ViewportSize, expect

from tests.web.conftest import check_view, nav, sign_up

NAME = "Mara Quill"
FILED = "Orin Vale"
PHONE: ViewportSize = {"width": 390, "height": 844}
DESKTOP: ViewportSize = {"width": 1280, "height": 800}


def _file(folder: Path, name: str, content: dict[str, Any] | str) -> Path:
    path = folder / name
    path.write_text(content if isinstance(content, str) else json.dumps(content))
    return path


def _upload(page: Page, path: Path) -> None:
    page.get_by_label("Choose a persona file (JSON)").set_input_files(path)


def _check_both_themes(page: Page, artifacts: Path, name: str) -> None:
    """axe and a screenshot in the current theme, then in the other, then back."""
    start = page.evaluate("document.documentElement.dataset.theme")
    other = "dark" if start == "light" else "light"
    check_view(page, artifacts, f"{name}-{start}")
    page.get_by_role("button", name=f"Switch to {other} theme").click()
    assert page.evaluate("document.documentElement.dataset.theme") == other
    check_view(page, artifacts, f"{name}-{other}")
    page.get_by_role("button", name=f"Switch to {start} theme").click()


def test_custom_advisors_from_form_and_file(page: Page, artifacts: Path, tmp_path: Path) -> None:
    sign_up(page, "maker@example.test", "Maker")
    nav(page).get_by_role("link", name="My advisors").click()
    expect(page.get_by_text("You have not made an advisor yet.")).to_be_visible()

    # Create by form: the server refuses a tag that is too long; the error sits beside
    # that tag, focus moves to it, and everything typed is still there.
    page.get_by_role("button", name="Create an advisor").click()
    expect(page.get_by_role("heading", name="New advisor")).to_be_visible()
    expect(page.get_by_label("Name", exact=True)).to_be_focused()
    page.get_by_label("Name", exact=True).fill(NAME)
    page.get_by_label("Title", exact=True).fill("Pricing strategist")
    page.get_by_label("One-liner").fill("Charge for the value, not the hours.")
    page.get_by_label("Bio", exact=True).fill("Twenty years of pricing software.")
    for i, specialty in enumerate(["Value pricing", "Packaging", "Discount policy"], 1):
        page.get_by_role("button", name="Add specialty").click()
        expect(page.get_by_label(f"Specialties {i}")).to_be_focused()
        page.keyboard.type(specialty)
    page.get_by_role("button", name="Add tag").click()
    page.get_by_label("Tags 1").fill("p" * 65)
    page.get_by_label("Sign-off").fill("Price with courage.")
    page.get_by_label("City").fill("Lisbon")
    page.get_by_label("Graduation year").fill("2004")
    _check_both_themes(page, artifacts, "my-advisors-form")
    page.get_by_role("button", name="Create advisor").click()

    tag = page.get_by_label("Tags 1")
    expect(tag).to_have_attribute("aria-invalid", "true")
    expect(tag).to_have_accessible_description(re.compile("longer than 64 characters"))
    expect(tag).to_be_focused()
    expect(page.get_by_role("alert").filter(has_text="Not saved")).to_be_visible()
    expect(page.get_by_label("Name", exact=True)).to_have_value(NAME)
    expect(page.get_by_label("Specialties 3")).to_have_value("Discount policy")
    _check_both_themes(page, artifacts, "my-advisors-form-error")

    tag.fill("pricing")
    page.get_by_role("button", name="Create advisor").click()
    expect(page.get_by_role("status").filter(has_text=f"Saved {NAME}.")).to_be_visible()
    row = page.get_by_role("listitem").filter(has=page.get_by_role("heading", name=NAME))
    expect(row).to_contain_text("Pricing strategist")
    expect(page.get_by_role("button", name="Create an advisor")).to_be_focused()
    expect(row).to_contain_text("Charge for the value, not the hours.")

    # Edit: the form opens with what was saved, lists as lists.
    page.get_by_role("button", name=f"Edit {NAME}").click()
    expect(page.get_by_role("heading", name=f"Edit {NAME}")).to_be_visible()
    expect(page.get_by_label("Specialties 2")).to_have_value("Packaging")
    expect(page.get_by_label("Tags 1")).to_have_value("pricing")
    expect(page.get_by_label("City")).to_have_value("Lisbon")
    expect(page.get_by_label("Graduation year")).to_have_value("2004")
    page.get_by_label("Title", exact=True).fill("Chief pricing strategist")
    page.get_by_role("button", name="Remove specialty 2").click()
    expect(page.get_by_label("Specialties 2")).to_have_value("Discount policy")
    page.get_by_role("button", name="Add principle").click()
    page.get_by_label("Principles 1").fill("Never compete on price alone.")
    page.get_by_role("button", name="Save changes").click()
    expect(page.get_by_role("status").filter(has_text=f"Saved {NAME}.")).to_be_visible()
    expect(row).to_contain_text("Chief pricing strategist")
    page.get_by_role("button", name=f"Edit {NAME}").click()
    expect(page.get_by_label("Specialties 2")).to_have_value("Discount policy")
    expect(page.get_by_label("Specialties 3")).to_have_count(0)
    expect(page.get_by_label("Principles 1")).to_have_value("Never compete on price alone.")
    expect(page.get_by_label("Sign-off")).to_have_value("Price with courage.")
    page.get_by_role("button", name="Cancel").click()
    expect(page.get_by_role("button", name=f"Edit {NAME}")).to_be_focused()

    # On the board (marketplace:selectAdvisor), and so in the chat view's rail.
    page.get_by_role("button", name=f"Add to board: {NAME}").click()
    expect(page.get_by_role("button", name=f"Remove from board: {NAME}")).to_be_visible()
    expect(row).to_contain_text("On your board")
    nav(page).get_by_role("link", name="Chat").click()
    rail = page.get_by_role("list", name="Advisors on your board")
    expect(rail.get_by_role("listitem").filter(has_text=NAME)).to_contain_text(
        "Chief pricing strategist"
    )
    nav(page).get_by_role("link", name="My advisors").click()

    # Upload: a valid file makes an advisor; refused files list their fields by path.
    _upload(
        page,
        _file(
            tmp_path,
            "orin.json",
            {
                "advisorId": "orin-vale",
                "advisorSchemaVersion": "1.1-base",
                "persona": {
                    "name": FILED,
                    "title": "Operations lead",
                    "oneLiner": "Make the boring parts reliable.",
                    "specialties": ["Supply chains", "Runbooks"],
                },
                "metadata": {"tags": ["operations"]},
            },
        ),
    )
    created = page.get_by_role("status").filter(has_text=f"Saved {FILED} from orin.json.")
    expect(created).to_be_visible()
    filed = page.get_by_role("listitem").filter(has=page.get_by_role("heading", name=FILED))
    expect(filed).to_contain_text("Operations lead")

    _upload(page, _file(tmp_path, "untitled.json", {"persona": {"name": "No Title"}}))
    refused = page.get_by_role("list", name="Fields refused in the file")
    expect(refused.get_by_role("listitem")).to_have_text(re.compile(r"^persona\.title: required"))
    _check_both_themes(page, artifacts, "my-advisors-upload-refused")

    long_entry = {
        "persona": {"name": "Wordy", "title": "Talker", "specialties": ["ok", "w" * 1001]}
    }
    _upload(page, _file(tmp_path, "wordy.json", long_entry))
    expect(refused.get_by_role("listitem")).to_have_text(
        re.compile(r"^persona\.specialties\[1\]: longer than 1000 characters")
    )

    _upload(page, _file(tmp_path, "broken.json", '{"persona": '))
    expect(page.get_by_role("alert").filter(has_text="broken.json was not sent")).to_contain_text(
        "not valid JSON"
    )
    expect(page.get_by_role("heading", name="No Title")).to_have_count(0)
    expect(page.get_by_role("heading", name="Wordy")).to_have_count(0)
    _check_both_themes(page, artifacts, "my-advisors-list")
    page.set_viewport_size(PHONE)
    check_view(page, artifacts, "my-advisors-list-phone")
    page.get_by_role("button", name=f"Edit {NAME}").click()
    check_view(page, artifacts, "my-advisors-form-phone")
    page.get_by_role("button", name="Cancel").click()
    page.set_viewport_size(DESKTOP)

    # Archive (after a confirmation that says it can be restored): it moves from the list
    # to "Archived"; "Restore" brings it back to the list.
    current = page.get_by_role("list", name="Your custom advisors")
    archived = page.get_by_role("list", name="Archived")
    in_current = current.get_by_role("listitem").filter(has=page.get_by_role("heading", name=FILED))
    in_archived = archived.get_by_role("listitem").filter(
        has=page.get_by_role("heading", name=FILED)
    )
    expect(in_current).to_have_count(1)
    page.get_by_role("button", name=f"Archive {FILED}").click()
    dialog = page.get_by_role("alertdialog", name=f"Archive “{FILED}”?")
    expect(dialog).to_contain_text("You can restore it from the Archived list")
    page.screenshot(path=artifacts / "my-advisors-archive-dialog.png")
    dialog.get_by_role("button", name="Archive advisor").click()
    expect(in_current).to_have_count(0)
    expect(in_archived).to_contain_text("Archived")
    expect(in_archived.get_by_role("button", name=f"Edit {FILED}")).to_have_count(0)
    _check_both_themes(page, artifacts, "my-advisors-archived")
    in_archived.get_by_role("button", name=f"Restore {FILED}").click()
    expect(in_current).to_contain_text("Operations lead")
    expect(archived).to_have_count(0)
    expect(page.get_by_role("button", name=f"Archive {FILED}")).to_be_visible()

    # Delete: "Keep it" keeps it; confirmed, it is gone, from the board too.
    page.get_by_role("button", name=f"Delete {NAME}").click()
    dialog = page.get_by_role("alertdialog", name=f"Delete “{NAME}”?")
    check_view(page, artifacts, "my-advisors-delete-dialog")
    dialog.get_by_role("button", name="Keep it").click()
    expect(dialog).to_have_count(0)
    expect(page.get_by_role("button", name=f"Delete {NAME}")).to_be_focused()
    expect(row).to_have_count(1)
    page.get_by_role("button", name=f"Delete {NAME}").click()
    dialog.get_by_role("button", name="Delete advisor").click()
    expect(row).to_have_count(0)
    page.get_by_role("button", name=f"Delete {FILED}").click()
    page.get_by_role("alertdialog").get_by_role("button", name="Delete advisor").click()
    expect(page.get_by_text("You have not made an advisor yet.")).to_be_visible()
    expect(page.get_by_text("Your board is empty.")).to_be_visible()


def test_advisor_text_and_pictures_never_run_script(page: Page, tmp_path: Path) -> None:
    sign_up(page, "wary@example.test")
    nav(page).get_by_role("link", name="My advisors").click()
    name = '<img src=x onerror="window.pwned=1">'
    advisor = {
        "persona": {"name": name, "title": "<script>window.pwned=2</script>"},
        "imageUrl": "javascript:window.pwned=3",
    }
    _upload(page, _file(tmp_path, "wary.json", advisor))
    row = page.get_by_role("listitem").filter(has=page.get_by_role("heading", name=name))
    expect(row).to_contain_text("<script>window.pwned=2</script>")
    expect(row.locator("img")).to_have_count(0)  # initials instead of a javascript: picture

    page.get_by_role("button", name=f"Edit {name}").click()
    page.get_by_label("Image URL").fill("https://example.test/face.png")
    page.get_by_role("button", name="Save changes").click()
    expect(row.locator("img")).to_have_attribute("src", "https://example.test/face.png")
    assert page.evaluate("window.pwned") is None


def _call(page: Page, path: str, args: dict[str, Any]) -> Any:
    """A mutation over the HTTP API as the page's signed-in user (to set the scene)."""
    token = page.evaluate("JSON.parse(localStorage.getItem('advisor-chat.session')).accessToken")
    answer = page.request.post(
        "/api/mutation",
        data={"path": path, "args": args, "format": "json"},
        headers={"Authorization": f"Bearer {token}"},
    )
    body = answer.json()
    assert body["status"] == "success", body
    return body["value"]


def test_a_refused_save_keeps_the_form_and_tries_again(page: Page) -> None:
    """The plan's room for custom advisors is full: the save fails in words, nothing typed
    is lost, and once there is room "Try again" saves it."""
    sign_up(page, "full@example.test")
    made = [
        _call(page, "advisors:createAdvisor", {"persona": {"name": f"A{i}", "title": "T"}})
        for i in range(25)  # the free plan's custom advisors (functions/plans.py)
    ]
    nav(page).get_by_role("link", name="My advisors").click()
    page.get_by_role("button", name="Create an advisor").click()
    page.get_by_label("Name", exact=True).fill("One Too Many")
    page.get_by_label("Title", exact=True).fill("Latecomer")
    page.get_by_role("button", name="Add specialty").click()
    page.get_by_label("Specialties 1").fill("Waiting")
    page.get_by_role("button", name="Create advisor").click()
    refused = page.get_by_role("alert").filter(has_text="custom advisors")
    expect(refused).to_be_visible()
    expect(page.get_by_label("Name", exact=True)).to_have_value("One Too Many")
    expect(page.get_by_label("Specialties 1")).to_have_value("Waiting")

    _call(page, "advisors:deleteAdvisor", {"advisorId": made[0]})
    refused.get_by_role("button", name="Try again").click()
    expect(page.get_by_role("status").filter(has_text="Saved One Too Many.")).to_be_visible()
    expect(page.get_by_role("heading", name="One Too Many")).to_be_visible()


def test_an_edit_saved_elsewhere_meanwhile_is_never_silently_overwritten(page: Page) -> None:
    """Two tabs edit one advisor. The first saves; the second's save says the advisor was
    changed elsewhere and keeps what it typed; "Load the latest" shows the first tab's
    save, and "Save mine over it" then saves the second's, knowingly."""
    sign_up(page, "twotabs@example.test")
    _call(page, "advisors:createAdvisor", {"persona": {"name": NAME, "title": "Strategist"}})
    other = page.context.new_page()
    for tab in (page, other):
        tab.goto("/advisors")
        tab.get_by_role("button", name=f"Edit {NAME}").click()
        expect(tab.get_by_label("Title", exact=True)).to_have_value("Strategist")

    other.get_by_label("Title", exact=True).fill("Chief strategist")
    other.get_by_role("button", name="Save changes").click()
    expect(other.get_by_role("status").filter(has_text=f"Saved {NAME}.")).to_be_visible()

    page.get_by_label("One-liner").fill("Decide what not to do.")
    page.get_by_role("button", name="Save changes").click()
    conflict = page.get_by_role("alert").filter(has_text="changed elsewhere")
    expect(conflict).to_be_visible()
    expect(page.get_by_label("One-liner")).to_have_value("Decide what not to do.")
    conflict.get_by_role("button", name="Load the latest").click()
    expect(page.get_by_label("Title", exact=True)).to_have_value("Chief strategist")
    expect(page.get_by_label("One-liner")).to_have_value("")

    # Once more, the other way: a save elsewhere, then this tab's saved over it.
    other.get_by_role("button", name=f"Edit {NAME}").click()
    other.get_by_label("Title", exact=True).fill("Head of strategy")
    other.get_by_role("button", name="Save changes").click()
    expect(other.get_by_role("status").filter(has_text=f"Saved {NAME}.")).to_be_visible()
    page.get_by_label("One-liner").fill("Strategy is choosing.")
    page.get_by_role("button", name="Save changes").click()
    conflict.get_by_role("button", name="Save mine over it").click()
    expect(page.get_by_role("status").filter(has_text=f"Saved {NAME}.")).to_be_visible()
    row = other.get_by_role("listitem").filter(has=other.get_by_role("heading", name=NAME))
    expect(row).to_contain_text("Strategy is choosing.")  # live in the other tab
    expect(row).to_contain_text("Chief strategist")  # this tab's title, saved over it
