"""`advisor-chat chat` as a user runs it: a process with piped stdin and stdout, talking to a
real `advisor-chat serve` whose advisors answer through a real local OpenAI-compatible
server (ScriptedOpenAI). What is checked is what the user sees, and what the server
holds afterwards (read over its HTTP API, as any client would)."""

from __future__ import annotations

import contextlib
import json
import os
import pty
import re
import signal
import stat
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import httpx
import pytest

from tests.cli.conftest import ANSWER_MODEL, CHORES_MODEL, CLI, GENERATIONS_A_DAY, Server
from tests.services import free_port, wait_until

PASSWORD = "correct horse battery"
WAIT_S = 30.0
PROMPT = "you> "
TEAM = "t1"  # Startup Launch Squad: Ifeoma, Anika, Lucía, Beatriz (the first template)


class Chat:
    """One `advisor-chat chat` process. Its stdout and stderr are read on threads, so a
    test waits for what the user would see, never for a time."""

    def __init__(self, args: list[str], env: dict[str, str], launched: list[Chat]) -> None:
        self.process = subprocess.Popen(
            [*CLI, "chat", *args],
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        self._out = bytearray()
        self._err = bytearray()
        self._readers = [
            threading.Thread(target=self._read, args=(pipe, into), daemon=True)
            for pipe, into in ((self.process.stdout, self._out), (self.process.stderr, self._err))
        ]
        for reader in self._readers:
            reader.start()
        launched.append(self)

    @staticmethod
    def _read(pipe: IO[bytes] | None, into: bytearray) -> None:
        assert pipe is not None
        while chunk := os.read(pipe.fileno(), 4096):
            into.extend(chunk)

    @property
    def out(self) -> str:
        return self._out.decode("utf-8", "replace")

    @property
    def err(self) -> str:
        return self._err.decode("utf-8", "replace")

    def type(self, line: str) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(line.encode() + b"\n")
        self.process.stdin.flush()

    def wait_for(self, text: str, after: int = 0, within: float = WAIT_S) -> int:
        """Until `text` is in stdout past index `after`; returns where it ends."""

        def seen() -> bool:
            assert self.process.poll() is None or text in self.out[after:], self.transcript()
            return text in self.out[after:]

        try:
            wait_until(seen, within, repr(text))
        except TimeoutError as exc:
            raise AssertionError(f"{text!r} not shown:\n{self.transcript()}") from exc
        return self.out.index(text, after) + len(text)

    def at_prompt(self) -> bool:
        return self.out.endswith(PROMPT)

    def finish(self, within: float = WAIT_S) -> int:
        """Close stdin (Ctrl-D) if still open, and wait for the exit code."""
        assert self.process.stdin is not None
        if not self.process.stdin.closed:
            self.process.stdin.close()
        try:
            code = self.process.wait(timeout=within)
        except subprocess.TimeoutExpired as exc:
            self.close()
            raise AssertionError(f"chat did not exit:\n{self.transcript()}") from exc
        self.close()
        return code

    def close(self) -> None:
        """Kill it if it still runs; collect its output; close its pipes."""
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait(timeout=WAIT_S)
        for reader in self._readers:
            reader.join(timeout=WAIT_S)
        for pipe in (self.process.stdin, self.process.stdout, self.process.stderr):
            if pipe is not None:
                pipe.close()

    def transcript(self) -> str:
        return f"--- stdout ---\n{self.out}\n--- stderr ---\n{self.err}"


@pytest.fixture
def launched() -> Iterator[list[Chat]]:
    """The test's chat processes, closed after it whatever it asserted."""
    chats: list[Chat] = []
    yield chats
    for chat in chats:
        chat.close()


def _env(home: Path, server: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ADVISOR_CHAT_")}
    env |= {"HOME": str(home), "XDG_CONFIG_HOME": str(home / ".config")}
    env["ADVISOR_CHAT_SERVER"] = server
    return env


def _session_file(home: Path) -> Path:
    return home / ".config" / "advisor-chat" / "session.json"


@dataclass
class User:
    home: Path
    email: str
    env: dict[str, str]
    server: Server
    launched: list[Chat]

    def chat(self, *args: str) -> Chat:
        return Chat(list(args), self.env, self.launched)

    def call(self, kind: str, path: str, args: dict[str, Any]) -> Any:
        """A function call over the HTTP API with a fresh sign-in of this user (its own,
        so the chat's kept sign-in is not spent)."""
        tokens = httpx.post(
            f"{self.server.url}/auth/signin", json={"email": self.email, "password": PASSWORD}
        ).json()
        answer = httpx.post(
            f"{self.server.url}/api/{kind}",
            json={"path": path, "args": args, "format": "json"},
            headers={"Authorization": f"Bearer {tokens['accessToken']}"},
        ).json()
        assert answer["status"] == "success", answer
        return answer["value"]

    def messages(self, conversation_id: str) -> list[dict[str, Any]]:
        page = self.call(
            "query",
            "messages:getConversationMessages",
            {"conversationId": conversation_id, "paginationOpts": {"numItems": 200}},
        )
        return list(page["page"])


def _sign_up(server: Server, home: Path, email: str, launched: list[Chat]) -> tuple[User, str]:
    """A new account made through `chat --sign-up`, with a conversation with the whole of
    the first team's board; returns the user and the conversation's id."""
    user = User(home, email, _env(home, server.url), server, launched)
    chat = user.chat("--sign-up", "--email", email, "--name", "Test", "--password-stdin", "--new")
    chat.type(PASSWORD)
    chat.wait_for("Your pick?")
    chat.type(TEAM)
    chat.wait_for("Who joins this conversation?")
    chat.type("")  # all of them
    chat.wait_for(PROMPT)
    chat.type("/quit")
    assert chat.finish() == 0, chat.transcript()
    conversations = user.call(
        "query", "conversations:getUserConversations", {"paginationOpts": {"numItems": 5}}
    )
    return user, str(conversations["page"][0]["_id"])


@pytest.fixture
def user(
    server: Server, tmp_path: Path, launched: list[Chat], request: pytest.FixtureRequest
) -> tuple[User, str]:
    return _sign_up(server, tmp_path, f"{request.node.name[:40].lower()}@example.com", launched)


def test_sign_up_keeps_the_sign_in_for_the_next_run_until_sign_out(
    server: Server, tmp_path: Path, launched: list[Chat]
) -> None:
    user, conversation_id = _sign_up(server, tmp_path, "keeper@example.com", launched)
    kept = _session_file(tmp_path)
    assert stat.S_IMODE(kept.stat().st_mode) == 0o600
    first = json.loads(kept.read_text())[server.url]
    assert first["email"] == "keeper@example.com"

    again = user.chat()  # no --email, no password: the kept sign-in; then the newest
    again.wait_for("Signed in to")
    again.wait_for("as keeper@example.com")
    again.wait_for("Open which?")
    again.type("")
    again.wait_for(f"[{conversation_id}]")
    again.wait_for(PROMPT)
    again.type("/quit")
    assert again.finish() == 0, again.transcript()
    second = json.loads(kept.read_text())[server.url]
    assert second["refresh_token"] != first["refresh_token"]  # rotated on resume, kept

    out = user.chat("--sign-out")
    assert out.finish() == 0, out.transcript()
    assert "Signed out" in out.out
    assert server.url not in json.loads(kept.read_text())
    spent = httpx.post(f"{server.url}/auth/refresh", json={"refreshToken": second["refresh_token"]})
    assert spent.status_code == 401  # the server ended it too

    asked = user.chat()
    assert asked.finish() == 2, asked.transcript()
    assert "not signed in" in asked.err
    assert "Traceback" not in asked.out + asked.err


def test_a_wrong_password_is_said_in_plain_words(
    server: Server, tmp_path: Path, launched: list[Chat]
) -> None:
    user, _ = _sign_up(server, tmp_path, "forgetful@example.com", launched)
    _session_file(tmp_path).unlink()
    chat = user.chat("--email", "forgetful@example.com", "--password-stdin")
    chat.type("not the password")
    assert chat.finish() == 1, chat.transcript()
    assert "Sign-in failed: wrong email or password" in chat.err
    assert "Traceback" not in chat.out + chat.err


def test_server_down_is_a_clear_message_and_a_failing_exit(
    tmp_path: Path, launched: list[Chat]
) -> None:
    down = f"http://127.0.0.1:{free_port()}"
    chat = Chat(["--email", "a@example.com", "--password-stdin"], _env(tmp_path, down), launched)
    chat.type(PASSWORD)
    assert chat.finish() == 1, chat.transcript()
    assert f"cannot reach the server at {down}" in chat.err
    assert "advisor-chat serve" in chat.err
    assert "Traceback" not in chat.out + chat.err


def test_a_mention_streams_the_answer_attributed_to_its_advisor(
    server: Server, user: tuple[User, str]
) -> None:
    account, conversation_id = user
    text = "Pick one customer segment and talk to ten of them this week."
    server.openai.reply(text, token_delay_s=0.02, model=ANSWER_MODEL)
    chat = account.chat("--conversation", conversation_id)
    chat.wait_for(PROMPT)
    chat.type("@Anika where do I start?")
    header = chat.wait_for("Anika Lindqvist (Product Strategy Lead):")
    chat.wait_for(text, after=header)
    chat.wait_for(PROMPT, after=header)
    chat.type("/quit")
    assert chat.finish() == 0, chat.transcript()
    for other in ("Ifeoma Hartley", "Lucía Ferreyra", "Beatriz Olmedo"):
        assert other not in chat.out[header:]
    answers = [m for m in account.messages(conversation_id) if m["sender"] == "advisor"]
    assert [(a["status"], a["content"]) for a in answers] == [("complete", text)]
    board = account.call("query", "marketplace:getUserSelectedAdvisors", {})
    anika = next(a for a in board if a["persona"]["name"] == "Anika Lindqvist")
    assert answers[0]["advisorId"] == anika["_id"]

    reopened = account.chat("--conversation", conversation_id)
    asked = reopened.wait_for("You: @Anika where do I start?")
    reopened.wait_for(f"Anika Lindqvist (Product Strategy Lead):\n{text}\n", after=asked)
    reopened.wait_for(PROMPT, after=asked)
    reopened.type("/quit")
    assert reopened.finish() == 0, reopened.transcript()


def test_ctrl_c_stops_the_streaming_answer_and_returns_to_the_prompt(
    server: Server, user: tuple[User, str]
) -> None:
    account, conversation_id = user
    words = " ".join(f"word{i}" for i in range(400))
    # ~20 s of tokens: far longer than the test waits before it presses Ctrl-C
    server.openai.reply(words, token_delay_s=0.05, model=ANSWER_MODEL)
    chat = account.chat("--conversation", conversation_id)
    chat.wait_for(PROMPT)
    chat.type("@Beatriz what should the founders sign first?")
    header = chat.wait_for("Beatriz Olmedo (Startup Legal Foundations Guide):")
    chat.wait_for("word5", after=header)  # it is streaming
    chat.process.send_signal(signal.SIGINT)
    stopped = chat.wait_for("[stopped]", after=header)
    chat.wait_for(PROMPT, after=stopped)
    assert chat.process.poll() is None  # still running, at its prompt
    answers = [m for m in account.messages(conversation_id) if m["sender"] == "advisor"]
    assert answers[-1]["status"] == "stopped"
    assert answers[-1]["content"].startswith("word0 word1 word2 word3 word4 word5")
    assert "word399" not in answers[-1]["content"]
    chat.type("/quit")
    assert chat.finish() == 0, chat.transcript()
    assert "Traceback" not in chat.out + chat.err


def test_an_unknown_mention_is_shown_and_nothing_is_sent(
    server: Server, user: tuple[User, str]
) -> None:
    account, conversation_id = user
    chat = account.chat("--conversation", conversation_id)
    start = chat.wait_for(PROMPT)
    # Tomasz is in the marketplace but on neither this conversation's board nor the user's.
    chat.type("@Tomasz what do you think?")
    shown = chat.wait_for("Not sent:", after=start)
    chat.wait_for("Tomasz Wierzba", after=shown)
    chat.wait_for(PROMPT, after=shown)
    chat.type("/quit")
    assert chat.finish() == 0, chat.transcript()
    assert account.messages(conversation_id) == []


def test_at_board_streams_every_advisor_in_turn_each_in_its_own_name(
    server: Server, user: tuple[User, str]
) -> None:
    account, conversation_id = user
    said = {
        "Ifeoma Hartley (Startup Strategy Advisor)": "Strategy first: one segment.",
        "Anika Lindqvist (Product Strategy Lead)": "Scope a first version in weeks.",
        "Lucía Ferreyra (Brand & Positioning Strategist)": "Say it in one sentence.",
        "Beatriz Olmedo (Startup Legal Foundations Guide)": "Sign a founders' agreement.",
    }
    for text in said.values():  # the board's order: they answer in turn
        server.openai.reply(text, token_delay_s=0.01, model=ANSWER_MODEL)
    chat = account.chat("--conversation", conversation_id)
    at = chat.wait_for(PROMPT)
    chat.type("@board how do we launch?")
    for label, text in said.items():
        at = chat.wait_for(f"{label}:\n{text}\n", after=at)
    chat.wait_for(PROMPT, after=at)
    chat.type("/quit")
    assert chat.finish() == 0, chat.transcript()
    answers = [m for m in account.messages(conversation_id) if m["sender"] == "advisor"]
    assert [(a["status"], a["content"]) for a in answers] == [
        ("complete", text) for text in said.values()
    ]


def test_regenerate_writes_the_last_answer_again_keeping_the_old_as_a_version(
    server: Server, user: tuple[User, str]
) -> None:
    account, conversation_id = user
    server.openai.reply("Raise after you have revenue.", model=ANSWER_MODEL)
    server.openai.reply("Raise before you run out of runway.", model=ANSWER_MODEL)
    chat = account.chat("--conversation", conversation_id)
    chat.wait_for(PROMPT)
    chat.type("@Ifeoma when should we raise?")
    first = chat.wait_for("Raise after you have revenue.")
    chat.wait_for(PROMPT, after=first)
    chat.type("/regenerate")
    again = chat.wait_for("Ifeoma Hartley (Startup Strategy Advisor):", after=first)
    chat.wait_for("Raise before you run out of runway.", after=again)
    chat.wait_for(PROMPT, after=again)
    chat.type("/quit")
    assert chat.finish() == 0, chat.transcript()
    [answer] = [m for m in account.messages(conversation_id) if m["sender"] == "advisor"]
    assert answer["content"] == "Raise before you run out of runway."
    assert [v["content"] for v in answer["versions"]] == ["Raise after you have revenue."]


def test_a_provider_failure_shows_the_error_with_the_setting_to_fix(
    server: Server, user: tuple[User, str]
) -> None:
    account, conversation_id = user
    server.openai.fail(401, "Incorrect API key provided.", model=ANSWER_MODEL)
    server.openai.fail(401, "Incorrect API key provided.", model=CHORES_MODEL, times=2)
    chat = account.chat("--conversation", conversation_id)
    chat.wait_for(PROMPT)
    chat.type("@Lucía what is our one-liner?")
    header = chat.wait_for("Lucía Ferreyra (Brand & Positioning Strategist):")
    failed = chat.wait_for("[error]", after=header)
    chat.wait_for("OPENAI_API_KEY", after=failed)
    chat.wait_for(PROMPT, after=failed)
    chat.type("/quit")
    assert chat.finish() == 0, chat.transcript()
    [answer] = [m for m in account.messages(conversation_id) if m["sender"] == "advisor"]
    assert answer["status"] == "error"
    assert answer["errorCode"] == "PROVIDER_ERROR"


def test_over_the_daily_limit_the_system_message_is_shown(
    server: Server, user: tuple[User, str]
) -> None:
    account, conversation_id = user
    chat = account.chat("--conversation", conversation_id)
    at = chat.wait_for(PROMPT)
    chat.type("@board first round")  # unscripted: each answers with an echo
    for name in ("Ifeoma", "Anika", "Lucía", "Beatriz"):
        at = chat.wait_for(f"{name} ", after=at)
    at = chat.wait_for(PROMPT, after=at)
    chat.type("@board second round")
    limited = chat.wait_for(f"your plan allows {GENERATIONS_A_DAY} generations a day", after=at)
    chat.wait_for(PROMPT, after=limited)
    chat.type("/quit")
    assert chat.finish() == 0, chat.transcript()
    [note] = [m for m in account.messages(conversation_id) if m["sender"] == "system"]
    assert note["errorCode"] == "RATE_LIMITED"


def test_a_notice_is_shown_once_not_under_every_answer(
    server: Server, user: tuple[User, str]
) -> None:
    account, conversation_id = user
    for _ in range(2):  # each answer's model fails; the fallback answers, with a notice
        server.openai.fail(401, "Incorrect API key provided.", model=ANSWER_MODEL)
    chat = account.chat("--conversation", conversation_id)
    at = chat.wait_for(PROMPT)
    chat.type("@Anika first question")
    at = chat.wait_for("Anika Lindqvist (Product Strategy Lead):", after=at)
    at = chat.wait_for(f"note: {ANSWER_MODEL} failed", after=at)
    at = chat.wait_for(f"answered by {CHORES_MODEL}", after=at)
    at = chat.wait_for(PROMPT, after=at)
    chat.type("@Anika second question")
    at = chat.wait_for("Anika Lindqvist (Product Strategy Lead):", after=at)
    chat.wait_for(PROMPT, after=at)
    chat.type("/quit")
    assert chat.finish() == 0, chat.transcript()
    assert chat.out.count("note: ") == 1
    answers = [m for m in account.messages(conversation_id) if m["sender"] == "advisor"]
    assert [a["status"] for a in answers] == ["complete", "complete"]
    assert all(f"answered by {CHORES_MODEL}" in a["notice"] for a in answers)


# A session leader that opens its terminal by name makes it its controlling terminal, which
# getpass needs to turn echo off; then it becomes `advisor-chat`.
TAKE_TERMINAL = (
    "import os, sys; os.close(os.open(os.ttyname(0), os.O_RDWR)); "
    "os.execv(sys.executable, [sys.executable, *sys.argv[1:]])"
)
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\x1b[()][A-Z0-9]|[\r\a]")  # and readline's bell


def test_in_a_terminal_the_password_is_hidden_and_tab_completes_names(
    server: Server, user: tuple[User, str]
) -> None:
    account, conversation_id = user
    _session_file(account.home).unlink()
    server.openai.reply("Start with a founders' agreement.", model=ANSWER_MODEL)
    leader, follower = pty.openpty()
    args = ["chat", "--email", account.email, "--conversation", conversation_id]
    process = subprocess.Popen(
        [sys.executable, "-c", TAKE_TERMINAL, *CLI[1:], *args],
        env=account.env | {"TERM": "xterm", "COLUMNS": "200"},
        stdin=follower,
        stdout=follower,
        stderr=follower,
        start_new_session=True,
    )
    os.close(follower)
    screen = bytearray()

    def read() -> None:
        with contextlib.suppress(OSError):  # EIO once the child has gone
            while chunk := os.read(leader, 4096):
                screen.extend(chunk)

    reader = threading.Thread(target=read, daemon=True)
    reader.start()

    def shown(text: str) -> bool:
        return text in ANSI.sub("", screen.decode("utf-8", "replace"))

    try:
        wait_until(lambda: shown("Password:"), WAIT_S, "the password prompt")
        os.write(leader, PASSWORD.encode() + b"\r")
        wait_until(lambda: shown(PROMPT), WAIT_S, "the prompt")
        os.write(leader, b"@Bea\t")  # completes to @Beatriz
        wait_until(lambda: shown(f"{PROMPT}@Beatriz"), WAIT_S, "the completed name")
        os.write(leader, b" what first?\r")
        wait_until(lambda: shown("Start with a founders' agreement."), WAIT_S, "the answer")
        os.write(leader, b"/quit\r")
        assert process.wait(timeout=WAIT_S) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        reader.join(timeout=WAIT_S)
        os.close(leader)
    text = ANSI.sub("", screen.decode("utf-8", "replace"))
    assert PASSWORD not in text, text
    assert "Beatriz Olmedo (Startup Legal Foundations Guide):" in text
    [question] = [m for m in account.messages(conversation_id) if m["sender"] == "user"]
    assert question["content"] == "@Beatriz what first?"
