"""Ids: 27 URL-safe characters, time-ordered within a table, carrying their table; imported
ids of other shapes are accepted by shape alone."""

from __future__ import annotations

import itertools
import string
import time
import urllib.parse

import pytest
from hypothesis import given
from hypothesis import strategies as st

from advisor_chat.errors import DocumentInvalid
from advisor_chat.schema.fields import v
from advisor_chat.schema.ids import (
    ALPHABET,
    ID_LENGTH,
    MAX_ID_LENGTH,
    TABLE_NUMBERS,
    IdGenerator,
    is_valid_id,
    table_number_of,
)
from advisor_chat.schema.tables import TABLES

ALL_TABLES = sorted(TABLE_NUMBERS)
URL_SAFE = string.ascii_letters + string.digits + "_-"


def _millis(doc_id: str) -> int:
    """The creation millisecond in an id's first ten characters."""
    value = 0
    for char in doc_id[:10]:
        value = value * 32 + ALPHABET.index(char)
    return value


def test_every_table_has_a_number_of_its_own() -> None:
    assert set(TABLE_NUMBERS) == set(TABLES)
    assert len(set(TABLE_NUMBERS.values())) == len(TABLE_NUMBERS)
    assert all(TABLES[name].number == number for name, number in TABLE_NUMBERS.items())


@pytest.mark.parametrize("table", ALL_TABLES)
def test_a_new_id_is_27_url_safe_characters_carrying_its_table(table: str) -> None:
    before_ms = time.time_ns() // 1_000_000
    made = IdGenerator().new_id(table)
    after_ms = time.time_ns() // 1_000_000
    assert len(made) == ID_LENGTH == 27
    assert set(made) <= set(ALPHABET)
    assert urllib.parse.quote(made, safe="") == made
    assert is_valid_id(made)
    assert table_number_of(made) == TABLE_NUMBERS[table]
    assert before_ms <= _millis(made) <= after_ms


@given(st.lists(st.sampled_from(ALL_TABLES), min_size=2, max_size=300))
def test_ids_strictly_increase_in_creation_order(tables: list[str]) -> None:
    """Many ids share a millisecond; they still sort in the order they were made, within
    a table and (on their time-and-random prefix) across tables."""
    ids = IdGenerator()
    made = [(table, ids.new_id(table)) for table in tables]
    for table in set(tables):
        mine = [i for t, i in made if t == table]
        assert all(a < b for a, b in itertools.pairwise(mine))
    prefixes = [i[:24] for _, i in made]
    assert all(a < b for a, b in itertools.pairwise(prefixes))


def test_ids_of_a_later_millisecond_sort_after_from_any_generator() -> None:
    first = IdGenerator().new_id("messages")
    start = _millis(first)
    while time.time_ns() // 1_000_000 <= start:  # wait for the clock, not for a duration
        pass
    later = IdGenerator().new_id("messages")
    assert later > first
    assert _millis(later) > start


def test_creation_times_strictly_increase() -> None:
    ids = IdGenerator()
    before_ms = time.time_ns() / 1_000_000
    times = [ids.creation_time() for _ in range(5000)]
    assert all(a < b for a, b in itertools.pairwise(times))
    # Ahead of the clock by at most the 1 µs step that keeps them apart in a burst.
    assert before_ms <= times[0]
    assert times[-1] <= time.time_ns() / 1_000_000 + 0.001 * len(times)


@pytest.mark.parametrize("table", ALL_TABLES)
def test_the_id_validator_takes_its_own_table_and_refuses_every_other(table: str) -> None:
    ids = IdGenerator()
    v.id(table).check(ids.new_id(table), "t", "f")
    for other in ALL_TABLES:
        if other == table:
            continue
        with pytest.raises(DocumentInvalid) as caught:
            v.id(table).check(ids.new_id(other), "t", "f")
        assert caught.value.rule == f"an id of another table, expected table {table}"


def test_a_wrong_check_character_is_never_taken_for_ours() -> None:
    made = IdGenerator().new_id("users")
    for char in ALPHABET.replace(made[-1], ""):
        assert table_number_of(made[:-1] + char) is None


def test_most_single_character_typos_are_caught() -> None:
    """One check character: a typo is caught 31 times in 32, so a mangled id is rarely
    mistaken for one of ours (and then it is still refused if its table is wrong)."""
    ids = IdGenerator()
    caught = trials = 0
    for n in range(2000):
        made = ids.new_id("users")
        at = n % (ID_LENGTH - 1)
        replacement = "0" if made[at] != "0" else "1"
        caught += table_number_of(made[:at] + replacement + made[at + 1 :]) is None
        trials += 1
    assert caught / trials > 0.9


IMPORTED = [
    "k57a9bq1ndd1jb7d4x2t6cg4jx6xj8ry",  # Convex
    "550e8400-e29b-41d4-a716-446655440000",  # UUID (Prisma default)
    "clh3am8fj0000qz8r7g3v1v2x",  # cuid
    "user_2abcXYZdef123",  # Clerk
    "7",
    "A" * MAX_ID_LENGTH,
    "0" * ID_LENGTH,  # our length and alphabet, but no valid check character
]


@pytest.mark.parametrize("imported", IMPORTED)
def test_imported_ids_of_other_shapes_are_accepted_for_any_table(imported: str) -> None:
    assert is_valid_id(imported)
    assert table_number_of(imported) is None
    for table in ALL_TABLES:
        v.id(table).check(imported, "t", "f")


@given(st.text(alphabet=URL_SAFE, min_size=1, max_size=MAX_ID_LENGTH))
def test_every_url_safe_shape_up_to_128_characters_is_a_valid_id(value: str) -> None:
    assert is_valid_id(value)


@pytest.mark.parametrize(
    "value", ["", "x" * (MAX_ID_LENGTH + 1), "has space", "a/b", "a+b", "a=", "é", "id\n"]
)
def test_other_shapes_are_refused(value: str) -> None:
    assert not is_valid_id(value)
    with pytest.raises(DocumentInvalid) as caught:
        v.id("users").check(value, "t", "f")
    assert caught.value.rule == "not a valid id of table users"


@given(st.text(min_size=1).filter(lambda s: any(c not in URL_SAFE for c in s)))
def test_ids_with_any_other_character_are_refused(value: str) -> None:
    assert not is_valid_id(value)
