"""A real OpenAI-compatible HTTP server for tests, with scripted answers and failures.

`ScriptedOpenAI` serves `POST /v1/chat/completions` (streamed SSE or one JSON completion)
and `GET /v1/models` on 127.0.0.1 and a free port, from uvicorn on its own thread and event
loop: a test's loop (or a plain sync test) and the server never wait on each other, so the
code under test talks to it over a real socket exactly as to OpenAI, Ollama or vLLM.

    with ScriptedOpenAI() as server:
        server.reply("Hello there", token_delay_s=0.01)
        server.fail(429)
        ... OpenAICompatible(server.base_url, None) ...
        assert server.requests[0]["stream"] is True

Each request takes the first queued script meant for its model (a script queued with
`model=` answers only requests naming that model; one without, any request). With none
queued it answers a deterministic echo of the last user message. Before any script, a set
`api_key` answers 401 to a request without that bearer key, and a set `known_models` answers
404 to other models, with OpenAI's own error bodies.

Besides the bodies (`requests`) it records each request's `headers`, and for each streamed
answer when its request arrived and when each token was sent (`streamed`, on
`time.perf_counter`'s clock: CLOCK_MONOTONIC on Linux, so comparable with another process's
on the same machine, for benchmarks). `sends_usage = False` makes it ignore
`stream_options`, as some endpoints do.

Tokens are paced from the first: token i is sent `i * token_delay_s` after it, so a late
token (a busy machine) does not slow the ones after it, as a provider's steady rate does not.

Usage, when sent: `completion_tokens` is the number of content deltas sent and
`prompt_tokens` the number of word-ish tokens (see `split_tokens`) in all messages, so a
test can predict both.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import re
import socket
import threading
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, Literal

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

DEFAULT_MODELS = ("gpt-4o-mini",)  # what /v1/models lists when `known_models` is unset
ECHO_WORDS = 8  # the default reply repeats this many words of the last user message
START_S = 10.0  # uvicorn starts in ~50 ms; this only bounds a broken start
STOP_S = 10.0

ERROR_TYPES = {
    400: ("invalid_request_error", None),
    401: ("invalid_request_error", "invalid_api_key"),
    403: ("invalid_request_error", "unsupported_country_region_territory"),
    404: ("invalid_request_error", "model_not_found"),
    429: ("requests", "rate_limit_exceeded"),
}


def split_tokens(text: str) -> list[str]:
    """Word-ish tokens, each word with the whitespace before it, as GPT tokenizers cut:
    "Hi there!" -> ["Hi", " there!"]. Joined they give back `text` exactly."""
    tokens: list[str] = re.findall(r"\s*\S+", text)
    tail = text[len("".join(tokens)) :]
    if tail:  # trailing whitespace belongs to the last token
        tokens = [*tokens[:-1], tokens[-1] + tail] if tokens else [tail]
    return tokens


@dataclass
class _Script:
    """One queued behaviour. `times` counts the requests it still answers."""

    kind: Literal["reply", "fail", "midstream", "hang"]
    model: str | None
    tokens: list[str]
    token_delay_s: float = 0.0
    first_token_delay_s: float = 0.0
    status: int = 500
    message: str = ""
    times: int = 1
    after_tokens: int = 0
    code: str | None = None
    when: str | None = None  # taken only by a request whose messages contain this text


@dataclass
class Streamed:
    """One streamed answer's timing, on `time.perf_counter`'s clock."""

    request: int  # its body is `requests[request]`
    model: str
    arrived: float  # the request's body had been read
    tokens: list[str]  # the content deltas, in order
    sent: list[float] = field(default_factory=list)  # each token handed to the transport


class _Dropped(Exception):
    """Raised inside a response to make uvicorn close the connection mid-body."""


class _QuietDrops(logging.Filter):
    """uvicorn logs an app exception with its traceback; a drop we scripted is no error."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not (record.exc_info and isinstance(record.exc_info[1], _Dropped))


