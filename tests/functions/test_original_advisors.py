"""The original app's advisors functions, called as its client and scripts call them:
the advisor rail's listing, signed-out browsing, its argument names, the upload button's
`{ok, advisorId?, error?}` answers, the administrators' upkeep, and what it served to
anyone that is retired here."""

from __future__ import annotations

import json
from typing import Any

import pytest

from advisor_chat.errors import Code
from advisor_chat.functions.catalog import build_registry
from advisor_chat.functions.plans import PlanLimits
from advisor_chat.functions.runner import Runner
from advisor_chat.importers.marketplace import shipped_content
from advisor_chat.store import Store, Transaction
from tests.functions.calls import call, refusal
from tests.functions.world import ALICE, BOB, World, snapshot


def _ids(docs: list[dict[str, Any]]) -> list[str]:
    return [d["_id"] for d in docs]


async def _advisor(store: Store, fields: dict[str, Any]) -> str:
    async def insert(tx: Transaction) -> str:
        base = {"schemaVersion": "1.1-base", "status": "active", "tags": [], "createdAt": 1}
        return await tx.insert("advisors", base | {"updatedAt": 1} | fields)

    return (await store.mutation(insert)).value


async def _make_admin(store: Store, runner: Runner) -> None:
    alice = (await call(runner, "users:current", {}))["_id"]

    async def grant(tx: Transaction) -> None:
        await tx.patch("users", alice, {"role": "admin"})

    await store.mutation(grant)


# -- listing, signed in and signed out ---------------------------------------------------


async def test_all_advisors_are_the_public_ones_and_the_callers_own_in_any_status(
    store: Store, runner: Runner, world: World
) -> None:
    withdrawn = await _advisor(
        store, {"isPublic": True, "status": "inactive", "persona": {"name": "Old", "title": "X"}}
    )
    bobs = await call(
        runner, "advisors:createAdvisor", {"persona": {"name": "B", "title": "C"}}, BOB
    )
    await call(runner, "advisors:archiveAdvisor", {"advisorId": world.private_advisor})

    alices = await call(runner, "advisors:getAllAdvisors", {})
    assert _ids(alices) == [world.public_advisor, world.private_advisor]  # by creation
    assert alices[1]["status"] == "archived"  # hers to find again
    active = await call(runner, "advisors:getActiveAdvisors", {})
    assert _ids(active) == [world.public_advisor]
    assert await call(runner, "advisors:getAdvisors", {}) == active  # the original's alias
    signed_out = await call(runner, "advisors:getAllAdvisors", {}, None)
    assert _ids(signed_out) == [world.public_advisor]
    assert withdrawn not in _ids(signed_out) + _ids(alices)
    assert bobs not in _ids(alices)


async def test_signed_out_visitors_browse_the_marketplace_and_its_teams(
    store: Store, runner: Runner, world: World
) -> None:
    assert _ids(await call(runner, "advisors:getActiveAdvisors", {}, None)) == [
        world.public_advisor
    ]
    one = await call(runner, "advisors:getAdvisorById", {"advisorId": world.public_advisor}, None)
    assert one["persona"]["name"] == "Ada Reyes"
    private = {"advisorId": world.private_advisor}
    assert (await refusal(runner, "advisors:getAdvisorById", private, None)).code is (
        Code.NOT_FOUND
    )
    tagged = await call(runner, "advisors:getAdvisorsByTags", {"tags": ["finance"]}, None)
    assert _ids(tagged) == [world.public_advisor]  # Alice's private finance advisor is not
    page = await call(
        runner,
        "marketplace:getMarketplaceAdvisors",
        {"paginationOpts": {"numItems": 10, "cursor": None}},
        None,
    )
    assert _ids(page["page"]) == [world.public_advisor]
    stats = await call(runner, "marketplace:getMarketplaceStats", {}, None)
    assert stats["totalAdvisors"] == 1
    [team] = await call(runner, "teams:getTeamTemplates", {}, None)
    assert team["advisorIds"] == [world.public_advisor]
    assert (await call(runner, "teams:getTeamTemplate", {"teamId": "startup-board"}, None))[
        "name"
    ] == "Startup board"
    # Everything else still wants a sign-in.
    for path, args in [
        ("marketplace:getUserSelectedAdvisors", {}),
        ("teams:createFromTemplate", {"teamId": "startup-board"}),
        ("advisors:uploadAdvisorJSON", {"jsonString": "{}"}),
    ]:
        assert (await refusal(runner, path, args, None)).code is Code.UNAUTHENTICATED


