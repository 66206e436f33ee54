"""Any OpenAI-compatible endpoint (OpenAI, OpenRouter, Ollama, vLLM, a llama.cpp server),
through the official `openai` SDK.

The SDK's own retries are off (`max_retries=0`): the engine retries and falls back itself,
and needs each failure at once, as a `ProviderError` whose message names the setting to fix
(OPENAI_API_KEY, OPENAI_BASE_URL, ADVISOR_CHAT_MODEL or the advisor's modelHint):

    auth        401, 403                 not retryable
    model       404 naming the model     not retryable
    connection  refused, DNS             retryable; a malformed URL or a 404 path is not
    timeout     no byte within timeout_s retryable
    rate        429                      retryable (an exhausted quota is not)
    provider    5xx, 408, 409            retryable; other 4xx not; a stream broken mid-way retryable
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Iterable
from dataclasses import dataclass
from typing import assert_never
from urllib.parse import urlsplit

import openai
from openai import AsyncOpenAI, Omit, omit
from openai.types.chat import ChatCompletionMessageParam

from advisor_chat.ai.providers.base import (
    ChatMessage,
    Delta,
    ProviderError,
    Request,
    TokenCounter,
    Usage,
)
from advisor_chat.ai.providers.counting import count_messages, counter_for, model_name

DEFAULT_BASE_URL = "https://api.openai.com/v1"  # what the SDK itself uses without one
DEFAULT_WINDOW = (
    8_192  # an unknown model: the smallest window still common (GPT-4, many local models)
)
DETAIL_CHARS = 200  # of the provider's own error message, quoted to the user

# Prompt + answer tokens per request, by model-name prefix (the longest prefix wins).
CONTEXT_WINDOWS: dict[str, int] = {
    "gpt-5": 400_000,
    "gpt-4.1": 1_047_576,
    "gpt-4.5": 128_000,
    "gpt-4o": 128_000,
    "chatgpt-4o": 128_000,
    "gpt-4-turbo": 128_000,
    "gpt-4-1106": 128_000,
    "gpt-4-0125": 128_000,
    "gpt-4-32k": 32_768,
    "gpt-4": 8_192,
    "gpt-3.5-turbo": 16_385,
    "gpt-3.5-turbo-instruct": 4_096,
    "o1": 200_000,
    "o1-mini": 128_000,
    "o1-preview": 128_000,
    "o3": 200_000,
    "o4-mini": 200_000,
    "codex-mini": 200_000,
}


def is_reasoning(model: str) -> bool:
    """OpenAI's reasoning models refuse `max_tokens`, `temperature` and `stop`."""
    name = model_name(model)
    return (name[:1] == "o" and name[1:2].isdigit()) or (
        name.startswith("gpt-5") and "-chat" not in name
    )


