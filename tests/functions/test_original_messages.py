"""messages: the original app's calls, argument for argument, answer what its client reads
(src/lib/convex-chat.ts reads `_id`, `sender`, `content`, `advisorId`, `createdAt`,
`tokensUsed`; convex-api.ts `transformMessageForClient` also `mentions` and `advisor`),
and what it may write never reaches past the caller's own conversation or our checks."""

from __future__ import annotations

from typing import Any

import pytest

from advisor_chat.errors import Code
from advisor_chat.functions.messages import LISTED, STATS_SCAN
from advisor_chat.functions.runner import Runner
from advisor_chat.schema import limits
from advisor_chat.store import Store
from tests.functions.calls import call, refusal
from tests.functions.world import ALICE, BOB, World, add_messages, snapshot

ADA = {"name": "Ada Reyes", "title": "CFO"}


async def _messages(store: Store, conversation: str) -> list[dict[str, Any]]:
    rows = (await snapshot(store))["messages"]
    return [m for m in rows if m["conversationId"] == conversation]


async def _insert_many(store: Store, conversation: str, count: int) -> None:
    await store.mutation(lambda tx: add_messages(tx, conversation, count, tokensUsed=2))


async def test_the_list_without_pagination_opts_is_the_originals_array(
    store: Store, runner: Runner, world: World
) -> None:
    listed = await call(
        runner, "messages:getConversationMessages", {"conversationId": world.conversation}
    )
    stored = {m["_id"]: m for m in await _messages(store, world.conversation)}
    hello, answer = listed
    for message in listed:  # each as stored, with its advisor
        assert {k: message[k] for k in stored[message["_id"]]} == stored[message["_id"]]
    assert (hello["_id"], hello["sender"], hello["content"]) == (world.message, "user", "Hello")
    assert hello["advisor"] is None
    assert "advisorId" not in hello
    assert hello["mentions"] == []
    assert (answer["_id"], answer["sender"], answer["advisorId"]) == (
        world.answer,
        "advisor",
        world.public_advisor,
    )
    assert answer["content"] == "Keep 18 months of runway."
    assert answer["advisor"] == {"_id": world.public_advisor, **ADA}
    assert hello["createdAt"] <= answer["createdAt"]


async def test_limit_gives_the_latest_messages_oldest_first(
    store: Store, runner: Runner, world: World
) -> None:
    await _insert_many(store, world.conversation, LISTED + 5)
    args = {"conversationId": world.conversation}
    default = await call(runner, "messages:getConversationMessages", args)
    assert [m["content"] for m in default] == [f"m{n}" for n in range(5, LISTED + 5)]
    three = await call(runner, "messages:getConversationMessages", args | {"limit": 3})
    assert [m["content"] for m in three] == [f"m{n}" for n in range(LISTED + 2, LISTED + 5)]
    newest = await call(
        runner, "messages:getConversationMessages", args | {"limit": 2, "order": "desc"}
    )
    assert [m["content"] for m in newest] == [f"m{LISTED + 4}", f"m{LISTED + 3}"]
    page = args | {"paginationOpts": {"numItems": 2, "cursor": None}}
    assert [
        m["content"] for m in (await call(runner, "messages:getConversationMessages", page))["page"]
    ] == ["Hello", "Keep 18 months of runway."]
    for bad in ({"limit": 0}, {"limit": 501}, {"limit": 3, **page}):
        error = await refusal(runner, "messages:getConversationMessages", args | bad)
        assert (error.code, error.data["field"]) == (Code.INVALID_ARGUMENT, "limit")


async def test_send_as_the_original_client_does_is_our_send(
    store: Store, runner: Runner, world: World
) -> None:
    """sender "user", a null contentJson, no mentions, tokensUsed 0: stored, counted, and
    the active advisor's answer scheduled, exactly as our own sendMessage."""
    sent = await call(
        runner,
        "messages:sendMessage",
        {
            "conversationId": world.conversation,
            "sender": "user",
            "content": "How long is our runway?",
            "contentJson": None,
            "mentions": [],
            "tokensUsed": 0,
        },
    )
    [message] = [m for m in await _messages(store, world.conversation) if m["_id"] == sent]
    assert (message["sender"], message["content"], message["mentions"]) == (
        "user",
        "How long is our runway?",
        [],
    )
    assert message["tokensUsed"] == 0
    assert "contentJson" not in message
    rounds = [c for c in (await snapshot(store))["scheduledFunctions"] if c["name"] == "chat:round"]
    assert message["roundId"] in {c["_id"] for c in rounds}
    [this_round] = [c for c in rounds if c["_id"] == message["roundId"]]
    assert this_round["args"]["advisorIds"] == [world.public_advisor]
    listed = await call(
        runner, "messages:getConversationMessages", {"conversationId": world.conversation}
    )
    assert listed[-1]["_id"] == sent


