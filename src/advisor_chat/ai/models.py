"""Which model answers: the advisor's `modelHint`, else the user's plan's model, else the
global fallback (DESIGN.md 8.5), and the provider that serves it.

With an OpenAI-compatible endpoint configured every model name goes to it. Without one,
every answer comes from the embedded offline model, whatever an advisor or plan names:
those names are for a real provider, which the answer's notice says how to configure.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from advisor_chat.ai.providers.base import Provider
from advisor_chat.settings import Settings

DEFAULT_MODEL = "gpt-4o-mini"  # the fallback with a provider when none is configured


@dataclass(frozen=True)
class Choice:
    provider: Provider
    model: str
    budget: int  # tokens of prompt and answer together for one turn

    @property
    def label(self) -> str:
        """What an answer records as its model."""
        return self.model


class Models:
    def __init__(
        self,
        provider: Provider,
        *,
        global_model: str,
        plan_models: Mapping[str, str] | None = None,
        honour_hints: bool = True,
        context_tokens: int = 8_000,
    ) -> None:
        self.provider = provider
        self.global_model = global_model
        self.plan_models = dict(plan_models or {})
        self.honour_hints = honour_hints
        self.context_tokens = context_tokens

    @classmethod
    def from_settings(cls, settings: Settings) -> Models:
        if settings.openai_base_url or settings.openai_api_key:
            from advisor_chat.ai.providers.openai_compatible import OpenAICompatible

            key = settings.openai_api_key
            return cls(
                OpenAICompatible(
                    base_url=settings.openai_base_url,
                    api_key=key.get_secret_value() if key is not None else None,
                ),
                global_model=settings.model or DEFAULT_MODEL,
                plan_models=settings.plan_models,
                context_tokens=settings.context_tokens,
            )
        from advisor_chat.ai.providers.embedded import EMBEDDED_MODEL, Embedded

        return cls(
            Embedded(model_path=settings.embedded_model_path),
            global_model=EMBEDDED_MODEL,
            honour_hints=False,
            context_tokens=settings.context_tokens,
        )

    def choose(self, model_hint: str | None, plan: str | None) -> Choice:
        if self.honour_hints:
            if model_hint and model_hint.strip():
                return self._choice(model_hint.strip())
            if plan is not None and self.plan_models.get(plan):
                return self._choice(self.plan_models[plan])
        return self.fallback()

    def fallback(self) -> Choice:
        return self._choice(self.global_model)

    def _choice(self, model: str) -> Choice:
        window = self.provider.context_window(model)
        return Choice(self.provider, model, min(self.context_tokens, window))

    async def aclose(self) -> None:
        await self.provider.aclose()