class OpenAICompatible:
    name = "openai"

    def __init__(
        self, base_url: str | None, api_key: str | None, *, timeout_s: float = 60.0
    ) -> None:
        # The base URL is passed explicitly: the SDK would otherwise read OPENAI_BASE_URL
        # itself, and settings are read in one place.
        self.base_url = (base_url or DEFAULT_BASE_URL).rstrip("/")
        self.timeout_s = timeout_s
        self._has_key = bool(api_key)
        self._url_problem = _url_problem(self.base_url)
        # The SDK refuses to start without a key; an endpoint that needs none (Ollama, a
        # local vLLM) gets no Authorization header at all instead of a made-up one.
        self._client = AsyncOpenAI(
            base_url=self.base_url,
            api_key=api_key or "no-key",
            max_retries=0,
            timeout=timeout_s,
        )
        self._headers: dict[str, str | Omit] = {} if api_key else {"Authorization": omit}

    async def stream(self, request: Request) -> AsyncGenerator[Delta | Usage, None]:
        """Deltas as they arrive, then one `Usage` (the endpoint's, else estimated)."""
        self._check_url()
        limits = _Limits.of(request)
        try:
            chunks = await self._client.chat.completions.create(
                model=request.model,
                messages=_messages(request.messages),
                stream=True,
                stream_options={"include_usage": True},
                max_tokens=limits.max_tokens,
                max_completion_tokens=limits.max_completion_tokens,
                temperature=limits.temperature,
                stop=limits.stop,
                extra_headers=self._headers,
            )
        except openai.OpenAIError as err:
            raise self._error(err, request.model) from err
        received: list[str] = []
        usage: Usage | None = None
        try:
            async for chunk in chunks:
                if chunk.usage is not None:
                    usage = Usage(chunk.usage.prompt_tokens, chunk.usage.completion_tokens)
                for choice in chunk.choices:
                    if choice.delta.content:
                        received.append(choice.delta.content)
                        yield Delta(choice.delta.content)
        except openai.OpenAIError as err:
            raise self._broken(err, sum(map(len, received))) from err
        finally:
            await chunks.close()
        yield usage or self._estimate(request, "".join(received))

    async def complete(self, request: Request) -> tuple[str, Usage]:
        self._check_url()
        limits = _Limits.of(request)
        try:
            done = await self._client.chat.completions.create(
                model=request.model,
                messages=_messages(request.messages),
                stream=False,
                max_tokens=limits.max_tokens,
                max_completion_tokens=limits.max_completion_tokens,
                temperature=limits.temperature,
                stop=limits.stop,
                extra_headers=self._headers,
            )
        except openai.OpenAIError as err:
            raise self._error(err, request.model) from err
        text = (done.choices[0].message.content or "") if done.choices else ""
        if done.usage is None:
            return text, self._estimate(request, text)
        return text, Usage(done.usage.prompt_tokens, done.usage.completion_tokens)

    def counter(self, model: str) -> TokenCounter:
        return counter_for(model)

    def context_window(self, model: str) -> int:
        name = model_name(model)
        known = [prefix for prefix in CONTEXT_WINDOWS if name.startswith(prefix)]
        return CONTEXT_WINDOWS[max(known, key=len)] if known else DEFAULT_WINDOW

    def describe(self, model: str) -> str | None:
        return None

    async def aclose(self) -> None:
        await self._client.close()

    # Errors.

    def _estimate(self, request: Request, text: str) -> Usage:
        counter = self.counter(request.model)
        return Usage(count_messages(counter, request.messages), counter.count(text))

    def _check_url(self) -> None:
        if self._url_problem is not None:
            raise ProviderError(self._url_problem, retryable=False, kind="connection")

    def _error(self, err: openai.OpenAIError, model: str) -> ProviderError:
        """The failure of a request that got no answer, in words for the user."""
        url = self.base_url
        match err:
            case openai.APITimeoutError():
                return ProviderError(
                    f"The model provider at {url} did not answer within {self.timeout_s:g} s; "
                    "it may be busy. Trying again may help.",
                    retryable=True,
                    kind="timeout",
                )
            case openai.APIConnectionError():
                return ProviderError(
                    f"Could not reach the model provider at {url} ({_cause(err)}). Check that "
                    "it is running and that OPENAI_BASE_URL points at it.",
                    retryable=True,
                    kind="connection",
                )
            case openai.AuthenticationError() | openai.PermissionDeniedError():
                return ProviderError(
                    self._auth_message(err.status_code), retryable=False, kind="auth"
                )
            case openai.NotFoundError() if _names_model(err):
                return ProviderError(
                    f"The model provider at {url} has no model '{model}' (HTTP 404). Set "
                    "ADVISOR_CHAT_MODEL to a model it serves, or change this advisor's modelHint.",
                    retryable=False,
                    kind="model",
                )
            case openai.NotFoundError():
                return ProviderError(
                    f"{url}/chat/completions does not exist (HTTP 404): check OPENAI_BASE_URL; "
                    "OpenAI-compatible endpoints usually end in /v1, e.g. "
                    "http://localhost:11434/v1.",
                    retryable=False,
                    kind="connection",
                )
            case openai.RateLimitError() if err.code == "insufficient_quota":
                return ProviderError(
                    f"The model provider at {url} says the quota of the key in OPENAI_API_KEY is "
                    "used up (HTTP 429): check its plan and billing.",
                    retryable=False,
                    kind="rate",
                )
            case openai.RateLimitError():
                return ProviderError(
                    f"The model provider at {url} is limiting the rate of requests (HTTP 429); "
                    "trying again shortly may help.",
                    retryable=True,
                    kind="rate",
                )
            case openai.APIStatusError() if err.status_code >= 500 or err.status_code in (408, 409):
                return ProviderError(
                    f"The model provider at {url} failed (HTTP {err.status_code}: "
                    f"{_detail(err)}); trying again may help.",
                    retryable=True,
                )
            case openai.APIStatusError():
                return ProviderError(
                    f"The model provider at {url} refused the request for '{model}' "
                    f"(HTTP {err.status_code}: {_detail(err)}).",
                    retryable=False,
                )
            case _:
                return ProviderError(
                    f"The model provider at {url} answered something unexpected ({_detail(err)}).",
                    retryable=True,
                )

    def _broken(self, err: openai.OpenAIError, chars: int) -> ProviderError:
        """A stream that started and then failed: the connection dropped, a read timed out,
        or the endpoint sent an error event."""
        kind = "timeout" if isinstance(err, openai.APITimeoutError) else "provider"
        return ProviderError(
            f"The answer from the model provider at {self.base_url} broke off after {chars} "
            f"characters ({_cause(err)}); trying again may help.",
            retryable=True,
            kind=kind,
        )

    def _auth_message(self, status: int) -> str:
        if not self._has_key:
            return (
                f"The model provider at {self.base_url} needs an API key (HTTP {status}): "
                "set OPENAI_API_KEY."
            )
        if status == 403:
            return (
                f"The model provider at {self.base_url} refused the key in OPENAI_API_KEY "
                "(HTTP 403): the key has no access to this model or project."
            )
        return (
            f"The model provider at {self.base_url} refused the key in OPENAI_API_KEY "
            f"(HTTP {status}): set OPENAI_API_KEY to a valid key for this endpoint."
        )


