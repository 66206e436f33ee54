"""advisors, marketplace and teams: what a user does to build their board."""

from __future__ import annotations

import json

import pytest

from advisor_chat.errors import Code, FunctionError
from advisor_chat.functions.runner import Runner
from advisor_chat.importers.marketplace import shipped_content
from advisor_chat.store import Store
from tests.functions.world import ALICE, BOB, World, snapshot


async def test_own_advisors_are_private_until_published(runner: Runner, world: World) -> None:
    created = (
        await runner.call(
            "advisors:createAdvisor",
            {
                "persona": {"name": "Bo Lind", "title": "CMO"},
                "tags": ["growth"],
                "category": "marketing",
            },
            BOB,
        )
    ).value
    bobs = (await runner.call("advisors:getActiveAdvisors", {}, BOB)).value
    alices = (await runner.call("advisors:getActiveAdvisors", {}, ALICE)).value
    assert created in {a["_id"] for a in bobs}
    assert created not in {a["_id"] for a in alices}
    assert world.private_advisor in {a["_id"] for a in alices}
    tagged = (
        await runner.call("advisors:getAdvisorsByTags", {"tags": ["growth", "finance"]}, BOB)
    ).value
    assert {a["_id"] for a in tagged} == {created, world.public_advisor}
    await runner.call("advisors:archiveAdvisor", {"advisorId": created}, BOB)
    assert created not in {
        a["_id"] for a in (await runner.call("advisors:getActiveAdvisors", {}, BOB)).value
    }


async def test_an_advisor_file_becomes_a_private_advisor(runner: Runner, world: World) -> None:
    shipped = json.loads(next((shipped_content() / "advisors").glob("*.json")).read_text())
    created = (
        await runner.call("advisors:createAdvisorFromJSON", {"advisor": shipped | {"x": 1}}, BOB)
    ).value
    mine = (await runner.call("advisors:getAdvisorById", {"advisorId": created}, BOB)).value
    assert mine["persona"] == shipped["persona"]
    assert mine["roleDefinition"] == shipped["roleDefinition"]
    assert mine["isPublic"] is False
    assert "legacyId" not in mine
    assert mine["extensions"] == {"x": 1, "advisorId": shipped["advisorId"]}
    with pytest.raises(FunctionError) as caught:
        await runner.call("advisors:getAdvisorById", {"advisorId": created}, ALICE)
    assert caught.value.code is Code.NOT_FOUND


@pytest.mark.parametrize(
    ("advisor", "named"),
    [
        ({"persona": {"name": "No Title"}}, "persona.title"),
        ({"status": "live", "persona": {"name": "A", "title": "B"}}, "status"),
        ({"persona": {"name": "A", "title": "B"}, "tags": "x"}, "advisors.tags"),
        ({"persona": {"name": "A", "title": "B", "bio": "x" * 10_001}}, "persona.bio"),
        ({"persona": {"name": "A", "title": "B"}, "x": {"y": "x" * 10_001}}, "advisor.x.y"),
        (
            {
                "persona": {"name": "A", "title": "B"},
                "x": {f"k{i}": "x" * 9_000 for i in range(30)},
            },
            "larger than",
        ),
    ],
)
async def test_a_bad_advisor_file_is_refused_naming_the_field(
    store: Store, runner: Runner, world: World, advisor: dict[str, object], named: str
) -> None:
    before = await snapshot(store)
    with pytest.raises(FunctionError) as caught:
        await runner.call("advisors:createAdvisorFromJSON", {"advisor": advisor}, ALICE)
    assert caught.value.code is Code.INVALID_ARGUMENT
    assert named in caught.value.message
    assert await snapshot(store) == before


async def test_oversized_persona_is_refused(store: Store, runner: Runner, world: World) -> None:
    before = await snapshot(store)
    # Every field within its own limit, together over the advisor's byte limit.
    lists = (
        "specialties",
        "personalInterests",
        "personality",
        "expertise",
        "coreBeliefsOrPrinciples",
    )
    persona: dict[str, object] = {"name": "Big", "title": "T"}
    persona |= {name: ["x" * 1_000] * 50 for name in lists}
    persona |= {name: "x" * 10_000 for name in ("bio", "detailedBackground", "description")}
    with pytest.raises(FunctionError) as caught:
        await runner.call("advisors:createAdvisor", {"persona": persona}, ALICE)
    assert caught.value.code is Code.INVALID_ARGUMENT
    assert caught.value.data["field"] == "persona"
    assert await snapshot(store) == before


async def test_select_unselect_and_team_selection(
    store: Store, runner: Runner, world: World
) -> None:
    first = (
        await runner.call("marketplace:selectAdvisor", {"advisorId": world.public_advisor}, BOB)
    ).value
    again = (
        await runner.call("marketplace:selectAdvisor", {"advisorId": world.public_advisor}, BOB)
    ).value
    assert first == again  # one row per (user, advisor)
    added = (await runner.call("marketplace:selectTeam", {"teamId": "startup-board"}, BOB)).value
    assert added == []  # its only advisor was already selected
    board = (await runner.call("marketplace:getUserSelectedAdvisors", {}, BOB)).value
    assert [(a["_id"], a["selection"]["source"]) for a in board] == [
        (world.public_advisor, "marketplace")
    ]
    assert (
        await runner.call("marketplace:unselectAdvisor", {"advisorId": world.public_advisor}, BOB)
    ).value
    assert not (
        await runner.call("marketplace:unselectAdvisor", {"advisorId": world.public_advisor}, BOB)
    ).value
    added = (await runner.call("marketplace:selectTeam", {"teamId": "startup-board"}, BOB)).value
    assert len(added) == 1
    board = (await runner.call("marketplace:getUserSelectedAdvisors", {}, BOB)).value
    assert board[0]["selection"] == board[0]["selection"] | {
        "source": "team",
        "teamId": "startup-board",
    }
    with pytest.raises(FunctionError) as caught:
        await runner.call("marketplace:selectTeam", {"teamId": "no-such-team"}, BOB)
    assert caught.value.code is Code.NOT_FOUND


