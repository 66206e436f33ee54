"""Chores: what a small model is asked, and what is kept of its answers."""

from __future__ import annotations

import re
from typing import Any, Literal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from advisor_chat.ai.chores import (
    FALLBACK_TITLE,
    MAX_MEMORIES,
    MEMORY_KEY_CHARS,
    MEMORY_VALUE_CHARS,
    MIN_LINE_TOKENS,
    SUMMARY_MAX_CHARS,
    TITLE_CHARS,
    TITLE_INPUT_CHARS,
    clean_summary,
    clean_title,
    grounded,
    memory_request,
    parse_memories,
    summary_request,
    title_request,
    transcript,
)
from advisor_chat.ai.prompt import prompt_tokens
from advisor_chat.ai.providers.base import TokenCounter
from advisor_chat.ai.tokens import ELLIPSIS
from tests.ai.counters import Quarter

ESTIMATE = Quarter()
NAMES = {"m": "Margaret Thornbury", "d": "Dev Raghunathan"}


class Words:
    def count(self, text: str) -> int:
        return len(text.split())


def user(content: str) -> dict[str, Any]:
    return {"sender": "user", "content": content, "status": "complete"}


def advisor(who: str, content: str, status: str = "complete") -> dict[str, Any]:
    return {"sender": "advisor", "advisorId": who, "content": content, "status": status}


SPAN = [  # oldest first
    user("How long is my\nrunway?"),
    advisor("m", "About 14 months at the current burn."),
    {"sender": "system", "content": "Dev joined the conversation"},
    advisor("d", "Half an ans", status="error"),
    advisor("d", "Try a referral programme first.", status="stopped"),
    advisor("gone", "Advice from a deleted advisor."),
    user("Thanks, both."),
]


# Transcripts


def test_a_transcript_says_who_said_what_oldest_first() -> None:
    found = transcript(SPAN, names=NAMES, counter=ESTIMATE, limit=1000)
    assert found.text == (
        "User: How long is my runway?\n"
        "Margaret Thornbury: About 14 months at the current burn.\n"
        "Dev Raghunathan: Try a referral programme first.\n"
        "Advisor: Advice from a deleted advisor.\n"
        "User: Thanks, both."
    )
    assert found.covered == len(SPAN)


def test_long_messages_are_cut_evenly_so_each_keeps_its_beginning() -> None:
    span = [user("Question one? " + "detail " * 300), advisor("m", "Answer one. " + "more " * 300)]
    found = transcript(span, names=NAMES, counter=ESTIMATE, limit=120)
    lines = found.text.split("\n")
    assert [line.split(":")[0] for line in lines] == ["User", "Margaret Thornbury"]
    assert lines[0].startswith("User: Question one? detail")
    assert lines[1].startswith("Margaret Thornbury: Answer one. more")
    assert all(line.endswith(ELLIPSIS) for line in lines)
    assert ESTIMATE.count(found.text) <= 120
    assert abs(ESTIMATE.count(lines[0]) - ESTIMATE.count(lines[1])) <= 2  # evenly
    assert found.covered == 2


def test_when_even_short_lines_do_not_fit_the_kept_end_wins() -> None:
    span = [user(f"message number {n} " + "word " * 50) for n in range(40)]
    oldest = transcript(span, names=NAMES, counter=ESTIMATE, limit=100)
    assert oldest.text.startswith("User: message number 0 ")
    assert 0 < oldest.covered < 40
    assert len(oldest.text.split("\n")) == oldest.covered
    newest = transcript(span, names=NAMES, counter=ESTIMATE, limit=100, keep="newest")
    assert newest.text.split("\n")[-1].startswith("User: message number 39 ")
    assert len(newest.text.split("\n")) == newest.covered
    assert newest.text.split("\n")[0].startswith(f"User: message number {40 - newest.covered} ")


def test_nothing_to_transcribe() -> None:
    assert transcript([], names=NAMES, counter=ESTIMATE, limit=100).covered == 0
    only_notices = [{"sender": "system", "content": "x"}] * 3
    found = transcript(only_notices, names=NAMES, counter=ESTIMATE, limit=100)
    assert (found.text, found.covered) == ("", 3)
    assert transcript(SPAN, names=NAMES, counter=ESTIMATE, limit=5).covered == 0