async def test_tags_find_advisors_having_any_of_them(runner: Runner, world: World) -> None:
    growth = await call(
        runner,
        "advisors:createAdvisor",
        {"persona": {"name": "Bo", "title": "CMO"}, "tags": ["growth"]},
    )
    found = await call(runner, "advisors:getAdvisorsByTags", {"tags": ["growth", "finance"]})
    assert _ids(found) == [world.public_advisor, world.private_advisor, growth]
    assert await call(runner, "advisors:getAdvisorsByTags", {"tags": ["nonexistent-tag"]}) == []


# -- create, update, archive, delete with the original's arguments ---------------------------


async def test_create_advisor_takes_the_originals_arguments(runner: Runner, world: World) -> None:
    made = await call(
        runner,
        "advisors:createAdvisor",
        {
            "firstName": "Rosa",
            "lastName": "Vidal",
            "persona": {"name": "Rosa Vidal", "title": "COO", "image": "https://img.test/r.png"},
            "roleDefinition": {"role": "Operations", "responsibilities": ["hiring"]},
            "components": [{"type": "checklist", "items": ["a"]}],
            "metadata": {"version": "1", "author": "me", "category": "ops", "tags": ["ops"]},
            "localization": {"language": "en", "region": "GB"},
            "schemaVersion": "1.0",
            "status": "inactive",
        },
    )
    assert isinstance(made, str)
    advisor = await call(runner, "advisors:getAdvisorById", {"advisorId": made})
    assert advisor["imageUrl"] == "https://img.test/r.png"  # from persona.image, as there
    assert advisor["tags"] == ["ops"]  # from metadata.tags, as there
    assert advisor["components"] == [{"type": "checklist", "items": ["a"]}]
    assert advisor["roleDefinition"]["responsibilities"] == ["hiring"]
    assert (advisor["schemaVersion"], advisor["status"]) == ("1.0", "inactive")
    assert advisor["isPublic"] is False


async def test_update_archive_and_delete_answer_null_as_the_original(
    runner: Runner, world: World
) -> None:
    mine = {"advisorId": world.private_advisor}
    changed = await call(
        runner,
        "advisors:updateAdvisor",
        mine
        | {
            "status": "inactive",
            "components": [{"kind": "note"}],
            "persona": {"name": "Ada Reyes", "title": "CFO", "expertise": ["treasury"]},
        },
    )
    assert changed is None
    advisor = await call(runner, "advisors:getAdvisorById", mine)
    assert (advisor["status"], advisor["components"]) == ("inactive", [{"kind": "note"}])
    assert advisor["persona"]["expertise"] == ["treasury"]
    assert await call(runner, "advisors:archiveAdvisor", mine) is None
    assert (await call(runner, "advisors:getAdvisorById", mine))["status"] == "archived"
    assert await call(runner, "advisors:deleteAdvisor", mine) is None
    assert (await refusal(runner, "advisors:getAdvisorById", mine)).code is Code.NOT_FOUND


# -- the upload button ---------------------------------------------------------------------


def _shipped_file() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(
        next(iter(sorted((shipped_content() / "advisors").glob("*.json")))).read_text()
    )
    return data


async def test_an_uploaded_file_becomes_the_callers_advisor_and_a_second_upload_updates_it(
    store: Store, runner: Runner, world: World
) -> None:
    file = _shipped_file()
    first = await call(runner, "advisors:uploadAdvisorJSON", {"jsonString": json.dumps(file)})
    assert first["ok"] is True
    advisor = await call(runner, "advisors:getAdvisorById", {"advisorId": first["advisorId"]})
    assert advisor["persona"] == file["persona"]
    assert advisor["isPublic"] is False
    theirs = {"advisorId": first["advisorId"]}
    assert (await refusal(runner, "advisors:getAdvisorById", theirs, BOB)).code is Code.NOT_FOUND

    file["persona"]["oneLiner"] = "Edited and uploaded again."
    again = await call(runner, "advisors:uploadAdvisorJSON", {"advisor": file})
    assert again == {"ok": True, "advisorId": first["advisorId"]}
    updated = await call(runner, "advisors:getAdvisorById", {"advisorId": first["advisorId"]})
    assert updated["persona"]["oneLiner"] == "Edited and uploaded again."
    assert updated["createdAt"] == advisor["createdAt"]
    names = [a["persona"]["name"] for a in await call(runner, "advisors:getAllAdvisors", {})]
    assert names.count(file["persona"]["name"]) == 1

    # Bob's upload of the same file is his own advisor; Alice's stays as she left it.
    bobs = await call(runner, "advisors:uploadAdvisorJSON", {"advisor": _shipped_file()}, BOB)
    assert bobs["ok"] is True
    assert bobs["advisorId"] != first["advisorId"]
    kept = await call(runner, "advisors:getAdvisorById", {"advisorId": first["advisorId"]})
    assert kept["persona"]["oneLiner"] == "Edited and uploaded again."