async def test_an_archived_advisor_is_not_seated_until_restored(
    store: Store, runner: Runner, world: World
) -> None:
    advisor = {"advisorId": world.private_advisor}
    await runner.call("advisors:archiveAdvisor", advisor, ALICE)
    before = await snapshot(store)
    with pytest.raises(FunctionError) as caught:
        await runner.call("marketplace:selectAdvisor", advisor, ALICE)
    assert (caught.value.code, caught.value.data["field"]) == (Code.INVALID_ARGUMENT, "advisorId")
    assert "restore it" in caught.value.message
    assert await snapshot(store) == before
    await runner.call("advisors:updateAdvisor", advisor | {"status": "active"}, ALICE)
    await runner.call("marketplace:selectAdvisor", advisor, ALICE)
    board = (await runner.call("marketplace:getUserSelectedAdvisors", {}, ALICE)).value
    assert world.private_advisor in [a["_id"] for a in board]


async def test_an_edit_started_before_another_is_refused_not_lost(
    store: Store, runner: Runner, world: World
) -> None:
    """Two tabs open the same advisor; the first saves; the second's save, started from
    the older version, is CONFLICT and changes nothing, telling the version it missed."""

    async def current() -> dict[str, object]:
        advisors = (await runner.call("advisors:getAllAdvisors", {}, ALICE)).value
        return next(a for a in advisors if a["_id"] == world.private_advisor)

    opened = (await current())["updatedAt"]
    first = {"advisorId": world.private_advisor, "expectedUpdatedAt": opened}
    await runner.call("advisors:updateAdvisor", first | {"category": "finance"}, ALICE)
    saved = await current()
    assert saved["category"] == "finance"
    before = await snapshot(store)
    with pytest.raises(FunctionError) as caught:
        await runner.call("advisors:updateAdvisor", first | {"category": "legal"}, ALICE)
    assert caught.value.code is Code.CONFLICT
    assert caught.value.data == {"field": "expectedUpdatedAt", "updatedAt": saved["updatedAt"]}
    assert await snapshot(store) == before
    # Saving over it, knowingly: from the version it was told of.
    again = first | {"expectedUpdatedAt": saved["updatedAt"], "category": "legal"}
    await runner.call("advisors:updateAdvisor", again, ALICE)
    assert (await current())["category"] == "legal"


async def test_marketplace_browsing_and_stats(runner: Runner, world: World) -> None:
    listed = (await runner.call("marketplace:getMarketplaceAdvisors", {}, BOB)).value
    assert [a["_id"] for a in listed["page"]] == [world.public_advisor]
    assert listed["isDone"]
    stats = (await runner.call("marketplace:getMarketplaceStats", {}, BOB)).value
    assert stats["totalAdvisors"] == 1
    assert stats["featuredAdvisors"] == 0


async def test_create_from_template_opens_a_conversation_with_the_team(
    runner: Runner, world: World
) -> None:
    templates = (await runner.call("teams:getTeamTemplates", {"featured": True}, BOB)).value
    assert [t["id"] for t in templates] == ["startup-board"]
    conversation_id = (
        await runner.call("teams:createFromTemplate", {"teamId": "startup-board"}, BOB)
    ).value
    conversation = (
        await runner.call(
            "conversations:getConversationById", {"conversationId": conversation_id}, BOB
        )
    ).value
    assert conversation["title"] == "Startup board"
    assert conversation["advisorIds"] == [world.public_advisor]
    board = (await runner.call("marketplace:getUserSelectedAdvisors", {}, BOB)).value
    assert [a["_id"] for a in board] == [world.public_advisor]


async def test_deleting_an_own_advisor_takes_it_off_the_callers_boards(
    runner: Runner, world: World
) -> None:
    mine = (
        await runner.call(
            "advisors:createAdvisor", {"persona": {"name": "Temp", "title": "Coach"}}, BOB
        )
    ).value
    board = [mine, world.public_advisor]
    conversation = (
        await runner.call("conversations:createConversation", {"advisorIds": board}, BOB)
    ).value
    await runner.call(
        "conversations:updateConversation",
        {"conversationId": conversation, "activeAdvisorId": mine},
        BOB,
    )
    await runner.call("advisors:deleteAdvisor", {"advisorId": mine}, BOB)
    after = (
        await runner.call(
            "conversations:getConversationById", {"conversationId": conversation}, BOB
        )
    ).value
    assert after["advisorIds"] == [world.public_advisor]
    assert "activeAdvisorId" not in after
    with pytest.raises(FunctionError) as caught:
        await runner.call("advisors:getAdvisorById", {"advisorId": mine}, BOB)
    assert caught.value.code is Code.NOT_FOUND
