"""No live query reads the clock: a subscription is re-run only when a commit touches what
it read, so a result that depends on the time would go stale as the time passes (as
`realtime:getTypingUsers` kept showing "typing" after the indicator lapsed). Anything that
expires is written down when it does (a scheduled mutation), and queries read only data.

The check follows each query's handler through every function of ours it names as a
global, transitively, and fails if any of them names the clock (`clock.now_ms`, `time`,
`datetime`). It reads code, not results: a clock read that no test happens to exercise is
found too.
"""

from __future__ import annotations

import datetime
import time
import types
from collections.abc import Iterator
from typing import Any

from advisor_chat import clock
from advisor_chat.functions.catalog import build_registry

CLOCKS: tuple[Any, ...] = (clock.now_ms, time, datetime, datetime.datetime, datetime.date)


def _codes(code: types.CodeType) -> Iterator[types.CodeType]:
    yield code
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            yield from _codes(const)


def reads_the_clock(function: types.FunctionType, seen: set[types.CodeType]) -> bool:
    """Does `function`, or any function of ours it names, refer to the clock?"""
    for code in _codes(function.__code__):
        if code in seen:
            continue
        seen.add(code)
        for name in code.co_names:
            target = function.__globals__.get(name)
            if any(target is c for c in CLOCKS):
                return True
            if not isinstance(target, types.FunctionType):
                continue
            if target.__module__.startswith("advisor_chat.") and reads_the_clock(target, seen):
                return True
    return False


def test_no_query_reads_the_clock() -> None:
    queries = [f for f in build_registry() if f.kind == "query"]
    assert len(queries) > 20
    reading = {
        f.path
        for f in queries
        if isinstance(f.handler, types.FunctionType) and reads_the_clock(f.handler, set())
    }
    assert reading == set(), f"queries that read the clock: {sorted(reading)}"


def test_the_check_finds_a_clock_read_through_helpers() -> None:
    """The check itself: `messages:regenerate` names no clock, but a helper it calls
    stamps `now_ms()`; `users:current` reads only data."""
    registry = {f.path: f.handler for f in build_registry()}
    regenerate, current = registry["messages:regenerate"], registry["users:current"]
    assert isinstance(regenerate, types.FunctionType)
    assert isinstance(current, types.FunctionType)
    assert not any(
        regenerate.__globals__.get(n) is clock.now_ms for n in regenerate.__code__.co_names
    )
    assert reads_the_clock(regenerate, set())
    assert not reads_the_clock(current, set())
