"""Ids: opaque, URL-safe, time-ordered within a table, carrying their table."""

from __future__ import annotations

import itertools
import re

from hypothesis import given
from hypothesis import strategies as st

from advisor_chat.schema.ids import (
    ID_LENGTH,
    TABLE_NUMBERS,
    IdGenerator,
    is_valid_id,
    table_number_of,
)


def test_ids_are_url_safe_and_strictly_increasing() -> None:
    ids = IdGenerator()
    made = [ids.new_id("messages") for _ in range(5000)]
    assert made == sorted(made)
    assert len(set(made)) == len(made)
    assert all(re.fullmatch(r"[0-9a-z]+", i) and len(i) == ID_LENGTH for i in made)


def test_creation_times_strictly_increase() -> None:
    ids = IdGenerator()
    times = [ids.creation_time() for _ in range(5000)]
    assert all(a < b for a, b in itertools.pairwise(times))


@given(st.sampled_from(sorted(TABLE_NUMBERS)))
def test_an_id_carries_its_table(table: str) -> None:
    made = IdGenerator().new_id(table)
    assert table_number_of(made) == TABLE_NUMBERS[table]
    assert is_valid_id(made)


def test_most_corrupted_ids_are_not_taken_for_ours() -> None:
    """One check character: a typo is caught 31 times in 32, so a mangled id of another
    table is rarely mistaken for one of ours."""
    ids = IdGenerator()
    caught = 0
    trials = 2000
    for n in range(trials):
        made = ids.new_id("users")
        at = n % (ID_LENGTH - 1)
        replacement = "0" if made[at] != "0" else "1"
        caught += table_number_of(made[:at] + replacement + made[at + 1 :]) is None
    assert caught / trials > 0.9


@given(st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789_-", min_size=1, max_size=128))
def test_imported_ids_of_any_url_safe_shape_are_accepted(value: str) -> None:
    assert is_valid_id(value)


@given(st.text(min_size=1).filter(lambda s: re.search(r"[^A-Za-z0-9_-]", s) is not None))
def test_ids_with_other_characters_are_refused(value: str) -> None:
    assert not is_valid_id(value)