async def test_an_upload_of_an_existing_name_replaces_only_the_callers_own(
    runner: Runner, world: World
) -> None:
    """The world's public and Alice's private advisor are both "Ada Reyes"."""
    file = {"persona": {"name": "Ada Reyes", "title": "Treasurer"}}
    answer = await call(runner, "advisors:uploadAdvisorJSON", {"advisor": file})
    assert answer == {"ok": True, "advisorId": world.private_advisor}
    public = await call(runner, "advisors:getAdvisorById", {"advisorId": world.public_advisor})
    assert public["persona"]["title"] == "CFO"


@pytest.mark.parametrize(
    ("args", "told"),
    [
        ({"jsonString": "{not json"}, "not valid JSON"),
        ({"jsonString": "[1, 2]"}, "Missing or invalid advisor JSON"),
        ({}, "Missing or invalid advisor JSON"),
        ({"jsonString": json.dumps({"persona": {"name": "No Title"}})}, "persona.title"),
        ({"advisor": {"persona": {"name": "A", "title": "B"}, "status": "live"}}, "status"),
        ({"advisor": {"persona": {"name": "A", "title": "B", "bio": "x" * 10_001}}}, "bio"),
        ({"jsonString": json.dumps({"persona": {"name": "A\u0000", "title": "B"}})}, "NUL"),
    ],
)
async def test_a_bad_upload_answers_not_ok_with_the_reason_and_writes_nothing(
    store: Store, runner: Runner, world: World, args: dict[str, Any], told: str
) -> None:
    before = await snapshot(store)
    answer = await call(runner, "advisors:uploadAdvisorJSON", args)
    assert answer["ok"] is False
    assert told in answer["error"]
    assert answer["code"] == "INVALID_ARGUMENT"
    assert "advisorId" not in answer
    assert await snapshot(store) == before


async def test_uploads_count_against_the_custom_advisor_limit(store: Store, world: World) -> None:
    limits = PlanLimits(messages_per_minute=100, generations_per_day=100, custom_advisors=1)
    runner = Runner(store, build_registry(), limits={"free": limits})  # Alice has one already
    before = await snapshot(store)
    new = {"advisor": {"persona": {"name": "Someone New", "title": "CTO"}}}
    answer = await call(runner, "advisors:uploadAdvisorJSON", new)
    assert (answer["ok"], answer["code"]) == (False, "STORAGE_LIMITED")
    assert "at most 1 custom advisors" in answer["error"]
    assert await snapshot(store) == before
    # Replacing her own by name takes no new place.
    same = {"advisor": {"persona": {"name": "Ada Reyes", "title": "CFO", "bio": "Updated."}}}
    assert (await call(runner, "advisors:uploadAdvisorJSON", same))["ok"] is True


# -- administrators' upkeep ----------------------------------------------------------------


async def test_photo_backfill_gives_marketplace_advisors_their_persona_image(
    store: Store, runner: Runner, world: World
) -> None:
    image = "https://img.test/kim.png"
    bare = await _advisor(
        store, {"isPublic": True, "persona": {"name": "Kim", "title": "CTO", "image": image}}
    )
    private = await _advisor(
        store,
        {"isPublic": False, "ownerId": (await call(runner, "users:current", {}, BOB))["_id"]}
        | {"persona": {"name": "Lee", "title": "CTO", "image": image}},
    )
    assert (await refusal(runner, "advisors:backfillAdvisorPhotos", {})).code is Code.FORBIDDEN
    await _make_admin(store, runner)
    tally = await call(runner, "advisors:backfillAdvisorPhotos", {})
    assert tally == {"processed": 2, "updated": 1, "skipped": 1}
    assert (await call(runner, "advisors:getAdvisorById", {"advisorId": bare}))["imageUrl"] == image
    lee = await call(runner, "advisors:getAdvisorById", {"advisorId": private}, BOB)
    assert "imageUrl" not in lee  # a user's own advisor is theirs to change
    again = await call(runner, "advisors:backfillAdvisorPhotos", {})
    assert again == {"processed": 2, "updated": 0, "skipped": 2}


