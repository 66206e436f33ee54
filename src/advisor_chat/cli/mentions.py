"""How many answers a message asks for, read the way the server reads mentions
(DESIGN.md 8.1): `@First Last` before `@First`, case-insensitive; `@board`/`@all` is the
whole board; no mention, the active advisor. The server alone decides who answers; the
chat only needs the count, to know when a round is over without waiting out a silence."""

from __future__ import annotations

import re
from collections.abc import Iterable

from advisor_chat.cli.roster import Advisor

EVERYONE = ("@board", "@all")
_AT = re.compile(r"(?<![\w@])@\w")  # an @ that starts a word (not an email's)


def expected_answers(text: str, board: list[Advisor], known: Iterable[Advisor]) -> int | None:
    """The number of advisors asked, or None when some @word matches nobody `known` (the
    server may know them: the round then ends after a quiet spell instead)."""
    lowered = text.lower()
    if any(re.search(re.escape(word) + r"\b", lowered) for word in EVERYONE):
        return len(board) or None
    candidates = list({a.id: a for a in [*board, *known]}.values())
    asked: list[str] = []
    rest = lowered
    for full in (True, False):
        for advisor in candidates:
            name = advisor.name if full else advisor.first_name
            pattern = re.compile(r"(?<![\w@])@" + re.escape(name.lower()) + r"\b")
            if name and pattern.search(rest):
                rest = pattern.sub(" ", rest)
                asked.append(advisor.id)
    if _AT.search(rest):
        return None
    return len(dict.fromkeys(asked)) or 1
