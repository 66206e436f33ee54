"""Persona → system prompt: every shipped advisor's prompt word for word (golden files),
every voice-shaping field present, odd documents survived, shrinking in order.

Regenerate the golden files after a deliberate change with
`UPDATE_GOLDEN=1 .venv/bin/pytest tests/ai/test_persona.py`, then read the diff.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from advisor_chat.ai.persona import display_name, system_prompt
from advisor_chat.importers.files import load_all
from advisor_chat.importers.formats import advisor_from_file, team_from_file
from advisor_chat.importers.marketplace import shipped_content
from tests.ai.counters import Quarter

GOLDEN = Path(__file__).parent / "golden"
UPDATE = os.environ.get("UPDATE_GOLDEN") == "1"


def _shipped() -> dict[str, dict[str, Any]]:
    """Each shipped advisor file's document, as the marketplace import makes it, by stem;
    with an `_id` (its advisorId) as a stored document has."""
    files = load_all([shipped_content() / "advisors"], "advisor")
    docs = {f.path.stem: advisor_from_file(f.data, f.path.stem) for f in files}
    return {stem: parsed.fields | {"_id": parsed.legacy_id} for stem, parsed in docs.items()}


ADVISORS = _shipped()
BY_ID = {doc["_id"]: doc for doc in ADVISORS.values()}


def _board_of(advisor_id: str) -> list[dict[str, Any]]:
    """The first shipped team holding the advisor, its advisors in session priority
    order: the board the advisor would sit on after a one-click team."""
    for file in load_all([shipped_content() / "teams"], "team"):
        team = team_from_file(file.data, file.path.stem)
        members = [role.get("advisorId") for role in team.roles]
        if advisor_id in members:
            return [BY_ID[m] for m in members if m in BY_ID]
    return []


def _prompt_of(stem: str) -> str:
    advisor = ADVISORS[stem]
    return system_prompt(advisor, _board_of(advisor["_id"]))


@pytest.mark.parametrize("stem", sorted(ADVISORS))
def test_golden_prompt(stem: str) -> None:
    path = GOLDEN / f"{stem}.txt"
    prompt = _prompt_of(stem)
    if UPDATE:
        path.write_text(prompt + "\n", encoding="utf-8")
    assert path.exists(), f"no golden file: run with UPDATE_GOLDEN=1 to write {path.name}"
    assert prompt + "\n" == path.read_text(encoding="utf-8")


def test_every_golden_file_belongs_to_a_shipped_advisor() -> None:
    stale = {p.stem for p in GOLDEN.glob("*.txt")} - set(ADVISORS)
    if UPDATE:
        for stem in stale:
            (GOLDEN / f"{stem}.txt").unlink()
    else:
        assert not stale


# What shapes a voice, by path into an advisor document; each string found there must be
# in the prompt (whitespace collapsed, a trailing full stop aside).
VOICE_PATHS = [
    "persona.name",
    "persona.title",
    "persona.oneLiner",
    "persona.archetype",
    "persona.temperament",
    "persona.bio",
    "persona.detailedBackground",
    "persona.experience",
    "persona.specialties",
    "persona.personalInterests",
    "persona.communicationStyle",
    "persona.personality",
    "persona.expertise",
    "persona.coreBeliefsOrPrinciples",
    "persona.education",
    "persona.additionalEducation",
    "persona.location.city",
    "persona.location.region",
    "persona.location.country",
    "persona.location.timezone",
    "persona.adviceDelivery.mode",
    "persona.adviceDelivery.voiceGuidelines",
    "persona.adviceDelivery.signOff",
    "roleDefinition.mission",
    "roleDefinition.scope.inScope",
    "roleDefinition.scope.outOfScope",
]
EDUCATION_TEXT = ("degreeName", "major", "institution")


def _strings(value: Any, path: list[str]) -> Iterator[str]:
    if not path:
        if isinstance(value, str):
            yield value
        elif isinstance(value, list):
            for item in value:
                yield from _strings(item, [])
        elif isinstance(value, Mapping):  # an education entry
            for key in EDUCATION_TEXT:
                yield from _strings(value.get(key), [])
        return
    if isinstance(value, Mapping):
        yield from _strings(value.get(path[0]), path[1:])


@pytest.mark.parametrize("stem", sorted(ADVISORS))
def test_every_voice_shaping_field_is_in_the_prompt(stem: str) -> None:
    advisor = ADVISORS[stem]
    prompt = system_prompt(advisor)
    missing = [
        (path, text)
        for path in VOICE_PATHS
        for text in _strings(advisor, path.split("."))
        if " ".join(text.split()).rstrip(".") not in prompt
    ]
    assert missing == []
    for component in advisor["components"]:
        config = component["config"]
        for text in [config.get("tone"), config.get("name"), *config.get("steps", [])]:
            if text:
                assert text.rstrip(".") in prompt
    assert "never use emojis" in prompt  # useEmojis: false in every shipped persona


def test_prompt_reads_as_the_advisor() -> None:
    prompt = _prompt_of("margaret-thornbury-v1")
    assert prompt.startswith(
        "You are Margaret Thornbury, Fractional CFO, one of the advisors on the user's AI "
        "advisory board.\n"
    )
    assert "Speak as Margaret, in the first person" in prompt
    assert (
        'End every answer with your sign-off: "Cash first, then everything else. — Margaret"'
        in (prompt)
    )
    assert "you write in a formal and precise way" in prompt  # formality: high
    assert "Keep answers under about 450 words" in prompt  # responseProtocol
    assert "1. Confirm today's cash balance and monthly net burn." in prompt
    assert "Education: Bachelor of Arts in Accounting and Finance (a university in the north" in (
        prompt
    )
    assert "Chartered Accountancy Qualification in Accounting" in prompt  # additionalEducation


def test_roster_lists_the_colleagues_and_not_the_advisor_itself() -> None:
    margaret = ADVISORS["margaret-thornbury-v1"]
    board = _board_of(margaret["_id"])
    assert margaret in board
    roster = system_prompt(margaret, board).split("Your colleagues on this board:\n", 1)[1]
    lines = roster.splitlines()
    assert lines[0] == (
        "- Samir Haddad, Fundraising & Investor Relations Advisor: Helps founders run a "
        "fundraise like a disciplined sales process and keep investors informed afterwards."
    )
    assert [line.split(",")[0] for line in lines[:3]] == [
        "- Samir Haddad",
        "- Jonah Whitfield",
        "- Tomasz Wierzba",
    ]
    assert "Margaret" not in roster.split("When a question")[0]
    assert "suggest the user ask them by name (for example @Samir Haddad)" in roster
    assert "Never speak for a colleague" in roster


def test_roster_of_only_the_advisor_itself_or_duplicates() -> None:
    margaret = ADVISORS["margaret-thornbury-v1"]
    samir = ADVISORS["samir-haddad-v1"]
    assert system_prompt(margaret, [margaret]) == system_prompt(margaret)
    assert system_prompt(margaret, [samir, samir, margaret]).count("- Samir Haddad") == 1


def test_without_ids_the_advisor_is_known_by_name_in_the_roster() -> None:
    me = {"persona": {"name": "Ann Lee", "title": "CFO"}}
    other = {"persona": {"name": "Bo Chen", "title": "CTO", "oneLiner": "Builds things."}}
    prompt = system_prompt(me, [me, other])
    assert "- Bo Chen, CTO: Builds things." in prompt
    assert "- Ann Lee" not in prompt


def test_the_same_document_gives_the_same_prompt_whatever_its_key_order() -> None:
    advisor = ADVISORS["anika-lindqvist-v1"]
    reordered = dict(reversed(list(advisor.items())))
    reordered["persona"] = dict(reversed(list(advisor["persona"].items())))
    assert system_prompt(reordered) == system_prompt(advisor)


def test_a_minimal_document() -> None:
    prompt = system_prompt({"persona": {"name": "  Ann\n Lee ", "title": "CFO"}})
    assert prompt == (
        "You are Ann Lee, CFO, one of the advisors on the user's AI advisory board.\n"
        "Speak as Ann, in the first person, and stay in character."
    )


def test_an_empty_document_still_gives_a_prompt() -> None:
    assert system_prompt({}) == (
        "You are Advisor, one of the advisors on the user's AI advisory board.\n"
        "Speak as Advisor, in the first person, and stay in character."
    )


# Shrinking to a token budget


def test_shrinking_drops_the_least_important_first() -> None:
    advisor = ADVISORS["margaret-thornbury-v1"]
    board = _board_of(advisor["_id"])
    full = system_prompt(advisor, board)
    count = Quarter().count
    one_short = system_prompt(advisor, board, max_tokens=count(full) - 1, counter=Quarter())
    assert "Interests outside work" in full
    assert "Interests outside work" not in one_short
    assert one_short == full.replace(
        "\n\nInterests outside work: Choral singing, Walking in the hills, Crossword puzzles.", ""
    )


def test_shrinking_keeps_voice_and_colleagues_longest() -> None:
    advisor = ADVISORS["margaret-thornbury-v1"]
    board = _board_of(advisor["_id"])
    small = system_prompt(advisor, board, max_tokens=300, counter=Quarter())
    assert Quarter().count(small) <= 300
    assert small.startswith("You are Margaret Thornbury, Fractional CFO")
    assert 'sign-off: "Cash first, then everything else. — Margaret"' in small
    assert "- Samir Haddad, Fundraising & Investor Relations Advisor\n" in small  # short form
    assert "Never speak for a colleague" in small
    for gone in ("Your story:", "Education:", "Your principles:", "About you:", "based in"):
        assert gone not in small


@pytest.mark.parametrize("stem", sorted(ADVISORS))
@pytest.mark.parametrize("limit", [1000, 700, 400, 250])
def test_shrunk_prompts_fit(stem: str, limit: int) -> None:
    advisor = ADVISORS[stem]
    prompt = system_prompt(advisor, _board_of(advisor["_id"]), max_tokens=limit)
    assert Quarter().count(prompt) <= limit
    assert prompt.startswith(f"You are {display_name(advisor)}, ")


def test_too_small_a_budget_leaves_the_identity() -> None:
    advisor = ADVISORS["margaret-thornbury-v1"]
    prompt = system_prompt(advisor, _board_of(advisor["_id"]), max_tokens=5)
    assert prompt == system_prompt({"persona": advisor["persona"] | _only_identity()})


def _only_identity() -> dict[str, Any]:
    keep = {"name", "title", "oneLiner"}
    persona = ADVISORS["margaret-thornbury-v1"]["persona"]
    return {key: None for key in persona if key not in keep}


class Words:
    """A counter unlike the default, to show the one given is the one used."""

    def count(self, text: str) -> int:
        return len(text.split())


def test_the_given_counter_is_used() -> None:
    advisor = ADVISORS["margaret-thornbury-v1"]
    prompt = system_prompt(advisor, max_tokens=200, counter=Words())
    assert len(prompt.split()) <= 200
    assert Quarter().count(prompt) > 200  # the default counter would have cut more


# display_name


def test_education_reads_as_degrees() -> None:
    persona = {
        "name": "Ann Lee",
        "title": "Counsel",
        "education": {"degreeName": "Bachelor of Laws", "major": "Law", "graduationYear": 2006},
        "additionalEducation": [
            {"degreeLevel": "Master's", "major": "Tax", "institution": "a university"},
            {"institution": "a bar school", "graduationYear": 2009.0},
            {"graduationYear": True},
            "not an entry",
        ],
    }
    assert (
        "Education: Bachelor of Laws (2006); Master's in Tax (a university); a bar school (2009)."
        in system_prompt({"persona": persona})
    )


def test_display_name() -> None:
    assert display_name({"persona": {"name": " Lucía  Ferreyra "}}) == "Lucía Ferreyra"
    assert display_name({"firstName": "Ann", "lastName": "Lee", "persona": {}}) == "Ann Lee"
    assert display_name({"firstName": "Ann", "persona": {"name": ""}}) == "Ann"
    assert display_name({"persona": {"name": 7}}) == "Advisor"
    assert display_name({}) == "Advisor"


# Any partial document: fields mostly of the right type, any of them possibly missing,
# empty or of another type.

# Text that cannot spell what the prompt must never show: None, True, False, nan, inf, [, {,
# and no full stops, so a ".." in a prompt is the prompt's own doing.
TEXT = st.text(alphabet="abcdefgh ijklm,;:-'!\n\t", max_size=40)
ODD = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(),
    st.lists(st.one_of(TEXT, st.none(), st.integers(), st.dictionaries(TEXT, TEXT)), max_size=3),
    st.dictionaries(TEXT, st.one_of(TEXT, st.integers(), st.none()), max_size=3),
)


def _or_odd(good: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """Usually `good` (3 in 4), sometimes anything else. (Not `one_of(good, ODD)`:
    hypothesis flattens ODD's own branches into it, and they would win 6 to 1.)"""
    return st.integers(0, 3).flatmap(lambda n: good if n else ODD)


def _object(fields: dict[str, st.SearchStrategy[Any]]) -> st.SearchStrategy[Any]:
    return _or_odd(st.fixed_dictionaries({}, optional=fields))


A_TEXT = _or_odd(TEXT)
TEXTS = _or_odd(st.lists(A_TEXT, max_size=4))
EDUCATION = _object(
    {
        "degreeLevel": A_TEXT,
        "degreeName": A_TEXT,
        "major": A_TEXT,
        "institution": A_TEXT,
        "graduationYear": _or_odd(st.integers(1900, 2100)),
    }
)
_TEXT_KEYS = (
    "name title description oneLiner archetype temperament bio detailedBackground "
    "experience communicationStyle maritalStatus image"
)
_LIST_KEYS = "specialties personalInterests personality expertise coreBeliefsOrPrinciples"
PERSONA = _object(
    dict.fromkeys(_TEXT_KEYS.split(), A_TEXT)
    | dict.fromkeys(_LIST_KEYS.split(), TEXTS)
    | {
        "education": EDUCATION,
        "additionalEducation": _or_odd(st.lists(EDUCATION, max_size=3)),
        "location": _object(dict.fromkeys(["city", "region", "country", "timezone"], A_TEXT)),
        "adviceDelivery": _object(
            {
                "mode": A_TEXT,
                "formality": _or_odd(st.sampled_from(["high", "medium", "low", "odd"])),
                "useEmojis": _or_odd(st.booleans()),
                "voiceGuidelines": TEXTS,
                "signOff": A_TEXT,
            }
        ),
    }
)
COMPONENT = _object(
    {
        "id": _or_odd(st.sampled_from(["responseProtocol", "decisionFramework", "other"])),
        "config": st.one_of(
            _object(
                {
                    "maxResponseLength": _or_odd(st.integers(-5, 2000)),
                    "includeActionItems": _or_odd(st.booleans()),
                    "tone": A_TEXT,
                }
            ),
            _object({"name": A_TEXT, "steps": TEXTS}),
        ),
    }
)
ADVISOR = st.fixed_dictionaries(
    {"persona": PERSONA},  # itself sometimes missing or odd
    optional={
        "_id": _or_odd(st.sampled_from(["a1", "a2", "a3"])),
        "firstName": A_TEXT,
        "lastName": A_TEXT,
        "roleDefinition": _object(
            {
                "mission": A_TEXT,
                "scope": _object({"inScope": TEXTS, "outOfScope": TEXTS}),
            }
        ),
        "components": _or_odd(st.lists(COMPONENT, max_size=3)),
    },
)


@given(ADVISOR, st.lists(ADVISOR, max_size=3), st.none() | st.integers(0, 2000))
def test_any_partial_document_gives_a_clean_prompt(
    advisor: dict[str, Any], roster: list[dict[str, Any]], limit: int | None
) -> None:
    prompt = system_prompt(advisor, roster, max_tokens=limit)
    assert prompt == system_prompt(advisor, roster, max_tokens=limit)
    assert prompt.startswith(f"You are {display_name(advisor)}")
    for junk in ("None", "True", "False", "nan", "inf", "[", "{", "..", "\n\n\n", "\t"):
        assert junk not in prompt
    assert all(line.strip() for line in prompt.split("\n\n"))
    if limit is not None:
        identity_only = system_prompt({"persona": _persona_identity(advisor)})
        assert Quarter().count(prompt) <= max(limit, Quarter().count(identity_only))


def _persona_identity(advisor: Mapping[str, Any]) -> dict[str, Any]:
    persona = advisor.get("persona")
    persona = persona if isinstance(persona, Mapping) else {}
    keep = {k: persona[k] for k in ("name", "title", "oneLiner", "description") if k in persona}
    if "name" not in keep or not isinstance(keep["name"], str) or not keep["name"].strip():
        keep["name"] = display_name(advisor)
    return keep
