"""What each plan (free, pro, enterprise) may use. Configurable per deployment through
`ADVISOR_CHAT_QUOTAS`; enforced by functions/quotas.py."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

Bucket = Literal["messages", "generations"]


@dataclass(frozen=True)
class PlanLimits:
    messages_per_minute: int
    generations_per_day: int

    def of(self, bucket: Bucket) -> int:
        return self.messages_per_minute if bucket == "messages" else self.generations_per_day


DEFAULT_LIMITS: dict[str, PlanLimits] = {
    "free": PlanLimits(messages_per_minute=20, generations_per_day=100),
    "pro": PlanLimits(messages_per_minute=60, generations_per_day=2_000),
    "enterprise": PlanLimits(messages_per_minute=300, generations_per_day=50_000),
}


def limits_from(overrides: Mapping[str, Mapping[str, int]]) -> dict[str, PlanLimits]:
    """The defaults with a deployment's overrides, e.g.
    `{"free": {"messagesPerMinute": 10}, "pro": {"generationsPerDay": 5000}}`."""
    limits = dict(DEFAULT_LIMITS)
    for plan, values in overrides.items():
        base = limits.get(plan, DEFAULT_LIMITS["free"])
        limits[plan] = PlanLimits(
            messages_per_minute=int(values.get("messagesPerMinute", base.messages_per_minute)),
            generations_per_day=int(values.get("generationsPerDay", base.generations_per_day)),
        )
    return limits
