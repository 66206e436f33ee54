"""conversations: the original app's calls, argument for argument, answer what its client
reads (src/lib/convex-api.ts `transformConversationForClient`, ConvexChatInterface.tsx),
while our own arguments keep answering ours."""

from __future__ import annotations

import pytest

from advisor_chat.errors import Code
from advisor_chat.functions.conversations import COUNTED, LATEST, LISTED
from advisor_chat.functions.runner import Runner
from advisor_chat.store import Store, Transaction
from tests.functions.calls import call, refusal
from tests.functions.world import ALICE, BOB, World, add_messages, snapshot


async def _set_image(store: Store, advisor_id: str, url: str) -> None:
    async def write(tx: Transaction) -> None:
        await tx.patch("advisors", advisor_id, {"imageUrl": url})

    await store.mutation(write)


async def test_the_list_without_pagination_opts_is_the_originals_array(
    store: Store, runner: Runner, world: World
) -> None:
    await _set_image(store, world.public_advisor, "https://img.test/ada.png")
    newer = await call(
        runner,
        "conversations:createConversation",
        {"title": "Hiring", "activeAdvisorId": world.public_advisor},
    )
    long_text = "Should we hire a CFO before the seed round closes? " * 4
    await call(runner, "messages:sendMessage", {"conversationId": newer, "content": long_text})
    listed = await call(runner, "conversations:getUserConversations", {})
    assert [c["_id"] for c in listed] == [newer, world.conversation]  # newest activity first
    hiring, runway = listed
    stored = (await snapshot(store))["conversations"]
    as_stored = {c["_id"]: c for c in stored}
    for entry in listed:  # the document as stored, with what the original joined in
        assert {k: entry[k] for k in as_stored[entry["_id"]]} == as_stored[entry["_id"]]
    assert hiring["title"] == "Hiring"
    assert isinstance(hiring["createdAt"], float | int)
    assert hiring["updatedAt"] >= hiring["createdAt"]
    assert hiring["messageCount"] == 1
    assert hiring["lastMessage"] == {
        "content": long_text[:100] + "...",
        "createdAt": hiring["updatedAt"],
        "sender": "user",
    }
    assert hiring["activeAdvisor"] == {
        "_id": world.public_advisor,
        "name": "Ada Reyes",
        "title": "CFO",
        "imageUrl": "https://img.test/ada.png",
    }
    assert runway["messageCount"] == 2  # Alice's "Hello" and the advisor's answer
    assert runway["lastMessage"]["content"] == "Keep 18 months of runway."  # short: as is
    assert runway["lastMessage"]["sender"] == "advisor"
    # The original's alias answers the same, and Bob sees none of it.
    assert await call(runner, "conversations:getConversations", {}) == listed
    assert await call(runner, "conversations:getUserConversations", {}, BOB) == []


async def test_an_empty_conversation_lists_no_last_message_and_no_advisor(
    runner: Runner, world: World
) -> None:
    empty = await call(runner, "conversations:createConversation", {"title": "Blank"})
    [entry] = [
        c for c in await call(runner, "conversations:getConversations", {}) if c["_id"] == empty
    ]
    assert (entry["messageCount"], entry["lastMessage"], entry["activeAdvisor"]) == (0, None, None)


async def test_with_pagination_opts_the_list_stays_a_convex_page(
    runner: Runner, world: World
) -> None:
    page = await call(
        runner,
        "conversations:getUserConversations",
        {"paginationOpts": {"numItems": 10, "cursor": None}},
    )
    assert [c["_id"] for c in page["page"]] == [world.conversation]
    assert page["isDone"] is True
    assert "messageCount" not in page["page"][0]


async def test_the_list_and_its_counts_are_bounded(
    store: Store, runner: Runner, world: World
) -> None:
    """LISTED conversations at most, and a count that stops at COUNTED: a long history
    costs the list no more than that."""

    async def fill(tx: Transaction) -> None:
        user = (await tx.query("users", "by_clerk_id").eq("clerkId", ALICE.subject).unique()) or {}
        for n in range(LISTED + 5):
            await tx.insert(
                "conversations",
                {"userId": user["_id"], "title": f"old {n}", "createdAt": n, "updatedAt": n},
            )
        await add_messages(tx, world.conversation, COUNTED + 5)

    await store.mutation(fill)
    listed = await call(runner, "conversations:getUserConversations", {})
    assert len(listed) == LISTED
    assert listed[0]["_id"] == world.conversation
    assert listed[0]["messageCount"] == COUNTED
    assert listed[0]["lastMessage"]["content"] == f"m{COUNTED + 4}"


