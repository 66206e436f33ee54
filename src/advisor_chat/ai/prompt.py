"""An advisor's context under a token budget (DESIGN.md 8.3).

A prompt is one system message — the persona prompt, what the advisor knows about the
user (its memories), the latest thread summary — then the most recent messages that fit,
oldest first, each whole. The head is kept to `HEAD_SHARE` of the room (trimmed: the
summary keeps its end, then memories go from the last, then the persona prompt keeps its
beginning), so a long persona never leaves no room for the conversation.

Roles, chosen for small models (SmolLM2-135M through ChatML) as much as for large ones:

- the user's messages are `user`; this advisor's own earlier answers are `assistant`;
- another advisor's answer is a `user` message naming the speaker,
  `[Margaret Thornbury, advisor] said: …`. A plain bracketed tag survives every chat
  template (the OpenAI `name` field is dropped by most local ones), and as a second
  `assistant` voice a small model takes the words for its own and carries on as that
  advisor;
- left out: answers that ended `error` (a failure's fragment, not advice), answers still
  `streaming` (this turn's own placeholder, or another advisor mid-answer), `system`
  messages (notices about the product for the user; a small model given one answers it
  instead of the user) and empty messages. A `stopped` answer goes in as it is: the user
  saw it.

The user's current question (the newest user message, looked for among the newest
`EXCHANGE_SCAN` messages) always gets in: when it alone is too long it is cut keeping its
end, and answers newer than it (colleagues answering the same question in a round) get in
only in the room it leaves. Older messages go in newest first, whole, until the first
that does not fit: the walk stops there, so its cost is what fits, not the history's
length.

`tokens` is counted as the chat template frames messages (`prompt_tokens`), and
`tokens + answer_tokens <= budget` always holds.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from advisor_chat.ai.providers.base import ChatMessage, Role, TokenCounter
from advisor_chat.ai.providers.counting import MESSAGE_OVERHEAD, REPLY_PRIMING
from advisor_chat.ai.tokens import count_within, fit_end, fit_start

HEAD_SHARE = 0.5  # of the room for messages, at most, for persona + memories + summary
EXCHANGE_SCAN = 32  # messages looked through for the current question (a round's answers)
MAX_MEMORIES = 12
MEMORY_CHARS = 200  # per memory line: a memory is a fact, not a document
MIN_SUMMARY_TOKENS = 16  # a summary cut shorter than this says nothing; drop it instead
MEMORIES_LABEL = "What you know about the user:"
SUMMARY_LABEL = "Earlier in this conversation: "


@dataclass(frozen=True)
class Prompt:
    messages: list[ChatMessage]  # chronological, the system message first
    tokens: int  # `prompt_tokens(messages)`
    history_used: int  # the walk covered history[:history_used]; older ones are left out
    truncated: bool  # something was left out or cut to fit (a summary may be due)


def prompt_tokens(messages: Sequence[ChatMessage], counter: TokenCounter) -> int:
    """Tokens `messages` take as the model reads them, with the answer's opening."""
    if not messages:
        return 0
    return sum(_cost(m.content, counter) for m in messages) + REPLY_PRIMING


def attribution(name: str | None) -> str:
    """How another advisor's answer starts, so the model knows who spoke."""
    return f"[{name}, advisor] said: " if name else "[Another advisor] said: "


def assemble(
    *,
    system: str,
    advisor_id: str,
    names: Mapping[str, str],
    memories: Sequence[Mapping[str, Any]],
    summary: Mapping[str, Any] | None,
    history: Sequence[Mapping[str, Any]],
    counter: TokenCounter,
    budget: int,
    answer_tokens: int,
) -> Prompt:
    """The prompt for `advisor_id`'s next answer. `names` maps advisor ids to display
    names; `memories` are its advisorMemories documents, in the order to keep them;
    `summary` the latest threadSummaries document; `history` the conversation's messages,
    NEWEST FIRST (a bounded window is enough: the walk stops at the first that does not
    fit). Raises ValueError when `answer_tokens` alone exceeds `budget`."""
    if answer_tokens < 0 or answer_tokens > budget:
        raise ValueError(f"answer_tokens {answer_tokens} does not fit in budget {budget}")
    room = budget - answer_tokens - REPLY_PRIMING  # for messages, each with its overhead
    head, truncated = _head(system, memories, summary, counter, math.floor(room * HEAD_SHARE))
    chosen: list[ChatMessage] = []  # newest first
    start = room
    if head:
        chosen.append(ChatMessage("system", head))
        room -= _cost(head, counter)

    scanned = [
        _turn(history[i], advisor_id, names) for i in range(min(len(history), EXCHANGE_SCAN))
    ]
    anchor = _current_question(scanned)
    reserve = 0  # tokens kept for the current question while newer answers go in
    if anchor is not None:
        reserve = _cost_within(anchor[1].text, room, counter) or room
    used = len(history)
    for i in range(len(history)):
        current = scanned[i] if i < len(scanned) else _turn(history[i], advisor_id, names)
        if current is None:
            continue
        newer = anchor is not None and i < anchor[0]  # than the question: only in its room
        cost = _cost_within(current.text, room - reserve if newer else room, counter)
        if cost is not None:
            chosen.append(ChatMessage(current.role, current.text))
            room -= cost
            continue
        truncated = True
        if newer:
            continue
        cut = _cut(current, room, counter) if anchor is not None and i == anchor[0] else None
        if cut is None:
            used = i
            break
        chosen.append(cut)
        room -= _cost(cut.content, counter)
    messages = [chosen[0], *reversed(chosen[1:])] if head else list(reversed(chosen))
    tokens = start - room + REPLY_PRIMING if messages else 0  # = prompt_tokens(messages)
    return Prompt(messages, tokens, used, truncated)


