"""The original app's advisorMemories and threadSummaries functions, called with its
argument names: its listing names, `limit`, summary lookups, stats and clearing."""

from __future__ import annotations

import pytest

from advisor_chat.errors import Code
from advisor_chat.functions.runner import Runner
from advisor_chat.store import Store, Transaction
from tests.functions.calls import call, refusal
from tests.functions.world import ALICE, BOB, World, snapshot


async def test_conversation_memories_under_the_originals_name(runner: Runner, world: World) -> None:
    scope = {"conversationId": world.conversation}
    await call(
        runner,
        "advisorMemories:setMemory",
        scope | {"advisorId": world.private_advisor, "key": "goal", "value": "IPO"},
    )
    everything = await call(runner, "advisorMemories:getConversationMemories", scope)
    assert {(m["key"], m["value"]) for m in everything} == {("runway", 14), ("goal", "IPO")}
    assert everything == await call(runner, "advisorMemories:list", scope)
    one_advisor = await call(
        runner,
        "advisorMemories:getConversationMemories",
        scope | {"advisorId": world.private_advisor},
    )
    assert [m["key"] for m in one_advisor] == ["goal"]
    cleared = await call(
        runner,
        "advisorMemories:clearAdvisorMemories",
        scope | {"advisorId": world.private_advisor},
    )
    assert cleared == 1
    assert [m["key"] for m in await call(runner, "advisorMemories:list", scope)] == ["runway"]


async def test_the_originals_argumentless_memory_list_is_refused_naming_the_argument(
    store: Store, runner: Runner, world: World
) -> None:
    """Its `list` gave anyone every memory; ours (same name, first) lists one conversation's."""
    refused = await refusal(runner, "advisorMemories:list", {})
    assert (refused.code, refused.data["field"]) == (Code.INVALID_ARGUMENT, "conversationId")


async def _summaries(store: Store, world: World, contents: list[str]) -> None:
    async def insert(tx: Transaction) -> None:
        for n, content in enumerate(contents):
            doc = {"conversationId": world.conversation, "content": content, "createdAt": 10 + n}
            await tx.insert("threadSummaries", doc)

    await store.mutation(insert)


async def test_a_limit_asks_for_the_newest_first_as_the_original_answered(
    store: Store, runner: Runner, world: World
) -> None:
    await _summaries(store, world, [f"s{n}" for n in range(60)])
    scope = {"conversationId": world.conversation}
    newest = await call(runner, "threadSummaries:getConversationSummaries", scope | {"limit": 3})
    assert [s["content"] for s in newest] == ["s59", "s58", "s57"]
    default = await call(runner, "threadSummaries:getConversationSummaries", scope | {"limit": 0})
    assert len(default) == 50  # its `limit || 50`
    assert default[0]["content"] == "s59"
    ours = await call(runner, "threadSummaries:getConversationSummaries", scope)
    assert [s["content"] for s in ours[-2:]] == ["s58", "s59"]  # without: oldest first
    refused = await refusal(
        runner, "threadSummaries:getConversationSummaries", scope | {"limit": 500}
    )
    assert (refused.code, refused.data["field"]) == (Code.INVALID_ARGUMENT, "limit")
    assert "at most 100" in refused.message


async def test_a_summary_by_id_and_its_update_with_the_originals_arguments(
    runner: Runner, world: World
) -> None:
    summary = await call(runner, "threadSummaries:getSummaryById", {"summaryId": world.summary})
    assert summary["content"] == "Alice said hello."
    missing = await refusal(
        runner, "threadSummaries:getSummaryById", {"summaryId": world.summary}, BOB
    )
    assert missing.code is Code.NOT_FOUND
    answer = await call(
        runner,
        "threadSummaries:updateSummary",
        {"summaryId": world.summary, "endMessageId": world.answer},
    )
    assert answer is None  # as the original
    summary = await call(runner, "threadSummaries:getSummaryById", {"summaryId": world.summary})
    assert (summary["content"], summary["endMessageId"]) == ("Alice said hello.", world.answer)
    # A span must name messages of the summary's own conversation.
    other = await call(runner, "conversations:createConversation", {})
    elsewhere = await call(
        runner, "messages:sendMessage", {"conversationId": other, "content": "Elsewhere"}
    )
    refused = await refusal(
        runner,
        "threadSummaries:updateSummary",
        {"summaryId": world.summary, "startMessageId": elsewhere},
    )
    assert refused.code is Code.NOT_FOUND


async def test_summary_stats_and_clearing(store: Store, runner: Runner, world: World) -> None:
    await _summaries(store, world, ["Runway: 14 months 🚀"])
    scope = {"conversationId": world.conversation}
    stats = await call(runner, "threadSummaries:getSummaryStats", scope)
    worlds = await call(runner, "threadSummaries:getSummaryById", {"summaryId": world.summary})
    assert stats["totalSummaries"] == 2
    # As the original counted: JavaScript string length, the emoji two code units.
    assert stats["totalCharacters"] == len("Alice said hello.") + len("Runway: 14 months ") + 2
    assert (stats["firstSummaryAt"], stats["lastSummaryAt"]) == (10, worlds["createdAt"])
    before = await snapshot(store)
    refused = await refusal(runner, "threadSummaries:clearConversationSummaries", scope, BOB)
    assert refused.code is Code.NOT_FOUND
    assert await snapshot(store) == before
    assert await call(runner, "threadSummaries:clearConversationSummaries", scope) == 2
    assert await call(runner, "threadSummaries:getSummaryStats", scope) == {
        "totalSummaries": 0,
        "totalCharacters": 0,
        "firstSummaryAt": None,
        "lastSummaryAt": None,
    }


@pytest.mark.parametrize(
    ("path", "replaced_by"),
    [
        ("advisorMemories:create", "advisor-chat import"),
        ("threadSummaries:create", "advisor-chat import"),
        ("threadSummaries:list", "getConversationSummaries"),
    ],
)
async def test_the_originals_open_migration_functions_are_retired_with_the_reason(
    store: Store, runner: Runner, world: World, path: str, replaced_by: str
) -> None:
    before = await snapshot(store)
    for who in (None, ALICE):
        refused = await refusal(runner, path, {"conversationId": world.conversation}, who)
        assert (refused.code, refused.data["retired"]) == (Code.NOT_FOUND, True)
        assert replaced_by in refused.message
    assert await snapshot(store) == before
