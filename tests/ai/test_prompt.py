"""Context assembly: who said what, what fits, and that the budget always holds."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any, overload

import pytest
from hypothesis import given
from hypothesis import strategies as st

from advisor_chat.ai.prompt import (
    EXCHANGE_SCAN,
    HEAD_SHARE,
    MAX_MEMORIES,
    MEMORY_CHARS,
    Prompt,
    assemble,
    attribution,
    prompt_tokens,
)
from advisor_chat.ai.providers.base import ChatMessage, TokenCounter
from advisor_chat.ai.providers.counting import MESSAGE_OVERHEAD, REPLY_PRIMING
from advisor_chat.ai.tokens import ELLIPSIS
from tests.ai.counters import Quarter

ME, OTHER = "adv_dev", "adv_margaret"
NAMES = {ME: "Dev Raghunathan", OTHER: "Margaret Thornbury"}


class Words:
    def count(self, text: str) -> int:
        return len(text.split())


class Chars:
    def count(self, text: str) -> int:
        return len(text)


def user(content: str, **extra: Any) -> dict[str, Any]:
    return {"sender": "user", "content": content, "status": "complete", **extra}


def advisor(who: str | None, content: str, status: str = "complete") -> dict[str, Any]:
    message = {"sender": "advisor", "content": content, "status": status}
    if who is not None:
        message["advisorId"] = who
    return message


def run(
    history: Sequence[dict[str, Any]],
    *,
    system: str = "You are Dev.",
    memories: Sequence[dict[str, Any]] = (),
    summary: dict[str, Any] | None = None,
    counter: TokenCounter | None = None,
    budget: int = 4000,
    answer_tokens: int = 500,
) -> Prompt:
    return assemble(
        system=system,
        advisor_id=ME,
        names=NAMES,
        memories=memories,
        summary=summary,
        history=history,
        counter=counter or Quarter(),
        budget=budget,
        answer_tokens=answer_tokens,
    )


def pairs(prompt: Prompt) -> list[tuple[str, str]]:
    return [(m.role, m.content) for m in prompt.messages]


# Who said what


def test_roles_and_attribution_oldest_first() -> None:
    history = [  # newest first
        advisor(OTHER, "Runway is 14 months."),
        user("@board how long is my runway?"),
        advisor(ME, "Test referrals first."),
        user("What should I test?"),
    ]
    prompt = run(history)
    assert pairs(prompt) == [
        ("system", "You are Dev."),
        ("user", "What should I test?"),
        ("assistant", "Test referrals first."),
        ("user", "@board how long is my runway?"),
        ("user", "[Margaret Thornbury, advisor] said: Runway is 14 months."),
    ]
    assert prompt.history_used == 4
    assert not prompt.truncated


def test_an_advisor_without_a_known_name_is_still_not_you() -> None:
    prompt = run([advisor("adv_gone", "Old advice."), advisor(None, "Imported advice.")])
    assert pairs(prompt)[1:] == [
        ("user", "[Another advisor] said: Imported advice."),
        ("user", "[Another advisor] said: Old advice."),
    ]
    assert attribution("Ann Lee") == "[Ann Lee, advisor] said: "


def test_failed_streaming_system_and_empty_messages_are_left_out_stopped_ones_kept() -> None:
    history = [
        user("And now?"),
        advisor(ME, "", status="streaming"),  # this turn's own placeholder
        advisor(OTHER, "Half an answ", status="streaming"),
        advisor(OTHER, "Provider fail", status="error"),
        {"sender": "system", "content": "Margaret joined the conversation"},
        advisor(ME, "I was saying that", status="stopped"),
        user("   "),
        {"sender": "advisor", "advisorId": ME, "content": "Legacy answer without a status"},
    ]
    prompt = run(history)
    assert pairs(prompt)[1:] == [
        ("assistant", "Legacy answer without a status"),
        ("assistant", "I was saying that"),
        ("user", "And now?"),
    ]
    assert prompt.history_used == len(history)
    assert not prompt.truncated


def test_memories_and_summary_follow_the_persona_in_the_system_message() -> None:
    memories: list[dict[str, Any]] = [
        {"key": "monthly_burn", "value": 40000},
        {"key": "stage", "value": "seed"},
        {"key": "has_cofounder", "value": False},
        {"key": "team", "value": {"engineers": 3, "sales": ["Ann", "Bo"]}},
        {"key": "nothing", "value": None},
        {"key": "", "value": "no key"},
        {"key": "growth", "value": 0.25},
    ]
    summary = {"content": "The user runs a\nseed-stage SaaS company."}
    prompt = run([user("Hi")], memories=memories, summary=summary)
    assert prompt.messages[0] == ChatMessage(
        "system",
        "You are Dev.\n\n"
        "What you know about the user:\n"
        "- monthly burn: 40000\n"
        "- stage: seed\n"
        "- has cofounder: no\n"
        "- team: engineers: 3; sales: Ann, Bo\n"
        "- growth: 0.25\n\n"
        "Earlier in this conversation: The user runs a seed-stage SaaS company.",
    )


def test_memories_are_capped_in_number_and_length() -> None:
    memories = [{"key": f"fact_{n}", "value": "x" * 500} for n in range(MAX_MEMORIES + 5)]
    system = run([], memories=memories).messages[0].content
    lines = system.split("What you know about the user:\n")[1].splitlines()
    assert len(lines) == MAX_MEMORIES
    assert lines[-1].startswith(f"- fact {MAX_MEMORIES - 1}: xxx")
    assert all(len(line) == MEMORY_CHARS and line.endswith(ELLIPSIS) for line in lines)


def test_no_system_message_when_there_is_nothing_to_say() -> None:
    assert pairs(run([user("Hi")], system="  ")) == [("user", "Hi")]


# What fits


def test_the_budget_holds_and_tokens_are_counted_as_the_template_frames_them() -> None:
    history = [user(f"message {n} " + "word " * 20) for n in range(200)]
    prompt = run(history, counter=Words(), budget=1000, answer_tokens=300)
    assert prompt.tokens + 300 <= 1000
    framed = sum(len(m.content.split()) + MESSAGE_OVERHEAD for m in prompt.messages)
    assert prompt.tokens == framed + REPLY_PRIMING
    assert prompt.tokens == prompt_tokens(prompt.messages, Words())
    assert prompt.truncated
    assert 1000 - 300 - prompt.tokens < 26  # filled: the next message would not fit


def test_the_walk_stops_at_the_first_message_that_does_not_fit() -> None:
    history = [
        user("Short question?"),
        advisor(ME, "long " * 300),
        user("An older short one."),
    ]
    prompt = run(history, counter=Words(), budget=200, answer_tokens=50)
    assert pairs(prompt) == [("system", "You are Dev."), ("user", "Short question?")]
    assert prompt.history_used == 1
    assert prompt.truncated


def test_a_too_long_question_is_cut_keeping_its_end() -> None:
    question = "Some context. " * 400 + "So: should I hire a second engineer now?"
    prompt = run([user(question), advisor(ME, "Earlier answer.")], budget=600, answer_tokens=200)
    role, content = pairs(prompt)[-1]
    assert role == "user"
    assert content.startswith(ELLIPSIS)
    assert content.endswith("So: should I hire a second engineer now?")
    assert prompt.tokens + 200 <= 600
    assert prompt.truncated
    assert prompt.history_used == 1  # the older answer did not fit after it
    assert len(prompt.messages) == 2


def test_in_a_round_the_question_goes_in_before_answers_given_since() -> None:
    question = "@board should I raise now? " + "Details. " * 40  # ~100 tokens
    answer = "Margaret's long answer. " * 50  # ~310 tokens: fits alone, not with the question
    history = [advisor(OTHER, answer), user(question), advisor(ME, "Earlier answer.")]
    prompt = run(history, budget=600, answer_tokens=200)
    assert pairs(prompt)[-1] == ("user", question.strip())  # whole
    assert not any("Margaret's long answer" in content for _, content in pairs(prompt))
    assert prompt.truncated
    alone = run(history[:1], budget=600, answer_tokens=200)
    assert "Margaret's long answer" in alone.messages[-1].content  # it did fit by itself


def test_answers_since_the_question_go_in_when_they_fit() -> None:
    history = [advisor(OTHER, "Raise in Q3."), user("@board should I raise now?")]
    assert pairs(run(history))[1:] == [
        ("user", "@board should I raise now?"),
        ("user", "[Margaret Thornbury, advisor] said: Raise in Q3."),
    ]


def test_a_long_head_is_trimmed_summary_first_then_memories_then_persona() -> None:
    memories = [{"key": f"fact_{n}", "value": f"value {n}"} for n in range(10)]
    summary = {"content": "Old detail. " * 100 + "Most recent: agreed to cut costs."}
    persona = "You are Dev. " + "Persona detail. " * 50  # ~200 tokens; the head ~570

    def head(budget: int) -> str:
        prompt = run(
            [user("Hi")], system=persona, memories=memories, summary=summary, budget=budget
        )
        assert prompt.messages[-1] == ChatMessage("user", "Hi")
        share = int((budget - 500 - REPLY_PRIMING) * HEAD_SHARE)
        assert Quarter().count(prompt.messages[0].content) + MESSAGE_OVERHEAD <= share
        assert prompt.truncated == (budget < 1700)
        return prompt.messages[0].content

    whole = head(1700)
    assert whole.endswith("Earlier in this conversation: " + " ".join(summary["content"].split()))

    summary_cut = head(1300)
    assert summary_cut.startswith(persona.strip())
    assert "- fact 9: value 9" in summary_cut
    assert f"Earlier in this conversation: {ELLIPSIS}" in summary_cut  # its end kept
    assert summary_cut.endswith("Most recent: agreed to cut costs.")

    fewer_memories = head(980)
    assert "Earlier in this conversation" not in fewer_memories
    assert "- fact 0: value 0" in fewer_memories
    assert "- fact 9: value 9" not in fewer_memories  # memories go from the last

    persona_cut = head(900)
    assert persona_cut.startswith("You are Dev. Persona detail.")
    assert persona_cut.endswith(ELLIPSIS)
    assert "What you know" not in persona_cut


def test_an_answer_larger_than_the_budget_is_refused() -> None:
    with pytest.raises(ValueError, match="does not fit"):
        run([user("Hi")], budget=100, answer_tokens=101)


def test_a_budget_with_no_room_gives_an_empty_prompt() -> None:
    prompt = run([user("Hi")], budget=500, answer_tokens=500)
    assert prompt == Prompt([], 0, 0, True)


# Cost: the messages looked at, not the history's length


class Watched(Sequence[dict[str, Any]]):
    """A long history that remembers which of its messages were read."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.read: set[int] = set()

    def __len__(self) -> int:
        return self.size

    @overload
    def __getitem__(self, index: int) -> dict[str, Any]: ...
    @overload
    def __getitem__(self, index: slice) -> Sequence[dict[str, Any]]: ...
    def __getitem__(self, index: int | slice) -> dict[str, Any] | Sequence[dict[str, Any]]:
        if isinstance(index, slice):
            raise TypeError("assemble must not copy the history")
        if not 0 <= index < self.size:
            raise IndexError(index)
        self.read.add(index)
        who = ME if index % 2 else None
        return advisor(who, f"answer {index}") if who else user(f"question {index} please")

    def __iter__(self) -> Iterator[dict[str, Any]]:
        raise TypeError("assemble must not walk the whole history")


