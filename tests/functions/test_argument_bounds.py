"""Every string and list a caller can send is bounded, found by walking each registered
function's argument validator; and every string argument, nested ones included, refuses a
NUL, a lone surrogate and one character too many with INVALID_ARGUMENT naming it, having
written nothing, on every backend."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from advisor_chat.errors import Code, FunctionError
from advisor_chat.functions.catalog import build_registry
from advisor_chat.functions.runner import Runner
from advisor_chat.schema.fields import (
    AnyValue,
    Array,
    Boolean,
    LiteralOf,
    Nullable,
    Number,
    Object,
    Optional,
    String,
    Validator,
)
from advisor_chat.store import Store
from tests.functions.test_security import EXAMPLES
from tests.functions.world import ALICE, World, snapshot
from tests.validators import present

# Unbounded on purpose, each with the reason. Nothing a client sends may be here.
UNBOUNDED = {
    # Memory values: bounded in bytes per plan (functions/plans.py), not per string.
    ("advisorMemories:setMemory", "value"),
    ("advisorMemories:updateMemory", "value"),
    # Server-made, internal: the model's answer, streamed and final, and the provider's
    # error and notice, which the handler passes on as they came (bounded by the 1 MiB of
    # any call's arguments); and the facts a model's reply was parsed into, which become
    # memory values.
    ("chat:appendDelta", "text"),
    ("chat:finishAnswer", "content"),
    ("chat:finishAnswer", "notice"),
    ("chat:finishAnswer", "error"),
    ("chat:saveMemories", "facts.*"),
}


def unbounded(validator: Validator, path: str) -> Iterator[str]:
    """Paths in `validator` that accept a string or list of any length."""
    match validator:
        case String(max_length=None):
            yield path
        case Optional(inner=inner) | Nullable(inner=inner):
            yield from unbounded(inner, path)
        case Array(items=items, max_items=most):
            if most is None:
                yield path
            yield from unbounded(items, f"{path}[]")
        case Object(fields=fields, open=is_open, extras=extras):
            for name, rule in fields.items():
                yield from unbounded(rule, f"{path}.{name}" if path else name)
            if is_open:
                yield from unbounded(extras, f"{path}.*" if path else "*")
        case AnyValue(max_length=length, max_items=most) if length is None or most is None:
            yield path


def test_every_string_and_list_argument_is_bounded() -> None:
    registry = build_registry()
    public = {path for path, _ in UNBOUNDED if not registry.get(path, internal=True).internal}
    assert public == {"advisorMemories:setMemory", "advisorMemories:updateMemory"}
    found = {
        (function.path, where)
        for function in build_registry()
        for where in unbounded(function.args, "")
    }
    assert found == UNBOUNDED


def test_the_walk_finds_what_it_must() -> None:
    """The structural test above cannot pass vacuously: each unbounded shape is found."""
    from advisor_chat.schema.fields import v

    rule = v.object(
        {
            "a": v.string(),
            "b": v.optional(v.array(v.string(max_length=1))),
            "c": v.nullable(v.object({}, open=True)),
            "d": v.object({}, extras=v.any(max_length=1)),
        }
    )
    assert list(unbounded(rule, "")) == ["a", "b", "c.*", "d.*"]


# -- every string argument refuses what it must -------------------------------------------


def minimal(validator: Validator) -> Any:
    """A smallest valid value (ids excepted: none is needed where this builds)."""
    match validator:
        case Optional(inner=inner) | Nullable(inner=inner):
            return minimal(inner)
        case String() | AnyValue():
            return "x"
        case Number(minimum=low):
            return low if low is not None else 0
        case Boolean():
            return True
        case LiteralOf(values=values):
            return values[0]
        case Array():
            return []
        case Object(fields=fields):
            return {
                name: minimal(rule)
                for name, rule in fields.items()
                if not isinstance(rule, Optional)
            }
    raise AssertionError(f"no minimal value for {validator.describe()}")


def strings(
    validator: Validator, path: tuple[str | int, ...] = ()
) -> Iterator[tuple[tuple[str | int, ...], String]]:
    """Each place a string goes (one item of each list), with its rule."""
    match validator:
        case String():
            yield path, validator
        case Optional(inner=inner) | Nullable(inner=inner):
            yield from strings(inner, path)
        case Array(items=items):
            yield from strings(items, (*path, 0))
        case Object(fields=fields):
            for name, rule in fields.items():
                yield from strings(rule, (*path, name))


def place(args: dict[str, Any], rule: Object, path: tuple[str | int, ...], value: str) -> Any:
    """`args` with `value` at `path`, building what is missing on the way as `rule` says."""
    result = dict(args)
    node: Any = result
    current: Validator = rule
    for step, nxt in zip(path, (*path[1:], None), strict=True):
        current = present(current)
        if isinstance(current, Object):
            child = current.fields[str(step)]
        else:
            assert isinstance(current, Array)
            child = current.items
        inner = present(child)
        if nxt is None:
            node[step] = value
            break
        existing = node[step] if isinstance(step, int) or step in node else None
        if isinstance(inner, Array):
            fresh: Any = list(existing) if isinstance(existing, list) and existing else []
            if not fresh:
                fresh.append(minimal(inner.items))
        else:
            fresh = dict(existing) if isinstance(existing, dict) else minimal(inner)
        node[step] = fresh
        node, current = fresh, child
    return result


def dotted(path: tuple[str | int, ...]) -> str:
    text = ""
    for step in path:
        text += f"[{step}]" if isinstance(step, int) else (f".{step}" if text else step)
    return text


def cases() -> Iterator[Any]:
    registry = build_registry()
    for path in sorted(EXAMPLES):
        for where, rule in strings(registry.get(path).args):
            yield pytest.param(path, where, rule.max_length, id=f"{path}:{dotted(where)}")


@pytest.mark.parametrize(("path", "where", "most"), list(cases()))
async def test_a_refused_character_or_one_too_many_is_invalid_argument_and_writes_nothing(
    store: Store,
    runner: Runner,
    world: World,
    path: str,
    where: tuple[str | int, ...],
    most: int | None,
) -> None:
    rule = build_registry().get(path).args
    good = EXAMPLES[path](world)
    field = dotted(where)
    bad = {
        "a NUL": "a\x00b",
        "a lone surrogate": "a\ud800b",
    }
    if most is not None:
        bad["one character too many"] = "x" * (most + 1)
    before = await snapshot(store)
    for what, value in bad.items():
        with pytest.raises(FunctionError) as caught:
            await runner.call(path, place(good, rule, where, value), ALICE)
        assert caught.value.code is Code.INVALID_ARGUMENT, (what, caught.value.message)
        assert caught.value.data.get("field") == field, (what, caught.value.data)
    assert await snapshot(store) == before