async def test_content_json_is_stored_and_bounded(
    store: Store, runner: Runner, world: World
) -> None:
    base = {"conversationId": world.conversation, "content": "see table"}
    table = {"rows": [["runway", 14]], "unit": "months"}
    sent = await call(runner, "messages:sendMessage", base | {"contentJson": table})
    [message] = [m for m in await _messages(store, world.conversation) if m["_id"] == sent]
    assert message["contentJson"] == table
    before = await snapshot(store)
    for bad in (
        {"contentJson": {"text": "x" * (limits.TEXT + 1)}},
        {"contentJson": list(range(limits.ITEMS + 1))},
        {"tokensUsed": -1},
        {"tokensUsed": 10_000_001},
    ):
        error = await refusal(runner, "messages:sendMessage", base | bad)
        assert error.code is Code.INVALID_ARGUMENT
        assert error.data["field"].split(".")[0].split("[")[0] == next(iter(bad))
    assert await snapshot(store) == before


async def test_an_advisor_message_from_the_client_is_stored_and_asks_no_one(
    store: Store, runner: Runner, world: World
) -> None:
    before = await snapshot(store)
    sent = await call(
        runner,
        "messages:sendMessage",
        {
            "conversationId": world.conversation,
            "sender": "advisor",
            "advisorId": world.public_advisor,
            "content": "Eighteen months, if you cut travel.",
            "mentions": [world.private_advisor, "someone-else"],
            "tokensUsed": 42,
        },
    )
    after = await snapshot(store)
    [message] = [m for m in after["messages"] if m["_id"] == sent]
    assert (message["sender"], message["advisorId"], message["status"]) == (
        "advisor",
        world.public_advisor,
        "complete",
    )
    assert message["tokensUsed"] == 42
    assert message["mentions"] == [world.private_advisor]  # only advisors on the board
    assert "roundId" not in message
    assert after["scheduledFunctions"] == before["scheduledFunctions"]  # no answer asked
    used = {r["bucket"]: r["count"] for r in after["rateLimits"]}
    assert (
        used["messages"] == {r["bucket"]: r["count"] for r in before["rateLimits"]}["messages"] + 1
    )
    [as_listed] = [
        m
        for m in await call(
            runner, "messages:getConversationMessages", {"conversationId": world.conversation}
        )
        if m["_id"] == sent
    ]
    assert as_listed["advisor"] == {"_id": world.public_advisor, **ADA}


async def test_advisor_and_system_senders_are_refused_where_they_must_be(
    store: Store, runner: Runner, world: World
) -> None:
    other = await call(runner, "conversations:createConversation", {"title": "Empty board"})
    base = {"conversationId": world.conversation, "content": "hi"}
    before = await snapshot(store)
    cases = [
        (base | {"sender": "system"}, "sender"),
        (base | {"sender": "assistant"}, "sender"),  # the original client's own mock call
        (base | {"sender": "advisor"}, "advisorId"),
        (base | {"sender": "user", "advisorId": world.public_advisor}, "advisorId"),
        (
            {"conversationId": other, "content": "hi", "sender": "advisor"}
            | {"advisorId": world.public_advisor},
            "advisorId",
        ),
    ]
    for args, field in cases:
        error = await refusal(runner, "messages:sendMessage", args)
        assert (error.code, error.data["field"]) == (Code.INVALID_ARGUMENT, field), args
    system = await refusal(runner, "messages:sendMessage", base | {"sender": "system"})
    assert "server's own" in system.message
    assert await snapshot(store) == before
    # Bob writing as an advisor into Alice's conversation: it reads as missing.
    error = await refusal(
        runner,
        "messages:sendMessage",
        base | {"sender": "advisor", "advisorId": world.public_advisor},
        BOB,
    )
    assert (error.code, error.message) == (Code.NOT_FOUND, "conversation not found")
    assert await snapshot(store) == before


async def test_update_message_takes_the_originals_fields(
    store: Store, runner: Runner, world: World
) -> None:
    edited = await call(
        runner,
        "messages:updateMessage",
        {
            "messageId": world.message,
            "contentJson": {"edited": True},
            "mentions": [world.public_advisor, "not-on-the-board"],
        },
    )
    assert (edited["content"], edited["contentJson"]) == ("Hello", {"edited": True})
    assert edited["mentions"] == [world.public_advisor]
    cleared = await call(
        runner, "messages:updateMessage", {"messageId": world.message, "contentJson": None}
    )
    assert "contentJson" not in cleared
    assert await call(runner, "messages:updateMessage", {"messageId": world.message}) == cleared
    error = await refusal(
        runner, "messages:updateMessage", {"messageId": world.answer, "content": "forged"}
    )
    assert error.code is Code.INVALID_ARGUMENT
    assert await call(runner, "messages:deleteMessage", {"messageId": world.message}) is None
    assert [m["_id"] for m in await _messages(store, world.conversation)] == [world.answer]