async def test_get_conversation_by_id_has_the_active_advisor_and_latest_messages(
    store: Store, runner: Runner, world: World
) -> None:
    got = await call(
        runner, "conversations:getConversationById", {"conversationId": world.conversation}
    )
    assert (got["_id"], got["title"]) == (world.conversation, "Runway")
    assert got["advisorIds"] == [world.public_advisor, world.private_advisor]
    active = got["activeAdvisor"]
    assert (active["_id"], active["name"], active["title"]) == (
        world.public_advisor,
        "Ada Reyes",
        "CFO",
    )
    assert active["persona"] == {"name": "Ada Reyes", "title": "CFO"}
    assert "imageUrl" not in active  # none set: left out, as the original's JSON did
    hello, answer = got["messages"]
    assert (hello["_id"], hello["sender"], hello["content"]) == (world.message, "user", "Hello")
    assert hello["mentions"] == []
    assert hello["advisor"] is None
    assert isinstance(hello["createdAt"], float | int)
    assert (answer["_id"], answer["sender"], answer["advisorId"]) == (
        world.answer,
        "advisor",
        world.public_advisor,
    )
    assert answer["advisor"] == {"_id": world.public_advisor, "name": "Ada Reyes", "title": "CFO"}

    await store.mutation(lambda tx: add_messages(tx, world.conversation, LATEST + 3))
    got = await call(
        runner, "conversations:getConversationById", {"conversationId": world.conversation}
    )
    assert [m["content"] for m in got["messages"]] == [f"m{n}" for n in range(3, LATEST + 3)]


async def test_an_active_advisor_no_longer_visible_keeps_its_name_not_its_persona(
    store: Store, runner: Runner, world: World
) -> None:
    async def hide(tx: Transaction) -> None:
        await tx.patch("advisors", world.public_advisor, {"isPublic": False})

    await store.mutation(hide)
    got = await call(
        runner, "conversations:getConversationById", {"conversationId": world.conversation}
    )
    assert got["activeAdvisor"] == {
        "_id": world.public_advisor,
        "name": "Ada Reyes",
        "title": "CFO",
    }


async def test_create_with_active_advisor_id_seats_it_with_the_originals_title(
    runner: Runner, world: World
) -> None:
    made = await call(
        runner, "conversations:createConversation", {"activeAdvisorId": world.public_advisor}
    )
    got = await call(runner, "conversations:getConversationById", {"conversationId": made})
    assert got["title"] == "New Conversation"
    assert (got["activeAdvisorId"], got["advisorIds"]) == (
        world.public_advisor,
        [world.public_advisor],
    )
    assert got["activeAdvisor"]["name"] == "Ada Reyes"
    assert got["messages"] == []
    # The original client's own call: a title and the selected advisor.
    named = await call(
        runner,
        "conversations:createConversation",
        {"title": "Ada Reyes", "activeAdvisorId": world.private_advisor},
    )
    got = await call(runner, "conversations:getConversationById", {"conversationId": named})
    assert (got["title"], got["activeAdvisorId"]) == ("Ada Reyes", world.private_advisor)
    # Both ways at once: the board given, the active one joining it.
    both = await call(
        runner,
        "conversations:createConversation",
        {"advisorIds": [world.private_advisor], "activeAdvisorId": world.public_advisor},
    )
    got = await call(runner, "conversations:getConversationById", {"conversationId": both})
    assert got["advisorIds"] == [world.private_advisor, world.public_advisor]
    assert got["activeAdvisorId"] == world.public_advisor
    assert got["title"] == "New Conversation"


async def test_create_without_an_advisor_chooses_none_and_stays_untitled(
    runner: Runner, world: World
) -> None:
    made = await call(runner, "conversations:createConversation", {})
    got = await call(runner, "conversations:getConversationById", {"conversationId": made})
    assert "title" not in got
    assert "activeAdvisorId" not in got
    assert got["activeAdvisor"] is None


async def test_an_active_advisor_the_caller_cannot_see_reads_as_missing(
    store: Store, runner: Runner, world: World
) -> None:
    before = await snapshot(store)
    error = await refusal(
        runner, "conversations:createConversation", {"activeAdvisorId": world.private_advisor}, BOB
    )
    assert (error.code, error.message) == (Code.NOT_FOUND, "advisor not found")
    assert await snapshot(store) == before


async def test_update_and_delete_as_the_original_called_them(
    store: Store, runner: Runner, world: World
) -> None:
    updated = await call(
        runner,
        "conversations:updateConversation",
        {"conversationId": world.conversation, "title": "Runway, revised"},
    )
    assert updated["title"] == "Runway, revised"
    listed = await call(runner, "conversations:getUserConversations", {})
    assert listed[0]["title"] == "Runway, revised"
    assert listed[0]["updatedAt"] >= listed[0]["createdAt"]
    assert (
        await call(
            runner, "conversations:deleteConversation", {"conversationId": world.conversation}
        )
        is None
    )
    assert await call(runner, "conversations:getUserConversations", {}) == []
    left = await snapshot(store)
    assert [m for m in left["messages"] if m["conversationId"] == world.conversation] == []


@pytest.mark.parametrize("path", ["conversations:create", "conversations:list"])
async def test_the_migration_functions_are_retired_with_the_reason(
    store: Store, runner: Runner, world: World, path: str
) -> None:
    before = await snapshot(store)
    for who in (None, ALICE):
        error = await refusal(runner, path, {}, who)
        assert error.code is Code.NOT_FOUND
        assert "advisor-chat import" in error.message
    assert await snapshot(store) == before
