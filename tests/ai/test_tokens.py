"""Cutting text to a token limit: never over, keeps the right end, at a word boundary."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from advisor_chat.ai.tokens import (
    ELLIPSIS,
    MAX_CHARS_PER_TOKEN,
    count_within,
    fit_end,
    fit_start,
)
from tests.ai.counters import Quarter

ESTIMATE = Quarter()


class Words:
    def count(self, text: str) -> int:
        return len(text.split())


class Recording:
    """Quarter, remembering the longest text it was asked to count."""

    def __init__(self) -> None:
        self.longest = 0

    def count(self, text: str) -> int:
        self.longest = max(self.longest, len(text))
        return ESTIMATE.count(text)


def test_count_within() -> None:
    assert count_within("abcdefgh", 2, ESTIMATE) == 2
    assert count_within("abcdefgh", 1, ESTIMATE) is None
    counter = Recording()
    assert count_within("x" * 10_000_000, 100, counter) is None
    assert counter.longest == 0  # refused without counting


def test_text_that_fits_is_unchanged() -> None:
    text = "How long is my runway?"
    assert fit_start(text, 100, ESTIMATE) == text
    assert fit_end(text, 100, ESTIMATE) == text


def test_fit_start_keeps_the_beginning_cut_between_words() -> None:
    text = "one two three four five six seven eight nine ten"
    cut = fit_start(text, 4, ESTIMATE)
    assert cut == "one two three…"
    assert ESTIMATE.count(cut) <= 4


def test_fit_end_keeps_the_end_cut_between_words() -> None:
    text = "one two three four five six seven eight nine ten"
    cut = fit_end(text, 4, ESTIMATE)
    assert cut == "…nine ten"  # "…ight nine ten" would fit, but starts inside a word
    assert ESTIMATE.count(cut) <= 4


def test_nothing_fits_in_nothing() -> None:
    assert fit_start("some text", 0, ESTIMATE) == ""
    assert fit_end("some text", 0, ESTIMATE) == ""
    assert fit_end("some text", -3, ESTIMATE) == ""


def test_one_long_word_is_cut_inside_it() -> None:
    word = "x" * 100
    assert fit_start(word, 5, ESTIMATE) == "x" * 17 + ELLIPSIS  # 17 + 3 bytes = 5 tokens
    assert fit_end(word, 5, ESTIMATE) == ELLIPSIS + "x" * 17


def test_cutting_a_huge_text_looks_at_no_more_than_the_limit_could_hold() -> None:
    counter = Recording()
    text = "word " * 1_000_000 + "end"
    cut = fit_end(text, 50, counter)
    assert cut.endswith("word end")
    assert 45 <= ESTIMATE.count(cut) <= 50  # filled, not just safe
    assert counter.longest <= 50 * MAX_CHARS_PER_TOKEN + len(ELLIPSIS)


@given(st.text(), st.integers(-2, 60), st.sampled_from([ESTIMATE, Words()]))
def test_cuts_fit_and_are_the_text_s_own_beginning_or_end(
    text: str, limit: int, counter: Quarter | Words
) -> None:
    start, end = fit_start(text, limit, counter), fit_end(text, limit, counter)
    for cut in (start, end):
        assert cut == "" or counter.count(cut) <= limit
    fits = counter.count(text) <= limit and len(text) <= max(limit, 0) * MAX_CHARS_PER_TOKEN
    if fits:
        assert start == end == text
    else:
        assert start == "" or (start.endswith(ELLIPSIS) and text.startswith(start[:-1]))
        assert end == "" or (end.startswith(ELLIPSIS) and text.endswith(end[1:]))
