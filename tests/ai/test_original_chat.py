"""The original app's `chat:sendChatMessage` action and seed 002's `streamAssistantResponse`,
end to end on the chat engine: a real local OpenAI-compatible server, the scheduled worker
running rounds, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import pytest

from advisor_chat.errors import Code, FunctionError
from advisor_chat.functions.plans import PlanLimits
from advisor_chat.functions.timings import Timings
from advisor_chat.store import Store, Transaction
from tests.ai.chat_world import ALICE, BOB, FALLBACK, Chat, add_advisor, chat_world
from tests.functions.world import snapshot
from tests.waiting import until


async def _calls_ended(store: Store) -> bool:
    """No scheduled call is pending or running: rounds and their chores are over."""

    async def read(tx: Transaction) -> list[str]:
        return [c["state"] for c in await tx.query("scheduledFunctions").collect()]

    states = (await store.query(read)).value
    return "inProgress" not in states and "pending" not in states


async def _deltas(store: Store) -> list[dict[str, Any]]:
    async def read(tx: Transaction) -> list[dict[str, Any]]:
        return list(await tx.query("streamDeltas").collect())

    return (await store.query(read)).value


async def _conversation(chat: Chat) -> dict[str, Any]:
    found: dict[str, Any] = await chat.call(
        "conversations:getConversationById", {"conversationId": chat.conversation}
    )
    return found


async def _refused(chat: Chat, path: str, args: dict[str, Any], who: Any = ALICE) -> FunctionError:
    with pytest.raises(FunctionError) as caught:
        await chat.runner.call(path, args, who)
    return caught.value


# --- chat:sendChatMessage ------------------------------------------------------------------


async def test_send_chat_message_answers_with_the_models_text(store: Store) -> None:
    async with chat_world(store) as chat:
        chat.server.reply("Keep eighteen months of runway.")
        result = await chat.call(
            "chat:sendChatMessage",
            {"conversationId": chat.conversation, "message": "How long should our runway be?"},
        )
        [question, answer] = await chat.messages()
        assert question["sender"] == "user"
        assert question["content"] == "How long should our runway be?"
        assert answer["advisorId"] == chat.advisors["Margaret"]  # the active advisor
        assert answer["status"] == "complete"
        assert answer["model"] == FALLBACK
        assert result == {
            "success": True,
            "messageId": answer["_id"],
            "content": "Keep eighteen months of runway.",
            "tokensUsed": answer["tokensUsed"],
        }
        assert answer["tokensUsed"] > 0
        asked = chat.server.requests[0]
        assert "Margaret Thornbury" in asked["messages"][0]["content"]  # the persona speaks
        assert asked["messages"][-1]["content"].endswith("How long should our runway be?")


async def test_send_chat_message_to_the_advisor_given(store: Store) -> None:
    async with chat_world(store, board=("Margaret",)) as chat:
        chat.server.reply("Build the smallest thing.")
        chat.server.reply("Price it per seat.")
        # Dev is on the board: he answers, and becomes the active advisor.
        dev = await chat.call(
            "chat:sendChatMessage",
            {
                "conversationId": chat.conversation,
                "message": "Build or buy?",
                "advisorId": chat.advisors["Dev"],
            },
        )
        assert dev["content"] == "Build the smallest thing."
        await until(lambda: _calls_ended(store), 10, "the first round's chores")
        # Lucia, public but on no board yet, is seated on this one to answer.
        lucia = await chat.call(
            "chat:sendChatMessage",
            {
                "conversationId": chat.conversation,
                "message": "And pricing?",
                "advisorId": chat.advisors["Lucia"],
            },
        )
        answers = await chat.answers()
        assert [a["advisorId"] for a in answers] == [chat.advisors["Dev"], chat.advisors["Lucia"]]
        assert [a["_id"] for a in answers] == [dev["messageId"], lucia["messageId"]]
        conversation = await _conversation(chat)
        assert conversation["advisorIds"] == [
            chat.advisors["Margaret"],
            chat.advisors["Dev"],
            chat.advisors["Lucia"],
        ]
        assert conversation["activeAdvisorId"] == chat.advisors["Lucia"]


async def test_send_chat_message_streams_its_answer_to_readers_meanwhile(store: Store) -> None:
    async with chat_world(store, board=("Margaret",)) as chat:
        words = [f" w{i}" for i in range(80)]
        chat.server.reply(words, token_delay_s=0.02)
        sending = asyncio.create_task(
            chat.call(
                "chat:sendChatMessage",
                {"conversationId": chat.conversation, "message": "Tell me everything."},
            )
        )
        seen: list[str] = []

        async def streaming() -> bool:
            answers = await chat.answers()
            if not answers:
                return False
            text = await chat.call("messages:getStreamingText", {"messageId": answers[0]["_id"]})
            if text["status"] == "streaming" and text["content"]:
                seen.append(text["content"])
            return len(seen) >= 2

        await until(streaming, 10, "the answer streaming to a reader")
        result = await sending
        assert result["content"] == "".join(words)
        assert all(result["content"].startswith(part) for part in seen)
        assert len(seen[0]) < len(result["content"])


async def test_send_chat_message_cut_off_stops_its_round(store: Store) -> None:
    async with chat_world(store, board=("Margaret",)) as chat:
        chat.server.reply([f" t{i}" for i in range(300)], token_delay_s=0.02)
        sending = asyncio.create_task(
            chat.call(
                "chat:sendChatMessage",
                {"conversationId": chat.conversation, "message": "A long one."},
            )
        )

        async def streaming() -> bool:
            answers = await chat.answers()
            if not answers:
                return False
            text = await chat.call("messages:getStreamingText", {"messageId": answers[0]["_id"]})
            return len(text["content"]) > 20

        await until(streaming, 10, "the answer streaming")
        sending.cancel()  # the caller's connection closed
        with contextlib.suppress(asyncio.CancelledError):
            await sending
        await until(lambda: _calls_ended(store), 10, "the round ended")
        [answer] = await chat.settled(1)
        assert answer["status"] == "stopped"
        assert 20 < len(answer["content"]) < len("".join(f" t{i}" for i in range(300)))
        assert await _deltas(store) == []


async def test_send_chat_message_raises_a_failed_answers_code(store: Store) -> None:
    async with chat_world(store, board=("Margaret",)) as chat:
        chat.server.api_key = "sk-another-key"  # ours is now wrong
        failed = await _refused(
            chat,
            "chat:sendChatMessage",
            {"conversationId": chat.conversation, "message": "hello"},
        )
        assert failed.code is Code.PROVIDER_ERROR
        assert "OPENAI_API_KEY" in failed.message
        [answer] = await chat.answers()  # the answer is kept, as any failed answer
        assert failed.data["messageId"] == answer["_id"]
        assert answer["status"] == "error"


async def test_send_chat_message_refusals_write_nothing(store: Store) -> None:
    limits = {"free": PlanLimits(messages_per_minute=100, generations_per_day=1, value_bytes=1_000)}
    async with chat_world(store, limits=limits, board=("Margaret",)) as chat:
        bare = await chat.call("conversations:createConversation", {"title": "No board"})
        bobs = await add_advisor(store, {"name": "Bo Lind", "title": "CMO"}, isPublic=False)
        archived = await add_advisor(store, {"name": "Ann Old", "title": "CEO"}, status="archived")
        before = await snapshot(store)
        conversation = chat.conversation
        cases: list[tuple[dict[str, Any], Any, Code, str | None]] = [
            ({"conversationId": bare, "message": "hi"}, ALICE, Code.INVALID_ARGUMENT, "advisorId"),
            (
                {"conversationId": conversation, "message": "  "},
                ALICE,
                Code.INVALID_ARGUMENT,
                "message",
            ),
            ({"conversationId": conversation, "message": "hi"}, BOB, Code.NOT_FOUND, None),
            (
                {"conversationId": conversation, "message": "hi", "advisorId": bobs},
                ALICE,
                Code.NOT_FOUND,
                None,
            ),
            (
                {"conversationId": conversation, "message": "hi", "advisorId": archived},
                ALICE,
                Code.INVALID_ARGUMENT,
                "advisorId",
            ),
            (
                {"conversationId": conversation, "message": "é" * 501},
                ALICE,
                Code.STORAGE_LIMITED,
                "message",
            ),
            (
                {"conversationId": conversation, "message": "x" * 32_001},
                ALICE,
                Code.INVALID_ARGUMENT,
                "message",
            ),
        ]
        for args, who, code, field in cases:
            refused = await _refused(chat, "chat:sendChatMessage", args, who)
            assert refused.code is code, (args, refused.message)
            assert refused.data.get("field") == field, refused.data
        assert (
            "no active advisor"
            in (await _refused(chat, "chat:sendChatMessage", cases[0][0])).message
        )
        assert await snapshot(store) == before
        # Over the plan's generations a day: refused whole, nothing kept (sendMessage would
        # keep the question with a notice; this call promises an answer).
        await chat.call("chat:sendChatMessage", {"conversationId": conversation, "message": "1"})
        await until(lambda: _calls_ended(store), 10, "the first round's chores")
        before = await snapshot(store)
        over = await _refused(
            chat, "chat:sendChatMessage", {"conversationId": conversation, "message": "2"}
        )
        assert over.code is Code.RATE_LIMITED
        assert "1 generations a day" in over.message
        assert await snapshot(store) == before
        assert len([r for r in chat.server.requests if r.get("stream")]) == 1


async def test_send_chat_message_counts_against_the_messages_quota(store: Store) -> None:
    limits = {"free": PlanLimits(messages_per_minute=1, generations_per_day=100)}
    async with chat_world(store, limits=limits, board=("Margaret",)) as chat:
        await chat.send("the one message this minute")
        await chat.settled(1)
        await until(lambda: _calls_ended(store), 10, "the round's chores")
        before = await snapshot(store)
        over = await _refused(
            chat, "chat:sendChatMessage", {"conversationId": chat.conversation, "message": "more"}
        )
        assert over.code is Code.RATE_LIMITED
        assert await snapshot(store) == before


# --- streamAssistantResponse: the engine answers -----------------------------------------


@pytest.mark.parametrize(
    "path", ["chat:streamAssistantResponse", "messages:streamAssistantResponse"]
)
async def test_stream_assistant_response_starts_one_advisors_answer(
    store: Store, path: str
) -> None:
    async with chat_world(store, board=("Margaret",)) as chat:
        await chat.call(
            "conversations:updateConversation",
            {"conversationId": chat.conversation, "title": "Named"},
        )
        chat.server.reply("Margaret's view.")
        await chat.send("What do you all think of the plan?")
        await chat.settled(1)
        await until(lambda: _calls_ended(store), 10, "the round's chores")
        chat.server.reply("Dev's view: ship it.")
        message_id = await chat.call(
            path, {"conversationId": chat.conversation, "advisorId": chat.advisors["Dev"]}
        )
        [_, answer] = await chat.settled(2)
        assert answer["_id"] == message_id
        assert answer["advisorId"] == chat.advisors["Dev"]
        assert answer["status"] == "complete"
        assert answer["content"] == "Dev's view: ship it."
        # Dev answered the conversation so far, Margaret's answer included.
        asked = [r for r in chat.server.requests if r.get("stream")][-1]
        said = "\n".join(str(m["content"]) for m in asked["messages"])
        assert "What do you all think of the plan?" in said
        assert "Margaret's view." in said
        conversation = await _conversation(chat)
        assert chat.advisors["Dev"] in conversation["advisorIds"]  # seated to answer
        assert conversation["activeAdvisorId"] == chat.advisors["Dev"]


async def test_stream_assistant_response_can_be_stopped_like_any_answer(store: Store) -> None:
    async with chat_world(store, board=("Margaret",)) as chat:
        chat.server.reply([f" s{i}" for i in range(300)], token_delay_s=0.02)
        message_id = await chat.call(
            "chat:streamAssistantResponse",
            {"conversationId": chat.conversation, "advisorId": chat.advisors["Margaret"]},
        )

        async def streaming() -> bool:
            text = await chat.call("messages:getStreamingText", {"messageId": message_id})
            return len(text["content"]) > 20

        await until(streaming, 10, "the answer streaming")
        assert await chat.call("messages:stop", {"messageId": message_id}) == 1
        await until(lambda: _calls_ended(store), 10, "the round ended")
        [answer] = await chat.settled(1)
        assert answer["status"] == "stopped"
        assert answer["content"].startswith(" s0 s1")


async def test_stream_assistant_response_refusals_write_nothing(store: Store) -> None:
    limits = {"free": PlanLimits(messages_per_minute=100, generations_per_day=0)}
    async with chat_world(store, limits=limits, board=("Margaret",)) as chat:
        bobs = await add_advisor(store, {"name": "Bo Lind", "title": "CMO"}, isPublic=False)
        before = await snapshot(store)
        margaret = chat.advisors["Margaret"]
        conversation = chat.conversation
        cases: list[tuple[dict[str, Any], Any, Code]] = [
            ({"conversationId": conversation, "advisorId": margaret}, ALICE, Code.RATE_LIMITED),
            ({"conversationId": conversation, "advisorId": margaret}, BOB, Code.NOT_FOUND),
            ({"conversationId": conversation, "advisorId": bobs}, ALICE, Code.NOT_FOUND),
            (
                {"conversationId": conversation, "advisorId": margaret, "done": True},
                ALICE,
                Code.INVALID_ARGUMENT,
            ),
        ]
        for args, who, code in cases:
            refused = await _refused(chat, "chat:streamAssistantResponse", args, who)
            assert refused.code is code, (args, refused.message)
        assert await snapshot(store) == before
        assert chat.server.requests == []


# --- streamAssistantResponse: a client streams the answer itself -----------------------


async def _client_stream(chat: Chat, **extra: Any) -> str:
    args = {
        "conversationId": chat.conversation,
        "advisorId": chat.advisors["Margaret"],
    } | extra
    return str(await chat.call("chat:streamAssistantResponse", args))


async def test_a_client_streamed_answer_is_persisted_chunk_by_chunk_and_ends_complete(
    store: Store,
) -> None:
    async with chat_world(store) as chat:
        message_id = await _client_stream(chat, partialChunks=["Keep ", "costs "])
        text = await chat.call("messages:getStreamingText", {"messageId": message_id})
        assert (text["status"], text["content"]) == ("streaming", "Keep costs ")
        assert len(await _deltas(store)) == 1  # one row per call, whatever its chunks
        same = await _client_stream(chat, partialChunks=["low"], messageId=message_id)
        assert same == message_id
        assert len(await _deltas(store)) == 2
        await _client_stream(chat, partialChunks=[", for now."], messageId=message_id, done=True)
        [answer] = await chat.answers()
        assert answer["_id"] == message_id
        assert answer["status"] == "complete"
        assert answer["content"] == "Keep costs low, for now."
        assert answer["advisorId"] == chat.advisors["Margaret"]
        assert await _deltas(store) == []
        assert chat.server.requests == []  # the client's text, not the model's
        # Its end is final: a late call is refused and changes nothing.
        before = await snapshot(store)
        late = await _refused(
            chat,
            "chat:streamAssistantResponse",
            {
                "conversationId": chat.conversation,
                "advisorId": chat.advisors["Margaret"],
                "partialChunks": ["more"],
                "messageId": message_id,
            },
        )
        assert late.code is Code.CONFLICT
        assert await snapshot(store) == before


async def test_a_client_that_stops_sending_leaves_a_stopped_answer(store: Store) -> None:
    async with chat_world(store) as chat:
        chat.runner.timings = Timings(client_stream_idle_ms=300)
        message_id = await _client_stream(chat, partialChunks=["Half an"])
        await _client_stream(chat, partialChunks=[" answer"], messageId=message_id)
        [answer] = await chat.settled(1)
        assert answer["status"] == "stopped"
        assert answer["content"] == "Half an answer"
        assert await _deltas(store) == []
        await until(lambda: _calls_ended(store), 10, "the idle end's calls")


async def test_the_stop_button_ends_a_client_streamed_answer(store: Store) -> None:
    async with chat_world(store) as chat:
        message_id = await _client_stream(chat, partialChunks=["Some text"])
        assert await chat.call("messages:stop", {"conversationId": chat.conversation}) == 1
        [answer] = await chat.answers()
        assert answer["_id"] == message_id
        assert (answer["status"], answer["content"]) == ("stopped", "Some text")


async def test_client_stream_refusals_write_nothing(store: Store) -> None:
    limits = {"free": PlanLimits(messages_per_minute=100, generations_per_day=100, value_bytes=64)}
    async with chat_world(store, limits=limits, board=("Margaret",)) as chat:
        chat.server.reply("The engine's answer.")
        await chat.send("hello")
        [engine] = await chat.settled(1)
        await until(lambda: _calls_ended(store), 10, "the round's chores")
        streaming = await _client_stream(chat, partialChunks=["x" * 60])
        margaret = chat.advisors["Margaret"]
        base = {"conversationId": chat.conversation, "advisorId": margaret}
        before = await snapshot(store)
        cases: list[tuple[dict[str, Any], Any, Code, str | None]] = [
            # The engine's answer is not the client's to write.
            (
                base | {"partialChunks": ["x"], "messageId": engine["_id"]},
                ALICE,
                Code.INVALID_ARGUMENT,
                "messageId",
            ),
            # Another advisor's name on this answer.
            (
                base
                | {
                    "advisorId": chat.advisors["Dev"],
                    "partialChunks": ["x"],
                    "messageId": streaming,
                },
                ALICE,
                Code.INVALID_ARGUMENT,
                "messageId",
            ),
            # Over the plan's value size, counted over the whole answer.
            (
                base | {"partialChunks": ["y" * 5], "messageId": streaming},
                ALICE,
                Code.STORAGE_LIMITED,
                "partialChunks",
            ),
            (base | {"partialChunks": ["é" * 40]}, ALICE, Code.STORAGE_LIMITED, "partialChunks"),
            (
                base | {"partialChunks": [], "done": True},
                ALICE,
                Code.INVALID_ARGUMENT,
                "partialChunks",
            ),
            (base | {"partialChunks": ["x"], "messageId": streaming}, BOB, Code.NOT_FOUND, None),
            (base | {"partialChunks": ["x"]}, BOB, Code.NOT_FOUND, None),
        ]
        for args, who, code, field in cases:
            refused = await _refused(chat, "chat:streamAssistantResponse", args, who)
            assert refused.code is code, (args, refused.message)
            assert refused.data.get("field") == field, refused.data
        assert await snapshot(store) == before


async def test_a_client_streamed_answer_holds_a_messages_length_at_most(store: Store) -> None:
    async with chat_world(store) as chat:
        message_id = await _client_stream(chat, partialChunks=["x" * 20_000])
        before = await snapshot(store)
        refused = await _refused(
            chat,
            "chat:streamAssistantResponse",
            {
                "conversationId": chat.conversation,
                "advisorId": chat.advisors["Margaret"],
                "partialChunks": ["x" * 10_000, "x" * 2_001],
                "messageId": message_id,
            },
        )
        assert refused.code is Code.INVALID_ARGUMENT
        assert "32000 characters" in refused.message
        assert await snapshot(store) == before
