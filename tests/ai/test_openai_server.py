"""The scripted server speaks OpenAI's API as the official SDK reads it: other tests trust
what it sends, so these check it with the real client, sync and async."""

from __future__ import annotations

import asyncio
import time

import httpx
import openai
import pytest
from openai.types.chat import ChatCompletionMessageParam

from tests.ai.openai_server import ScriptedOpenAI, split_tokens

QUESTION = "What should we build first, and why would it matter?"
USER: list[ChatCompletionMessageParam] = [{"role": "user", "content": QUESTION}]


def sync_client(
    server: ScriptedOpenAI, *, api_key: str = "unused", timeout: float = 10.0
) -> openai.OpenAI:
    return openai.OpenAI(base_url=server.base_url, api_key=api_key, max_retries=0, timeout=timeout)


def test_split_tokens_keeps_the_text() -> None:
    assert split_tokens("Hi there,  friend! ") == ["Hi", " there,", "  friend! "]
    for text in ["", " ", "a", " lead", "tail\n", "x  y\tz"]:
        assert "".join(split_tokens(text)) == text


def test_streams_a_scripted_reply_with_usage_to_a_sync_client(
    openai_server: ScriptedOpenAI,
) -> None:
    openai_server.reply(["Ship", " the", " chat", " first."])
    with sync_client(openai_server) as client:
        chunks = list(
            client.chat.completions.create(
                model="gpt-4o-mini",
                messages=USER,
                stream=True,
                stream_options={"include_usage": True},
            )
        )
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "Ship the chat first."
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "stop"
    last = chunks[-1]
    assert last.choices == []
    assert last.usage is not None
    assert last.usage.completion_tokens == 4
    assert last.usage.prompt_tokens == len(split_tokens(QUESTION))
    assert openai_server.requests[0]["stream"] is True
    assert openai_server.requests[0]["messages"] == USER


def test_without_include_usage_no_usage_chunk(openai_server: ScriptedOpenAI) -> None:
    with sync_client(openai_server) as client:
        chunks = list(
            client.chat.completions.create(
                model="m",
                messages=USER,
                stream=True,
            )
        )
    assert all(c.usage is None for c in chunks)
    assert "".join(c.choices[0].delta.content or "" for c in chunks) == (
        "Echo: What should we build first, and why would"
    )


def test_default_reply_is_a_deterministic_echo_also_unstreamed(
    openai_server: ScriptedOpenAI,
) -> None:
    with sync_client(openai_server) as client:
        done = client.chat.completions.create(model="m", messages=USER)
        again = client.chat.completions.create(model="m", messages=USER)
    assert done.choices[0].message.content == "Echo: What should we build first, and why would"
    assert again.choices[0].message.content == done.choices[0].message.content
    assert done.usage is not None
    assert done.usage.completion_tokens == 9


def test_a_reply_with_when_waits_for_a_request_that_says_it(
    openai_server: ScriptedOpenAI,
) -> None:
    openai_server.reply("for titles", when="You write titles")
    openai_server.reply("for anyone")
    title: list[ChatCompletionMessageParam] = [
        {"role": "system", "content": "You write titles for conversations."},
        *USER,
    ]
    with sync_client(openai_server) as client:
        first = client.chat.completions.create(model="m", messages=USER)
        second = client.chat.completions.create(model="m", messages=title)
        third = client.chat.completions.create(model="m", messages=title)
    assert first.choices[0].message.content == "for anyone"  # skipped the one not for it
    assert second.choices[0].message.content == "for titles"
    assert third.choices[0].message.content == "Echo: What should we build first, and why would"


def test_max_tokens_cuts_the_answer_with_finish_reason_length(
    openai_server: ScriptedOpenAI,
) -> None:
    openai_server.reply("one two three four five")
    with sync_client(openai_server) as client:
        done = client.chat.completions.create(
            model="m",
            messages=USER,
            max_tokens=2,
        )
    assert done.choices[0].message.content == "one two"
    assert done.choices[0].finish_reason == "length"


async def test_async_client_streams_while_the_test_loop_runs(
    openai_server: ScriptedOpenAI,
) -> None:
    """The server's own loop paces the tokens; the test's loop keeps running meanwhile."""
    openai_server.reply("a b c d e", token_delay_s=0.05, first_token_delay_s=0.05)
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            await asyncio.sleep(0.01)
            ticks += 1

    tick = asyncio.create_task(ticker())
    async with openai.AsyncOpenAI(
        base_url=openai_server.base_url, api_key="k", max_retries=0
    ) as client:
        start = time.monotonic()
        stream = await client.chat.completions.create(
            model="m",
            messages=USER,
            stream=True,
        )
        deltas = [c.choices[0].delta.content async for c in stream if c.choices]
        took = time.monotonic() - start
    tick.cancel()
    assert "".join(d or "" for d in deltas) == "a b c d e"
    assert took >= 0.25  # first-token delay plus four gaps
    assert ticks >= 10


