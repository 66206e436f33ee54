"""Fixtures of the AI layer: a scripted OpenAI-compatible server per test."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.ai.openai_server import ScriptedOpenAI


@pytest.fixture
def openai_server() -> Iterator[ScriptedOpenAI]:
    with ScriptedOpenAI() as server:
        yield server
