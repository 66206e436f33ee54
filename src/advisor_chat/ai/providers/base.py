"""What every model provider is: a stream of text deltas, then the usage.

An advisor's turn asks a `Provider` for `stream(request)`; it yields `Delta`s as the text
arrives and ends with one `Usage`. Whatever goes wrong is a `ProviderError` with a message
a user can act on (which setting to fix) and whether trying again may help.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from typing import Literal, Protocol

Role = Literal["system", "user", "assistant"]


@dataclass(frozen=True)
class ChatMessage:
    role: Role
    content: str


@dataclass(frozen=True)
class Delta:
    text: str


@dataclass(frozen=True)
class Usage:
    prompt_tokens: int
    completion_tokens: int


@dataclass(frozen=True)
class Request:
    model: str
    messages: Sequence[ChatMessage]
    max_tokens: int = 512
    temperature: float = 0.7
    # Requests sharing a key share a prompt prefix (one advisor's persona): a provider that
    # caches prompts (the embedded model) keeps that prefix warm per key.
    cache_key: str | None = None
    stop: Sequence[str] = field(default_factory=tuple)


class ProviderError(Exception):
    """A provider could not answer. `message` says what to fix, in words for the user;
    `retryable` is False when trying again cannot help (a bad key, an unknown model)."""

    def __init__(self, message: str, *, retryable: bool, kind: str = "provider") -> None:
        super().__init__(message)
        self.message = message
        self.retryable = retryable
        self.kind = kind  # "auth" | "model" | "connection" | "timeout" | "rate" | "provider"


class TokenCounter(Protocol):
    """Counts tokens of text the way a model's tokenizer does (or a safe over-estimate)."""

    def count(self, text: str) -> int: ...


class Provider(Protocol):
    name: str  # "openai" (any OpenAI-compatible endpoint) | "embedded"

    def stream(self, request: Request) -> AsyncIterator[Delta | Usage]: ...

    async def complete(self, request: Request) -> tuple[str, Usage]:
        """The whole answer at once, for text nobody watches arrive (summaries, titles,
        memories). Raises `ProviderError` as `stream` does."""
        ...

    def counter(self, model: str) -> TokenCounter: ...

    def context_window(self, model: str) -> int:
        """Tokens the model reads and writes in one request (prompt + answer)."""
        ...

    def describe(self, model: str) -> str | None:
        """A notice shown with every answer of this model (the embedded model says it is
        small and offline, and how to configure a real provider), or None."""
        ...

    async def aclose(self) -> None: ...
