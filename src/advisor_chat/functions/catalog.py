"""Every function module, gathered into the app's registry. Python modules are named for
their concept; the function paths keep the original app's module names (advisorMemories:...,
threadSummaries:...), so existing clients port over."""

from __future__ import annotations

from advisor_chat.functions import (
    account,
    advisor_search,
    advisors,
    chat,
    chat_actions,
    conversations,
    marketplace,
    memories,
    messages,
    realtime,
    summaries,
    system,
    teams,
    users,
)
from advisor_chat.functions.registry import Registry

MODULES = (
    users,
    account,
    advisors,
    marketplace,
    advisor_search,
    teams,
    conversations,
    messages,
    chat,
    chat_actions,
    memories,
    summaries,
    realtime,
    system,
)


def build_registry() -> Registry:
    return Registry(
        (f for module in MODULES for f in module.FUNCTIONS),
        (r for module in MODULES for r in getattr(module, "RETIRED", ())),
    )