MESSAGES = st.builds(
    lambda sender, who, content, status: {
        "sender": sender,
        "advisorId": who,
        "content": content,
        "status": status,
    },
    st.sampled_from(["user", "advisor", "system"]),
    st.sampled_from(["m", "d", "gone"]),
    st.text(max_size=400),
    st.sampled_from(["complete", "stopped", "error", "streaming"]),
)
COUNTERS = st.sampled_from([ESTIMATE, Words()])


def _spoken(message: dict[str, Any]) -> bool:
    return (
        message["sender"] != "system"
        and message["status"] not in ("error", "streaming")
        and bool(message["content"].strip())
    )


@given(
    st.lists(MESSAGES, max_size=30),
    COUNTERS,
    st.integers(0, 800),
    st.sampled_from(["oldest", "newest"]),
)
def test_a_transcript_fits_and_accounts_for_what_it_covers(
    span: list[dict[str, Any]],
    counter: TokenCounter,
    limit: int,
    keep: Literal["oldest", "newest"],
) -> None:
    found = transcript(span, names=NAMES, counter=counter, limit=limit, keep=keep)
    assert counter.count(found.text) <= limit or found.text == ""
    assert 0 <= found.covered <= len(span)
    covered = span[: found.covered] if keep == "oldest" else span[len(span) - found.covered :]
    lines = found.text.split("\n") if found.text else []
    assert len(lines) == sum(map(_spoken, covered))
    speakers = [
        "User" if m["sender"] == "user" else NAMES.get(m["advisorId"], "Advisor")
        for m in covered
        if _spoken(m)
    ]
    assert [line.split(": ", 1)[0] for line in lines] == speakers


# Summaries


def test_a_summary_request_folds_the_span_into_the_previous_summary() -> None:
    request = summary_request(
        SPAN, names=NAMES, counter=ESTIMATE, budget=400, previous="The user runs a bakery."
    )
    system, asked = request.messages
    assert system.role == "system"
    assert "at most 120 words" in system.content
    assert asked.role == "user"
    assert asked.content.startswith("Summary so far: The user runs a bakery.\n\nConversation:\n")
    assert "Margaret Thornbury: About 14 months at the current burn." in asked.content
    assert asked.content.endswith("\n\nWrite the updated summary.")
    assert request.covered == len(SPAN)
    assert prompt_tokens(request.messages, ESTIMATE) <= 400


def test_a_first_summary_has_no_summary_so_far() -> None:
    asked = summary_request(SPAN, names=NAMES, counter=ESTIMATE, budget=400).messages[1]
    assert asked.content.startswith("Conversation:\nUser: How long")
    assert asked.content.endswith("\n\nWrite the summary.")


def test_a_summary_request_covers_what_fits_and_says_so() -> None:
    span = [user(f"point {n} " + "detail " * 40) for n in range(100)]
    request = summary_request(span, names=NAMES, counter=ESTIMATE, budget=600)
    assert prompt_tokens(request.messages, ESTIMATE) <= 600
    assert 0 < request.covered < 100
    assert f"User: point {request.covered - 1} " in request.messages[1].content
    assert f"User: point {request.covered} " not in request.messages[1].content


@given(
    st.lists(MESSAGES, max_size=30),
    COUNTERS,
    st.integers(300, 3000),
    st.none() | st.text(max_size=3000),
)
def test_a_summary_request_keeps_its_budget(
    span: list[dict[str, Any]], counter: TokenCounter, budget: int, previous: str | None
) -> None:
    request = summary_request(span, names=NAMES, counter=counter, budget=budget, previous=previous)
    assert prompt_tokens(request.messages, counter) <= budget
    assert 0 <= request.covered <= len(span)


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        (
            "The user runs a seed-stage startup. Margaret advised cutting costs.",
            "The user runs a seed-stage startup. Margaret advised cutting costs.",
        ),
        (
            "Here is the summary:\n\nThe user plans to raise in Q3.\nSamir suggested a list.",
            "The user plans to raise in Q3. Samir suggested a list.",
        ),
        (
            "**Summary:** The user plans to hire two engineers.<|im_end|>",
            "The user plans to hire two engineers.",
        ),
        (
            "<|im_start|>assistant\n- The user has 14 months of runway.\n- Margaret agreed.",
            "The user has 14 months of runway. Margaret agreed.",
        ),
    ],
)
def test_clean_summary_keeps_the_summary(raw: str, clean: str) -> None:
    assert clean_summary(raw) == clean


