"""Advisors answering, end to end through the functions: a real local OpenAI-compatible
server scripted per test, the scheduled worker running rounds, on SQLite and PostgreSQL."""

from __future__ import annotations

import contextlib
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from advisor_chat.ai.models import Models
from advisor_chat.ai.providers.openai_compatible import OpenAICompatible
from advisor_chat.errors import Code, FunctionError
from advisor_chat.functions.plans import PlanLimits
from advisor_chat.store import Store, Transaction
from tests.ai.chat_world import ALICE, BOB, FALLBACK, KEY, add_advisor, chat_world
from tests.functions.world import snapshot
from tests.services import free_port
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


async def test_an_id_in_mentions_from_the_users_board_joins_and_answers(store: Store) -> None:
    """A client that resolved the mention itself (the web app's autocomplete, say) names
    the advisor by id: it joins the conversation and answers, as a typed @name does."""
    async with chat_world(store, board=("Margaret",)) as chat:
        await chat.call("marketplace:selectAdvisor", {"advisorId": chat.advisors["Lucia"]})
        question = await chat.send("how do we find users?", mentions=[chat.advisors["Lucia"]])
        answers = await chat.settled(1)
        assert [a["advisorId"] for a in answers] == [chat.advisors["Lucia"]]
        [asked] = [m for m in await chat.messages() if m["_id"] == question]
        assert asked["mentions"] == [chat.advisors["Lucia"]]
        conversation = await chat.call(
            "conversations:getConversationById", {"conversationId": chat.conversation}
        )
        assert conversation["advisorIds"] == [chat.advisors["Margaret"], chat.advisors["Lucia"]]


