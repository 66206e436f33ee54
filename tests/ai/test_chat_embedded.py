"""A round answered by the embedded model itself, as a fresh install with no provider
configured answers: a real (short, weak) answer, labelled as coming from a small offline
model, with the way to a real provider."""

from __future__ import annotations

import asyncio
import contextlib

from advisor_chat.ai.models import Models
from advisor_chat.ai.providers.embedded import EMBEDDED_MODEL
from advisor_chat.functions.catalog import build_registry
from advisor_chat.functions.runner import Runner
from advisor_chat.functions.scheduled import ScheduledWorker
from advisor_chat.settings import Settings
from advisor_chat.store import Store
from tests.ai.chat_world import ALICE, PERSONAS, add_advisor
from tests.ai.test_embedded import require_llama_cpp, require_model
from tests.waiting import until


async def test_the_embedded_model_answers_when_no_provider_is_configured(store: Store) -> None:
    require_llama_cpp()
    require_model()
    models = Models.from_settings(Settings(openai_base_url=None, openai_api_key=None))
    assert models.provider.name == "embedded"
    runner = Runner(store, build_registry(), models=models)
    await runner.call("users:store", {}, ALICE)
    margaret = await add_advisor(store, PERSONAS["Margaret"], modelHint="gpt-4o")
    conversation = (
        await runner.call("conversations:createConversation", {"advisorIds": [margaret]}, ALICE)
    ).value
    worker = asyncio.create_task(ScheduledWorker(store, runner).run_forever())
    try:
        await runner.call(
            "messages:sendMessage",
            {"conversationId": conversation, "content": "Should I raise prices?"},
            ALICE,
        )

        async def answered() -> list[dict[str, object]]:
            page = (
                await runner.call(
                    "messages:getConversationMessages",
                    {
                        "conversationId": conversation,
                        "paginationOpts": {"numItems": 10, "cursor": None},
                    },
                    ALICE,
                )
            ).value["page"]
            return [m for m in page if m["sender"] == "advisor" and m["status"] != "streaming"]

        async def ended() -> bool:
            return bool(await answered())

        await until(ended, 180, "the embedded model's answer")
        [answer] = await answered()
    finally:
        worker.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await worker
        await models.aclose()
    assert answer["status"] == "complete", answer
    assert str(answer["content"]).strip()
    assert answer["model"] == EMBEDDED_MODEL  # an advisor's hint needs a real provider
    notice = str(answer["notice"])
    assert "offline" in notice
    assert "OPENAI_API_KEY" in notice
    assert int(str(answer["tokensUsed"])) > 0
