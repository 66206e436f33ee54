"""The rules of the sign-in throttle (auth/throttle.py): how many attempts one key (a client
address, an account, a device) may make per window, by name. Configurable per deployment
through `ADVISOR_CHAT_AUTH_LIMITS`, checked when the settings are read, so a misspelt name
stops the server at start instead of leaving a limit at its default.

Stdlib only: settings.py imports it to check the setting.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal, get_args

LimitName = Literal[
    "signInAddress",
    "signInAccount",
    "signInDevice",
    "signUpAddress",
    "signUpEmail",
    "refreshAddress",
    "refreshAccount",
    "passwordAddress",
    "passwordAccount",
    "oidcTokenAddress",
]
LIMIT_NAMES: tuple[LimitName, ...] = get_args(LimitName)


@dataclass(frozen=True)
class Rule:
    """`count` attempts per `window_s` seconds, all of them at once if need be (burst =
    count); past that, one more each `window_s / count`."""

    name: LimitName
    count: int
    window_s: float

    @property
    def window_ms(self) -> float:
        return self.window_s * 1000

    @property
    def interval_ms(self) -> float:
        """The time one attempt holds its place: the window shared by `count`."""
        return self.window_ms / self.count


MINUTES_15 = 15 * 60
HOUR = 3600

# Failed attempts, except sign-up (every attempt) and refreshAccount (every refresh). An
# address is a whole office or NAT behind one IP, hence more than an account: the address
# rules stop one source's flood, the account rules a distributed one against one account.
DEFAULT_RULES: Mapping[LimitName, Rule] = {
    r.name: r
    for r in (
        Rule("signInAddress", 30, MINUTES_15),
        Rule("signInAccount", 10, MINUTES_15),
        Rule("signInDevice", 10, MINUTES_15),
        Rule("signUpAddress", 20, HOUR),
        Rule("signUpEmail", 5, HOUR),
        Rule("refreshAddress", 30, MINUTES_15),
        Rule("refreshAccount", 100, MINUTES_15),
        Rule("passwordAddress", 30, MINUTES_15),
        Rule("passwordAccount", 10, MINUTES_15),
        Rule("oidcTokenAddress", 30, MINUTES_15),
    )
}

# What a refusal tells a person: "too many <this>; try again in N s".
REFUSALS: Mapping[LimitName, str] = {
    "signInAddress": "sign-in attempts from this address",
    "signInAccount": "sign-in attempts for this account",
    "signInDevice": "sign-in attempts from this device",
    "signUpAddress": "sign-ups from this address",
    "signUpEmail": "sign-ups for this email",
    "refreshAddress": "failed refreshes from this address",
    "refreshAccount": "refreshes for this account",
    "passwordAddress": "password change attempts from this address",
    "passwordAccount": "password change attempts for this account",
    "oidcTokenAddress": "failed sign-ins with the issuer from this address",
}

_FIELDS = ("count", "windowSeconds")


def rules_from(overrides: Mapping[str, Mapping[str, float]]) -> dict[LimitName, Rule]:
    """The defaults with a deployment's overrides, e.g.
    `{"signInAddress": {"count": 60}, "signUpEmail": {"count": 3, "windowSeconds": 600}}`.
    Raises ValueError naming what is wrong: an unknown limit or field, a bad number."""
    rules = dict(DEFAULT_RULES)
    for name, values in overrides.items():
        if name not in rules:
            raise ValueError(f"unknown auth limit {name!r}; known: {', '.join(LIMIT_NAMES)}")
        limit: LimitName = rules[name].name  # narrowed to the Literal through the table
        unknown = set(values) - set(_FIELDS)
        if unknown:
            raise ValueError(
                f"auth limit {name}: unknown field(s) {', '.join(sorted(unknown))}; "
                f"known: {', '.join(_FIELDS)}"
            )
        count = values.get("count", rules[limit].count)
        window = values.get("windowSeconds", rules[limit].window_s)
        if count != int(count) or count < 1:
            raise ValueError(f"auth limit {name}: count must be a whole number ≥ 1")
        if not math.isfinite(window) or window <= 0:
            raise ValueError(f"auth limit {name}: windowSeconds must be a number > 0")
        rules[limit] = Rule(limit, int(count), float(window))
    return rules
