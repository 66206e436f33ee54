"""Token counts that cut the prompt budget: exact for OpenAI's models, offline, and an
estimate for other models that does not run low on English."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

from advisor_chat.ai.providers.counting import (
    EncodingCounter,
    EstimateCounter,
    counter_for,
    openai_encoding,
)
from advisor_chat.ai.providers.openai_compatible import OpenAICompatible

# Plain English of the kind advisors read and write, with numbers, short words and marks.
ENGLISH = [
    "Should we raise prices before the launch, or wait until we have more customers?",
    "I'd hold off: a 20% increase now signals confidence you haven't earned yet.",
    "Run a two-week test with 10% of new sign-ups; if churn stays under 3%, go ahead.",
    "It is a bet on a few big accounts, so talk to all of them first, one by one.",
    "Q3 revenue was $1.2M (up 14% YoY), but the cash runway is only 9 months.",
    "Do it. Then ask why, and write it down so the team can see it.",
    "Our CTO thinks the rewrite will take six weeks; history says double that.",
    "Hire slowly, fire quickly, and never let a good person leave without a conversation.",
    "a a a a a a a a",
    "I, we, you: it is as it is.",
]


@pytest.mark.parametrize(
    ("text", "o200k", "cl100k"),
    [
        # tiktoken's own figures (OpenAI cookbook, "How to count tokens with tiktoken")
        ("tiktoken is great!", 6, 6),
        ("antidisestablishmentarianism", 6, 6),
        ("2 + 2 = 4", 7, 7),
        ("お誕生日おめでとう", 8, 9),
        ("hello world", 2, 2),
        ("", 0, 0),
    ],
)
def test_openai_models_count_exactly_in_their_encoding(text: str, o200k: int, cl100k: int) -> None:
    provider = OpenAICompatible(None, "sk-unused")
    for model in ["gpt-4o", "gpt-4o-mini", "openai/gpt-4.1", "o3-mini", "gpt-5"]:
        assert provider.counter(model).count(text) == o200k, model
    for model in ["gpt-4", "gpt-4-turbo", "gpt-3.5-turbo", "openai/gpt-3.5-turbo"]:
        assert provider.counter(model).count(text) == cl100k, model


@pytest.mark.parametrize(
    ("model", "encoding"),
    [
        ("gpt-4o-mini-2024-07-18", "o200k_base"),
        ("chatgpt-4o-latest", "o200k_base"),
        ("ft:gpt-4o-mini:acme::abc123", "o200k_base"),
        ("OpenAI/GPT-4o", "o200k_base"),
        ("o1", "o200k_base"),
        ("o4-mini", "o200k_base"),
        ("gpt-4.1-nano", "o200k_base"),
        ("gpt-5-mini", "o200k_base"),
        ("gpt-oss:20b", "o200k_base"),
        ("gpt-4-0613", "cl100k_base"),
        ("gpt-35-turbo", "cl100k_base"),
        ("llama3.1:8b", None),
        ("mistralai/mistral-large", None),
        ("qwen2.5-coder", None),
        ("ollama", None),
        ("SmolLM2-135M-Instruct", None),
    ],
)
def test_model_names_map_to_their_encoding(model: str, encoding: str | None) -> None:
    assert openai_encoding(model) == encoding
    expected = EstimateCounter if encoding is None else EncodingCounter
    assert isinstance(counter_for(model), expected)


@pytest.mark.parametrize("encoding", ["o200k_base", "cl100k_base"])
def test_the_estimate_never_runs_low_on_english(encoding: str) -> None:
    """Each sentence and the whole text: an under-count would send a prompt the model
    refuses, so the estimate must be at least the real count."""
    exact, estimate = EncodingCounter(encoding), EstimateCounter()
    whole = "\n\n".join(ENGLISH)
    for text in [*ENGLISH, whole]:
        assert estimate.count(text) >= exact.count(text), text
    # ...and not absurdly high either: the answer would lose room for nothing.
    assert estimate.count(whole) <= 1.6 * exact.count(whole)


def test_the_estimate_counts_a_word_at_least_once() -> None:
    assert EstimateCounter().count("a a a a a a") == 6
    assert EstimateCounter().count("") == 0


def test_counting_needs_no_network() -> None:
    """Encodings ship inside the wheel: with every socket refused, counts still come."""
    script = textwrap.dedent(
        """
        import socket

        def refuse(*args, **kwargs):
            raise OSError("network used")

        socket.socket.connect = refuse
        socket.create_connection = refuse
        socket.getaddrinfo = refuse

        from advisor_chat.ai.providers.counting import counter_for

        print(counter_for("gpt-4o").count("hello world"), counter_for("gpt-4").count("hi there"))
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["2", "2"]