def test_a_long_history_is_read_only_as_far_as_it_fits() -> None:
    history = Watched(100_000)
    prompt = run(history, budget=300, answer_tokens=100)
    assert 5 < prompt.history_used < 100
    assert max(history.read) <= max(prompt.history_used, EXCHANGE_SCAN - 1)


class Recording:
    """Quarter, remembering the longest text it was asked to count."""

    def __init__(self) -> None:
        self.longest = 0

    def count(self, text: str) -> int:
        self.longest = max(self.longest, len(text))
        count: int = Quarter().count(text)
        return count


def test_a_huge_message_is_refused_without_being_counted() -> None:
    counter = Recording()
    huge = "pasted log line\n" * 1_000_000  # 16 MB
    prompt = run([user("Why does it fail?"), user(huge)], counter=counter, budget=2000)
    assert pairs(prompt)[1:] == [("user", "Why does it fail?")]
    assert prompt.history_used == 1
    assert counter.longest < 100_000


# Properties

STATUSES = st.sampled_from(["complete", "stopped", "error", "streaming", None])
MESSAGES = st.builds(
    lambda sender, who, content, status: {
        "sender": sender,
        "advisorId": who,
        "content": content,
        **({"status": status} if status else {}),
    },
    st.sampled_from(["user", "advisor", "advisor", "system"]),
    st.sampled_from([ME, OTHER, "adv_unknown", None]),
    st.text(max_size=300),
    STATUSES,
)
COUNTERS = st.sampled_from([Quarter(), Words(), Chars()])


