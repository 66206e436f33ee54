"""The tests' scripted OpenAI-compatible server (tests/ai/openai_server.py) in a process of
its own, for benchmarks: a real provider is another machine, so it gets its own interpreter
(its own GIL, the machine's other core), and what a bench times on its side is the
product's work, not the provider's.

    with RemoteProvider() as provider:
        provider.reply(tokens, token_delay_s=0.02, model="gpt-4o-mini", times=20)
        ...                              # point OpenAICompatible at provider.base_url
        answers = provider.streamed(since=started)

The parent scripts the child over a pipe while the child's server thread serves HTTP. Times
are `time.perf_counter`'s, CLOCK_MONOTONIC on Linux: one clock for both processes.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
from collections.abc import Sequence
from dataclasses import dataclass
from multiprocessing.connection import Connection
from types import TracebackType
from typing import Any

from starlette.requests import ClientDisconnect
from tests.ai.openai_server import ScriptedOpenAI, Streamed

START_S = 30.0  # the child imports uvicorn and starts it: ~1 s; this bounds a broken start
STOP_S = 5.0


@dataclass(frozen=True)
class Answer:
    """One streamed answer, as the provider sent it."""

    model: str
    question: str  # the request's last user message
    arrived: float  # the request had been read
    tokens: tuple[str, ...]
    sent: tuple[float, ...]  # each token handed to the transport
    prompt: list[dict[str, Any]] | None  # its messages, when asked for


class ProviderGone(RuntimeError):
    """The provider's process did not answer."""


class RemoteProvider:
    """A context manager: entering starts the child and returns once it serves."""

    def __init__(self) -> None:
        context = multiprocessing.get_context("spawn")  # no copy of the parent's loop
        self._conn, child = context.Pipe()
        self._process = context.Process(
            target=_serve, args=(child,), name="bench-provider", daemon=True
        )
        self._child = child
        self.base_url = ""

    def __enter__(self) -> RemoteProvider:
        self._process.start()
        self._child.close()  # the child's end: a dead child then reads as EOF here
        try:
            if not self._conn.poll(START_S):
                raise ProviderGone(f"the provider did not start within {START_S:g} s")
            self.base_url = str(self._conn.recv())
        except (EOFError, OSError) as exc:  # it died starting
            self.close()
            raise ProviderGone(f"the provider's process ended as it started ({exc!r})") from exc
        except ProviderGone:
            self.close()
            raise
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        if self._process.is_alive():
            with contextlib.suppress(OSError):  # the pipe is gone: the joins below end it
                self._conn.send(("stop",))
            self._process.join(STOP_S)
        if self._process.is_alive():
            self._process.terminate()
            self._process.join(STOP_S)
        if self._process.is_alive():
            self._process.kill()
            self._process.join(STOP_S)
        self._conn.close()

    def _ask(self, *command: Any) -> Any:
        try:
            self._conn.send(command)
            if not self._conn.poll(STOP_S):
                raise ProviderGone(f"the provider did not answer {command[0]!r}")
            return self._conn.recv()
        except (EOFError, OSError) as exc:
            raise ProviderGone(f"the provider's process ended ({exc})") from exc

    def reply(self, tokens: Sequence[str], *, token_delay_s: float, model: str, times: int) -> None:
        """The next `times` (>= 1) requests for `model` stream exactly `tokens`."""
        self._ask("reply", list(tokens), token_delay_s, model, times)

    def streamed(self, since: float, *, prompts: bool = False) -> list[Answer]:
        """The streamed answers whose request arrived after `since` (perf_counter), with
        their requests' messages if `prompts`."""
        found: list[Answer] = self._ask("streamed", since, prompts)
        return found


class _QuietDisconnects(logging.Filter):
    """A client gone mid-request (a server under test stopped with rounds running) is
    how a bench ends, not an error of the provider's."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not (record.exc_info and isinstance(record.exc_info[1], ClientDisconnect))


def _serve(conn: Connection) -> None:
    """The child: serve until told to stop, or until the parent is gone."""
    logging.getLogger("uvicorn.error").addFilter(_QuietDisconnects())
    with ScriptedOpenAI() as server:
        conn.send(server.base_url)
        while True:
            try:
                command = conn.recv()
            except (EOFError, OSError):  # the parent died: stop serving
                return
            match command:
                case ("reply", tokens, delay, model, times):
                    server.reply(tokens, token_delay_s=delay, model=model, times=times)
                    conn.send(None)
                case ("streamed", since, prompts):
                    found = [s for s in list(server.streamed) if s.arrived > since]
                    conn.send([_answer(server, s, prompts) for s in found])
                case ("stop",):
                    return
                case _:
                    raise ValueError(f"unknown command {command!r}")


def _answer(server: ScriptedOpenAI, streamed: Streamed, prompts: bool) -> Answer:
    messages = server.requests[streamed.request]["messages"]
    question = next((m["content"] for m in reversed(messages) if m["role"] == "user"), "")
    return Answer(
        streamed.model,
        str(question),
        streamed.arrived,
        tuple(streamed.tokens),
        tuple(streamed.sent),
        list(messages) if prompts else None,
    )
