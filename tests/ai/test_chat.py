"""Advisors answering, end to end through the functions: a real local OpenAI-compatible
server scripted per test, the scheduled worker running rounds, on SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Any

import pytest

from advisor_chat.errors import Code, FunctionError
from advisor_chat.functions.plans import PlanLimits
from advisor_chat.store import Store, Transaction
from tests.ai.chat_world import ALICE, BOB, FALLBACK, chat_world
from tests.functions.world import snapshot
from tests.waiting import until


def _streamed(requests: list[dict[str, Any]]) -> list[str]:
    """The models asked for answers (chores ask without streaming)."""
    return [r["model"] for r in requests if r.get("stream")]


def _said(request: dict[str, Any]) -> str:
    """Everything a request showed the model, as one text."""
    return "\n".join(str(m["content"]) for m in request["messages"])


async def test_mentions_answer_in_mention_order_and_see_each_other(store: Store) -> None:
    async with chat_world(store) as chat:
        chat.server.reply("Ship the smallest thing first.")
        chat.server.reply("Agreed with Dev; keep 18 months of runway.")
        await chat.send("@dev raghunathan and @Margaret: should we build or buy?")
        answers = await chat.settled(2)
        assert [a["advisorId"] for a in answers] == [
            chat.advisors["Dev"],
            chat.advisors["Margaret"],
        ]
        assert [a["content"] for a in answers] == [
            "Ship the smallest thing first.",
            "Agreed with Dev; keep 18 months of runway.",
        ]
        assert all(a["status"] == "complete" and a["model"] == FALLBACK for a in answers)
        assert all(a["tokensUsed"] > 0 for a in answers)
        first, second = chat.server.requests[:2]
        assert "Dev Raghunathan" in first["messages"][0]["content"]  # the persona speaks
        # Margaret's prompt holds Dev's answer, attributed to him by name.
        assert "Ship the smallest thing first." in _said(second)
        line = next(m for m in second["messages"] if "Ship the smallest" in m["content"])
        assert "Dev Raghunathan" in line["content"]
        conversation = await chat.call(
            "conversations:getConversationById", {"conversationId": chat.conversation}
        )
        assert conversation["activeAdvisorId"] == chat.advisors["Margaret"]  # last to answer
        question = (await chat.messages())[0]
        assert question["mentions"] == [chat.advisors["Dev"], chat.advisors["Margaret"]]


async def test_board_asks_every_advisor_in_board_order(store: Store) -> None:
    async with chat_world(store) as chat:
        await chat.send("@board what is our biggest risk?")
        answers = await chat.settled(3)
        assert [a["advisorId"] for a in answers] == [
            chat.advisors["Margaret"],
            chat.advisors["Dev"],
            chat.advisors["Lucia"],
        ]
        assert all(a["status"] == "complete" and a["content"] for a in answers)


async def test_without_mentions_the_active_advisor_answers(store: Store) -> None:
    async with chat_world(store) as chat:
        await chat.send("What should I do next?")
        answers = await chat.settled(1)
        assert [a["advisorId"] for a in answers] == [chat.advisors["Margaret"]]


async def test_a_mention_from_the_users_board_joins_the_conversation(store: Store) -> None:
    async with chat_world(store, board=("Margaret",)) as chat:
        await chat.call("marketplace:selectAdvisor", {"advisorId": chat.advisors["Lucia"]})
        await chat.send("@Lucia how do we find users?")
        answers = await chat.settled(1)
        assert answers[0]["advisorId"] == chat.advisors["Lucia"]
        conversation = await chat.call(
            "conversations:getConversationById", {"conversationId": chat.conversation}
        )
        assert conversation["advisorIds"] == [chat.advisors["Margaret"], chat.advisors["Lucia"]]


async def test_bad_input_is_refused_and_starts_nothing(store: Store) -> None:
    async with chat_world(store, board=("Margaret",)) as chat:
        before = await snapshot(store)
        cases: list[tuple[dict[str, Any], Any, Code]] = [
            ({"content": "@Nobody are you there?"}, ALICE, Code.INVALID_ARGUMENT),
            ({"content": "@Dev not on any board of mine"}, ALICE, Code.INVALID_ARGUMENT),
            ({"content": "   "}, ALICE, Code.INVALID_ARGUMENT),
            ({"content": "x" * 32_001}, ALICE, Code.INVALID_ARGUMENT),
            ({"content": "hi"}, BOB, Code.NOT_FOUND),  # not Bob's conversation
        ]
        for extra, who, code in cases:
            args = {"conversationId": chat.conversation} | extra
            with pytest.raises(FunctionError) as caught:
                await chat.runner.call("messages:sendMessage", args, who)
            assert caught.value.code is code, extra
        assert await snapshot(store) == before
        assert chat.server.requests == []


async def test_stop_mid_stream_keeps_the_text_and_ends_the_round(store: Store) -> None:
    async with chat_world(store) as chat:
        words = [f" word{i}" for i in range(200)]
        chat.server.reply(words, token_delay_s=0.02)
        question = await chat.send("@board tell me everything")

        async def streaming_text() -> bool:
            answers = await chat.answers()
            if not answers:
                return False
            text = await chat.call("messages:getStreamingText", {"messageId": answers[0]["_id"]})
            return text["status"] == "streaming" and len(text["content"]) > 20

        await until(streaming_text, 10, "the first answer streaming")
        stopped = await chat.call("messages:stop", {"messageId": question})
        assert stopped == 1
        # The cancelled round still ends its answer, keeping the longer text it held: the
        # answer is final once the round's call has ended.
        await until(lambda: _round_ended(store), 10, "the round's call ended")
        answers = await chat.settled(1)
        assert len(answers) == 1  # the other advisors of the round never started
        answer = answers[0]
        assert answer["status"] == "stopped"
        assert 20 < len(answer["content"]) < len("".join(words))
        assert "".join(words).startswith(answer["content"])
        after = await chat.call("messages:getStreamingText", {"messageId": answer["_id"]})
        assert after == {"messageId": answer["_id"], "status": "stopped"} | {
            "content": answer["content"]
        } | {k: answer[k] for k in ("model", "notice") if k in answer}

        async def no_deltas(tx: Transaction) -> int:
            return len(await tx.query("streamDeltas").collect())

        assert (await store.query(no_deltas)).value == 0
        assert len(await chat.answers()) == 1


async def _round_ended(store: Store) -> bool:
    async def read(tx: Transaction) -> list[str]:
        return [c["state"] for c in await tx.query("scheduledFunctions").collect()]

    states = (await store.query(read)).value
    return "inProgress" not in states and "pending" not in states


async def test_a_failing_model_is_retried_then_the_fallback_answers(store: Store) -> None:
    async with chat_world(store, hints={"Margaret": "primary-model"}) as chat:
        chat.server.fail(500, "upstream overloaded", times=3, model="primary-model")
        chat.server.reply("From the fallback.", model=FALLBACK)
        await chat.send("hello")
        [answer] = await chat.settled(1, within=30)
        assert answer["status"] == "complete"
        assert answer["content"] == "From the fallback."
        assert answer["model"] == FALLBACK
        assert "primary-model" in answer["notice"]
        assert _streamed(chat.server.requests) == ["primary-model"] * 3 + [FALLBACK]


async def test_an_unknown_model_falls_back_at_once(store: Store) -> None:
    async with chat_world(store, hints={"Margaret": "no-such-model"}) as chat:
        chat.server.known_models = {FALLBACK}
        await chat.send("hello")
        [answer] = await chat.settled(1)
        assert answer["status"] == "complete"
        assert _streamed(chat.server.requests) == ["no-such-model", FALLBACK]


async def test_a_misconfigured_provider_gives_an_error_answer_saying_what_to_fix(
    store: Store,
) -> None:
    async with chat_world(store) as chat:
        chat.server.api_key = "sk-another-key"  # ours is now wrong
        await chat.send("hello")
        [answer] = await chat.settled(1, within=30)
        assert answer["status"] == "error"
        assert answer["errorCode"] == "PROVIDER_ERROR"
        assert "OPENAI_API_KEY" in answer["error"]
        assert answer["content"] == ""


async def test_a_stream_cut_mid_way_keeps_its_partial_text(store: Store) -> None:
    async with chat_world(store) as chat:
        chat.server.fail_midstream(3, "one two three four five six")
        await chat.send("hello")
        [answer] = await chat.settled(1, within=30)
        assert answer["status"] == "error"
        assert answer["content"] == "one two three"
        assert "cut off" in answer["error"]


async def test_regenerate_keeps_earlier_versions_to_go_back_to(store: Store) -> None:
    async with chat_world(store) as chat:
        chat.server.reply("First take.")
        await chat.send("Pricing?")
        [answer] = await chat.settled(1)
        # The first round's chores end first: else one of them could take the next script.
        await until(lambda: _round_ended(store), 10, "the first round and its chores ended")
        chat.server.reply("Second take.")
        await chat.call("messages:regenerate", {"messageId": answer["_id"]})
        [again] = await chat.settled(1)
        assert again["_id"] == answer["_id"]
        assert again["content"] == "Second take."
        assert [v["content"] for v in again["versions"]] == ["First take."]
        # The regenerated answer was written from what came before it, not from itself. (The
        # system prompt may hold memories the first round's chores drew from it: the
        # scripted memory chore echoes the exchange.)
        [*_, asked] = [r for r in chat.server.requests if r.get("stream")]
        history = [m for m in asked["messages"] if m["role"] != "system"]
        assert all("First take." not in str(m["content"]) for m in history)
        back = await chat.call("messages:selectVersion", {"messageId": answer["_id"], "version": 0})
        assert back["content"] == "First take."
        assert [v["content"] for v in back["versions"]] == ["Second take."]


async def test_over_the_daily_generations_the_message_is_kept_and_told_why(store: Store) -> None:
    limits = {"free": PlanLimits(messages_per_minute=100, generations_per_day=2)}
    async with chat_world(store, limits=limits) as chat:
        await chat.send("@board three advisors, two answers left")
        messages = await chat.messages()
        assert [m["sender"] for m in messages] == ["user", "system"]
        assert messages[1]["errorCode"] == "RATE_LIMITED"
        assert "2 generations a day" in messages[1]["content"]
        await chat.send("just one")
        await chat.settled(1)  # a round within the limit still runs


async def test_a_long_conversation_builds_its_prompt_within_budget(store: Store) -> None:
    """2,000 messages, a summary and memories: the prompt holds the summary, the
    memories and the newest messages, within the budget, and never the oldest."""
    budget = 2_000
    async with chat_world(store, context_tokens=budget) as chat:
        margaret = chat.advisors["Margaret"]

        async def fill(tx: Transaction) -> list[str]:
            ids: list[str] = []
            for i in range(2_000):
                sender = "user" if i % 2 == 0 else "advisor"
                ids.append(
                    await tx.insert(
                        "messages",
                        {
                            "conversationId": chat.conversation,
                            "sender": sender,
                            "content": f"message number {i} about topic {i % 37}",
                            "mentions": [],
                            "createdAt": 1_000_000 + i,
                            "status": "complete",
                        }
                        | ({"advisorId": margaret} if sender == "advisor" else {}),
                    )
                )
            return ids

        ids: list[str] = list((await store.mutation(fill)).value)
        await chat.call(
            "threadSummaries:createSummary",
            {
                "conversationId": chat.conversation,
                "content": "The founders chose a bootstrapped path in March.",
                "startMessageId": ids[0],
                "endMessageId": ids[1_499],
            },
        )
        await chat.call(
            "advisorMemories:setMemory",
            {
                "conversationId": chat.conversation,
                "advisorId": margaret,
                "key": "monthly_burn",
                "value": "42k EUR",
            },
        )
        await chat.send("So what now?")
        await until(lambda: _round_ended(store), 20, "the round and its chores")
        said = _said(chat.server.requests[0])
        assert "bootstrapped path in March" in said
        assert "42k EUR" in said
        assert "So what now?" in said
        assert "message number 1999 " in said
        assert "message number 1499 " not in said  # covered by the summary
        assert "message number 0 " not in said
        words = sum(len(m["content"].split()) for m in chat.server.requests[0]["messages"])
        assert words < budget  # far fewer words than tokens: within the budget


async def test_chores_title_the_conversation_and_remember_facts(store: Store) -> None:
    async with chat_world(store, board=("Margaret",)) as chat:
        # An untitled conversation: the round's chores name it and keep the facts.
        chat.server.reply("Keep costs low while you find product-market fit.")
        chat.server.reply("Bootstrapping a bakery app")  # the title
        chat.server.reply("monthly_burn: 42k EUR\nteam_size: 3 people\nnonsense line")
        await chat.send(
            "We burn 42k EUR a month with 3 people. How do we bootstrap our bakery app?"
        )
        await chat.settled(1)

        async def titled() -> bool:
            conversation = await chat.call(
                "conversations:getConversationById", {"conversationId": chat.conversation}
            )
            return bool(conversation.get("title"))

        await until(titled, 10, "a title")
        conversation = await chat.call(
            "conversations:getConversationById", {"conversationId": chat.conversation}
        )
        assert conversation["title"] == "Bootstrapping a bakery app"

        async def remembered() -> bool:
            found = await chat.call("advisorMemories:list", {"conversationId": chat.conversation})
            return len(found) == 2

        await until(remembered, 10, "two memories")
        memories = await chat.call("advisorMemories:list", {"conversationId": chat.conversation})
        assert {m["key"]: m["value"] for m in memories} == {
            "monthly_burn": "42k EUR",
            "team_size": "3 people",
        }
        # The next answer's prompt carries what the advisor remembers.
        chat.server.reply("Noted.")
        await chat.send("And now?")
        await chat.settled(2)
        asked = [r for r in chat.server.requests if r.get("stream")][-1]
        assert "42k EUR" in _said(asked)


async def test_a_named_conversation_keeps_its_name(store: Store) -> None:
    async with chat_world(store, board=("Margaret",)) as chat:
        await chat.call(
            "conversations:updateConversation",
            {"conversationId": chat.conversation, "title": "Mine"},
        )
        await chat.send("hello")
        await chat.settled(1)
        await until(lambda: _round_ended(store), 10, "chores ended")
        conversation = await chat.call(
            "conversations:getConversationById", {"conversationId": chat.conversation}
        )
        assert conversation["title"] == "Mine"