def _eligible(message: dict[str, Any]) -> tuple[str, str] | None:
    """What the module docstring says goes in, as (role, content), written out again."""
    content = message["content"].strip()
    if message.get("status") in ("error", "streaming") or not content:
        return None
    if message["sender"] == "user":
        return "user", content
    if message["sender"] != "advisor":
        return None
    if message["advisorId"] == ME:
        return "assistant", content
    return "user", attribution(NAMES.get(message["advisorId"])) + content


def _same_or_cut(got: tuple[str, str], want: tuple[str, str]) -> bool:
    if got == want:
        return True
    role, content = got
    head, _, tail = content.partition(ELLIPSIS)
    return role == want[0] and bool(tail) and want[1].startswith(head) and want[1].endswith(tail)


@given(
    history=st.lists(MESSAGES, max_size=40),
    memories=st.lists(
        st.fixed_dictionaries({"key": st.text(max_size=20), "value": st.from_type(object)}),
        max_size=15,
    ),
    summary=st.none() | st.fixed_dictionaries({"content": st.text(max_size=400)}),
    system=st.text(max_size=600),
    counter=COUNTERS,
    budget=st.integers(0, 3000),
    answer_share=st.floats(0, 1),
)
def test_any_input_keeps_the_budget_and_the_order(
    history: list[dict[str, Any]],
    memories: list[dict[str, Any]],
    summary: dict[str, Any] | None,
    system: str,
    counter: TokenCounter,
    budget: int,
    answer_share: float,
) -> None:
    answer = int(budget * answer_share)
    prompt = assemble(
        system=system,
        advisor_id=ME,
        names=NAMES,
        memories=memories,
        summary=summary,
        history=history,
        counter=counter,
        budget=budget,
        answer_tokens=answer,
    )
    assert prompt.tokens + answer <= budget
    assert prompt.tokens == prompt_tokens(prompt.messages, counter)
    roles = [m.role for m in prompt.messages]
    assert "system" not in roles[1:]
    assert 0 <= prompt.history_used <= len(history)
    if prompt.history_used < len(history):
        assert prompt.truncated

    # The conversation part is, oldest first, a subsequence of what may go in from the
    # part of the history the walk covered (the current question possibly cut).
    got = [(m.role, m.content) for m in prompt.messages if m.role != "system"]
    candidates = [e for m in reversed(history[: prompt.history_used]) if (e := _eligible(m))]
    position = 0
    for item in got:
        while position < len(candidates) and not _same_or_cut(item, candidates[position]):
            position += 1
        assert position < len(candidates), f"{item!r} is not from the history, in order"
        position += 1


