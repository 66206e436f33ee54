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


async def _memories(runner: Runner, world: World) -> dict[str, object]:
    listed = (
        await runner.call("advisorMemories:list", {"conversationId": world.conversation}, ALICE)
    ).value
    return {m["key"]: m["value"] for m in listed}


async def test_update_memory_renames_in_place(runner: Runner, world: World) -> None:
    """A rename keeps the memory (its id, its value unless a new one is given) and leaves
    no copy under the old name; a value edit alone keeps the name."""
    before = await _memories(runner, world)
    renamed = (
        await runner.call(
            "advisorMemories:updateMemory", {"memoryId": world.memory, "key": "cash"}, ALICE
        )
    ).value
    assert renamed == world.memory
    assert await _memories(runner, world) == {"cash": before["runway"]}
    await runner.call(
        "advisorMemories:updateMemory",
        {"memoryId": world.memory, "key": "cash runway", "value": "14 months"},
        ALICE,
    )
    await runner.call(
        "advisorMemories:updateMemory", {"memoryId": world.memory, "value": "15 months"}, ALICE
    )
    assert await _memories(runner, world) == {"cash runway": "15 months"}
    updated = (
        await runner.call(
            "advisorMemories:getMemoryByKey",
            {
                "conversationId": world.conversation,
                "advisorId": world.public_advisor,
                "key": "cash runway",
            },
            ALICE,
        )
    ).value
    assert updated["_id"] == world.memory
    assert updated["setBy"] == "user"  # edited by the user: an advisor no longer overwrites it


@pytest.mark.parametrize(
    ("args", "code"),
    [
        ({"key": "goal"}, Code.CONFLICT),  # another memory's name
        ({"key": "   "}, Code.INVALID_ARGUMENT),
        ({}, Code.INVALID_ARGUMENT),
    ],
)
async def test_update_memory_refusals_change_nothing(
    runner: Runner, world: World, args: dict[str, str], code: Code
) -> None:
    await runner.call(
        "advisorMemories:setMemory",
        {
            "conversationId": world.conversation,
            "advisorId": world.public_advisor,
            "key": "goal",
            "value": "IPO",
        },
        ALICE,
    )
    before = await _memories(runner, world)
    with pytest.raises(FunctionError) as refused:
        await runner.call("advisorMemories:updateMemory", {"memoryId": world.memory} | args, ALICE)
    assert refused.value.code == code
    assert refused.value.data.get("field") == "key"
    assert await _memories(runner, world) == before


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
