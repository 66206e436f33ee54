"""Per-plan storage limits: past a count or a value size, a write answers STORAGE_LIMITED
naming the limit and writes nothing; concurrent creates cannot take the same last place;
the chat engine's own memories stop at the limit and its summaries make room."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from pydantic import ValidationError

from advisor_chat.errors import Code, FunctionError
from advisor_chat.functions.catalog import build_registry
from advisor_chat.functions.plans import PlanLimits, limits_from
from advisor_chat.functions.runner import Runner
from advisor_chat.settings import Settings
from advisor_chat.store import Store
from tests.functions.world import ALICE, BOB, World, build_world, snapshot

LIMITS = PlanLimits(
    messages_per_minute=1_000,
    generations_per_day=1_000,
    conversations=3,  # the world gave Alice one
    custom_advisors=2,  # and one private advisor
    memories_per_conversation=3,  # and one memory in her conversation
    summaries_per_conversation=2,  # and one summary
    value_bytes=2_000,
)


@pytest.fixture
def runner(store: Store) -> Runner:
    return Runner(store, build_registry(), limits={"free": LIMITS})


@pytest.fixture
async def world(store: Store, runner: Runner) -> World:
    return await build_world(store, runner)


async def _refused(runner: Runner, path: str, args: dict[str, Any], **kw: Any) -> FunctionError:
    with pytest.raises(FunctionError) as caught:
        await runner.call(path, args, ALICE, **kw)
    assert caught.value.code is Code.STORAGE_LIMITED, caught.value
    return caught.value


PERSONA = {"name": "Noor Haddad", "title": "Growth advisor"}


async def test_conversations_stop_at_the_plan_limit_and_free_up_on_delete(
    store: Store, runner: Runner, world: World
) -> None:
    made = [(await runner.call("conversations:createConversation", {}, ALICE)).value]
    made.append((await runner.call("conversations:createConversation", {}, ALICE)).value)
    before = await snapshot(store)
    error = await _refused(runner, "conversations:createConversation", {"title": "Fourth"})
    assert error.data == {"limit": "conversations", "max": 3}
    assert "at most 3 conversations" in error.message
    team = {"teamId": "startup-board"}
    assert (await _refused(runner, "teams:createFromTemplate", team)).data["limit"] == (
        "conversations"
    )
    assert await snapshot(store) == before
    # Another user's count is their own.
    assert (await runner.call("conversations:createConversation", {}, BOB)).value
    await runner.call("conversations:deleteConversation", {"conversationId": made[0]}, ALICE)
    assert (await runner.call("teams:createFromTemplate", team, ALICE)).value


async def test_concurrent_creates_cannot_take_the_same_last_place(
    store: Store, runner: Runner, world: World
) -> None:
    results = await asyncio.gather(
        *(runner.call("conversations:createConversation", {}, ALICE) for _ in range(6)),
        return_exceptions=True,
    )
    made = [r for r in results if not isinstance(r, BaseException)]
    refused = [r for r in results if isinstance(r, FunctionError)]
    assert len(made) == 2
    assert len(refused) == 4
    assert all(r.code is Code.STORAGE_LIMITED for r in refused)
    conversations = (await snapshot(store))["conversations"]
    assert len(conversations) == 3  # all Alice's: the world's and the two made


async def test_custom_advisors_stop_at_the_plan_limit_however_they_are_made(
    store: Store, runner: Runner, world: World
) -> None:
    await runner.call("advisors:createAdvisor", {"persona": PERSONA}, ALICE)
    before = await snapshot(store)
    error = await _refused(runner, "advisors:createAdvisor", {"persona": PERSONA})
    assert error.data == {"limit": "customAdvisors", "max": 2}
    # Another name: a file naming one of hers replaces that one, taking no new place.
    upload = {"advisor": {"persona": PERSONA | {"name": "Sami Ortiz"}}}
    error = await _refused(runner, "advisors:createAdvisorFromJSON", upload)
    assert error.data["limit"] == "customAdvisors"
    assert await snapshot(store) == before
    await runner.call("advisors:deleteAdvisor", {"advisorId": world.private_advisor}, ALICE)
    assert (await runner.call("advisors:createAdvisorFromJSON", upload, ALICE)).value


async def test_memories_stop_at_the_plan_limit_but_known_keys_still_change(
    store: Store, runner: Runner, world: World
) -> None:
    scope = {"conversationId": world.conversation, "advisorId": world.public_advisor}

    async def remember(facts: dict[str, str]) -> int:
        saved = await runner.call(
            "chat:saveMemories", scope | {"facts": facts}, ALICE, internal=True
        )
        return int(saved.value)

    assert await remember({"cofounder": "Sam"}) == 1  # the world's "runway" and this one
    await runner.call("advisorMemories:setMemory", scope | {"key": "budget", "value": 1}, ALICE)
    before = await snapshot(store)
    error = await _refused(
        runner, "advisorMemories:setMemory", scope | {"key": "hires", "value": 3}
    )
    assert error.data == {"limit": "memories", "max": 3}
    assert await snapshot(store) == before
    await runner.call("advisorMemories:setMemory", scope | {"key": "budget", "value": 9}, ALICE)

    # The advisors' own memories stop there too: known keys change, new ones are let go.
    assert await remember({"cofounder": "Sam and Lee", "market": "EU"}) == 1
    memories = {m["key"]: m["value"] for m in (await snapshot(store))["advisorMemories"]}
    assert memories == {"runway": 14, "cofounder": "Sam and Lee", "budget": 9}


async def test_summaries_users_write_stop_and_the_engines_make_room(
    store: Store, runner: Runner, world: World
) -> None:
    conversation = {"conversationId": world.conversation}
    await runner.call("threadSummaries:createSummary", conversation | {"content": "Two"}, ALICE)
    before = await snapshot(store)
    error = await _refused(runner, "threadSummaries:createSummary", conversation | {"content": "3"})
    assert error.data == {"limit": "summaries", "max": 2}
    assert await snapshot(store) == before

    oldest = min(before["threadSummaries"], key=lambda s: s["_creationTime"])
    span = {"startMessageId": world.message, "endMessageId": world.answer}
    saved = await runner.call(
        "chat:saveSummary", conversation | span | {"content": "All so far"}, ALICE, internal=True
    )
    summaries = (await snapshot(store))["threadSummaries"]
    assert len(summaries) == 2
    assert oldest["_id"] not in {s["_id"] for s in summaries}
    assert saved.value in {s["_id"] for s in summaries}


async def test_a_value_larger_than_the_plan_stores_is_refused_naming_its_field(
    store: Store, runner: Runner, world: World
) -> None:
    before = await snapshot(store)
    send = {"conversationId": world.conversation}
    # 600 characters of four bytes each: within the message's character limit, over the
    # plan's 2,000 bytes.
    error = await _refused(runner, "messages:sendMessage", send | {"content": "😀" * 600})
    assert error.data == {"limit": "valueBytes", "max": 2_000, "field": "content", "bytes": 2_400}
    scope = {"conversationId": world.conversation, "advisorId": world.public_advisor}
    big = {"notes": ["x" * 100] * 25}
    error = await _refused(runner, "advisorMemories:setMemory", scope | {"key": "k", "value": big})
    assert (error.data["field"], error.data["limit"]) == ("value", "valueBytes")
    persona = PERSONA | {"detailedBackground": "b" * 2_100}
    update = {"advisorId": world.private_advisor, "persona": persona}
    assert (await _refused(runner, "advisors:updateAdvisor", update)).data["field"] == "persona"
    summary = {"summaryId": world.summary, "content": "s" * 2_001}
    assert (await _refused(runner, "threadSummaries:updateSummary", summary)).data["bytes"] == 2_001
    edit = {"messageId": world.message, "content": "e" * 2_001}
    assert (await _refused(runner, "messages:updateMessage", edit)).data["field"] == "content"
    assert await snapshot(store) == before
    # At the limit exactly is stored.
    assert (await runner.call("messages:sendMessage", send | {"content": "a" * 2_000}, ALICE)).value


def test_storage_limits_are_configured_beside_the_quotas() -> None:
    limits = limits_from({"free": {"conversations": 7, "valueBytes": 4096}})
    assert (limits["free"].conversations, limits["free"].value_bytes) == (7, 4096)
    assert limits["free"].messages_per_minute == 20  # the rest stay the defaults
    with pytest.raises(ValueError, match="unknown limit 'conversation'"):
        limits_from({"free": {"conversation": 7}})
    with pytest.raises(ValidationError, match="at least 0"):
        Settings(quotas={"pro": {"customAdvisors": -1}})
