"""The advisors a chat session knows by id: the name and title an answer is attributed
with, a colour each (stable for the session, so a voice keeps its colour), and the names
a message can mention them by (for Tab-completion)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from advisor_chat.ai.mentions import Member
from advisor_chat.ai.persona import display_name

PALETTE = ("cyan", "magenta", "green", "yellow", "blue", "bright_red", "bright_cyan")
UNKNOWN = "an advisor"  # an answer by an advisor since deleted, or not visible any more


@dataclass(frozen=True)
class Advisor:
    id: str
    name: str
    title: str
    first_name: str
    colour: str

    @property
    def label(self) -> str:
        return f"{self.name} ({self.title})" if self.title else self.name

    @property
    def mentions(self) -> tuple[str, ...]:
        """How a message can address them: `@First` and `@First Last`."""
        names = (f"@{self.first_name}", f"@{self.name}")
        return tuple(dict.fromkeys(n for n in names if n != "@"))


def _names(doc: dict[str, Any]) -> tuple[str, str, str]:
    """(name, title, first name), the name as the server's mention parser reads it."""
    name = display_name(doc)
    persona = doc.get("persona")
    title = persona.get("title") if isinstance(persona, dict) else None
    return name, str(title or "").strip(), name.split()[0]


class Roster:
    """Advisors by id, each given the next palette colour when first seen."""

    def __init__(self) -> None:
        self._by_id: dict[str, Advisor] = {}

    def add(self, docs: Iterable[dict[str, Any]]) -> None:
        for doc in docs:
            advisor_id = str(doc.get("_id", ""))
            if not advisor_id:
                continue
            name, title, first = _names(doc)
            known = self._by_id.get(advisor_id)
            colour = known.colour if known else PALETTE[len(self._by_id) % len(PALETTE)]
            self._by_id[advisor_id] = Advisor(advisor_id, name, title, first, colour)

    def get(self, advisor_id: str | None) -> Advisor | None:
        return None if advisor_id is None else self._by_id.get(advisor_id)

    def known(self) -> list[Advisor]:
        return list(self._by_id.values())

    def members(self, advisor_ids: Iterable[str]) -> list[Member]:
        """The known ones among `advisor_ids`, as the mention parser takes them."""
        return [Member(a.id, a.name) for i in advisor_ids if (a := self._by_id.get(i))]

    def missing(self, advisor_ids: Iterable[str | None]) -> list[str]:
        return [i for i in dict.fromkeys(advisor_ids) if i is not None and i not in self._by_id]

    def mention_names(self, advisor_ids: Iterable[str] | None = None) -> list[str]:
        """Completions for `@…`: these advisors' (every known one's if None), then the
        whole-board mentions."""
        ids = self._by_id if advisor_ids is None else advisor_ids
        names = [m for i in ids if (a := self._by_id.get(i)) for m in a.mentions]
        return [*dict.fromkeys(names), "@board", "@all"]
