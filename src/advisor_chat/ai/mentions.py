"""Who a message is addressed to: `@First`, `@First Last`, `@board` / `@all` (DESIGN.md 8.1).

A mention is an `@` at the start of the text or after whitespace or opening punctuation
(so `me@example.com` and `@@x` are not mentions), then a name: words of letters and
digits, joined inside by hyphens or apostrophes (`@O'Neil`, `@Jean-Luc`), separated by
spaces. Matching ignores case and accents (`@lucia` finds Lucía), longest full name
first, then first names; a first name two members share is ambiguous and reported as
unknown (their full names still work). A possessive `'s` and trailing punctuation are not
part of a name.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

EVERYONE = frozenset({"board", "all"})
_OPENERS = frozenset("\"'")  # ASCII quotes open as often as they close
# A name word: starts with a letter; letters, digits, marks, underscores; inner - or '.
_WORD = re.compile(r"[^\W\d_][\w\u0300-\u036f]*(?:['\u2019\-][\w\u0300-\u036f]+)*")
_GAP = re.compile(r"[ \t\u00a0]+")  # between words of one name: spaces, not newlines
_POSSESSIVE = "'s"  # after `_fold`, which makes every apostrophe "'"
Table = dict[tuple[str, ...], list[str]]  # a name's casefolded words → members' ids


@dataclass(frozen=True)
class Member:
    """An advisor one can mention: its id and its persona's name ("Margaret Thornbury")."""

    advisor_id: str
    name: str


@dataclass(frozen=True)
class Mentions:
    advisor_ids: tuple[str, ...]  # in mention order, each once
    everyone: bool  # `@board` or `@all` anywhere
    unknown: tuple[str, ...]  # written as mentions, matching no member (or several)


def parse_mentions(text: str, members: Sequence[Member]) -> Mentions:
    """The members `text` mentions, whether it asks the whole board, and what it tried to
    mention that matched nobody (for the caller to tell the user)."""
    full, first = _index(members)
    longest = max((len(words) for words in full), default=1)
    found: dict[str, None] = {}
    unknown: dict[str, str] = {}  # folded → as first written
    everyone = False
    text = unicodedata.normalize("NFC", text)
    at = text.find("@")
    while at >= 0:
        end = at + 1
        words = _words_at(text, end, longest) if _starts_mention(text, at) else []
        if words:
            folded = [_fold(word) for word, _ in words]
            hit = _match(folded, full, first)
            if isinstance(hit, tuple):
                found.setdefault(hit[0])
                end = words[hit[1] - 1][1]
            elif hit == "everyone":
                everyone = True
                end = words[0][1]
            else:
                written = _strip_possessive(words[0][0])
                unknown.setdefault(_fold(written), written)
                end = words[0][1]
        at = text.find("@", end)
    return Mentions(tuple(found), everyone, tuple(unknown.values()))


def who_answers(mentions: Mentions, board: Sequence[str], active: str | None) -> list[str]:
    """Advisor ids to answer, in turn: the mentioned ones in mention order (then, with
    `@board`, the rest of the board in board order); else, with `@board`, the board; else
    the active advisor, or the board's first when none is active."""
    if mentions.everyone:
        return list(dict.fromkeys([*mentions.advisor_ids, *board]))
    if mentions.advisor_ids:
        return list(mentions.advisor_ids)
    if active is not None:
        return [active]
    return list(board[:1])


def _index(members: Sequence[Member]) -> tuple[Table, Table]:
    """Members by their full name's words and by their first word, casefolded; a key with
    several members is ambiguous."""
    full: Table = {}
    first: Table = {}
    for member in members:
        name = unicodedata.normalize("NFC", member.name)
        words = tuple(_fold(m.group()) for m in _WORD.finditer(name))
        if not words:
            continue
        for ids in (full.setdefault(words, []), first.setdefault(words[:1], [])):
            if member.advisor_id not in ids:
                ids.append(member.advisor_id)
    return full, first


def _starts_mention(text: str, at: int) -> bool:
    """An `@` starts a mention at the start of the text or after whitespace or opening
    punctuation, never inside a word (an email) or after another `@`."""
    if at == 0:
        return True
    before = text[at - 1]
    return before.isspace() or before in _OPENERS or unicodedata.category(before) in ("Ps", "Pi")


def _words_at(text: str, start: int, limit: int) -> list[tuple[str, int]]:
    """Up to `limit` name words from `start`, each with the index just after it."""
    words: list[tuple[str, int]] = []
    at = start
    while len(words) < limit:
        word = _WORD.match(text, at)
        if word is None:
            break
        words.append((word.group(), word.end()))
        gap = _GAP.match(text, word.end())
        if gap is None:
            break
        at = gap.end()
    return words


def _match(
    folded: list[str], full: Table, first: Table
) -> tuple[str, int] | Literal["everyone"] | None:
    """(advisor id, words used), or "everyone", or None (unknown or ambiguous): full names
    longest first, then `@board`/`@all`, then first names."""
    for size in range(len(folded), 0, -1):
        ids = _lookup(full, folded[: size - 1], folded[size - 1])
        if ids is not None:
            return (ids[0], size) if len(ids) == 1 else None
    if _strip_possessive(folded[0]) in EVERYONE:
        return "everyone"
    ids = _lookup(first, [], folded[0])
    return (ids[0], 1) if ids is not None and len(ids) == 1 else None


def _lookup(table: Table, head: list[str], last: str) -> list[str] | None:
    """The ids under the words `head + [last]`, trying `last` without a possessive too."""
    for word in dict.fromkeys((last, _strip_possessive(last))):
        ids = table.get((*head, word))
        if ids is not None:
            return ids
    return None


def _strip_possessive(word: str) -> str:
    folded = _fold(word)
    if folded.endswith(_POSSESSIVE) and len(folded) > len(_POSSESSIVE):
        return word[: -len(_POSSESSIVE)]
    return word


def _fold(word: str) -> str:
    """What two spellings of one name share: case, accents (`@Lucia` finds Lucía) and the
    apostrophe's shape (a typographic one is `'`)."""
    decomposed = unicodedata.normalize("NFKD", word.replace("\u2019", "'"))
    return "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()
