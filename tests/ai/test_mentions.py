"""Mentions: who a message reaches, as a user would type it."""

from __future__ import annotations

import unicodedata

import pytest
from hypothesis import given
from hypothesis import strategies as st

from advisor_chat.ai.mentions import Member, Mentions, parse_mentions, who_answers

BOARD = [
    Member("m", "Margaret Thornbury"),
    Member("d", "Dev Raghunathan"),
    Member("b", "Beatriz Olmedo"),
    Member("t", "Tomasz Wierzba"),
    Member("l", "Lucía Ferreyra"),
    Member("o", "Liam O'Neil"),
    Member("j", "Jean-Luc Picard"),
]


def ids(text: str, members: list[Member] = BOARD) -> tuple[str, ...]:
    return parse_mentions(text, members).advisor_ids


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("@Margaret what is my runway?", ("m",)),
        ("@Margaret Thornbury what is my runway?", ("m",)),
        ("@margaret thornbury", ("m",)),
        ("@MARGARET", ("m",)),
        ("@Dev and @Margaret", ("d", "m")),
        ("@Tomasz", ("t",)),
        ("@Beatriz Olmedo, is this legal?", ("b",)),
        ("@Lucía", ("l",)),
        ("@lucia ferreyra", ("l",)),  # typed without the accent
        ("@Liam O'Neil", ("o",)),
        ("@Liam O\u2019Neil", ("o",)),  # a phone's typographic apostrophe
        ("@Jean-Luc", ("j",)),
        ("@Jean-Luc Picard", ("j",)),
    ],
)
def test_names_are_found_as_typed(text: str, expected: tuple[str, ...]) -> None:
    assert ids(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "@Margaret,",
        "@Margaret's view",
        "@Margaret\u2019s view",
        "@Margaret?",
        "@Margaret.",
        "@Margaret!",
        "@Margaret:",
        "(@Margaret)",
        "[@Margaret]",
        '"@Margaret"',
        "\u201c@Margaret\u201d",
        "hi\n@Margaret",
        "\t@Margaret",
        "@Margaret Thornbury's numbers",
        "@Margaret Thornbury?",
    ],
)
def test_punctuation_around_a_name_still_matches(text: str) -> None:
    mentions = parse_mentions(text, BOARD)
    assert mentions.advisor_ids == ("m",)
    assert mentions.unknown == ()


@pytest.mark.parametrize(
    "text",
    [
        "write to me@example.com",
        "margaret@margaret.com",
        "@@Margaret",
        "@ Margaret",
        "x@Margaret",
        "price@all",
        "2@board",
        "@",
        "@123",
        "",
    ],
)
def test_an_at_sign_inside_a_word_or_without_a_name_is_no_mention(text: str) -> None:
    assert parse_mentions(text, BOARD) == Mentions((), False, ())


def test_full_name_wins_over_first_name_and_leaves_no_unknown() -> None:
    mentions = parse_mentions("@Margaret Thornbury and @Dev Raghunathan", BOARD)
    assert mentions == Mentions(("m", "d"), False, ())


def test_a_name_that_is_only_a_first_name_is_matched_before_first_names() -> None:
    members = [Member("ann-lee", "Ann Lee"), Member("ann", "Ann")]
    assert ids("@Ann", members) == ("ann",)
    assert ids("@Ann Lee", members) == ("ann-lee",)


def test_a_shared_first_name_is_ambiguous_but_full_names_work() -> None:
    members = [Member("lee", "Sam Lee"), Member("park", "Sam Park")]
    assert parse_mentions("@Sam can you help?", members) == Mentions((), False, ("Sam",))
    assert parse_mentions("@Sam Park and @sam lee", members) == Mentions(("park", "lee"), False, ())


def test_a_longer_word_is_not_a_shorter_name() -> None:
    mentions = parse_mentions("@Margaretta and @Devon", BOARD)
    assert mentions == Mentions((), False, ("Margaretta", "Devon"))


def test_unknown_mentions_are_reported_once_as_first_written() -> None:
    mentions = parse_mentions("@Bob, @bob and @Margaret then @BOB's idea", BOARD)
    assert mentions == Mentions(("m",), False, ("Bob",))


def test_a_name_does_not_run_across_lines() -> None:
    # "Thornbury" on the next line is text, not part of the mention; still one advisor.
    assert parse_mentions("@Margaret\nThornbury is a town", BOARD) == Mentions(("m",), False, ())


@pytest.mark.parametrize("text", ["@board what now?", "@all", "@ALL, thoughts?", "(@Board)"])
def test_board_and_all_ask_everyone_and_are_not_unknown(text: str) -> None:
    assert parse_mentions(text, BOARD) == Mentions((), True, ())


def test_everyone_together_with_names() -> None:
    assert parse_mentions("@Dev first, then @board", BOARD) == Mentions(("d",), True, ())


def test_each_advisor_once_in_order_of_first_mention() -> None:
    assert ids("@Dev @Margaret @dev @Margaret Thornbury @Tomasz") == ("d", "m", "t")


