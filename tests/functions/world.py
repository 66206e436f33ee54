"""Two signed-in users and Alice's conversation, built through the functions themselves."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from advisor_chat.clock import now_ms
from advisor_chat.functions.context import Identity
from advisor_chat.functions.runner import Runner
from advisor_chat.schema.tables import TABLES
from advisor_chat.store import Store, Transaction

ALICE = Identity("user_alice", "https://issuer.test", email="alice@example.test", name="Alice")
BOB = Identity("user_bob", "https://issuer.test", email="bob@example.test", name="Bob")


@dataclass(frozen=True)
class World:
    public_advisor: str
    private_advisor: str  # owned by Alice
    conversation: str  # Alice's
    message: str  # Alice's, in her conversation
    memory: str  # the public advisor's, in Alice's conversation
    summary: str  # of Alice's conversation
    answer: str  # the public advisor's answer in Alice's conversation
    alice: str  # Alice's users row


async def build_world(store: Store, runner: Runner) -> World:
    alice = (await runner.call("users:store", {}, ALICE)).value
    await runner.call("users:store", {}, BOB)

    async def advisors(tx: Transaction) -> tuple[str, str]:
        base: dict[str, Any] = {
            "schemaVersion": "1.1-base",
            "status": "active",
            "persona": {"name": "Ada Reyes", "title": "CFO"},
            "tags": ["finance"],
            "createdAt": 1,
            "updatedAt": 1,
        }
        public = await tx.insert("advisors", base | {"isPublic": True})
        private = await tx.insert("advisors", base | {"ownerId": alice, "isPublic": False})
        return public, private

    public, private = (await store.mutation(advisors)).value

    async def team(tx: Transaction) -> None:
        await tx.insert(
            "teamTemplates",
            {
                "id": "startup-board",
                "name": "Startup board",
                "description": "For founders",
                "category": "startup",
                "advisorIds": [public],
                "featured": True,
                "sortOrder": 1,
                "createdAt": 1,
                "updatedAt": 1,
            },
        )

    await store.mutation(team)
    conversation = (
        await runner.call(
            "conversations:createConversation",
            {"title": "Runway", "advisorIds": [public, private]},
            ALICE,
        )
    ).value
    message = (
        await runner.call(
            "messages:sendMessage", {"conversationId": conversation, "content": "Hello"}, ALICE
        )
    ).value
    memory = (
        await runner.call(
            "advisorMemories:setMemory",
            {"conversationId": conversation, "advisorId": public, "key": "runway", "value": 14},
            ALICE,
        )
    ).value
    summary = (
        await runner.call(
            "threadSummaries:createSummary",
            {
                "conversationId": conversation,
                "content": "Alice said hello.",
                "startMessageId": message,
                "endMessageId": message,
            },
            ALICE,
        )
    ).value

    async def answer(tx: Transaction) -> str:
        return await tx.insert(
            "messages",
            {
                "conversationId": conversation,
                "sender": "advisor",
                "advisorId": public,
                "content": "Keep 18 months of runway.",
                "mentions": [],
                "createdAt": now_ms(),  # after Alice's "Hello"
                "status": "complete",
            },
        )

    answered = (await store.mutation(answer)).value
    return World(public, private, conversation, message, memory, summary, answered, alice)


async def add_messages(tx: Transaction, conversation: str, count: int, **fields: Any) -> None:
    """User messages m0, m1, ... after everything in the world (created at 1e13 + n ms),
    written straight into the table: a long history without a function call each."""
    for n in range(count):
        message = {"conversationId": conversation, "sender": "user", "content": f"m{n}"}
        await tx.insert("messages", message | {"mentions": [], "createdAt": 1e13 + n} | fields)


async def snapshot(store: Store) -> dict[str, list[dict[str, Any]]]:
    async def read(tx: Transaction) -> dict[str, list[dict[str, Any]]]:
        return {name: await tx.query(name).collect() for name in TABLES}

    return (await store.query(read)).value
