"""The chat engine through the HTTP API alone, against a real `advisor-chat serve` whose
provider is a real local OpenAI-compatible server: a mention round, and a server killed
with SIGKILL mid-answer whose answer a restart ends `stopped` with its text."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

from tests.ai.openai_server import ScriptedOpenAI
from tests.api.conftest import LOOSE_AUTH_LIMITS, SECRET, sign_up
from tests.services import free_port, wait_until

KEY = "sk-served"


@contextmanager
def serving(data: Path, port: int, server: ScriptedOpenAI) -> Iterator[subprocess.Popen[bytes]]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("ADVISOR_CHAT_", "OPENAI_")) and k not in ("DATABASE_URL", "REDIS_URL")
    }
    env |= {
        "ADVISOR_CHAT_DATA_DIR": str(data),
        "ADVISOR_CHAT_SECRET_KEY": SECRET,
        "ADVISOR_CHAT_AUTH_LIMITS": LOOSE_AUTH_LIMITS,
        "ADVISOR_CHAT_LOG_LEVEL": "warning",
        "OPENAI_BASE_URL": server.base_url,
        "OPENAI_API_KEY": KEY,
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "advisor_chat.cli", "serve", "--port", str(port)],
        env=env,
        cwd=data,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )

    def up() -> bool:
        assert process.poll() is None, "serve exited"
        try:
            return httpx.get(f"http://127.0.0.1:{port}/ready", timeout=1).status_code == 200
        except httpx.TransportError:
            return False

    try:
        wait_until(up, 60, "advisor-chat serve")
        yield process
    finally:
        if process.poll() is None:
            process.terminate()
            process.wait(timeout=30)


class Client:
    def __init__(self, port: int, token: str) -> None:
        self.base = f"http://127.0.0.1:{port}"
        self.headers = {"Authorization": f"Bearer {token}"}

    def run(self, kind: str, path: str, args: dict[str, Any]) -> Any:
        answer = httpx.post(
            f"{self.base}/api/{kind}",
            json={"path": path, "args": args, "format": "json"},
            headers=self.headers,
            timeout=10,
        ).json()
        assert answer["status"] == "success", answer
        return answer["value"]

    def answers(self, conversation: str) -> list[dict[str, Any]]:
        page = self.run(
            "query",
            "messages:getConversationMessages",
            {"conversationId": conversation, "paginationOpts": {"numItems": 50, "cursor": None}},
        )
        return [m for m in page["page"] if m["sender"] == "advisor"]


def _board(client: Client) -> tuple[str, dict[str, str]]:
    client.run("mutation", "users:store", {})
    advisors = {
        first: client.run(
            "mutation",
            "advisors:createAdvisor",
            {"persona": {"name": f"{first} {last}", "title": title}, "tags": []},
        )
        for first, last, title in (("Ada", "Reyes", "CFO"), ("Bo", "Lind", "CMO"))
    }
    conversation = client.run(
        "mutation",
        "conversations:createConversation",
        {"advisorIds": list(advisors.values())},
    )
    return conversation, advisors


def test_a_mention_round_over_http(tmp_path: Path) -> None:
    port = free_port()
    with ScriptedOpenAI() as server, serving(tmp_path, port, server):
        server.api_key = KEY
        server.reply("Bo speaking.")
        server.reply("Ada, after Bo.")
        client = Client(port, sign_up(f"http://127.0.0.1:{port}", "http@example.test"))
        conversation, advisors = _board(client)
        client.run(
            "mutation",
            "messages:sendMessage",
            {"conversationId": conversation, "content": "@Bo then @ada reyes, please"},
        )

        def ended() -> bool:
            found = client.answers(conversation)
            return len(found) == 2 and all(a["status"] == "complete" for a in found)

        wait_until(ended, 30, "two answers")
        answers = client.answers(conversation)
        assert [(a["advisorId"], a["content"]) for a in answers] == [
            (advisors["Bo"], "Bo speaking."),
            (advisors["Ada"], "Ada, after Bo."),
        ]


def test_a_server_killed_mid_answer_leaves_it_stopped_with_its_text(tmp_path: Path) -> None:
    port = free_port()
    with ScriptedOpenAI() as server:
        server.api_key = KEY
        words = [f" w{i}" for i in range(400)]
        server.reply(words, token_delay_s=0.03)
        with serving(tmp_path, port, server) as process:
            client = Client(port, sign_up(f"http://127.0.0.1:{port}", "kill@example.test"))
            conversation, _ = _board(client)
            client.run(
                "mutation",
                "messages:sendMessage",
                {"conversationId": conversation, "content": "a long answer, please"},
            )
            seen: dict[str, Any] = {}

            def streaming() -> bool:
                found = client.answers(conversation)
                if not found:
                    return False
                text = client.run(
                    "query", "messages:getStreamingText", {"messageId": found[0]["_id"]}
                )
                seen.update(text)
                return text["status"] == "streaming" and len(text["content"]) > 30

            wait_until(streaming, 20, "the answer streaming")
            os.kill(process.pid, signal.SIGKILL)
            process.wait(timeout=10)
        with serving(tmp_path, port, server):

            def ended() -> bool:
                found = client.answers(conversation)
                return bool(found) and found[0]["status"] != "streaming"

            # The dead server's lease (8 s) lapses, then the next sweep ends its round.
            wait_until(ended, 30, "the answer ended after the restart")
            [answer] = client.answers(conversation)
        assert answer["status"] == "stopped"
        assert len(answer["content"]) >= len(seen["content"])  # nothing it had shown is lost
        assert "".join(words).startswith(answer["content"])


def test_stop_is_honoured_from_another_server_process(tmp_path: Path) -> None:
    """Two servers on one database: the answer streams from whichever runs the round, and
    the stop button pressed through the other ends it at once, with its text."""
    first, second = free_port(), free_port()
    with ScriptedOpenAI() as server:
        server.api_key = KEY
        words = [f" w{i}" for i in range(600)]
        server.reply(words, token_delay_s=0.03)
        with serving(tmp_path, first, server), serving(tmp_path, second, server):
            token = sign_up(f"http://127.0.0.1:{first}", "two@example.test")
            one, two = Client(first, token), Client(second, token)
            conversation, _ = _board(one)
            question = one.run(
                "mutation",
                "messages:sendMessage",
                {"conversationId": conversation, "content": "@board a long answer, please"},
            )

            def streaming() -> bool:
                found = two.answers(conversation)
                if not found:
                    return False
                text = two.run("query", "messages:getStreamingText", {"messageId": found[0]["_id"]})
                return len(text["content"]) > 30

            wait_until(streaming, 20, "the answer streaming")
            assert two.run("mutation", "messages:stop", {"messageId": question}) == 1
            [answer] = two.answers(conversation)
            assert answer["status"] == "stopped"
            assert "".join(words).startswith(answer["content"])
            requests = len(server.requests)
            # The second advisor of the round is never asked, whichever server ran it: given
            # the time a cancel takes to be seen (a heartbeat, 1 s) and more, nothing starts.
            time.sleep(2.5)
            assert len(one.answers(conversation)) == 1
            assert len(server.requests) == requests
