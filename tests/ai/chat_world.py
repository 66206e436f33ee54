"""A conversation with three advisors, a runner whose models are a real local
OpenAI-compatible server, and the scheduled worker running rounds: what the chat tests
stand on."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from advisor_chat.ai.models import Models
from advisor_chat.ai.providers.openai_compatible import OpenAICompatible
from advisor_chat.functions.catalog import build_registry
from advisor_chat.functions.context import Identity
from advisor_chat.functions.plans import PlanLimits
from advisor_chat.functions.runner import Runner
from advisor_chat.functions.scheduled import ScheduledWorker
from advisor_chat.store import Document, Store, Transaction
from tests.ai.openai_server import ScriptedOpenAI
from tests.waiting import until

ALICE = Identity("user_alice", "https://issuer.test", email="alice@example.test", name="Alice")
BOB = Identity("user_bob", "https://issuer.test", email="bob@example.test", name="Bob")
FALLBACK = "fallback-model"
KEY = "sk-test-key"


@dataclass
class Chat:
    store: Store
    runner: Runner
    server: ScriptedOpenAI
    conversation: str
    advisors: dict[str, str]  # first name → id

    async def call(self, path: str, args: dict[str, Any], who: Identity = ALICE) -> Any:
        return (await self.runner.call(path, args, who)).value

    async def send(self, content: str, **extra: Any) -> str:
        args = {"conversationId": self.conversation, "content": content} | extra
        return str(await self.call("messages:sendMessage", args))

    async def messages(self) -> list[Document]:
        page = await self.call(
            "messages:getConversationMessages",
            {
                "conversationId": self.conversation,
                "paginationOpts": {"numItems": 200, "cursor": None},
            },
        )
        return list(page["page"])

    async def answers(self) -> list[Document]:
        return [m for m in await self.messages() if m["sender"] == "advisor"]

    async def settled(self, count: int, within: float = 20.0) -> list[Document]:
        """Wait until `count` answers exist and none is streaming; returns them."""

        async def done() -> bool:
            found = await self.answers()
            return len(found) >= count and all(m.get("status") != "streaming" for m in found)

        await until(done, within, f"{count} answers ended")
        return await self.answers()


PERSONAS = {
    "Margaret": {"name": "Margaret Thornbury", "title": "Chief Financial Officer"},
    "Dev": {"name": "Dev Raghunathan", "title": "Technical Co-founder"},
    "Lucia": {"name": "Lucia Ferreyra", "title": "Growth Marketer"},
}


async def add_advisor(store: Store, persona: dict[str, Any], **fields: Any) -> str:
    async def insert(tx: Transaction) -> str:
        return await tx.insert(
            "advisors",
            {
                "schemaVersion": "1.1-base",
                "status": "active",
                "isPublic": True,
                "persona": persona,
                "tags": [],
                "createdAt": 1,
                "updatedAt": 1,
            }
            | fields,
        )

    return str((await store.mutation(insert)).value)


@contextlib.asynccontextmanager
async def chat_world(
    store: Store,
    *,
    limits: dict[str, PlanLimits] | None = None,
    hints: dict[str, str] | None = None,
    board: tuple[str, ...] = ("Margaret", "Dev", "Lucia"),
    context_tokens: int = 8_000,
) -> AsyncIterator[Chat]:
    """The world, with the worker running rounds until the block ends."""
    with ScriptedOpenAI() as server:
        server.api_key = KEY
        models = Models(
            OpenAICompatible(server.base_url, KEY, timeout_s=10),
            global_model=FALLBACK,
            context_tokens=context_tokens,
        )
        runner = Runner(store, build_registry(), limits=limits, models=models)
        await runner.call("users:store", {}, ALICE)
        await runner.call("users:store", {}, BOB)
        advisors = {}
        for first, persona in PERSONAS.items():
            hint = (hints or {}).get(first)
            advisors[first] = await add_advisor(
                store, persona, **({"modelHint": hint} if hint else {})
            )
        conversation = (
            await runner.call(
                "conversations:createConversation",
                {"advisorIds": [advisors[name] for name in board]},
                ALICE,
            )
        ).value
        worker = ScheduledWorker(store, runner)
        task = asyncio.create_task(worker.run_forever())
        try:
            yield Chat(store, runner, server, conversation, advisors)
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            await models.aclose()
