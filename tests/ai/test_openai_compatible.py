"""OpenAICompatible against a real local OpenAI-compatible server: what arrives, and what a
user is told when it fails."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator

import pytest

from advisor_chat.ai.providers.base import ChatMessage, Delta, ProviderError, Request, Usage
from advisor_chat.ai.providers.counting import MESSAGE_OVERHEAD, REPLY_PRIMING
from advisor_chat.ai.providers.openai_compatible import OpenAICompatible
from tests.ai.openai_server import ScriptedOpenAI, split_tokens
from tests.services import free_port

QUESTION = "Should we raise prices before the launch?"
MESSAGES = (
    ChatMessage("system", "You are a blunt pricing advisor."),
    ChatMessage("user", QUESTION),
)


def ask(model: str = "gpt-4o-mini", **kwargs: object) -> Request:
    return Request(model, MESSAGES, **kwargs)  # type: ignore[arg-type]


@pytest.fixture
async def provider(openai_server: ScriptedOpenAI) -> AsyncIterator[OpenAICompatible]:
    openai_server.api_key = "sk-test"
    opened = OpenAICompatible(openai_server.base_url, "sk-test", timeout_s=10)
    yield opened
    await opened.aclose()


async def collect(provider: OpenAICompatible, request: Request) -> tuple[list[str], list[Usage]]:
    deltas: list[str] = []
    usages: list[Usage] = []
    async for item in provider.stream(request):
        match item:
            case Delta(text):
                assert not usages, "a delta after the usage"
                deltas.append(text)
            case Usage():
                usages.append(item)
    return deltas, usages


async def failure(provider: OpenAICompatible, request: Request) -> tuple[list[str], ProviderError]:
    """The deltas that arrived before the stream failed, and the error."""
    deltas: list[str] = []
    try:
        async for item in provider.stream(request):
            if isinstance(item, Delta):
                deltas.append(item.text)
    except ProviderError as error:
        return deltas, error
    pytest.fail(f"the stream ended without a ProviderError, after {deltas!r}")


# Streaming.


async def test_streams_the_deltas_then_exactly_one_usage_from_the_endpoint(
    provider: OpenAICompatible, openai_server: ScriptedOpenAI
) -> None:
    openai_server.reply(["Not", " yet", ": prove", " value", " first."])
    deltas, usages = await collect(provider, ask(max_tokens=50, temperature=0.2))
    assert deltas == ["Not", " yet", ": prove", " value", " first."]
    sent_prompt = sum(len(split_tokens(m.content)) for m in MESSAGES)
    assert usages == [Usage(prompt_tokens=sent_prompt, completion_tokens=5)]
    body = openai_server.requests[0]
    assert body["stream"] is True
    assert body["stream_options"] == {"include_usage": True}
    assert body["max_tokens"] == 50
    assert body["temperature"] == 0.2
    assert body["messages"] == [
        {"role": "system", "content": "You are a blunt pricing advisor."},
        {"role": "user", "content": QUESTION},
    ]
    assert openai_server.headers[0]["authorization"] == "Bearer sk-test"


async def test_without_usage_from_the_endpoint_it_is_counted(
    provider: OpenAICompatible, openai_server: ScriptedOpenAI
) -> None:
    """Some endpoints ignore stream_options: the usage is then counted with the model's
    own encoding (exact for gpt-4o-mini), never left out."""
    openai_server.sends_usage = False
    openai_server.reply("Raise them after launch, with notice.")
    deltas, usages = await collect(provider, ask())
    counter = provider.counter("gpt-4o-mini")
    prompt = REPLY_PRIMING + sum(
        MESSAGE_OVERHEAD + counter.count(m.role) + counter.count(m.content) for m in MESSAGES
    )
    assert usages == [Usage(prompt, counter.count("".join(deltas)))]
    assert usages[0].completion_tokens == 8  # o200k: Raise| them| after| launch|,| with| notice|.


async def test_reasoning_models_get_max_completion_tokens_and_no_temperature(
    provider: OpenAICompatible, openai_server: ScriptedOpenAI
) -> None:
    await collect(provider, ask("o3-mini", max_tokens=64, stop=("END",)))
    await collect(provider, ask("gpt-4o", stop=("END",)))
    reasoning, chat = openai_server.requests
    assert reasoning["max_completion_tokens"] == 64
    assert "max_tokens" not in reasoning
    assert "temperature" not in reasoning
    assert "stop" not in reasoning
    assert chat["stop"] == ["END"]
    assert chat["max_tokens"] == 512


async def test_no_key_sends_no_authorization_header(openai_server: ScriptedOpenAI) -> None:
    """A local endpoint without keys (Ollama, vLLM) gets no made-up bearer token."""
    provider = OpenAICompatible(openai_server.base_url, None)
    try:
        deltas, _ = await collect(provider, ask())
    finally:
        await provider.aclose()
    assert "".join(deltas) == "Echo: Should we raise prices before the launch?"
    assert "authorization" not in openai_server.headers[0]


async def test_complete_returns_the_whole_answer_and_usage(
    provider: OpenAICompatible, openai_server: ScriptedOpenAI
) -> None:
    openai_server.reply("Pricing: hold steady.")
    text, usage = await provider.complete(ask(max_tokens=20))
    assert text == "Pricing: hold steady."
    assert usage.completion_tokens == 3
    assert openai_server.requests[0].get("stream") in (None, False)


async def test_stopping_early_closes_the_stream_at_once(
    provider: OpenAICompatible, openai_server: ScriptedOpenAI
) -> None:
    """The stop button: the rest of a slow answer is not waited for."""
    openai_server.reply("one two three four five six", token_delay_s=1.0)
    stream = provider.stream(ask())
    first = await anext(stream)
    start = time.monotonic()
    await stream.aclose()
    assert first == Delta("one")
    assert time.monotonic() - start < 0.5


# Failures, as the user reads them.


async def test_wrong_key_is_an_auth_error_naming_openai_api_key(
    openai_server: ScriptedOpenAI,
) -> None:
    openai_server.api_key = "sk-right"
    provider = OpenAICompatible(openai_server.base_url, "sk-wrong")
    try:
        _, error = await failure(provider, ask())
        with pytest.raises(ProviderError) as completing:
            await provider.complete(ask())
    finally:
        await provider.aclose()
    assert (error.kind, error.retryable) == ("auth", False)
    assert "OPENAI_API_KEY" in error.message
    assert "sk-wrong" not in error.message
    assert openai_server.base_url in error.message
    assert completing.value.kind == "auth"


async def test_missing_key_says_to_set_one(openai_server: ScriptedOpenAI) -> None:
    openai_server.api_key = "sk-right"
    provider = OpenAICompatible(openai_server.base_url, None)
    try:
        _, error = await failure(provider, ask())
    finally:
        await provider.aclose()
    assert (error.kind, error.retryable) == ("auth", False)
    assert "needs an API key" in error.message
    assert "set OPENAI_API_KEY" in error.message


async def test_forbidden_is_an_auth_error(
    provider: OpenAICompatible, openai_server: ScriptedOpenAI
) -> None:
    openai_server.fail(403, "Project does not have access to model")
    _, error = await failure(provider, ask())
    assert (error.kind, error.retryable) == ("auth", False)
    assert "OPENAI_API_KEY" in error.message


async def test_unknown_model_names_it_and_the_settings_to_change(
    provider: OpenAICompatible, openai_server: ScriptedOpenAI
) -> None:
    openai_server.known_models = {"gpt-4o-mini"}
    _, error = await failure(provider, ask("gpt-5-ultra"))
    assert (error.kind, error.retryable) == ("model", False)
    assert "'gpt-5-ultra'" in error.message
    assert "ADVISOR_CHAT_MODEL" in error.message
    assert "modelHint" in error.message


async def test_a_base_url_missing_v1_is_a_url_error_not_a_model_error(
    openai_server: ScriptedOpenAI,
) -> None:
    provider = OpenAICompatible(openai_server.base_url.removesuffix("/v1"), None)
    try:
        _, error = await failure(provider, ask())
    finally:
        await provider.aclose()
    assert (error.kind, error.retryable) == ("connection", False)
    assert "OPENAI_BASE_URL" in error.message
    assert "/v1" in error.message


async def test_connection_refused_names_the_url_and_openai_base_url() -> None:
    url = f"http://127.0.0.1:{free_port()}/v1"  # nothing listens there any more
    provider = OpenAICompatible(url, "sk-test")
    try:
        _, error = await failure(provider, ask())
    finally:
        await provider.aclose()
    assert (error.kind, error.retryable) == ("connection", True)
    assert url in error.message
    assert "OPENAI_BASE_URL" in error.message


async def test_an_unknown_host_is_a_connection_error() -> None:
    url = "http://no-such-host.invalid/v1"  # .invalid never resolves (RFC 6761)
    provider = OpenAICompatible(url, "sk-test", timeout_s=10)
    try:
        _, error = await failure(provider, ask())
    finally:
        await provider.aclose()
    assert (error.kind, error.retryable) == ("connection", True)
    assert url in error.message


@pytest.mark.parametrize("url", ["localhost:11434/v1", "ftp://example.com/v1", "not a url"])
async def test_a_malformed_base_url_is_not_retried(url: str) -> None:
    provider = OpenAICompatible(url, None)
    try:
        _, error = await failure(provider, ask())
        with pytest.raises(ProviderError) as completing:
            await provider.complete(ask())
    finally:
        await provider.aclose()
    assert (error.kind, error.retryable) == ("connection", False)
    assert "OPENAI_BASE_URL" in error.message
    assert "http://" in error.message
    assert completing.value.kind == "connection"


async def test_server_error_is_retryable(
    provider: OpenAICompatible, openai_server: ScriptedOpenAI
) -> None:
    openai_server.fail(500, "The engine is overloaded")
    _, error = await failure(provider, ask())
    assert (error.kind, error.retryable) == ("provider", True)
    assert "HTTP 500" in error.message
    assert "The engine is overloaded" in error.message
    deltas, _ = await collect(provider, ask())  # the next request is answered
    assert deltas


async def test_rate_limit_is_retryable_but_an_exhausted_quota_is_not(
    provider: OpenAICompatible, openai_server: ScriptedOpenAI
) -> None:
    openai_server.fail(429, "Rate limit reached")
    openai_server.fail(429, "You exceeded your current quota", code="insufficient_quota")
    _, limited = await failure(provider, ask())
    _, exhausted = await failure(provider, ask())
    assert (limited.kind, limited.retryable) == ("rate", True)
    assert (exhausted.kind, exhausted.retryable) == ("rate", False)
    assert "OPENAI_API_KEY" in exhausted.message


async def test_bad_request_is_not_retried_and_quotes_the_provider(
    provider: OpenAICompatible, openai_server: ScriptedOpenAI
) -> None:
    openai_server.fail(400, "This model's maximum context length is 8192 tokens.")
    _, error = await failure(provider, ask())
    assert (error.kind, error.retryable) == ("provider", False)
    assert "maximum context length is 8192" in error.message


async def test_a_stream_broken_midway_keeps_what_arrived_and_is_retryable(
    provider: OpenAICompatible, openai_server: ScriptedOpenAI
) -> None:
    openai_server.fail_midstream(3, "Raise prices after the launch, not before.")
    deltas, error = await failure(provider, ask())
    assert deltas == ["Raise", " prices", " after"]
    assert error.retryable is True
    assert "broke off after 18 characters" in error.message


async def test_no_answer_within_the_timeout_is_a_retryable_timeout(
    openai_server: ScriptedOpenAI,
) -> None:
    openai_server.hang()
    provider = OpenAICompatible(openai_server.base_url, None, timeout_s=0.3)
    start = time.monotonic()
    try:
        _, error = await failure(provider, ask())
    finally:
        await provider.aclose()
    assert time.monotonic() - start < 2
    assert (error.kind, error.retryable) == ("timeout", True)
    assert "0.3 s" in error.message


async def test_a_stream_that_stalls_midway_times_out(openai_server: ScriptedOpenAI) -> None:
    openai_server.reply("one two three", token_delay_s=2.0)
    provider = OpenAICompatible(openai_server.base_url, None, timeout_s=0.3)
    try:
        deltas, error = await failure(provider, ask())
    finally:
        await provider.aclose()
    assert deltas == ["one"]
    assert (error.kind, error.retryable) == ("timeout", True)


# What the engine plans with.


def test_context_windows_of_known_models_and_a_conservative_default() -> None:
    provider = OpenAICompatible(None, "sk-unused")
    assert provider.context_window("gpt-4o-mini") == 128_000
    assert provider.context_window("openai/gpt-4o") == 128_000
    assert provider.context_window("gpt-4.1-mini-2025-04-14") == 1_047_576
    assert provider.context_window("gpt-4-turbo") == 128_000
    assert provider.context_window("gpt-4") == 8_192
    assert provider.context_window("gpt-3.5-turbo") == 16_385
    assert provider.context_window("o3-mini") == 200_000
    assert provider.context_window("llama3.1:8b") == 8_192
    assert provider.describe("gpt-4o") is None
    assert provider.name == "openai"