async def test_bad_input_is_refused_and_starts_nothing(store: Store) -> None:
    async with chat_world(store, board=("Margaret",)) as chat:
        before = await snapshot(store)
        cases: list[tuple[dict[str, Any], Any, Code]] = [
            # Dev is in the marketplace but on neither board: asking him is refused.
            ({"content": "@Dev are you there?"}, ALICE, Code.INVALID_ARGUMENT),
            ({"content": "and @dev raghunathan?"}, ALICE, Code.INVALID_ARGUMENT),
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

        async def agree() -> bool:
            """The text query and the message list give the same final text (a commit the
            cancelled round had in flight may still land just after its call ended)."""
            after = await chat.call("messages:getStreamingText", {"messageId": answer["_id"]})
            [listed] = await chat.answers()
            expected = (
                {"messageId": answer["_id"], "status": "stopped"}
                | {"content": listed["content"]}
                | {k: listed[k] for k in ("model", "notice") if k in listed}
            )
            return bool(after == expected)

        await until(agree, 5, "the text query agreeing with the list")

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
        # The title and the memories are asked at once: each reply waits for its own.
        chat.server.reply("Bootstrapping a bakery app", when="You write titles")
        chat.server.reply(
            "monthly_burn: 42k EUR\nteam_size: 3 people\nnonsense line", when="durable facts"
        )
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


async def test_an_unreachable_provider_gives_an_error_answer_not_a_hang(store: Store) -> None:
    async with chat_world(store, board=("Margaret",)) as chat:
        closed = free_port()  # nothing listens there
        chat.runner.models = Models(
            OpenAICompatible(f"http://127.0.0.1:{closed}/v1", KEY, timeout_s=5),
            global_model=FALLBACK,
        )
        await chat.send("hello")
        [answer] = await chat.settled(1, within=30)
        assert answer["status"] == "error"
        assert "OPENAI_BASE_URL" in answer["error"]
        assert f"127.0.0.1:{closed}" in answer["error"]


async def test_an_unknown_model_everywhere_says_which_model(store: Store) -> None:
    async with chat_world(store, board=("Margaret",)) as chat:
        chat.server.known_models = {"some-other-model"}
        await chat.send("hello")
        [answer] = await chat.settled(1, within=30)
        assert answer["status"] == "error"
        assert FALLBACK in answer["error"]
        assert _streamed(chat.server.requests) == [FALLBACK]  # retrying cannot help


async def test_history_beyond_the_budget_is_summarised(store: Store) -> None:
    async with chat_world(store, board=("Margaret",), context_tokens=600) as chat:
        for i in range(6):
            chat.server.reply(f"Answer {i}: " + "numbers and more numbers " * 20)
            await chat.send(f"Question {i}: " + "tell me about the runway " * 20)
            await chat.settled(i + 1)
            await until(lambda: _round_ended(store), 10, "the round and its chores")
        summaries = await chat.call(
            "threadSummaries:getConversationSummaries", {"conversationId": chat.conversation}
        )
        assert summaries, "no summary was written"
        latest = summaries[-1]
        messages = await chat.messages()
        ids = [m["_id"] for m in messages]
        assert latest["startMessageId"] == ids[0]
        assert ids.index(latest["endMessageId"]) < len(ids) - 2  # the newest stay verbatim
        # The next answer's prompt carries the summary.
        chat.server.reply("Noted.")
        await chat.send("And so?")
        await chat.settled(7)
        asked = [r for r in chat.server.requests if r.get("stream")][-1]
        assert latest["content"] in _said(asked)


async def test_other_at_words_are_plain_text_and_shared_first_names_are_asked_in_full(
    store: Store,
) -> None:
    async with chat_world(store, board=("Margaret",)) as chat:
        await chat.send("Is @dataclass or @Stripe better for @margaret's billing code?")
        [answer] = await chat.settled(1)
        assert answer["advisorId"] == chat.advisors["Margaret"]
        other = await add_advisor(store, {"name": "Margaret Okafor", "title": "Lawyer"})
        await chat.call(
            "conversations:updateConversation",
            {"conversationId": chat.conversation, "title": "Two Margarets"},
        )
        await chat.call("marketplace:selectAdvisor", {"advisorId": other})
        await chat.send("@Margaret Okafor, please join")  # from Alice's board: joins
        await chat.settled(2)
        with pytest.raises(FunctionError) as caught:
            await chat.send("@Margaret which of you?")
        assert caught.value.code is Code.INVALID_ARGUMENT
        assert "Margaret Thornbury or Margaret Okafor" in caught.value.message


async def test_stop_then_regenerate_writes_the_new_answer_whole(store: Store) -> None:
    async with chat_world(store, board=("Margaret",)) as chat:
        chat.server.reply([f" old{i}" for i in range(300)], token_delay_s=0.02)
        question = await chat.send("a long one")

        async def streaming() -> bool:
            found = await chat.answers()
            if not found:
                return False
            text = await chat.call("messages:getStreamingText", {"messageId": found[0]["_id"]})
            return len(text["content"]) > 20

        await until(streaming, 10, "the answer streaming")
        await chat.call("messages:stop", {"messageId": question})
        [stopped] = await chat.answers()
        chat.server.reply("A fresh answer.")
        await chat.call("messages:regenerate", {"messageId": stopped["_id"]})
        await chat.settled(1)
        await until(lambda: _round_ended(store), 10, "both rounds ended")
        [answer] = await chat.answers()
        assert answer["status"] == "complete"
        assert answer["content"] == "A fresh answer."
        # The earlier version holds the stopped text (the stopped round may still have
        # added what it held before the regenerate), and the new round's answer is whole.
        [earlier] = answer["versions"]
        assert earlier["status"] == "stopped"
        assert earlier["content"].startswith(stopped["content"])
        assert " old0 old1".startswith(earlier["content"][:10])


async def test_a_second_round_at_once_does_not_change_the_first_rounds_question(
    store: Store,
) -> None:
    async with chat_world(store) as chat:
        chat.server.reply([f" m{i}" for i in range(60)], token_delay_s=0.02)
        await chat.send("@board first question")

        async def started() -> bool:
            return len(chat.server.requests) >= 1

        await until(started, 10, "the first answer started")
        await chat.send("@Lucia second question")
        await chat.settled(4, within=30)
        await until(lambda: _round_ended(store), 10, "both rounds ended")
        asked = [r for r in chat.server.requests if r.get("stream")]
        last_user = [  # the user's own last words (other advisors' answers read "[Name…")
            next(
                m["content"]
                for m in reversed(r["messages"])
                if m["role"] == "user" and not m["content"].startswith("[")
            )
            for r in asked
        ]
        # Round one's three advisors were asked the first question, whatever came after.
        assert last_user.count("@board first question") == 3
        assert last_user.count("@Lucia second question") == 1


async def test_the_users_own_memory_is_never_overwritten(store: Store) -> None:
    async with chat_world(store, board=("Margaret",)) as chat:
        margaret = chat.advisors["Margaret"]
        await chat.call(
            "advisorMemories:setMemory",
            {
                "conversationId": chat.conversation,
                "advisorId": margaret,
                "key": "monthly_burn",
                "value": "38k EUR since March",
            },
        )
        await chat.call(
            "conversations:updateConversation",
            {"conversationId": chat.conversation, "title": "Burn"},
        )
        chat.server.reply("Noted.")
        chat.server.reply("monthly_burn: 42k EUR\nteam_size: 3 people")
        await chat.send("We burn 42k EUR a month with 3 people.")
        await chat.settled(1)
        await until(lambda: _round_ended(store), 10, "the chores")
        memories = await chat.call("advisorMemories:list", {"conversationId": chat.conversation})
        assert {m["key"]: m["value"] for m in memories} == {
            "monthly_burn": "38k EUR since March",
            "team_size": "3 people",
        }


async def test_a_database_refusing_an_answers_writes_ends_it_error_not_streaming(
    store: Store, tmp_path: Path
) -> None:
    """A real failure of the database mid-answer (a trigger refusing the chunks' table),
    not a stand-in: the answer ends `error` with its text, never left streaming."""
    if store.backend.dialect.name != "sqlite":
        pytest.skip("the refusing trigger is SQLite's; the path is the same on PostgreSQL")
    async with chat_world(store, board=("Margaret",)) as chat:
        chat.server.reply([f" t{i}" for i in range(100)], token_delay_s=0.02)
        await chat.send("go")

        async def streaming() -> bool:
            found = await chat.answers()
            if not found:
                return False
            text = await chat.call("messages:getStreamingText", {"messageId": found[0]["_id"]})
            return len(text["content"]) > 10

        await until(streaming, 10, "the answer streaming")
        with contextlib.closing(sqlite3.connect(tmp_path / "store.sqlite3")) as raw:
            raw.execute(
                'CREATE TRIGGER refuse BEFORE INSERT ON "streamDeltas" '
                "BEGIN SELECT RAISE(ABORT, 'the disk is full'); END"
            )
            raw.commit()
        [answer] = await chat.settled(1, within=30)
        assert answer["status"] == "error"
        assert answer["content"].startswith(" t0 t1")
        assert "failed" in answer["error"]
