"""advisorMemories and threadSummaries: upsert by key, listing, clearing, summaries."""

from __future__ import annotations

import pytest

from advisor_chat.errors import Code, FunctionError
from advisor_chat.functions.runner import Runner
from advisor_chat.functions.summaries import LISTED
from advisor_chat.store import Store, Transaction
from tests.functions.world import ALICE, World


async def test_set_memory_upserts_by_key(runner: Runner, world: World) -> None:
    keyed = {
        "conversationId": world.conversation,
        "advisorId": world.public_advisor,
        "key": "runway",
    }
    again = (
        await runner.call("advisorMemories:setMemory", keyed | {"value": {"months": 9}}, ALICE)
    ).value
    assert again == world.memory  # the same row, updated
    found = (await runner.call("advisorMemories:getMemoryByKey", keyed, ALICE)).value
    assert found["value"] == {"months": 9}
    await runner.call(
        "advisorMemories:setMemory",
        keyed | {"key": "goal", "advisorId": world.private_advisor, "value": "IPO"},
        ALICE,
    )
    everything = (
        await runner.call("advisorMemories:list", {"conversationId": world.conversation}, ALICE)
    ).value
    assert sorted(m["key"] for m in everything) == ["goal", "runway"]
    public_only = (
        await runner.call(
            "advisorMemories:list",
            {"conversationId": world.conversation, "advisorId": world.public_advisor},
            ALICE,
        )
    ).value
    assert [m["key"] for m in public_only] == ["runway"]
    cleared = (
        await runner.call(
            "advisorMemories:clearAdvisorMemories",
            {"conversationId": world.conversation, "advisorId": world.public_advisor},
            ALICE,
        )
    ).value
    assert cleared == 1
    left = (
        await runner.call("advisorMemories:list", {"conversationId": world.conversation}, ALICE)
    ).value
    assert [m["key"] for m in left] == ["goal"]


async def test_summaries_list_and_delete(runner: Runner, world: World) -> None:
    await runner.call(
        "threadSummaries:createThreadSummary",
        {"conversationId": world.conversation, "content": "Later."},
        ALICE,
    )
    summaries = (
        await runner.call(
            "threadSummaries:getConversationSummaries",
            {"conversationId": world.conversation},
            ALICE,
        )
    ).value
    assert [s["content"] for s in summaries] == ["Alice said hello.", "Later."]
    assert summaries[0]["startMessageId"] == world.message
    await runner.call("threadSummaries:deleteSummary", {"summaryId": world.summary}, ALICE)
    summaries = (
        await runner.call(
            "threadSummaries:getConversationSummaries",
            {"conversationId": world.conversation},
            ALICE,
        )
    ).value
    assert [s["content"] for s in summaries] == ["Later."]


async def test_a_summary_must_cover_messages_of_its_own_conversation(
    runner: Runner, world: World
) -> None:
    other = (await runner.call("conversations:createConversation", {}, ALICE)).value
    with pytest.raises(FunctionError) as caught:
        await runner.call(
            "threadSummaries:createSummary",
            {"conversationId": other, "content": "x", "startMessageId": world.message},
            ALICE,
        )
    assert caught.value.code is Code.NOT_FOUND


async def test_a_long_thread_lists_its_newest_summaries_oldest_first(
    store: Store, runner: Runner, world: World
) -> None:
    async def many(tx: Transaction) -> None:
        for n in range(LISTED + 5):
            doc = {"conversationId": world.conversation, "content": f"s{n}", "createdAt": n}
            await tx.insert("threadSummaries", doc)

    await store.mutation(many)
    args = {"conversationId": world.conversation}
    listed = (await runner.call("threadSummaries:getConversationSummaries", args, ALICE)).value
    assert [s["content"] for s in listed] == [f"s{n}" for n in range(5, LISTED + 5)]
