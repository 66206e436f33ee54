"""Counting and cutting text by tokens, whatever counts them.

Prompts are built against a `TokenCounter` (the model's tokenizer, or
`providers.counting.EstimateCounter` when none is at hand). Cutting text to a token limit
searches on characters and asks the counter, so it works with any counter; it looks at no
more than the limit could hold (`MAX_CHARS_PER_TOKEN`), so cutting a huge text costs what
is kept, not its length.
"""

from __future__ import annotations

from collections.abc import Callable

from advisor_chat.ai.providers.base import TokenCounter

ELLIPSIS = "…"
# No tokenizer we use averages more characters per token than this over a cut; a search
# window this wide per token kept may under-fill in odd cases, which is safe.
MAX_CHARS_PER_TOKEN = 32
_WORD_BACKOFF = 24  # characters we give up to cut at a space rather than inside a word


def fit_start(text: str, limit: int, counter: TokenCounter) -> str:
    """`text` if it fits in `limit` tokens, else its longest beginning that fits with "…"
    after it (cut at a space when one is near), else ""."""
    if _fits(text, limit, counter):
        return text
    window = min(len(text), max(limit, 0) * MAX_CHARS_PER_TOKEN)
    keep = _longest(window, limit, counter, lambda k: text[:k].rstrip() + ELLIPSIS)
    if keep == 0:
        return ""
    space = text.rfind(" ", max(keep - _WORD_BACKOFF, 1), keep + 1)
    if space > 0 and text[keep : keep + 1] not in ("", " "):
        keep = space
    return text[:keep].rstrip() + ELLIPSIS


def fit_end(text: str, limit: int, counter: TokenCounter) -> str:
    """`text` if it fits in `limit` tokens, else its longest end that fits with "…" before
    it (cut at a space when one is near), else "". For a question whose end is the ask."""
    if _fits(text, limit, counter):
        return text
    window = min(len(text), max(limit, 0) * MAX_CHARS_PER_TOKEN)
    keep = _longest(window, limit, counter, lambda k: ELLIPSIS + text[len(text) - k :].lstrip())
    if keep == 0:
        return ""
    start = len(text) - keep
    if start > 0 and text[start - 1] != " ":
        space = text.find(" ", start, min(start + _WORD_BACKOFF, len(text) - 1))
        if space >= 0:
            start = space + 1
    return ELLIPSIS + text[start:].lstrip()


def count_within(text: str, limit: int, counter: TokenCounter) -> int | None:
    """`text`'s tokens if they are at most `limit`, else None; text longer than `limit`
    tokens could hold is refused uncounted, so a huge message costs nothing to refuse."""
    if len(text) > max(limit, 0) * MAX_CHARS_PER_TOKEN:
        return None
    tokens = counter.count(text)
    return tokens if tokens <= limit else None


def _fits(text: str, limit: int, counter: TokenCounter) -> bool:
    return count_within(text, limit, counter) is not None


def _longest(window: int, limit: int, counter: TokenCounter, cut: Callable[[int], str]) -> int:
    """The largest k <= window whose cut fits (0 if none), by binary search; counts are
    monotone in k for real tokenizers, and the result is checked, so an odd counter only
    costs a shorter cut, never an overflow."""
    low, high = 0, window
    while low < high:
        middle = (low + high + 1) // 2
        if counter.count(cut(middle)) <= limit:
            low = middle
        else:
            high = middle - 1
    while low > 0 and counter.count(cut(low)) > limit:
        low //= 2
    return low
