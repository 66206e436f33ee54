"""A real `advisor-chat serve` for the terminal chat's tests, its advisors answering through
a real local OpenAI-compatible server the tests script (ScriptedOpenAI)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest

from tests.ai.openai_server import ScriptedOpenAI
from tests.api.conftest import LOOSE_AUTH_LIMITS
from tests.services import free_port, wait_until

CLI = [sys.executable, "-m", "advisor_chat.cli"]
SECRET = "chat-secret-" + "x" * 30
OPENAI_KEY = "sk-test-chat"
ANSWER_MODEL = "gpt-4o-mini"  # every shipped advisor's modelHint: scripts for answers name it
CHORES_MODEL = "chores-model"  # the global fallback: titles and memories ask it, never
# taking an answer's script; and a failing answer's fallback attempts go to it
GENERATIONS_A_DAY = 6  # per user: one @board round (4) fits, a second is refused


@dataclass
class Server:
    url: str
    openai: ScriptedOpenAI


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    data = tmp_path_factory.mktemp("chat-served")
    port = free_port()
    with ScriptedOpenAI() as openai:
        openai.api_key = OPENAI_KEY
        env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("ADVISOR_CHAT_", "OPENAI_"))
            and k not in ("DATABASE_URL", "REDIS_URL")
        }
        env |= {
            "ADVISOR_CHAT_DATA_DIR": str(data),
            "ADVISOR_CHAT_SECRET_KEY": SECRET,
            "ADVISOR_CHAT_LOG_LEVEL": "warning",
            "OPENAI_BASE_URL": openai.base_url,
            "OPENAI_API_KEY": OPENAI_KEY,
            "ADVISOR_CHAT_MODEL": CHORES_MODEL,
            "ADVISOR_CHAT_QUOTAS": json.dumps({"free": {"generationsPerDay": GENERATIONS_A_DAY}}),
            "ADVISOR_CHAT_AUTH_LIMITS": LOOSE_AUTH_LIMITS,
        }
        log = (data / "serve.log").open("wb")
        process = subprocess.Popen(
            [*CLI, "serve", "--port", str(port)], env=env, cwd=data, stdout=log, stderr=log
        )
        url = f"http://127.0.0.1:{port}"

        def up() -> bool:
            assert process.poll() is None, (data / "serve.log").read_text()
            try:
                return httpx.get(f"{url}/ready", timeout=1).status_code == 200
            except httpx.TransportError:
                return False

        try:
            wait_until(up, 60, "advisor-chat serve")
            yield Server(url, openai)
        finally:
            process.terminate()
            process.wait(timeout=30)
            log.close()
