"""realtime: the original app's typing and presence calls answer what its client reads
(TypingIndicator.tsx: `_id`, `name`, `image`, `lastTypingAt`; PresenceIndicator.tsx:
`name`, `isOnline`, `image`), about the caller only; its cleanup is for administrators."""

from __future__ import annotations

from typing import Any

from advisor_chat.clock import now_ms
from advisor_chat.errors import Code
from advisor_chat.functions.realtime import hold_presence
from advisor_chat.functions.runner import Runner
from advisor_chat.store import Store, Transaction
from tests.functions.calls import call, refusal
from tests.functions.world import ALICE, BOB, World, snapshot

HOUR = 3_600_000


async def _user(runner: Runner, who: Any = ALICE) -> dict[str, Any]:
    user: dict[str, Any] = await call(runner, "users:current", {}, who)
    return user


async def _online(store: Store, user_id: str) -> None:
    """A server process holds a session of the user for the next hour."""

    async def hold(tx: Transaction) -> None:
        assert await hold_presence(tx, user_id, "node-a", now_ms() + HOUR)

    await store.mutation(hold)


async def _set_image(store: Store, user_id: str) -> None:
    async def write(tx: Transaction) -> None:
        await tx.patch("users", user_id, {"image": "https://img.test/alice.png"})

    await store.mutation(write)


async def test_typing_users_are_the_originals_array(
    store: Store, runner: Runner, world: World
) -> None:
    alice = await _user(runner)
    await _set_image(store, alice["_id"])
    args = {"conversationId": world.conversation}
    assert await call(runner, "realtime:getTypingUsers", args) == []
    assert await call(runner, "realtime:setTypingStatus", args | {"isTyping": True}) is None
    [typing] = await call(runner, "realtime:getTypingUsers", args)
    (row,) = (await snapshot(store))["typingIndicators"]
    assert typing == {
        "_id": alice["_id"],
        "userId": alice["_id"],
        "name": "Alice",
        "image": "https://img.test/alice.png",
        "lastTypingAt": row["lastTypingAt"],
        "expiresAt": row["lastTypingAt"] + 10_000,
    }
    await call(runner, "realtime:setTypingStatus", args | {"isTyping": False})
    assert await call(runner, "realtime:getTypingUsers", args) == []


async def test_user_presence_of_the_caller_only(store: Store, runner: Runner, world: World) -> None:
    alice, bob = await _user(runner), await _user(runner, BOB)
    await _online(store, alice["_id"])
    await _online(store, bob["_id"])
    mine = await call(runner, "realtime:getUserPresence", {"userId": alice["_id"]})
    assert (mine["userId"], mine["isOnline"]) == (alice["_id"], True)
    assert isinstance(mine["lastSeenAt"], float | int)
    assert "nodes" not in mine
    assert "leaseUntil" not in mine
    assert await call(runner, "realtime:getUserPresence", {}) == mine
    # Bob is online, but his presence is not Alice's to see: as a user with none.
    assert await call(runner, "realtime:getUserPresence", {"userId": bob["_id"]}) is None


async def test_online_users_and_users_in_a_conversation_are_the_caller(
    store: Store, runner: Runner, world: World
) -> None:
    alice, bob = await _user(runner), await _user(runner, BOB)
    await _set_image(store, alice["_id"])
    assert await call(runner, "realtime:getOnlineUsers", {}) == []
    in_conversation = {"conversationId": world.conversation}
    assert await call(runner, "realtime:getUsersInConversation", in_conversation) == []
    await _online(store, bob["_id"])
    await _online(store, alice["_id"])
    await call(
        runner,
        "realtime:updateUserPresence",
        {"isOnline": True, "currentConversationId": world.conversation},
    )
    row = await call(runner, "realtime:getUserPresence", {})
    assert await call(runner, "realtime:getOnlineUsers", {}) == [
        {
            "_id": alice["_id"],
            "name": "Alice",
            "image": "https://img.test/alice.png",
            "lastSeenAt": row["lastSeenAt"],
            "currentConversationId": world.conversation,
        }
    ]
    assert await call(runner, "realtime:getUsersInConversation", in_conversation) == [
        {
            "_id": alice["_id"],
            "name": "Alice",
            "image": "https://img.test/alice.png",
            "isOnline": True,
            "lastSeenAt": row["lastSeenAt"],
        }
    ]
    [bobs] = await call(runner, "realtime:getOnlineUsers", {}, BOB)  # Bob sees only Bob
    assert bobs["_id"] == bob["_id"]
    elsewhere = await call(runner, "conversations:createConversation", {"title": "Other"})
    assert (
        await call(runner, "realtime:getUsersInConversation", {"conversationId": elsewhere}) == []
    )


async def test_track_user_activity_reports_the_current_conversation(
    store: Store, runner: Runner, world: World
) -> None:
    assert (
        await call(
            runner,
            "realtime:trackUserActivity",
            {
                "activity": "conversation_opened",
                "conversationId": world.conversation,
                "metadata": {"from": "sidebar"},
            },
        )
        is None
    )
    presence = await call(runner, "realtime:getUserPresence", {})
    assert presence["currentConversationId"] == world.conversation
    assert presence["isOnline"] is False  # the server's to say: no session is open
    await call(runner, "realtime:trackUserActivity", {"activity": "idle"})
    assert (await call(runner, "realtime:getUserPresence", {}))["currentConversationId"] == (
        world.conversation
    )
    before = await snapshot(store)
    for bad in (
        {"activity": "x" * 65},
        {"activity": "a", "metadata": {"note": "x" * 1_001}},
        {"activity": "a", "metadata": list(range(51))},
    ):
        error = await refusal(runner, "realtime:trackUserActivity", bad)
        assert error.code is Code.INVALID_ARGUMENT
    error = await refusal(
        runner,
        "realtime:trackUserActivity",
        {"activity": "a", "conversationId": world.conversation},
        BOB,
    )
    assert (error.code, error.message) == (Code.NOT_FOUND, "conversation not found")
    assert await snapshot(store) == before


async def test_cleanup_is_for_administrators_and_ends_lapsed_leases(
    store: Store, runner: Runner, world: World
) -> None:
    alice = await _user(runner)

    async def lapsed(tx: Transaction) -> None:
        # A server process that died holding Alice's session an hour ago.
        await tx.insert(
            "userPresence",
            {
                "userId": alice["_id"],
                "isOnline": True,
                "lastSeenAt": 1,
                "nodes": {"dead-node": 2},
                "leaseUntil": 2,
            },
        )

    await store.mutation(lapsed)
    before = await snapshot(store)
    for who in (ALICE, BOB):
        error = await refusal(runner, "realtime:cleanupStaleRecords", {}, who)
        assert error.code is Code.FORBIDDEN
    assert await snapshot(store) == before

    async def grant(tx: Transaction) -> None:
        await tx.patch("users", alice["_id"], {"role": "admin"})

    await store.mutation(grant)
    cleaned = await call(runner, "realtime:cleanupStaleRecords", {})
    assert cleaned == {"cleanedTypingIndicators": 0, "cleanedPresences": 1}
    assert (await call(runner, "realtime:getUserPresence", {}))["isOnline"] is False
    assert await call(runner, "realtime:cleanupStaleRecords", {}) == {
        "cleanedTypingIndicators": 0,
        "cleanedPresences": 0,
    }