@pytest.mark.parametrize(
    "raw",
    [
        "",
        "   \n ",
        "<|im_end|>",
        "OK.",
        "Sure, here it is",
        "!!! ??? ... --- ### 1234 5678",
        "the plan " * 30,
    ],
)
def test_clean_summary_refuses_nothing_worth_keeping(raw: str) -> None:
    assert clean_summary(raw) is None


def test_a_long_summary_is_cut_at_a_sentence() -> None:
    text = " ".join(f"Sentence number {n} says something new about the plan." for n in range(60))
    summary = clean_summary(text)
    assert summary is not None
    assert len(summary) <= SUMMARY_MAX_CHARS
    assert summary.endswith("about the plan.")


@given(st.text(max_size=3000))
def test_clean_summary_never_raises_and_gives_one_bounded_line(text: str) -> None:
    summary = clean_summary(text)
    if summary is not None:
        assert len(summary) <= SUMMARY_MAX_CHARS + 1
        assert "\n" not in summary
        assert "<|" not in summary or "|>" not in summary
        assert summary == summary.strip()


# Memories


def test_a_memory_request_lists_what_is_known_and_the_newest_messages() -> None:
    known: list[dict[str, Any]] = [
        {"key": "stage", "value": "seed"},
        {"key": "team", "value": {"engineers": 3}},
    ]
    span = [user(f"old message {n} " + "word " * 40) for n in range(50)] + [
        user("We burn 40k a month.")
    ]
    messages = memory_request(span, names=NAMES, known=known, counter=ESTIMATE, budget=500)
    assert prompt_tokens(messages, ESTIMATE) <= 500
    system, asked = messages
    assert "key: value" in system.content
    assert "answer NONE" in system.content
    assert asked.content.startswith(
        "Known facts:\nstage: seed\nteam: engineers: 3\n\nConversation:\n"
    )
    assert "User: We burn 40k a month.\n\nNew or changed facts:" in asked.content
    assert "old message 0 " not in asked.content  # the oldest give way


def test_parse_memories_takes_key_value_lines_and_ignores_the_rest() -> None:
    answer = "\n".join(
        [
            "Here are the facts I found:",
            "- Company Stage: seed",
            "* **monthly_burn**: 40000 USD",
            '3. Team size: "5"',
            "key: value",
            "notes: none",
            "Runway: unknown",
            "The user said that they want to raise money next year: maybe",
            "company_stage: series A",
            "NONE",
            "Año fiscal: 2024",
            "2024 revenue: 1M",
            "<|im_end|>",
        ]
    )
    assert parse_memories(answer) == {
        "company_stage": "seed",  # the first of a key is kept
        "monthly_burn": "40000 USD",
        "team_size": "5",
        "ano_fiscal": "2024",
    }


def test_parse_memories_caps_count_and_sizes() -> None:
    answer = "\n".join(f"fact {n}: value {n}" for n in range(20))
    assert list(parse_memories(answer)) == [f"fact_{n}" for n in range(MAX_MEMORIES)]
    long = parse_memories("a " + "very " * 20 + "long key: " + "v" * 1000)
    assert long == {}  # a six-word-plus "key" is prose
    big = parse_memories(f"{'k' * 100}: " + "word " * 200)
    [(key, value)] = big.items()
    assert key == "k" * MEMORY_KEY_CHARS
    assert len(value) <= MEMORY_VALUE_CHARS
    assert value.endswith(ELLIPSIS)


def test_parse_memories_of_nothing() -> None:
    assert parse_memories("NONE") == {}
    assert parse_memories("") == {}
    assert parse_memories("I could not find any facts.") == {}


@given(st.text(max_size=2000))
def test_parse_memories_never_raises_and_keeps_its_shape(text: str) -> None:
    memories = parse_memories(text)
    assert len(memories) <= MAX_MEMORIES
    for key, value in memories.items():
        assert re.fullmatch(r"[a-z][a-z0-9_]*", key)
        assert len(key) <= MEMORY_KEY_CHARS
        assert not key.endswith("_")
        assert 0 < len(value) <= MEMORY_VALUE_CHARS
        assert "\n" not in value