async def test_a_migration_secret_does_not_stand_in_for_the_admin_role(
    store: Store, runner: Runner, world: World
) -> None:
    before = await snapshot(store)
    calls: list[tuple[str, dict[str, Any]]] = [
        ("advisors:backfillAdvisorPhotos", {"secret": "s3cret"}),
        ("advisors:backfillAdvisorPersonaFieldsFromJSON", {"advisors": [], "secret": "s3cret"}),
        ("advisors:enrichAdvisorsFromJSON", {"jsonStrings": ["{}"], "secret": "s3cret"}),
    ]
    for path, args in calls:
        refused = await refusal(runner, path, args, None)
        assert (refused.code, refused.data["field"]) == (Code.INVALID_ARGUMENT, "secret")
        assert "admin role" in refused.message
    assert await snapshot(store) == before


async def test_enrichment_fills_in_what_marketplace_advisors_lack_and_overwrites_nothing(
    store: Store, runner: Runner, world: World
) -> None:
    await _make_admin(store, runner)
    files = [
        {
            "persona": {
                "name": "Ada Reyes",
                "title": "Not the title",
                "bio": "Twenty years in treasury.",
                "image": "https://img.test/ada.png",
                "location": {"city": "Lisbon"},
                "unknownKey": "left out",
            }
        },
        {"persona": {"name": "Nobody Here", "title": "X"}},
    ]
    answer = await call(
        runner, "advisors:enrichAdvisorsFromJSON", {"jsonStrings": [json.dumps(f) for f in files]}
    )
    assert answer == {"ok": True, "result": {"processed": 2, "updated": 1, "skipped": 1}}
    public = await call(runner, "advisors:getAdvisorById", {"advisorId": world.public_advisor})
    assert public["persona"] == {
        "name": "Ada Reyes",
        "title": "CFO",  # kept: only what was missing is filled in
        "bio": "Twenty years in treasury.",
        "image": "https://img.test/ada.png",
        "location": {"city": "Lisbon"},
    }
    assert public["imageUrl"] == "https://img.test/ada.png"
    private = await call(runner, "advisors:getAdvisorById", {"advisorId": world.private_advisor})
    assert "bio" not in private["persona"]  # Alice's own "Ada Reyes" is hers alone
    # The mutation itself, as the original's scripts call it: nothing left to fill in.
    again = await call(
        runner, "advisors:backfillAdvisorPersonaFieldsFromJSON", {"advisors": files[:1]}
    )
    assert again == {"processed": 1, "updated": 0, "skipped": 1}


async def test_enrichment_answers_not_ok_for_bad_files(
    store: Store, runner: Runner, world: World
) -> None:
    await _make_admin(store, runner)
    before = await snapshot(store)
    bad = await call(runner, "advisors:enrichAdvisorsFromJSON", {"jsonStrings": ["{oops"]})
    assert bad["ok"] is False
    assert "not valid JSON" in bad["error"]
    empty = await call(runner, "advisors:enrichAdvisorsFromJSON", {})
    assert empty == {"ok": False, "error": "No advisors provided.", "code": "INVALID_ARGUMENT"}
    assert await snapshot(store) == before


# -- what the original served to anyone -------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "args", "replaced_by"),
    [
        ("advisors:create", {"persona": {}}, "advisor-chat import"),
        ("advisors:list", {}, "advisors:getAllAdvisors"),
        ("advisors:backfillAdvisorPersonas", {}, "nothing to backfill"),
    ],
)
async def test_the_originals_open_migration_functions_are_retired_with_the_reason(
    store: Store, runner: Runner, world: World, path: str, args: dict[str, Any], replaced_by: str
) -> None:
    before = await snapshot(store)
    for who in (None, ALICE):
        refused = await refusal(runner, path, args, who)
        assert (refused.code, refused.data["retired"]) == (Code.NOT_FOUND, True)
        assert replaced_by in refused.message
    assert await snapshot(store) == before
