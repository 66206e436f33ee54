"""Deleting a conversation removes exactly its children, in the same transaction."""

from __future__ import annotations

from typing import Any

import pytest

from advisor_chat.store import Store, Transaction
from tests.store.examples import example

CHILD_TABLES = [
    "messages",
    "streamDeltas",
    "advisorMemories",
    "threadSummaries",
    "typingIndicators",
]


async def _world(tx: Transaction) -> dict[str, Any]:
    """Two users, each with two conversations full of children."""
    advisor = await tx.insert("advisors", example("advisors", None, full=False))
    world: dict[str, Any] = {"conversations": [], "children": {}, "presence": {}}
    for u in range(2):
        user = await tx.insert(
            "users", {"clerkId": f"u{u}", "plan": "free", "createdAt": 1, "updatedAt": 1}
        )
        for _ in range(2):
            conv = await tx.insert(
                "conversations", {"userId": user, "createdAt": 1, "updatedAt": 1}
            )
            world["conversations"].append(conv)
            ids: dict[str, list[str]] = {t: [] for t in CHILD_TABLES}
            for m in range(3):
                message = await tx.insert(
                    "messages",
                    {
                        "conversationId": conv,
                        "sender": "advisor",
                        "advisorId": advisor,
                        "content": f"m{m}",
                        "mentions": [],
                        "createdAt": m,
                    },
                )
                ids["messages"].append(message)
                for start in (0, 5):
                    ids["streamDeltas"].append(
                        await tx.insert(
                            "streamDeltas",
                            {
                                "messageId": message,
                                "start": start,
                                "end": start + 5,
                                "text": "hello",
                                "createdAt": 1,
                            },
                        )
                    )
            for key in ("goal", "runway"):
                ids["advisorMemories"].append(
                    await tx.insert(
                        "advisorMemories",
                        {
                            "conversationId": conv,
                            "advisorId": advisor,
                            "key": key,
                            "value": 1,
                            "createdAt": 1,
                            "updatedAt": 1,
                        },
                    )
                )
            ids["threadSummaries"].append(
                await tx.insert(
                    "threadSummaries", {"conversationId": conv, "content": "s", "createdAt": 1}
                )
            )
            ids["typingIndicators"].append(
                await tx.insert(
                    "typingIndicators",
                    {"conversationId": conv, "userId": user, "isTyping": True, "lastTypingAt": 1},
                )
            )
            world["children"][conv] = ids
        world["presence"][user] = await tx.insert(
            "userPresence",
            {
                "userId": user,
                "isOnline": True,
                "lastSeenAt": 1,
                "currentConversationId": world["conversations"][-1],
            },
        )
    return world


async def _snapshot(store: Store) -> dict[str, dict[str, Any]]:
    async def read(tx: Transaction) -> dict[str, dict[str, Any]]:
        tables = ["conversations", "userPresence", *CHILD_TABLES]
        return {t: {d["_id"]: d for d in await tx.query(t).collect()} for t in tables}

    return (await store.query(read)).value


async def test_delete_conversation_removes_exactly_its_children(store: Store) -> None:
    world = (await store.mutation(_world)).value
    before = await _snapshot(store)
    victim = world["conversations"][1]  # the first user's current conversation
    outcome = await store.mutation(lambda tx: tx.delete("conversations", victim))
    after = await _snapshot(store)

    removed = {victim}
    for table in CHILD_TABLES:
        gone = set(world["children"][victim][table])
        assert gone, table
        removed |= gone
        assert set(after[table]) == set(before[table]) - gone, table
    assert set(after["conversations"]) == set(before["conversations"]) - {victim}

    # Presence pointing at the deleted conversation loses the field but stays.
    presence_id = next(
        p for p, d in before["userPresence"].items() if d.get("currentConversationId") == victim
    )
    assert "currentConversationId" not in after["userPresence"][presence_id]
    others = set(before["userPresence"]) - {presence_id}
    assert all(after["userPresence"][p] == before["userPresence"][p] for p in others)

    assert outcome.commit is not None
    deleted = {w.id for w in outcome.commit.writes if w.new_keys is None}
    patched = {w.id for w in outcome.commit.writes if w.old_keys and w.new_keys}
    assert deleted == removed
    assert patched == {presence_id}


async def test_delete_then_failure_leaves_everything(store: Store) -> None:
    world = (await store.mutation(_world)).value
    before = await _snapshot(store)

    async def delete_then_fail(tx: Transaction) -> None:
        await tx.delete("conversations", world["conversations"][0])
        raise RuntimeError("the caller changed its mind")

    with pytest.raises(RuntimeError):
        await store.mutation(delete_then_fail)
    assert await _snapshot(store) == before


async def test_deleting_a_user_takes_their_conversations_and_children(store: Store) -> None:
    world = (await store.mutation(_world)).value

    async def first_user(tx: Transaction) -> str:
        user = await tx.query("users", "by_clerk_id").eq("clerkId", "u0").unique()
        assert user is not None
        return str(user["_id"])

    user = (await store.query(first_user)).value
    await store.mutation(lambda tx: tx.delete("users", user))
    after = await _snapshot(store)
    assert set(after["conversations"]) == set(world["conversations"][2:])
    assert all(d["userId"] != user for d in after["typingIndicators"].values())
    assert all(d["userId"] != user for d in after["userPresence"].values())
