"""Which model answers: the advisor's hint, else the plan's model, else the global one; and
with no provider configured, always the embedded model."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from pydantic import SecretStr

from advisor_chat.ai.models import DEFAULT_MODEL, Models
from advisor_chat.ai.providers.embedded import EMBEDDED_MODEL, Embedded
from advisor_chat.ai.providers.openai_compatible import OpenAICompatible
from advisor_chat.settings import Settings

PROVIDER_ENV = [
    "OPENAI_API_KEY",
    "OPENAI_BASE_URL",
    "ADVISOR_CHAT_OPENAI_API_KEY",
    "ADVISOR_CHAT_OPENAI_BASE_URL",
    "ADVISOR_CHAT_MODEL",
    "ADVISOR_CHAT_PLAN_MODELS",
    "ADVISOR_CHAT_CONTEXT_TOKENS",
    "ADVISOR_CHAT_EMBEDDED_MODEL_PATH",
]


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Settings read the environment and ./.env: a developer's own OPENAI_API_KEY must not
    decide."""
    for name in PROVIDER_ENV:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)


@pytest.fixture
async def models() -> AsyncIterator[Models]:
    chosen = Models(
        OpenAICompatible(None, "sk-unused"),
        global_model="gpt-4o-mini",
        plan_models={"pro": "gpt-4o", "free": ""},
        context_tokens=8_000,
    )
    yield chosen
    await chosen.aclose()


def test_the_advisors_hint_comes_first(models: Models) -> None:
    assert models.choose("gpt-4.1", "pro").model == "gpt-4.1"
    assert models.choose("  o3-mini ", None).model == "o3-mini"


def test_without_a_hint_the_plans_model(models: Models) -> None:
    assert models.choose(None, "pro").model == "gpt-4o"
    assert models.choose("   ", "pro").model == "gpt-4o"


def test_without_either_the_global_model(models: Models) -> None:
    assert models.choose(None, None).model == "gpt-4o-mini"
    assert models.choose(None, "enterprise").model == "gpt-4o-mini"  # a plan with no model
    assert models.choose("", "free").model == "gpt-4o-mini"  # an empty plan model
    assert models.fallback().model == "gpt-4o-mini"


def test_the_budget_is_the_smaller_of_the_setting_and_the_models_window(
    models: Models,
) -> None:
    assert models.choose("gpt-4o", None).budget == 8_000
    assert models.choose("gpt-4", None).budget == 8_000
    roomy = Models(OpenAICompatible(None, "sk-unused"), global_model="x", context_tokens=100_000)
    assert roomy.choose("gpt-4", None).budget == 8_192
    assert roomy.choose("gpt-4o", None).budget == 100_000
    assert roomy.choose("my-local-model", None).budget == 8_192
    assert roomy.choose("gpt-4o", None).label == "gpt-4o"


async def test_the_embedded_model_answers_whatever_is_asked_for() -> None:
    """Hints and plans name models of a real provider; without one, the embedded model
    answers, and its notice says how to configure a provider."""
    models = Models(
        Embedded(),
        global_model=EMBEDDED_MODEL,
        plan_models={"pro": "gpt-4o"},
        honour_hints=False,
        context_tokens=8_000,
    )
    try:
        for hint, plan in [("gpt-4o", "pro"), (None, "pro"), (None, None)]:
            choice = models.choose(hint, plan)
            assert choice.model == EMBEDDED_MODEL
            assert choice.budget == 1_024
            assert choice.provider.describe(choice.model) is not None
    finally:
        await models.aclose()


async def test_from_settings_without_a_provider_is_embedded(clean_env: None) -> None:
    models = Models.from_settings(Settings())
    try:
        assert models.provider.name == "embedded"
        assert models.choose("gpt-4o", "pro").model == EMBEDDED_MODEL
    finally:
        await models.aclose()


async def test_from_settings_with_a_key_uses_the_openai_endpoint(clean_env: None) -> None:
    settings = Settings(openai_api_key=SecretStr("sk-test"), plan_models={"pro": "gpt-4o"})
    models = Models.from_settings(settings)
    try:
        assert isinstance(models.provider, OpenAICompatible)
        assert models.provider.base_url == "https://api.openai.com/v1"
        assert models.choose(None, None).model == DEFAULT_MODEL
        assert models.choose(None, "pro").model == "gpt-4o"
        assert models.choose("gpt-4.1-mini", "pro").model == "gpt-4.1-mini"
        assert models.provider.describe("gpt-4o") is None
    finally:
        await models.aclose()


async def test_from_settings_with_a_local_endpoint_and_global_model(clean_env: None) -> None:
    settings = Settings(openai_base_url="http://localhost:11434/v1", model="llama3.1:8b")
    models = Models.from_settings(settings)
    try:
        assert isinstance(models.provider, OpenAICompatible)
        assert models.provider.base_url == "http://localhost:11434/v1"
        assert models.choose(None, "pro").model == "llama3.1:8b"
        assert models.choose("qwen2.5:7b", None).model == "qwen2.5:7b"
        assert models.choose(None, None).budget == 8_000  # the window an unknown model gets
    finally:
        await models.aclose()
