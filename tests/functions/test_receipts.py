"""Mutation receipts: one (caller, session, request) runs once; a resend is answered from
its receipt, on either backend; another caller's resend of the same ids runs as its own."""

from __future__ import annotations

import pytest

from advisor_chat.errors import FunctionError
from advisor_chat.functions.receipts import receipt_key
from advisor_chat.functions.runner import Runner
from advisor_chat.store import Store
from tests.functions.world import ALICE, BOB, World, snapshot

SESSION = "2f6a0c1e-93b4-4f55-8d0e-5a7c3e9b1d20"


def _contents(messages: list[dict[str, object]]) -> list[object]:
    return [m["content"] for m in messages if m["sender"] == "user"]


async def test_a_resent_mutation_is_answered_from_its_receipt(
    store: Store, runner: Runner, world: World
) -> None:
    send = {"conversationId": world.conversation, "content": "only once"}
    receipt = receipt_key(ALICE, SESSION, 7)
    first = await runner.call("messages:sendMessage", send, ALICE, "mutation", receipt=receipt)
    again = await runner.call("messages:sendMessage", send, ALICE, "mutation", receipt=receipt)
    assert again.value == first.value
    assert again.ts >= first.ts  # a Transition reaching the first commit covers the answer
    assert _contents((await snapshot(store))["messages"]) == ["Hello", "only once"]
    # The next request of the session is a new mutation.
    other = receipt_key(ALICE, SESSION, 8)
    await runner.call("messages:sendMessage", send, ALICE, "mutation", receipt=other)
    assert _contents((await snapshot(store))["messages"]) == ["Hello", "only once", "only once"]


async def test_a_failed_mutation_leaves_no_receipt(
    store: Store, runner: Runner, world: World
) -> None:
    receipt = receipt_key(ALICE, SESSION, 1)
    with pytest.raises(FunctionError):
        await runner.call(
            "messages:sendMessage",
            {"conversationId": world.conversation, "content": "   "},
            ALICE,
            "mutation",
            receipt=receipt,
        )
    assert (await snapshot(store))["mutationReceipts"] == []


async def test_another_callers_resend_of_the_same_ids_is_theirs(
    store: Store, runner: Runner, world: World
) -> None:
    """Bob, who learnt Alice's session id, gets no answer of hers: his call runs as his."""
    alice = receipt_key(ALICE, SESSION, 3)
    await runner.call("conversations:createConversation", {"title": "A"}, ALICE, receipt=alice)
    bob = receipt_key(BOB, SESSION, 3)
    assert bob != alice
    made = await runner.call("conversations:createConversation", {"title": "B"}, BOB, receipt=bob)
    conversation = next(
        c for c in (await snapshot(store))["conversations"] if c["_id"] == made.value
    )
    assert conversation["title"] == "B"