def _messages(messages: Iterable[ChatMessage]) -> list[ChatCompletionMessageParam]:
    out: list[ChatCompletionMessageParam] = []
    for m in messages:
        match m.role:
            case "system":
                out.append({"role": "system", "content": m.content})
            case "user":
                out.append({"role": "user", "content": m.content})
            case "assistant":
                out.append({"role": "assistant", "content": m.content})
            case _:
                assert_never(m.role)
    return out


@dataclass(frozen=True)
class _Limits:
    """The answer's length, temperature and stop words, as the model accepts them."""

    max_tokens: int | Omit
    max_completion_tokens: int | Omit
    temperature: float | Omit
    stop: list[str] | Omit

    @classmethod
    def of(cls, request: Request) -> _Limits:
        if is_reasoning(request.model):
            return cls(omit, request.max_tokens, omit, omit)
        stop = list(request.stop) if request.stop else omit
        return cls(request.max_tokens, omit, request.temperature, stop)


def _url_problem(url: str) -> str | None:
    """Why OPENAI_BASE_URL cannot work, checked before any request; None when it can."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return (
            f"OPENAI_BASE_URL is {url!r}, which is not an http:// or https:// URL; set it to "
            "the endpoint's base URL, e.g. http://localhost:11434/v1."
        )
    return None


def _names_model(err: openai.APIStatusError) -> bool:
    """A 404 about the model (OpenAI's `model_not_found`, Ollama's "model ... not found"),
    not about the path."""
    return err.code == "model_not_found" or "model" in _detail(err).lower()


def _detail(err: openai.OpenAIError) -> str:
    body = getattr(err, "body", None)
    message = body.get("message") if isinstance(body, dict) else None
    text = message if isinstance(message, str) and message else str(err)
    return text[:DETAIL_CHARS]


def _cause(err: BaseException) -> str:
    """The transport's own words ("All connection attempts failed", "Name or service not
    known"), which the SDK hides behind "Connection error."."""
    cause = err.__cause__ or err.__context__
    return str(cause) if cause is not None and str(cause) else str(err)
