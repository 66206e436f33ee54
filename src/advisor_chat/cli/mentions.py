"""How many answers a sent message asks for, worked out by the server's own parser
(`ai.mentions`: `@First`, `@First Last`, `@board`/`@all`, else the active advisor), so
the chat knows when its round is over instead of waiting out a silence. The server alone
decides who answers; this only counts."""

from __future__ import annotations

from typing import Any

from advisor_chat.ai.mentions import parse_mentions, who_answers
from advisor_chat.cli.roster import Roster


def expected_answers(text: str, conversation: dict[str, Any], roster: Roster) -> int | None:
    """For `conversation` as it is after the send (a mention of an advisor from the user's
    board has seated them on it). None when some mention matches nobody known here."""
    board = list(conversation.get("advisorIds", []))
    found = parse_mentions(text, roster.members(board))
    if found.unknown:
        return None
    return len(who_answers(found, board, conversation.get("activeAdvisorId")))
