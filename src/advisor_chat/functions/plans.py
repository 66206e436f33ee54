"""What each plan (free, pro, enterprise) may use: the rates of functions/quotas.py and the
storage of functions/storage.py. Configurable per deployment through `ADVISOR_CHAT_QUOTAS`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from typing import Literal

Bucket = Literal["messages", "generations"]
# Documents a user may keep, in the tables where they create them; memories and summaries
# are counted per conversation, as they are shown and used.
Stored = Literal["conversations", "customAdvisors", "memories", "summaries"]

KiB = 1024


@dataclass(frozen=True)
class PlanLimits:
    messages_per_minute: int
    generations_per_day: int
    conversations: int = 500
    custom_advisors: int = 25
    memories_per_conversation: int = 200
    summaries_per_conversation: int = 100
    value_bytes: int = 64 * KiB  # one stored value: a message, a memory, a persona...

    def of(self, bucket: Bucket) -> int:
        return self.messages_per_minute if bucket == "messages" else self.generations_per_day

    def stored(self, kind: Stored) -> int:
        return {
            "conversations": self.conversations,
            "customAdvisors": self.custom_advisors,
            "memories": self.memories_per_conversation,
            "summaries": self.summaries_per_conversation,
        }[kind]


DEFAULT_LIMITS: dict[str, PlanLimits] = {
    "free": PlanLimits(messages_per_minute=20, generations_per_day=100),
    "pro": PlanLimits(
        messages_per_minute=60,
        generations_per_day=2_000,
        conversations=5_000,
        custom_advisors=250,
        memories_per_conversation=1_000,
        summaries_per_conversation=500,
        value_bytes=256 * KiB,
    ),
    "enterprise": PlanLimits(
        messages_per_minute=300,
        generations_per_day=50_000,
        conversations=50_000,
        custom_advisors=2_500,
        memories_per_conversation=5_000,
        summaries_per_conversation=2_000,
        value_bytes=1024 * KiB,
    ),
}

# The configuration's names (camelCase, as the rest of the API) of each limit.
SETTING_NAMES = {
    "messagesPerMinute": "messages_per_minute",
    "generationsPerDay": "generations_per_day",
    "conversations": "conversations",
    "customAdvisors": "custom_advisors",
    "memoriesPerConversation": "memories_per_conversation",
    "summariesPerConversation": "summaries_per_conversation",
    "valueBytes": "value_bytes",
}
assert set(SETTING_NAMES.values()) == {f.name for f in fields(PlanLimits)}


def limits_from(overrides: Mapping[str, Mapping[str, int]]) -> dict[str, PlanLimits]:
    """The defaults with a deployment's overrides, e.g.
    `{"free": {"messagesPerMinute": 10, "conversations": 100}, "pro": {"valueBytes": 1048576}}`.
    An unknown name or a negative value is refused (ValueError) rather than ignored: a
    misspelt limit would otherwise leave the default silently in force."""
    limits = dict(DEFAULT_LIMITS)
    for plan, values in overrides.items():
        changes: dict[str, int] = {}
        for name, value in values.items():
            field = SETTING_NAMES.get(name)
            if field is None:
                known = ", ".join(SETTING_NAMES)
                raise ValueError(f"quotas: unknown limit {name!r} for plan {plan!r} ({known})")
            if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
                raise ValueError(f"quotas: {plan}.{name} must be a number of at least 0")
            changes[field] = int(value)
        limits[plan] = replace(limits.get(plan, DEFAULT_LIMITS["free"]), **changes)
    return limits


def limits_of(limits: Mapping[str, PlanLimits], plan: str | None) -> PlanLimits:
    """A plan's limits; a plan the deployment does not know gets the free plan's."""
    return limits.get(plan or "free") or limits.get("free") or DEFAULT_LIMITS["free"]
