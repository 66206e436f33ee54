"""Advisor and team files: the shipped marketplace, files in the wild, re-runs, bad files."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from advisor_chat.errors import SourceInvalid
from advisor_chat.importers.marketplace import (
    import_advisors,
    import_teams,
    load_shipped,
    shipped_content,
)
from advisor_chat.importers.report import Outcome
from advisor_chat.store import Document, Store
from tests.store.documents import documents

CATEGORIES = {"business", "marketing", "technical", "finance", "legal", "product"}


async def _everything(store: Store) -> dict[str, list[Document]]:
    tables = ("advisors", "teamTemplates")
    return {t: await documents(store, t) for t in tables}


def _write(folder: Path, name: str, data: object) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


def _advisor_file(advisor_id: str = "rhea-vance-v1", **extra: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "advisorId": advisor_id,
        "advisorSchemaVersion": "1.1-base",
        "status": "active",
        "persona": {"name": "Rhea Vance", "title": "Pricing Advisor"},
        "metadata": {"tags": ["pricing", "saas", "pricing"], "createdAt": "2025-05-01T10:00:00Z"},
    }
    return data | extra


async def test_shipped_marketplace_is_complete_and_consistent(store: Store) -> None:
    report = await load_shipped(store)
    assert report.total(Outcome.SKIPPED) == 0, list(report.skipped())
    advisors = await documents(store, "advisors")
    assert len(advisors) >= 12
    by_category = Counter(a.get("category") for a in advisors)
    assert set(by_category) == CATEGORIES
    assert all(count >= 2 for count in by_category.values())
    assert any(a.get("featured") for a in advisors)
    for advisor in advisors:
        assert advisor["isPublic"] is True
        assert "ownerId" not in advisor
        assert advisor["persona"]["name"]
        assert advisor["persona"]["title"]
        assert advisor["roleDefinition"]["mission"]
        assert advisor["tags"]
    stems = {p.stem for p in (shipped_content() / "advisors").glob("*.json")}
    assert {a["legacyId"] for a in advisors} == stems  # each file's advisorId, its name
    ids = {a["_id"] for a in advisors}
    teams = await documents(store, "teamTemplates")
    assert len(teams) >= 3
    for team in teams:
        # Every role found its advisor: the board is the roles' advisors in priority order.
        roles = team["advisorRoles"]
        assert roles
        assert all(role["advisorId"] in ids for role in roles)
        assert team["advisorIds"] == list(dict.fromkeys(r["advisorId"] for r in roles))
        priorities = [r["sessionPriority"] for r in roles]
        assert priorities == sorted(priorities)
        assert team["details"]["onboarding"]["welcomeMessage"]


async def test_loading_the_marketplace_again_changes_nothing(store: Store) -> None:
    await load_shipped(store)
    before = await _everything(store)
    again = await load_shipped(store)
    assert again.changed == 0
    assert again.total(Outcome.UNCHANGED) == len(before["advisors"]) + len(before["teamTemplates"])
    assert await _everything(store) == before


async def test_only_missing_restores_deleted_items_and_keeps_edited_ones(store: Store) -> None:
    await load_shipped(store)
    advisors = await documents(store, "advisors")
    edited, deleted = advisors[0], advisors[1]

    async def change(tx: Any) -> None:
        await tx.patch("advisors", edited["_id"], {"featured": not edited.get("featured")})
        await tx.delete("advisors", deleted["_id"])

    await store.mutation(change)
    report = await load_shipped(store, only_missing=True)
    assert report.count("advisors", Outcome.IMPORTED) == 1
    after = {a["legacyId"]: a for a in await documents(store, "advisors")}
    assert after[edited["legacyId"]]["featured"] is not edited.get("featured")
    assert deleted["legacyId"] in after


async def test_files_in_the_wild_keep_unknown_keys_and_default_what_is_derivable(
    store: Store, tmp_path: Path
) -> None:
    wild = _advisor_file(
        "wild-one",
        advisorSchemaVersion="0.9-legacy",
        voiceSamples=["Short answers first."],
        persona={
            "name": "Rhea Vance",
            "title": "Pricing Advisor",
            "age": 41,
            "education": {"institution": "A state university", "honours": "cum laude"},
        },
    )
    del wild["status"]
    bare = {"persona": {"title": "Ops Advisor"}, "firstName": "Ola", "lastName": "Berg"}
    _write(tmp_path / "in", "wild.json", wild)
    _write(tmp_path / "in", "ola-berg.json", bare)
    report = await import_advisors(store, [tmp_path / "in"])
    assert report.count("advisors", Outcome.IMPORTED) == 2
    found = {a["legacyId"]: a for a in await documents(store, "advisors")}
    one = found["wild-one"]
    assert one["status"] == "active"
    assert one["schemaVersion"] == "0.9-legacy"
    assert one["tags"] == ["pricing", "saas"]
    assert one["createdAt"] == 1746093600000.0
    assert one["extensions"] == {
        "voiceSamples": ["Short answers first."],
        "persona": {"age": 41, "education": {"honours": "cum laude"}},
    }
    assert one["persona"]["education"] == {"institution": "A state university"}
    assert found["ola-berg"]["persona"]["name"] == "Ola Berg"  # legacy id from the file name
    notes = {Path(i.source).name: i.reason for i in report.items}
    assert "no advisorId" in notes["ola-berg.json"]
    assert "persona.name derived" in notes["ola-berg.json"]
    assert "voiceSamples" in notes["wild.json"]


async def test_a_file_that_cannot_become_an_advisor_is_skipped_with_its_reason(
    store: Store, tmp_path: Path
) -> None:
    _write(tmp_path, "good.json", _advisor_file())
    _write(tmp_path, "untitled.json", _advisor_file("x", persona={"name": "No Title"}))
    _write(tmp_path, "badtags.json", _advisor_file("y", tags="pricing"))
    _write(tmp_path, "badstatus.json", _advisor_file("z", status="published"))
    report = await import_advisors(store, [tmp_path])
    reasons = {Path(i.source).name: i.reason for i in report.skipped()}
    assert set(reasons) == {"untitled.json", "badtags.json", "badstatus.json"}
    assert "persona.title" in reasons["untitled.json"]
    assert "advisors.tags" in reasons["badtags.json"]
    assert "published" in reasons["badstatus.json"]
    assert [a["legacyId"] for a in await documents(store, "advisors")] == ["rhea-vance-v1"]


async def test_a_rerun_updates_in_place(store: Store, tmp_path: Path) -> None:
    path = _write(tmp_path, "a.json", _advisor_file())
    await import_advisors(store, [path])
    [before] = await documents(store, "advisors")
    _write(tmp_path, "a.json", _advisor_file(persona={"name": "Rhea Vance", "title": "CFO"}))
    report = await import_advisors(store, [path])
    assert report.count("advisors", Outcome.UPDATED) == 1
    [after] = await documents(store, "advisors")
    assert after["_id"] == before["_id"]
    assert after["persona"]["title"] == "CFO"
    assert after["createdAt"] == before["createdAt"]
    assert (await import_advisors(store, [path])).count("advisors", Outcome.UNCHANGED) == 1


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ('{"advisorId": "a",\n "persona": {,}}', r"bad\.json: line 2, column 14: malformed JSON"),
        ("[1, 2]", r"bad\.json: expected a JSON object, found list"),
        ('{"teamId": "t", "name": "T"}', r"bad\.json: is a team file, not an advisor file"),
        ('{"hello": "world"}', r"bad\.json: is neither an advisor nor a team file"),
    ],
)
async def test_an_unreadable_file_refuses_the_whole_import(
    store: Store, tmp_path: Path, content: str, expected: str
) -> None:
    _write(tmp_path, "good.json", _advisor_file())
    (tmp_path / "bad.json").write_text(content, encoding="utf-8")
    with pytest.raises(SourceInvalid, match=expected):
        await import_advisors(store, [tmp_path])
    assert await documents(store, "advisors") == []


async def test_missing_paths_and_empty_folders_are_refused(store: Store, tmp_path: Path) -> None:
    with pytest.raises(SourceInvalid, match="no such file or folder"):
        await import_advisors(store, [tmp_path / "nope.json"])
    (tmp_path / "empty").mkdir()
    with pytest.raises(SourceInvalid, match=r"folder holds no \.json files"):
        await import_teams(store, [tmp_path / "empty"])


async def test_dry_run_reports_what_would_change_and_writes_nothing(store: Store) -> None:
    report = await load_shipped(store, dry_run=True)
    assert report.dry_run
    # Teams resolve their advisors within the same (rolled back) transaction.
    assert report.count("teamTemplates", Outcome.IMPORTED) >= 3
    assert report.count("advisors", Outcome.IMPORTED) >= 12
    assert await _everything(store) == {"advisors": [], "teamTemplates": []}


async def test_team_roles_whose_advisors_are_missing_are_left_out(
    store: Store, tmp_path: Path
) -> None:
    await import_advisors(store, [_write(tmp_path / "a", "a.json", _advisor_file())])
    team = {
        "teamId": "pricing-pod",
        "name": "Pricing Pod",
        "advisorRoles": [
            {"roleId": "b", "roleName": "Ghost", "advisorId": "nobody", "sessionPriority": 1},
            {"roleId": "a", "roleName": "Lead", "advisorId": "rhea-vance-v1", "sessionPriority": 2},
        ],
        "pricing": {"tier": "free"},
    }
    orphan = {"teamId": "orphans", "name": "Orphans", "advisorRoles": [{"advisorId": "nobody"}]}
    _write(tmp_path / "t", "pod.json", team)
    _write(tmp_path / "t", "orphans.json", orphan)
    report = await import_teams(store, [tmp_path / "t"])
    reasons = {Path(i.source).name: (i.outcome, i.reason) for i in report.items}
    assert reasons["orphans.json"][0] is Outcome.SKIPPED
    assert "import their files first" in reasons["orphans.json"][1]
    outcome, note = reasons["pod.json"]
    assert outcome is Outcome.IMPORTED
    assert "Ghost: advisor 'nobody' not found" in note
    [template] = await documents(store, "teamTemplates")
    [advisor] = await documents(store, "advisors")
    assert template["advisorIds"] == [advisor["_id"]]
    assert template["category"] == "general"
    assert template["details"] == {"pricing": {"tier": "free"}}


def test_shipped_files_are_in_the_package() -> None:
    content = shipped_content()
    assert len(list((content / "advisors").glob("*.json"))) >= 12
    assert len(list((content / "teams").glob("*.json"))) >= 3