class ScriptedOpenAI:
    """An OpenAI-compatible server on 127.0.0.1, scripted by the test. A context manager:
    entering starts it (and returns it once it accepts connections), leaving stops it,
    releasing any `hang()`ing request first."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.headers: list[dict[str, str]] = []  # each request's headers, lower-cased names
        self.known_models: set[str] | None = None
        self.api_key: str | None = None
        self.sends_usage = True  # False: ignore stream_options, as some endpoints do
        self.streamed: list[Streamed] = []
        self._scripts: list[_Script] = []
        self._lock = threading.Lock()  # scripts are queued by the test, taken by the server
        # IPPROTO_TCP named, not left 0: asyncio sets TCP_NODELAY only on sockets that say
        # they are TCP, and without it each token waits for the client's delayed ACK (~40
        # ms: Nagle), which no real provider makes its clients do.
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        self._socket.bind(("127.0.0.1", 0))
        self.port: int = self._socket.getsockname()[1]
        self.base_url = f"http://127.0.0.1:{self.port}/v1"
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stopping: asyncio.Event | None = None
        self._thread: threading.Thread | None = None
        self._filter = _QuietDrops()
        app = Starlette(
            routes=[
                Route("/v1/chat/completions", self._chat, methods=["POST"]),
                Route("/v1/models", self._models, methods=["GET"]),
            ]
        )
        self._server = uvicorn.Server(
            uvicorn.Config(
                app,
                log_config=None,  # leave the process's logging alone
                lifespan="off",
                access_log=False,
                timeout_graceful_shutdown=2,
            )
        )

    # The script, called from the test.

    def reply(
        self,
        text: str | list[str],
        *,
        token_delay_s: float = 0.0,
        first_token_delay_s: float = 0.0,
        model: str | None = None,
        times: int = 1,
        when: str | None = None,
    ) -> None:
        """Queue one answer (for the next `times` requests): a str is cut into word-ish
        tokens, a list is the exact deltas. `when`: only for a request whose messages
        contain that text (of requests made concurrently, such as a round's chores, which
        one asks first is not fixed)."""
        if times < 1:  # a script is taken before its count is looked at
            raise ValueError(f"times must be at least 1, not {times}")
        tokens = split_tokens(text) if isinstance(text, str) else list(text)
        self._queue(
            _Script(
                "reply",
                model,
                tokens,
                token_delay_s=token_delay_s,
                first_token_delay_s=first_token_delay_s,
                times=times,
                when=when,
            )
        )

    def fail(
        self,
        status: int,
        message: str = "The server had an error while processing your request.",
        *,
        times: int = 1,
        model: str | None = None,
        code: str | None = None,
    ) -> None:
        """The next `times` requests (for `model`) answer `status` with OpenAI's error body;
        `code` replaces the usual one for the status (e.g. 429 "insufficient_quota")."""
        self._queue(
            _Script("fail", model, [], status=status, message=message, times=times, code=code)
        )

    def fail_midstream(self, after_tokens: int, text: str, *, model: str | None = None) -> None:
        """Send the first `after_tokens` tokens of `text`, then drop the connection."""
        self._queue(_Script("midstream", model, split_tokens(text), after_tokens=after_tokens))

    def hang(self, *, model: str | None = None) -> None:
        """Accept the next request and answer nothing until the server stops."""
        self._queue(_Script("hang", model, []))

    def _queue(self, script: _Script) -> None:
        with self._lock:
            self._scripts.append(script)

    def _take(self, model: str | None, said: str) -> _Script | None:
        with self._lock:
            for script in self._scripts:
                if (script.model is None or script.model == model) and (
                    script.when is None or script.when in said
                ):
                    script.times -= 1
                    if script.times <= 0:
                        self._scripts.remove(script)
                    return script
        return None

    # Running.

    def __enter__(self) -> ScriptedOpenAI:
        logging.getLogger("uvicorn.error").addFilter(self._filter)
        started = threading.Event()
        self._thread = threading.Thread(
            target=lambda: asyncio.run(self._main(started)), name="scripted-openai", daemon=True
        )
        self._thread.start()
        if not started.wait(START_S):
            raise RuntimeError("ScriptedOpenAI: the event loop did not start")
        deadline = time.monotonic() + START_S
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("ScriptedOpenAI: uvicorn did not start")
            time.sleep(0.01)  # waiting for another thread's flag; the deadline bounds it
        return self

    async def _main(self, started: threading.Event) -> None:
        self._loop = asyncio.get_running_loop()
        self._stopping = asyncio.Event()
        started.set()
        await self._server.serve(sockets=[self._socket])

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        """Stop: release hanging requests, stop accepting, wait for the thread."""
        if self._loop is not None and self._stopping is not None and not self._loop.is_closed():
            with contextlib.suppress(RuntimeError):  # the loop closed since the check
                self._loop.call_soon_threadsafe(self._stopping.set)
        self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(STOP_S)
            if self._thread.is_alive():
                self._server.force_exit = True
                self._thread.join(STOP_S)
        self._socket.close()
        logging.getLogger("uvicorn.error").removeFilter(self._filter)

    # The HTTP side, on the server's loop.

    def _error(self, status: int, message: str, **fields: Any) -> JSONResponse:
        kind, code = ERROR_TYPES.get(status, ("server_error" if status >= 500 else "error", None))
        body = {"message": message, "type": kind, "param": None, "code": code} | fields
        return JSONResponse({"error": body}, status_code=status)

    def _refusal(self, request: Request, model: str | None) -> Response | None:
        """OpenAI's own checks, before any script: the key, then the model."""
        if self.api_key is not None:
            sent = request.headers.get("authorization", "")
            if sent != f"Bearer {self.api_key}":
                shown = sent.removeprefix("Bearer ")[-4:] or "(none)"
                return self._error(
                    401,
                    f"Incorrect API key provided: ...{shown}. You can find your API key at "
                    "https://platform.openai.com/account/api-keys.",
                )
        if self.known_models is not None and model is not None and model not in self.known_models:
            return self._error(
                404, f"The model `{model}` does not exist or you do not have access to it."
            )
        return None

    async def _models(self, request: Request) -> Response:
        refused = self._refusal(request, None)
        if refused is not None:
            return refused
        names = sorted(self.known_models if self.known_models is not None else DEFAULT_MODELS)
        data = [{"id": n, "object": "model", "created": 0, "owned_by": "scripted"} for n in names]
        return JSONResponse({"object": "list", "data": data})

    async def _chat(self, request: Request) -> Response:
        try:
            body = json.loads(await request.body())
            arrived = time.perf_counter()
        except ValueError:
            return self._error(400, "We could not parse the JSON body of your request.")
        if not isinstance(body, dict):
            return self._error(400, "The request body must be a JSON object.")
        self.requests.append(body)
        self.headers.append(dict(request.headers))
        model = body.get("model")
        if not isinstance(model, str) or not isinstance(body.get("messages"), list):
            return self._error(400, "`model` and `messages` are required.")
        refused = self._refusal(request, model)
        if refused is not None:
            return refused
        said = json.dumps(body["messages"], ensure_ascii=False)
        script = self._take(model, said) or _Script("reply", None, _echo(body["messages"]))
        if script.kind == "fail":
            extra = {"code": script.code} if script.code is not None else {}
            return self._error(script.status, script.message, **extra)
        if script.kind == "hang":
            assert self._stopping is not None
            await self._stopping.wait()
            return self._error(503, "The scripted server is stopping.")
        limit = body.get("max_completion_tokens") or body.get("max_tokens")
        tokens = script.tokens
        finish = "stop"
        if isinstance(limit, int) and len(tokens) > limit:
            tokens, finish = tokens[:limit], "length"
        if script.kind == "midstream":
            tokens, finish = tokens[: script.after_tokens], "dropped"
        usage = {
            "prompt_tokens": _prompt_tokens(body["messages"]),
            "completion_tokens": len(tokens),
            "total_tokens": _prompt_tokens(body["messages"]) + len(tokens),
        }
        if body.get("stream"):
            options = body.get("stream_options") or {}
            with_usage = self.sends_usage and bool(options.get("include_usage"))
            timing = Streamed(len(self.requests) - 1, model, arrived, tokens)
            self.streamed.append(timing)
            chunks = self._chunks(
                model, tokens, script, finish, usage if with_usage else None, timing
            )
            return StreamingResponse(chunks, media_type="text/event-stream")
        return await self._completion(model, tokens, script, finish, usage)

    async def _chunks(
        self,
        model: str,
        tokens: list[str],
        script: _Script,
        finish: str,
        usage: dict[str, int] | None,
        timing: Streamed,
    ) -> AsyncIterator[bytes]:
        ident, created = f"chatcmpl-{uuid.uuid4().hex[:24]}", int(time.time())

        def chunk(delta: dict[str, Any], reason: str | None) -> bytes:
            choice = {"index": 0, "delta": delta, "logprobs": None, "finish_reason": reason}
            return _sse(_chunk(ident, created, model, [choice], usage=None, streamed=usage))

        await asyncio.sleep(script.first_token_delay_s)
        yield chunk({"role": "assistant", "content": ""}, None)
        start = time.perf_counter()
        for i, token in enumerate(tokens):
            if i:
                due = start + i * script.token_delay_s
                await asyncio.sleep(max(0.0, due - time.perf_counter()))
            yield chunk({"content": token}, None)
            # Resumed once the transport took the bytes: the token has left the server.
            timing.sent.append(time.perf_counter())
        if finish == "dropped":
            raise _Dropped
        yield chunk({}, finish)
        if usage is not None:
            yield _sse(_chunk(ident, created, model, [], usage=usage, streamed=usage))
        yield b"data: [DONE]\n\n"

    async def _completion(
        self,
        model: str,
        tokens: list[str],
        script: _Script,
        finish: str,
        usage: dict[str, int],
    ) -> Response:
        await asyncio.sleep(script.first_token_delay_s + script.token_delay_s * len(tokens))
        message = {"role": "assistant", "content": "".join(tokens), "refusal": None}
        choice = {"index": 0, "message": message, "logprobs": None, "finish_reason": finish}
        body = {
            "id": f"chatcmpl-{uuid.uuid4().hex[:24]}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": model,
            "choices": [choice],
            "usage": usage,
            "system_fingerprint": None,
        }
        if finish != "dropped":
            return JSONResponse(body)
        # Promise the whole body, send half of it, then drop: an incomplete read.
        data = json.dumps(body).encode()

        async def half() -> AsyncIterator[bytes]:
            yield data[: len(data) // 2]
            raise _Dropped

        return StreamingResponse(
            half(), media_type="application/json", headers={"content-length": str(len(data))}
        )


def _echo(messages: list[Any]) -> list[str]:
    """The default answer: "Echo:" and the first words of the last user message."""
    last = next(
        (
            m.get("content")
            for m in reversed(messages)
            if isinstance(m, dict) and m.get("role") == "user"
        ),
        "",
    )
    words = str(last or "").split()[:ECHO_WORDS]
    return split_tokens(" ".join(["Echo:", *words]))


def _prompt_tokens(messages: list[Any]) -> int:
    return sum(
        len(split_tokens(str(m.get("content") or ""))) for m in messages if isinstance(m, dict)
    )


def _chunk(
    ident: str,
    created: int,
    model: str,
    choices: list[dict[str, Any]],
    *,
    usage: dict[str, int] | None,
    streamed: dict[str, int] | None,
) -> dict[str, Any]:
    """One `chat.completion.chunk`; with include_usage every chunk carries `usage` (null
    but in the last), as OpenAI sends it."""
    out: dict[str, Any] = {
        "id": ident,
        "object": "chat.completion.chunk",
        "created": created,
        "model": model,
        "system_fingerprint": None,
        "choices": choices,
    }
    if streamed is not None:
        out["usage"] = usage
    return out


def _sse(data: dict[str, Any]) -> bytes:
    return b"data: " + json.dumps(data).encode() + b"\n\n"