def test_no_members_means_every_name_is_unknown() -> None:
    assert parse_mentions("@Margaret @all", []) == Mentions((), True, ("Margaret",))


# who_answers


def test_mentioned_advisors_answer_in_mention_order() -> None:
    assert who_answers(Mentions(("d", "m"), False, ()), ["m", "d", "t"], "t") == ["d", "m"]


def test_without_mentions_the_active_advisor_answers() -> None:
    assert who_answers(Mentions((), False, ()), ["m", "d"], "d") == ["d"]


def test_without_mentions_or_active_advisor_the_first_of_the_board_answers() -> None:
    assert who_answers(Mentions((), False, ()), ["m", "d"], None) == ["m"]
    assert who_answers(Mentions((), False, ()), [], None) == []


def test_unknown_mentions_alone_fall_back_to_the_active_advisor() -> None:
    assert who_answers(Mentions((), False, ("Bob",)), ["m", "d"], "d") == ["d"]


def test_everyone_is_the_whole_board_in_board_order() -> None:
    assert who_answers(Mentions((), True, ()), ["m", "d", "t"], "d") == ["m", "d", "t"]


def test_everyone_with_mentions_puts_the_mentioned_first_each_once() -> None:
    mentions = Mentions(("t", "d"), True, ())
    assert who_answers(mentions, ["m", "d", "t", "b"], "m") == ["t", "d", "m", "b"]


# Properties

LETTERS = "abcdefghijklmnopqrstuvwxyzáéíóúñçøł"  # no ß: it folds to two letters


def _key(word: str) -> str:
    """At least as strict as the parser's folding: words with equal keys never both
    appear, so first names generated here are never ambiguous to it."""
    stripped = "".join(
        c for c in unicodedata.normalize("NFKD", word) if not unicodedata.combining(c)
    )
    return stripped.casefold()


words = st.text(alphabet=LETTERS, min_size=2, max_size=8).filter(
    lambda w: _key(w) not in ("board", "all")
)


@st.composite
def boards(draw: st.DrawFn) -> list[Member]:
    """Two-word names with distinct first names (so each first name is unambiguous)."""
    firsts = draw(st.lists(words, min_size=1, max_size=6, unique_by=_key))
    lasts = draw(st.lists(words, min_size=len(firsts), max_size=len(firsts)))
    return [
        Member(f"id{n}", f"{first.capitalize()} {last.capitalize()}")
        for n, (first, last) in enumerate(zip(firsts, lasts, strict=True))
    ]


filler = st.text(st.characters(blacklist_characters="@"))
after = st.sampled_from(["", ",", ".", "?", "!", "'s", "\u2019s", ")", ":", ";"])
spelling = st.sampled_from([str.lower, str.upper, str.title, lambda s: s])


@given(st.text(), boards())
def test_any_text_gives_known_members_each_once(text: str, members: list[Member]) -> None:
    mentions = parse_mentions(text, members)
    assert set(mentions.advisor_ids) <= {m.advisor_id for m in members}
    assert len(set(mentions.advisor_ids)) == len(mentions.advisor_ids)
    assert len({_key(u) for u in mentions.unknown}) == len(mentions.unknown)
    assert all(u and "@" not in u for u in mentions.unknown)


@given(st.data(), boards())
def test_mentions_come_back_in_order_of_first_appearance(
    data: st.DataObject, members: list[Member]
) -> None:
    chosen = data.draw(st.lists(st.sampled_from(members), min_size=1, max_size=8))
    parts = []
    for member in chosen:
        name = member.name if data.draw(st.booleans()) else member.name.split()[0]
        written = data.draw(spelling)(name)
        parts.append(f"@{written}{data.draw(after)}")
        parts.append(data.draw(filler))
    text = " ".join(parts)
    expected = tuple(dict.fromkeys(m.advisor_id for m in chosen))
    assert parse_mentions(text, members).advisor_ids == expected


@given(st.text(alphabet=LETTERS, min_size=1), boards())
def test_an_at_sign_after_a_letter_is_never_a_mention(prefix: str, members: list[Member]) -> None:
    text = " ".join(f"{prefix}@{m.name}" for m in members)
    assert parse_mentions(text, members) == Mentions((), False, ())


@given(
    st.lists(st.sampled_from("abcdef"), unique=True),
    st.lists(st.sampled_from("abcdef"), unique=True),
    st.booleans(),
    st.none() | st.sampled_from("abcdef"),
)
def test_who_answers_each_once_mentioned_first(
    mentioned: list[str], board: list[str], everyone: bool, active: str | None
) -> None:
    answer = who_answers(Mentions(tuple(mentioned), everyone, ()), board, active)
    assert len(set(answer)) == len(answer)
    assert answer[: len(mentioned)] == mentioned
    if everyone:
        assert set(answer) == set(mentioned) | set(board)
    elif not mentioned:
        assert answer == ([active] if active else board[:1])