def test_streamed_answers_record_when_each_token_was_sent(
    openai_server: ScriptedOpenAI,
) -> None:
    """Benchmarks time what the server did with each token from these records: paced from
    the first token, each sent after its request arrived, and unstreamed answers not
    recorded."""
    openai_server.reply(["a", " b", " c", " d"], token_delay_s=0.02, times=2)
    with sync_client(openai_server) as client:
        before = time.perf_counter()
        for _ in range(2):
            list(client.chat.completions.create(model="m", messages=USER, stream=True))
        client.chat.completions.create(model="m", messages=USER)
        after = time.perf_counter()
    assert [s.request for s in openai_server.streamed] == [0, 1]
    for streamed in openai_server.streamed:
        assert streamed.model == "m"
        assert streamed.tokens == ["a", " b", " c", " d"]
        assert before < streamed.arrived <= streamed.sent[0] < after
        assert streamed.sent == sorted(streamed.sent)
        assert streamed.sent[-1] - streamed.arrived >= 0.06  # paced: three gaps of 20 ms


def test_failures_are_queued_per_model_and_counted(openai_server: ScriptedOpenAI) -> None:
    openai_server.fail(429, "Slow down", times=2, model="gpt-4o")
    openai_server.reply("for the other model", model="other")
    with sync_client(openai_server) as client:
        answer = client.chat.completions.create(model="other", messages=USER)
        assert answer.choices[0].message.content == "for the other model"
        for _ in range(2):
            with pytest.raises(openai.RateLimitError) as caught:
                client.chat.completions.create(model="gpt-4o", messages=USER)
            assert caught.value.code == "rate_limit_exceeded"
            assert "Slow down" in caught.value.message
        third = client.chat.completions.create(model="gpt-4o", messages=USER)
    assert third.choices[0].message.content is not None
    assert third.choices[0].message.content.startswith("Echo:")
    assert len(openai_server.requests) == 4


def test_server_errors_have_openai_bodies(openai_server: ScriptedOpenAI) -> None:
    openai_server.fail(500)
    openai_server.fail(503, "Overloaded")
    with sync_client(openai_server) as client:
        with pytest.raises(openai.InternalServerError) as first:
            client.chat.completions.create(model="m", messages=USER)
        with pytest.raises(openai.InternalServerError) as second:
            client.chat.completions.create(model="m", messages=USER)
    assert first.value.status_code == 500
    assert second.value.status_code == 503
    assert "Overloaded" in second.value.message


def test_api_key_and_known_models_refuse_like_openai(openai_server: ScriptedOpenAI) -> None:
    openai_server.api_key = "sk-right"
    openai_server.known_models = {"gpt-4o-mini"}
    with sync_client(openai_server, api_key="sk-wrong") as client:
        with pytest.raises(openai.AuthenticationError) as wrong:
            client.chat.completions.create(model="gpt-4o-mini", messages=USER)
        with pytest.raises(openai.AuthenticationError):
            client.models.list()
    assert wrong.value.code == "invalid_api_key"
    with sync_client(openai_server, api_key="sk-right") as client:
        with pytest.raises(openai.NotFoundError) as unknown:
            client.chat.completions.create(model="gpt-9", messages=USER)
        assert [m.id for m in client.models.list()] == ["gpt-4o-mini"]
        ok = client.chat.completions.create(model="gpt-4o-mini", messages=USER)
    assert unknown.value.code == "model_not_found"
    assert "gpt-9" in unknown.value.message
    assert ok.choices[0].message.content


def test_midstream_drop_breaks_the_stream_after_the_tokens(
    openai_server: ScriptedOpenAI,
) -> None:
    openai_server.fail_midstream(2, "one two three four")
    seen: list[str] = []
    with sync_client(openai_server) as client:
        stream = client.chat.completions.create(
            model="m",
            messages=USER,
            stream=True,
        )
        with pytest.raises((httpx.RemoteProtocolError, openai.APIError)):
            seen.extend(c.choices[0].delta.content or "" for c in stream if c.choices)
    assert "".join(seen) == "one two"


def test_midstream_drop_of_an_unstreamed_answer(openai_server: ScriptedOpenAI) -> None:
    openai_server.fail_midstream(1, "one two")
    with sync_client(openai_server) as client, pytest.raises(openai.APIConnectionError):
        client.chat.completions.create(model="m", messages=USER)


def test_hang_times_out_the_client_and_still_stops_promptly() -> None:
    with ScriptedOpenAI() as server:
        server.hang()
        with sync_client(server, timeout=0.3) as client, pytest.raises(openai.APITimeoutError):
            client.chat.completions.create(model="m", messages=USER)
        start = time.monotonic()
    assert time.monotonic() - start < 3


def test_a_stopped_server_refuses_connections() -> None:
    with ScriptedOpenAI() as server:
        url = server.base_url
    with (
        openai.OpenAI(base_url=url, api_key="k", max_retries=0) as client,
        pytest.raises(openai.APIConnectionError),
    ):
        client.models.list()
