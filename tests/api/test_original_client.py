"""The original app's frontend, replayed call for call (tests/clients/npm/original_client.mjs)
through the official Convex npm client, over the WebSocket (ConvexClient subscriptions)
and over HTTP (ConvexHttpClient), against a real `advisor-chat serve` whose model is a
real local OpenAI-compatible server, on SQLite and PostgreSQL. The flow: sign in, the
current user, the advisors, the conversation list, a new conversation with an active
advisor, the typing indicator, a message and the advisor's answer arriving in the message
list, rename, delete."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.ai.openai_server import ScriptedOpenAI
from tests.api.conftest import PASSWORD, Served, serving
from tests.clients.node import run_script

KEY = "sk-original-client"
ANSWER = "Keep eighteen months of runway, and review it every quarter."
BACKENDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


@pytest.fixture(scope="module")
def model() -> Iterator[ScriptedOpenAI]:
    with ScriptedOpenAI() as server:
        server.api_key = KEY
        yield server


@pytest.fixture(params=BACKENDS)
def original_server(
    request: pytest.FixtureRequest, tmp_path: Path, model: ScriptedOpenAI
) -> Iterator[Served]:
    env = {"OPENAI_BASE_URL": model.base_url, "OPENAI_API_KEY": KEY}
    if request.param == "postgres":
        env["DATABASE_URL"] = str(request.getfixturevalue("fresh_postgres_url"))
    with serving(tmp_path, env) as server:
        yield server


def _replay(base: str, mode: str, email: str) -> dict[str, Any]:
    env = {"MODE": mode, "EMAIL": email, "PASSWORD": PASSWORD, "NAME": "Olive Original"}
    return run_script("original_client.mjs", base, env, timeout_s=300)


@pytest.mark.parametrize("mode", ["ws", "http"])
def test_the_original_frontends_calls_work_unchanged(
    original_server: Served, model: ScriptedOpenAI, mode: str
) -> None:
    # The answer streams a token at a time, so a subscriber sees it while it is written.
    model.reply(ANSWER, token_delay_s=0.03, times=50)
    seen = _replay(original_server.base, mode, f"olive-{mode}@example.test")
    steps = seen["steps"]
    failed = {name: step["error"] for name, step in steps.items() if not step["ok"]}
    # The original's own validator refused this one too (`sender` is user, advisor or
    # system): the one step expected to fail, and nothing of it is stored.
    refused = failed.pop("sendMockAssistantMessage", None)
    assert failed == {}, json.dumps(failed, indent=1)
    assert refused is not None, "the original's `sender: 'assistant'` was accepted"
    assert refused["data"]["code"] == "INVALID_ARGUMENT"
    assert refused["data"]["field"] == "sender"

    if mode == "http":
        assert steps["signedOutCurrentUser"]["value"] is None  # null when signed out
        assert steps["signedOutAdvisors"]["value"] >= 1  # browsable before sign-up

    me = steps["getCurrentUserInfo"]["value"]
    assert me["name"] == "Olive Original"
    assert me["email"] == f"olive-{mode}@example.test"
    advisors = steps["getAllAdvisors"]["value"]
    assert len(advisors) >= 12  # the shipped marketplace
    assert all(a["persona"]["name"] and a["_id"] for a in advisors)
    assert steps["getUserConversations"]["value"] == []

    conversation = seen["conversationId"]
    advisor = seen["advisor"]
    [listed] = steps["listedAfterCreate"]["value"]
    assert listed["_id"] == conversation
    assert listed["title"] == advisor["name"]  # the rail's default title
    assert listed["activeAdvisorId"] == advisor["_id"]
    assert listed["activeAdvisor"]["name"] == advisor["name"]
    assert listed["messageCount"] == 0
    assert listed["lastMessage"] is None
    opened = steps["getConversationById"]["value"]
    assert opened["activeAdvisor"]["_id"] == advisor["_id"]
    assert opened["messages"] == []
    assert steps["getConversationMessages"]["value"] == []

    assert steps["getTypingUsers"]["value"] == []
    [typist] = steps["typingShown"]["value"]
    assert typist["_id"] == me["_id"]
    assert typist["name"] == "Olive Original"

    messages = steps["answerArrived"]["value"]
    question, answer = messages
    assert question["_id"] == steps["sendMessage"]["value"]
    assert (question["sender"], question["content"]) == ("user", "How long should our runway be?")
    assert question["mentions"] == []
    assert answer["sender"] == "advisor"
    assert answer["advisorId"] == advisor["_id"]
    assert answer["content"] == ANSWER
    assert answer["advisor"]["_id"] == advisor["_id"]
    assert answer["advisor"]["name"] == advisor["name"]
    if mode == "ws":
        # Pushed while it was written: the list showed the answer streaming, then complete.
        statuses = [s for update in seen["answerStatuses"] for s in update]
        assert "streaming" in statuses
        assert statuses[-1] == "complete"

    chatted = steps["sendChatMessage"]["value"]
    assert chatted["success"] is True
    assert chatted["content"] == ANSWER  # the model's text, not the original's demo text
    assert chatted["tokensUsed"] > 0
    assert chatted["messageId"] not in {m["_id"] for m in messages}

    assert steps["renamedShown"]["value"]["title"] == "Renamed runway talk"
    assert steps["deletedFromList"]["value"] == []
