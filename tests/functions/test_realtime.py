"""realtime: one typing row per (conversation, user) that lapses, one presence row per user."""

from __future__ import annotations

from advisor_chat.functions.runner import Runner
from advisor_chat.store import Store, Transaction
from tests.functions.world import ALICE, World, snapshot


async def test_typing_is_one_row_refreshed_in_place(
    store: Store, runner: Runner, world: World
) -> None:
    for typing in (True, True, False, True):
        await runner.call(
            "realtime:setTypingStatus",
            {"conversationId": world.conversation, "isTyping": typing},
            ALICE,
        )
    assert len((await snapshot(store))["typingIndicators"]) == 1
    now = (
        await runner.call("realtime:getTypingUsers", {"conversationId": world.conversation}, ALICE)
    ).value
    assert now["expiryMs"] == 10_000
    assert len(now["typing"]) == 1
    await runner.call(
        "realtime:setTypingStatus", {"conversationId": world.conversation, "isTyping": False}, ALICE
    )
    stopped = (
        await runner.call("realtime:getTypingUsers", {"conversationId": world.conversation}, ALICE)
    ).value
    assert stopped["typing"] == []


async def test_a_lapsed_typing_row_no_longer_counts(
    store: Store, runner: Runner, world: World
) -> None:
    await runner.call(
        "realtime:setTypingStatus", {"conversationId": world.conversation, "isTyping": True}, ALICE
    )

    async def age(tx: Transaction) -> None:
        (row,) = await tx.query("typingIndicators").collect()
        await tx.patch(
            "typingIndicators", row["_id"], {"lastTypingAt": row["lastTypingAt"] - 10_001}
        )

    await store.mutation(age)
    lapsed = (
        await runner.call("realtime:getTypingUsers", {"conversationId": world.conversation}, ALICE)
    ).value
    assert lapsed["typing"] == []


async def test_presence_is_one_row_per_user(store: Store, runner: Runner, world: World) -> None:
    await runner.call(
        "realtime:updateUserPresence",
        {"isOnline": True, "currentConversationId": world.conversation},
        ALICE,
    )
    await runner.call(
        "realtime:updateUserPresence", {"isOnline": False, "currentConversationId": None}, ALICE
    )
    presence = (await runner.call("realtime:getUserPresence", {}, ALICE)).value
    assert presence["isOnline"] is False
    assert "currentConversationId" not in presence
    assert len((await snapshot(store))["userPresence"]) == 1
