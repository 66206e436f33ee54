"""Every function module, gathered into the app's registry."""

from __future__ import annotations

from advisor_chat.functions import conversations, messages, users
from advisor_chat.functions.registry import Registry

MODULES = (users, conversations, messages)


def build_registry() -> Registry:
    return Registry(f for module in MODULES for f in module.FUNCTIONS)