# Titles


@pytest.mark.parametrize(
    ("raw", "title"),
    [
        ("Runway planning", "Runway planning"),
        ('"Runway Planning for Q3."', "Runway Planning for Q3"),
        ("\u201cHiring plan\u201d", "Hiring plan"),
        ("Title: Hiring a second engineer!", "Hiring a second engineer"),
        ("Sure! Here's a title:\n\n**Cash runway and hiring**", "Cash runway and hiring"),
        ("Sure! Here's a title: Cash runway", "Cash runway"),
        ("<|im_start|>assistant\nRaising a seed round<|im_end|>", "Raising a seed round"),
        ("# Founder's equity split", "Founder's equity split"),
        ("Pricing tiers\nThis conversation is about pricing.", "Pricing tiers"),
    ],
)
def test_clean_title_keeps_the_models_title(raw: str, title: str) -> None:
    assert clean_title(raw, fallback_from="ignored") == title


@pytest.mark.parametrize(
    "raw", ["", "  ", "...", "!!!???", "<|im_end|>", "Sure, here is a title", "I'm sorry, I can't"]
)
def test_clean_title_falls_back_to_the_users_first_words(raw: str) -> None:
    first = "@Margaret how long is my runway if we hire two engineers next month?"
    assert (
        clean_title(raw, fallback_from=first)
        == "How long is my runway if we hire two engineers next month"
    )


def test_a_title_is_cut_at_a_word() -> None:
    title = clean_title("Pricing strategy for a B2B SaaS product sold to large enterprises", "x")
    assert title == "Pricing strategy for a B2B SaaS product sold to large"
    assert len(title) <= TITLE_CHARS


def test_with_nothing_at_all_the_title_is_new_conversation() -> None:
    assert clean_title("", fallback_from=" \n ") == FALLBACK_TITLE


def test_a_title_request_carries_the_gist_of_the_first_exchange() -> None:
    system, asked = title_request("How long is my runway?", "Fourteen months. " * 200)
    assert "3 to 6 words" in system.content
    assert asked.content.startswith("User: How long is my runway?\nAdvisor: Fourteen months.")
    assert asked.content.endswith(f"{ELLIPSIS}\n\nTitle:")
    assert len(asked.content) < 2 * TITLE_INPUT_CHARS + 50


@given(st.text(max_size=500), st.text(max_size=500))
def test_clean_title_is_always_one_short_clean_line(text: str, fallback: str) -> None:
    title = clean_title(text, fallback_from=fallback)
    assert title
    assert len(title) <= TITLE_CHARS
    assert "\n" not in title
    assert not any(quote in title for quote in '"\u201c\u201d')
    assert title[-1] not in ".,;:!?" or title == FALLBACK_TITLE


def test_min_line_is_enough_to_say_who_spoke() -> None:
    line = transcript(
        [advisor("m", "word " * 100)], names=NAMES, counter=ESTIMATE, limit=MIN_LINE_TOKENS + 1
    )
    assert line.text.startswith("Margaret Thornbury: word")


def test_only_facts_the_user_wrote_are_remembered() -> None:
    user = "We burn 42k EUR a month, we're 3 people in Lisbon, and launch in March."
    facts = {
        "monthly_burn": "42k EUR",
        "team": "3 people in Lisbon",
        "launch": "March",
        "ifeoma_hartley": "One of my favorite questions, and one that has been asked often",
        "revenue": "1.2M USD",
    }
    assert grounded(facts, user) == {
        "monthly_burn": "42k EUR",
        "team": "3 people in Lisbon",
        "launch": "March",
    }
    assert grounded({"city": "Lisboa"}, "We are in Lisbon") == {}
    assert grounded({"city": "São Paulo"}, "based in Sao Paulo") == {"city": "São Paulo"}


def test_a_fallback_title_leaves_the_mentions_out() -> None:
    assert clean_title("", fallback_from="@Ifeoma should I raise prices?") == (
        "Should I raise prices"
    )
    assert clean_title("", fallback_from="me@example.com wrote in") == "Me@example.com wrote in"
