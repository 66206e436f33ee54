"""conversations and messages: the happy paths a user walks."""

from __future__ import annotations

import pytest

from advisor_chat.errors import Code, FunctionError
from advisor_chat.functions.context import Identity
from advisor_chat.functions.messages import SEARCHED_CONVERSATIONS
from advisor_chat.functions.runner import Runner
from advisor_chat.schema import limits
from advisor_chat.store import Store, Transaction
from tests.functions.world import ALICE, BOB, World, snapshot


async def test_conversations_list_newest_activity_first_in_pages(
    runner: Runner, world: World
) -> None:
    ids = [world.conversation]
    for n in range(4):
        ids.append(
            (await runner.call("conversations:createConversation", {"title": f"c{n}"}, ALICE)).value
        )
    await runner.call("messages:sendMessage", {"conversationId": ids[2], "content": "bump"}, ALICE)
    seen: list[str] = []
    cursor = None
    while True:
        page = (
            await runner.call(
                "conversations:getUserConversations",
                {"paginationOpts": {"numItems": 2, "cursor": cursor}},
                ALICE,
            )
        ).value
        seen += [c["_id"] for c in page["page"]]
        cursor = page["continueCursor"]
        if page["isDone"]:
            break
    assert seen[0] == ids[2]  # the one just written to
    assert sorted(seen) == sorted(ids)
    whole = {"paginationOpts": {"numItems": 10, "cursor": None}}
    bobs = (await runner.call("conversations:getUserConversations", whole, BOB)).value
    assert bobs["page"] == []


async def test_board_holds_only_visible_advisors(runner: Runner, world: World) -> None:
    conversation = (
        await runner.call(
            "conversations:getConversationById", {"conversationId": world.conversation}, ALICE
        )
    ).value
    assert conversation["advisorIds"] == [world.public_advisor, world.private_advisor]
    assert conversation["activeAdvisorId"] == world.public_advisor
    with pytest.raises(FunctionError) as caught:  # Alice's private advisor is not Bob's to use
        await runner.call(
            "conversations:createConversation", {"advisorIds": [world.private_advisor]}, BOB
        )
    assert caught.value.code is Code.NOT_FOUND


async def test_rename_and_switch_active_advisor(runner: Runner, world: World) -> None:
    updated = (
        await runner.call(
            "conversations:updateConversation",
            {
                "conversationId": world.conversation,
                "title": "Q3",
                "activeAdvisorId": world.private_advisor,
            },
            ALICE,
        )
    ).value
    assert (updated["title"], updated["activeAdvisorId"]) == ("Q3", world.private_advisor)
    cleared = (
        await runner.call(
            "conversations:updateConversation",
            {"conversationId": world.conversation, "title": None},
            ALICE,
        )
    ).value
    assert "title" not in cleared
    # An advisor the caller can see but not yet on the board joins it, as the original let
    # any advisor be made active; one the caller cannot see reads as missing.
    other = (await runner.call("conversations:createConversation", {}, ALICE)).value
    off_board = {"conversationId": other, "activeAdvisorId": world.public_advisor}
    joined = (await runner.call("conversations:updateConversation", off_board, ALICE)).value
    assert joined["advisorIds"] == [world.public_advisor]
    assert joined["activeAdvisorId"] == world.public_advisor
    bobs = (await runner.call("conversations:createConversation", {}, BOB)).value
    with pytest.raises(FunctionError) as caught:
        await runner.call(
            "conversations:updateConversation",
            {"conversationId": bobs, "activeAdvisorId": world.private_advisor},
            BOB,
        )
    assert caught.value.code is Code.NOT_FOUND


async def test_messages_in_order_edit_delete_and_cascade(
    store: Store, runner: Runner, world: World
) -> None:
    for text in ("second", "third"):
        await runner.call(
            "messages:appendMessage", {"conversationId": world.conversation, "content": text}, ALICE
        )
    listed = (
        await runner.call(
            "messages:getConversationMessages",
            {"conversationId": world.conversation, "paginationOpts": {"numItems": 10}},
            ALICE,
        )
    ).value
    assert [m["content"] for m in listed["page"]] == [
        "Hello",
        "Keep 18 months of runway.",  # the advisor's answer in Alice's world
        "second",
        "third",
    ]
    assert listed["isDone"]
    edited = (
        await runner.call(
            "messages:updateMessage", {"messageId": world.message, "content": "Hi"}, ALICE
        )
    ).value
    assert edited["content"] == "Hi"
    await runner.call("messages:deleteMessage", {"messageId": world.message}, ALICE)
    await runner.call(
        "conversations:deleteConversation", {"conversationId": world.conversation}, ALICE
    )
    after = await snapshot(store)
    assert after["messages"] == []
    assert after["conversations"] == []


async def test_empty_and_oversized_messages_are_refused(
    store: Store, runner: Runner, world: World
) -> None:
    before = await snapshot(store)
    for content in ("   ", "x" * 32_001):
        with pytest.raises(FunctionError) as caught:
            await runner.call(
                "messages:sendMessage",
                {"conversationId": world.conversation, "content": content},
                ALICE,
            )
        assert caught.value.code is Code.INVALID_ARGUMENT
    assert await snapshot(store) == before
    accepted = {"conversationId": world.conversation, "content": "x" * 32_000}
    assert (await runner.call("messages:sendMessage", accepted, ALICE)).value


async def test_a_bad_cursor_is_invalid_argument(runner: Runner, world: World) -> None:
    with pytest.raises(FunctionError) as caught:
        await runner.call(
            "messages:getConversationMessages",
            {
                "conversationId": world.conversation,
                "paginationOpts": {"numItems": 5, "cursor": "nonsense"},
            },
            ALICE,
        )
    assert caught.value.code is Code.INVALID_ARGUMENT


