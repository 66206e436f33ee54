"""The answers the original app's functions joined together, built in one place so every
path that serves them answers the same shape: a message with its `advisor`, a
conversation's `activeAdvisor`, its `lastMessage`.

Each join reads one document by id; `Advisors` remembers what it read, so a list of
messages reads each advisor once however many messages it wrote.
"""

from __future__ import annotations

from typing import Any

from advisor_chat.functions.context import QueryCtx
from advisor_chat.store import Document

PREVIEW = 100  # characters of a conversation's last message shown in its list entry


class Advisors:
    """Advisors read by id for one answer, each at most once."""

    def __init__(self, ctx: QueryCtx) -> None:
        self._ctx = ctx
        self._read: dict[str, Document | None] = {}

    async def get(self, advisor_id: str | None) -> Document | None:
        if not advisor_id:
            return None
        if advisor_id not in self._read:
            self._read[advisor_id] = await self._ctx.db.get("advisors", advisor_id)
        return self._read[advisor_id]

    async def brief(self, advisor_id: str | None) -> dict[str, Any] | None:
        """`{_id, name, title, imageUrl}`, as the original named an advisor, or None."""
        advisor = await self.get(advisor_id)
        return None if advisor is None else advisor_brief(advisor)


def advisor_brief(advisor: Document) -> dict[str, Any]:
    """An advisor as a message or a conversation names it. `imageUrl` falls back to the
    persona's image (our advisor files keep it there); absent when neither is set, as the
    original's JSON left out an undefined field."""
    persona = advisor.get("persona") or {}
    brief: dict[str, Any] = {
        "_id": advisor["_id"],
        "name": persona.get("name"),
        "title": persona.get("title"),
    }
    image = advisor.get("imageUrl") or persona.get("image")
    if image:
        brief["imageUrl"] = image
    return brief


async def with_advisor(advisors: Advisors, message: Document) -> dict[str, Any]:
    """The message as stored, with `advisor`: who wrote it, or null for the user's and
    the system's messages (and an advisor deleted since)."""
    return message | {"advisor": await advisors.brief(message.get("advisorId"))}


def last_message_preview(message: Document | None) -> dict[str, Any] | None:
    """`{content, createdAt, sender}` with the content cut to PREVIEW characters and "..."
    when longer, as a conversation list shows it."""
    if message is None:
        return None
    content = message["content"]
    if len(content) > PREVIEW:
        content = content[:PREVIEW] + "..."
    return {"content": content, "createdAt": message["createdAt"], "sender": message["sender"]}
