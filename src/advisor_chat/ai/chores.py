"""The low-priority model work around a conversation: thread summaries, memories about
the user, titles (DESIGN.md 8.6). Each chore is a request builder and a parser.

The model may be a real one or the embedded 135M one, which drifts: it adds preambles
("Here is the summary:"), echoes template tokens (`<|im_end|>`), markdown and quotes,
loops on one phrase, or says nothing useful. So requests are short and literal, and
parsers keep what is usable and never raise: a chore that fails leaves things as they
were (no new summary, no new memory, a title made of the user's own first words).
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from advisor_chat.ai.prompt import memory_text, prompt_tokens, said
from advisor_chat.ai.providers.base import ChatMessage, TokenCounter
from advisor_chat.ai.tokens import ELLIPSIS, MAX_CHARS_PER_TOKEN, count_within, fit_start

MIN_LINE_TOKENS = 12  # a transcript line cut shorter loses who said what about what
SUMMARY_WORDS = 120
SUMMARY_MAX_CHARS = 1200  # about SUMMARY_WORDS words, with room for a model that runs over
MAX_MEMORIES = 8
MEMORY_KEY_CHARS = 40
MEMORY_VALUE_CHARS = 300
TITLE_CHARS = 60
TITLE_INPUT_CHARS = 500  # of the first question and answer: a title needs only their gist
FALLBACK_TITLE = "New conversation"

_QUOTES = '"\u201c\u201d\u00ab\u00bb\u201e'  # double quotes of any kind
# Chat-template tokens a model echoes, with the role that follows a turn's start.
_TEMPLATE = re.compile(r"<\|im_start\|>(?:system|user|assistant)?|<\|[^|>\n]{0,40}\|>|</?s>")
_BULLET = re.compile(r"^(?:[-*•+>]|\d{1,2}[.)])\s+")
_WORD = re.compile(r"\w+")


# A span of messages as a transcript


@dataclass(frozen=True)
class Transcript:
    text: str  # one line per message, "Name: what they said", oldest first
    covered: int  # messages of the span it stands for, counted from the end it kept


def transcript(
    span: Sequence[Mapping[str, Any]],
    *,
    names: Mapping[str, str],
    counter: TokenCounter,
    limit: int,
    keep: Literal["oldest", "newest"] = "oldest",
) -> Transcript:
    """`span` (oldest first) as attributed lines within `limit` tokens. Long lines are
    first cut to one common length, so every message keeps its beginning; only when even
    MIN_LINE_TOKENS a line is too much are whole lines left out, from the end not kept.
    `covered` then says how far it got: span[:covered] keeping the oldest,
    span[len(span) - covered:] keeping the newest. Messages left out of any context
    (failed, streaming, system, empty) count as covered."""
    lines = [(i, text) for i, message in enumerate(span) if (text := _line(message, names, limit))]
    order = lines if keep == "oldest" else lines[::-1]
    costs = [_line_cost(text, limit, counter) for _, text in order]
    kept = _fitting(costs, limit)
    cap = _common_cap(costs[:kept], limit)
    text = ""
    while kept:
        chosen = [
            line if cost <= cap else fit_start(line, cap, counter)
            for (_, line), cost in zip(order[:kept], costs[:kept], strict=True)
        ]
        text = "\n".join(chosen if keep == "oldest" else chosen[::-1])
        excess = counter.count(text) - limit
        if excess <= 0:
            break
        if cap > MIN_LINE_TOKENS:  # the joined text counts a little over its parts
            cap = max(MIN_LINE_TOKENS, cap - max(1, excess // kept))
        else:
            kept -= 1
    else:
        text = ""
    if kept == len(order):
        return Transcript(text, len(span))
    first_left_out = order[kept][0]
    if keep == "oldest":
        return Transcript(text, first_left_out)
    return Transcript(text, len(span) - 1 - first_left_out)


def _line(message: Mapping[str, Any], names: Mapping[str, str], limit: int) -> str | None:
    text = said(message)
    if text is None:
        return None
    if message.get("sender") == "user":
        speaker = "User"
    else:
        author = message.get("advisorId")
        speaker = (names.get(author) if type(author) is str else None) or "Advisor"
    # Longer than the whole limit could hold is cut before its whitespace is collapsed.
    text = " ".join(text[: max(limit, 1) * MAX_CHARS_PER_TOKEN].split())
    return f"{speaker}: {text}"


def _line_cost(line: str, limit: int, counter: TokenCounter) -> int:
    tokens = count_within(line, limit, counter)
    return limit + 1 if tokens is None else tokens


def _fitting(costs: Sequence[int], limit: int) -> int:
    """How many lines, from the kept end, fit at MIN_LINE_TOKENS each (+1: the newline)."""
    total = 0
    for n, cost in enumerate(costs):
        total += min(cost, MIN_LINE_TOKENS) + 1
        if total > limit:
            return n
    return len(costs)


def _common_cap(costs: Sequence[int], limit: int) -> int:
    """The largest per-line length at which all these lines fit (at least MIN)."""
    low, high = MIN_LINE_TOKENS, max(costs, default=MIN_LINE_TOKENS)
    while low < high:
        middle = (low + high + 1) // 2
        if sum(min(cost, middle) + 1 for cost in costs) <= limit:
            low = middle
        else:
            high = middle - 1
    return low


# Thread summaries


@dataclass(frozen=True)
class SummaryRequest:
    messages: list[ChatMessage]
    covered: int  # span[:covered] is in the request: the summary's endMessageId is
    # span[covered - 1]; the rest waits for the next summary


_SUMMARY_SYSTEM = (
    "You summarise a conversation between a user and their AI advisors. Write one short "
    f"paragraph of at most {SUMMARY_WORDS} words, in the third person: the user's "
    "situation, the advice given and by whom, decisions made and open questions. Keep "
    "names and numbers. Write only the summary."
)


def summary_request(
    span: Sequence[Mapping[str, Any]],
    *,
    names: Mapping[str, str],
    counter: TokenCounter,
    budget: int,
    previous: str | None = None,
) -> SummaryRequest:
    """Ask for a summary of `span` (messages oldest first, usually those that no longer
    fit an advisor's context) folded into the `previous` summary, the request within
    `budget` tokens (as `prompt_tokens` counts them; the answer is extra)."""
    earlier = ""
    if previous and previous.strip():
        earlier = fit_start(" ".join(previous.split()), budget // 4, counter)
    head = f"Summary so far: {earlier}\n\nConversation:\n" if earlier else "Conversation:\n"
    tail = "\n\nWrite the updated summary." if earlier else "\n\nWrite the summary."

    def request(lines: str) -> list[ChatMessage]:
        return [ChatMessage("system", _SUMMARY_SYSTEM), ChatMessage("user", head + lines + tail)]

    room = budget - prompt_tokens(request(""), counter)
    found = transcript(span, names=names, counter=counter, limit=room)
    return SummaryRequest(request(found.text), found.covered)


def clean_summary(text: str) -> str | None:
    """The model's summary as one tidy paragraph of at most SUMMARY_MAX_CHARS, or None
    when it holds nothing worth keeping (empty, a few words, symbols, a loop)."""
    lines = [_BULLET.sub("", line.strip()) for line in _TEMPLATE.sub(" ", text).splitlines()]
    lines = [line for line in lines if line]
    if len(lines) > 1 and lines[0].endswith(":"):  # "Here is the summary:"
        lines = lines[1:]
    summary = " ".join(" ".join(lines).split())
    summary = re.sub(r"^(?:\*\*)?(?:updated )?summary(?:\*\*)?:\s*", "", summary, flags=re.I)
    summary = summary.replace("**", "").strip()
    if _junk(summary, min_words=5):
        return None
    if len(summary) > SUMMARY_MAX_CHARS:
        cut = summary[: SUMMARY_MAX_CHARS + 1]
        end = max(cut.rfind(". "), cut.rfind("! "), cut.rfind("? "))
        if end > SUMMARY_MAX_CHARS // 2:
            return cut[: end + 1]
        return _shorten(summary, SUMMARY_MAX_CHARS - 1) + ELLIPSIS
    return summary


# Memories


_MEMORY_SYSTEM = (
    "You keep notes for an advisor about the user's situation. From the conversation, "
    "list durable facts the user stated about themselves or their business: company, "
    "stage, goals, numbers, constraints, decisions. One fact per line as key: value, with "
    f"a short snake_case key, at most {MAX_MEMORIES} lines, for example:\n"
    "company_stage: seed\nmonthly_burn: 40000 USD\n"
    "To change a known fact, repeat its key with the new value. No advice, nothing about "
    "the advisors. If there is nothing new, answer NONE."
)
_NOT_A_KEY = frozenset({"key", "value", "fact", "facts", "note", "notes", "none", "example"})
_NOT_A_VALUE = frozenset(
    {"", "none", "n/a", "na", "null", "unknown", "not stated", "not mentioned", "-", "?"}
)


def memory_request(
    span: Sequence[Mapping[str, Any]],
    *,
    names: Mapping[str, str],
    known: Sequence[Mapping[str, Any]],
    counter: TokenCounter,
    budget: int,
) -> list[ChatMessage]:
    """Ask for the durable facts about the user in `span` (recent messages, oldest first;
    the newest are kept when they do not all fit), given the advisorMemories already
    `known`, the request within `budget` tokens."""
    facts = [
        f"{key}: {value}"
        for memory in known
        if type(key := memory.get("key")) is str and (value := memory_text(memory.get("value")))
    ]
    listed = fit_start("Known facts:\n" + "\n".join(facts), budget // 3, counter) if facts else ""
    head = f"{listed}\n\n" if listed else ""
    tail = "\n\nNew or changed facts:"

    def request(lines: str) -> list[ChatMessage]:
        user = f"{head}Conversation:\n{lines}{tail}"
        return [ChatMessage("system", _MEMORY_SYSTEM), ChatMessage("user", user)]

    room = budget - prompt_tokens(request(""), counter)
    found = transcript(span, names=names, counter=counter, limit=room, keep="newest")
    return request(found.text)


def parse_memories(text: str) -> dict[str, str]:
    """`key: value` lines from the model's answer: keys in snake_case (at most
    MEMORY_KEY_CHARS), values at most MEMORY_VALUE_CHARS, at most MAX_MEMORIES, the first
    of a key kept; anything else (prose, headers, NONE, placeholders) ignored."""
    found: dict[str, str] = {}
    for raw in _TEMPLATE.sub("\n", text).splitlines():
        line = _BULLET.sub("", raw.strip().replace("**", "").replace("`", ""))
        name, colon, rest = line.partition(":")
        if not colon or len(name.split()) > 5:  # prose that happens to hold a colon
            continue
        key = _snake(name)[:MEMORY_KEY_CHARS].rstrip("_")
        value = " ".join(rest.split()).strip(_QUOTES + "' \u2018\u2019")
        if not key or key in _NOT_A_KEY or key in found:
            continue
        if value.lower().rstrip(".") in _NOT_A_VALUE:
            continue
        if len(value) > MEMORY_VALUE_CHARS:
            value = _shorten(value, MEMORY_VALUE_CHARS - 1) + ELLIPSIS
        found[key] = value
        if len(found) == MAX_MEMORIES:
            break
    return found


GROUNDED_SHARE = 0.6  # of a remembered value's words the user must have written


def grounded(facts: Mapping[str, str], user_said: str) -> dict[str, str]:
    """The facts the user's own words bear out: most words of each value (letters and
    digits, 3+ characters, or any number) appear in what the user wrote. Facts about the
    user's situation come from the user; a value the model made up, or copied from an
    advisor's answer (a small model's favourite failure), is dropped."""
    spoken = set(_CONTENT_WORD.findall(_fold(user_said)))
    kept = {}
    for key, value in facts.items():
        words = _CONTENT_WORD.findall(_fold(value))
        if words and sum(w in spoken for w in words) >= GROUNDED_SHARE * len(words):
            kept[key] = value
    return kept


def _fold(text: str) -> str:
    plain = unicodedata.normalize("NFKD", text.lower())
    return "".join(c for c in plain if not unicodedata.combining(c))


_CONTENT_WORD = re.compile(r"\d[\d.,]*[a-z]*|[a-z]{3,}")


def _snake(name: str) -> str:
    """A key as snake_case ASCII starting with a letter: `Monthly Burn (USD)` becomes
    `monthly_burn_usd`; "" when nothing of it is left."""
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    key = re.sub(r"[^a-z0-9]+", "_", ascii_name.lower()).strip("_")
    return key if key[:1].isalpha() else ""


# Titles


_TITLE_SYSTEM = (
    "You write titles for conversations. Reply with only a title of 3 to 6 words that "
    "names the topic. No quotes, no punctuation at the end."
)
_PREAMBLE = re.compile(
    r"^(?:sure|okay|ok|certainly|here is|here's|i'm sorry|i cannot|as an ai)\b", re.I
)
_TITLE_LABEL = re.compile(r"\btitle\s*:\s*", re.I)  # "Title: …", "Here's a title: …"
_TRAILING = " \t.,;:!?\u2026-\u2013\u2014'\u2018\u2019*_#"


def title_request(first_user_message: str, first_answer: str) -> list[ChatMessage]:
    """Ask for a conversation's title from its first question and answer."""
    question = _clip(first_user_message, TITLE_INPUT_CHARS)
    answer = _clip(first_answer, TITLE_INPUT_CHARS)
    user = f"User: {question}\nAdvisor: {answer}\n\nTitle:"
    return [ChatMessage("system", _TITLE_SYSTEM), ChatMessage("user", user)]