async def test_search_finds_only_the_callers_messages(runner: Runner, world: World) -> None:
    async def create(who: Identity, title: str) -> str:
        value: str = (
            await runner.call("conversations:createConversation", {"title": title}, who)
        ).value
        return value

    alice_two = await create(ALICE, "second")
    bobs = await create(BOB, "bob's")
    for who, conversation, text in [
        (ALICE, world.conversation, "Quarterly budget review"),
        (ALICE, alice_two, "Budgeting tools compared"),
        (ALICE, alice_two, "Nothing relevant"),
        (BOB, bobs, "My budget is secret"),
    ]:
        await runner.call(
            "messages:sendMessage", {"conversationId": conversation, "content": text}, who
        )

    async def search(who: Identity, **args: object) -> list[str]:
        found = (await runner.call("messages:searchMessages", args, who)).value
        return [m["content"] for m in found]

    assert set(await search(ALICE, query="budg")) == {
        "Quarterly budget review",
        "Budgeting tools compared",
    }
    assert await search(ALICE, query="budget review", conversationId=alice_two) == []
    assert await search(ALICE, query="budg", conversationId=alice_two) == [
        "Budgeting tools compared"
    ]
    assert await search(BOB, query="budget") == ["My budget is secret"]
    assert len(await search(ALICE, query="budg", limit=1)) == 1
    assert await search(ALICE, query="???") == []
    with pytest.raises(FunctionError) as caught:
        await search(BOB, query="budget", conversationId=alice_two)
    assert caught.value.code is Code.NOT_FOUND
    with pytest.raises(FunctionError) as caught:
        await search(ALICE, query="budget", limit=0)
    assert caught.value.code is Code.INVALID_ARGUMENT


async def test_a_search_across_conversations_covers_the_most_recently_active(
    store: Store, runner: Runner, world: World
) -> None:
    """The caller's history does not set the cost: past SEARCHED_CONVERSATIONS, the least
    recently active conversations are left out of a search across all of them."""
    user = (await runner.call("users:current", {}, ALICE)).value

    async def many(tx: Transaction) -> list[str]:
        ids: list[str] = []
        for n in range(SEARCHED_CONVERSATIONS):
            doc = {"userId": user["_id"], "createdAt": 1, "updatedAt": 10.0 + n}
            ids.append(await tx.insert("conversations", doc))
        for conversation, word in ((ids[0], "walrus"), (ids[-1], "walrus")):
            message = {"conversationId": conversation, "sender": "user", "content": word}
            await tx.insert("messages", message | {"mentions": [], "createdAt": 1})
        return ids

    ids = (await store.mutation(many)).value
    found = (await runner.call("messages:searchMessages", {"query": "walrus"}, ALICE)).value
    # Alice's own first conversation is the newest-active; ids[0] is now the oldest of
    # SEARCHED_CONVERSATIONS + 1, so it falls outside.
    assert [m["conversationId"] for m in found] == [ids[-1]]
    one = {"query": "walrus", "conversationId": ids[0]}
    assert len((await runner.call("messages:searchMessages", one, ALICE)).value) == 1


async def test_an_advisor_deleted_but_still_on_a_board_cannot_become_active(
    store: Store, runner: Runner, world: World
) -> None:
    """A large advisor deletion leaves boards to batches; meanwhile its id must not be
    made a conversation's active advisor."""
    ghost = store.ids.new_id("advisors")  # an advisor id no document holds

    async def seat(tx: Transaction) -> None:
        conversation = await tx.get("conversations", world.conversation)
        assert conversation is not None
        board = [*conversation["advisorIds"], ghost]
        await tx.patch("conversations", world.conversation, {"advisorIds": board})

    await store.mutation(seat)
    with pytest.raises(FunctionError) as caught:
        await runner.call(
            "conversations:updateConversation",
            {"conversationId": world.conversation, "activeAdvisorId": ghost},
            ALICE,
        )
    assert caught.value.code is Code.NOT_FOUND


async def test_a_full_board_refuses_one_more_advisor_naming_how_it_came(
    store: Store, runner: Runner, world: World
) -> None:
    """A conversation seats at most limits.BOARD advisors, whichever way one more would
    join: made active, mentioned by id, or asked directly. Each refusal names the argument
    and changes nothing."""
    made = []
    for i in range(limits.BOARD + 1):
        persona = {"persona": {"name": f"Seat {i}", "title": "Advisor"}, "tags": []}
        advisor = (await runner.call("advisors:createAdvisor", persona, ALICE)).value
        await runner.call("marketplace:selectAdvisor", {"advisorId": advisor}, ALICE)
        made.append(advisor)
    full = (
        await runner.call(
            "conversations:createConversation", {"advisorIds": made[: limits.BOARD]}, ALICE
        )
    ).value
    extra = made[limits.BOARD]
    attempts = [
        ("conversations:updateConversation", {"activeAdvisorId": extra}, "activeAdvisorId"),
        ("messages:sendMessage", {"content": "And you?", "mentions": [extra]}, "mentions"),
        ("chat:ask", {"message": "And you?", "advisorId": extra}, "advisorId"),
    ]
    before = await snapshot(store)
    for path, args, field in attempts:
        internal = path == "chat:ask"  # chat:sendChatMessage's own first step
        with pytest.raises(FunctionError) as refused:
            await runner.call(path, {"conversationId": full} | args, ALICE, internal=internal)
        assert refused.value.code is Code.INVALID_ARGUMENT, path
        assert refused.value.data.get("field") == field, path
        assert f"at most {limits.BOARD} advisors" in refused.value.message
    assert await snapshot(store) == before