@given(
    newer=st.lists(st.builds(advisor, st.sampled_from([ME, OTHER]), st.text(max_size=2000))),
    older=st.lists(MESSAGES, max_size=30),
    question=st.text(min_size=1, max_size=2000).filter(str.strip),
    counter=COUNTERS,
    budget=st.integers(200, 3000),
)
def test_the_current_question_is_never_left_out(
    newer: list[dict[str, Any]],
    older: list[dict[str, Any]],
    question: str,
    counter: TokenCounter,
    budget: int,
) -> None:
    answer = budget // 4
    prompt = assemble(
        system="You are Dev. " * 30,
        advisor_id=ME,
        names=NAMES,
        memories=[],
        summary=None,
        history=[*newer[: EXCHANGE_SCAN - 1], user(question), *older],
        counter=counter,
        budget=budget,
        answer_tokens=answer,
    )
    asked = [m.content for m in prompt.messages if m.role == "user" and "] said: " not in m.content]
    assert asked, "the question is missing"
    assert _same_or_cut(("user", asked[-1]), ("user", question.strip()))
    head = prompt.messages[0].content
    room = budget - answer - REPLY_PRIMING - (counter.count(head) + MESSAGE_OVERHEAD)
    if counter.count(question.strip()) + MESSAGE_OVERHEAD <= room:
        assert asked[-1] == question.strip()  # whole, whatever was said since