def clean_title(text: str, fallback_from: str) -> str:
    """The model's title on one line, at most TITLE_CHARS, without quotes or trailing
    punctuation; when it gave nothing usable, the first words of `fallback_from` (the
    user's first message), and "New conversation" when that is empty too."""
    for raw in _TEMPLATE.sub("\n", text).splitlines():
        line = _BULLET.sub("", raw.strip().lstrip("#").strip())
        label = _TITLE_LABEL.search(line)
        if label:
            line = line[label.end() :]
        elif line.endswith(":") or _PREAMBLE.match(line):
            continue  # "Sure! Here is one:": the title comes on a later line
        if not line.strip():
            continue
        title = _tidy_title(line)
        if title and not _junk(title, min_words=1):
            return title
        break  # the first real line was junk: the model is not making sense
    words = _MENTION.sub(" ", fallback_from)  # "@Ifeoma should I…": the ask, not the name
    title = _tidy_title(words)
    return title[:1].upper() + title[1:] if title else FALLBACK_TITLE


_MENTION = re.compile(r"(?<![\w@])@[\w'\u2019-]+")


def _tidy_title(text: str) -> str:
    title = " ".join(text.translate({ord(q): None for q in _QUOTES}).replace("**", "").split())
    title = title.strip(_TRAILING + "'")
    if len(title) > TITLE_CHARS:
        title = _shorten(title, TITLE_CHARS).strip(_TRAILING)
    return title


# Shared


def _junk(text: str, *, min_words: int) -> bool:
    """Too few words, mostly symbols, or one phrase looping (a small model's failures:
    a quarter of the text being one three-word phrase over and over)."""
    words = _WORD.findall(text.lower())
    if len(words) < min_words:
        return True
    visible = [c for c in text if not c.isspace()]
    if sum(c.isalpha() for c in visible) < 0.5 * len(visible):
        return True
    if len(words) < 12:
        return False
    trigrams = Counter(zip(words, words[1:], words[2:], strict=False))
    return trigrams.most_common(1)[0][1] >= 0.25 * (len(words) - 2)


def _shorten(text: str, chars: int) -> str:
    """At most `chars` of `text`, ending at the end of a word when there is a space to
    cut at (a single long word is cut inside)."""
    if len(text) <= chars:
        return text
    if text[chars].isspace():
        return text[:chars].rstrip()
    space = text.rfind(" ", 0, chars)
    return text[:space].rstrip() if space > 0 else text[:chars]


def _clip(text: str, chars: int) -> str:
    flat = " ".join(text[: chars * 2].split())
    return flat if len(flat) <= chars else _shorten(flat, chars - 1) + ELLIPSIS