async def test_get_message_by_id_has_its_advisor(runner: Runner, world: World) -> None:
    got = await call(runner, "messages:getMessageById", {"messageId": world.answer})
    assert (got["_id"], got["content"]) == (world.answer, "Keep 18 months of runway.")
    assert got["advisor"] == {"_id": world.public_advisor, **ADA}
    mine = await call(runner, "messages:getMessageById", {"messageId": world.message})
    assert mine["advisor"] is None


async def test_search_with_search_term_answers_the_originals_shape(
    runner: Runner, world: World
) -> None:
    await call(
        runner,
        "messages:sendMessage",
        {"conversationId": world.conversation, "content": "What runway do peers keep?"},
    )
    found = await call(
        runner,
        "messages:searchMessages",
        {"conversationId": world.conversation, "searchTerm": "runway"},
    )
    assert [m["content"] for m in found] == [
        "What runway do peers keep?",
        "Keep 18 months of runway.",
    ]  # newest first
    assert found[0]["advisor"] is None
    assert found[1]["advisor"] == {"_id": world.public_advisor, **ADA}
    ours = await call(
        runner, "messages:searchMessages", {"conversationId": world.conversation, "query": "runw"}
    )
    assert {m["_id"] for m in ours} == {m["_id"] for m in found}
    assert all("advisor" not in m for m in ours)
    for args in ({"query": "a", "searchTerm": "a"}, {"conversationId": world.conversation}):
        error = await refusal(runner, "messages:searchMessages", args)
        assert (error.code, error.data["field"]) == (Code.INVALID_ARGUMENT, "query")


async def test_message_stats_count_what_the_original_counted(
    store: Store, runner: Runner, world: World
) -> None:
    await call(
        runner,
        "messages:sendMessage",
        {
            "conversationId": world.conversation,
            "sender": "advisor",
            "advisorId": world.public_advisor,
            "content": "Also: watch burn.",
            "tokensUsed": 30,
        },
    )
    stats = await call(runner, "messages:getMessageStats", {"conversationId": world.conversation})
    messages = await _messages(store, world.conversation)
    assert stats == {
        "totalMessages": 3,
        "userMessages": 1,
        "advisorMessages": 2,
        "systemMessages": 0,
        "totalTokens": 30,
        "firstMessageAt": min(m["createdAt"] for m in messages),
        "lastMessageAt": max(m["createdAt"] for m in messages),
        "partial": False,
    }


async def test_message_stats_of_a_long_conversation_are_bounded(
    store: Store, runner: Runner, world: World
) -> None:
    await _insert_many(store, world.conversation, STATS_SCAN)
    stats = await call(runner, "messages:getMessageStats", {"conversationId": world.conversation})
    first = min(m["createdAt"] for m in await _messages(store, world.conversation))
    assert (stats["totalMessages"], stats["userMessages"]) == (STATS_SCAN, STATS_SCAN)
    assert stats["totalTokens"] == 2 * STATS_SCAN
    assert (stats["partial"], stats["firstMessageAt"]) == (True, first)
    assert stats["lastMessageAt"] == 1e13 + STATS_SCAN - 1


async def test_recent_messages_across_the_callers_conversations(
    runner: Runner, world: World
) -> None:
    other = await call(runner, "conversations:createConversation", {"title": "Hiring"})
    await call(runner, "messages:sendMessage", {"conversationId": other, "content": "Hire?"})
    recent = await call(runner, "messages:getRecentMessages", {})
    assert [m["content"] for m in recent] == ["Hire?", "Keep 18 months of runway.", "Hello"]
    assert recent[0]["conversation"] == {"_id": other, "title": "Hiring"}
    assert recent[1]["conversation"] == {"_id": world.conversation, "title": "Runway"}
    assert recent[1]["advisor"] == {"_id": world.public_advisor, **ADA}
    assert [
        m["content"] for m in await call(runner, "messages:getRecentMessages", {"limit": 1})
    ] == ["Hire?"]
    assert await call(runner, "messages:getRecentMessages", {}, BOB) == []


@pytest.mark.parametrize("path", ["messages:create", "messages:list"])
async def test_the_migration_functions_are_retired_with_the_reason(
    store: Store, runner: Runner, world: World, path: str
) -> None:
    before = await snapshot(store)
    for who in (None, ALICE):
        error = await refusal(runner, path, {}, who)
        assert error.code is Code.NOT_FOUND
        assert "advisor-chat import" in error.message
    assert await snapshot(store) == before