@dataclass(frozen=True)
class _Turn:
    role: Role
    prefix: str  # the attribution of another advisor's answer, else ""
    body: str
    from_user: bool

    @property
    def text(self) -> str:
        return self.prefix + self.body


def said(message: Mapping[str, Any]) -> str | None:
    """What a user or advisor message said, stripped, or None when it stays out of any
    model's context: failed or streaming answers, system notices, empty text."""
    content = message.get("content")
    if message.get("sender") not in ("user", "advisor") or type(content) is not str:
        return None
    if message.get("status") in ("error", "streaming"):
        return None
    return content.strip() or None


def memory_text(value: Any) -> str:
    """A memory's value (any JSON) as short plain text, "" when there is nothing to say:
    a small model reads `runway: 14 months` better than JSON."""
    return _plain(value, depth=0)


def _turn(message: Mapping[str, Any], advisor_id: str, names: Mapping[str, str]) -> _Turn | None:
    """A message as the model sees it, or None when it is left out (see the module)."""
    body = said(message)
    if body is None:
        return None
    if message.get("sender") == "user":
        return _Turn("user", "", body, True)
    author = message.get("advisorId")
    if author == advisor_id:
        return _Turn("assistant", "", body, False)
    name = names.get(author) if type(author) is str else None
    return _Turn("user", attribution(name), body, False)


def _current_question(scanned: Sequence[_Turn | None]) -> tuple[int, _Turn] | None:
    """The newest user message among the newest messages, else the newest message that
    goes in at all (what the answer follows), else None; with its index."""
    first = None
    for i, current in enumerate(scanned):
        if current is None:
            continue
        if current.from_user:
            return i, current
        if first is None:
            first = i, current
    return first


def _cut(current: _Turn, room: int, counter: TokenCounter) -> ChatMessage | None:
    """The message cut to `room` tokens keeping its end (where a question's ask is), its
    attribution kept whole; None when not even a few words fit."""
    limit = room - MESSAGE_OVERHEAD - counter.count(current.prefix)
    for _ in range(3):  # counts of joined text may round differently from the parts
        body = fit_end(current.body, limit, counter)
        if not body:
            return None
        text = current.prefix + body
        excess = _cost(text, counter) - room
        if excess <= 0:
            return ChatMessage(current.role, text)
        limit -= excess
    return None


def _head(
    system: str,
    memories: Sequence[Mapping[str, Any]],
    summary: Mapping[str, Any] | None,
    counter: TokenCounter,
    limit: int,
) -> tuple[str, bool]:
    """The system message's text within `limit` tokens (with its overhead), and whether
    anything was cut to get there."""
    facts = _memory_lines(memories)
    recap = _summary_text(summary)
    budget = limit - MESSAGE_OVERHEAD
    text = _join(system, facts, recap)
    if counter.count(text) <= budget:
        return text, False
    if recap:
        without = _join(system, facts, None)
        room = budget - counter.count(_join(system, facts, "")) - 1
        if room >= MIN_SUMMARY_TOKENS:
            text = _join(system, facts, fit_end(recap, room, counter))
            if counter.count(text) <= budget:
                return text, True
        text = without
    while facts and counter.count(text) > budget:
        facts = facts[:-1]
        text = _join(system, facts, None)
    if counter.count(text) <= budget:
        return text, True
    return fit_start(system.strip(), budget, counter), True


def _join(system: str, facts: Sequence[str], recap: str | None) -> str:
    parts = [system.strip()]
    if facts:
        parts.append("\n".join([MEMORIES_LABEL, *facts]))
    if recap is not None:
        parts.append(SUMMARY_LABEL + recap)
    return "\n\n".join(part for part in parts if part)


def _summary_text(summary: Mapping[str, Any] | None) -> str | None:
    content = summary.get("content") if summary is not None else None
    if type(content) is not str:
        return None
    return " ".join(content.split()) or None


def _memory_lines(memories: Sequence[Mapping[str, Any]]) -> list[str]:
    """`- key words: value` for the first MAX_MEMORIES usable memories."""
    lines: list[str] = []
    for memory in memories:
        key = memory.get("key")
        value = memory_text(memory.get("value"))
        if type(key) is not str or not value:
            continue
        label = " ".join(key.replace("_", " ").split())
        if not label:
            continue
        line = f"- {label}: {value}"
        if len(line) > MEMORY_CHARS:
            line = line[: MEMORY_CHARS - 1].rstrip() + "…"
        lines.append(line)
        if len(lines) == MAX_MEMORIES:
            break
    return lines


def _plain(value: Any, depth: int) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return f"{value:g}" if math.isfinite(value) else ""
    if isinstance(value, str):
        return " ".join(value.split())
    if depth >= 2:  # deeper structure is not a fact a prompt should carry
        return ""
    if isinstance(value, list):
        return ", ".join(p for p in (_plain(item, depth + 1) for item in value) if p)
    if isinstance(value, Mapping):
        pairs = ((str(k), _plain(v, depth + 1)) for k, v in value.items())
        return "; ".join(f"{k}: {v}" for k, v in pairs if v)
    return ""


def _cost(content: str, counter: TokenCounter) -> int:
    return counter.count(content) + MESSAGE_OVERHEAD


def _cost_within(content: str, room: int, counter: TokenCounter) -> int | None:
    """A message's cost if it fits in `room`, else None (a huge one refused uncounted)."""
    tokens = count_within(content, room - MESSAGE_OVERHEAD, counter)
    return None if tokens is None else tokens + MESSAGE_OVERHEAD
